//! The HTTP API end to end: a server on a loopback port (port 0) over a temporary SQLite
//! database — and PostgreSQL too when `SIGNAL_SENTINEL_TEST_POSTGRES_URL` names a server —
//! with a replayed or mocked market.

mod harness;

mod actions;
mod auth;
mod brokerage;
mod errors;
mod ownership;
mod resources;

use harness::TestServer;
use reqwest::{Method, StatusCode};
use serde_json::json;

#[tokio::test]
async fn health_answers_exactly_what_operators_expect() {
    let server = TestServer::start().await;
    let r = server.call(Method::GET, "/api/health", None, None).await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(
        r.body,
        json!({
            "name": "Signal Sentinel",
            "version": env!("CARGO_PKG_VERSION"),
            "status": "ok",
            "tagline": "Your AI-powered market watchdog."
        })
    );
    assert!(r.headers.contains_key("x-request-id"));
    let r = server
        .call(Method::GET, "/api/health/ready", None, None)
        .await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(r.body, json!({"status": "ok", "database": "ok"}));
}

#[tokio::test]
async fn a_request_id_sent_is_echoed_and_a_bad_one_replaced() {
    let server = TestServer::start().await;
    let url = format!("{}/api/health", server.base);
    let resp = server
        .http
        .get(&url)
        .header("x-request-id", "abc-123")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.headers()["x-request-id"], "abc-123");
    let resp = server
        .http
        .get(&url)
        .header("x-request-id", "no spaces <script>")
        .send()
        .await
        .unwrap();
    let id = resp.headers()["x-request-id"].to_str().unwrap().to_owned();
    assert_eq!(id.len(), 16, "{id}");
}

#[tokio::test]
async fn the_committed_spec_is_the_served_spec() {
    let committed = include_str!("../../../docs/openapi.json");
    let current = signal_sentinel_http::spec_json();
    if committed != current {
        panic!(
            "docs/openapi.json is out of date: regenerate it with \
             `cargo run -p signal-sentinel-cli -- openapi > docs/openapi.json` and commit it"
        );
    }
    let server = TestServer::start().await;
    let r = server
        .call(Method::GET, "/api/openapi.json", None, None)
        .await;
    assert_eq!(r.status, StatusCode::OK);
    let committed: serde_json::Value = serde_json::from_str(committed).unwrap();
    assert_eq!(r.body, committed);
    let docs = server.call(Method::GET, "/api/docs", None, None).await;
    assert_eq!(docs.status, StatusCode::OK);
    assert!(docs.text.contains("swagger"), "{}", &docs.text[..200]);
}

#[test]
fn every_operation_has_a_stable_readable_id_and_documents_its_errors() {
    let spec: serde_json::Value = serde_json::from_str(&signal_sentinel_http::spec_json()).unwrap();
    let mut ids = std::collections::BTreeSet::new();
    for (path, item) in spec["paths"].as_object().unwrap() {
        for (method, op) in item.as_object().unwrap() {
            let id = op["operationId"].as_str().unwrap_or_else(|| {
                panic!("{method} {path} has no operationId");
            });
            assert!(
                id.chars().all(|c| c.is_ascii_lowercase() || c == '_'),
                "{id}"
            );
            assert!(ids.insert(id.to_owned()), "duplicate operationId {id}");
            assert!(op["tags"].is_array(), "{method} {path} has no tag");
            let responses = op["responses"].as_object().unwrap();
            let public = path.starts_with("/api/health")
                || path == "/api/auth/register"
                || path == "/api/auth/login";
            if !public {
                for status in ["401", "404", "422", "429", "500"] {
                    assert!(
                        responses.contains_key(status),
                        "{method} {path} does not document {status}"
                    );
                }
            }
        }
    }
    for expected in [
        "health",
        "register",
        "login",
        "me",
        "change_password",
        "create_api_key",
        "list_api_keys",
        "revoke_api_key",
        "create_rule",
        "list_rules",
        "get_rule",
        "update_rule",
        "delete_rule",
        "enable_rule",
        "disable_rule",
        "snooze_rule",
        "backtest_rule",
        "list_alerts",
        "get_alert",
        "acknowledge_alert",
        "delete_alerts",
        "stream_alerts",
        "list_channels",
        "create_channel",
        "test_channel",
        "channel_status",
        "get_quotes",
        "get_bars",
        "monitor_status",
    ] {
        assert!(ids.contains(expected), "no operation {expected}");
    }
    let schemes = spec["components"]["securitySchemes"].as_object().unwrap();
    assert!(schemes.contains_key("BearerToken") && schemes.contains_key("ApiKeyHeader"));
}

#[tokio::test]
async fn metrics_count_requests_by_route_and_status() {
    // Without METRICS_TOKEN, metrics are not served at all.
    let off = TestServer::start().await;
    let r = off.call(Method::GET, "/metrics", None, None).await;
    assert_eq!(r.status, StatusCode::NOT_FOUND, "{}", r.text);
    assert!(r.text.contains("METRICS_TOKEN"), "{}", r.text);

    let token = "metrics-token-0123456789";
    let server = TestServer::start_with(harness::Options {
        vars: vec![("METRICS_TOKEN", token.to_owned())],
        ..harness::Options::default()
    })
    .await
    .unwrap();
    server.call(Method::GET, "/api/health", None, None).await;
    server.call(Method::GET, "/api/rules/7", None, None).await;
    for wrong in [None, Some("metrics-token-012345678"), Some("")] {
        let r = server.call(Method::GET, "/metrics", wrong, None).await;
        assert_eq!(r.status, StatusCode::UNAUTHORIZED, "{wrong:?}: {}", r.text);
        assert_eq!(r.body["error"]["code"], "unauthenticated");
        assert!(!r.text.contains("signal_sentinel_http_requests_total"));
    }
    // A user's session token is not the metrics token.
    let session = server.user("ops@example.com").await;
    let r = server.get("/metrics", &session).await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED, "{}", r.text);
    let r = server
        .call(Method::GET, "/metrics", Some(token), None)
        .await;
    assert_eq!(r.status, StatusCode::OK);
    assert!(
        r.text.contains(
            r#"signal_sentinel_http_requests_total{method="GET",route="/api/health",status="200"}"#
        ),
        "{}",
        r.text
    );
    assert!(
        r.text.contains(r#"route="/api/rules/{id}",status="401"}"#),
        "{}",
        r.text
    );
    assert!(
        r.text
            .contains("signal_sentinel_http_request_duration_seconds_bucket")
    );
}

#[tokio::test]
async fn cors_answers_configured_origins_only() {
    let server = TestServer::start_with(harness::Options {
        vars: vec![("CORS_ORIGINS", "https://dash.example.com".into())],
        ..harness::Options::default()
    })
    .await
    .unwrap();
    let preflight = |origin: &'static str| {
        server
            .http
            .request(Method::OPTIONS, format!("{}/api/rules", server.base))
            .header("origin", origin)
            .header("access-control-request-method", "POST")
            .send()
    };
    let ok = preflight("https://dash.example.com").await.unwrap();
    assert_eq!(
        ok.headers()["access-control-allow-origin"],
        "https://dash.example.com"
    );
    let other = preflight("https://evil.example.net").await.unwrap();
    assert!(!other.headers().contains_key("access-control-allow-origin"));
}

#[tokio::test]
async fn the_dashboard_is_served_from_the_binary_under_a_strict_policy() {
    let server = TestServer::start().await;
    for (path, content_type) in [
        ("/", "text/html"),
        ("/assets/app.js", "text/javascript"),
        ("/assets/style.css", "text/css"),
    ] {
        let r = server.call(Method::GET, path, None, None).await;
        assert_eq!(r.status, StatusCode::OK, "{path}");
        assert!(
            r.headers["content-type"]
                .to_str()
                .unwrap()
                .starts_with(content_type),
            "{path}"
        );
        let csp = r.headers["content-security-policy"].to_str().unwrap();
        assert!(
            csp.contains("script-src 'self'") && !csp.contains("unsafe-inline"),
            "{csp}"
        );
        assert_eq!(r.headers["x-frame-options"], "DENY");
    }
    let index = server.call(Method::GET, "/", None, None).await;
    assert!(index.text.contains("<title>Signal Sentinel</title>"));
    assert!(!index.text.contains("<script>"), "no inline script");
    let js = server.call(Method::GET, "/assets/app.js", None, None).await;
    assert!(!js.text.contains("localStorage.setItem") && !js.text.contains("innerHTML"));
}

#[tokio::test]
async fn notification_preferences_round_trip_and_are_checked() {
    let server = TestServer::start().await;
    let token = server.user("ann@example.com").await;
    let prefs = server.get("/api/channels/prefs", &token).await;
    assert_eq!(prefs.status, StatusCode::OK, "{}", prefs.text);
    assert_eq!(prefs.body["events"]["fired"], "on");
    let r = server
        .call(
            Method::PUT,
            "/api/channels/prefs",
            Some(&token),
            Some(json!({
                "events": {"fired": "on", "resolved": "silent", "digest": "off", "system": "on"},
                "quiet_hours": {"start": "22:00:00", "end": "07:00:00", "behavior": "hold"},
                "time_zone": "Europe/Paris"
            })),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    let again = server.get("/api/channels/prefs", &token).await;
    assert_eq!(again.body["events"]["resolved"], "silent");
    assert_eq!(again.body["time_zone"], "Europe/Paris");
    let bad = server
        .call(
            Method::PUT,
            "/api/channels/prefs",
            Some(&token),
            Some(json!({"events": {"fired": "loud"}, "time_zone": "Mars/Olympus"})),
        )
        .await;
    assert_eq!(bad.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", bad.text);
}
