//! [`FinnhubStream`]: Finnhub's trade WebSocket (`wss://ws.finnhub.io?token=…`).
//!
//! The client sends `{"type":"subscribe","symbol":"AAPL"}` (and `unsubscribe`) per symbol; the
//! server sends `{"type":"trade","data":[{"s":"AAPL","p":231.5,"t":1765123456789,"v":100,
//! "c":["1"]}]}`, `{"type":"ping"}` and `{"type":"error","msg":"…"}`. The key travels in the
//! URL, as Finnhub requires: the URL is never logged nor put in an error.

use std::collections::{BTreeSet, HashMap};
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use serde::Deserialize;
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;

use super::stream::{MarketStream, StreamStatus, Trade, TradeBuffer};
use super::ws::{Client, Protocol, Read, Socket};
use super::{http, symbols};
use crate::Secret;
use crate::domain::{MAX_PRICE, MIN_PRICE, Symbol};

const NAME: &str = "finnhub";

/// Finnhub's trade stream, reconnecting with backoff and jitter; a connection that stays
/// silent longer than the silence limit (Finnhub pings every few seconds) is taken as down.
pub struct FinnhubStream {
    client: Client<Finnhub>,
}

/// Finnhub's side of the stream.
struct Finnhub {
    url: url::Url,
    key: Secret,
}

impl std::fmt::Debug for FinnhubStream {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FinnhubStream")
            .field("url", &self.client.protocol.url.as_str())
            .field("key", &self.client.protocol.key)
            .finish_non_exhaustive()
    }
}

impl FinnhubStream {
    /// A client of the stream at `url` (`wss://ws.finnhub.io`, or a local server) with `key`.
    /// By default: 50 symbols (the free plan's), silence after 30 s, reconnects after 1 s
    /// doubling to 60 s.
    pub fn new(url: url::Url, key: Secret) -> Self {
        Self {
            client: Client::new(Finnhub { url, key }, 50),
        }
    }

    /// Sets how many symbols one connection may subscribe to.
    #[must_use]
    pub fn with_max_symbols(mut self, max: usize) -> Self {
        self.client.max_symbols = max.max(1);
        self
    }

    /// Sets how long a silent connection is trusted.
    #[must_use]
    pub fn with_silence(mut self, silence: Duration) -> Self {
        self.client.silence = silence;
        self
    }

    /// Sets the first and the longest wait before reconnecting.
    #[must_use]
    pub fn with_backoff(mut self, first: Duration, longest: Duration) -> Self {
        self.client.backoff = (first, longest.max(first));
        self
    }
}

#[async_trait]
impl Protocol for Finnhub {
    fn name(&self) -> &'static str {
        NAME
    }

    fn url(&self) -> String {
        let mut url = self.url.clone();
        url.query_pairs_mut()
            .append_pair("token", self.key.expose());
        url.into()
    }

    async fn handshake(&self, _: &mut Socket, _: Duration) -> Result<(), String> {
        // The key is in the URL: a refused key is a refused connection.
        Ok(())
    }

    fn spell(&self, symbol: &Symbol) -> Option<String> {
        symbols::finnhub(symbol)
    }

    /// `{"type":"subscribe","symbol":…}` per symbol (and `unsubscribe`).
    fn subscriptions(&self, add: &[String], remove: &[String]) -> Vec<String> {
        let message = |kind: &str, symbol: &String| {
            serde_json::json!({"type": kind, "symbol": symbol}).to_string()
        };
        remove
            .iter()
            .map(|s| message("unsubscribe", s))
            .chain(add.iter().map(|s| message("subscribe", s)))
            .collect()
    }

    /// Trades into the buffer, an error into the status, the rest counted.
    fn read(&self, text: &str, subscribed: &HashMap<String, Symbol>, trades: &TradeBuffer) -> Read {
        let Ok(message) = serde_json::from_str::<WireMessage>(text) else {
            return Read {
                malformed: true,
                ..Read::default()
            };
        };
        let mut read = Read::default();
        match message.kind.as_str() {
            "trade" => {
                for datum in message.data.unwrap_or_default() {
                    match datum.trade(subscribed) {
                        Some(trade) => trades.push(trade),
                        None => read.bad_trades += 1,
                    }
                }
            }
            "error" => read.error = Some(message.msg.unwrap_or_else(|| "an error".into())),
            // `ping`, and whatever Finnhub adds later.
            _ => {}
        }
        read
    }
}

/// A message from the server.
#[derive(Deserialize)]
struct WireMessage {
    #[serde(rename = "type")]
    kind: String,
    data: Option<Vec<WireTrade>>,
    msg: Option<String>,
}

#[derive(Deserialize)]
struct WireTrade {
    s: Option<String>,
    p: Option<serde_json::Number>,
    t: Option<i64>,
    v: Option<serde_json::Number>,
}

impl WireTrade {
    /// The trade, when its symbol is subscribed and its price and time are ones a market has.
    fn trade(&self, subscribed: &HashMap<String, Symbol>) -> Option<Trade> {
        let symbol = subscribed.get(self.s.as_deref()?)?.clone();
        let price = http::price(self.p.as_ref()).filter(|p| (MIN_PRICE..=MAX_PRICE).contains(p))?;
        let at = chrono::DateTime::from_timestamp_millis(self.t?)?;
        let size = self.v.as_ref().and_then(http::decimal);
        Some(Trade {
            symbol,
            price,
            at,
            size,
        })
    }
}

#[async_trait]
impl MarketStream for FinnhubStream {
    fn name(&self) -> &str {
        NAME
    }

    fn supports(&self, symbol: &Symbol) -> bool {
        symbols::finnhub(symbol).is_some()
    }

    fn max_symbols(&self) -> usize {
        self.client.max_symbols
    }

    fn status(&self) -> StreamStatus {
        self.client.status()
    }

    async fn run(
        &self,
        subscriptions: watch::Receiver<BTreeSet<Symbol>>,
        trades: Arc<TradeBuffer>,
        shutdown: CancellationToken,
    ) {
        self.client.run(subscriptions, trades, shutdown).await;
    }
}
