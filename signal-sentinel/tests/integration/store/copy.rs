//! `SeaStore::copy_to`: everything from an SQLite database into an empty one (another SQLite,
//! or PostgreSQL), ids kept, sequences moved on, a non-empty target refused.

use signal_sentinel::domain::{
    CycleWrite, HoldingSource, NewBrokerConnection, NewHolding, Sample, SymbolSamples,
};
use signal_sentinel::store::{
    AlertStore, BrokerStore, HoldingStore, MonitorStore, RuleStore, StoreError, UserStore,
};

use crate::helpers::{
    Backend, TestDb, at, dec, new_alert, seed_console_channel, seed_rule, seed_user, symbol,
};

async fn copies_everything_into_an_empty_database(target: &TestDb) {
    let source = TestDb::new(Backend::SqliteMemory).await.unwrap();
    let s = &source.store;
    let ann = seed_user(s, "ann@example.com").await;
    let bob = seed_user(s, "bob@example.com").await;
    s.delete_user(bob.id).await.unwrap(); // a gap in the ids
    let carl = seed_user(s, "carl@example.com").await;
    let rule = seed_rule(s, &ann, "AAPL").await;
    seed_console_channel(s, &ann).await;
    let alerts = s
        .commit_cycle(CycleWrite {
            at: Some(at("2026-11-27T15:00:00Z")),
            alerts: vec![new_alert(&rule, 1, "201.5", at("2026-11-27T15:00:00Z"))],
            samples: vec![SymbolSamples {
                symbol: symbol("AAPL"),
                samples: vec![Sample {
                    at: at("2026-11-27T15:00:00Z"),
                    price: dec("201.5"),
                    high: Some(dec("203")),
                    low: Some(dec("199.25")),
                }],
            }],
            ..CycleWrite::default()
        })
        .await
        .unwrap();
    s.upsert_holding(NewHolding {
        owner: carl.id,
        account: "ira".into(),
        symbol: symbol("MSFT"),
        quantity: dec("10.5"),
        cost_basis: Some(dec("123.4567")),
        source: HoldingSource::Csv,
        connection: None,
    })
    .await
    .unwrap();
    s.create_connection(NewBrokerConnection {
        owner: carl.id,
        provider: "plaid".into(),
        item_id: "item-1".into(),
        institution: None,
        sealed_token: "v1.k.n.c".into(),
    })
    .await
    .unwrap();

    let report = s.copy_to(&target.store).await.unwrap();
    let rows: std::collections::HashMap<_, _> = report.tables.iter().cloned().collect();
    assert_eq!(rows["users"], 2);
    assert_eq!(rows["alerts"], 1);
    assert_eq!(rows["deliveries"], 1);
    assert_eq!(rows["symbol_samples"], 1);
    let t = &target.store;
    assert_eq!(
        t.get_user(carl.id).await.unwrap().email,
        carl.email,
        "ids kept"
    );
    assert_eq!(t.get_alert(alerts[0].id).await.unwrap().price, dec("201.5"));
    assert_eq!(t.list_deliveries(alerts[0].id).await.unwrap().len(), 1);
    assert_eq!(
        t.list_holdings(carl.id).await.unwrap()[0].cost_basis,
        Some(dec("123.4567")),
        "decimals exact"
    );
    assert_eq!(
        t.list_connections(carl.id).await.unwrap()[0].sealed_token,
        "v1.k.n.c"
    );
    assert_eq!(t.count_rules(ann.id).await.unwrap(), 1);
    // New rows get ids after the copied ones.
    let dave = seed_user(t, "dave@example.com").await;
    assert!(dave.id.get() > carl.id.get(), "{dave:?}");
    // A second copy is refused: the target holds data.
    assert!(matches!(
        s.copy_to(t).await,
        Err(StoreError::Conflict { .. })
    ));
}

backend_tests!(copies_everything_into_an_empty_database);
