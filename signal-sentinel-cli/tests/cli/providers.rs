//! `invest quote` and `invest providers status` against mock providers.

use serde_json::json;
use wiremock::matchers::{path, query_param};
use wiremock::{Mock, MockServer, ResponseTemplate};

use super::invest;

fn chart(price: f64) -> serde_json::Value {
    let now = chrono_now();
    json!({"chart": {"result": [{"meta": {"regularMarketPrice": price, "chartPreviousClose": 100.0, "regularMarketTime": now},
        "timestamp": [now], "indicators": {"quote": [{"open": [100.0], "high": [price], "low": [99.0], "close": [price], "volume": [1000]}]}}], "error": null}})
}

fn chrono_now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

async fn run(env: Vec<(String, String)>, args: Vec<&'static str>) -> super::Run {
    let dir = tempfile::tempdir().unwrap();
    tokio::task::spawn_blocking(move || {
        let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
        invest(dir.path(), &env, &args)
    })
    .await
    .unwrap()
}

#[tokio::test(flavor = "multi_thread")]
async fn quote_prints_each_symbol_and_its_provider() {
    let yahoo = MockServer::start().await;
    Mock::given(path("/v8/finance/chart/AAPL"))
        .respond_with(ResponseTemplate::new(200).set_body_json(chart(101.5)))
        .mount(&yahoo)
        .await;
    Mock::given(path("/v8/finance/chart/BRK-B"))
        .respond_with(ResponseTemplate::new(200).set_body_json(chart(99.0)))
        .mount(&yahoo)
        .await;
    Mock::given(path("/v8/finance/chart/NOPE"))
        .respond_with(ResponseTemplate::new(404).set_body_json(json!({"chart": {"result": null, "error": {"code": "Not Found", "description": "No data found, symbol may be delisted"}}})))
        .mount(&yahoo)
        .await;
    let env = vec![
        ("YAHOO_BASE_URL".to_owned(), yahoo.uri()),
        (
            "SECRET_KEY".to_owned(),
            "0123456789abcdef0123456789abcdef".to_owned(),
        ),
    ];
    let out = run(env.clone(), vec!["quote", "AAPL", "brk.b", "NOPE"]).await;
    assert_eq!(out.code, 0, "{}", out.stderr);
    let lines: Vec<&str> = out.stdout.lines().collect();
    assert!(
        lines[1].starts_with("AAPL")
            && lines[1].contains("101.5")
            && lines[1].contains("+1.50%")
            && lines[1].ends_with("yahoo"),
        "{}",
        out.stdout
    );
    assert!(
        lines[2].starts_with("BRK.B") && lines[2].contains("-1.00%"),
        "{}",
        out.stdout
    );
    assert!(
        lines[3].starts_with("NOPE") && lines[3].ends_with("no data"),
        "{}",
        out.stdout
    );

    let out = run(env, vec!["quote", "AAPL", "--json"]).await;
    let body: serde_json::Value = serde_json::from_str(&out.stdout).unwrap();
    assert_eq!(body["quotes"][0]["source"], "yahoo");
    assert_eq!(body["quotes"][0]["price"], "101.5");

    let key = vec![(
        "SECRET_KEY".to_owned(),
        "0123456789abcdef0123456789abcdef".to_owned(),
    )];
    let out = run(key, vec!["quote", "AA$PL"]).await;
    assert_eq!(out.code, 1);
    assert!(
        out.stderr
            .contains("error: symbols: invalid symbol \"AA$PL\""),
        "{}",
        out.stderr
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn providers_status_asks_each_provider_and_shows_no_key() {
    let (finnhub, yahoo) = (MockServer::start().await, MockServer::start().await);
    Mock::given(path("/quote"))
        .and(query_param("symbol", "AAPL"))
        .respond_with(
            ResponseTemplate::new(401).set_body_json(json!({"error": "Invalid API key."})),
        )
        .mount(&finnhub)
        .await;
    Mock::given(path("/v8/finance/chart/AAPL"))
        .respond_with(ResponseTemplate::new(200).set_body_json(chart(101.5)))
        .mount(&yahoo)
        .await;
    let key = "finnhub-secret-token-42";
    let env = vec![
        ("FINNHUB_API_KEY".to_owned(), key.to_owned()),
        ("FINNHUB_BASE_URL".to_owned(), finnhub.uri()),
        ("YAHOO_BASE_URL".to_owned(), yahoo.uri()),
        (
            "SECRET_KEY".to_owned(),
            "0123456789abcdef0123456789abcdef".to_owned(),
        ),
        ("LOG_LEVEL".to_owned(), "trace".to_owned()),
    ];
    let out = run(env, vec!["providers", "status"]).await;
    assert_eq!(out.code, 0, "{}", out.stderr);
    let lines: Vec<&str> = out.stdout.lines().collect();
    assert!(
        lines[1].starts_with("finnhub   FAIL")
            && lines[1].contains("the API key was refused (HTTP 401)"),
        "{}",
        out.stdout
    );
    assert!(
        lines[2].starts_with("yahoo     ok") && lines[2].contains("AAPL 101.5"),
        "{}",
        out.stdout
    );
    assert!(
        !out.stdout.contains(key) && !out.stderr.contains(key),
        "the key leaked:\n{}\n{}",
        out.stdout,
        out.stderr
    );
}
