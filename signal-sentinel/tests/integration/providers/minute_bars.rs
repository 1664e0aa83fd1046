//! One-minute bars from Alpaca and Yahoo, each moved to its close, the running minute left
//! out; what `evaluate: at_bar_close` reads.

use chrono::{TimeZone, Utc};
use serde_json::json;
use signal_sentinel::Secret;
use signal_sentinel::market::{AlpacaMarket, FinnhubMarket, MarketData, YahooMarket};
use wiremock::matchers::{method, path, query_param};
use wiremock::{Mock, MockServer, ResponseTemplate};

use super::{TIMEOUT, base, dec, sym};

#[tokio::test]
async fn alpaca_minute_bars_end_at_their_close() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/v2/stocks/AAPL/bars"))
        .and(query_param("timeframe", "1Min"))
        .and(query_param("start", "2026-12-07T15:00:00Z"))
        .and(query_param("end", "2026-12-07T15:03:00Z"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "bars": [
                {"t": "2026-12-07T15:01:00Z", "o": 231.1, "h": 231.4, "l": 231.0, "c": 231.3, "v": 10200, "n": 120, "vw": 231.2},
                {"t": "2026-12-07T15:02:00Z", "o": 231.3, "h": 231.9, "l": 231.2, "c": 231.8, "v": 8800, "n": 98, "vw": 231.6},
                // Odd data: a bar whose close is outside its range is refused on its own.
                {"t": "2026-12-07T15:03:00Z", "o": 231.8, "h": 231.9, "l": 231.7, "c": 250.0, "v": 100}
            ],
            "symbol": "AAPL", "next_page_token": null
        })))
        .expect(1)
        .mount(&server)
        .await;
    let market = AlpacaMarket::new(
        base(&server),
        Secret::new("id"),
        Secret::new("secret"),
        "iex",
        TIMEOUT,
    )
    .unwrap();
    assert!(market.has_minute_bars());
    let from = Utc.with_ymd_and_hms(2026, 12, 7, 15, 1, 0).unwrap();
    let to = Utc.with_ymd_and_hms(2026, 12, 7, 15, 4, 0).unwrap();
    let bars = market.minute_bars(&sym("AAPL"), from, to).await.unwrap();
    let got: Vec<_> = bars
        .iter()
        .map(|b| (b.at.format("%H:%M").to_string(), b.close))
        .collect();
    assert_eq!(
        got,
        [
            ("15:02".to_owned(), dec("231.3")),
            ("15:03".to_owned(), dec("231.8"))
        ]
    );
}

#[tokio::test]
async fn yahoo_minute_bars_leave_the_running_minute_out() {
    let server = MockServer::start().await;
    let t0 = Utc
        .with_ymd_and_hms(2026, 12, 7, 15, 1, 0)
        .unwrap()
        .timestamp();
    Mock::given(method("GET"))
        .and(path("/v8/finance/chart/AAPL"))
        .and(query_param("interval", "1m"))
        .respond_with(
            ResponseTemplate::new(200).set_body_json(json!({"chart": {"result": [{
            "meta": {"regularMarketPrice": 231.9},
            "timestamp": [t0, t0 + 60, t0 + 120],
            "indicators": {"quote": [{
                "open": [231.1, null, 231.8], "high": [231.4, null, 231.95],
                "low": [231.0, null, 231.7], "close": [231.3, null, 231.9],
                "volume": [10200, null, 300]
            }]}
        }], "error": null}})),
        )
        .mount(&server)
        .await;
    let market = YahooMarket::new(base(&server), TIMEOUT).unwrap();
    assert!(market.has_minute_bars());
    // At 15:03:30 the minute 15:03–15:04 is still running; 15:02–15:03 has a hole.
    let from = Utc.with_ymd_and_hms(2026, 12, 7, 15, 0, 0).unwrap();
    let to = Utc.with_ymd_and_hms(2026, 12, 7, 15, 3, 30).unwrap();
    let bars = market.minute_bars(&sym("AAPL"), from, to).await.unwrap();
    let got: Vec<_> = bars
        .iter()
        .map(|b| (b.at.format("%H:%M").to_string(), b.close))
        .collect();
    assert_eq!(got, [("15:02".to_owned(), dec("231.3"))]);
}

#[tokio::test]
async fn finnhub_has_no_minute_bars_on_its_free_plan() {
    let server = MockServer::start().await;
    let market = FinnhubMarket::new(base(&server), Secret::new("k"), 60, TIMEOUT).unwrap();
    assert!(!market.has_minute_bars());
    let now = Utc::now();
    assert!(
        market
            .minute_bars(&sym("AAPL"), now, now)
            .await
            .unwrap()
            .is_empty()
    );
    assert!(server.received_requests().await.unwrap().is_empty());
}
