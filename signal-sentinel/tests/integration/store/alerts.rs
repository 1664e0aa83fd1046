use signal_sentinel::domain::{
    AlertCursor, AlertId, AlertKind, AlertQuery, AlertState, NewAlert, RuleId, UserId,
};
use signal_sentinel::store::{AlertStore, RuleStore, StoreError};

use crate::helpers::{TestDb, at, dec, new_alert, seed_rule, seed_user, symbol};

async fn round_trip(db: &TestDb) {
    let store = &db.store;
    let ann = seed_user(store, "ann@example.com").await;
    let rule = seed_rule(store, &ann, "AAPL").await;
    let fired = at("2026-11-28T14:31:07.654321Z");
    let mut resolved = new_alert(&rule, 1, "99.99", at("2026-11-28T15:00:00Z"));
    resolved.kind = AlertKind::Resolved;
    let stored = store
        .insert_alerts(vec![new_alert(&rule, 1, "100.10", fired), resolved])
        .await
        .unwrap();
    assert_eq!(stored.len(), 2);
    let first = &stored[0];
    assert_eq!(first.rule_id, Some(rule.id));
    assert_eq!(first.owner, ann.id);
    assert_eq!(first.symbol, symbol("AAPL"));
    assert_eq!(first.price, dec("100.10"));
    assert_eq!(
        first.price.to_string(),
        "100.10",
        "exact decimal, scale kept"
    );
    assert_eq!(first.fired_at, fired);
    assert_eq!(first.state, AlertState::New);
    assert_eq!(first.kind, AlertKind::Fired);
    assert_eq!(&store.get_alert(first.id).await.unwrap(), first);

    store
        .set_alert_summary(first.id, "AAPL broke 100 on volume.".into())
        .await
        .unwrap();
    let ack_at = at("2026-11-28T16:00:00Z");
    let acked = store.acknowledge_alert(first.id, ack_at).await.unwrap();
    assert_eq!(acked.state, AlertState::Acknowledged);
    assert_eq!(acked.acknowledged_at, Some(ack_at));
    assert_eq!(acked.summary.as_deref(), Some("AAPL broke 100 on volume."));
    let again = store
        .acknowledge_alert(first.id, at("2026-11-29T00:00:00Z"))
        .await
        .unwrap();
    assert_eq!(
        again.acknowledged_at,
        Some(ack_at),
        "first acknowledgement kept"
    );

    // A page (on an SQLite file, read on the caller's thread rather than through the pool)
    // holds exactly what the pool reads, summary, acknowledgement and microseconds included;
    // the same page filtered by state goes through the pool.
    let page = store
        .list_alerts(&AlertQuery::newest(ann.id, 10))
        .await
        .unwrap();
    let mut each = Vec::new();
    for alert in &page {
        each.push(store.get_alert(alert.id).await.unwrap());
    }
    assert_eq!(page, each);
    assert_eq!(page.len(), 2);
    let acknowledged = AlertQuery {
        state: Some(AlertState::Acknowledged),
        ..AlertQuery::newest(ann.id, 10)
    };
    assert_eq!(store.list_alerts(&acknowledged).await.unwrap(), [acked]);

    assert!(store.insert_alerts(vec![]).await.unwrap().is_empty());
}

async fn newest_first_with_filters_and_cursor(db: &TestDb) {
    let store = &db.store;
    let ann = seed_user(store, "ann@example.com").await;
    let bob = seed_user(store, "bob@example.com").await;
    let aapl = seed_rule(store, &ann, "AAPL").await;
    let msft = seed_rule(store, &ann, "MSFT").await;
    let bobs = seed_rule(store, &bob, "AAPL").await;
    // Five alerts share one instant: the id breaks the tie.
    let same = at("2026-11-28T15:00:00Z");
    let mut batch = Vec::new();
    for episode in 1..=5 {
        batch.push(new_alert(&aapl, episode, "101", same));
    }
    batch.push(new_alert(&msft, 1, "401", at("2026-11-28T14:00:00Z")));
    batch.push(new_alert(&msft, 2, "402", at("2026-11-28T16:00:00Z")));
    batch.push(new_alert(&bobs, 1, "101", at("2026-11-28T17:00:00Z")));
    let stored = store.insert_alerts(batch).await.unwrap();

    let all = store
        .list_alerts(&AlertQuery::newest(ann.id, 100))
        .await
        .unwrap();
    assert_eq!(all.len(), 7, "bob's alert is not ann's");
    assert!(
        all.windows(2)
            .all(|w| (w[0].fired_at, w[0].id) > (w[1].fired_at, w[1].id))
    );
    assert_eq!(all[0].price, dec("402"));

    // Walk pages of 2 with the cursor and get every alert exactly once, in order.
    let mut seen = Vec::new();
    let mut query = AlertQuery::newest(ann.id, 2);
    loop {
        let page = store.list_alerts(&query).await.unwrap();
        if page.is_empty() {
            break;
        }
        query.before = Some(AlertCursor::from(page.last().unwrap()));
        seen.extend(page.into_iter().map(|a| a.id));
    }
    assert_eq!(seen, all.iter().map(|a| a.id).collect::<Vec<_>>());

    let by_rule = AlertQuery {
        rule_id: Some(msft.id),
        ..AlertQuery::newest(ann.id, 10)
    };
    assert_eq!(store.list_alerts(&by_rule).await.unwrap().len(), 2);
    let by_symbol = AlertQuery {
        symbol: Some(symbol("AAPL")),
        ..AlertQuery::newest(ann.id, 10)
    };
    assert_eq!(store.list_alerts(&by_symbol).await.unwrap().len(), 5);
    let since = AlertQuery {
        since: Some(same),
        ..AlertQuery::newest(ann.id, 10)
    };
    assert_eq!(store.list_alerts(&since).await.unwrap().len(), 6);
    store.acknowledge_alert(stored[0].id, same).await.unwrap();
    let unseen = AlertQuery {
        state: Some(AlertState::New),
        ..AlertQuery::newest(ann.id, 10)
    };
    assert_eq!(store.list_alerts(&unseen).await.unwrap().len(), 6);

    // Cleaning old alerts touches only the owner's alerts before the instant.
    let removed = store.delete_alerts_before(ann.id, same).await.unwrap();
    assert_eq!(removed, 1);
    assert_eq!(
        store
            .list_alerts(&AlertQuery::newest(ann.id, 100))
            .await
            .unwrap()
            .len(),
        6
    );
    assert_eq!(
        store
            .list_alerts(&AlertQuery::newest(bob.id, 100))
            .await
            .unwrap()
            .len(),
        1
    );
}

async fn duplicate_episode_conflicts_and_writes_nothing(db: &TestDb) {
    let store = &db.store;
    let ann = seed_user(store, "ann@example.com").await;
    let rule = seed_rule(store, &ann, "AAPL").await;
    let t = at("2026-11-28T15:00:00Z");
    store
        .insert_alerts(vec![new_alert(&rule, 1, "101", t)])
        .await
        .unwrap();
    let err = store
        .insert_alerts(vec![
            new_alert(&rule, 2, "102", t),
            new_alert(&rule, 1, "101", t),
        ])
        .await
        .unwrap_err();
    assert!(
        matches!(
            err,
            StoreError::Conflict {
                entity: "alert",
                field: "rule, episode, kind and reminder"
            }
        ),
        "{err:?}"
    );
    let listed = store
        .list_alerts(&AlertQuery::newest(ann.id, 10))
        .await
        .unwrap();
    assert_eq!(listed.len(), 1, "the batch is all or nothing");
}

async fn not_found_and_missing_references(db: &TestDb) {
    let store = &db.store;
    let missing = AlertId::new(12);
    assert!(matches!(
        store.get_alert(missing).await.unwrap_err(),
        StoreError::NotFound {
            entity: "alert",
            ..
        }
    ));
    assert!(matches!(
        store
            .acknowledge_alert(missing, at("2026-01-01T00:00:00Z"))
            .await
            .unwrap_err(),
        StoreError::NotFound { .. }
    ));
    assert!(matches!(
        store
            .set_alert_summary(missing, "x".into())
            .await
            .unwrap_err(),
        StoreError::NotFound { .. }
    ));
    let err = store
        .insert_alerts(vec![NewAlert {
            rule_id: RuleId::new(5),
            owner: UserId::new(5),
            symbol: symbol("AAPL"),
            episode: 1,
            kind: AlertKind::Fired,
            price: dec("1"),
            message: "m".into(),
            fired_at: at("2026-01-01T00:00:00Z"),
            reminder: 0,
        }])
        .await
        .unwrap_err();
    assert!(
        matches!(err, StoreError::MissingReference { entity: "alert" }),
        "{err:?}"
    );
}

async fn alerts_outlive_their_rule(db: &TestDb) {
    let store = &db.store;
    let ann = seed_user(store, "ann@example.com").await;
    let rule = seed_rule(store, &ann, "AAPL").await;
    let stored = store
        .insert_alerts(vec![new_alert(&rule, 1, "101", at("2026-11-28T15:00:00Z"))])
        .await
        .unwrap();
    store.delete_rule(rule.id).await.unwrap();
    let kept = store.get_alert(stored[0].id).await.unwrap();
    assert_eq!(kept.rule_id, None);
    assert_eq!(kept.message, stored[0].message);
}

backend_tests!(
    round_trip,
    newest_first_with_filters_and_cursor,
    duplicate_episode_conflicts_and_writes_nothing,
    not_found_and_missing_references,
    alerts_outlive_their_rule,
);
