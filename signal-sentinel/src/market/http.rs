//! What the HTTP providers share: one client set-up, retries on 429 and 5xx, number parsing,
//! and error messages that never carry a key or a URL.
// Without the providers (feature `providers`) only part of it serves the other clients.
#![cfg_attr(not(feature = "providers"), allow(dead_code))]

use std::time::Duration;

use reqwest::{Client, RequestBuilder, Response, StatusCode};
use rust_decimal::Decimal;

use super::MarketError;

/// A browser-like User-Agent: Yahoo Finance refuses the default ones of HTTP libraries.
pub(crate) const BROWSER_USER_AGENT: &str = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36";

/// How long one request may take, unless a provider is configured otherwise.
pub(crate) const DEFAULT_TIMEOUT: Duration = Duration::from_secs(10);
/// The longest a provider may ask us to wait before retrying (`Retry-After`, reset headers)
/// for the wait to happen inside a cycle; longer waits fail the call as rate limited.
pub(crate) const MAX_RETRY_WAIT: Duration = Duration::from_secs(15);

/// Installs the process's TLS crypto provider (ring) if none is installed yet: reqwest is
/// built without one, and building a client without it panics.
pub fn ensure_crypto_provider() {
    let _ = rustls::crypto::ring::default_provider().install_default();
}

/// A client with a timeout and, for loopback base URLs (tests, local proxies), no proxy.
pub(crate) fn client(
    timeout: Duration,
    user_agent: Option<&str>,
    base: &url::Url,
) -> Result<Client, crate::BuildError> {
    ensure_crypto_provider();
    let mut builder = Client::builder()
        .timeout(timeout)
        .connect_timeout(timeout.min(Duration::from_secs(5)));
    if let Some(agent) = user_agent {
        builder = builder.user_agent(agent);
    }
    let loopback = match base.host() {
        Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
        Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
        Some(url::Host::Domain(d)) => d == "localhost",
        None => false,
    };
    if loopback {
        builder = builder.no_proxy();
    }
    builder
        .build()
        .map_err(|e| crate::BuildError::HttpClient(e.without_url()))
}

/// `base` with `segments` appended (each percent-encoded as a path segment).
pub(crate) fn join(base: &url::Url, segments: &[&str]) -> url::Url {
    let mut url = base.clone();
    if let Ok(mut path) = url.path_segments_mut() {
        path.pop_if_empty().extend(segments);
    }
    url
}

/// Unix time of the start of an exchange day (midnight in New York).
pub(crate) fn day_start_unix(day: chrono::NaiveDate) -> i64 {
    crate::engine::calendar::day_start(day).timestamp()
}

/// A batch's outcome: the answers, or — only when there are none — the last failure.
pub(crate) fn answers_or_failure<T>(
    answers: Vec<T>,
    failure: Option<Failure>,
    provider: &str,
) -> Result<Vec<T>, MarketError> {
    match failure {
        Some(f) if answers.is_empty() => Err(f.into_error(provider)),
        _ => Ok(answers),
    }
}

/// Why a provider's answer was not usable, before it is turned into a [`MarketError`].
#[derive(Debug)]
pub(crate) enum Failure {
    /// 429 with how long to wait, when the provider said.
    RateLimited(Option<Duration>),
    /// Any other failure, with a message free of keys and URLs.
    Other(String),
}

impl Failure {
    /// Names what the failed request was about (a symbol, or a batch of them).
    pub(crate) fn about(self, what: &(impl std::fmt::Display + ?Sized)) -> Self {
        match self {
            Self::Other(message) => Self::Other(format!("{what}: {message}")),
            limited => limited,
        }
    }

    pub(crate) fn into_error(self, provider: &str) -> MarketError {
        match self {
            Self::RateLimited(retry_after) => MarketError::RateLimited {
                provider: provider.to_owned(),
                retry_after,
            },
            Self::Other(message) => MarketError::Unavailable {
                provider: provider.to_owned(),
                message,
            },
        }
    }
}

/// How market-data requests are retried: once, after a 429 (waiting as the provider asks,
/// up to [`MAX_RETRY_WAIT`], or a second when it does not say) or a 5xx (after 250 ms).
const POLICY: crate::retry::Policy = crate::retry::Policy {
    retries: 1,
    pause: Duration::from_millis(250),
    max_wait: MAX_RETRY_WAIT,
};

/// Sends a request under [`POLICY`]. Returns the successful response, or the response of a
/// client error (4xx other than 429) for the caller to interpret.
pub(crate) async fn send(
    request: impl Fn() -> RequestBuilder,
    retry_after: impl Fn(&Response) -> Option<Duration>,
) -> Result<Response, Failure> {
    use crate::retry::Failed;
    POLICY
        .run(|| async {
            let response = request().send().await.map_err(|e| {
                let e = e.without_url();
                Failed::stop(if e.is_timeout() {
                    Failure::Other("the request timed out".into())
                } else if e.is_connect() {
                    Failure::Other("cannot connect".into())
                } else {
                    Failure::Other(e.to_string())
                })
            })?;
            let status = response.status();
            if status == StatusCode::TOO_MANY_REQUESTS {
                let wait = retry_after(&response);
                return Err(Failed::retry(
                    Failure::RateLimited(wait),
                    Some(wait.unwrap_or(Duration::from_secs(1))),
                ));
            }
            if status.is_server_error() {
                return Err(Failed::retry(
                    Failure::Other(format!("HTTP {}", status.as_u16())),
                    None,
                ));
            }
            Ok(response)
        })
        .await
}

/// `Retry-After` in seconds, as most providers send it.
pub(crate) fn retry_after_header(response: &Response) -> Option<Duration> {
    retry_after_seconds(response.headers())
}

/// `Retry-After` (in seconds) from response headers.
pub fn retry_after_seconds(headers: &reqwest::header::HeaderMap) -> Option<Duration> {
    headers
        .get(reqwest::header::RETRY_AFTER)?
        .to_str()
        .ok()?
        .trim()
        .parse::<u64>()
        .ok()
        .map(Duration::from_secs)
}

/// Reads a body as JSON of `T`, with a message that says what was wrong (never the URL).
pub(crate) async fn json<T: serde::de::DeserializeOwned>(response: Response) -> Result<T, Failure> {
    let bytes = response
        .bytes()
        .await
        .map_err(|e| Failure::Other(e.without_url().to_string()))?;
    serde_json::from_slice(&bytes).map_err(|e| Failure::Other(format!("malformed answer: {e}")))
}

/// An exact decimal from a JSON number as the provider wrote it (`187.2` stays `187.2`; no
/// binary rounding on the way).
pub(crate) fn decimal(number: &serde_json::Number) -> Option<Decimal> {
    number.to_string().parse::<Decimal>().ok().or_else(|| {
        // Exponent notation (1e-7): through the scientific parser.
        Decimal::from_scientific(&number.to_string()).ok()
    })
}

/// A positive price, or nothing: providers use 0 (and null) for "no data".
pub(crate) fn price(number: Option<&serde_json::Number>) -> Option<Decimal> {
    number.and_then(decimal).filter(|d| *d > Decimal::ZERO)
}

/// A value a provider built from its answer, or `None` when it is bad data (a price beyond
/// what a market quotes, a day's range that does not contain the price …): then the symbol is
/// treated as having no data, `signal_sentinel_bad_quotes_total{provider}` counts it, and a
/// warning is logged once per provider and symbol for the life of the process.
pub(crate) fn accept<T>(
    provider: &str,
    symbol: &crate::domain::Symbol,
    built: Result<T, crate::domain::ValidationError>,
) -> Option<T> {
    use std::collections::HashSet;
    use std::sync::{Mutex, OnceLock};
    static WARNED: OnceLock<Mutex<HashSet<(String, String)>>> = OnceLock::new();
    match built {
        Ok(value) => Some(value),
        Err(e) => {
            metrics::counter!("signal_sentinel_bad_quotes_total", "provider" => provider.to_owned())
                .increment(1);
            let first = WARNED
                .get_or_init(Mutex::default)
                .lock()
                .map(|mut warned| warned.insert((provider.to_owned(), symbol.to_string())))
                .unwrap_or(true);
            if first {
                tracing::warn!(
                    provider,
                    symbol = %symbol,
                    "bad data refused (further ones for this symbol are only counted): {e}"
                );
            }
            None
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_stay_exact() {
        let n: serde_json::Number = serde_json::from_str("187.2").unwrap();
        assert_eq!(decimal(&n).unwrap().to_string(), "187.2");
        let n: serde_json::Number = serde_json::from_str("0.00001234").unwrap();
        assert_eq!(decimal(&n).unwrap().to_string(), "0.00001234");
        let n: serde_json::Number = serde_json::from_str("1e-7").unwrap();
        assert_eq!(decimal(&n).unwrap().to_string(), "0.0000001");
        let zero: serde_json::Number = serde_json::from_str("0").unwrap();
        assert_eq!(price(Some(&zero)), None);
        assert_eq!(price(None), None);
    }
}
