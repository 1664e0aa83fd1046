//! A local WebSocket server for the stream clients' tests, and helpers to drive a stream.

use std::collections::BTreeSet;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use signal_sentinel::domain::Symbol;
use signal_sentinel::market::{MarketStream, TradeBuffer};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;
use tokio_tungstenite::WebSocketStream;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::handshake::server::{ErrorResponse, Request, Response};
use tokio_util::sync::CancellationToken;

use super::sym;

pub(crate) type Socket = WebSocketStream<TcpStream>;

/// A local stream server: connection `n` runs `script(n, socket)`; the query strings the
/// clients connected with are kept. `refuse` answers the handshake with HTTP 401.
pub(crate) async fn server<F, Fut>(refuse: bool, script: F) -> (url::Url, Arc<Mutex<Vec<String>>>)
where
    F: Fn(usize, Socket) -> Fut + Send + Sync + 'static,
    Fut: std::future::Future<Output = ()> + Send + 'static,
{
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = url::Url::parse(&format!("ws://{}/", listener.local_addr().unwrap())).unwrap();
    let queries = Arc::new(Mutex::new(Vec::new()));
    let seen = queries.clone();
    let script = Arc::new(script);
    tokio::spawn(async move {
        let mut n = 0;
        while let Ok((tcp, _)) = listener.accept().await {
            let seen = seen.clone();
            let script = script.clone();
            let this = n;
            n += 1;
            tokio::spawn(async move {
                // The handshake callback's error type is the library's, large as it is.
                #[allow(clippy::result_large_err)]
                let check = |req: &Request, resp: Response| -> Result<Response, ErrorResponse> {
                    seen.lock()
                        .unwrap()
                        .push(req.uri().query().unwrap_or_default().to_owned());
                    if refuse {
                        let mut refused = ErrorResponse::new(Some("Invalid API key".into()));
                        *refused.status_mut() =
                            tokio_tungstenite::tungstenite::http::StatusCode::UNAUTHORIZED;
                        return Err(refused);
                    }
                    Ok(resp)
                };
                if let Ok(socket) = tokio_tungstenite::accept_hdr_async(tcp, check).await {
                    script(this, socket).await;
                }
            });
        }
    });
    (url, queries)
}

/// The next text message the client sent, as JSON.
pub(crate) async fn next_json(socket: &mut Socket) -> serde_json::Value {
    loop {
        match socket.next().await {
            Some(Ok(Message::Text(text))) => return serde_json::from_str(text.as_str()).unwrap(),
            Some(Ok(_)) => {}
            other => panic!("the client went away: {other:?}"),
        }
    }
}

pub(crate) async fn send(socket: &mut Socket, value: serde_json::Value) {
    socket.send(Message::text(value.to_string())).await.unwrap();
}

/// Waits (up to a safety limit, not a timing) until `done` holds.
pub(crate) async fn until(mut done: impl FnMut() -> bool) -> bool {
    for _ in 0..500 {
        if done() {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    false
}

pub(crate) fn symbols(list: &[&str]) -> BTreeSet<Symbol> {
    list.iter().map(|s| sym(s)).collect()
}

pub(crate) fn start(
    stream: Arc<dyn MarketStream>,
    wanted: &[&str],
) -> (
    watch::Sender<BTreeSet<Symbol>>,
    Arc<TradeBuffer>,
    CancellationToken,
    tokio::task::JoinHandle<()>,
) {
    let (tx, rx) = watch::channel(symbols(wanted));
    let buffer = Arc::new(TradeBuffer::default());
    let stop = CancellationToken::new();
    let task = tokio::spawn({
        let (buffer, stop) = (buffer.clone(), stop.clone());
        async move { stream.run(rx, buffer, stop).await }
    });
    (tx, buffer, stop, task)
}
