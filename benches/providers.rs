//! One monitor cycle over 5,000 symbols (one rule each) with each real provider client
//! against a local mock server that answers as the provider does: how many HTTP requests a
//! cycle makes, and how long it takes.
//!
//! ```text
//! cargo bench -p benches --bench providers
//! ```
//!
//! Finnhub's limiter is raised for the mock; at the free tier's 60 calls a minute the same
//! cycle would take 5,000 / 60 ≈ 83 minutes, which is why the keyed batch provider (Alpaca) or
//! the chain should serve large watch lists.

use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::{TimeZone, Utc};
use serde_json::json;
use signal_sentinel::Secret;
use signal_sentinel::clock::{Clock, ManualClock};
use signal_sentinel::config::DatabaseUrl;
use signal_sentinel::market::{AlpacaMarket, FinnhubMarket, MarketData, YahooMarket};
use signal_sentinel::monitor::{Monitor, MonitorConfig};
use signal_sentinel::rules::{RuleInput, prepare_rule};
use signal_sentinel::store::{RuleStore, SeaStore};
use wiremock::matchers::{path, path_regex};
use wiremock::{Mock, MockServer, Request, Respond, ResponseTemplate};

const SYMBOLS: usize = 5_000;

/// Alpaca's snapshot answer for whatever symbols were asked.
struct Snapshots {
    at: String,
}

impl Respond for Snapshots {
    fn respond(&self, request: &Request) -> ResponseTemplate {
        let symbols = request
            .url
            .query_pairs()
            .find(|(k, _)| k == "symbols")
            .map(|(_, v)| v.into_owned())
            .unwrap_or_default();
        let body: serde_json::Map<String, serde_json::Value> = symbols
            .split(',')
            .map(|s| {
                (s.to_owned(), json!({
                    "latestTrade": {"t": self.at, "p": 101.25, "s": 100},
                    "dailyBar": {"t": self.at, "o": 100.0, "h": 102.0, "l": 99.5, "c": 101.25, "v": 100000},
                    "prevDailyBar": {"t": self.at, "o": 99.0, "h": 100.5, "l": 98.5, "c": 100.0, "v": 90000}
                }))
            })
            .collect();
        ResponseTemplate::new(200).set_body_json(body)
    }
}

fn main() {
    let runtime = benches::runtime();
    runtime.block_on(async {
        // Monday 2026-11-30, 10:00 New York.
        let now = Utc.with_ymd_and_hms(2026, 11, 30, 15, 0, 0).unwrap();
        let clock: Arc<dyn Clock> = Arc::new(ManualClock::new(now));
        let unix = now.timestamp();

        // Each server answers every request as its provider would (mounted before each run).
        let (yahoo_server, finnhub_server, alpaca_server) =
            (MockServer::start().await, MockServer::start().await, MockServer::start().await);

        let timeout = Duration::from_secs(10);
        let url = |s: &MockServer| url::Url::parse(&s.uri()).unwrap();
        let providers: Vec<(Arc<dyn MarketData>, &MockServer)> = vec![
            (Arc::new(AlpacaMarket::new(url(&alpaca_server), Secret::new("k"), Secret::new("s"), "iex", timeout).unwrap()), &alpaca_server),
            (Arc::new(FinnhubMarket::new(url(&finnhub_server), Secret::new("k"), 1_000_000, timeout).unwrap()), &finnhub_server),
            (Arc::new(YahooMarket::new(url(&yahoo_server), timeout).unwrap()), &yahoo_server),
        ];

        for (market, server) in providers {
            let dir = tempfile::tempdir().unwrap();
            let store = SeaStore::open(&DatabaseUrl::parse(&format!("sqlite://{}", dir.path().join("p.db").display())).unwrap())
                .await
                .unwrap();
            let user = benches::bench_user(&store, "bench@example.com").await;
            let rules = (0..SYMBOLS)
                .map(|i| prepare_rule(user.id, RuleInput { text: format!("S{i} price > 101"), ..RuleInput::default() }).unwrap())
                .collect();
            store.create_rules(rules).await.unwrap();
            let monitor = Monitor::new(Arc::new(store), market.clone(), clock.clone(), MonitorConfig::default());
            mount(server, market.name(), unix).await;
            let started = Instant::now();
            let report = monitor.run_once().await.unwrap();
            let elapsed = started.elapsed();
            let requests = server.received_requests().await.map_or(0, |r| r.len());
            println!(
                "{:<8} {SYMBOLS} symbols: {requests} HTTP requests, {} quotes, {} alerts, cycle {:.0?}",
                market.name(),
                report.quotes,
                report.alerts.len(),
                elapsed
            );
        }
    });
}

async fn mount(server: &MockServer, provider: &str, unix: i64) {
    match provider {
        "alpaca" => {
            Mock::given(path("/v2/stocks/snapshots"))
                .respond_with(Snapshots {
                    at: Utc.timestamp_opt(unix, 0).unwrap().to_rfc3339(),
                })
                .mount(server)
                .await;
        }
        "finnhub" => {
            Mock::given(path("/quote"))
                .respond_with(ResponseTemplate::new(200).set_body_json(json!({"c": 101.25, "d": 1.25, "dp": 1.25, "h": 102.0, "l": 99.5, "o": 100.0, "pc": 100.0, "t": unix})))
                .mount(server)
                .await;
        }
        _ => {
            Mock::given(path_regex("^/v8/finance/chart/.+$"))
                .respond_with(ResponseTemplate::new(200).set_body_json(json!({"chart": {"result": [{
                    "meta": {"regularMarketPrice": 101.25, "chartPreviousClose": 100.0, "regularMarketTime": unix,
                             "regularMarketDayHigh": 102.0, "regularMarketDayLow": 99.5, "regularMarketVolume": 100000},
                    "timestamp": [unix], "indicators": {"quote": [{"open": [100.0], "high": [102.0], "low": [99.5], "close": [101.25], "volume": [100000]}]}
                }], "error": null}})))
                .mount(server)
                .await;
        }
    }
}
