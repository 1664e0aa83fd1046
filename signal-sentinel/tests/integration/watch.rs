//! A user's live view of alerts (`Services::watch_alerts`, behind the API's event stream):
//! woken by the commit of alerts, it returns every alert stored since the last wake-up —
//! however many one transaction stored — and none of another user's or from before it began.

use std::sync::Arc;
use std::time::Duration;

use signal_sentinel::clock::SystemClock;
use signal_sentinel::config::Settings;
use signal_sentinel::market::SimulatedMarket;
use signal_sentinel::service::{Principal, Services};
use signal_sentinel::store::{AlertStore, Store};

use crate::helpers::{TestDb, at, new_alert, seed_rule, seed_user};

/// Longer than any test: only a signal can wake the watch.
const NO_POLL: Duration = Duration::from_secs(3600);

fn services(db: &TestDb) -> Services {
    let settings = Settings::from_vars([
        ("DATABASE_URL".to_owned(), "sqlite::memory:".to_owned()),
        ("SECRET_KEY".to_owned(), "k".repeat(40)),
    ])
    .unwrap();
    let store: Arc<dyn Store> = Arc::new(db.store.clone());
    let clock = Arc::new(SystemClock);
    let market = Arc::new(SimulatedMarket::new(1, clock.clone()));
    Services::from_settings(&settings, store, clock, market, Vec::new()).unwrap()
}

async fn a_burst_of_alerts_arrives_whole(db: &TestDb) {
    let services = services(db);
    let ann = seed_user(&db.store, "ann@example.com").await;
    let bob = seed_user(&db.store, "bob@example.com").await;
    let rule = seed_rule(&db.store, &ann, "AAPL").await;
    let bobs = seed_rule(&db.store, &bob, "AAPL").await;
    let fired = at("2026-11-30T15:00:00Z");
    db.store
        .insert_alerts(vec![new_alert(&rule, 1, "101", fired)])
        .await
        .unwrap();

    let who = Principal {
        user: ann.id,
        api_key: None,
    };
    let mut watch = services.watch_alerts(who, NO_POLL).await.unwrap();
    // More than two pages of the newest alerts (200 each) in one transaction, and one of Bob's.
    let burst: Vec<_> = (2..=451)
        .map(|episode| new_alert(&rule, episode, "102", fired))
        .collect();
    let stored = db.store.insert_alerts(burst).await.unwrap();
    db.store
        .insert_alerts(vec![new_alert(&bobs, 1, "101", fired)])
        .await
        .unwrap();
    let got = tokio::time::timeout(Duration::from_secs(20), watch.next())
        .await
        .expect("woken by the commit");
    let ids: Vec<_> = got.iter().map(|a| a.id).collect();
    let expected: Vec<_> = stored.iter().map(|a| a.id).collect();
    assert_eq!(
        ids.len(),
        450,
        "the whole burst, nothing from before or of Bob's"
    );
    assert_eq!(ids, expected, "oldest first");

    let one = db
        .store
        .insert_alerts(vec![new_alert(&rule, 452, "103", fired)])
        .await
        .unwrap();
    let got = tokio::time::timeout(Duration::from_secs(20), watch.next())
        .await
        .expect("woken again");
    assert_eq!(got.iter().map(|a| a.id).collect::<Vec<_>>(), [one[0].id]);
}

backend_tests!(a_burst_of_alerts_arrives_whole);
