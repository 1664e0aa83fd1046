use signal_sentinel::domain::{RuleId, RulePhase, RuleState};
use signal_sentinel::store::{RuleStateStore, StoreError};

use crate::helpers::{TestDb, at, dec, seed_rule, seed_user};

async fn round_trip(db: &TestDb) {
    let store = &db.store;
    let ann = seed_user(store, "ann@example.com").await;
    let r1 = seed_rule(store, &ann, "AAPL").await;
    let r2 = seed_rule(store, &ann, "MSFT").await;

    let mut s1 = RuleState::initial(r1.id, at("2026-11-28T14:30:00Z"));
    let s2 = RuleState {
        phase: RulePhase::Pending,
        episode: 3,
        pending_since: Some(at("2026-11-28T14:29:00.000001Z")),
        last_price: Some(dec("0.10")),
        memory: serde_json::json!({"highest": "412.50", "window": [1, 2, 3]}),
        ..RuleState::initial(r2.id, at("2026-11-28T14:30:00Z"))
    };
    store
        .save_rule_states(&[s1.clone(), s2.clone()])
        .await
        .unwrap();
    assert_eq!(store.get_rule_state(r1.id).await.unwrap(), s1);
    assert_eq!(store.get_rule_state(r2.id).await.unwrap(), s2);

    // Saving again replaces.
    s1.phase = RulePhase::Firing;
    s1.episode = 1;
    s1.last_price = Some(dec("100.0001"));
    store
        .save_rule_states(std::slice::from_ref(&s1))
        .await
        .unwrap();
    let mut loaded = store
        .load_rule_states(&[r1.id, r2.id, RuleId::new(999)])
        .await
        .unwrap();
    loaded.sort_by_key(|s| s.rule_id);
    assert_eq!(loaded, [s1, s2]);
    store.save_rule_states(&[]).await.unwrap();
}

async fn not_found(db: &TestDb) {
    let store = &db.store;
    let err = store.get_rule_state(RuleId::new(1)).await.unwrap_err();
    assert!(
        matches!(
            err,
            StoreError::NotFound {
                entity: "rule state",
                ..
            }
        ),
        "{err:?}"
    );
    // A state for a rule that does not exist is refused, and nothing of the batch is written.
    let ann = seed_user(store, "ann@example.com").await;
    let rule = seed_rule(store, &ann, "AAPL").await;
    let now = at("2026-11-28T14:30:00Z");
    let err = store
        .save_rule_states(&[
            RuleState::initial(rule.id, now),
            RuleState::initial(RuleId::new(999), now),
        ])
        .await
        .unwrap_err();
    assert!(
        matches!(err, StoreError::MissingReference { .. }),
        "{err:?}"
    );
    assert!(store.load_rule_states(&[rule.id]).await.unwrap().is_empty());
}

backend_tests!(round_trip, not_found);
