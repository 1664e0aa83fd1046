//! Corporate events from each provider, in the shapes they answer with: Finnhub's earnings
//! calendar, Yahoo's chart events, Alpaca's corporate actions; and the chain that merges them.

use std::sync::Arc;

use chrono::NaiveDate;
use serde_json::json;
use signal_sentinel::Secret;
use signal_sentinel::clock::SystemClock;
use signal_sentinel::domain::{CorporateEvent, EventKind, ReportHour, SplitRatio};
use signal_sentinel::market::{
    AlpacaMarket, FinnhubMarket, MarketData, MarketError, ProviderChain, YahooMarket,
};
use wiremock::matchers::{header, method, path, query_param};
use wiremock::{Mock, MockServer, ResponseTemplate};

use super::{Logs, TIMEOUT, base, dec, sym};

const FINNHUB_KEY: &str = "finnhub-events-key-do-not-leak";
const ALPACA_SECRET: &str = "alpaca-events-secret-do-not-leak";

fn day(s: &str) -> NaiveDate {
    s.parse().unwrap()
}

fn finnhub(server: &MockServer) -> FinnhubMarket {
    FinnhubMarket::new(base(server), Secret::new(FINNHUB_KEY), 6_000, TIMEOUT).unwrap()
}

fn yahoo(server: &MockServer) -> YahooMarket {
    YahooMarket::new(base(server), TIMEOUT).unwrap()
}

fn alpaca(server: &MockServer) -> AlpacaMarket {
    AlpacaMarket::new(
        base(server),
        Secret::new("alpaca-key-id"),
        Secret::new(ALPACA_SECRET),
        "iex",
        TIMEOUT,
    )
    .unwrap()
}

fn kinds(events: &[CorporateEvent]) -> Vec<(String, EventKind, String)> {
    let mut out: Vec<_> = events
        .iter()
        .map(|e| (e.date.to_string(), e.kind, e.source.clone()))
        .collect();
    out.sort_by(|a, b| a.0.cmp(&b.0));
    out
}

#[tokio::test]
async fn finnhub_earnings_calendar() {
    let (logs, _guard) = Logs::capture();
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/calendar/earnings"))
        .and(query_param("symbol", "AAPL"))
        .and(query_param("from", "2026-12-01"))
        .and(query_param("to", "2027-03-01"))
        .and(header("X-Finnhub-Token", FINNHUB_KEY))
        .respond_with(
            ResponseTemplate::new(200).set_body_json(json!({"earningsCalendar": [
                {"date": "2027-01-28", "epsActual": null, "epsEstimate": 2.61, "hour": "amc",
                 "quarter": 1, "revenueActual": null, "revenueEstimate": 138_000_000_000_i64,
                 "symbol": "AAPL", "year": 2027},
                // Another symbol's row, a row without a date, a date that is not one, a date
                // out of range, an unknown hour: kept out, or kept without the hour.
                {"date": "2027-01-29", "hour": "bmo", "symbol": "MSFT"},
                {"date": null, "hour": "bmo", "symbol": "AAPL"},
                {"date": "28/01/2027", "hour": "bmo", "symbol": "AAPL"},
                {"date": "2031-01-01", "hour": "", "symbol": "AAPL"},
                {"date": "2027-02-20", "hour": "", "symbol": "AAPL"}
            ]})),
        )
        .expect(1)
        .mount(&server)
        .await;
    let m = finnhub(&server);
    assert!(m.has_events());
    let events = m
        .corporate_events(&sym("AAPL"), day("2026-12-01"), day("2027-03-01"))
        .await
        .unwrap();
    assert_eq!(
        kinds(&events),
        vec![
            (
                "2027-01-28".into(),
                EventKind::Earnings {
                    hour: Some(ReportHour::AfterClose)
                },
                "finnhub".into()
            ),
            (
                "2027-02-20".into(),
                EventKind::Earnings { hour: None },
                "finnhub".into()
            ),
        ]
    );
    // Indices and crypto are not Finnhub's: nothing asked.
    let none = m
        .corporate_events(&sym("^GSPC"), day("2026-12-01"), day("2027-03-01"))
        .await
        .unwrap();
    assert!(none.is_empty());
    let text = logs.text();
    assert!(text.contains("bad data refused"), "{text}");
    assert!(!text.contains(FINNHUB_KEY), "key in logs: {text}");
}

#[tokio::test]
async fn finnhub_empty_calendar_rate_limit_and_refusal() {
    let server = MockServer::start().await;
    Mock::given(path("/calendar/earnings"))
        .and(query_param("symbol", "NEWCO"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"earningsCalendar": []})))
        .mount(&server)
        .await;
    Mock::given(path("/calendar/earnings"))
        .and(query_param("symbol", "ODD"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({})))
        .mount(&server)
        .await;
    Mock::given(path("/calendar/earnings"))
        .and(query_param("symbol", "AAPL"))
        .respond_with(
            ResponseTemplate::new(429)
                .insert_header("retry-after", "1")
                .set_body_json(json!({"error": "API limit reached."})),
        )
        .mount(&server)
        .await;
    Mock::given(path("/calendar/earnings"))
        .and(query_param("symbol", "MSFT"))
        .respond_with(ResponseTemplate::new(401).set_body_json(json!({"error": "Invalid API key"})))
        .mount(&server)
        .await;
    let m = finnhub(&server);
    let (from, to) = (day("2026-12-01"), day("2027-03-01"));
    assert!(
        m.corporate_events(&sym("NEWCO"), from, to)
            .await
            .unwrap()
            .is_empty()
    );
    assert!(
        m.corporate_events(&sym("ODD"), from, to)
            .await
            .unwrap()
            .is_empty()
    );
    let limited = m
        .corporate_events(&sym("AAPL"), from, to)
        .await
        .unwrap_err();
    assert!(
        matches!(limited, MarketError::RateLimited { .. }),
        "{limited:?}"
    );
    let refused = m
        .corporate_events(&sym("MSFT"), from, to)
        .await
        .unwrap_err();
    let text = refused.to_string();
    assert!(
        text.contains("401") && !text.contains(FINNHUB_KEY),
        "{text}"
    );
}

#[tokio::test]
async fn yahoo_chart_dividends_and_splits() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/v8/finance/chart/AAPL"))
        .and(query_param("events", "div,splits"))
        .and(query_param("interval", "1d"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"chart": {"result": [{
            "meta": {"currency": "USD", "symbol": "AAPL", "regularMarketPrice": 129.04},
            "timestamp": [1_598_621_400_i64, 1_598_880_600_i64],
            "events": {
                "dividends": {
                    "1596807000": {"amount": 0.82, "date": 1_596_807_000_i64},
                    // Odd data: a negative amount, a dividend without one.
                    "1596807001": {"amount": -1, "date": 1_596_807_001_i64},
                    "1596807002": {"date": 1_596_807_002_i64}
                },
                "splits": {
                    "1598880600": {"date": 1_598_880_600_i64, "numerator": 4,
                                   "denominator": 1, "splitRatio": "4:1"},
                    "1598880601": {"date": 1_598_880_601_i64, "numerator": 0,
                                   "denominator": 1, "splitRatio": "0:1"}
                }
            },
            "indicators": {"quote": [{"open": [504.05, 127.58], "high": [505.77, 131.0],
                "low": [498.31, 126.0], "close": [499.23, 129.04], "volume": [46_907_500, 225_702_700]}]}
        }], "error": null}})))
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(path("/v8/finance/chart/NOPE"))
        .respond_with(ResponseTemplate::new(404).set_body_json(json!({"chart": {"result": null,
            "error": {"code": "Not Found", "description": "No data found, symbol may be delisted"}}})))
        .mount(&server)
        .await;
    Mock::given(path("/v8/finance/chart/DOWN"))
        .respond_with(ResponseTemplate::new(502))
        .mount(&server)
        .await;
    let m = yahoo(&server);
    let (from, to) = (day("2020-08-01"), day("2020-09-30"));
    let events = m.corporate_events(&sym("AAPL"), from, to).await.unwrap();
    assert_eq!(
        kinds(&events),
        vec![
            (
                "2020-08-07".into(),
                EventKind::Dividend {
                    amount: dec("0.82")
                },
                "yahoo".into()
            ),
            (
                "2020-08-31".into(),
                EventKind::Split {
                    ratio: SplitRatio::new(dec("4"), dec("1")).unwrap()
                },
                "yahoo".into()
            ),
        ]
    );
    assert!(
        m.corporate_events(&sym("NOPE"), from, to)
            .await
            .unwrap()
            .is_empty()
    );
    let down = m
        .corporate_events(&sym("DOWN"), from, to)
        .await
        .unwrap_err();
    assert!(matches!(down, MarketError::Unavailable { .. }), "{down:?}");
}

#[tokio::test]
async fn alpaca_corporate_actions_follow_pages() {
    let (logs, _guard) = Logs::capture();
    let server = MockServer::start().await;
    let first = json!({"corporate_actions": {
        "forward_splits": [{"id": "a1", "symbol": "NVDA", "cusip": "67066G104", "new_rate": 10,
            "old_rate": 1, "process_date": "2024-06-10", "ex_date": "2024-06-10",
            "record_date": "2024-06-06", "payable_date": "2024-06-07"}],
        "cash_dividends": [{"id": "a2", "symbol": "NVDA", "cusip": "67066G104", "rate": 0.01,
            "special": false, "foreign": false, "process_date": "2024-06-11",
            "ex_date": "2024-06-11", "record_date": "2024-06-11", "payable_date": "2024-06-28"}]
    }, "next_page_token": "page-2"});
    let second = json!({"corporate_actions": {
        "reverse_splits": [{"id": "a3", "symbol": "NVDA", "new_rate": 1, "old_rate": 1,
            "ex_date": "2024-06-20"}],
        "cash_dividends": [{"id": "a4", "symbol": "NVDA", "rate": 0.01, "ex_date": "not a date"},
                           {"id": "a5", "symbol": "AMD", "rate": 0.5, "ex_date": "2024-06-12"}]
    }, "next_page_token": null});
    Mock::given(method("GET"))
        .and(path("/v1/corporate-actions"))
        .and(query_param("symbols", "NVDA"))
        .and(query_param(
            "types",
            "forward_split,reverse_split,cash_dividend",
        ))
        .and(query_param("page_token", "page-2"))
        .and(header("APCA-API-SECRET-KEY", ALPACA_SECRET))
        .respond_with(ResponseTemplate::new(200).set_body_json(second))
        .expect(1)
        .with_priority(1)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/v1/corporate-actions"))
        .and(query_param("symbols", "NVDA"))
        .respond_with(ResponseTemplate::new(200).set_body_json(first))
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(path("/v1/corporate-actions"))
        .and(query_param("symbols", "MSFT"))
        .respond_with(ResponseTemplate::new(403).set_body_json(json!({"message": "forbidden."})))
        .mount(&server)
        .await;
    let m = alpaca(&server);
    let (from, to) = (day("2024-06-01"), day("2024-06-30"));
    let events = m.corporate_events(&sym("NVDA"), from, to).await.unwrap();
    assert_eq!(
        kinds(&events),
        vec![
            (
                "2024-06-10".into(),
                EventKind::Split {
                    ratio: SplitRatio::new(dec("10"), dec("1")).unwrap()
                },
                "alpaca".into()
            ),
            (
                "2024-06-11".into(),
                EventKind::Dividend {
                    amount: dec("0.01")
                },
                "alpaca".into()
            ),
        ]
    );
    // Crypto has no corporate actions: nothing asked.
    assert!(
        m.corporate_events(&sym("BTC-USD"), from, to)
            .await
            .unwrap()
            .is_empty()
    );
    let refused = m
        .corporate_events(&sym("MSFT"), from, to)
        .await
        .unwrap_err();
    assert!(refused.to_string().contains("403"), "{refused}");
    let text = logs.text();
    assert!(!text.contains(ALPACA_SECRET), "secret in logs: {text}");
}

#[tokio::test]
async fn the_chain_merges_providers_and_survives_an_outage() {
    let fh = MockServer::start().await;
    let yh = MockServer::start().await;
    Mock::given(path("/calendar/earnings"))
        .respond_with(
            ResponseTemplate::new(200).set_body_json(json!({"earningsCalendar": [
            {"date": "2020-10-29", "hour": "amc", "symbol": "AAPL"}]})),
        )
        .mount(&fh)
        .await;
    Mock::given(path("/v8/finance/chart/AAPL"))
        .respond_with(
            ResponseTemplate::new(200).set_body_json(json!({"chart": {"result": [{
            "meta": {"regularMarketPrice": 129.04},
            "events": {"splits": {"1598880600": {"date": 1_598_880_600_i64, "numerator": 4,
                "denominator": 1, "splitRatio": "4:1"}}}
        }], "error": null}})),
        )
        .mount(&yh)
        .await;
    let chain = ProviderChain::new(
        vec![Arc::new(finnhub(&fh)), Arc::new(yahoo(&yh))],
        Arc::new(SystemClock),
    );
    assert!(chain.has_events());
    let (from, to) = (day("2020-08-01"), day("2020-11-30"));
    let events = chain
        .corporate_events(&sym("AAPL"), from, to)
        .await
        .unwrap();
    let names: Vec<_> = kinds(&events)
        .into_iter()
        .map(|(d, k, s)| format!("{d} {} {s}", k.name()))
        .collect();
    assert_eq!(
        names,
        ["2020-08-31 split yahoo", "2020-10-29 earnings finnhub"]
    );

    // Finnhub down: Yahoo's events still come; both down: an error.
    fh.reset().await;
    Mock::given(path("/calendar/earnings"))
        .respond_with(ResponseTemplate::new(503))
        .mount(&fh)
        .await;
    let events = chain
        .corporate_events(&sym("AAPL"), from, to)
        .await
        .unwrap();
    assert_eq!(events.len(), 1);
    yh.reset().await;
    Mock::given(path("/v8/finance/chart/AAPL"))
        .respond_with(ResponseTemplate::new(500))
        .mount(&yh)
        .await;
    assert!(
        chain
            .corporate_events(&sym("AAPL"), from, to)
            .await
            .is_err()
    );
}
