//! [`AlpacaStream`]: Alpaca's real-time stock data stream
//! (`wss://stream.data.alpaca.markets/v2/iex`, or `/v2/sip` with a paid plan).
//!
//! Every server message is a JSON array of objects told apart by `"T"`. On connecting the
//! server sends `[{"T":"success","msg":"connected"}]`; the client sends
//! `{"action":"auth","key":…,"secret":…}` and gets `[{"T":"success","msg":"authenticated"}]`
//! or `[{"T":"error","code":402,"msg":"auth failed"}]`. Subscriptions are
//! `{"action":"subscribe","trades":["AAPL",…]}` (and `unsubscribe`), confirmed by
//! `[{"T":"subscription","trades":[…],…}]`. A trade is
//! `{"T":"t","S":"AAPL","p":231.5,"s":100,"t":"2026-12-07T15:04:05.123456789Z",…}`. Errors
//! carry a code: 406 (connection limit exceeded: one connection per account) and 401/402/404
//! close the connection; 405 (symbol limit exceeded) leaves it up with fewer symbols.
//! Crypto pairs are left to polling (they stream on another endpoint).

use std::collections::{BTreeSet, HashMap};
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use futures_util::SinkExt;
use serde::Deserialize;
use tokio::sync::watch;
use tokio_tungstenite::tungstenite::Message;
use tokio_util::sync::CancellationToken;

use super::http;
use super::stream::{MarketStream, StreamStatus, Trade, TradeBuffer};
use super::symbols::{self, AlpacaSymbol};
use super::ws::{Client, Protocol, Read, Socket, next_text};
use crate::Secret;
use crate::domain::{MAX_PRICE, MIN_PRICE, Symbol};

const NAME: &str = "alpaca";

/// Alpaca's stock stream, reconnecting with backoff and jitter.
pub struct AlpacaStream {
    client: Client<Alpaca>,
}

/// Alpaca's side of the stream.
struct Alpaca {
    url: url::Url,
    key: Secret,
    secret: Secret,
}

impl std::fmt::Debug for AlpacaStream {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AlpacaStream")
            .field("url", &self.client.protocol.url.as_str())
            .field("key", &self.client.protocol.key)
            .field("secret", &self.client.protocol.secret)
            .finish_non_exhaustive()
    }
}

impl AlpacaStream {
    /// A client of the stream at `url` with the account's key and secret. By default: 30
    /// symbols (the free plan's), silence after 30 s, reconnects after 1 s doubling to 60 s.
    pub fn new(url: url::Url, key: Secret, secret: Secret) -> Self {
        let mut client = Client::new(Alpaca { url, key, secret }, 30);
        // Alpaca sends nothing between trades; only a quiet market is that quiet.
        client.silence = Duration::from_secs(120);
        Self { client }
    }

    /// Sets how many symbols the connection may subscribe to (the plan's limit).
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

/// One object of a server message.
#[derive(Deserialize)]
struct WireMessage {
    #[serde(rename = "T")]
    kind: String,
    msg: Option<String>,
    code: Option<i64>,
    #[serde(rename = "S")]
    symbol: Option<String>,
    p: Option<serde_json::Number>,
    s: Option<serde_json::Number>,
    t: Option<String>,
}

impl WireMessage {
    /// The trade, when its symbol is subscribed and its price and time are ones a market has.
    fn trade(&self, subscribed: &HashMap<String, Symbol>) -> Option<Trade> {
        let symbol = subscribed.get(self.symbol.as_deref()?)?.clone();
        let price = http::price(self.p.as_ref()).filter(|p| (MIN_PRICE..=MAX_PRICE).contains(p))?;
        let at = chrono::DateTime::parse_from_rfc3339(self.t.as_deref()?)
            .ok()?
            .to_utc();
        let size = self.s.as_ref().and_then(http::decimal);
        Some(Trade {
            symbol,
            price,
            at,
            size,
        })
    }

    /// The error in words: `406 connection limit exceeded`.
    fn error(&self) -> String {
        let msg = self.msg.as_deref().unwrap_or("an error");
        match self.code {
            Some(code) => format!("{code} {msg}"),
            None => msg.to_owned(),
        }
    }
}

/// A server message: an array of objects.
fn parse(text: &str) -> Option<Vec<WireMessage>> {
    serde_json::from_str(text).ok()
}

#[async_trait]
impl Protocol for Alpaca {
    fn name(&self) -> &'static str {
        NAME
    }

    fn url(&self) -> String {
        self.url.as_str().to_owned()
    }

    /// Waits for `connected`, authenticates, waits for `authenticated`.
    async fn handshake(&self, socket: &mut Socket, wait: Duration) -> Result<(), String> {
        let mut authenticating = false;
        loop {
            let text = next_text(socket, wait).await?;
            let messages = parse(&text).ok_or("the server's greeting is not Alpaca's")?;
            for message in messages {
                match (message.kind.as_str(), message.msg.as_deref()) {
                    ("success", Some("connected")) if !authenticating => {
                        let auth = serde_json::json!({
                            "action": "auth",
                            "key": self.key.expose(),
                            "secret": self.secret.expose(),
                        });
                        socket
                            .send(Message::text(auth.to_string()))
                            .await
                            .map_err(|e| format!("cannot authenticate: {e}"))?;
                        authenticating = true;
                    }
                    ("success", Some("authenticated")) => return Ok(()),
                    ("error", _) => return Err(format!("refused: {}", message.error())),
                    _ => {}
                }
            }
        }
    }

    fn spell(&self, symbol: &Symbol) -> Option<String> {
        match symbols::alpaca(symbol)? {
            AlpacaSymbol::Stock(theirs) => Some(theirs),
            AlpacaSymbol::Crypto(_) => None,
        }
    }

    /// One `unsubscribe` and one `subscribe` message, each with every symbol.
    fn subscriptions(&self, add: &[String], remove: &[String]) -> Vec<String> {
        let mut messages = Vec::new();
        if !remove.is_empty() {
            messages
                .push(serde_json::json!({"action": "unsubscribe", "trades": remove}).to_string());
        }
        if !add.is_empty() {
            messages.push(serde_json::json!({"action": "subscribe", "trades": add}).to_string());
        }
        messages
    }

    fn read(&self, text: &str, subscribed: &HashMap<String, Symbol>, trades: &TradeBuffer) -> Read {
        let Some(messages) = parse(text) else {
            return Read {
                malformed: true,
                ..Read::default()
            };
        };
        let mut read = Read::default();
        for message in messages {
            match message.kind.as_str() {
                "t" => match message.trade(subscribed) {
                    Some(trade) => trades.push(trade),
                    None => read.bad_trades += 1,
                },
                "error" => {
                    let error = message.error();
                    // Past the symbol limit the connection stays, with the symbols it took;
                    // the others fail or are refused: the server closes.
                    if message.code != Some(405) {
                        read.fatal = Some(format!("the server refused: {error}"));
                    }
                    read.error = Some(error);
                }
                // `success`, `subscription`, quotes and bars if ever subscribed.
                _ => {}
            }
        }
        read
    }
}

#[async_trait]
impl MarketStream for AlpacaStream {
    fn name(&self) -> &str {
        NAME
    }

    fn supports(&self, symbol: &Symbol) -> bool {
        self.client.protocol.spell(symbol).is_some()
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
