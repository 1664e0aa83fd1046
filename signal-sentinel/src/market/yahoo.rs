//! [`YahooMarket`]: Yahoo Finance's v8 chart endpoint, no key needed.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, NaiveDate, TimeZone, Utc};
use reqwest::{Client, StatusCode};
use serde::Deserialize;
use tokio::sync::Semaphore;

use super::http::{self, Failure};
use super::{MarketData, MarketError, symbols};
use crate::domain::{Bar, CorporateEvent, EventKind, Quote, SplitRatio, Symbol, ValidationError};

const NAME: &str = "yahoo";

/// Quotes and daily bars from Yahoo Finance's chart endpoint (`/v8/finance/chart/{symbol}`),
/// one request per symbol, a few at a time, with a browser-like User-Agent.
#[derive(Debug, Clone)]
pub struct YahooMarket {
    client: Client,
    base: url::Url,
    concurrency: usize,
}

impl YahooMarket {
    /// A client of the API at `base` (`https://query1.finance.yahoo.com`, or a mock).
    ///
    /// # Errors
    /// A message when the HTTP client cannot be built.
    pub fn new(base: url::Url, timeout: Duration) -> Result<Self, crate::BuildError> {
        Ok(Self {
            client: http::client(timeout, Some(http::BROWSER_USER_AGENT), &base)?,
            base,
            concurrency: 8,
        })
    }

    /// Sets how many requests run at once. By default, this is 8.
    pub fn with_concurrency(mut self, concurrency: usize) -> Self {
        self.concurrency = concurrency.max(1);
        self
    }

    fn chart_url(&self, yahoo_symbol: &str) -> url::Url {
        // Encoded by hand: the URL path rules leave `^` as it is, and Yahoo's own links send
        // `^GSPC` as `%5EGSPC` (and `=` as `%3D`).
        let encoded: String =
            url::form_urlencoded::byte_serialize(yahoo_symbol.as_bytes()).collect();
        let mut url = self.base.clone();
        let prefix = url.path().trim_end_matches('/').to_owned();
        url.set_path(&format!("{prefix}/v8/finance/chart/{encoded}"));
        url
    }

    async fn chart(
        &self,
        yahoo_symbol: &str,
        query: &[(&str, String)],
    ) -> Result<Option<ChartResult>, Failure> {
        let url = self.chart_url(yahoo_symbol);
        let response = http::send(
            || self.client.get(url.clone()).query(query),
            http::retry_after_header,
        )
        .await?;
        let status = response.status();
        tracing::debug!(
            provider = NAME,
            symbol = yahoo_symbol,
            status = status.as_u16(),
            "chart"
        );
        if status == StatusCode::NOT_FOUND || status.is_success() {
            let body: ChartResponse = http::json(response).await?;
            if let Some(error) = body.chart.error {
                // Unknown or delisted symbol: no data, not a failure.
                tracing::debug!(provider = NAME, symbol = yahoo_symbol, code = %error.code, "no data");
                return Ok(None);
            }
            return Ok(body
                .chart
                .result
                .and_then(|mut r| (!r.is_empty()).then(|| r.swap_remove(0))));
        }
        Err(Failure::Other(format!("HTTP {}", status.as_u16())))
    }

    async fn quote(&self, symbol: Symbol) -> Result<Option<Quote>, Failure> {
        let Some(yahoo_symbol) = symbols::yahoo(&symbol) else {
            return Ok(None);
        };
        let query = [("interval", "1d".to_owned()), ("range", "1d".to_owned())];
        let Some(result) = self
            .chart(&yahoo_symbol, &query)
            .await
            .map_err(|f| f.about(&symbol))?
        else {
            return Ok(None);
        };
        let checked = result.quote(symbol.clone());
        Ok(http::accept(NAME, &symbol, checked).flatten())
    }
}

#[derive(Deserialize)]
struct ChartResponse {
    chart: Chart,
}

#[derive(Deserialize)]
struct Chart {
    result: Option<Vec<ChartResult>>,
    error: Option<ChartError>,
}

#[derive(Deserialize)]
struct ChartError {
    code: String,
}

#[derive(Deserialize)]
struct ChartResult {
    meta: Meta,
    #[serde(default)]
    timestamp: Vec<i64>,
    #[serde(default)]
    indicators: Indicators,
    /// Asked for with `events=div,splits`.
    #[serde(default)]
    events: Option<ChartEvents>,
}

/// `{"dividends":{"1762785000":{"amount":0.26,"date":1762785000}},
/// "splits":{"1598880600":{"date":1598880600,"numerator":4,"denominator":1,"splitRatio":"4:1"}}}`,
/// each keyed and dated at the ex-date's open.
#[derive(Deserialize, Default)]
struct ChartEvents {
    #[serde(default)]
    dividends: std::collections::BTreeMap<String, DividendEvent>,
    #[serde(default)]
    splits: std::collections::BTreeMap<String, SplitEvent>,
}

#[derive(Deserialize)]
struct DividendEvent {
    amount: Option<serde_json::Number>,
    date: Option<i64>,
}

#[derive(Deserialize)]
struct SplitEvent {
    date: Option<i64>,
    numerator: Option<serde_json::Number>,
    denominator: Option<serde_json::Number>,
}

/// The chart query for the daily bars of the exchange days `from..=to`.
fn daily_query(from: NaiveDate, to: NaiveDate) -> Vec<(&'static str, String)> {
    vec![
        ("interval", "1d".to_owned()),
        ("period1", http::day_start_unix(from).to_string()),
        (
            "period2",
            http::day_start_unix(to.succ_opt().unwrap_or(to)).to_string(),
        ),
    ]
}

/// The exchange day of a Unix time, or an error naming it.
fn event_day(time: Option<i64>) -> Result<Option<NaiveDate>, ValidationError> {
    let Some(time) = time else {
        return Ok(None);
    };
    let at = DateTime::from_timestamp(time, 0).ok_or_else(|| {
        ValidationError::field_error("event date", format!("{time} is not a time"))
    })?;
    Ok(Some(crate::engine::indicators::exchange_date(at)))
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Meta {
    regular_market_price: Option<serde_json::Number>,
    chart_previous_close: Option<serde_json::Number>,
    previous_close: Option<serde_json::Number>,
    regular_market_day_high: Option<serde_json::Number>,
    regular_market_day_low: Option<serde_json::Number>,
    regular_market_volume: Option<u64>,
    regular_market_time: Option<i64>,
}

#[derive(Deserialize, Default)]
struct Indicators {
    #[serde(default)]
    quote: Vec<Series>,
}

#[derive(Deserialize, Default)]
struct Series {
    #[serde(default)]
    open: Vec<Option<serde_json::Number>>,
    #[serde(default)]
    high: Vec<Option<serde_json::Number>>,
    #[serde(default)]
    low: Vec<Option<serde_json::Number>>,
    #[serde(default)]
    close: Vec<Option<serde_json::Number>>,
    #[serde(default)]
    volume: Vec<Option<u64>>,
}

impl ChartResult {
    /// The quote in the answer: `Ok(None)` for no data (no price, no time), an error for
    /// bad data.
    fn quote(&self, symbol: Symbol) -> Result<Option<Quote>, ValidationError> {
        let m = &self.meta;
        let (Some(price), Some(at)) = (
            http::price(m.regular_market_price.as_ref()),
            m.regular_market_time
                .and_then(|t| Utc.timestamp_opt(t, 0).single()),
        ) else {
            return Ok(None);
        };
        let mut quote = Quote::new(symbol, price, at, NAME)?;
        if let Some(prev) = http::price(
            m.chart_previous_close
                .as_ref()
                .or(m.previous_close.as_ref()),
        ) {
            quote = quote.with_previous_close(prev)?;
        }
        if let (Some(low), Some(high)) = (
            http::price(m.regular_market_day_low.as_ref()),
            http::price(m.regular_market_day_high.as_ref()),
        ) {
            quote = quote.with_day_range(low, high)?;
        }
        let open = self
            .indicators
            .quote
            .first()
            .and_then(|s| s.open.last())
            .and_then(|o| http::price(o.as_ref()));
        if let Some(open) = open {
            quote = quote.with_open(open)?;
        }
        if let Some(volume) = m.regular_market_volume {
            quote = quote.with_volume(volume);
        }
        Ok(Some(quote))
    }

    /// The dividends and splits in the answer; bad entries are refused one by one.
    fn events(&self, symbol: &Symbol) -> Vec<CorporateEvent> {
        let Some(events) = &self.events else {
            return Vec::new();
        };
        let dividends = events.dividends.values().map(|d| {
            let amount = d.amount.as_ref().and_then(http::decimal);
            match (event_day(d.date)?, amount) {
                (Some(day), Some(amount)) => {
                    CorporateEvent::new(symbol.clone(), day, EventKind::Dividend { amount }, NAME)
                        .map(Some)
                }
                _ => Ok(None),
            }
        });
        let splits = events.splits.values().map(|s| {
            let side = |n: &Option<serde_json::Number>| n.as_ref().and_then(http::decimal);
            match (event_day(s.date)?, side(&s.numerator), side(&s.denominator)) {
                (Some(day), Some(new), Some(old)) => CorporateEvent::new(
                    symbol.clone(),
                    day,
                    EventKind::Split {
                        ratio: SplitRatio::new(new, old)?,
                    },
                    NAME,
                )
                .map(Some),
                _ => Ok(None),
            }
        });
        dividends
            .chain(splits)
            .filter_map(|built| http::accept(NAME, symbol, built).flatten())
            .collect()
    }

    /// Daily bars; entries with a null or zero price (Yahoo leaves holes) are skipped.
    fn bars(&self, symbol: &Symbol) -> Vec<Bar> {
        let Some(series) = self.indicators.quote.first() else {
            return Vec::new();
        };
        let value = |v: &[Option<serde_json::Number>], i: usize| {
            v.get(i).and_then(|n| http::price(n.as_ref()))
        };
        self.timestamp
            .iter()
            .enumerate()
            .filter_map(|(i, t)| {
                let at = DateTime::from_timestamp(*t, 0)?;
                let (o, h, l, c) = (
                    value(&series.open, i)?,
                    value(&series.high, i)?,
                    value(&series.low, i)?,
                    value(&series.close, i)?,
                );
                let bar = Bar::new(at, o, h, l, c, series.volume.get(i).copied().flatten());
                http::accept(NAME, symbol, bar)
            })
            .collect()
    }
}

#[async_trait]
impl MarketData for YahooMarket {
    fn name(&self) -> &str {
        NAME
    }

    fn max_batch(&self) -> usize {
        50
    }

    fn supports(&self, symbol: &Symbol) -> bool {
        symbols::yahoo(symbol).is_some()
    }

    fn has_minute_bars(&self) -> bool {
        true
    }

    /// `interval=1m` (Yahoo keeps about a week of them), stamped by Yahoo at the minute's
    /// start: each bar is moved to its end, and the minute still running is left out.
    async fn minute_bars(
        &self,
        symbol: &Symbol,
        from: crate::time::Timestamp,
        to: crate::time::Timestamp,
    ) -> Result<Vec<Bar>, MarketError> {
        let Some(yahoo_symbol) = symbols::yahoo(symbol) else {
            return Ok(Vec::new());
        };
        let minute = chrono::Duration::minutes(1);
        let query = [
            ("interval", "1m".to_owned()),
            ("period1", (from - minute).timestamp().to_string()),
            ("period2", to.timestamp().to_string()),
            ("includePrePost", "true".to_owned()),
        ];
        match self.chart(&yahoo_symbol, &query).await {
            Ok(Some(result)) => Ok(result
                .bars(symbol)
                .into_iter()
                .map(|b| Bar {
                    at: b.at + minute,
                    ..b
                })
                .filter(|b| b.at >= from && b.at <= to)
                .collect()),
            Ok(None) => Ok(Vec::new()),
            Err(f) => Err(f.about(symbol).into_error(NAME)),
        }
    }

    fn has_events(&self) -> bool {
        true
    }

    /// Dividends and splits from the chart's events (`events=div,splits`): the ones that
    /// have gone ex, up to the day they do (Yahoo's chart has no earnings dates).
    async fn corporate_events(
        &self,
        symbol: &Symbol,
        from: NaiveDate,
        to: NaiveDate,
    ) -> Result<Vec<CorporateEvent>, MarketError> {
        let Some(yahoo_symbol) = symbols::yahoo(symbol) else {
            return Ok(Vec::new());
        };
        let mut query = daily_query(from, to);
        query.push(("events", "div,splits".to_owned()));
        match self.chart(&yahoo_symbol, &query).await {
            Ok(Some(result)) => Ok(result
                .events(symbol)
                .into_iter()
                .filter(|e| (from..=to).contains(&e.date))
                .collect()),
            Ok(None) => Ok(Vec::new()),
            Err(f) => Err(f.about(symbol).into_error(NAME)),
        }
    }

    /// `/v1/finance/search?q=…`: `{"quotes": [{"symbol": "AAPL", "shortname": "Apple Inc.",
    /// "longname": "Apple Inc.", "quoteType": "EQUITY", "exchange": "NMS"}], "news": []}`.
    async fn search_symbols(
        &self,
        query: &str,
    ) -> Result<Vec<super::directory::Listing>, MarketError> {
        let mut url = self.base.clone();
        let prefix = url.path().trim_end_matches('/').to_owned();
        url.set_path(&format!("{prefix}/v1/finance/search"));
        let params = [
            ("q", query.to_owned()),
            ("quotesCount", "6".to_owned()),
            ("newsCount", "0".to_owned()),
        ];
        let response = http::send(
            || self.client.get(url.clone()).query(&params),
            http::retry_after_header,
        )
        .await
        .map_err(|f| f.into_error(NAME))?;
        let status = response.status();
        if !status.is_success() {
            return Err(
                Failure::Other(format!("search: HTTP {}", status.as_u16())).into_error(NAME)
            );
        }
        let answer: SearchAnswer = http::json(response).await.map_err(|f| f.into_error(NAME))?;
        let mut found: Vec<super::directory::Listing> = answer
            .quotes
            .unwrap_or_default()
            .into_iter()
            .filter_map(|q| {
                use super::directory::ListingKind;
                let kind = match q.quote_type.as_deref() {
                    Some("EQUITY") => ListingKind::Stock,
                    Some("ETF") => ListingKind::Etf,
                    Some("INDEX") => ListingKind::Index,
                    Some("CRYPTOCURRENCY") => ListingKind::Crypto,
                    _ => return None,
                };
                let raw = q.symbol?;
                // Yahoo writes share classes with a dash (BRK-B): ours is BRK.B.
                let canonical = match (kind, raw.split_once('-')) {
                    (ListingKind::Stock, Some((root, class)))
                        if class.len() == 1 && !raw.contains('.') =>
                    {
                        format!("{root}.{class}")
                    }
                    _ => raw,
                };
                let symbol = Symbol::parse(&canonical).ok()?;
                let name = q
                    .longname
                    .or(q.shortname)
                    .filter(|n| !n.trim().is_empty())?;
                Some(super::directory::Listing {
                    symbol,
                    name: name.trim().chars().take(100).collect(),
                    kind,
                })
            })
            .collect();
        // The same company listed abroad (`6RJ0.F`) is left out when a home listing is found.
        let foreign = |l: &super::directory::Listing| {
            matches!(l.symbol.kind(), crate::domain::SymbolKind::Foreign { .. })
        };
        if found.iter().any(|l| !foreign(l)) {
            found.retain(|l| !foreign(l));
        }
        found.truncate(super::directory::MAX_SEARCH_RESULTS);
        Ok(found)
    }

    async fn quotes(&self, symbols: &[Symbol]) -> Result<Vec<Quote>, MarketError> {
        let permits = Arc::new(Semaphore::new(self.concurrency));
        let mut tasks = tokio::task::JoinSet::new();
        for symbol in symbols.iter().cloned() {
            let this = self.clone();
            let permits = Arc::clone(&permits);
            tasks.spawn(async move {
                let _permit = permits.acquire_owned().await;
                this.quote(symbol).await
            });
        }
        let mut quotes = Vec::with_capacity(symbols.len());
        let mut failure = None;
        while let Some(done) = tasks.join_next().await {
            match done {
                Ok(Ok(Some(quote))) => quotes.push(quote),
                Ok(Ok(None)) => {}
                Ok(Err(f)) => failure = Some(f),
                Err(e) => failure = Some(Failure::Other(e.to_string())),
            }
        }
        // Some answers are better than none: fail only when every request failed.
        http::answers_or_failure(quotes, failure, NAME)
    }

    async fn daily_bars(
        &self,
        symbol: &Symbol,
        from: NaiveDate,
        to: NaiveDate,
    ) -> Result<Vec<Bar>, MarketError> {
        let Some(yahoo_symbol) = symbols::yahoo(symbol) else {
            return Ok(Vec::new());
        };
        let query = daily_query(from, to);
        match self.chart(&yahoo_symbol, &query).await {
            Ok(Some(result)) => Ok(result.bars(symbol)),
            Ok(None) => Ok(Vec::new()),
            Err(f) => Err(f.about(symbol).into_error(NAME)),
        }
    }
}

/// Fuzzing entry: a chart answer mapped to a quote and bars; must never panic.
#[cfg(feature = "fuzzing")]
pub(crate) fn fuzz_answer(bytes: &[u8]) {
    if let Ok(answer) = serde_json::from_slice::<ChartResponse>(bytes)
        && let Some(results) = answer.chart.result
    {
        for result in results {
            let symbol = Symbol::parse("AAPL").expect("a valid symbol");
            let _ = result.quote(symbol.clone());
            let _ = result.bars(&symbol);
            let _ = result.events(&symbol);
        }
    }
}

#[derive(Deserialize)]
struct SearchAnswer {
    quotes: Option<Vec<SearchQuote>>,
}

#[derive(Deserialize)]
struct SearchQuote {
    symbol: Option<String>,
    shortname: Option<String>,
    longname: Option<String>,
    #[serde(rename = "quoteType")]
    quote_type: Option<String>,
}
