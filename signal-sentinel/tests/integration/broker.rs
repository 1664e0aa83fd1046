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

mod service {
    //! Linking, syncing, item errors and a `SECRET_KEY` rotation through the service layer, on
    //! an SQLite file that two "processes" (before and after the rotation) share.

    use std::sync::Arc;

    use rust_decimal::dec;
    use serde_json::json;
    use signal_sentinel::Secret;
    use signal_sentinel::clock::SystemClock;
    use signal_sentinel::config::Settings;
    use signal_sentinel::domain::ConnectionStatus;
    use signal_sentinel::market::SimulatedMarket;
    use signal_sentinel::service::{Principal, ServiceError, Services};
    use signal_sentinel::store::{BrokerStore, HoldingStore, SeaStore, Store};
    use wiremock::matchers::{body_json, method, path};
    use wiremock::{Mock, MockServer, ResponseTemplate};

    use super::{CLIENT_ID, HOLDINGS, ITEM_LOGIN_REQUIRED, SECRET};

    const OLD_KEY: &str = "old-secret-key-0123456789abcdef-0123456789";
    const NEW_KEY: &str = "new-secret-key-fedcba9876543210-9876543210";
    const ACCESS: &str = "access-sandbox-5e1b4b5a-aaaa-bbbb-cccc-000000000001";

    async fn services(
        dir: &std::path::Path,
        plaid: &MockServer,
        key: &str,
        previous: Option<&str>,
    ) -> (Services, Arc<SeaStore>) {
        let url = format!("sqlite://{}/s.db?mode=rwc", dir.display());
        let mut vars = vec![
            ("DATABASE_URL", url.as_str()),
            ("SECRET_KEY", key),
            ("PLAID_CLIENT_ID", CLIENT_ID),
            ("PLAID_SECRET", SECRET),
        ];
        let uri = plaid.uri();
        vars.push(("PLAID_BASE_URL", uri.as_str()));
        if let Some(p) = previous {
            vars.push(("SECRET_KEY_PREVIOUS", p));
        }
        let settings = Settings::from_vars(vars).unwrap();
        let store = Arc::new(SeaStore::open(&settings.database_url).await.unwrap());
        let dyn_store: Arc<dyn Store> = store.clone();
        let clock = Arc::new(SystemClock);
        let market = Arc::new(SimulatedMarket::new(1, clock.clone()));
        let services =
            Services::from_settings(&settings, dyn_store, clock, market, Vec::new()).unwrap();
        (services, store)
    }

    async fn plaid_mock() -> MockServer {
        let server = MockServer::start().await;
        Mock::given(method("POST"))
            .and(path("/item/public_token/exchange"))
            .respond_with(ResponseTemplate::new(200).set_body_json(json!({
                "access_token": ACCESS,
                "item_id": "4z9LPae1nRHWy8pvg9jrsgbRP4ZNQvIdbLq7g",
                "request_id": "Aim3b"
            })))
            .mount(&server)
            .await;
        Mock::given(method("POST"))
            .and(path("/investments/holdings/get"))
            .and(body_json(json!({"access_token": ACCESS})))
            .respond_with(ResponseTemplate::new(200).set_body_string(HOLDINGS))
            .mount(&server)
            .await;
        server
    }

    async fn ann(services: &Services) -> Principal {
        let user = services
            .register(
                "ann@example.com",
                Secret::new("correct horse battery"),
                None,
            )
            .await
            .unwrap();
        Principal {
            user: user.id,
            api_key: None,
        }
    }

    #[tokio::test]
    async fn links_syncs_and_keeps_holdings_through_an_item_error() {
        let dir = tempfile::tempdir().unwrap();
        let plaid = plaid_mock().await;
        let (services, store) = services(dir.path(), &plaid, OLD_KEY, None).await;
        let ann = ann(&services).await;

        let err = services.link_brokerage(ann, "  ", None).await.unwrap_err();
        assert!(matches!(&err, ServiceError::Invalid { field, .. } if field == "public_token"));

        let report = services
            .link_brokerage(ann, "public-sandbox-1", Some("Houndstooth Bank"))
            .await
            .unwrap();
        assert_eq!(report.positions, 4);
        assert_eq!(report.cash, dec!(12345.67));
        assert_eq!(report.skipped.len(), 3);
        assert_eq!(report.connection.status, ConnectionStatus::Active);
        assert_eq!(
            report.connection.institution.as_deref(),
            Some("Houndstooth Bank")
        );
        let stored = store.list_connections(ann.user).await.unwrap();
        assert!(!stored[0].sealed_token.contains(ACCESS), "sealed at rest");
        assert!(!format!("{report:?}").contains(ACCESS));
        let portfolio = services.portfolio(ann).await.unwrap();
        assert_eq!(portfolio.positions.len(), 4);

        // The brokerage now wants a new sign-in: holdings stay, the status says what to do.
        plaid.reset().await;
        Mock::given(method("POST"))
            .and(path("/investments/holdings/get"))
            .respond_with(ResponseTemplate::new(400).set_body_string(ITEM_LOGIN_REQUIRED))
            .mount(&plaid)
            .await;
        let reports = services.sync_brokerage(ann).await.unwrap();
        let view = &reports[0].connection;
        assert_eq!(view.status, ConnectionStatus::NeedsAttention);
        assert_eq!(view.error_code.as_deref(), Some("ITEM_LOGIN_REQUIRED"));
        assert!(view.action.as_deref().unwrap().contains("Reconnect"));
        assert_eq!(view.positions, 4);
        assert_eq!(store.list_holdings(ann.user).await.unwrap().len(), 4);
        // Scheduled syncs leave it alone until the user repairs it.
        let due = services
            .sync_due_brokerage(chrono::Duration::hours(6))
            .await
            .unwrap();
        assert!(due.is_empty());
        // Repair: a link token in update mode carries the access token.
        Mock::given(method("POST"))
            .and(path("/link/token/create"))
            .and(wiremock::matchers::body_partial_json(json!({"access_token": ACCESS})))
            .respond_with(ResponseTemplate::new(200).set_body_json(json!({
                "link_token": "link-sandbox-update", "expiration": "2026-11-29T12:00:00Z", "request_id": "r"
            })))
            .mount(&plaid)
            .await;
        let token = services
            .broker_link_token(ann, Some(view.id))
            .await
            .unwrap();
        assert_eq!(token.link_token, "link-sandbox-update");

        // Removing the link revokes the token and removes its positions.
        Mock::given(method("POST"))
            .and(path("/item/remove"))
            .and(body_json(json!({"access_token": ACCESS})))
            .respond_with(ResponseTemplate::new(200).set_body_json(json!({"request_id": "r"})))
            .expect(1)
            .mount(&plaid)
            .await;
        services.remove_brokerage(ann, view.id).await.unwrap();
        assert!(store.list_holdings(ann.user).await.unwrap().is_empty());
    }

    #[tokio::test]
    async fn a_secret_key_rotation_loses_no_linked_account() {
        let dir = tempfile::tempdir().unwrap();
        let plaid = plaid_mock().await;
        let (before, store) = services(dir.path(), &plaid, OLD_KEY, None).await;
        let ann = ann(&before).await;
        before
            .link_brokerage(ann, "public-sandbox-1", None)
            .await
            .unwrap();
        let sealed_before = store.list_connections(ann.user).await.unwrap()[0]
            .sealed_token
            .clone();
        drop(before);

        // Rotated as documented: new SECRET_KEY, the old one as SECRET_KEY_PREVIOUS, restart.
        let (rotating, store) = services(dir.path(), &plaid, NEW_KEY, Some(OLD_KEY)).await;
        let report = rotating.reseal_broker_tokens().await.unwrap();
        assert_eq!((report.resealed, report.unreadable), (1, 0));
        assert_ne!(
            store.list_connections(ann.user).await.unwrap()[0].sealed_token,
            sealed_before
        );
        drop(rotating);

        // Later SECRET_KEY_PREVIOUS is dropped: the link still syncs.
        let (after, _) = services(dir.path(), &plaid, NEW_KEY, None).await;
        assert_eq!(after.reseal_broker_tokens().await.unwrap().resealed, 0);
        let reports = after.sync_brokerage(ann).await.unwrap();
        assert_eq!(reports[0].connection.status, ConnectionStatus::Active);
        assert_eq!(reports[0].positions, 4);
    }

    #[tokio::test]
    async fn a_rotation_without_the_previous_key_keeps_the_link_for_recovery() {
        let dir = tempfile::tempdir().unwrap();
        let plaid = plaid_mock().await;
        let (before, _) = services(dir.path(), &plaid, OLD_KEY, None).await;
        let ann = ann(&before).await;
        before
            .link_brokerage(ann, "public-sandbox-1", None)
            .await
            .unwrap();
        drop(before);

        let (forgot, store) = services(dir.path(), &plaid, NEW_KEY, None).await;
        let report = forgot.reseal_broker_tokens().await.unwrap();
        assert_eq!((report.resealed, report.unreadable), (0, 1));
        let views = forgot.broker_connections(ann).await.unwrap();
        assert_eq!(views[0].status, ConnectionStatus::NeedsAttention);
        assert!(
            views[0]
                .action
                .as_deref()
                .unwrap()
                .contains("SECRET_KEY_PREVIOUS"),
            "{views:?}"
        );
        assert_eq!(views[0].positions, 4, "holdings kept");
        assert_eq!(store.list_connections(ann.user).await.unwrap().len(), 1);
        drop(forgot);

        // The operator sets SECRET_KEY_PREVIOUS after all: recovered.
        let (recovered, _) = services(dir.path(), &plaid, NEW_KEY, Some(OLD_KEY)).await;
        assert_eq!(recovered.reseal_broker_tokens().await.unwrap().resealed, 1);
        let reports = recovered.sync_brokerage(ann).await.unwrap();
        assert_eq!(reports[0].connection.status, ConnectionStatus::Active);
    }

    #[tokio::test]
    async fn without_plaid_linking_says_how_to_configure_it() {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}/s.db?mode=rwc", dir.path().display());
        let settings =
            Settings::from_vars([("DATABASE_URL", url.as_str()), ("SECRET_KEY", OLD_KEY)]).unwrap();
        let store: Arc<dyn Store> = Arc::new(SeaStore::open(&settings.database_url).await.unwrap());
        let clock = Arc::new(SystemClock);
        let market = Arc::new(SimulatedMarket::new(1, clock.clone()));
        let services =
            Services::from_settings(&settings, store, clock, market, Vec::new()).unwrap();
        let ann = ann(&services).await;
        let err = services.broker_link_token(ann, None).await.unwrap_err();
        assert!(err.to_string().contains("PLAID_CLIENT_ID"), "{err}");
        assert!(
            services
                .sync_due_brokerage(chrono::Duration::hours(1))
                .await
                .unwrap()
                .is_empty()
        );
    }
}
