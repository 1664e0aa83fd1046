//! [`Clock`]: where the library asks for the time, so tests and replays can move it.

use std::fmt;
use std::sync::Mutex;

use crate::time::{self, Timestamp};

/// A source of the current time.
pub trait Clock: Send + Sync + fmt::Debug {
    /// Now, at storage precision (microseconds).
    fn now(&self) -> Timestamp;
}

/// The system's clock.
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> Timestamp {
        time::now()
    }
}

/// A clock that stands still until told to move: for tests and replays.
///
/// ```
/// use signal_sentinel::clock::{Clock, ManualClock};
///
/// let clock = ManualClock::new(chrono::DateTime::UNIX_EPOCH);
/// clock.advance(chrono::Duration::minutes(15));
/// assert_eq!(clock.now().timestamp(), 900);
/// ```
#[derive(Debug)]
pub struct ManualClock(Mutex<Timestamp>);

impl ManualClock {
    /// A clock showing `at`.
    pub fn new(at: Timestamp) -> Self {
        Self(Mutex::new(time::to_storage_precision(at)))
    }

    /// Sets the time.
    pub fn set(&self, at: Timestamp) {
        *self
            .0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = time::to_storage_precision(at);
    }

    /// Moves the time forward (or back, with a negative duration).
    pub fn advance(&self, by: chrono::Duration) {
        let mut now = self
            .0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        *now += by;
    }
}

impl Clock for ManualClock {
    fn now(&self) -> Timestamp {
        *self
            .0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

/// A clock that runs from `start` at `speed` times real time: replays "at a chosen speed".
///
/// ```
/// use signal_sentinel::clock::{Clock, ScaledClock};
///
/// let start = chrono::DateTime::UNIX_EPOCH;
/// let clock = ScaledClock::new(start, 86_400.0); // a day per second
/// assert!(clock.now() >= start);
/// ```
#[derive(Debug)]
pub struct ScaledClock {
    start: Timestamp,
    wall_start: std::time::Instant,
    speed: f64,
}

impl ScaledClock {
    /// A clock showing `start` now and moving `speed` times faster than real time.
    pub fn new(start: Timestamp, speed: f64) -> Self {
        Self {
            start,
            wall_start: std::time::Instant::now(),
            speed: if speed.is_finite() && speed > 0.0 {
                speed
            } else {
                1.0
            },
        }
    }
}

impl Clock for ScaledClock {
    fn now(&self) -> Timestamp {
        let elapsed = self.wall_start.elapsed().as_secs_f64() * self.speed;
        let micros = (elapsed * 1e6).min(i64::MAX as f64) as i64;
        time::to_storage_precision(self.start + chrono::Duration::microseconds(micros))
    }
}
