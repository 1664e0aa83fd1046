//! [`SimulatedMarket`]: seeded random walks for any number of symbols.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};

use async_trait::async_trait;
use chrono::{Duration, NaiveDate, TimeZone};
use chrono_tz::America::New_York;
use rust_decimal::Decimal;
use rust_decimal::prelude::FromPrimitive;

use super::{MarketData, MarketError};
use crate::clock::Clock;
use crate::domain::{Bar, Quote, Symbol};
use crate::engine::calendar;
use crate::time::Timestamp;

/// Deterministic random walks: the same seed, symbol and clock give the same prices, whatever
/// the order or grouping of calls. Every symbol exists; its walk starts at a price between 10
/// and 500 chosen by the seed, moves once per tick (one minute by default) by up to ±0.2 %, and
/// has 300 sessions of daily history before the start.
#[derive(Debug)]
pub struct SimulatedMarket {
    seed: u64,
    clock: Arc<dyn Clock>,
    origin: Timestamp,
    tick: Duration,
    max_batch: usize,
    calls: AtomicU64,
    /// Last computed (step, log price) per symbol, so a walk advances incrementally.
    walks: Mutex<HashMap<Symbol, (i64, f64)>>,
}

const STEP_SIZE: f64 = 0.002;
const HISTORY_SESSIONS: i64 = 300;

impl SimulatedMarket {
    /// A market whose walks start at the clock's current time.
    pub fn new(seed: u64, clock: Arc<dyn Clock>) -> Self {
        let origin = clock.now();
        Self {
            seed,
            clock,
            origin,
            tick: Duration::minutes(1),
            max_batch: 100,
            calls: AtomicU64::new(0),
            walks: Mutex::new(HashMap::new()),
        }
    }

    /// Sets how many symbols one quotes call may ask for. By default, this is 100.
    pub fn with_max_batch(mut self, max_batch: usize) -> Self {
        self.max_batch = max_batch.max(1);
        self
    }

    /// Sets the time between price moves. By default, this is one minute.
    pub fn with_tick(mut self, tick: Duration) -> Self {
        if tick > Duration::zero() {
            self.tick = tick;
        }
        self
    }

    /// How many quotes calls have been answered.
    pub fn calls(&self) -> u64 {
        self.calls.load(Ordering::Relaxed)
    }

    fn start_price(&self, symbol: &Symbol) -> f64 {
        10.0 + unit(mix(self.seed, hash(symbol), u64::MAX)) * 490.0
    }

    /// The log price of `symbol` after `step` ticks.
    fn log_price(&self, symbol: &Symbol, step: i64) -> f64 {
        let key = hash(symbol);
        let mut walks = self.walks.lock().unwrap_or_else(PoisonError::into_inner);
        let (mut at, mut log) = walks
            .get(symbol)
            .copied()
            .filter(|(s, _)| *s <= step)
            .unwrap_or((0, self.start_price(symbol).ln()));
        while at < step {
            at += 1;
            log += increment(self.seed, key, at as u64);
        }
        walks.insert(symbol.clone(), (at, log));
        log
    }
}

fn price(log: f64) -> Decimal {
    Decimal::from_f64(log.exp())
        .unwrap_or(Decimal::ONE)
        .round_dp(2)
        .max(Decimal::new(1, 2))
}

/// SplitMix64 of three words: a stateless random number per (seed, symbol, step).
fn mix(seed: u64, key: u64, step: u64) -> u64 {
    let mut z = seed ^ key.rotate_left(17) ^ step.wrapping_mul(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

fn unit(x: u64) -> f64 {
    (x >> 11) as f64 / (1u64 << 53) as f64
}

fn increment(seed: u64, key: u64, step: u64) -> f64 {
    (unit(mix(seed, key, step)) * 2.0 - 1.0) * STEP_SIZE
}

fn hash(symbol: &Symbol) -> u64 {
    // FNV-1a: stable across runs and platforms (std's hasher is randomised).
    symbol.as_str().bytes().fold(0xcbf2_9ce4_8422_2325, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
    })
}

#[async_trait]
impl MarketData for SimulatedMarket {
    fn name(&self) -> &str {
        "simulated"
    }

    fn max_batch(&self) -> usize {
        self.max_batch
    }

    async fn quotes(&self, symbols: &[Symbol]) -> Result<Vec<Quote>, MarketError> {
        self.calls.fetch_add(1, Ordering::Relaxed);
        let now = self.clock.now();
        let ticks =
            ((now - self.origin).num_milliseconds() / self.tick.num_milliseconds().max(1)).max(0);
        let at = self.origin + self.tick * i32::try_from(ticks).unwrap_or(i32::MAX);
        let invalid = |e: crate::domain::ValidationError| MarketError::InvalidData {
            provider: "simulated".into(),
            message: e.to_string(),
        };
        symbols
            .iter()
            .map(|symbol| {
                let start = price(self.start_price(symbol).ln());
                let last = price(self.log_price(symbol, ticks));
                let key = hash(symbol);
                Quote::new(symbol.clone(), last, at, "simulated")
                    .and_then(|q| q.with_previous_close(start))
                    .and_then(|q| q.with_open(start))
                    .and_then(|q| q.with_day_range(start.min(last), start.max(last)))
                    .map(|q| q.with_volume(100_000 + mix(self.seed, key, ticks as u64) % 900_000))
                    .map_err(invalid)
            })
            .collect()
    }

    async fn daily_bars(
        &self,
        symbol: &Symbol,
        from: NaiveDate,
        to: NaiveDate,
    ) -> Result<Vec<Bar>, MarketError> {
        // Walk backwards from the start price over the trading days before the origin.
        let key = hash(symbol) ^ 0xDA1;
        let origin_day = self.origin.with_timezone(&New_York).date_naive();
        let mut days = Vec::new();
        let mut day = origin_day;
        while days.len() < HISTORY_SESSIONS as usize {
            day -= Duration::days(1);
            if calendar::is_trading_day(day) {
                days.push(day);
            }
        }
        let mut log = self.start_price(symbol).ln();
        let mut bars = Vec::with_capacity(days.len());
        for (i, day) in days.iter().enumerate() {
            let close = price(log);
            let open_log = log - increment(self.seed, key, i as u64) * 5.0;
            let open = price(open_log);
            let (low, high) = (close.min(open), close.max(open));
            let at = New_York
                .from_local_datetime(&day.and_hms_opt(9, 30, 0).unwrap_or_default())
                .earliest()
                .map(|t| t.to_utc())
                .unwrap_or(self.origin);
            if (from..=to).contains(day) {
                let volume = 100_000 + mix(self.seed, key, i as u64) % 900_000;
                if let Ok(bar) = Bar::new(at, open, high, low, close, Some(volume)) {
                    bars.push(bar);
                }
            }
            log = open_log;
        }
        bars.reverse();
        Ok(bars)
    }
}
