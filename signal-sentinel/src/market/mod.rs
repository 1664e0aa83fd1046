//! Market data: the [`MarketData`] trait and the providers behind it.
//!
//! - [`ReplayMarket`] plays bars from CSV files against a [`Clock`](crate::clock::Clock):
//!   the demo, backtests of the monitor, and tests.
//! - [`SimulatedMarket`] makes seeded, deterministic random walks for any number of symbols:
//!   demos and load tests.
//!
//! Real providers (Yahoo Finance, Alpaca, Finnhub) implement the same trait.

#[cfg(feature = "providers")]
pub(crate) mod alpaca;
#[cfg(feature = "providers")]
mod alpaca_stream;
mod chain;
pub mod directory;
#[cfg(feature = "providers")]
pub(crate) mod finnhub;
#[cfg(feature = "providers")]
mod finnhub_stream;
pub(crate) mod http;
mod replay;
mod simulated;
pub mod stream;
pub mod symbols;
#[cfg(feature = "providers")]
mod ws;
#[cfg(feature = "providers")]
pub(crate) mod yahoo;

use std::time::Duration;

use async_trait::async_trait;
use chrono::NaiveDate;
use thiserror::Error;

use crate::domain::{Bar, CorporateEvent, Quote, Symbol};

#[cfg(feature = "providers")]
pub use alpaca::AlpacaMarket;
#[cfg(feature = "providers")]
pub use alpaca_stream::AlpacaStream;
pub use chain::{BreakerState, ProviderChain, ProviderStatus};
#[cfg(feature = "providers")]
pub use finnhub::FinnhubMarket;
#[cfg(feature = "providers")]
pub use finnhub_stream::FinnhubStream;
pub use http::{ensure_crypto_provider, retry_after_seconds};
pub use stream::{MarketStream, StreamStatus, TRADES_PER_SYMBOL, Trade, TradeBuffer};

/// An HTTP client with a timeout, the process's TLS provider installed, and no proxy for a
/// loopback `base` (tests, local relays).
///
/// # Errors
/// A message when the client cannot be built.
pub fn http_client(
    timeout: std::time::Duration,
    base: &url::Url,
) -> Result<reqwest::Client, crate::BuildError> {
    http::client(timeout, None, base)
}
pub use replay::{ReplayError, ReplayMarket, parse_events};
pub use simulated::SimulatedMarket;
#[cfg(feature = "providers")]
pub use yahoo::YahooMarket;

/// The providers the settings name, in their order, chained behind circuit breakers; quotes
/// older than `max_age` are treated as missing.
///
/// # Errors
/// A message when an HTTP client cannot be built, or when the settings name providers and
/// this build has none (feature `providers`).
pub fn providers_from_settings(
    settings: &crate::config::Settings,
    clock: std::sync::Arc<dyn crate::clock::Clock>,
    max_age: Option<chrono::Duration>,
) -> Result<ProviderChain, crate::BuildError> {
    let chain = ProviderChain::new(configured_providers(settings)?, clock);
    Ok(match max_age {
        Some(age) => chain.with_max_age(age),
        None => chain,
    })
}

/// The stream of the first provider in the settings' order that has one and its credentials
/// (Alpaca's stock stream, Finnhub's trade stream); `None` when none has (Yahoo has no
/// stream, and a build without the `providers` feature has none).
pub fn stream_from_settings(
    settings: &crate::config::Settings,
) -> Option<std::sync::Arc<dyn MarketStream>> {
    #[cfg(feature = "providers")]
    {
        use crate::config::ProviderName;
        for name in &settings.providers {
            match name {
                ProviderName::Alpaca => {
                    if let (Some(key), Some(secret)) =
                        (&settings.alpaca.api_key, &settings.alpaca.secret_key)
                    {
                        return Some(std::sync::Arc::new(AlpacaStream::new(
                            settings.alpaca.stream_url.clone(),
                            key.clone(),
                            secret.clone(),
                        )));
                    }
                }
                ProviderName::Finnhub => {
                    if let Some(key) = &settings.finnhub.api_key {
                        return Some(std::sync::Arc::new(FinnhubStream::new(
                            settings.finnhub.stream_url.clone(),
                            key.clone(),
                        )));
                    }
                }
                ProviderName::Yahoo => {}
            }
        }
        None
    }
    #[cfg(not(feature = "providers"))]
    {
        let _ = settings;
        None
    }
}

/// Without the `providers` feature there are none to build.
#[cfg(not(feature = "providers"))]
fn configured_providers(
    settings: &crate::config::Settings,
) -> Result<Vec<std::sync::Arc<dyn MarketData>>, crate::BuildError> {
    if settings.providers.is_empty() {
        Ok(Vec::new())
    } else {
        Err(crate::BuildError::NotBuilt {
            setting: "MARKET_DATA_PROVIDERS",
            part: "providers",
            feature: "providers",
        })
    }
}

/// The configured providers with their credentials, in the settings' order.
#[cfg(feature = "providers")]
fn configured_providers(
    settings: &crate::config::Settings,
) -> Result<Vec<std::sync::Arc<dyn MarketData>>, crate::BuildError> {
    use crate::config::ProviderName;
    let timeout = http::DEFAULT_TIMEOUT;
    let mut providers: Vec<std::sync::Arc<dyn MarketData>> = Vec::new();
    for name in &settings.providers {
        match name {
            ProviderName::Alpaca => {
                if let (Some(key), Some(secret)) =
                    (&settings.alpaca.api_key, &settings.alpaca.secret_key)
                {
                    providers.push(std::sync::Arc::new(AlpacaMarket::new(
                        settings.alpaca.base_url.clone(),
                        key.clone(),
                        secret.clone(),
                        &settings.alpaca.feed,
                        timeout,
                    )?));
                }
            }
            ProviderName::Finnhub => {
                if let Some(key) = &settings.finnhub.api_key {
                    providers.push(std::sync::Arc::new(FinnhubMarket::new(
                        settings.finnhub.base_url.clone(),
                        key.clone(),
                        settings.finnhub.calls_per_minute,
                        timeout,
                    )?));
                }
            }
            ProviderName::Yahoo => {
                providers.push(std::sync::Arc::new(YahooMarket::new(
                    settings.yahoo.base_url.clone(),
                    timeout,
                )?));
            }
        }
    }
    Ok(providers)
}

/// How many requests a provider allows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RequestBudget {
    /// Requests allowed per period.
    pub requests: u32,
    /// The period.
    pub per: Duration,
}

/// What can go wrong asking a provider.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum MarketError {
    /// The provider asks us to slow down.
    #[error("{provider} is rate limiting requests; retry after {retry_after:?}")]
    RateLimited {
        /// The provider.
        provider: String,
        /// How long to wait, when it says.
        retry_after: Option<Duration>,
    },
    /// The provider cannot be reached or answered with an error.
    #[error("{provider} is unavailable: {message}")]
    Unavailable {
        /// The provider.
        provider: String,
        /// What happened (never containing a key).
        message: String,
    },
    /// The provider answered with data we cannot use.
    #[error("{provider} sent data that cannot be used: {message}")]
    InvalidData {
        /// The provider.
        provider: String,
        /// What is wrong.
        message: String,
    },
}

/// A source of quotes and price history.
#[async_trait]
pub trait MarketData: Send + Sync + std::fmt::Debug {
    /// Short name (`replay`, `simulated`, `yahoo` …), recorded as a quote's source.
    fn name(&self) -> &str;

    /// Most symbols one [`quotes`](Self::quotes) call may ask for.
    fn max_batch(&self) -> usize;

    /// Whether the provider serves this symbol at all (Finnhub has no indices, Alpaca no
    /// foreign listings …). By default, every symbol.
    fn supports(&self, symbol: &Symbol) -> bool {
        let _ = symbol;
        true
    }

    /// The state of the providers behind this source (breakers, call counts, last errors),
    /// for sources that chain providers. By default, nothing.
    fn provider_status(&self) -> Vec<ProviderStatus> {
        Vec::new()
    }

    /// The provider's request budget, when it has one.
    fn request_budget(&self) -> Option<RequestBudget> {
        None
    }

    /// The latest quotes of `symbols` (at most [`max_batch`](Self::max_batch)). Symbols the
    /// provider has nothing for are left out of the answer.
    ///
    /// # Errors
    /// [`MarketError`] when the provider cannot answer at all.
    async fn quotes(&self, symbols: &[Symbol]) -> Result<Vec<Quote>, MarketError>;

    /// Daily bars of `symbol` for the exchange days `from..=to`, oldest first.
    ///
    /// # Errors
    /// [`MarketError`] when the provider cannot answer.
    async fn daily_bars(
        &self,
        symbol: &Symbol,
        from: NaiveDate,
        to: NaiveDate,
    ) -> Result<Vec<Bar>, MarketError>;

    /// Whether this source gives one-minute bars ([`minute_bars`](Self::minute_bars)). By
    /// default, it does not.
    fn has_minute_bars(&self) -> bool {
        false
    }

    /// The closed one-minute bars of `symbol` that ended in `from..=to` (each stamped at its
    /// end: the minute 15:01–15:02 at 15:02), oldest first, extended hours included. By
    /// default, none.
    ///
    /// # Errors
    /// [`MarketError`] when the provider cannot answer.
    async fn minute_bars(
        &self,
        symbol: &Symbol,
        from: crate::time::Timestamp,
        to: crate::time::Timestamp,
    ) -> Result<Vec<Bar>, MarketError> {
        let _ = (symbol, from, to);
        Ok(Vec::new())
    }

    /// Symbols whose name or ticker matches `query` ("rocket lab"), best first, at most a
    /// few: for names the shipped table does not know. By default, none.
    ///
    /// # Errors
    /// [`MarketError`] when the provider cannot answer.
    async fn search_symbols(&self, query: &str) -> Result<Vec<directory::Listing>, MarketError> {
        let _ = query;
        Ok(Vec::new())
    }

    /// Whether this source announces corporate events (earnings, dividends, splits). By
    /// default, it does not, and [`corporate_events`](Self::corporate_events) has none.
    fn has_events(&self) -> bool {
        false
    }

    /// The corporate events of `symbol` dated on the exchange days `from..=to`, in any order.
    /// By default, none.
    ///
    /// # Errors
    /// [`MarketError`] when the provider cannot answer.
    async fn corporate_events(
        &self,
        symbol: &Symbol,
        from: NaiveDate,
        to: NaiveDate,
    ) -> Result<Vec<CorporateEvent>, MarketError> {
        let _ = (symbol, from, to);
        Ok(Vec::new())
    }

    /// The last `sessions` daily bars of `symbol` before the exchange day `before`, oldest
    /// first: what indicators warm up from. By default, asks [`daily_bars`](Self::daily_bars)
    /// for enough calendar days (five sessions a week, plus holidays) and keeps the last ones.
    ///
    /// # Errors
    /// [`MarketError`] when the provider cannot answer.
    async fn recent_daily_bars(
        &self,
        symbol: &Symbol,
        sessions: usize,
        before: NaiveDate,
    ) -> Result<Vec<Bar>, MarketError> {
        let days = u64::try_from(sessions)
            .unwrap_or(u64::MAX)
            .saturating_mul(7)
            / 5
            + 14;
        let from = before
            .checked_sub_days(chrono::Days::new(days))
            .unwrap_or(NaiveDate::MIN);
        let Some(to) = before.pred_opt() else {
            return Ok(Vec::new());
        };
        let mut bars = self.daily_bars(symbol, from, to).await?;
        let excess = bars.len().saturating_sub(sessions);
        bars.drain(..excess);
        Ok(bars)
    }
}

/// What asking one provider directly returned.
#[derive(Debug, Clone, serde::Serialize)]
pub struct ProviderProbe {
    /// The provider.
    pub provider: String,
    /// Whether it answered with a quote.
    pub ok: bool,
    /// The quote's price, when it answered.
    pub price: Option<rust_decimal::Decimal>,
    /// How long it took.
    pub millis: u128,
    /// What went wrong (free of keys), or why there was no quote.
    pub error: Option<String>,
}

/// Asks each configured provider, one after the other and past any breaker, for `symbol`:
/// what `invest providers status` shows.
///
/// # Errors
/// A message when an HTTP client cannot be built.
pub async fn probe_providers(
    settings: &crate::config::Settings,
    symbol: &Symbol,
) -> Result<Vec<ProviderProbe>, crate::BuildError> {
    let clock: std::sync::Arc<dyn crate::clock::Clock> =
        std::sync::Arc::new(crate::clock::SystemClock);
    let chain = providers_from_settings(settings, clock, None)?;
    let mut probes = Vec::new();
    for provider in chain.providers() {
        let started = std::time::Instant::now();
        let answer = if provider.supports(symbol) {
            provider.quotes(std::slice::from_ref(symbol)).await
        } else {
            Ok(Vec::new())
        };
        let millis = started.elapsed().as_millis();
        let (ok, price, error) = match answer {
            Ok(quotes) => match quotes.first() {
                Some(q) => (true, Some(q.price), None),
                None => (false, None, Some(format!("no quote for {symbol}"))),
            },
            Err(e) => (false, None, Some(e.to_string())),
        };
        probes.push(ProviderProbe {
            provider: provider.name().to_owned(),
            ok,
            price,
            millis,
            error,
        });
    }
    Ok(probes)
}

/// Run by `.ci/run` with `--no-default-features`.
#[cfg(all(test, not(feature = "providers")))]
mod without_providers {
    use std::sync::Arc;

    use super::providers_from_settings;
    use crate::clock::SystemClock;
    use crate::config::Settings;

    /// A build without the providers says so when the settings name one.
    #[test]
    fn configured_providers_need_the_feature() {
        let settings = Settings::from_vars([
            ("DATABASE_URL".to_owned(), "sqlite::memory:".to_owned()),
            ("SECRET_KEY".to_owned(), "k".repeat(32)),
            ("MARKET_DATA_PROVIDERS".to_owned(), "yahoo".to_owned()),
        ])
        .unwrap();
        let err = providers_from_settings(&settings, Arc::new(SystemClock), None).unwrap_err();
        assert!(err.to_string().contains("`providers` feature"), "{err}");
    }
}
