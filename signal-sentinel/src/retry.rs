//! One retry policy for every outgoing request (market data, chat completions): a failed
//! attempt says whether it may be tried again and after how long the server asked
//! (`Retry-After`); the policy (backon's exponential backoff) bounds the number of retries and
//! refuses a wait longer than it allows.

use std::future::Future;
use std::time::Duration;

use backon::{ExponentialBuilder, Retryable};

/// A failed attempt.
#[derive(Debug)]
pub(crate) struct Failed<E> {
    /// What to answer when no retry follows.
    pub(crate) error: E,
    /// Whether trying again may help (a 429, a 5xx, a dropped connection).
    pub(crate) retry: bool,
    /// How long the server asked to wait; `None` leaves it to the backoff.
    pub(crate) after: Option<Duration>,
}

impl<E> Failed<E> {
    /// A failure that trying again will not mend.
    pub(crate) fn stop(error: E) -> Self {
        Self {
            error,
            retry: false,
            after: None,
        }
    }

    /// A failure worth another attempt, after `after` or the backoff's pause.
    pub(crate) fn retry(error: E, after: Option<Duration>) -> Self {
        Self {
            error,
            retry: true,
            after,
        }
    }
}

/// At most `retries` more attempts, `pause` before the first and doubling; a server's wait
/// over `max_wait` ends the retries at once.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Policy {
    pub(crate) retries: usize,
    pub(crate) pause: Duration,
    pub(crate) max_wait: Duration,
}

impl Policy {
    /// Runs `attempt` until it succeeds, fails for good, or the policy is spent; the last
    /// failure's error otherwise.
    pub(crate) async fn run<T, E, F, Fut>(&self, attempt: F) -> Result<T, E>
    where
        F: FnMut() -> Fut,
        Fut: Future<Output = Result<T, Failed<E>>>,
    {
        let backoff = ExponentialBuilder::default()
            .with_min_delay(self.pause)
            .with_max_delay(self.max_wait.max(self.pause))
            .with_max_times(self.retries);
        let max_wait = self.max_wait;
        attempt
            .retry(backoff)
            .sleep(tokio::time::sleep)
            .when(|f: &Failed<E>| f.retry && f.after.is_none_or(|w| w <= max_wait))
            // The server's wait replaces the backoff's pause, never the policy's count: once
            // the backoff is spent (`None`) no retry follows.
            .adjust(|f: &Failed<E>, pause| pause.map(|p| f.after.unwrap_or(p)))
            .await
            .map_err(|f| f.error)
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};

    use super::*;

    const POLICY: Policy = Policy {
        retries: 2,
        pause: Duration::from_millis(250),
        max_wait: Duration::from_secs(10),
    };

    async fn count(
        policy: Policy,
        fail: impl Fn(usize) -> Option<Failed<&'static str>>,
    ) -> (Result<usize, &'static str>, usize) {
        let calls = AtomicUsize::new(0);
        let result = policy
            .run(|| {
                let n = calls.fetch_add(1, Ordering::SeqCst) + 1;
                let outcome = fail(n).map_or(Ok(n), Err);
                async move { outcome }
            })
            .await;
        (result, calls.load(Ordering::SeqCst))
    }

    #[tokio::test(start_paused = true)]
    async fn retries_what_may_mend_and_no_more_than_allowed() {
        // Mends on the second attempt.
        let (result, calls) = count(POLICY, |n| (n < 2).then(|| Failed::retry("503", None))).await;
        assert_eq!((result, calls), (Ok(2), 2));
        // Never mends: one attempt and two retries, then the last error.
        let (result, calls) = count(POLICY, |_| Some(Failed::retry("503", None))).await;
        assert_eq!((result, calls), (Err("503"), 3));
        // A refusal is not retried.
        let (result, calls) = count(POLICY, |_| Some(Failed::stop("401"))).await;
        assert_eq!((result, calls), (Err("401"), 1));
    }

    #[tokio::test(start_paused = true)]
    async fn waits_as_the_server_asks_within_the_limit() {
        let start = tokio::time::Instant::now();
        let (result, calls) = count(POLICY, |n| {
            (n < 2).then(|| Failed::retry("429", Some(Duration::from_secs(3))))
        })
        .await;
        assert_eq!((result, calls), (Ok(2), 2));
        assert_eq!(start.elapsed().as_secs(), 3);
        // A wait over the limit ends the retries at once.
        let (result, calls) = count(POLICY, |_| {
            Some(Failed::retry("429", Some(Duration::from_secs(60))))
        })
        .await;
        assert_eq!((result, calls), (Err("429"), 1));
    }
}
