//! [`FinnhubMarket`]: Finnhub's quote and candle endpoints, paced for the free tier.

use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, NaiveDate, TimeZone, Utc};
use reqwest::{Client, StatusCode};
use serde::Deserialize;

use super::http::{self, Failure};
use super::{MarketData, MarketError, RequestBudget, symbols};
use crate::Secret;
use crate::domain::{Bar, CorporateEvent, EventKind, Quote, ReportHour, Symbol, ValidationError};
use crate::pace::RateLimiter;

const NAME: &str = "finnhub";

/// Quotes from `/quote` (one request per symbol) and daily candles from `/stock/candle`
/// where the plan allows, authenticated with the `X-Finnhub-Token` header (never in a URL),
/// paced by a built-in limiter (60 calls a minute on the free tier).
#[derive(Clone)]
pub struct FinnhubMarket {
    client: Client,
    base: url::Url,
    key: Secret,
    calls_per_minute: u32,
    limiter: std::sync::Arc<RateLimiter>,
}

impl std::fmt::Debug for FinnhubMarket {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FinnhubMarket")
            .field("base", &self.base.as_str())
            .field("key", &self.key)
            .field("calls_per_minute", &self.calls_per_minute)
            .finish_non_exhaustive()
    }
}

impl FinnhubMarket {
    /// A client of the API at `base` (`https://finnhub.io/api/v1`, or a mock), allowed
    /// `calls_per_minute`.
    ///
    /// # Errors
    /// A message when the HTTP client cannot be built.
    pub fn new(
        base: url::Url,
        key: Secret,
        calls_per_minute: u32,
        timeout: Duration,
    ) -> Result<Self, crate::BuildError> {
        Ok(Self {
            client: http::client(timeout, None, &base)?,
            base,
            key,
            calls_per_minute,
            // A minute's worth at once, then the rate.
            limiter: std::sync::Arc::new(RateLimiter::new(
                calls_per_minute,
                Duration::from_secs(60),
                calls_per_minute,
            )),
        })
    }

    fn url(&self, path: &[&str]) -> url::Url {
        http::join(&self.base, path)
    }

    async fn fetch<T: serde::de::DeserializeOwned>(
        &self,
        path: &[&str],
        query: &[(&str, String)],
    ) -> Result<T, Failure> {
        self.limiter.acquire().await;
        let url = self.url(path);
        let response = http::send(
            || {
                self.client
                    .get(url.clone())
                    .query(query)
                    .header("X-Finnhub-Token", self.key.expose())
            },
            http::retry_after_header,
        )
        .await?;
        let status = response.status();
        tracing::debug!(
            provider = NAME,
            path = url.path(),
            status = status.as_u16(),
            "request"
        );
        match status {
            s if s.is_success() => http::json(response).await,
            StatusCode::UNAUTHORIZED => {
                Err(Failure::Other("the API key was refused (HTTP 401)".into()))
            }
            StatusCode::FORBIDDEN => Err(Failure::Other(
                "this plan has no access to the data (HTTP 403)".into(),
            )),
            s => Err(Failure::Other(format!("HTTP {}", s.as_u16()))),
        }
    }

    async fn quote(&self, symbol: &Symbol) -> Result<Option<Quote>, Failure> {
        let Some(finnhub_symbol) = symbols::finnhub(symbol) else {
            return Ok(None);
        };
        let q: ApiQuote = self
            .fetch(&["quote"], &[("symbol", finnhub_symbol)])
            .await
            .map_err(|f| f.about(symbol))?;
        Ok(http::accept(NAME, symbol, q.quote(symbol.clone())).flatten())
    }
}

#[derive(Deserialize)]
struct SearchAnswer {
    result: Option<Vec<SearchResult>>,
}

#[derive(Deserialize)]
struct SearchResult {
    description: Option<String>,
    #[serde(rename = "displaySymbol")]
    display_symbol: Option<String>,
    #[serde(rename = "type")]
    kind: Option<String>,
}

/// `{"c":261.74,"d":-1.31,"dp":-0.498,"h":263.31,"l":260.68,"o":261.07,"pc":263.05,"t":1602705600}`;
/// an unknown symbol answers zeros (and nulls), which is "no data", never a price of 0.
#[derive(Deserialize)]
struct ApiQuote {
    c: Option<serde_json::Number>,
    h: Option<serde_json::Number>,
    l: Option<serde_json::Number>,
    o: Option<serde_json::Number>,
    pc: Option<serde_json::Number>,
    t: Option<i64>,
}

impl ApiQuote {
    /// The quote: `Ok(None)` for Finnhub's "no data" (zeros, nulls), an error for bad data.
    fn quote(&self, symbol: Symbol) -> Result<Option<Quote>, ValidationError> {
        let (Some(price), Some(at)) = (
            http::price(self.c.as_ref()),
            self.t
                .filter(|t| *t > 0)
                .and_then(|t| Utc.timestamp_opt(t, 0).single()),
        ) else {
            return Ok(None);
        };
        let mut quote = Quote::new(symbol, price, at, NAME)?;
        // Each of these may be 0 on its own (a known Finnhub glitch): then it is unknown.
        if let Some(prev) = http::price(self.pc.as_ref()) {
            quote = quote.with_previous_close(prev)?;
        }
        if let Some(open) = http::price(self.o.as_ref()) {
            quote = quote.with_open(open)?;
        }
        if let (Some(low), Some(high)) =
            (http::price(self.l.as_ref()), http::price(self.h.as_ref()))
        {
            quote = quote.with_day_range(low, high)?;
        }
        Ok(Some(quote))
    }
}

/// `{"earningsCalendar":[{"date":"2026-01-29","epsActual":null,"epsEstimate":2.35,"hour":"amc",
/// "quarter":1,"revenueActual":null,"revenueEstimate":1.38e11,"symbol":"AAPL","year":2026}]}`.
#[derive(Deserialize)]
struct EarningsCalendar {
    #[serde(rename = "earningsCalendar", default)]
    earnings_calendar: Option<Vec<EarningsRow>>,
}

#[derive(Deserialize)]
struct EarningsRow {
    date: Option<String>,
    hour: Option<String>,
    symbol: Option<String>,
}

impl EarningsRow {
    /// The report as an event of `symbol`: `Ok(None)` for a row of another symbol or without
    /// a date, an error for a date that is not one.
    fn event(
        &self,
        symbol: &Symbol,
        finnhub_symbol: &str,
    ) -> Result<Option<CorporateEvent>, ValidationError> {
        let (Some(date), Some(row_symbol)) = (&self.date, &self.symbol) else {
            return Ok(None);
        };
        if !row_symbol.eq_ignore_ascii_case(finnhub_symbol) {
            return Ok(None);
        }
        let date: NaiveDate = date.parse().map_err(|_| {
            ValidationError::field_error("event date", format!("{date:?} is not a date"))
        })?;
        let hour = self.hour.as_deref().and_then(ReportHour::from_code);
        CorporateEvent::new(symbol.clone(), date, EventKind::Earnings { hour }, NAME).map(Some)
    }
}

#[derive(Deserialize)]
struct Candles {
    s: String,
    #[serde(default)]
    t: Vec<i64>,
    #[serde(default)]
    o: Vec<serde_json::Number>,
    #[serde(default)]
    h: Vec<serde_json::Number>,
    #[serde(default)]
    l: Vec<serde_json::Number>,
    #[serde(default)]
    c: Vec<serde_json::Number>,
    #[serde(default)]
    v: Vec<serde_json::Number>,
}

#[async_trait]
impl MarketData for FinnhubMarket {
    fn name(&self) -> &str {
        NAME
    }

    fn max_batch(&self) -> usize {
        50
    }

    fn request_budget(&self) -> Option<RequestBudget> {
        Some(RequestBudget {
            requests: self.calls_per_minute,
            per: Duration::from_secs(60),
        })
    }

    fn supports(&self, symbol: &Symbol) -> bool {
        symbols::finnhub(symbol).is_some()
    }

    fn has_events(&self) -> bool {
        true
    }

    /// `/search?q=…`: `{"count": 1, "result": [{"description": "APPLE INC", "displaySymbol":
    /// "AAPL", "symbol": "AAPL", "type": "Common Stock"}]}`; US listings only (no suffix).
    async fn search_symbols(
        &self,
        query: &str,
    ) -> Result<Vec<super::directory::Listing>, MarketError> {
        let answer: SearchAnswer = self
            .fetch(&["search"], &[("q", query.to_owned())])
            .await
            .map_err(|f| f.into_error(NAME))?;
        Ok(answer
            .result
            .unwrap_or_default()
            .into_iter()
            .filter_map(|r| {
                let kind = match r.kind.as_deref() {
                    Some("Common Stock" | "ADR") => super::directory::ListingKind::Stock,
                    Some("ETP") => super::directory::ListingKind::Etf,
                    _ => return None,
                };
                // Finnhub writes share classes with a dash (BRK-B); foreign listings carry an
                // exchange suffix after a dot, and are left out.
                let display = r.display_symbol?;
                if display.contains('.') {
                    return None;
                }
                let symbol = Symbol::parse(&display.replace('-', ".")).ok()?;
                let name = r.description.filter(|d| !d.trim().is_empty())?;
                Some(super::directory::Listing {
                    symbol,
                    name: name.trim().chars().take(100).collect(),
                    kind,
                })
            })
            .take(super::directory::MAX_SEARCH_RESULTS)
            .collect())
    }

    /// Earnings reports from the earnings calendar (`/calendar/earnings`, free on every
    /// plan); dividends and splits are left to the providers that give them on free plans.
    async fn corporate_events(
        &self,
        symbol: &Symbol,
        from: NaiveDate,
        to: NaiveDate,
    ) -> Result<Vec<CorporateEvent>, MarketError> {
        let Some(finnhub_symbol) = symbols::finnhub(symbol) else {
            return Ok(Vec::new());
        };
        let query = [
            ("from", from.to_string()),
            ("to", to.to_string()),
            ("symbol", finnhub_symbol.clone()),
        ];
        let answer: EarningsCalendar = self
            .fetch(&["calendar", "earnings"], &query)
            .await
            .map_err(|f| f.about(symbol).into_error(NAME))?;
        Ok(answer
            .earnings_calendar
            .unwrap_or_default()
            .iter()
            .filter_map(|row| {
                http::accept(NAME, symbol, row.event(symbol, &finnhub_symbol)).flatten()
            })
            .filter(|e| (from..=to).contains(&e.date))
            .collect())
    }

    async fn quotes(&self, symbols: &[Symbol]) -> Result<Vec<Quote>, MarketError> {
        let mut quotes = Vec::with_capacity(symbols.len());
        let mut failure = None;
        for symbol in symbols {
            match self.quote(symbol).await {
                Ok(Some(quote)) => quotes.push(quote),
                Ok(None) => {}
                // Rate limited or refused: the rest would fare no better.
                Err(f @ Failure::RateLimited(_)) => return Err(f.into_error(NAME)),
                Err(f) => failure = Some(f),
            }
        }
        http::answers_or_failure(quotes, failure, NAME)
    }

    async fn daily_bars(
        &self,
        symbol: &Symbol,
        from: NaiveDate,
        to: NaiveDate,
    ) -> Result<Vec<Bar>, MarketError> {
        let Some(finnhub_symbol) = symbols::finnhub(symbol) else {
            return Ok(Vec::new());
        };
        let query = [
            ("symbol", finnhub_symbol),
            ("resolution", "D".to_owned()),
            ("from", http::day_start_unix(from).to_string()),
            (
                "to",
                http::day_start_unix(to.succ_opt().unwrap_or(to)).to_string(),
            ),
        ];
        let candles: Candles = self
            .fetch(&["stock", "candle"], &query)
            .await
            .map_err(|f| f.about(symbol).into_error(NAME))?;
        if candles.s != "ok" {
            return Ok(Vec::new());
        }
        Ok((0..candles.t.len())
            .filter_map(|i| {
                let at = DateTime::from_timestamp(candles.t[i], 0)?;
                let volume = candles
                    .v
                    .get(i)
                    .and_then(|v| v.as_u64().or_else(|| v.as_f64().map(|f| f as u64)));
                let bar = Bar::new(
                    at,
                    http::price(candles.o.get(i))?,
                    http::price(candles.h.get(i))?,
                    http::price(candles.l.get(i))?,
                    http::price(candles.c.get(i))?,
                    volume,
                );
                http::accept(NAME, symbol, bar)
            })
            .collect())
    }
}

/// Fuzzing entry: a quote answer mapped to a quote; must never panic.
#[cfg(feature = "fuzzing")]
pub(crate) fn fuzz_answer(bytes: &[u8]) {
    if let Ok(answer) = serde_json::from_slice::<ApiQuote>(bytes) {
        let _ = answer.quote(Symbol::parse("AAPL").expect("a valid symbol"));
    }
    if let Ok(calendar) = serde_json::from_slice::<EarningsCalendar>(bytes) {
        let symbol = Symbol::parse("AAPL").expect("a valid symbol");
        for row in calendar.earnings_calendar.unwrap_or_default() {
            let _ = row.event(&symbol, "AAPL");
        }
    }
}
