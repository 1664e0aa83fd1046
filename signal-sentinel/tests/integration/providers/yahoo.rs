use chrono::NaiveDate;
use serde_json::json;
use signal_sentinel::market::{MarketData, MarketError, YahooMarket};
use wiremock::matchers::{header_regex, method, path, query_param};
use wiremock::{Mock, MockServer, ResponseTemplate};

use super::{Logs, TIMEOUT, base, dec, sym};

/// A chart answer as Yahoo sends it for `range=1d&interval=1d`.
/// The day's range and open contain the price (a range that does not is bad data).
fn chart(symbol: &str, price: serde_json::Value, previous: serde_json::Value) -> serde_json::Value {
    let (low, high, open) = match price.as_f64() {
        Some(p) if p > 0.0 && (p - 278.85).abs() > 1e-9 => (json!(p), json!(p), json!(p)),
        _ => (json!(276.31), json!(279.12), json!(277.26)),
    };
    json!({"chart": {"result": [{
        "meta": {
            "currency": "USD", "symbol": symbol, "exchangeName": "NMS", "instrumentType": "EQUITY",
            "firstTradeDate": 345479400, "regularMarketTime": 1764349200, "gmtoffset": -18000,
            "timezone": "EST", "exchangeTimezoneName": "America/New_York",
            "regularMarketPrice": price, "fiftyTwoWeekHigh": 288.62, "fiftyTwoWeekLow": 169.21,
            "regularMarketDayHigh": high, "regularMarketDayLow": low,
            "regularMarketVolume": 20135620, "chartPreviousClose": previous,
            "previousClose": previous, "scale": 3, "priceHint": 2,
            "dataGranularity": "1d", "range": "1d", "validRanges": ["1d", "5d", "1mo"]
        },
        "timestamp": [1764340200],
        "indicators": {"quote": [{"open": [open], "high": [high], "low": [low], "close": [price], "volume": [20135620]}],
                       "adjclose": [{"adjclose": [278.85]}]}
    }], "error": null}})
}

fn not_found() -> ResponseTemplate {
    ResponseTemplate::new(404).set_body_json(json!({"chart": {"result": null, "error": {
        "code": "Not Found", "description": "No data found, symbol may be delisted"}}}))
}

async fn market(server: &MockServer) -> YahooMarket {
    YahooMarket::new(base(server), TIMEOUT).unwrap()
}

#[tokio::test]
async fn quotes_from_the_chart_meta_with_a_browser_user_agent() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/v8/finance/chart/AAPL"))
        .and(query_param("interval", "1d"))
        .and(query_param("range", "1d"))
        .and(header_regex("user-agent", "^Mozilla/5.0 "))
        .respond_with(ResponseTemplate::new(200).set_body_json(chart(
            "AAPL",
            json!(278.85),
            json!(277.55),
        )))
        .expect(1)
        .mount(&server)
        .await;
    // Share classes, indices and crypto travel in Yahoo's spelling, URL-encoded.
    for (requested, canonical) in [
        ("BRK-B", "BRK.B"),
        ("%5EGSPC", "^GSPC"),
        ("BTC-USD", "BTC-USD"),
    ] {
        Mock::given(method("GET"))
            .and(path(format!("/v8/finance/chart/{requested}")))
            .respond_with(ResponseTemplate::new(200).set_body_json(chart(
                canonical,
                json!(100.5),
                json!(100),
            )))
            .expect(1)
            .mount(&server)
            .await;
    }
    let m = market(&server).await;
    let mut quotes = m
        .quotes(&[sym("AAPL"), sym("BRK.B"), sym("^GSPC"), sym("BTC-USD")])
        .await
        .unwrap();
    quotes.sort_by(|a, b| a.symbol.cmp(&b.symbol));
    let aapl = quotes.iter().find(|q| q.symbol == sym("AAPL")).unwrap();
    assert_eq!(aapl.price, dec("278.85"));
    assert_eq!(aapl.previous_close, Some(dec("277.55")));
    assert_eq!(
        (aapl.day_low, aapl.day_high),
        (Some(dec("276.31")), Some(dec("279.12")))
    );
    assert_eq!(aapl.day_open, Some(dec("277.26")));
    assert_eq!(aapl.volume, Some(20_135_620));
    assert_eq!(aapl.at.timestamp(), 1_764_349_200);
    assert_eq!(aapl.source, "yahoo");
    assert_eq!(quotes.len(), 4);
    assert!(
        quotes.iter().any(|q| q.symbol == sym("BRK.B")),
        "answers carry the canonical symbol"
    );
}

#[tokio::test]
async fn unknown_symbols_nulls_and_zeros_are_no_data() {
    let server = MockServer::start().await;
    Mock::given(path("/v8/finance/chart/NOPE"))
        .respond_with(not_found())
        .mount(&server)
        .await;
    Mock::given(path("/v8/finance/chart/NULLS"))
        .respond_with(ResponseTemplate::new(200).set_body_json(chart(
            "NULLS",
            json!(null),
            json!(null),
        )))
        .mount(&server)
        .await;
    Mock::given(path("/v8/finance/chart/ZERO"))
        .respond_with(ResponseTemplate::new(200).set_body_json(chart("ZERO", json!(0), json!(0))))
        .mount(&server)
        .await;
    Mock::given(path("/v8/finance/chart/NOPREV"))
        .respond_with(ResponseTemplate::new(200).set_body_json(chart(
            "NOPREV",
            json!(12.5),
            json!(null),
        )))
        .mount(&server)
        .await;
    let quotes = market(&server)
        .await
        .quotes(&[sym("NOPE"), sym("NULLS"), sym("ZERO"), sym("NOPREV")])
        .await
        .unwrap();
    assert_eq!(quotes.len(), 1, "{quotes:?}");
    assert_eq!(
        (quotes[0].price, quotes[0].previous_close),
        (dec("12.5"), None)
    );
}

#[tokio::test]
async fn rate_limits_are_waited_out_once() {
    let server = MockServer::start().await;
    Mock::given(path("/v8/finance/chart/AAPL"))
        .respond_with(
            ResponseTemplate::new(429)
                .insert_header("retry-after", "1")
                .set_body_string("Too Many Requests"),
        )
        .up_to_n_times(1)
        .with_priority(1)
        .mount(&server)
        .await;
    Mock::given(path("/v8/finance/chart/AAPL"))
        .respond_with(ResponseTemplate::new(200).set_body_json(chart(
            "AAPL",
            json!(278.85),
            json!(277.55),
        )))
        .mount(&server)
        .await;
    let quotes = market(&server).await.quotes(&[sym("AAPL")]).await.unwrap();
    assert_eq!(quotes[0].price, dec("278.85"));

    // Limited again and again: a rate-limit error, saying who.
    let limited = MockServer::start().await;
    Mock::given(path("/v8/finance/chart/AAPL"))
        .respond_with(ResponseTemplate::new(429).insert_header("retry-after", "1"))
        .mount(&limited)
        .await;
    let err = market(&limited)
        .await
        .quotes(&[sym("AAPL")])
        .await
        .unwrap_err();
    assert!(matches!(err, MarketError::RateLimited { .. }), "{err:?}");
    assert!(
        err.to_string().starts_with("yahoo is rate limiting"),
        "{err}"
    );
}

#[tokio::test]
async fn server_errors_timeouts_and_malformed_answers_fail_with_the_provider_named() {
    let server = MockServer::start().await;
    Mock::given(path("/v8/finance/chart/ERR"))
        .respond_with(ResponseTemplate::new(503))
        .expect(2)
        .mount(&server)
        .await;
    Mock::given(path("/v8/finance/chart/SLOW"))
        .respond_with(ResponseTemplate::new(200).set_delay(std::time::Duration::from_secs(5)))
        .mount(&server)
        .await;
    Mock::given(path("/v8/finance/chart/BAD"))
        .respond_with(
            ResponseTemplate::new(200).set_body_string("{\"chart\": {\"result\": [{\"meta\": "),
        )
        .mount(&server)
        .await;
    let m = market(&server).await;
    let err = m.quotes(&[sym("ERR")]).await.unwrap_err();
    assert_eq!(err.to_string(), "yahoo is unavailable: ERR: HTTP 503");
    let err = m.quotes(&[sym("SLOW")]).await.unwrap_err();
    assert_eq!(
        err.to_string(),
        "yahoo is unavailable: SLOW: the request timed out"
    );
    let err = m.quotes(&[sym("BAD")]).await.unwrap_err();
    assert!(
        err.to_string()
            .starts_with("yahoo is unavailable: BAD: malformed answer"),
        "{err}"
    );
    // One failure among answers: the answers are kept.
    Mock::given(path("/v8/finance/chart/AAPL"))
        .respond_with(ResponseTemplate::new(200).set_body_json(chart(
            "AAPL",
            json!(278.85),
            json!(277.55),
        )))
        .mount(&server)
        .await;
    assert_eq!(m.quotes(&[sym("AAPL"), sym("BAD")]).await.unwrap().len(), 1);
}

#[tokio::test]
async fn daily_bars_skip_the_holes_yahoo_leaves() {
    let server = MockServer::start().await;
    let body = json!({"chart": {"result": [{
        "meta": {"symbol": "AAPL", "regularMarketPrice": 278.85, "regularMarketTime": 1764349200},
        "timestamp": [1764081000, 1764167400, 1764340200],
        "indicators": {"quote": [{
            "open": [275.1, null, 277.26], "high": [277.0, null, 279.12],
            "low": [274.0, null, 276.31], "close": [276.5, null, 278.85],
            "volume": [41000000, null, 20135620]}]}
    }], "error": null}});
    Mock::given(path("/v8/finance/chart/AAPL"))
        .and(query_param("interval", "1d"))
        .and(query_param("period1", "1763960400"))
        .respond_with(ResponseTemplate::new(200).set_body_json(body))
        .expect(1)
        .mount(&server)
        .await;
    let from = NaiveDate::from_ymd_opt(2025, 11, 24).unwrap();
    let to = NaiveDate::from_ymd_opt(2025, 11, 28).unwrap();
    let bars = market(&server)
        .await
        .daily_bars(&sym("AAPL"), from, to)
        .await
        .unwrap();
    assert_eq!(bars.len(), 2);
    assert_eq!(
        (bars[1].open, bars[1].close, bars[1].volume),
        (dec("277.26"), dec("278.85"), Some(20_135_620))
    );
    Mock::given(path("/v8/finance/chart/NOPE"))
        .respond_with(not_found())
        .mount(&server)
        .await;
    assert!(
        market(&server)
            .await
            .daily_bars(&sym("NOPE"), from, to)
            .await
            .unwrap()
            .is_empty()
    );
}

#[tokio::test]
async fn logs_name_the_provider_and_symbol() {
    let (logs, _guard) = Logs::capture();
    let server = MockServer::start().await;
    Mock::given(path("/v8/finance/chart/NOPE"))
        .respond_with(not_found())
        .mount(&server)
        .await;
    market(&server).await.quotes(&[sym("NOPE")]).await.unwrap();
    let text = logs.text();
    assert!(
        text.contains("provider=\"yahoo\"") && text.contains("NOPE"),
        "{text}"
    );
}

#[tokio::test]
async fn absurd_quotes_are_refused_as_bad_data_and_logged_once() {
    let (logs, _guard) = super::Logs::capture();
    let server = MockServer::start().await;
    // A price beyond what a market quotes, and a day's range that does not contain the price.
    let mut huge = chart("HUGEY", json!(5e12), json!(100));
    huge["chart"]["result"][0]["meta"]["regularMarketDayHigh"] = json!(6e12);
    let mut outside = chart("OUTSIDEY", json!(300.5), json!(290));
    outside["chart"]["result"][0]["meta"]["regularMarketDayHigh"] = json!(280);
    outside["chart"]["result"][0]["meta"]["regularMarketDayLow"] = json!(270);
    for (symbol, body) in [("HUGEY", huge), ("OUTSIDEY", outside)] {
        Mock::given(path(format!("/v8/finance/chart/{symbol}")))
            .respond_with(ResponseTemplate::new(200).set_body_json(body))
            .mount(&server)
            .await;
    }
    Mock::given(path("/v8/finance/chart/FINEY"))
        .respond_with(ResponseTemplate::new(200).set_body_json(chart(
            "FINEY",
            json!(278.85),
            json!(277.55),
        )))
        .mount(&server)
        .await;
    let m = market(&server).await;
    for _ in 0..2 {
        let quotes = m
            .quotes(&[sym("HUGEY"), sym("OUTSIDEY"), sym("FINEY")])
            .await
            .unwrap();
        let symbols: Vec<_> = quotes.iter().map(|q| q.symbol.as_str()).collect();
        assert_eq!(symbols, ["FINEY"], "bad data is no data");
    }
    let text = logs.text();
    assert_eq!(
        text.matches("bad data refused").count(),
        2,
        "once per provider and symbol: {text}"
    );
    assert!(
        text.contains("symbol=HUGEY") && text.contains("outside what a market quotes"),
        "{text}"
    );
    assert!(text.contains("does not contain the price"), "{text}");
}
