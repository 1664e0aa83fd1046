//! What the providers' trade streams share: one WebSocket connection at a time, subscriptions
//! that follow a changing set within the connection's limit, a connection silent for too long
//! taken as down, reconnects with backoff and jitter, and the stream's health in a
//! [`StreamStatus`]. What differs (the URL, authentication, the subscription messages, the
//! messages read) is a [`Protocol`].

use std::collections::{BTreeSet, HashMap};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use futures_util::{SinkExt, StreamExt};
use tokio::sync::watch;
use tokio_tungstenite::tungstenite::Message;
use tokio_util::sync::CancellationToken;

use super::stream::{StreamStatus, TradeBuffer};
use crate::domain::Symbol;

/// A connection to a stream.
pub(super) type Socket =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

/// What one text message held.
#[derive(Debug, Default)]
pub(super) struct Read {
    /// It could not be read at all.
    pub(super) malformed: bool,
    /// Trades refused as bad data.
    pub(super) bad_trades: u64,
    /// An error the server reported, the connection staying up.
    pub(super) error: Option<String>,
    /// An error after which the server closes the connection.
    pub(super) fatal: Option<String>,
}

/// A provider's side of the stream.
#[async_trait]
pub(super) trait Protocol: Send + Sync + 'static {
    /// Short name (`finnhub`, `alpaca`).
    fn name(&self) -> &'static str;
    /// The URL to connect to. It may hold a key: it is never logged nor put in an error.
    fn url(&self) -> String;
    /// What follows the connection before subscribing (authentication); the error says why
    /// the server refused.
    async fn handshake(&self, socket: &mut Socket, wait: Duration) -> Result<(), String>;
    /// The provider's spelling of `symbol`, when the stream carries it.
    fn spell(&self, symbol: &Symbol) -> Option<String>;
    /// The messages that subscribe `add` and unsubscribe `remove` (both sorted).
    fn subscriptions(&self, add: &[String], remove: &[String]) -> Vec<String>;
    /// Reads one text message: trades into `trades`.
    fn read(&self, text: &str, subscribed: &HashMap<String, Symbol>, trades: &TradeBuffer) -> Read;
}

/// A stream client for one protocol.
pub(super) struct Client<P> {
    pub(super) protocol: P,
    pub(super) max_symbols: usize,
    pub(super) silence: Duration,
    pub(super) backoff: (Duration, Duration),
    status: Mutex<StreamStatus>,
}

impl<P: Protocol> Client<P> {
    /// By default: `max_symbols`, silence after 30 s, reconnects after 1 s doubling to 60 s.
    pub(super) fn new(protocol: P, max_symbols: usize) -> Self {
        let name = protocol.name().to_owned();
        Self {
            protocol,
            max_symbols,
            silence: Duration::from_secs(30),
            backoff: (Duration::from_secs(1), Duration::from_secs(60)),
            status: Mutex::new(StreamStatus {
                provider: name,
                ..StreamStatus::default()
            }),
        }
    }

    pub(super) fn status(&self) -> StreamStatus {
        self.status
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone()
    }

    fn update(&self, f: impl FnOnce(&mut StreamStatus)) {
        f(&mut self
            .status
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner));
    }

    /// Streams until `shutdown`, reconnecting with backoff and jitter.
    pub(super) async fn run(
        &self,
        mut subscriptions: watch::Receiver<BTreeSet<Symbol>>,
        trades: Arc<TradeBuffer>,
        shutdown: CancellationToken,
    ) {
        let name = self.protocol.name();
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
                    tracing::warn!(provider = name, "stream down: {reason}");
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

    /// One connection: handshake, subscribe, read until it fails, closes, goes silent or
    /// `shutdown`. `Ok` on shutdown; the error says why the connection ended otherwise.
    async fn session(
        &self,
        subscriptions: &mut watch::Receiver<BTreeSet<Symbol>>,
        trades: &TradeBuffer,
        shutdown: &CancellationToken,
    ) -> Result<(), String> {
        let (mut socket, _) = tokio::select! {
            () = shutdown.cancelled() => return Ok(()),
            connected = tokio_tungstenite::connect_async(self.protocol.url()) => {
                connected.map_err(|e| describe(&e))?
            }
        };
        tokio::select! {
            () = shutdown.cancelled() => return Ok(()),
            done = self.protocol.handshake(&mut socket, self.silence) => done?,
        }
        // The provider's spelling → ours, for the symbols subscribed on this connection.
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
                        Message::Text(text) => {
                            let read = self.protocol.read(text.as_str(), &subscribed, trades);
                            self.note(read)?;
                        }
                        Message::Close(frame) => return Err(closed(frame.as_ref())),
                        // Pings are answered by the library; nothing else is expected.
                        _ => {}
                    }
                }
            }
        }
    }

    /// Counts what a message held; an error after which the server closes ends the session.
    fn note(&self, read: Read) -> Result<(), String> {
        let name = self.protocol.name();
        if let Some(error) = &read.error {
            tracing::warn!(provider = name, "stream error: {error}");
        }
        self.update(|s| {
            s.malformed += u64::from(read.malformed);
            s.bad_trades += read.bad_trades;
            if read.error.is_some() {
                s.last_error.clone_from(&read.error);
            }
        });
        match read.fatal {
            Some(fatal) => Err(fatal),
            None => Ok(()),
        }
    }

    /// The provider's spellings of the symbols to subscribe, within the connection's limit.
    fn wanted(&self, symbols: &BTreeSet<Symbol>) -> HashMap<String, Symbol> {
        let mut wanted = HashMap::new();
        for symbol in symbols {
            let Some(theirs) = self.protocol.spell(symbol) else {
                continue;
            };
            if wanted.len() >= self.max_symbols {
                self.update(|s| {
                    s.last_error = Some(format!(
                        "more than {} symbols: the rest are polled",
                        self.max_symbols
                    ));
                });
                break;
            }
            wanted.insert(theirs, symbol.clone());
        }
        wanted
    }

    /// Sends what turns `subscribed` into `wanted`.
    async fn resubscribe(
        &self,
        socket: &mut Socket,
        subscribed: &mut HashMap<String, Symbol>,
        wanted: &HashMap<String, Symbol>,
    ) -> Result<(), String> {
        // In symbol order, so what a server sees is reproducible.
        let mut remove: Vec<String> = subscribed
            .keys()
            .filter(|k| !wanted.contains_key(*k))
            .cloned()
            .collect();
        remove.sort();
        let mut add: Vec<String> = wanted
            .keys()
            .filter(|k| !subscribed.contains_key(*k))
            .cloned()
            .collect();
        add.sort();
        for text in self.protocol.subscriptions(&add, &remove) {
            socket
                .send(Message::text(text))
                .await
                .map_err(|e| format!("cannot change the subscriptions: {e}"))?;
        }
        for theirs in remove {
            subscribed.remove(&theirs);
        }
        for theirs in add {
            if let Some(ours) = wanted.get(&theirs) {
                subscribed.insert(theirs, ours.clone());
            }
        }
        Ok(())
    }
}

/// The next text message, within `wait` (for handshakes).
pub(super) async fn next_text(socket: &mut Socket, wait: Duration) -> Result<String, String> {
    loop {
        let message = match tokio::time::timeout(wait, socket.next()).await {
            Err(_) => return Err(format!("no answer for {wait:?}")),
            Ok(None) => return Err("the server closed the connection".into()),
            Ok(Some(Err(e))) => return Err(describe(&e)),
            Ok(Some(Ok(message))) => message,
        };
        match message {
            Message::Text(text) => return Ok(text.as_str().to_owned()),
            Message::Close(frame) => return Err(closed(frame.as_ref())),
            _ => {}
        }
    }
}

/// Why the server closed, in words.
fn closed(frame: Option<&tokio_tungstenite::tungstenite::protocol::CloseFrame>) -> String {
    match frame {
        Some(f) => format!("closed by the server ({}: {})", u16::from(f.code), f.reason),
        None => "closed by the server".into(),
    }
}

/// A connection error in words, without the URL (which may hold a key).
pub(super) fn describe(e: &tokio_tungstenite::tungstenite::Error) -> String {
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
