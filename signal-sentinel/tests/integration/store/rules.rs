use signal_sentinel::domain::{JsonDocument, NewRule, RuleFilter, RuleId, RuleUpdate, UserId};
use signal_sentinel::store::{RuleStore, StoreError};

use crate::helpers::{TestDb, at, price_above, seed_rule, seed_user, symbol};

async fn round_trip(db: &TestDb) {
    let store = &db.store;
    let ann = seed_user(store, "ann@example.com").await;
    let options = JsonDocument::new(1, serde_json::json!({"cooldown_secs": 900})).unwrap();
    let expires = at("2027-01-01T00:00:00Z");
    let rule = store
        .create_rule(NewRule {
            owner: ann.id,
            symbol: symbol("brk.b"),
            name: None,
            condition: price_above("412.55"),
            options: options.clone(),
            enabled: false,
            expires_at: Some(expires),
        })
        .await
        .unwrap();
    assert_eq!(rule.symbol.as_str(), "BRK.B");
    assert_eq!(rule.condition, price_above("412.55"));
    assert_eq!(rule.options, options);
    assert!(!rule.enabled);
    assert_eq!(rule.expires_at, Some(expires));
    assert_eq!(store.get_rule(rule.id).await.unwrap(), rule);

    let snooze = at("2026-11-28T15:30:00.5Z");
    let fired = at("2026-11-28T14:00:00Z");
    let updated = store
        .update_rule(
            rule.id,
            RuleUpdate {
                symbol: Some(symbol("MSFT")),
                name: Some(Some("MSFT watch".into())),
                condition: Some(price_above("500")),
                enabled: Some(true),
                snoozed_until: Some(Some(snooze)),
                last_triggered_at: Some(Some(fired)),
                expires_at: Some(None),
                ..RuleUpdate::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(updated.symbol.as_str(), "MSFT");
    assert_eq!(updated.name.as_deref(), Some("MSFT watch"));
    assert_eq!(updated.condition.kind(), Some("price_above"));
    assert!(updated.enabled);
    assert_eq!(updated.snoozed_until, Some(snooze));
    assert_eq!(updated.last_triggered_at, Some(fired));
    assert_eq!(updated.expires_at, None);
    assert_eq!(updated.options, options, "untouched fields stay");
    assert_eq!(store.get_rule(rule.id).await.unwrap(), updated);

    store.delete_rule(rule.id).await.unwrap();
    assert!(matches!(
        store.get_rule(rule.id).await.unwrap_err(),
        StoreError::NotFound { .. }
    ));
}

async fn filters_and_pages(db: &TestDb) {
    let store = &db.store;
    let ann = seed_user(store, "ann@example.com").await;
    let bob = seed_user(store, "bob@example.com").await;
    let a1 = seed_rule(store, &ann, "AAPL").await;
    let a2 = seed_rule(store, &ann, "MSFT").await;
    let b1 = seed_rule(store, &bob, "AAPL").await;
    store
        .update_rule(
            a2.id,
            RuleUpdate {
                enabled: Some(false),
                ..RuleUpdate::default()
            },
        )
        .await
        .unwrap();

    let ids = |rules: Vec<signal_sentinel::domain::Rule>| {
        rules.into_iter().map(|r| r.id).collect::<Vec<_>>()
    };
    assert_eq!(
        ids(store.list_rules(&RuleFilter::default()).await.unwrap()),
        [a1.id, a2.id, b1.id]
    );
    let mine = RuleFilter {
        owner: Some(ann.id),
        ..RuleFilter::default()
    };
    assert_eq!(ids(store.list_rules(&mine).await.unwrap()), [a1.id, a2.id]);
    let aapl_enabled = RuleFilter {
        symbol: Some(symbol("AAPL")),
        enabled: Some(true),
        ..RuleFilter::default()
    };
    assert_eq!(
        ids(store.list_rules(&aapl_enabled).await.unwrap()),
        [a1.id, b1.id]
    );
    let page = RuleFilter {
        after: Some(a1.id),
        limit: Some(1),
        ..RuleFilter::default()
    };
    assert_eq!(ids(store.list_rules(&page).await.unwrap()), [a2.id]);
}

async fn not_found(db: &TestDb) {
    let store = &db.store;
    let missing = RuleId::new(404);
    assert!(matches!(
        store.get_rule(missing).await.unwrap_err(),
        StoreError::NotFound { entity: "rule", .. }
    ));
    assert!(matches!(
        store
            .update_rule(missing, RuleUpdate::default())
            .await
            .unwrap_err(),
        StoreError::NotFound { .. }
    ));
    assert!(matches!(
        store.delete_rule(missing).await.unwrap_err(),
        StoreError::NotFound { .. }
    ));
    let err = store
        .create_rule(NewRule {
            owner: UserId::new(404),
            symbol: symbol("AAPL"),
            name: None,
            condition: price_above("1"),
            options: JsonDocument::empty(),
            enabled: true,
            expires_at: None,
        })
        .await
        .unwrap_err();
    assert!(
        matches!(err, StoreError::MissingReference { entity: "rule" }),
        "{err:?}"
    );
}

async fn many_rules_in_one_transaction(db: &TestDb) {
    let store = &db.store;
    let ann = seed_user(store, "ann@example.com").await;
    let new = |owner, i: usize| NewRule {
        owner,
        symbol: symbol(&format!("S{i}")),
        name: None,
        condition: price_above("10"),
        options: JsonDocument::empty(),
        enabled: true,
        expires_at: None,
    };
    let created = store
        .create_rules((0..2_500).map(|i| new(ann.id, i)).collect())
        .await
        .unwrap();
    assert_eq!(created.len(), 2_500);
    assert!(created.windows(2).all(|w| w[0].id < w[1].id));
    assert_eq!(created[2_499].symbol, symbol("S2499"));
    assert_eq!(store.get_rule(created[7].id).await.unwrap(), created[7]);
    // One bad owner: nothing is stored.
    let mut batch: Vec<_> = (0..1_500).map(|i| new(ann.id, i)).collect();
    batch.push(new(UserId::new(404), 0));
    let err = store.create_rules(batch).await.unwrap_err();
    assert!(
        matches!(err, StoreError::MissingReference { .. }),
        "{err:?}"
    );
    assert_eq!(
        store
            .list_rules(&RuleFilter::default())
            .await
            .unwrap()
            .len(),
        2_500
    );
    assert!(store.create_rules(vec![]).await.unwrap().is_empty());

    // Stamps and loading by id, as the monitor reads them.
    let page = RuleFilter {
        after: Some(created[99].id),
        limit: Some(10),
        ..RuleFilter::default()
    };
    let stamps = store.list_rule_stamps(&page).await.unwrap();
    assert_eq!(stamps.len(), 10);
    assert_eq!(stamps[0].id, created[100].id);
    assert_eq!(stamps[0].updated_at, created[100].updated_at);
    let wanted = [created[5].id, RuleId::new(999_999), created[2].id];
    let loaded = store.get_rules(&wanted).await.unwrap();
    assert_eq!(
        loaded,
        [created[2].clone(), created[5].clone()],
        "missing ids are left out, order by id"
    );
}

/// Every change to a rule is in the log, whoever makes it: inserts, edits, deletes, and the
/// deletes a removed owner cascades to; the log can be pruned and never reuses a number.
async fn the_log_of_rule_changes(db: &TestDb) {
    use signal_sentinel::store::UserStore;
    let store = &db.store;
    let start = store.rule_changes(i64::MAX, 0).await.unwrap();
    let from = start.latest.unwrap_or(0);
    let ann = seed_user(store, "ann@example.com").await;
    let bob = seed_user(store, "bob@example.com").await;
    let a = seed_rule(store, &ann, "AAPL").await;
    let b = seed_rule(store, &bob, "MSFT").await;
    let c = seed_rule(store, &bob, "IBM").await;
    store
        .update_rule(
            a.id,
            RuleUpdate {
                enabled: Some(false),
                ..RuleUpdate::default()
            },
        )
        .await
        .unwrap();
    store.delete_rule(b.id).await.unwrap();
    store.delete_user(bob.id).await.unwrap();

    let log = store.rule_changes(from, 100).await.unwrap();
    let rules: Vec<RuleId> = log.changes.iter().map(|(_, id)| *id).collect();
    assert_eq!(rules, [a.id, b.id, c.id, a.id, b.id, c.id]);
    let seqs: Vec<i64> = log.changes.iter().map(|(seq, _)| *seq).collect();
    assert!(seqs.windows(2).all(|w| w[0] < w[1]), "{seqs:?}");
    assert_eq!(log.latest, seqs.last().copied());

    // Paged, and nothing after the newest.
    let first_two = store.rule_changes(from, 2).await.unwrap();
    assert_eq!(first_two.changes, log.changes[..2]);
    let none = store.rule_changes(seqs[5], 10).await.unwrap();
    assert!(none.changes.is_empty());

    // Pruned up to the fourth change: the oldest left is the fifth.
    let pruned = store.prune_rule_changes(seqs[3]).await.unwrap();
    assert!(pruned >= 4, "{pruned}");
    let after = store.rule_changes(from, 100).await.unwrap();
    assert_eq!(after.changes, log.changes[4..]);
    assert_eq!(after.oldest, Some(seqs[4]));
    // All pruned: a new change still gets a new number.
    store.prune_rule_changes(i64::MAX).await.unwrap();
    let d = seed_rule(store, &ann, "KO").await;
    let last = store.rule_changes(seqs[5], 10).await.unwrap();
    assert_eq!(last.changes.len(), 1);
    assert!(last.changes[0].0 > seqs[5]);
    assert_eq!(last.changes[0].1, d.id);
}

backend_tests!(
    the_log_of_rule_changes,
    round_trip,
    filters_and_pages,
    not_found,
    many_rules_in_one_transaction
);
