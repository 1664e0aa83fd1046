//! Finnhub's trade WebSocket against a local server speaking its protocol: subscriptions,
//! trades, pings, malformed messages, errors, a server that closes mid-stream, one that goes
//! silent, a refused handshake and a flood of trades.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use serde_json::json;
use signal_sentinel::Secret;
use signal_sentinel::market::{FinnhubStream, MarketStream, TRADES_PER_SYMBOL};
use tokio_tungstenite::tungstenite::Message;

use super::dec;
use super::ws_server::{next_json, send, server, start, symbols, until};

const KEY: &str = "finnhub-stream-key-do-not-leak";

#[tokio::test]
async fn trades_pings_malformed_messages_and_errors() {
    let subscribed = Arc::new(Mutex::new(Vec::new()));
    let (url, queries) = server(false, {
        let subscribed = subscribed.clone();
        move |_, mut socket| {
            let subscribed = subscribed.clone();
            async move {
                for _ in 0..2 {
                    let message = next_json(&mut socket).await;
                    subscribed.lock().unwrap().push(message);
                }
                send(&mut socket, json!({"type": "ping"})).await;
                socket.send(Message::text("not json")).await.unwrap();
                send(&mut socket, json!({"type": "trade", "data": [
                    {"s": "AAPL", "p": 231.52, "t": 1_796_000_000_123_i64, "v": 100, "c": ["1"]},
                    {"s": "MSFT", "p": 401.1, "t": 1_796_000_000_456_i64, "v": 5},
                    {"s": "TSLA", "p": 300, "t": 1_796_000_000_456_i64},
                    {"s": "AAPL", "p": 0, "t": 1_796_000_000_999_i64}
                ]}))
                .await;
                send(
                    &mut socket,
                    json!({"type": "error", "msg": "Subscribing to too many symbols"}),
                )
                .await;
                while socket.next().await.is_some() {}
            }
        }
    })
    .await;
    let stream = Arc::new(FinnhubStream::new(url, Secret::new(KEY)));
    let (_tx, buffer, stop, task) = start(stream.clone(), &["AAPL", "MSFT", "BTC-USD"]);
    assert!(until(|| buffer.received() == 2 && stream.status().last_error.is_some()).await);
    let trades = buffer.take().concat();
    let got: Vec<_> = trades
        .iter()
        .map(|t| {
            (
                t.symbol.as_str().to_owned(),
                t.price,
                t.at.timestamp_millis(),
            )
        })
        .collect();
    assert_eq!(
        got,
        [
            ("AAPL".to_owned(), dec("231.52"), 1_796_000_000_123),
            ("MSFT".to_owned(), dec("401.1"), 1_796_000_000_456)
        ]
    );
    let mut asked: Vec<_> = subscribed.lock().unwrap().clone();
    asked.sort_by_key(|m| m["symbol"].as_str().unwrap().to_owned());
    assert_eq!(
        asked,
        [
            json!({"type": "subscribe", "symbol": "AAPL"}),
            json!({"type": "subscribe", "symbol": "MSFT"})
        ],
        "crypto is not Finnhub's to stream here"
    );
    let status = stream.status();
    assert!(status.connected && status.subscribed == 2, "{status:?}");
    assert_eq!((status.malformed, status.bad_trades), (1, 2));
    assert_eq!(
        status.last_error.as_deref(),
        Some("Subscribing to too many symbols")
    );
    assert_eq!(queries.lock().unwrap()[0], format!("token={KEY}"));
    assert!(!format!("{stream:?}").contains(KEY));
    stop.cancel();
    task.await.unwrap();
}

#[tokio::test]
async fn a_closed_connection_comes_back_and_follows_the_subscriptions() {
    let seen = Arc::new(Mutex::new(Vec::new()));
    let (url, _) = server(false, {
        let seen = seen.clone();
        move |n, mut socket| {
            let seen = seen.clone();
            async move {
                let first = next_json(&mut socket).await;
                seen.lock().unwrap().push((n, first));
                if n == 0 {
                    send(
                        &mut socket,
                        json!({"type": "trade", "data": [
                        {"s": "AAPL", "p": 230, "t": 1_796_000_000_000_i64}]}),
                    )
                    .await;
                    // Mid-stream, the server goes away.
                    let _ = socket.close(None).await;
                    return;
                }
                // Reconnected: the rules changed meanwhile, MSFT instead of AAPL.
                for _ in 0..2 {
                    let message = next_json(&mut socket).await;
                    seen.lock().unwrap().push((n, message));
                }
                send(
                    &mut socket,
                    json!({"type": "trade", "data": [
                    {"s": "MSFT", "p": 402, "t": 1_796_000_001_000_i64}]}),
                )
                .await;
                while socket.next().await.is_some() {}
            }
        }
    })
    .await;
    let stream = Arc::new(
        FinnhubStream::new(url, Secret::new(KEY))
            .with_backoff(Duration::from_millis(10), Duration::from_millis(50)),
    );
    let (tx, buffer, stop, task) = start(stream.clone(), &["AAPL"]);
    assert!(until(|| stream.status().reconnects >= 1 && stream.status().connected).await);
    tx.send(symbols(&["MSFT"])).unwrap();
    assert!(until(|| buffer.received() == 2).await);
    let prices: Vec<_> = buffer.take().concat().iter().map(|t| t.price).collect();
    assert_eq!(prices, [dec("230"), dec("402")]);
    let seen = seen.lock().unwrap().clone();
    assert_eq!(
        seen,
        [
            (0, json!({"type": "subscribe", "symbol": "AAPL"})),
            (1, json!({"type": "subscribe", "symbol": "AAPL"})),
            (1, json!({"type": "unsubscribe", "symbol": "AAPL"})),
            (1, json!({"type": "subscribe", "symbol": "MSFT"})),
        ]
    );
    stop.cancel();
    task.await.unwrap();
}

#[tokio::test]
async fn a_refused_key_and_a_silent_server_are_reported_without_the_key() {
    let (refusing, _) = server(true, |_, _| async {}).await;
    let stream = Arc::new(
        FinnhubStream::new(refusing, Secret::new(KEY))
            .with_backoff(Duration::from_millis(10), Duration::from_millis(20)),
    );
    let (_tx, _buffer, stop, task) = start(stream.clone(), &["AAPL"]);
    assert!(until(|| stream.status().reconnects >= 2).await);
    let error = stream.status().last_error.unwrap();
    assert!(
        error.contains("HTTP 401") && !error.contains(KEY),
        "{error}"
    );
    stop.cancel();
    task.await.unwrap();

    let (silent, _) = server(false, |_, mut socket| async move {
        while socket.next().await.is_some() {}
    })
    .await;
    let stream = Arc::new(
        FinnhubStream::new(silent, Secret::new(KEY))
            .with_silence(Duration::from_millis(100))
            .with_backoff(Duration::from_millis(10), Duration::from_millis(20)),
    );
    let (_tx, _buffer, stop, task) = start(stream.clone(), &["AAPL"]);
    assert!(until(|| stream.status().reconnects >= 1).await);
    let error = stream.status().last_error.unwrap();
    assert!(error.starts_with("no message for"), "{error}");
    stop.cancel();
    task.await.unwrap();
}

/// 10,000 trades of three symbols with nobody taking them: the buffer holds at most
/// `TRADES_PER_SYMBOL` of each, the latest last; every trade is counted.
#[tokio::test]
async fn a_flood_never_grows_the_buffer() {
    let (url, _) = server(false, |_, mut socket| async move {
        for _ in 0..3 {
            next_json(&mut socket).await;
        }
        for batch in 0..100 {
            let data: Vec<_> = (0..100)
                .map(|i| {
                    let n = batch * 100 + i;
                    let symbol = ["AAPL", "MSFT", "NVDA"][n % 3];
                    json!({"s": symbol, "p": 100 + n, "t": 1_796_000_000_000_i64 + n as i64})
                })
                .collect();
            send(&mut socket, json!({"type": "trade", "data": data})).await;
        }
        while socket.next().await.is_some() {}
    })
    .await;
    let stream = Arc::new(FinnhubStream::new(url, Secret::new(KEY)));
    let (_tx, buffer, stop, task) = start(stream.clone(), &["AAPL", "MSFT", "NVDA"]);
    assert!(until(|| buffer.received() == 10_000).await);
    // Each symbol's first 31 trades and its latest are kept.
    assert_eq!(buffer.coalesced(), 10_000 - 3 * TRADES_PER_SYMBOL as u64);
    let rounds = buffer.take();
    assert_eq!(rounds.len(), TRADES_PER_SYMBOL);
    let latest: Vec<_> = rounds[TRADES_PER_SYMBOL - 1]
        .iter()
        .map(|t| t.price)
        .collect();
    assert_eq!(latest, [dec("10099"), dec("10097"), dec("10098")]);
    stop.cancel();
    task.await.unwrap();
}
