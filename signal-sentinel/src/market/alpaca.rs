//! [`AlpacaMarket`]: Alpaca's market data API (stock and crypto snapshots, daily bars).

use std::collections::HashMap;
use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, NaiveDate, Utc};
use reqwest::{Client, RequestBuilder, Response};
use serde::Deserialize;

use super::http::{self, Failure};
use super::symbols::{self, AlpacaSymbol};
use super::{MarketData, MarketError};
use crate::Secret;
use crate::domain::{Bar, CorporateEvent, EventKind, Quote, SplitRatio, Symbol, ValidationError};

const NAME: &str = "alpaca";
/// Symbols per snapshot request.
const CHUNK: usize = 100;

/// Quotes from multi-symbol snapshots (`/v2/stocks/snapshots`, `/v1beta3/crypto/us/snapshots`)
/// and daily bars, authenticated with the `APCA-API-KEY-ID` / `APCA-API-SECRET-KEY` headers
/// (never in a URL).
#[derive(Clone)]
pub struct AlpacaMarket {
    client: Client,
    base: url::Url,
    key_id: Secret,
    secret_key: Secret,
    feed: String,
}

impl std::fmt::Debug for AlpacaMarket {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AlpacaMarket")
            .field("base", &self.base.as_str())
            .field("key_id", &self.key_id)
            .field("feed", &self.feed)
            .finish_non_exhaustive()
    }
}

impl AlpacaMarket {
    /// A client of the data API at `base` (`https://data.alpaca.markets`, or a mock) with the
    /// stock feed `feed` (`iex` on free plans, `sip`).
    ///
    /// # Errors
    /// A message when the HTTP client cannot be built.
    pub fn new(
        base: url::Url,
        key_id: Secret,
        secret_key: Secret,
        feed: &str,
        timeout: Duration,
    ) -> Result<Self, crate::BuildError> {
        Ok(Self {
            client: http::client(timeout, None, &base)?,
            base,
            key_id,
            secret_key,
            feed: feed.to_owned(),
        })
    }

    fn url(&self, path: &[&str]) -> url::Url {
        http::join(&self.base, path)
    }

    fn get(&self, url: &url::Url) -> RequestBuilder {
        self.client
            .get(url.clone())
            .header("APCA-API-KEY-ID", self.key_id.expose())
            .header("APCA-API-SECRET-KEY", self.secret_key.expose())
    }

    async fn fetch<T: serde::de::DeserializeOwned>(
        &self,
        path: &[&str],
        query: &[(&str, String)],
    ) -> Result<T, Failure> {
        let url = self.url(path);
        let response = http::send(|| self.get(&url).query(query), reset_wait).await?;
        let status = response.status();
        tracing::debug!(
            provider = NAME,
            path = url.path(),
            status = status.as_u16(),
            "request"
        );
        if status.is_success() {
            return http::json(response).await;
        }
        Err(Failure::Other(match status.as_u16() {
            401 | 403 => format!("the API keys were refused (HTTP {})", status.as_u16()),
            code => format!("HTTP {code}{}", error_message(response).await),
        }))
    }

    async fn stock_quotes(
        &self,
        wanted: &[(String, Symbol)],
        quotes: &mut Vec<Quote>,
    ) -> Result<(), Failure> {
        let list = comma_list(wanted);
        let query = [("symbols", list), ("feed", self.feed.clone())];
        let snapshots: HashMap<String, Option<Snapshot>> =
            self.fetch(&["v2", "stocks", "snapshots"], &query).await?;
        collect(wanted, &snapshots, quotes);
        Ok(())
    }

    async fn crypto_quotes(
        &self,
        wanted: &[(String, Symbol)],
        quotes: &mut Vec<Quote>,
    ) -> Result<(), Failure> {
        let list = comma_list(wanted);
        let response: CryptoSnapshots = self
            .fetch(
                &["v1beta3", "crypto", "us", "snapshots"],
                &[("symbols", list)],
            )
            .await?;
        collect(wanted, &response.snapshots, quotes);
        Ok(())
    }
}

/// `GET /v1/corporate-actions`: `{"corporate_actions":{"forward_splits":[{"symbol":"AAPL",
/// "new_rate":4,"old_rate":1,"ex_date":"2020-08-31","process_date":"2020-08-31",…}],
/// "reverse_splits":[…],"cash_dividends":[{"symbol":"AAPL","rate":0.26,"ex_date":…,…}]},
/// "next_page_token":null}`.
#[derive(Deserialize)]
struct CorporateActions {
    #[serde(default)]
    corporate_actions: Option<Actions>,
    next_page_token: Option<String>,
}

#[derive(Deserialize, Default)]
struct Actions {
    #[serde(default)]
    forward_splits: Vec<SplitAction>,
    #[serde(default)]
    reverse_splits: Vec<SplitAction>,
    #[serde(default)]
    cash_dividends: Vec<DividendAction>,
}

#[derive(Deserialize)]
struct SplitAction {
    symbol: Option<String>,
    new_rate: Option<serde_json::Number>,
    old_rate: Option<serde_json::Number>,
    ex_date: Option<String>,
}

#[derive(Deserialize)]
struct DividendAction {
    symbol: Option<String>,
    rate: Option<serde_json::Number>,
    ex_date: Option<String>,
}

fn action_day(date: &str) -> Result<NaiveDate, ValidationError> {
    date.parse()
        .map_err(|_| ValidationError::field_error("event date", format!("{date:?} is not a date")))
}

impl Actions {
    /// The splits and cash dividends of `alpaca_symbol`, as events of `symbol`; bad entries
    /// are refused one by one.
    fn events(self, symbol: &Symbol, alpaca_symbol: &str) -> Vec<CorporateEvent> {
        let ours = |s: &Option<String>| s.as_deref() == Some(alpaca_symbol);
        let splits = self
            .forward_splits
            .into_iter()
            .chain(self.reverse_splits)
            .filter(|a| ours(&a.symbol))
            .map(|a| {
                let rate = |n: &Option<serde_json::Number>| n.as_ref().and_then(http::decimal);
                match (a.ex_date.as_deref(), rate(&a.new_rate), rate(&a.old_rate)) {
                    (Some(day), Some(new), Some(old)) => CorporateEvent::new(
                        symbol.clone(),
                        action_day(day)?,
                        EventKind::Split {
                            ratio: SplitRatio::new(new, old)?,
                        },
                        NAME,
                    )
                    .map(Some),
                    _ => Ok(None),
                }
            });
        let dividends = self
            .cash_dividends
            .into_iter()
            .filter(|a| ours(&a.symbol))
            .map(|a| {
                match (
                    a.ex_date.as_deref(),
                    a.rate.as_ref().and_then(http::decimal),
                ) {
                    (Some(day), Some(amount)) => CorporateEvent::new(
                        symbol.clone(),
                        action_day(day)?,
                        EventKind::Dividend { amount },
                        NAME,
                    )
                    .map(Some),
                    _ => Ok(None),
                }
            });
        splits
            .chain(dividends)
            .filter_map(|built| http::accept(NAME, symbol, built).flatten())
            .collect()
    }
}

/// Alpaca's 429 says when the window resets: `X-RateLimit-Reset`, in Unix seconds.
fn reset_wait(response: &Response) -> Option<Duration> {
    let from_reset = response
        .headers()
        .get("x-ratelimit-reset")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<i64>().ok())
        .map(|reset| Duration::from_secs((reset - Utc::now().timestamp()).clamp(0, 3600) as u64));
    from_reset.or_else(|| http::retry_after_header(response))
}

async fn error_message(response: Response) -> String {
    #[derive(Deserialize)]
    struct Body {
        message: Option<String>,
    }
    match response.json::<Body>().await {
        Ok(Body { message: Some(m) }) => format!(": {m}"),
        _ => String::new(),
    }
}

/// `AAPL,MSFT`: the provider's spellings of the symbols asked for, as the `symbols` parameter.
fn comma_list(wanted: &[(String, Symbol)]) -> String {
    wanted
        .iter()
        .map(|(s, _)| s.as_str())
        .collect::<Vec<_>>()
        .join(",")
}

fn collect(
    wanted: &[(String, Symbol)],
    snapshots: &HashMap<String, Option<Snapshot>>,
    quotes: &mut Vec<Quote>,
) {
    for (alpaca_symbol, symbol) in wanted {
        if let Some(Some(snapshot)) = snapshots.get(alpaca_symbol)
            && let Some(quote) =
                http::accept(NAME, symbol, snapshot.quote(symbol.clone())).flatten()
        {
            quotes.push(quote);
        }
    }
}

#[derive(Deserialize)]
struct CryptoSnapshots {
    #[serde(default)]
    snapshots: HashMap<String, Option<Snapshot>>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Snapshot {
    latest_trade: Option<Trade>,
    daily_bar: Option<ApiBar>,
    prev_daily_bar: Option<ApiBar>,
}

#[derive(Deserialize)]
struct Trade {
    t: DateTime<Utc>,
    p: Option<serde_json::Number>,
}

#[derive(Deserialize)]
struct ApiBar {
    t: DateTime<Utc>,
    o: Option<serde_json::Number>,
    h: Option<serde_json::Number>,
    l: Option<serde_json::Number>,
    c: Option<serde_json::Number>,
    v: Option<serde_json::Number>,
}

impl ApiBar {
    /// The bar: `Ok(None)` when a price is missing (or zero), an error for bad data.
    fn bar(&self) -> Result<Option<Bar>, ValidationError> {
        let volume = self
            .v
            .as_ref()
            .and_then(|v| v.as_u64().or_else(|| v.as_f64().map(|f| f as u64)));
        let (Some(o), Some(h), Some(l), Some(c)) = (
            http::price(self.o.as_ref()),
            http::price(self.h.as_ref()),
            http::price(self.l.as_ref()),
            http::price(self.c.as_ref()),
        ) else {
            return Ok(None);
        };
        Bar::new(self.t, o, h, l, c, volume).map(Some)
    }
}

impl Snapshot {
    /// The quote: `Ok(None)` without a latest trade, an error for bad data.
    fn quote(&self, symbol: Symbol) -> Result<Option<Quote>, ValidationError> {
        let Some((trade, price)) = self
            .latest_trade
            .as_ref()
            .and_then(|t| Some((t, http::price(t.p.as_ref())?)))
        else {
            return Ok(None);
        };
        let mut quote = Quote::new(symbol, price, trade.t, NAME)?;
        if let Some(prev) = self
            .prev_daily_bar
            .as_ref()
            .and_then(|b| http::price(b.c.as_ref()))
        {
            quote = quote.with_previous_close(prev)?;
        }
        if let Some(day) = self
            .daily_bar
            .as_ref()
            .map(ApiBar::bar)
            .transpose()?
            .flatten()
        {
            quote = quote
                .with_open(day.open)?
                .with_day_range(day.low, day.high)?;
            if let Some(v) = day.volume {
                quote = quote.with_volume(v);
            }
        }
        Ok(Some(quote))
    }
}

#[derive(Deserialize)]
struct StockBars {
    #[serde(default)]
    bars: Option<Vec<ApiBar>>,
    next_page_token: Option<String>,
}

#[derive(Deserialize)]
struct CryptoBars {
    #[serde(default)]
    bars: HashMap<String, Vec<ApiBar>>,
    next_page_token: Option<String>,
}

#[async_trait]
impl MarketData for AlpacaMarket {
    fn name(&self) -> &str {
        NAME
    }

    fn max_batch(&self) -> usize {
        CHUNK
    }

    fn supports(&self, symbol: &Symbol) -> bool {
        symbols::alpaca(symbol).is_some()
    }

    async fn quotes(&self, symbols: &[Symbol]) -> Result<Vec<Quote>, MarketError> {
        let mut stocks = Vec::new();
        let mut crypto = Vec::new();
        for symbol in symbols {
            match symbols::alpaca(symbol) {
                Some(AlpacaSymbol::Stock(s)) => stocks.push((s, symbol.clone())),
                Some(AlpacaSymbol::Crypto(s)) => crypto.push((s, symbol.clone())),
                None => {}
            }
        }
        let mut quotes = Vec::with_capacity(symbols.len());
        let about = |chunk: &[(String, Symbol)]| match chunk {
            [(_, only)] => only.to_string(),
            [(_, first), ..] => format!("{first} and {} more", chunk.len() - 1),
            [] => String::new(),
        };
        for chunk in stocks.chunks(CHUNK) {
            self.stock_quotes(chunk, &mut quotes)
                .await
                .map_err(|f| f.about(&about(chunk)).into_error(NAME))?;
        }
        for chunk in crypto.chunks(CHUNK) {
            self.crypto_quotes(chunk, &mut quotes)
                .await
                .map_err(|f| f.about(&about(chunk)).into_error(NAME))?;
        }
        Ok(quotes)
    }

    fn has_events(&self) -> bool {
        true
    }

    /// Splits (forward and reverse) and cash dividends from the corporate actions endpoint,
    /// announced ones included, by their ex-dates.
    async fn corporate_events(
        &self,
        symbol: &Symbol,
        from: NaiveDate,
        to: NaiveDate,
    ) -> Result<Vec<CorporateEvent>, MarketError> {
        let Some(AlpacaSymbol::Stock(alpaca_symbol)) = symbols::alpaca(symbol) else {
            return Ok(Vec::new());
        };
        let mut events = Vec::new();
        let mut page: Option<String> = None;
        // A page token that comes back is followed at most this often (a server that
        // repeats one would otherwise be asked forever).
        for _ in 0..20 {
            let mut query = vec![
                ("symbols", alpaca_symbol.clone()),
                (
                    "types",
                    "forward_split,reverse_split,cash_dividend".to_owned(),
                ),
                ("start", from.to_string()),
                ("end", to.to_string()),
                ("limit", "1000".to_owned()),
            ];
            if let Some(token) = &page {
                query.push(("page_token", token.clone()));
            }
            let answer: CorporateActions = self
                .fetch(&["v1", "corporate-actions"], &query)
                .await
                .map_err(|f| f.about(symbol).into_error(NAME))?;
            events.extend(
                answer
                    .corporate_actions
                    .unwrap_or_default()
                    .events(symbol, &alpaca_symbol)
                    .into_iter()
                    .filter(|e| (from..=to).contains(&e.date)),
            );
            match answer.next_page_token {
                Some(token) if !token.is_empty() && page.as_ref() != Some(&token) => {
                    page = Some(token);
                }
                _ => break,
            }
        }
        Ok(events)
    }

    async fn daily_bars(
        &self,
        symbol: &Symbol,
        from: NaiveDate,
        to: NaiveDate,
    ) -> Result<Vec<Bar>, MarketError> {
        self.bars(symbol, "1Day", from.to_string(), to.to_string())
            .await
    }

    fn has_minute_bars(&self) -> bool {
        true
    }

    /// `timeframe=1Min`, stamped by Alpaca at the minute's start: each bar is moved to its
    /// end.
    async fn minute_bars(
        &self,
        symbol: &Symbol,
        from: crate::time::Timestamp,
        to: crate::time::Timestamp,
    ) -> Result<Vec<Bar>, MarketError> {
        let minute = chrono::Duration::minutes(1);
        let stamp =
            |t: crate::time::Timestamp| t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
        let bars = self
            .bars(symbol, "1Min", stamp(from - minute), stamp(to - minute))
            .await?;
        Ok(bars
            .into_iter()
            .map(|b| Bar {
                at: b.at + minute,
                ..b
            })
            .filter(|b| b.at >= from && b.at <= to)
            .collect())
    }
}

impl AlpacaMarket {
    /// Bars of `timeframe` from `start` to `end` (dates or RFC 3339 times), following pages.
    async fn bars(
        &self,
        symbol: &Symbol,
        timeframe: &str,
        start: String,
        end: String,
    ) -> Result<Vec<Bar>, MarketError> {
        let mut bars = Vec::new();
        let mut page: Option<String> = None;
        loop {
            let mut query = vec![
                ("timeframe", timeframe.to_owned()),
                ("start", start.clone()),
                ("end", end.clone()),
                ("limit", "10000".to_owned()),
            ];
            if let Some(token) = &page {
                query.push(("page_token", token.clone()));
            }
            let next = match symbols::alpaca(symbol) {
                Some(AlpacaSymbol::Stock(s)) => {
                    query.push(("feed", self.feed.clone()));
                    query.push(("adjustment", "raw".to_owned()));
                    let response: StockBars = self
                        .fetch(&["v2", "stocks", &s, "bars"], &query)
                        .await
                        .map_err(|f| f.about(symbol).into_error(NAME))?;
                    bars.extend(
                        response
                            .bars
                            .unwrap_or_default()
                            .iter()
                            .filter_map(|b| http::accept(NAME, symbol, b.bar()).flatten()),
                    );
                    response.next_page_token
                }
                Some(AlpacaSymbol::Crypto(s)) => {
                    query.push(("symbols", s.clone()));
                    let mut response: CryptoBars = self
                        .fetch(&["v1beta3", "crypto", "us", "bars"], &query)
                        .await
                        .map_err(|f| f.about(symbol).into_error(NAME))?;
                    bars.extend(
                        response
                            .bars
                            .remove(&s)
                            .unwrap_or_default()
                            .iter()
                            .filter_map(|b| http::accept(NAME, symbol, b.bar()).flatten()),
                    );
                    response.next_page_token
                }
                None => return Ok(Vec::new()),
            };
            match next {
                Some(token) if !token.is_empty() => page = Some(token),
                _ => break,
            }
        }
        Ok(bars)
    }
}

/// Fuzzing entry: snapshots and bars answers mapped to quotes and bars; must never panic.
#[cfg(feature = "fuzzing")]
pub(crate) fn fuzz_answer(bytes: &[u8]) {
    if let Ok(snapshots) = serde_json::from_slice::<HashMap<String, Option<Snapshot>>>(bytes) {
        let wanted = [(
            "AAPL".to_owned(),
            Symbol::parse("AAPL").expect("a valid symbol"),
        )];
        collect(&wanted, &snapshots, &mut Vec::new());
    }
    if let Ok(bars) = serde_json::from_slice::<StockBars>(bytes) {
        for bar in bars.bars.unwrap_or_default() {
            let _ = bar.bar();
        }
    }
    if let Ok(actions) = serde_json::from_slice::<CorporateActions>(bytes) {
        let symbol = Symbol::parse("AAPL").expect("a valid symbol");
        let _ = actions
            .corporate_actions
            .unwrap_or_default()
            .events(&symbol, "AAPL");
    }
}
