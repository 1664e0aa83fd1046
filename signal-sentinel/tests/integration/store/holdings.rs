use signal_sentinel::domain::{HoldingId, HoldingSource, NewHolding, UserId};
use signal_sentinel::store::{HoldingStore, StoreError};

use crate::helpers::{TestDb, dec, seed_user, symbol};

fn position(owner: UserId, account: &str, sym: &str, qty: &str) -> NewHolding {
    NewHolding {
        owner,
        account: account.into(),
        symbol: symbol(sym),
        quantity: dec(qty),
        cost_basis: Some(dec("123.4567")),
        source: HoldingSource::Manual,
        connection: None,
    }
}

async fn round_trip_and_upsert(db: &TestDb) {
    let store = &db.store;
    let ann = seed_user(store, "ann@example.com").await;
    let first = store
        .upsert_holding(position(ann.id, "", "MSFT", "10.5"))
        .await
        .unwrap();
    assert_eq!(first.quantity, dec("10.5"));
    assert_eq!(first.cost_basis, Some(dec("123.4567")));
    store
        .upsert_holding(position(ann.id, "ira", "AAPL", "3"))
        .await
        .unwrap();
    // Same owner, account and symbol: replaced, not duplicated.
    let replaced = store
        .upsert_holding(NewHolding {
            cost_basis: None,
            source: HoldingSource::Csv,
            connection: None,
            ..position(ann.id, "", "MSFT", "0.000001")
        })
        .await
        .unwrap();
    assert_eq!(replaced.id, first.id);
    assert_eq!(replaced.quantity, dec("0.000001"));
    assert_eq!(replaced.cost_basis, None);
    assert_eq!(replaced.source, HoldingSource::Csv);

    let listed = store.list_holdings(ann.id).await.unwrap();
    let keys: Vec<_> = listed
        .iter()
        .map(|h| (h.account.as_str(), h.symbol.as_str()))
        .collect();
    assert_eq!(keys, [("", "MSFT"), ("ira", "AAPL")]);
    assert_eq!(listed[0], replaced);

    store.delete_holding(first.id).await.unwrap();
    assert_eq!(store.list_holdings(ann.id).await.unwrap().len(), 1);
}

async fn not_found(db: &TestDb) {
    let store = &db.store;
    assert!(matches!(
        store.delete_holding(HoldingId::new(1)).await.unwrap_err(),
        StoreError::NotFound {
            entity: "holding",
            ..
        }
    ));
    let err = store
        .upsert_holding(position(UserId::new(8), "", "AAPL", "1"))
        .await
        .unwrap_err();
    assert!(
        matches!(err, StoreError::MissingReference { entity: "holding" }),
        "{err:?}"
    );
}

backend_tests!(round_trip_and_upsert, not_found);
