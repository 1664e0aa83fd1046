//! [`RateLimiter`]: a token bucket for outgoing requests (Finnhub's per-minute budget,
//! Telegram's per-second one).

use std::time::Duration;

use tokio::sync::Mutex;
use tokio::time::Instant;

/// Allows `rate` requests per `per`, up to `burst` at once after a quiet spell; callers wait
/// for their turn. Uses tokio's clock, so paused-time tests run instantly.
#[derive(Debug)]
pub(crate) struct RateLimiter {
    per_second: f64,
    burst: f64,
    state: Mutex<(f64, Instant)>,
}

impl RateLimiter {
    /// `rate` requests per `per`, with bursts of up to `burst`.
    pub(crate) fn new(rate: u32, per: Duration, burst: u32) -> Self {
        let burst = f64::from(burst.max(1));
        Self {
            per_second: f64::from(rate.max(1)) / per.as_secs_f64().max(1e-9),
            burst,
            state: Mutex::new((burst, Instant::now())),
        }
    }

    /// Waits for a token.
    pub(crate) async fn acquire(&self) {
        loop {
            let wait = {
                let mut state = self.state.lock().await;
                let now = Instant::now();
                let (tokens, last) = *state;
                let tokens = (tokens + now.duration_since(last).as_secs_f64() * self.per_second)
                    .min(self.burst);
                if tokens >= 1.0 {
                    *state = (tokens - 1.0, now);
                    return;
                }
                *state = (tokens, now);
                Duration::from_secs_f64((1.0 - tokens) / self.per_second)
            };
            tokio::time::sleep(wait).await;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn allows_a_burst_then_paces() {
        let limiter = RateLimiter::new(60, Duration::from_secs(60), 60);
        let start = Instant::now();
        for _ in 0..60 {
            limiter.acquire().await;
        }
        assert!(
            start.elapsed() < Duration::from_millis(10),
            "a minute's worth at once"
        );
        limiter.acquire().await;
        limiter.acquire().await;
        let waited = start.elapsed();
        assert!(
            waited >= Duration::from_millis(1_990) && waited <= Duration::from_millis(2_100),
            "{waited:?}"
        );
    }
}
