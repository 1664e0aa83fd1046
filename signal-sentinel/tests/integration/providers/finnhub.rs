use chrono::NaiveDate;
use serde_json::json;
use signal_sentinel::Secret;
use signal_sentinel::market::{FinnhubMarket, MarketData, MarketError};
use wiremock::matchers::{header, method, path, query_param};
use wiremock::{Mock, MockServer, ResponseTemplate};

use super::{Logs, TIMEOUT, base, dec, sym};

const KEY: &str = "finnhub-token-do-not-leak";

fn market(server: &MockServer) -> FinnhubMarket {
    FinnhubMarket::new(base(server), Secret::new(KEY), 6_000, TIMEOUT).unwrap()
}

fn quote_body() -> serde_json::Value {
    json!({"c": 278.85, "d": 1.3, "dp": 0.4684, "h": 279.12, "l": 276.31, "o": 277.26, "pc": 277.55, "t": 1795813200})
}

#[tokio::test]
async fn quotes_with_the_token_header() {
    let (logs, _guard) = Logs::capture();
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/quote"))
        .and(query_param("symbol", "AAPL"))
        .and(header("X-Finnhub-Token", KEY))
        .respond_with(ResponseTemplate::new(200).set_body_json(quote_body()))
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(path("/quote"))
        .and(query_param("symbol", "BRK-B"))
        .respond_with(ResponseTemplate::new(200).set_body_json(quote_body()))
        .expect(1)
        .mount(&server)
        .await;
    let m = market(&server);
    let quotes = m
        .quotes(&[sym("AAPL"), sym("BRK.B"), sym("BTC-USD"), sym("^GSPC")])
        .await
        .unwrap();
    assert_eq!(quotes.len(), 2, "crypto and indices are not Finnhub's");
    let q = &quotes[0];
    assert_eq!(
        (q.price, q.previous_close, q.day_open),
        (dec("278.85"), Some(dec("277.55")), Some(dec("277.26")))
    );
    assert_eq!(
        (q.day_low, q.day_high),
        (Some(dec("276.31")), Some(dec("279.12")))
    );
    assert_eq!(
        (q.at.timestamp(), q.source.as_str()),
        (1_795_813_200, "finnhub")
    );
    assert_eq!(quotes[1].symbol.as_str(), "BRK.B");
    let text = logs.text();
    assert!(text.contains("provider=\"finnhub\""), "{text}");
    assert!(!text.contains(KEY), "key in logs: {text}");
    assert!(!format!("{m:?}").contains(KEY));
}

#[tokio::test]
async fn all_zero_answers_are_no_data_and_lone_zeros_are_unknown() {
    let server = MockServer::start().await;
    Mock::given(path("/quote"))
        .and(query_param("symbol", "NOPE"))
        .respond_with(ResponseTemplate::new(200).set_body_json(
            json!({"c": 0, "d": null, "dp": null, "h": 0, "l": 0, "o": 0, "pc": 0, "t": 0}),
        ))
        .mount(&server)
        .await;
    Mock::given(path("/quote"))
        .and(query_param("symbol", "GLITCH"))
        .respond_with(
            ResponseTemplate::new(200).set_body_json(
                json!({"c": 517.96, "h": 0, "l": 0, "o": 0, "pc": 0, "t": 1795813200}),
            ),
        )
        .mount(&server)
        .await;
    let quotes = market(&server)
        .quotes(&[sym("NOPE"), sym("GLITCH")])
        .await
        .unwrap();
    assert_eq!(quotes.len(), 1);
    let q = &quotes[0];
    assert_eq!(
        (q.price, q.previous_close, q.day_open, q.day_high),
        (dec("517.96"), None, None, None)
    );
}

#[tokio::test]
async fn rate_limit_then_success_errors_and_timeouts() {
    let server = MockServer::start().await;
    Mock::given(path("/quote"))
        .and(query_param("symbol", "AAPL"))
        .respond_with(ResponseTemplate::new(429).set_body_json(
            json!({"error": "API limit reached. Please try again later. Remaining Limit: 0"}),
        ))
        .up_to_n_times(1)
        .with_priority(1)
        .mount(&server)
        .await;
    Mock::given(path("/quote"))
        .and(query_param("symbol", "AAPL"))
        .respond_with(ResponseTemplate::new(200).set_body_json(quote_body()))
        .mount(&server)
        .await;
    Mock::given(path("/quote"))
        .and(query_param("symbol", "ERR"))
        .respond_with(ResponseTemplate::new(502))
        .mount(&server)
        .await;
    Mock::given(path("/quote"))
        .and(query_param("symbol", "SLOW"))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_json(quote_body())
                .set_delay(std::time::Duration::from_secs(5)),
        )
        .mount(&server)
        .await;
    Mock::given(path("/quote"))
        .and(query_param("symbol", "BAD"))
        .respond_with(ResponseTemplate::new(200).set_body_string("{\"c\": "))
        .mount(&server)
        .await;
    Mock::given(path("/quote"))
        .and(query_param("symbol", "KEY"))
        .respond_with(
            ResponseTemplate::new(401).set_body_json(json!({"error": "Invalid API key."})),
        )
        .mount(&server)
        .await;
    let m = market(&server);
    assert_eq!(
        m.quotes(&[sym("AAPL")]).await.unwrap()[0].price,
        dec("278.85")
    );
    for (symbol, expected) in [
        ("ERR", "finnhub is unavailable: ERR: HTTP 502"),
        (
            "SLOW",
            "finnhub is unavailable: SLOW: the request timed out",
        ),
        (
            "KEY",
            "finnhub is unavailable: KEY: the API key was refused (HTTP 401)",
        ),
    ] {
        let err = m.quotes(&[sym(symbol)]).await.unwrap_err();
        assert_eq!(err.to_string(), expected);
        assert!(!err.to_string().contains(KEY));
    }
    let err = m.quotes(&[sym("BAD")]).await.unwrap_err();
    assert!(
        err.to_string()
            .starts_with("finnhub is unavailable: BAD: malformed answer"),
        "{err}"
    );

    let limited = MockServer::start().await;
    Mock::given(path("/quote"))
        .respond_with(ResponseTemplate::new(429).insert_header("retry-after", "1"))
        .mount(&limited)
        .await;
    let err = market(&limited)
        .quotes(&[sym("AAPL"), sym("MSFT")])
        .await
        .unwrap_err();
    assert!(matches!(err, MarketError::RateLimited { .. }), "{err:?}");
    assert_eq!(
        limited.received_requests().await.unwrap().len(),
        2,
        "stops at the first rate limit"
    );
}

#[tokio::test]
async fn candles_where_the_plan_allows() {
    let server = MockServer::start().await;
    Mock::given(path("/stock/candle"))
        .and(query_param("symbol", "AAPL"))
        .and(query_param("resolution", "D"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "c": [276.1, 277.55], "h": [277.0, 278.0], "l": [274.5, 275.5], "o": [275.0, 276.1],
            "s": "ok", "t": [1795669200, 1795755600], "v": [1900000, 2120300]
        })))
        .mount(&server)
        .await;
    Mock::given(path("/stock/candle"))
        .and(query_param("symbol", "NODATA"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"s": "no_data"})))
        .mount(&server)
        .await;
    Mock::given(path("/stock/candle"))
        .and(query_param("symbol", "FREE"))
        .respond_with(
            ResponseTemplate::new(403)
                .set_body_json(json!({"error": "You don't have access to this resource."})),
        )
        .mount(&server)
        .await;
    let m = market(&server);
    let (from, to) = (
        NaiveDate::from_ymd_opt(2026, 11, 1).unwrap(),
        NaiveDate::from_ymd_opt(2026, 11, 27).unwrap(),
    );
    let bars = m.daily_bars(&sym("AAPL"), from, to).await.unwrap();
    assert_eq!(
        bars.iter().map(|b| b.close).collect::<Vec<_>>(),
        [dec("276.1"), dec("277.55")]
    );
    assert!(
        m.daily_bars(&sym("NODATA"), from, to)
            .await
            .unwrap()
            .is_empty()
    );
    let err = m.daily_bars(&sym("FREE"), from, to).await.unwrap_err();
    assert_eq!(
        err.to_string(),
        "finnhub is unavailable: FREE: this plan has no access to the data (HTTP 403)"
    );
}
