//! Alpaca's stock stream against a local server speaking its protocol: the greeting, the auth
//! message, subscriptions as lists, trades in arrays, malformed messages, the documented
//! errors (402 auth failed, 405 symbol limit exceeded, 406 connection limit exceeded) and a
//! server that closes mid-stream.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use serde_json::json;
use signal_sentinel::Secret;
use signal_sentinel::market::{AlpacaStream, MarketStream};
use tokio_tungstenite::tungstenite::Message;

use super::dec;
use super::ws_server::{Socket, next_json, send, server, start, symbols, until};

const KEY: &str = "alpaca-stream-key-do-not-leak";
const SECRET: &str = "alpaca-stream-secret-do-not-leak";

fn stream(url: url::Url) -> AlpacaStream {
    AlpacaStream::new(url, Secret::new(KEY), Secret::new(SECRET))
        .with_backoff(Duration::from_millis(10), Duration::from_millis(40))
}

/// Greets, checks the auth message and answers `answer` to it; returns the auth message.
async fn greet(socket: &mut Socket, answer: serde_json::Value) -> serde_json::Value {
    send(socket, json!([{"T": "success", "msg": "connected"}])).await;
    let auth = next_json(socket).await;
    send(socket, answer).await;
    auth
}

fn authenticated() -> serde_json::Value {
    json!([{"T": "success", "msg": "authenticated"}])
}

#[tokio::test]
async fn authenticates_subscribes_and_reads_trades() {
    let seen = Arc::new(Mutex::new(Vec::new()));
    let (url, _) = server(false, {
        let seen = seen.clone();
        move |_, mut socket| {
            let seen = seen.clone();
            async move {
                let auth = greet(&mut socket, authenticated()).await;
                seen.lock().unwrap().push(auth);
                let subscribe = next_json(&mut socket).await;
                seen.lock().unwrap().push(subscribe.clone());
                send(
                    &mut socket,
                    json!([{"T": "subscription", "trades": subscribe["trades"], "quotes": [], "bars": []}]),
                )
                .await;
                socket.send(Message::text("{not json")).await.unwrap();
                send(&mut socket, json!([
                    {"T": "t", "S": "AAPL", "i": 52983525029461_i64, "x": "V", "p": 231.52, "s": 100,
                     "c": ["@"], "t": "2026-12-07T15:04:05.123456789Z", "z": "C"},
                    {"T": "t", "S": "BRK.B", "p": 480.25, "s": 3, "t": "2026-12-07T15:04:06Z"},
                    {"T": "t", "S": "AAPL", "p": -1, "s": 1, "t": "2026-12-07T15:04:07Z"},
                    {"T": "t", "S": "AAPL", "p": 232, "s": 1, "t": "yesterday"},
                    {"T": "t", "S": "NVDA", "p": 140, "s": 1, "t": "2026-12-07T15:04:07Z"},
                    {"T": "q", "S": "AAPL", "bp": 231.5, "ap": 231.6}
                ]))
                .await;
                // One more symbol than the plan allows: the connection stays up.
                send(&mut socket, json!([{"T": "error", "code": 405, "msg": "symbol limit exceeded"}])).await;
                while socket.next().await.is_some() {}
            }
        }
    })
    .await;
    let stream = Arc::new(stream(url));
    let (_tx, buffer, stop, task) = start(stream.clone(), &["AAPL", "BRK.B", "BTC/USD"]);
    assert!(until(|| buffer.received() == 2 && stream.status().last_error.is_some()).await);
    let trades = buffer.take().concat();
    let got: Vec<_> = trades
        .iter()
        .map(|t| {
            (
                t.symbol.as_str().to_owned(),
                t.price,
                t.at.timestamp_micros(),
                t.size,
            )
        })
        .collect();
    assert_eq!(
        got,
        [
            (
                "AAPL".to_owned(),
                dec("231.52"),
                1_796_655_845_123_456,
                Some(dec("100"))
            ),
            (
                "BRK.B".to_owned(),
                dec("480.25"),
                1_796_655_846_000_000,
                Some(dec("3"))
            ),
        ]
    );
    let seen = seen.lock().unwrap().clone();
    assert_eq!(
        seen[0],
        json!({"action": "auth", "key": KEY, "secret": SECRET})
    );
    assert_eq!(
        seen[1],
        json!({"action": "subscribe", "trades": ["AAPL", "BRK.B"]}),
        "one message, Alpaca's spellings; crypto streams elsewhere"
    );
    let status = stream.status();
    assert!(status.connected && status.subscribed == 2, "{status:?}");
    assert_eq!((status.malformed, status.bad_trades), (1, 3));
    assert_eq!(
        status.last_error.as_deref(),
        Some("405 symbol limit exceeded")
    );
    let shown = format!("{stream:?} {status:?}");
    assert!(!shown.contains(KEY) && !shown.contains(SECRET), "{shown}");
    stop.cancel();
    task.await.unwrap();
}

#[tokio::test]
async fn refused_credentials_and_a_second_connection_are_reported() {
    for (answer, expected) in [
        (
            json!([{"T": "error", "code": 402, "msg": "auth failed"}]),
            "refused: 402 auth failed",
        ),
        (
            json!([{"T": "error", "code": 406, "msg": "connection limit exceeded"}]),
            "refused: 406 connection limit exceeded",
        ),
    ] {
        let (url, _) = server(false, move |_, mut socket| {
            let answer = answer.clone();
            async move {
                greet(&mut socket, answer).await;
                let _ = socket.close(None).await;
            }
        })
        .await;
        let stream = Arc::new(stream(url));
        let (_tx, _buffer, stop, task) = start(stream.clone(), &["AAPL"]);
        assert!(until(|| stream.status().reconnects >= 2).await);
        let status = stream.status();
        assert!(!status.connected);
        let error = status.last_error.unwrap();
        assert_eq!(error, expected);
        assert!(!error.contains(KEY) && !error.contains(SECRET));
        stop.cancel();
        task.await.unwrap();
    }
}

#[tokio::test]
async fn a_closed_connection_authenticates_again_and_follows_the_subscriptions() {
    let seen = Arc::new(Mutex::new(Vec::new()));
    let (url, _) = server(false, {
        let seen = seen.clone();
        move |n, mut socket| {
            let seen = seen.clone();
            async move {
                greet(&mut socket, authenticated()).await;
                let first = next_json(&mut socket).await;
                seen.lock().unwrap().push((n, first));
                if n == 0 {
                    send(&mut socket, json!([{"T": "t", "S": "AAPL", "p": 230, "s": 1, "t": "2026-12-07T15:00:00Z"}])).await;
                    let _ = socket.close(None).await;
                    return;
                }
                for _ in 0..2 {
                    let message = next_json(&mut socket).await;
                    seen.lock().unwrap().push((n, message));
                }
                send(&mut socket, json!([{"T": "t", "S": "MSFT", "p": 402, "s": 1, "t": "2026-12-07T15:00:01Z"}])).await;
                while socket.next().await.is_some() {}
            }
        }
    })
    .await;
    let stream = Arc::new(stream(url));
    let (tx, buffer, stop, task) = start(stream.clone(), &["AAPL"]);
    assert!(until(|| stream.status().reconnects >= 1 && stream.status().connected).await);
    tx.send(symbols(&["MSFT", "NVDA"])).unwrap();
    assert!(until(|| buffer.received() == 2).await);
    let prices: Vec<_> = buffer.take().concat().iter().map(|t| t.price).collect();
    assert_eq!(prices, [dec("230"), dec("402")]);
    assert_eq!(
        seen.lock().unwrap().clone(),
        [
            (0, json!({"action": "subscribe", "trades": ["AAPL"]})),
            (1, json!({"action": "subscribe", "trades": ["AAPL"]})),
            (1, json!({"action": "unsubscribe", "trades": ["AAPL"]})),
            (
                1,
                json!({"action": "subscribe", "trades": ["MSFT", "NVDA"]})
            ),
        ]
    );
    stop.cancel();
    task.await.unwrap();
}
