//! [`FinnhubStream`]: Finnhub's trade WebSocket (`wss://ws.finnhub.io?token=…`).
//!
//! The client sends `{"type":"subscribe","symbol":"AAPL"}` (and `unsubscribe`) per symbol; the
//! server sends `{"type":"trade","data":[{"s":"AAPL","p":231.5,"t":1765123456789,"v":100,
//! "c":["1"]}]}`, `{"type":"ping"}` and `{"type":"error","msg":"…"}`. The key travels in the
//! URL, as Finnhub requires: the URL is never logged nor put in an error.

use std::collections::{BTreeSet, HashMap};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use futures_util::{SinkExt, StreamExt};
use serde::Deserialize;
use tokio::sync::watch;
use tokio_tungstenite::tungstenite::Message;
use tokio_util::sync::CancellationToken;

use super::stream::{MarketStream, StreamStatus, Trade, TradeBuffer};
use super::{http, symbols};
use crate::Secret;
use crate::domain::{MAX_PRICE, MIN_PRICE, Symbol};

const NAME: &str = "finnhub";

/// Finnhub's trade stream, reconnecting with backoff and jitter; a connection that stays
/// silent longer than the silence limit (Finnhub pings every few seconds) is taken as down.
pub struct FinnhubStream {
    url: url::Url,
    key: Secret,
    max_symbols: usize,
    silence: Duration,
    backoff: (Duration, Duration),
    status: Mutex<StreamStatus>,
}

impl std::fmt::Debug for FinnhubStream {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FinnhubStream")
            .field("url", &self.url.as_str())
            .field("key", &self.key)
            .finish_non_exhaustive()
    }
}

impl FinnhubStream {
    /// A client of the stream at `url` (`wss://ws.finnhub.io`, or a local server) with `key`.
    /// By default: 50 symbols (the free plan's), silence after 30 s, reconnects after 1 s
    /// doubling to 60 s.
    pub fn new(url: url::Url, key: Secret) -> Self {
        Self {
            url,
            key,
            max_symbols: 50,
            silence: Duration::from_secs(30),
            backoff: (Duration::from_secs(1), Duration::from_secs(60)),
            status: Mutex::new(StreamStatus {
                provider: NAME.to_owned(),
                ..StreamStatus::default()
            }),
        }
    }

    /// Sets how many symbols one connection may subscribe to.
    #[must_use]
    pub fn with_max_symbols(mut self, max: usize) -> Self {
        self.max_symbols = max.max(1);
        self
    }

    /// Sets how long a silent connection is trusted.
    #[must_use]
    pub fn with_silence(mut self, silence: Duration) -> Self {
        self.silence = silence;
        self
    }

    /// Sets the first and the longest wait before reconnecting.
    #[must_use]
    pub fn with_backoff(mut self, first: Duration, longest: Duration) -> Self {
        self.backoff = (first, longest.max(first));
        self
    }

    fn update(&self, f: impl FnOnce(&mut StreamStatus)) {
        f(&mut self
            .status
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner));
    }

    /// One connection: subscribe, read until it fails, closes, goes silent or `shutdown`.
    /// `Ok` on shutdown; the error says why the connection ended otherwise.
    async fn session(
        &self,
        subscriptions: &mut watch::Receiver<BTreeSet<Symbol>>,
        trades: &TradeBuffer,
        shutdown: &CancellationToken,
    ) -> Result<(), String> {
        let mut url = self.url.clone();
        url.query_pairs_mut()
            .append_pair("token", self.key.expose());
        let (mut socket, _) = tokio::select! {
            () = shutdown.cancelled() => return Ok(()),
            connected = tokio_tungstenite::connect_async(url.as_str()) => {
                connected.map_err(|e| describe(&e))?
            }
        };
        // Finnhub symbol → ours, for the symbols subscribed on this connection.
        let mut subscribed: HashMap<String, Symbol> = HashMap::new();
        let wanted = self.wanted(&subscriptions.borrow_and_update());
        self.resubscribe(&mut socket, &mut subscribed, &wanted)
            .await?;
        self.update(|s| {
            s.connected = true;
            s.subscribed = subscribed.len();
        });
        loop {
            tokio::select! {
                () = shutdown.cancelled() => {
                    let _ = socket.close(None).await;
                    return Ok(());
                }
                changed = subscriptions.changed() => {
                    if changed.is_err() {
                        // Nobody decides the subscriptions any more: stop.
                        let _ = socket.close(None).await;
                        return Ok(());
                    }
                    let wanted = self.wanted(&subscriptions.borrow_and_update());
                    self.resubscribe(&mut socket, &mut subscribed, &wanted).await?;
                    self.update(|s| s.subscribed = subscribed.len());
                }
                message = tokio::time::timeout(self.silence, socket.next()) => {
                    let message = match message {
                        Err(_) => return Err(format!("no message for {:?}", self.silence)),
                        Ok(None) => return Err("the server closed the connection".into()),
                        Ok(Some(Err(e))) => return Err(describe(&e)),
                        Ok(Some(Ok(message))) => message,
                    };
                    self.update(|s| s.last_message_at = Some(crate::time::now()));
                    match message {
                        Message::Text(text) => self.read(text.as_str(), &subscribed, trades),
                        Message::Close(frame) => {
                            return Err(match frame {
                                Some(f) => format!("closed by the server ({}: {})", u16::from(f.code), f.reason),
                                None => "closed by the server".into(),
                            });
                        }
                        // Pings are answered by the library; nothing else is expected.
                        _ => {}
                    }
                }
            }
        }
    }

    /// The Finnhub spellings of the symbols to subscribe, within the connection's limit.
    fn wanted(&self, symbols: &BTreeSet<Symbol>) -> HashMap<String, Symbol> {
        let mut wanted = HashMap::new();
        for symbol in symbols {
            if wanted.len() >= self.max_symbols {
                self.update(|s| {
                    s.last_error = Some(format!(
                        "more than {} symbols: the rest are polled",
                        self.max_symbols
                    ));
                });
                break;
            }
            if let Some(theirs) = symbols::finnhub(symbol) {
                wanted.insert(theirs, symbol.clone());
            }
        }
        wanted
    }

    /// Sends the unsubscribes and subscribes that turn `subscribed` into `wanted`.
    async fn resubscribe<S>(
        &self,
        socket: &mut S,
        subscribed: &mut HashMap<String, Symbol>,
        wanted: &HashMap<String, Symbol>,
    ) -> Result<(), String>
    where
        S: SinkExt<Message> + Unpin,
        S::Error: std::fmt::Display,
    {
        // In symbol order, so what a server sees is reproducible.
        let mut gone: Vec<String> = subscribed
            .keys()
            .filter(|k| !wanted.contains_key(*k))
            .cloned()
            .collect();
        gone.sort();
        let mut new: Vec<(&String, &Symbol)> = wanted
            .iter()
            .filter(|(k, _)| !subscribed.contains_key(*k))
            .collect();
        new.sort();
        for theirs in gone {
            send(socket, "unsubscribe", &theirs).await?;
            subscribed.remove(&theirs);
        }
        for (theirs, ours) in new {
            send(socket, "subscribe", theirs).await?;
            subscribed.insert(theirs.clone(), ours.clone());
        }
        Ok(())
    }

    /// One text message: trades into the buffer, an error into the status, the rest counted.
    fn read(&self, text: &str, subscribed: &HashMap<String, Symbol>, trades: &TradeBuffer) {
        let Ok(message) = serde_json::from_str::<WireMessage>(text) else {
            self.update(|s| s.malformed += 1);
            return;
        };
        match message.kind.as_str() {
            "trade" => {
                let mut bad = 0;
                for datum in message.data.unwrap_or_default() {
                    match datum.trade(subscribed) {
                        Some(trade) => trades.push(trade),
                        None => bad += 1,
                    }
                }
                if bad > 0 {
                    self.update(|s| s.bad_trades += bad);
                }
            }
            "error" => {
                let msg = message.msg.unwrap_or_else(|| "an error".into());
                tracing::warn!(provider = NAME, "stream error: {msg}");
                self.update(|s| s.last_error = Some(msg));
            }
            // `ping`, and whatever Finnhub adds later.
            _ => {}
        }
    }
}

/// Sends `{"type": kind, "symbol": symbol}`.
async fn send<S>(socket: &mut S, kind: &str, symbol: &str) -> Result<(), String>
where
    S: SinkExt<Message> + Unpin,
    S::Error: std::fmt::Display,
{
    let text = serde_json::json!({"type": kind, "symbol": symbol}).to_string();
    socket
        .send(Message::text(text))
        .await
        .map_err(|e| format!("cannot {kind}: {e}"))
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

/// A connection error in words, without the URL (which holds the key).
fn describe(e: &tokio_tungstenite::tungstenite::Error) -> String {
    use tokio_tungstenite::tungstenite::Error;
    match e {
        Error::Http(response) => format!(
            "the server refused the connection (HTTP {})",
            response.status().as_u16()
        ),
        Error::Io(io) => format!("connection failed: {}", io.kind()),
        Error::ConnectionClosed | Error::AlreadyClosed => "the connection closed".into(),
        Error::Tls(_) => "TLS handshake failed".into(),
        Error::Url(_) => "the stream URL is not a WebSocket URL".into(),
        Error::Protocol(p) => format!("protocol error: {p}"),
        Error::Capacity(c) => format!("message too large: {c}"),
        _ => "the connection failed".into(),
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
        self.max_symbols
    }

    fn status(&self) -> StreamStatus {
        self.status
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone()
    }

    async fn run(
        &self,
        mut subscriptions: watch::Receiver<BTreeSet<Symbol>>,
        trades: Arc<TradeBuffer>,
        shutdown: CancellationToken,
    ) {
        let (first, longest) = self.backoff;
        let mut wait = first;
        let mut connections: u64 = 0;
        loop {
            if connections > 0 {
                self.update(|s| s.reconnects += 1);
            }
            connections += 1;
            let started = std::time::Instant::now();
            let ended = self.session(&mut subscriptions, &trades, &shutdown).await;
            self.update(|s| {
                s.connected = false;
                s.subscribed = 0;
            });
            match ended {
                Ok(()) => return,
                Err(reason) => {
                    tracing::warn!(provider = NAME, "stream down: {reason}");
                    self.update(|s| s.last_error = Some(reason));
                }
            }
            // A connection that lasted starts the backoff afresh.
            if started.elapsed() > longest {
                wait = first;
            }
            let jitter = 0.8 + 0.4 * rand::random::<f64>();
            let pause = wait.mul_f64(jitter);
            wait = (wait * 2).min(longest);
            tokio::select! {
                () = shutdown.cancelled() => return,
                () = tokio::time::sleep(pause) => {}
            }
        }
    }
}
