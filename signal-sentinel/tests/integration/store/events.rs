use chrono::NaiveDate;
use signal_sentinel::domain::{
    AppliedSplit, CorporateEvent, CycleWrite, EventKind, ReportHour, SplitRatio,
};
use signal_sentinel::store::{EventStore, MonitorStore, RuleStore, StoreError};

use crate::helpers::{TestDb, at, dec, price_above, seed_rule, seed_user, symbol};

fn day(s: &str) -> NaiveDate {
    s.parse().unwrap()
}

fn event(sym: &str, date: &str, kind: EventKind) -> CorporateEvent {
    CorporateEvent::new(symbol(sym), day(date), kind, "test").unwrap()
}

async fn calendars_are_replaced_per_symbol(db: &TestDb) {
    let store = &db.store;
    assert!(
        store
            .load_events(&[symbol("AAPL")])
            .await
            .unwrap()
            .is_empty()
    );
    let split = EventKind::Split {
        ratio: SplitRatio::new(dec("4"), dec("1")).unwrap(),
    };
    let earnings = EventKind::Earnings {
        hour: Some(ReportHour::BeforeOpen),
    };
    store
        .save_events(
            &symbol("AAPL"),
            &[
                event("AAPL", "2026-12-20", split),
                event("AAPL", "2026-12-10", earnings),
            ],
            day("2026-12-07"),
        )
        .await
        .unwrap();
    store
        .save_events(&symbol("MSFT"), &[], day("2026-12-07"))
        .await
        .unwrap();
    let mut loaded = store
        .load_events(&[symbol("AAPL"), symbol("MSFT"), symbol("IBM")])
        .await
        .unwrap();
    loaded.sort_by(|a, b| a.symbol.cmp(&b.symbol));
    assert_eq!(loaded.len(), 2, "IBM was never refreshed");
    assert_eq!(loaded[0].symbol, symbol("AAPL"));
    let kinds: Vec<_> = loaded[0].events.iter().map(|e| (e.date, e.kind)).collect();
    assert_eq!(
        kinds,
        [(day("2026-12-10"), earnings), (day("2026-12-20"), split)],
        "oldest first"
    );
    assert_eq!(loaded[0].refreshed_on, day("2026-12-07"));
    assert!(loaded[1].events.is_empty());

    // A refresh replaces the calendar.
    store
        .save_events(&symbol("AAPL"), &[], day("2026-12-08"))
        .await
        .unwrap();
    let again = store.load_events(&[symbol("AAPL")]).await.unwrap();
    assert!(again[0].events.is_empty());
    assert_eq!(again[0].refreshed_on, day("2026-12-08"));
}

async fn a_split_is_applied_once(db: &TestDb) {
    let store = &db.store;
    let ann = seed_user(store, "ann@example.com").await;
    let rule = seed_rule(store, &ann, "AAPL").await;
    let ratio = SplitRatio::new(dec("4"), dec("1")).unwrap();
    let split = AppliedSplit {
        symbol: symbol("AAPL"),
        date: day("2026-12-08"),
        ratio,
        since: at("2026-12-08T05:00:00Z"),
        rules: vec![(rule.id, price_above("50"))],
    };
    let now = at("2026-12-08T14:30:00Z");
    store
        .commit_cycle(CycleWrite {
            at: Some(now),
            splits: vec![split.clone()],
            ..CycleWrite::default()
        })
        .await
        .unwrap();
    let moved = store.get_rule(rule.id).await.unwrap();
    assert_eq!(moved.condition, price_above("50"));
    assert_eq!(moved.updated_at, now, "the change is the rule's stamp");
    assert_eq!(
        store
            .applied_splits(&[symbol("AAPL"), symbol("MSFT")])
            .await
            .unwrap(),
        [(symbol("AAPL"), day("2026-12-08"), ratio)]
    );

    // The same split again (another worker, a repeated cycle): refused, nothing written.
    let err = store
        .commit_cycle(CycleWrite {
            at: Some(at("2026-12-08T14:31:00Z")),
            splits: vec![AppliedSplit {
                rules: vec![(rule.id, price_above("12.5"))],
                ..split
            }],
            ..CycleWrite::default()
        })
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::Conflict { .. }), "{err:?}");
    assert_eq!(
        store.get_rule(rule.id).await.unwrap().condition,
        price_above("50")
    );
}

backend_tests!(calendars_are_replaced_per_symbol, a_split_is_applied_once);
