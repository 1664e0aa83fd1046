use chrono::Duration;
use signal_sentinel::domain::{
    DeliveryEvent, DeliveryOutcome, DeliveryStatus, JsonDocument, NewDelivery,
};
use signal_sentinel::store::{OutboxStore, StoreError};

use crate::helpers::{TestDb, at, seed_console_channel, seed_user};

async fn claims_leases_and_outcomes(db: &TestDb) {
    let store = &db.store;
    let ann = seed_user(store, "ann@example.com").await;
    let channel = seed_console_channel(store, &ann).await;
    let queued = store
        .enqueue_deliveries(
            (0..5)
                .map(|i| NewDelivery {
                    channel_id: channel.id,
                    user_id: ann.id,
                    event: DeliveryEvent::Test,
                    body: format!("message {i}"),
                })
                .collect(),
            signal_sentinel::time::now(),
        )
        .await
        .unwrap();
    assert_eq!(queued.len(), 5);
    assert_eq!(store.count_pending_deliveries(ann.id).await.unwrap(), 5);
    let now = signal_sentinel::time::now() + Duration::seconds(1);

    // Two dispatchers claim disjoint sets; a claimed row is left alone until its lease ends.
    let a = store
        .claim_deliveries("a", now, Duration::seconds(30), 3)
        .await
        .unwrap();
    let b = store
        .claim_deliveries("b", now, Duration::seconds(30), 3)
        .await
        .unwrap();
    assert_eq!((a.len(), b.len()), (3, 2));
    assert!(a.iter().all(|d| !b.iter().any(|e| e.id == d.id)));
    assert!(
        store
            .claim_deliveries("c", now, Duration::seconds(30), 10)
            .await
            .unwrap()
            .is_empty()
    );
    // "b" dies: after its lease, its deliveries are claimed again.
    let later = now + Duration::seconds(31);
    let c = store
        .claim_deliveries("c", later, Duration::seconds(30), 10)
        .await
        .unwrap();
    assert_eq!(c.len(), 5, "a's leases ended too");

    let sent_at = at("2026-11-28T20:00:00Z");
    store
        .record_delivery(c[0].id, DeliveryOutcome::Sent { at: sent_at })
        .await
        .unwrap();
    let retry_at = later + Duration::minutes(2);
    store
        .record_delivery(
            c[1].id,
            DeliveryOutcome::Retry {
                next_attempt_at: retry_at,
                error: "HTTP 503".into(),
            },
        )
        .await
        .unwrap();
    store
        .record_delivery(
            c[2].id,
            DeliveryOutcome::GivenUp {
                error: "chat not found".into(),
            },
        )
        .await
        .unwrap();
    store
        .record_delivery(c[3].id, DeliveryOutcome::Skipped)
        .await
        .unwrap();
    store
        .record_delivery(c[4].id, DeliveryOutcome::Held { until: retry_at })
        .await
        .unwrap();

    let d0 = store.get_delivery(c[0].id).await.unwrap();
    assert_eq!(
        (d0.status, d0.attempts, d0.sent_at),
        (DeliveryStatus::Sent, 1, Some(sent_at))
    );
    let d1 = store.get_delivery(c[1].id).await.unwrap();
    assert_eq!(
        (d1.status, d1.attempts, d1.last_error.as_deref()),
        (DeliveryStatus::Pending, 1, Some("HTTP 503"))
    );
    assert_eq!(
        d1.next_attempt_at,
        signal_sentinel::time::to_storage_precision(retry_at)
    );
    assert_eq!(
        store.get_delivery(c[2].id).await.unwrap().status,
        DeliveryStatus::GivenUp
    );
    assert_eq!(
        store.get_delivery(c[3].id).await.unwrap().status,
        DeliveryStatus::Skipped
    );
    let held = store.get_delivery(c[4].id).await.unwrap();
    assert_eq!(
        (held.status, held.attempts),
        (DeliveryStatus::Pending, 0),
        "holding is not an attempt"
    );
    assert_eq!(held.body.as_deref(), Some("message 4"));
    // Not due yet: nothing to claim until the retry time.
    assert!(
        store
            .claim_deliveries("a", later, Duration::seconds(30), 10)
            .await
            .unwrap()
            .is_empty()
    );
    assert_eq!(
        store
            .claim_deliveries("a", retry_at, Duration::seconds(30), 10)
            .await
            .unwrap()
            .len(),
        2
    );
    assert_eq!(store.count_pending_deliveries(ann.id).await.unwrap(), 2);

    let missing = signal_sentinel::domain::DeliveryId::new(999);
    assert!(matches!(
        store
            .record_delivery(missing, DeliveryOutcome::Skipped)
            .await
            .unwrap_err(),
        StoreError::NotFound { .. }
    ));
}

async fn preferences_round_trip(db: &TestDb) {
    let store = &db.store;
    let ann = seed_user(store, "ann@example.com").await;
    let (prefs, last) = store.get_notification_prefs(ann.id).await.unwrap();
    assert_eq!((prefs, last), (JsonDocument::empty(), None));
    let doc = JsonDocument::new(1, serde_json::json!({"events": {"resolved": "off"}})).unwrap();
    store
        .set_notification_prefs(ann.id, doc.clone())
        .await
        .unwrap();
    let day = chrono::NaiveDate::from_ymd_opt(2026, 11, 27).unwrap();
    store.set_last_digest(ann.id, day).await.unwrap();
    assert_eq!(
        store.get_notification_prefs(ann.id).await.unwrap(),
        (doc, Some(day))
    );
    let err = store
        .set_notification_prefs(
            signal_sentinel::domain::UserId::new(404),
            JsonDocument::empty(),
        )
        .await
        .unwrap_err();
    assert!(
        matches!(err, StoreError::MissingReference { .. }),
        "{err:?}"
    );
}

backend_tests!(claims_leases_and_outcomes, preferences_round_trip);
