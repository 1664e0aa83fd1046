use chrono::Duration;
use signal_sentinel::domain::{
    ConnectionStatus, HoldingSource, NewBrokerConnection, NewHolding, SyncOutcome, UserId,
};
use signal_sentinel::store::{BrokerStore, HoldingStore, StoreError, UserStore};
use signal_sentinel::time;

use crate::helpers::{TestDb, dec, seed_user, symbol};

fn connection(owner: UserId, item: &str) -> NewBrokerConnection {
    NewBrokerConnection {
        owner,
        provider: "plaid".into(),
        item_id: item.into(),
        institution: Some("ins_3".into()),
        sealed_token: format!("v1.abcd1234.{item}.sealed"),
    }
}

fn held(c: &signal_sentinel::domain::BrokerConnection, account: &str, sym: &str) -> NewHolding {
    NewHolding {
        owner: c.owner,
        account: account.into(),
        symbol: symbol(sym),
        quantity: dec("10"),
        cost_basis: Some(dec("150")),
        source: HoldingSource::Plaid,
        connection: Some(c.id),
    }
}

async fn sync_replaces_only_the_connections_holdings(db: &TestDb) {
    let store = &db.store;
    let ann = seed_user(store, "ann@example.com").await;
    let link = store
        .create_connection(connection(ann.id, "item-1"))
        .await
        .unwrap();
    assert_eq!(link.status, ConnectionStatus::Active);
    assert_eq!(link.last_synced_at, None);
    assert!(matches!(
        store.create_connection(connection(ann.id, "item-1")).await,
        Err(StoreError::Conflict { field: "item", .. })
    ));
    // A CSV position stays whatever the link does.
    store
        .upsert_holding(NewHolding {
            source: HoldingSource::Csv,
            connection: None,
            ..held(&link, "taxable", "KO")
        })
        .await
        .unwrap();
    let at = time::now();
    store
        .record_sync(
            link.id,
            SyncOutcome::Holdings(vec![
                held(&link, "IRA ••5555", "AAPL"),
                held(&link, "401k ••6666", "MSFT"),
            ]),
            at,
        )
        .await
        .unwrap();
    let symbols = |h: Vec<signal_sentinel::domain::Holding>| {
        h.into_iter()
            .map(|h| h.symbol.to_string())
            .collect::<Vec<_>>()
    };
    assert_eq!(
        symbols(store.list_holdings(ann.id).await.unwrap()),
        ["MSFT", "AAPL", "KO"]
    );
    // A failure keeps them and records why.
    store
        .record_sync(
            link.id,
            SyncOutcome::Failed {
                status: ConnectionStatus::NeedsAttention,
                code: Some("ITEM_LOGIN_REQUIRED".into()),
                message: "sign in again".into(),
            },
            at + Duration::hours(1),
        )
        .await
        .unwrap();
    let stored = store.get_connection(link.id).await.unwrap();
    assert_eq!(stored.status, ConnectionStatus::NeedsAttention);
    assert_eq!(stored.error_code.as_deref(), Some("ITEM_LOGIN_REQUIRED"));
    assert_eq!(
        stored.last_synced_at.map(time::to_storage_precision),
        Some(time::to_storage_precision(at))
    );
    assert_eq!(store.list_holdings(ann.id).await.unwrap().len(), 3);
    // The next success replaces the link's positions (MSFT sold) and clears the error.
    store
        .record_sync(
            link.id,
            SyncOutcome::Holdings(vec![held(&link, "IRA ••5555", "AAPL")]),
            at + Duration::hours(2),
        )
        .await
        .unwrap();
    assert_eq!(
        symbols(store.list_holdings(ann.id).await.unwrap()),
        ["AAPL", "KO"]
    );
    let stored = store.get_connection(link.id).await.unwrap();
    assert_eq!(
        (stored.status, stored.error_code),
        (ConnectionStatus::Active, None)
    );
    // Removing the link removes its positions only.
    store.delete_connection(link.id).await.unwrap();
    assert_eq!(symbols(store.list_holdings(ann.id).await.unwrap()), ["KO"]);
    assert!(matches!(
        store.delete_connection(link.id).await,
        Err(StoreError::NotFound { .. })
    ));
    // Deleting the account deletes its links.
    let again = store
        .create_connection(connection(ann.id, "item-2"))
        .await
        .unwrap();
    store.delete_user(ann.id).await.unwrap();
    assert!(matches!(
        store.get_connection(again.id).await,
        Err(StoreError::NotFound { .. })
    ));
}

async fn scheduled_syncs_are_claimed_once_and_skip_links_waiting_for_their_user(db: &TestDb) {
    let store = &db.store;
    let ann = seed_user(store, "ann@example.com").await;
    let fresh = store
        .create_connection(connection(ann.id, "fresh"))
        .await
        .unwrap();
    let stale = store
        .create_connection(connection(ann.id, "stale"))
        .await
        .unwrap();
    let broken = store
        .create_connection(connection(ann.id, "broken"))
        .await
        .unwrap();
    let now = time::now();
    store
        .record_sync(fresh.id, SyncOutcome::Holdings(vec![]), now)
        .await
        .unwrap();
    store
        .record_sync(
            stale.id,
            SyncOutcome::Holdings(vec![]),
            now - Duration::hours(7),
        )
        .await
        .unwrap();
    store
        .record_sync(
            broken.id,
            SyncOutcome::Failed {
                status: ConnectionStatus::NeedsAttention,
                code: None,
                message: "x".into(),
            },
            now,
        )
        .await
        .unwrap();
    let due = store
        .claim_due_connections(now, now - Duration::hours(6), now + Duration::minutes(15))
        .await
        .unwrap();
    assert_eq!(
        due.iter().map(|c| c.item_id.as_str()).collect::<Vec<_>>(),
        ["stale"]
    );
    // Claimed: another worker gets nothing until the claim lapses.
    let again = store
        .claim_due_connections(now, now - Duration::hours(6), now + Duration::minutes(15))
        .await
        .unwrap();
    assert!(again.is_empty());
    let later = now + Duration::minutes(16);
    let lapsed = store
        .claim_due_connections(
            later,
            later - Duration::hours(6),
            later + Duration::minutes(15),
        )
        .await
        .unwrap();
    assert_eq!(lapsed.len(), 1);
    // Re-sealing is compare-and-set.
    assert!(
        store
            .reseal_connection(stale.id, &stale.sealed_token, "v1.new")
            .await
            .unwrap()
    );
    assert!(
        !store
            .reseal_connection(stale.id, &stale.sealed_token, "v1.other")
            .await
            .unwrap()
    );
    assert_eq!(
        store.get_connection(stale.id).await.unwrap().sealed_token,
        "v1.new"
    );
    assert_eq!(store.all_connections().await.unwrap().len(), 3);
}

backend_tests!(
    sync_replaces_only_the_connections_holdings,
    scheduled_syncs_are_claimed_once_and_skip_links_waiting_for_their_user
);
