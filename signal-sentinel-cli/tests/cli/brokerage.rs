//! `invest portfolio sync|link-status|unlink` against a mock Plaid; the link itself is made
//! through the library, as the dashboard's Link flow makes it through the API.

use std::sync::Arc;

use serde_json::json;
use signal_sentinel::Secret;
use signal_sentinel::clock::SystemClock;
use signal_sentinel::config::Settings;
use signal_sentinel::market::SimulatedMarket;
use signal_sentinel::service::{Principal, Services};
use signal_sentinel::store::{SeaStore, Store};
use wiremock::matchers::path;
use wiremock::{Mock, MockServer, ResponseTemplate};

const HOLDINGS: &str = include_str!("../../../signal-sentinel/tests/fixtures/plaid/holdings.json");
const ITEM_LOGIN_REQUIRED: &str =
    include_str!("../../../signal-sentinel/tests/fixtures/plaid/item_login_required.json");
const ACCESS: &str = "access-sandbox-0000-cli";

async fn cli(dir: &std::path::Path, env: &[(String, String)], args: &[&'static str]) -> super::Run {
    let (dir, env, args) = (dir.to_owned(), env.to_vec(), args.to_vec());
    tokio::task::spawn_blocking(move || {
        let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
        super::invest(&dir, &env, &args)
    })
    .await
    .unwrap()
}

async fn create_ann(dir: &std::path::Path, env: &[(String, String)]) {
    let (dir, env) = (dir.to_owned(), env.to_vec());
    let created = tokio::task::spawn_blocking(move || {
        let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
        super::invest_with_input(
            &dir,
            &env,
            &["auth", "create-user", "ann@example.com", "--password-stdin"],
            "correct horse battery\n",
        )
    })
    .await
    .unwrap();
    assert_eq!(created.code, 0, "{}", created.stderr);
}

#[tokio::test(flavor = "multi_thread")]
async fn sync_and_link_status_show_health_and_what_to_do() {
    let dir = tempfile::tempdir().unwrap();
    let plaid = MockServer::start().await;
    Mock::given(path("/item/public_token/exchange"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "access_token": ACCESS, "item_id": "item-cli", "request_id": "r"
        })))
        .mount(&plaid)
        .await;
    Mock::given(path("/investments/holdings/get"))
        .respond_with(ResponseTemplate::new(200).set_body_string(HOLDINGS))
        .up_to_n_times(2)
        .mount(&plaid)
        .await;
    let env: Vec<(String, String)> = [
        ("SECRET_KEY", "0123456789abcdef0123456789abcdef".to_owned()),
        (
            "DATABASE_URL",
            format!("sqlite://{}/ss.db?mode=rwc", dir.path().display()),
        ),
        ("PLAID_CLIENT_ID", "client".to_owned()),
        ("PLAID_SECRET", "plaid-secret-cli".to_owned()),
        ("PLAID_BASE_URL", plaid.uri()),
        ("YAHOO_BASE_URL", "http://127.0.0.1:9".to_owned()),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v))
    .collect();

    create_ann(dir.path(), &env).await;
    let none = cli(dir.path(), &env, &["portfolio", "link-status"]).await;
    assert_eq!(none.code, 0, "{}", none.stderr);
    assert!(
        none.stdout.contains("no linked brokerage"),
        "{}",
        none.stdout
    );

    let settings = Settings::from_vars(env.clone()).unwrap();
    let store: Arc<dyn Store> = Arc::new(SeaStore::open(&settings.database_url).await.unwrap());
    let clock = Arc::new(SystemClock);
    let services = Services::from_settings(
        &settings,
        store,
        clock.clone(),
        Arc::new(SimulatedMarket::new(1, clock)),
        Vec::new(),
    )
    .unwrap();
    let ann = services
        .login(
            "ann@example.com",
            Secret::new("correct horse battery"),
            None,
        )
        .await
        .unwrap();
    let ann = Principal {
        user: ann.0.id,
        api_key: None,
    };
    services
        .link_brokerage(ann, "public-sandbox-cli", Some("Houndstooth Bank"))
        .await
        .unwrap();

    let synced = cli(dir.path(), &env, &["portfolio", "sync"]).await;
    assert_eq!(synced.code, 0, "{}", synced.stderr);
    assert!(
        synced
            .stdout
            .contains("(Houndstooth Bank): 4 positions, cash 12345.67, 3 holdings left out"),
        "{}",
        synced.stdout
    );
    assert!(
        synced.stdout.contains("left out: SAP SE"),
        "{}",
        synced.stdout
    );

    let status = cli(dir.path(), &env, &["portfolio", "link-status"]).await;
    assert_eq!(status.code, 0, "{}", status.stderr);
    assert!(
        status.stdout.contains("Houndstooth Bank") && status.stdout.contains("active"),
        "{}",
        status.stdout
    );

    Mock::given(path("/investments/holdings/get"))
        .respond_with(ResponseTemplate::new(400).set_body_string(ITEM_LOGIN_REQUIRED))
        .mount(&plaid)
        .await;
    let failed = cli(dir.path(), &env, &["portfolio", "sync"]).await;
    assert_eq!(failed.code, 1, "a link needs its user: {}", failed.stdout);
    assert!(
        failed.stdout.contains("ITEM_LOGIN_REQUIRED"),
        "{}",
        failed.stdout
    );
    assert!(
        failed.stdout.contains("what to do: Choose Reconnect"),
        "{}",
        failed.stdout
    );
    let status = cli(dir.path(), &env, &["--json", "portfolio", "link-status"]).await;
    assert_eq!(status.code, 1);
    let links: serde_json::Value = serde_json::from_str(&status.stdout).unwrap();
    assert_eq!(links[0]["status"], "needs_attention");
    assert_eq!(links[0]["positions"], 4);
    let shown = cli(dir.path(), &env, &["--json", "portfolio", "show"]).await;
    let portfolio: serde_json::Value = serde_json::from_str(&shown.stdout).unwrap();
    assert_eq!(portfolio["positions"].as_array().unwrap().len(), 4, "kept");
    for run in [&synced, &failed, &status, &shown] {
        assert!(!run.stdout.contains(ACCESS) && !run.stderr.contains(ACCESS));
        assert!(!run.stderr.contains("plaid-secret-cli"));
    }

    let id = links[0]["id"].to_string();
    let id: &'static str = Box::leak(id.into_boxed_str());
    let removed = cli(dir.path(), &env, &["portfolio", "unlink", id]).await;
    assert_eq!(removed.code, 0, "{}", removed.stderr);
    let again = cli(dir.path(), &env, &["portfolio", "unlink", id]).await;
    assert_eq!(again.code, 1);
    assert_eq!(again.stderr.lines().count(), 1, "{}", again.stderr);
    assert!(again.stderr.contains("not found"), "{}", again.stderr);
}

#[tokio::test(flavor = "multi_thread")]
async fn sync_without_plaid_is_one_line_naming_the_variables() {
    let dir = tempfile::tempdir().unwrap();
    let env = vec![(
        "SECRET_KEY".to_owned(),
        "0123456789abcdef0123456789abcdef".to_owned(),
    )];
    create_ann(dir.path(), &env).await;
    let sync = cli(dir.path(), &env, &["portfolio", "sync"]).await;
    assert_eq!(sync.code, 1);
    assert_eq!(sync.stderr.lines().count(), 1, "{}", sync.stderr);
    assert!(sync.stderr.contains("PLAID_CLIENT_ID"), "{}", sync.stderr);
}
