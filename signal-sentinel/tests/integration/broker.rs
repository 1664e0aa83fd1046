//! The Plaid client against a mock server answering in Plaid's real shapes: link token,
//! public-token exchange, holdings in several accounts with cash, crypto, an option, a fund
//! without ticker and a foreign holding, item errors, rate limits and outages.

use std::time::Duration;

use rust_decimal::dec;
use serde_json::json;
use signal_sentinel::Secret;
use signal_sentinel::broker::{BrokerError, BrokerLink, PlaidClient, PlaidConfig};
use signal_sentinel::domain::UserId;
use wiremock::matchers::{body_json, body_partial_json, header, method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

pub(crate) const CLIENT_ID: &str = "5f1a0000c0ffee0000000000";
pub(crate) const SECRET: &str = "plaid-secret-0123456789abcdef";
const ACCESS: &str = "access-sandbox-de3ce8ef-33f8-452c-a685-8671031fc0f6";

pub(crate) const HOLDINGS: &str = include_str!("../fixtures/plaid/holdings.json");
pub(crate) const ITEM_LOGIN_REQUIRED: &str =
    include_str!("../fixtures/plaid/item_login_required.json");

fn client(server: &MockServer) -> PlaidClient {
    PlaidClient::new(PlaidConfig {
        base_url: server.uri().parse().unwrap(),
        client_id: Secret::new(CLIENT_ID),
        secret: Secret::new(SECRET),
        client_name: "Signal Sentinel".into(),
        timeout: Duration::from_secs(2),
    })
    .unwrap()
}

fn plaid(path_: &str) -> wiremock::MockBuilder {
    Mock::given(method("POST"))
        .and(path(path_))
        .and(header("PLAID-CLIENT-ID", CLIENT_ID))
        .and(header("PLAID-SECRET", SECRET))
}

fn assert_no_secret(text: &str) {
    for secret in [SECRET, ACCESS, CLIENT_ID] {
        assert!(!text.contains(secret), "{text}");
    }
}

#[tokio::test]
async fn creates_link_tokens_for_new_links_and_for_repairs() {
    let server = MockServer::start().await;
    plaid("/link/token/create")
        .and(body_partial_json(json!({
            "user": {"client_user_id": "user-7"},
            "products": ["investments"],
            "country_codes": ["US"],
            "language": "en",
            "client_name": "Signal Sentinel"
        })))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "expiration": "2026-11-29T12:56:34Z",
            "link_token": "link-sandbox-af1a0311-da53-4636-b754-dd15cc058176",
            "request_id": "XQVgFigpGHXkb0b"
        })))
        .expect(1)
        .mount(&server)
        .await;
    // Update mode: the access token instead of products.
    plaid("/link/token/create")
        .and(body_partial_json(json!({"access_token": ACCESS})))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "expiration": "2026-11-29T12:56:34Z",
            "link_token": "link-sandbox-update-0001",
            "request_id": "XQVgFigpGHXkb0c"
        })))
        .expect(1)
        .mount(&server)
        .await;
    let plaid = client(&server);
    let token = plaid.create_link_token(UserId::new(7), None).await.unwrap();
    assert_eq!(
        token.link_token,
        "link-sandbox-af1a0311-da53-4636-b754-dd15cc058176"
    );
    assert_eq!(token.expiration.as_deref(), Some("2026-11-29T12:56:34Z"));
    let update = plaid
        .create_link_token(UserId::new(7), Some(&Secret::new(ACCESS)))
        .await
        .unwrap();
    assert_eq!(update.link_token, "link-sandbox-update-0001");
    let requests = server.received_requests().await.unwrap();
    let update_body: serde_json::Value = requests[1].body_json().unwrap();
    assert!(update_body.get("products").is_none(), "{update_body}");
}

#[tokio::test]
async fn exchanges_a_public_token_and_never_prints_the_access_token() {
    let server = MockServer::start().await;
    plaid("/item/public_token/exchange")
        .and(body_json(
            json!({"public_token": "public-sandbox-b0e2c4ee-a763-4df5-bfe9-46a46bce993d"}),
        ))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "access_token": ACCESS,
            "item_id": "M5eVJqLnv3tbzdngLDp9FL5OlDNxlNhlE55op",
            "request_id": "Aim3b"
        })))
        .mount(&server)
        .await;
    let exchanged = client(&server)
        .exchange_public_token("public-sandbox-b0e2c4ee-a763-4df5-bfe9-46a46bce993d")
        .await
        .unwrap();
    assert_eq!(exchanged.item_id, "M5eVJqLnv3tbzdngLDp9FL5OlDNxlNhlE55op");
    assert_eq!(exchanged.access_token.expose(), ACCESS);
    assert_no_secret(&format!("{exchanged:?} {:?}", client(&server)));
}

#[tokio::test]
async fn joins_holdings_to_securities_and_accounts() {
    let server = MockServer::start().await;
    plaid("/investments/holdings/get")
        .and(body_json(json!({"access_token": ACCESS})))
        .respond_with(ResponseTemplate::new(200).set_body_string(HOLDINGS))
        .mount(&server)
        .await;
    let holdings = client(&server)
        .holdings(&Secret::new(ACCESS))
        .await
        .unwrap();
    assert_eq!(holdings.institution_id.as_deref(), Some("ins_3"));
    let positions: Vec<_> = holdings
        .positions
        .iter()
        .map(|p| {
            (
                p.account.as_str(),
                p.symbol.as_str(),
                p.quantity,
                p.cost_basis,
            )
        })
        .collect();
    // Plaid's cost_basis is the total: per share it is divided by the quantity.
    assert_eq!(
        positions,
        [
            ("Plaid IRA ••5555", "DOGE-USD", dec!(0.01), Some(dec!(100))),
            ("Plaid 401k ••6666", "AAPL", dec!(10), Some(dec!(150))),
            ("Plaid 401k ••6666", "MSFT", dec!(20), Some(dec!(150))),
            ("Plaid IRA ••5555", "AAPL", dec!(2), Some(dec!(100))),
        ]
    );
    assert_eq!(holdings.cash, dec!(12345.67));
    let skipped: Vec<_> = holdings
        .skipped
        .iter()
        .map(|s| (s.name.as_str(), s.reason.as_str()))
        .collect();
    assert_eq!(
        skipped,
        [
            (
                "NFLX Feb 01'18 $355 Call",
                "options and other derivatives are not watched"
            ),
            ("DoubleLine Total Return Bond Fund", "no ticker symbol"),
            ("SAP SE", "held in EUR; only US-dollar holdings are watched"),
        ]
    );
}

#[tokio::test]
async fn an_item_error_says_what_the_user_does() {
    let server = MockServer::start().await;
    plaid("/investments/holdings/get")
        .respond_with(ResponseTemplate::new(400).set_body_string(ITEM_LOGIN_REQUIRED))
        .mount(&server)
        .await;
    let err = client(&server)
        .holdings(&Secret::new(ACCESS))
        .await
        .unwrap_err();
    assert!(matches!(err, BrokerError::Item { .. }), "{err:?}");
    assert_eq!(err.code(), Some("ITEM_LOGIN_REQUIRED"));
    assert!(
        err.what_to_do().contains("Reconnect"),
        "{}",
        err.what_to_do()
    );
    assert_no_secret(&format!("{err} {err:?}"));
}

#[tokio::test]
async fn a_spent_public_token_is_rejected_with_its_code() {
    let server = MockServer::start().await;
    plaid("/item/public_token/exchange")
        .respond_with(ResponseTemplate::new(400).set_body_json(json!({
            "display_message": null,
            "error_code": "INVALID_PUBLIC_TOKEN",
            "error_message": "provided public token is expired. Public tokens expire 30 minutes after creation at which point they can no longer be exchanged",
            "error_type": "INVALID_INPUT",
            "request_id": "9bkemelokbLqrJ1",
            "suggested_action": null
        })))
        .mount(&server)
        .await;
    let err = client(&server)
        .exchange_public_token("public-sandbox-old")
        .await
        .unwrap_err();
    assert_eq!(err.code(), Some("INVALID_PUBLIC_TOKEN"));
    assert!(matches!(err, BrokerError::Rejected { .. }));
    assert!(err.to_string().contains("expired"), "{err}");
    assert!(err.what_to_do().contains("link the brokerage again"));
}

#[tokio::test]
async fn rate_limits_outages_and_malformed_answers_are_unavailable_not_item_errors() {
    let server = MockServer::start().await;
    plaid("/investments/holdings/get")
        .respond_with(
            ResponseTemplate::new(429)
                .insert_header("Retry-After", "0")
                .set_body_json(json!({
                    "display_message": null,
                    "error_code": "INVESTMENTS_HOLDINGS_GET_LIMIT",
                    "error_message": "rate limit exceeded for attempts to access this item. please try again later",
                    "error_type": "RATE_LIMIT_EXCEEDED",
                    "request_id": "HNTDNrA8F1shFEW"
                })),
        )
        .expect(2) // one retry
        .mount(&server)
        .await;
    let err = client(&server)
        .holdings(&Secret::new(ACCESS))
        .await
        .unwrap_err();
    assert!(matches!(err, BrokerError::RateLimited { .. }), "{err:?}");
    assert!(err.what_to_do().contains("stay as they were"));
    drop(server);

    let server = MockServer::start().await;
    plaid("/investments/holdings/get")
        .respond_with(ResponseTemplate::new(500).set_body_json(json!({
            "error_code": "INTERNAL_SERVER_ERROR",
            "error_message": "an unexpected error occurred",
            "error_type": "API_ERROR",
            "request_id": "x"
        })))
        .expect(2)
        .mount(&server)
        .await;
    let err = client(&server)
        .holdings(&Secret::new(ACCESS))
        .await
        .unwrap_err();
    assert!(matches!(err, BrokerError::Unavailable(_)), "{err:?}");
    drop(server);

    let server = MockServer::start().await;
    plaid("/investments/holdings/get")
        .respond_with(ResponseTemplate::new(200).set_body_string("<html>maintenance</html>"))
        .mount(&server)
        .await;
    let err = client(&server)
        .holdings(&Secret::new(ACCESS))
        .await
        .unwrap_err();
    assert!(err.to_string().contains("malformed answer"), "{err}");
    assert_no_secret(&format!("{err} {err:?}"));
    drop(server);

    let server = MockServer::start().await;
    plaid("/investments/holdings/get")
        .respond_with(ResponseTemplate::new(200).set_delay(Duration::from_secs(5)))
        .mount(&server)
        .await;
    let err = client(&server)
        .holdings(&Secret::new(ACCESS))
        .await
        .unwrap_err();
    assert!(err.to_string().contains("timed out"), "{err}");
}
