//! Brokerage connections over HTTP against a mock Plaid answering in its real shapes.

use reqwest::{Method, StatusCode};
use serde_json::json;
use wiremock::matchers::{body_partial_json, method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

use crate::harness::{Options, TestServer, error_code, replay_market};

const CLIENT_ID: &str = "5f1a0000c0ffee0000000000";
const SECRET: &str = "plaid-secret-0123456789abcdef";
const ACCESS: &str = "access-sandbox-de3ce8ef-33f8-452c-a685-8671031fc0f6";
const HOLDINGS: &str = include_str!("../../../signal-sentinel/tests/fixtures/plaid/holdings.json");
const ITEM_LOGIN_REQUIRED: &str =
    include_str!("../../../signal-sentinel/tests/fixtures/plaid/item_login_required.json");

async fn plaid() -> MockServer {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/link/token/create"))
        .and(body_partial_json(json!({"products": ["investments"]})))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "expiration": "2026-11-29T12:56:34Z",
            "link_token": "link-sandbox-af1a0311-da53-4636-b754-dd15cc058176",
            "request_id": "XQVgFigpGHXkb0b"
        })))
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path("/item/public_token/exchange"))
        .and(body_partial_json(
            json!({"public_token": "public-sandbox-ok"}),
        ))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "access_token": ACCESS,
            "item_id": "M5eVJqLnv3tbzdngLDp9FL5OlDNxlNhlE55op",
            "request_id": "Aim3b"
        })))
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path("/item/public_token/exchange"))
        .respond_with(ResponseTemplate::new(400).set_body_json(json!({
            "display_message": null,
            "error_code": "INVALID_PUBLIC_TOKEN",
            "error_message": "provided public token is expired",
            "error_type": "INVALID_INPUT",
            "request_id": "r"
        })))
        .mount(&server)
        .await;
    server
}

async fn start(plaid: &MockServer) -> TestServer {
    TestServer::start_with(Options {
        market: Some(replay_market()),
        vars: vec![
            ("PLAID_CLIENT_ID", CLIENT_ID.into()),
            ("PLAID_SECRET", SECRET.into()),
            ("PLAID_BASE_URL", plaid.uri()),
        ],
        ..Options::default()
    })
    .await
    .unwrap()
}

#[tokio::test]
async fn without_plaid_linking_answers_503_and_says_what_to_set() {
    let server = TestServer::start().await;
    let token = server.user("ann@example.com").await;
    let r = server
        .post("/api/portfolio/link-token", &token, json!({}))
        .await;
    assert_eq!(r.status, StatusCode::SERVICE_UNAVAILABLE, "{}", r.text);
    assert_eq!(error_code(&r), "unavailable");
    assert!(r.text.contains("PLAID_CLIENT_ID"), "{}", r.text);
    assert!(r.text.contains("CSV"), "{}", r.text);
    let list = server.get("/api/portfolio/connections", &token).await;
    assert_eq!(list.body, json!([]));
}

#[tokio::test]
async fn link_sync_item_error_repair_and_remove() {
    let plaid = plaid().await;
    let server = start(&plaid).await;
    let ann = server.user("ann@example.com").await;
    let bob = server.user("bob@example.com").await;

    let token = server
        .post("/api/portfolio/link-token", &ann, json!({}))
        .await;
    assert_eq!(token.status, StatusCode::OK, "{}", token.text);
    assert_eq!(
        token.body["link_token"],
        "link-sandbox-af1a0311-da53-4636-b754-dd15cc058176"
    );

    for (body, field) in [
        (json!({"public_token": ""}), "public_token"),
        (json!({"public_token": "x".repeat(201)}), "public_token"),
        (
            json!({"public_token": "public-sandbox-spent"}),
            "public_token",
        ),
        (
            json!({"public_token": "public-sandbox-ok", "institution": "y".repeat(101)}),
            "institution",
        ),
    ] {
        let r = server.post("/api/portfolio/connections", &ann, body).await;
        assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.text);
        assert_eq!(r.body["error"]["fields"][0]["field"], field, "{}", r.text);
    }

    Mock::given(method("POST"))
        .and(path("/investments/holdings/get"))
        .respond_with(ResponseTemplate::new(200).set_body_string(HOLDINGS))
        .up_to_n_times(1)
        .mount(&plaid)
        .await;
    let linked = server
        .post(
            "/api/portfolio/connections",
            &ann,
            json!({"public_token": "public-sandbox-ok", "institution": "Houndstooth Bank"}),
        )
        .await;
    assert_eq!(linked.status, StatusCode::OK, "{}", linked.text);
    assert_eq!(linked.body["positions"], 4);
    assert_eq!(linked.body["cash"], "12345.67");
    assert_eq!(linked.body["connection"]["status"], "active");
    assert_eq!(linked.body["skipped"].as_array().unwrap().len(), 3);
    let id = linked.body["connection"]["id"].as_i64().unwrap();

    let portfolio = server.get("/api/portfolio", &ann).await;
    let accounts: Vec<_> = portfolio.body["positions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| {
            (
                p["symbol"].as_str().unwrap(),
                p["account"].as_str().unwrap(),
                p["source"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        accounts,
        [
            ("AAPL", "Plaid 401k ••6666", "plaid"),
            ("AAPL", "Plaid IRA ••5555", "plaid"),
            ("DOGE-USD", "Plaid IRA ••5555", "plaid"),
            ("MSFT", "Plaid 401k ••6666", "plaid"),
        ]
    );

    // Now the brokerage wants a new sign-in.
    Mock::given(method("POST"))
        .and(path("/investments/holdings/get"))
        .respond_with(ResponseTemplate::new(400).set_body_string(ITEM_LOGIN_REQUIRED))
        .mount(&plaid)
        .await;
    let synced = server.post("/api/portfolio/sync", &ann, json!({})).await;
    assert_eq!(synced.status, StatusCode::OK, "{}", synced.text);
    let connection = &synced.body[0]["connection"];
    assert_eq!(connection["status"], "needs_attention");
    assert_eq!(connection["error_code"], "ITEM_LOGIN_REQUIRED");
    assert!(connection["action"].as_str().unwrap().contains("Reconnect"));
    assert_eq!(connection["positions"], 4, "positions kept");
    let status = server.get("/api/portfolio/connections", &ann).await;
    assert_eq!(status.body[0]["status"], "needs_attention");
    assert_eq!(status.body[0]["institution"], "Houndstooth Bank");

    // Repair: a link token in update mode.
    Mock::given(method("POST"))
        .and(path("/link/token/create"))
        .and(body_partial_json(json!({"access_token": ACCESS})))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "link_token": "link-sandbox-update", "expiration": null, "request_id": "r"
        })))
        .mount(&plaid)
        .await;
    let repair = server
        .post(
            "/api/portfolio/link-token",
            &ann,
            json!({"connection_id": id}),
        )
        .await;
    assert_eq!(
        repair.body["link_token"], "link-sandbox-update",
        "{}",
        repair.text
    );

    // Another user sees none of it.
    let theirs = server
        .post(
            "/api/portfolio/link-token",
            &bob,
            json!({"connection_id": id}),
        )
        .await;
    assert_eq!(theirs.status, StatusCode::NOT_FOUND);
    let path_ = format!("/api/portfolio/connections/{id}");
    let r = server.call(Method::DELETE, &path_, Some(&bob), None).await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    assert_eq!(
        server.get("/api/portfolio/connections", &bob).await.body,
        json!([])
    );

    // Nothing anyone received carries a credential.
    for text in [&linked.text, &synced.text, &status.text, &portfolio.text] {
        for secret in [ACCESS, SECRET, CLIENT_ID] {
            assert!(!text.contains(secret), "{text}");
        }
    }

    Mock::given(method("POST"))
        .and(path("/item/remove"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"request_id": "r"})))
        .mount(&plaid)
        .await;
    let r = server.call(Method::DELETE, &path_, Some(&ann), None).await;
    assert_eq!(r.status, StatusCode::NO_CONTENT, "{}", r.text);
    assert_eq!(
        server.get("/api/portfolio", &ann).await.body["positions"],
        json!([])
    );
}

#[tokio::test]
async fn watch_my_holdings_creates_rules_once_and_holdings_rules_are_not_backtested() {
    let server = TestServer::start().await;
    let ann = server.user("ann@example.com").await;
    let none = server.post("/api/portfolio/watch", &ann, json!({})).await;
    assert_eq!(
        none.status,
        StatusCode::UNPROCESSABLE_ENTITY,
        "{}",
        none.text
    );

    let imported = server
        .post(
            "/api/portfolio/import",
            &ann,
            json!({"csv": "symbol,quantity,cost_basis,account\nAAPL,10,150,ira\nAAPL,5,120,taxable\nKO,100,,ira\n"}),
        )
        .await;
    assert_eq!(imported.status, StatusCode::OK, "{}", imported.text);
    let bad = server
        .post(
            "/api/portfolio/watch",
            &ann,
            json!({"below_cost_percent": "100"}),
        )
        .await;
    assert_eq!(bad.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", bad.text);
    assert_eq!(
        bad.body["error"]["fields"][0]["field"],
        "below_cost_percent"
    );
    assert_eq!(
        server.get("/api/rules", &ann).await.body["items"],
        json!([]),
        "nothing created"
    );

    let watched = server
        .post(
            "/api/portfolio/watch",
            &ann,
            json!({"below_cost_percent": "10", "day_move_percent": "5"}),
        )
        .await;
    assert_eq!(watched.status, StatusCode::OK, "{}", watched.text);
    // KO has no cost basis: no cost rule for it.
    assert_eq!(
        watched.body["created"],
        json!([
            "AAPL position 10% below cost",
            "AAPL position day move >= 5%",
            "KO position day move >= 5%"
        ])
    );
    let again = server
        .post(
            "/api/portfolio/watch",
            &ann,
            json!({"below_cost_percent": "10", "day_move_percent": "5", "weight_percent": "40"}),
        )
        .await;
    assert_eq!(
        again.body["existing"].as_array().unwrap().len(),
        3,
        "{}",
        again.text
    );
    assert_eq!(
        again.body["created"],
        json!(["AAPL position weight > 40%", "KO position weight > 40%"])
    );

    let portfolio_rule = server
        .post(
            "/api/rules",
            &ann,
            json!({"text": "portfolio day change <= -3%"}),
        )
        .await;
    assert_eq!(
        portfolio_rule.status,
        StatusCode::CREATED,
        "{}",
        portfolio_rule.text
    );
    let refused = server
        .post(
            "/api/rules",
            &ann,
            json!({"text": "PORTFOLIO crosses above 100000"}),
        )
        .await;
    assert_eq!(
        refused.status,
        StatusCode::UNPROCESSABLE_ENTITY,
        "{}",
        refused.text
    );
    let backtest = server
        .post(
            "/api/rules/backtest",
            &ann,
            json!({"text": "AAPL position 10% below cost", "from": "2009-06-01", "to": "2009-07-31"}),
        )
        .await;
    assert_eq!(
        backtest.status,
        StatusCode::UNPROCESSABLE_ENTITY,
        "{}",
        backtest.text
    );
    assert!(
        backtest.text.contains("cannot be backtested"),
        "{}",
        backtest.text
    );
}
