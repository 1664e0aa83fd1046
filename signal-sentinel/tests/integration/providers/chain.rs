use std::sync::Arc;
use std::time::Duration;

use serde_json::json;
use signal_sentinel::Secret;
use signal_sentinel::clock::{Clock, ManualClock, SystemClock};
use signal_sentinel::market::{
    BreakerState, FinnhubMarket, MarketData, ProviderChain, YahooMarket,
};
use wiremock::matchers::{path, query_param};
use wiremock::{Mock, MockServer, ResponseTemplate};

use super::{TIMEOUT, base, dec, sym};

fn yahoo_chart(price: f64, time: i64) -> serde_json::Value {
    json!({"chart": {"result": [{"meta": {"regularMarketPrice": price, "chartPreviousClose": 100.0, "regularMarketTime": time},
        "timestamp": [time], "indicators": {"quote": [{"open": [100.0], "high": [price], "low": [99.0], "close": [price], "volume": [1000]}]}}], "error": null}})
}

fn finnhub(server: &MockServer) -> Arc<dyn MarketData> {
    Arc::new(FinnhubMarket::new(base(server), Secret::new("fh-key"), 6_000, TIMEOUT).unwrap())
}

fn yahoo(server: &MockServer) -> Arc<dyn MarketData> {
    Arc::new(YahooMarket::new(base(server), TIMEOUT).unwrap())
}

#[tokio::test]
async fn symbols_fall_through_to_the_next_provider() {
    let (fh, yh) = (MockServer::start().await, MockServer::start().await);
    let now = chrono::Utc::now().timestamp();
    // Finnhub knows AAPL, answers zeros for NEWIPO, and does not serve indices or crypto.
    Mock::given(path("/quote"))
        .and(query_param("symbol", "AAPL"))
        .respond_with(ResponseTemplate::new(200).set_body_json(
            json!({"c": 200.5, "h": 201, "l": 199, "o": 200, "pc": 199.5, "t": now}),
        ))
        .mount(&fh)
        .await;
    Mock::given(path("/quote"))
        .and(query_param("symbol", "NEWIPO"))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_json(json!({"c": 0, "h": 0, "l": 0, "o": 0, "pc": 0, "t": 0})),
        )
        .mount(&fh)
        .await;
    for s in ["NEWIPO", "%5EGSPC", "BTC-USD"] {
        Mock::given(path(format!("/v8/finance/chart/{s}")))
            .respond_with(ResponseTemplate::new(200).set_body_json(yahoo_chart(50.0, now)))
            .mount(&yh)
            .await;
    }
    let chain = ProviderChain::new(vec![finnhub(&fh), yahoo(&yh)], Arc::new(SystemClock));
    let mut quotes = chain
        .quotes(&[sym("AAPL"), sym("NEWIPO"), sym("^GSPC"), sym("BTC-USD")])
        .await
        .unwrap();
    quotes.sort_by(|a, b| a.symbol.cmp(&b.symbol));
    let served: Vec<_> = quotes
        .iter()
        .map(|q| (q.symbol.as_str(), q.source.as_str()))
        .collect();
    assert_eq!(
        served,
        [
            ("AAPL", "finnhub"),
            ("BTC-USD", "yahoo"),
            ("NEWIPO", "yahoo"),
            ("^GSPC", "yahoo")
        ]
    );
    let status = chain.status();
    assert_eq!((status[0].name.as_str(), status[0].calls), ("finnhub", 1));
    assert_eq!((status[1].name.as_str(), status[1].calls), ("yahoo", 1));
}

#[tokio::test]
async fn stale_quotes_are_asked_again_elsewhere_and_never_pass_as_fresh() {
    let (fh, yh) = (MockServer::start().await, MockServer::start().await);
    let now = chrono::Utc::now();
    let stale = (now - chrono::Duration::hours(3)).timestamp();
    Mock::given(path("/quote"))
        .respond_with(ResponseTemplate::new(200).set_body_json(
            json!({"c": 200.5, "h": 201, "l": 199, "o": 200, "pc": 199.5, "t": stale}),
        ))
        .mount(&fh)
        .await;
    Mock::given(path("/v8/finance/chart/AAPL"))
        .respond_with(ResponseTemplate::new(200).set_body_json(yahoo_chart(201.0, now.timestamp())))
        .mount(&yh)
        .await;
    Mock::given(path("/v8/finance/chart/MSFT"))
        .respond_with(ResponseTemplate::new(200).set_body_json(yahoo_chart(301.0, stale)))
        .mount(&yh)
        .await;
    let clock: Arc<dyn Clock> = Arc::new(ManualClock::new(now));
    let chain = ProviderChain::new(vec![finnhub(&fh), yahoo(&yh)], clock)
        .with_max_age(chrono::Duration::minutes(30));
    let quotes = chain.quotes(&[sym("AAPL"), sym("MSFT")]).await.unwrap();
    assert_eq!(quotes.len(), 1, "MSFT is stale everywhere: no data");
    assert_eq!(
        (quotes[0].price, quotes[0].source.as_str()),
        (dec("201"), "yahoo")
    );
}

#[tokio::test]
async fn the_breaker_opens_after_failures_and_closes_after_a_good_trial() {
    let (fh, yh) = (MockServer::start().await, MockServer::start().await);
    let now = chrono::Utc::now().timestamp();
    Mock::given(path("/quote"))
        .respond_with(ResponseTemplate::new(503))
        .up_to_n_times(6)
        .with_priority(1)
        .mount(&fh)
        .await;
    Mock::given(path("/quote"))
        .respond_with(ResponseTemplate::new(200).set_body_json(
            json!({"c": 200.5, "h": 201, "l": 199, "o": 200, "pc": 199.5, "t": now}),
        ))
        .mount(&fh)
        .await;
    Mock::given(path("/v8/finance/chart/AAPL"))
        .respond_with(ResponseTemplate::new(200).set_body_json(yahoo_chart(201.0, now)))
        .mount(&yh)
        .await;
    // The breaker runs on the chain's clock: the test moves it instead of sleeping.
    let clock = Arc::new(ManualClock::new(chrono::Utc::now()));
    let chain = ProviderChain::new(vec![finnhub(&fh), yahoo(&yh)], clock.clone())
        .with_breaker(3, Duration::from_secs(60));
    // Three failing cycles (each a 503 retried once): Yahoo serves, the breaker opens.
    for _ in 0..3 {
        let q = chain.quotes(&[sym("AAPL")]).await.unwrap();
        assert_eq!(q[0].source, "yahoo");
    }
    let status = &chain.status()[0];
    assert_eq!(
        (status.state, status.consecutive_failures),
        (BreakerState::Open, 3)
    );
    assert_eq!(
        status.last_error.as_deref(),
        Some("finnhub is unavailable: AAPL: HTTP 503")
    );
    // Open: Finnhub is not asked at all.
    let before = fh.received_requests().await.unwrap().len();
    chain.quotes(&[sym("AAPL")]).await.unwrap();
    assert_eq!(fh.received_requests().await.unwrap().len(), before);
    // Still open a second before the cool-down ends.
    clock.advance(chrono::Duration::seconds(59));
    assert_eq!(chain.status()[0].state, BreakerState::Open);
    // After the cool-down, one trial; it succeeds and the breaker closes.
    clock.advance(chrono::Duration::seconds(1));
    assert_eq!(chain.status()[0].state, BreakerState::HalfOpen);
    let q = chain.quotes(&[sym("AAPL")]).await.unwrap();
    assert_eq!(q[0].source, "finnhub");
    assert_eq!(chain.status()[0].state, BreakerState::Closed);
    assert!(chain.status()[0].last_ok_at.is_some());
}

#[tokio::test]
async fn a_failed_trial_opens_the_breaker_again() {
    let (fh, yh) = (MockServer::start().await, MockServer::start().await);
    Mock::given(path("/quote"))
        .respond_with(ResponseTemplate::new(500))
        .mount(&fh)
        .await;
    Mock::given(path("/v8/finance/chart/AAPL"))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_json(yahoo_chart(201.0, chrono::Utc::now().timestamp())),
        )
        .mount(&yh)
        .await;
    let clock = Arc::new(ManualClock::new(chrono::Utc::now()));
    let chain = ProviderChain::new(vec![finnhub(&fh), yahoo(&yh)], clock.clone())
        .with_breaker(1, Duration::from_secs(60));
    chain.quotes(&[sym("AAPL")]).await.unwrap();
    assert_eq!(chain.status()[0].state, BreakerState::Open);
    clock.advance(chrono::Duration::seconds(60));
    chain.quotes(&[sym("AAPL")]).await.unwrap();
    assert_eq!(
        chain.status()[0].state,
        BreakerState::Open,
        "the trial failed"
    );
    assert_eq!(chain.status()[0].failures, 2);
}

#[tokio::test]
async fn every_provider_failing_is_an_error_naming_the_last() {
    let (fh, yh) = (MockServer::start().await, MockServer::start().await);
    Mock::given(path("/quote"))
        .respond_with(ResponseTemplate::new(500))
        .mount(&fh)
        .await;
    Mock::given(path("/v8/finance/chart/AAPL"))
        .respond_with(ResponseTemplate::new(500))
        .mount(&yh)
        .await;
    let chain = ProviderChain::new(vec![finnhub(&fh), yahoo(&yh)], Arc::new(SystemClock));
    let err = chain.quotes(&[sym("AAPL")]).await.unwrap_err();
    assert_eq!(err.to_string(), "yahoo is unavailable: AAPL: HTTP 500");
}

#[tokio::test]
async fn the_monitor_reports_each_providers_state() {
    use signal_sentinel::monitor::{Monitor, MonitorConfig};
    use signal_sentinel::rules::{RuleInput, prepare_rule};
    use signal_sentinel::store::RuleStore;

    let db = crate::helpers::TestDb::new(crate::helpers::Backend::SqliteMemory)
        .await
        .unwrap();
    let user = crate::helpers::seed_user(&db.store, "ann@example.com").await;
    db.store
        .create_rule(
            prepare_rule(
                user.id,
                RuleInput {
                    text: "BTC-USD price > 1".into(),
                    ..RuleInput::default()
                },
            )
            .unwrap(),
        )
        .await
        .unwrap();
    let (fh, yh) = (MockServer::start().await, MockServer::start().await);
    Mock::given(path("/v8/finance/chart/BTC-USD"))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_json(yahoo_chart(90_000.0, chrono::Utc::now().timestamp())),
        )
        .mount(&yh)
        .await;
    let clock: Arc<dyn Clock> = Arc::new(SystemClock);
    let chain = ProviderChain::new(vec![finnhub(&fh), yahoo(&yh)], clock.clone());
    let monitor = Monitor::new(
        Arc::new(db.store.clone()),
        Arc::new(chain),
        clock,
        MonitorConfig::default(),
    );
    let report = monitor.run_once().await.unwrap();
    assert_eq!(report.alerts.len(), 1);
    assert_eq!(
        report.alerts[0].message.split(':').next(),
        Some("BTC-USD price > 1")
    );
    let providers: Vec<_> = report
        .providers
        .iter()
        .map(|p| (p.name.as_str(), p.calls, p.state))
        .collect();
    assert_eq!(
        providers,
        [
            ("finnhub", 0, BreakerState::Closed),
            ("yahoo", 1, BreakerState::Closed)
        ],
        "crypto is not Finnhub's"
    );
}
