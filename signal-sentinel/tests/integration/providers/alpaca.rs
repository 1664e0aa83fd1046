use chrono::NaiveDate;
use serde_json::json;
use signal_sentinel::Secret;
use signal_sentinel::market::{AlpacaMarket, MarketData, MarketError};
use wiremock::matchers::{header, method, path, query_param};
use wiremock::{Mock, MockServer, ResponseTemplate};

use super::{Logs, TIMEOUT, base, dec, sym};

const KEY_ID: &str = "PKTESTKEYID0123456789";
const SECRET: &str = "alpaca-secret-key-do-not-leak";

fn market(server: &MockServer) -> AlpacaMarket {
    AlpacaMarket::new(
        base(server),
        Secret::new(KEY_ID),
        Secret::new(SECRET),
        "iex",
        TIMEOUT,
    )
    .unwrap()
}

/// A stock snapshot as `/v2/stocks/snapshots` sends it.
/// A snapshot whose daily bar contains the latest trade (one that does not is bad data).
fn snapshot(price: serde_json::Value) -> serde_json::Value {
    let day = match price.as_f64() {
        Some(p) if (p - 278.85).abs() > 1e-9 => {
            json!({"t": "2026-11-27T05:00:00Z", "o": p, "h": p, "l": p, "c": p, "v": 1534920, "n": 16215, "vw": p})
        }
        _ => {
            json!({"t": "2026-11-27T05:00:00Z", "o": 277.26, "h": 279.12, "l": 276.31, "c": 278.85, "v": 1534920, "n": 16215, "vw": 277.9})
        }
    };
    json!({
        "latestTrade": {"t": "2026-11-27T17:59:58.123456789Z", "x": "V", "p": price, "s": 100, "c": ["@"], "i": 52983525033527u64, "z": "C"},
        "latestQuote": {"t": "2026-11-27T17:59:59.5Z", "ax": "V", "ap": 278.9, "as": 2, "bx": "V", "bp": 278.8, "bs": 1, "c": ["R"], "z": "C"},
        "minuteBar": {"t": "2026-11-27T17:59:00Z", "o": 278.7, "h": 278.9, "l": 278.6, "c": 278.85, "v": 2201, "n": 35, "vw": 278.77},
        "dailyBar": day,
        "prevDailyBar": {"t": "2026-11-25T05:00:00Z", "o": 276.1, "h": 278.0, "l": 275.5, "c": 277.55, "v": 2120300, "n": 22101, "vw": 276.9}
    })
}

#[tokio::test]
async fn stock_and_crypto_snapshots_with_the_key_headers() {
    let (logs, _guard) = Logs::capture();
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/v2/stocks/snapshots"))
        .and(query_param("symbols", "AAPL,BRK.B,NOPE"))
        .and(query_param("feed", "iex"))
        .and(header("APCA-API-KEY-ID", KEY_ID))
        .and(header("APCA-API-SECRET-KEY", SECRET))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "AAPL": snapshot(json!(278.85)),
            "BRK.B": snapshot(json!(512.4)),
            "NOPE": null
        })))
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/v1beta3/crypto/us/snapshots"))
        .and(query_param("symbols", "BTC/USD"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"snapshots": {
            "BTC/USD": {
                "latestTrade": {"t": "2026-11-28T20:00:01.2Z", "p": 91234.5, "s": 0.01, "i": 1, "tks": "B"},
                "dailyBar": {"t": "2026-11-28T06:00:00Z", "o": 90000, "h": 92000, "l": 89500.5, "c": 91234.5, "v": 12.5, "n": 900, "vw": 90900},
                "prevDailyBar": {"t": "2026-11-27T06:00:00Z", "o": 89000, "h": 90500, "l": 88000, "c": 90000, "v": 20.1, "n": 1200, "vw": 89500}
            }
        }})))
        .expect(1)
        .mount(&server)
        .await;
    let m = market(&server);
    let quotes = m
        .quotes(&[
            sym("AAPL"),
            sym("BRK.B"),
            sym("NOPE"),
            sym("BTC-USD"),
            sym("^GSPC"),
        ])
        .await
        .unwrap();
    assert_eq!(quotes.len(), 3);
    let aapl = &quotes[0];
    assert_eq!((aapl.symbol.as_str(), aapl.price), ("AAPL", dec("278.85")));
    assert_eq!(aapl.previous_close, Some(dec("277.55")));
    assert_eq!(
        (aapl.day_open, aapl.volume),
        (Some(dec("277.26")), Some(1_534_920))
    );
    assert_eq!(aapl.source, "alpaca");
    assert_eq!(quotes[1].symbol.as_str(), "BRK.B");
    let btc = &quotes[2];
    assert_eq!(
        (btc.symbol.as_str(), btc.price),
        ("BTC-USD", dec("91234.5"))
    );
    assert_eq!(btc.previous_close, Some(dec("90000")));
    assert!(!m.supports(&sym("^GSPC")) && !m.supports(&sym("VOD.L")));
    let text = logs.text();
    assert!(text.contains("provider=\"alpaca\""), "{text}");
    assert!(
        !text.contains(SECRET) && !text.contains(KEY_ID),
        "keys in logs: {text}"
    );
    assert!(!format!("{m:?}").contains(SECRET));
}

#[tokio::test]
async fn long_lists_are_chunked() {
    let server = MockServer::start().await;
    Mock::given(path("/v2/stocks/snapshots"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({})))
        .expect(3)
        .mount(&server)
        .await;
    let symbols: Vec<_> = (0..250).map(|i| sym(&format!("S{i}"))).collect();
    assert!(market(&server).quotes(&symbols).await.unwrap().is_empty());
}

#[tokio::test]
async fn zero_prices_are_no_data() {
    let server = MockServer::start().await;
    Mock::given(path("/v2/stocks/snapshots"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "ZERO": snapshot(json!(0)), "NULL": snapshot(json!(null)), "EMPTY": {}
        })))
        .mount(&server)
        .await;
    assert!(
        market(&server)
            .quotes(&[sym("ZERO"), sym("NULL"), sym("EMPTY")])
            .await
            .unwrap()
            .is_empty()
    );
}

#[tokio::test]
async fn rate_limits_follow_the_reset_header() {
    let server = MockServer::start().await;
    let reset = (chrono::Utc::now().timestamp() + 1).to_string();
    Mock::given(path("/v2/stocks/snapshots"))
        .respond_with(
            ResponseTemplate::new(429)
                .insert_header("X-RateLimit-Limit", "200")
                .insert_header("X-RateLimit-Remaining", "0")
                .insert_header("X-RateLimit-Reset", reset.as_str())
                .set_body_json(json!({"message": "too many requests."})),
        )
        .up_to_n_times(1)
        .with_priority(1)
        .mount(&server)
        .await;
    Mock::given(path("/v2/stocks/snapshots"))
        .respond_with(
            ResponseTemplate::new(200).set_body_json(json!({"AAPL": snapshot(json!(278.85))})),
        )
        .mount(&server)
        .await;
    let started = std::time::Instant::now();
    let quotes = market(&server).quotes(&[sym("AAPL")]).await.unwrap();
    assert_eq!(quotes.len(), 1);
    assert!(started.elapsed() <= std::time::Duration::from_secs(5));
}

#[tokio::test]
async fn refusals_errors_and_malformed_answers_never_show_the_keys() {
    let server = MockServer::start().await;
    Mock::given(path("/v2/stocks/snapshots"))
        .and(query_param("symbols", "AUTH"))
        .respond_with(ResponseTemplate::new(403).set_body_json(json!({"message": "forbidden"})))
        .mount(&server)
        .await;
    Mock::given(path("/v2/stocks/snapshots"))
        .and(query_param("symbols", "ERR"))
        .respond_with(ResponseTemplate::new(500))
        .mount(&server)
        .await;
    Mock::given(path("/v2/stocks/snapshots"))
        .and(query_param("symbols", "BAD"))
        .respond_with(ResponseTemplate::new(200).set_body_string("<html>gateway</html>"))
        .mount(&server)
        .await;
    Mock::given(path("/v2/stocks/snapshots"))
        .and(query_param("symbols", "INVALID"))
        .respond_with(
            ResponseTemplate::new(400)
                .set_body_json(json!({"code": 40010001, "message": "invalid symbol: INVALID"})),
        )
        .mount(&server)
        .await;
    Mock::given(path("/v2/stocks/snapshots"))
        .and(query_param("symbols", "SLOW"))
        .respond_with(ResponseTemplate::new(200).set_delay(std::time::Duration::from_secs(5)))
        .mount(&server)
        .await;
    let m = market(&server);
    for (symbol, expected) in [
        (
            "AUTH",
            "alpaca is unavailable: AUTH: the API keys were refused (HTTP 403)",
        ),
        ("ERR", "alpaca is unavailable: ERR: HTTP 500"),
        (
            "INVALID",
            "alpaca is unavailable: INVALID: HTTP 400: invalid symbol: INVALID",
        ),
        ("SLOW", "alpaca is unavailable: SLOW: the request timed out"),
    ] {
        let err = m.quotes(&[sym(symbol)]).await.unwrap_err();
        assert_eq!(err.to_string(), expected);
        assert!(matches!(err, MarketError::Unavailable { .. }));
    }
    let err = m.quotes(&[sym("BAD")]).await.unwrap_err().to_string();
    assert!(
        err.starts_with("alpaca is unavailable: BAD: malformed answer"),
        "{err}"
    );
    assert!(!err.contains(SECRET) && !err.contains(KEY_ID));
}

#[tokio::test]
async fn daily_bars_follow_pages() {
    let server = MockServer::start().await;
    Mock::given(path("/v2/stocks/AAPL/bars"))
        .and(query_param("timeframe", "1Day"))
        .and(query_param("page_token", "QUFQTHwy"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "bars": [{"t": "2026-11-26T05:00:00Z", "o": 276.1, "h": 278.0, "l": 275.5, "c": 277.55, "v": 2120300, "n": 22101, "vw": 276.9}],
            "symbol": "AAPL", "next_page_token": null
        })))
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(path("/v2/stocks/AAPL/bars"))
        .and(query_param("timeframe", "1Day"))
        .and(query_param("feed", "iex"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "bars": [{"t": "2026-11-25T05:00:00Z", "o": 275.0, "h": 277.0, "l": 274.5, "c": 276.1, "v": 1900000, "n": 20000, "vw": 275.9}],
            "symbol": "AAPL", "next_page_token": "QUFQTHwy"
        })))
        .mount(&server)
        .await;
    let bars = market(&server)
        .daily_bars(
            &sym("AAPL"),
            NaiveDate::from_ymd_opt(2026, 11, 1).unwrap(),
            NaiveDate::from_ymd_opt(2026, 11, 27).unwrap(),
        )
        .await
        .unwrap();
    assert_eq!(
        bars.iter().map(|b| b.close).collect::<Vec<_>>(),
        [dec("276.1"), dec("277.55")]
    );
}
