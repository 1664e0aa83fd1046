use signal_sentinel::Secret;
use signal_sentinel::domain::{ChannelId, ChannelKind, ChannelOutcome, NewChannel, UserId};
use signal_sentinel::store::{ChannelStore, StoreError};

use crate::helpers::{TestDb, at, seed_user};

fn webhook(owner: UserId, name: &str) -> NewChannel {
    NewChannel {
        owner,
        name: name.into(),
        kind: ChannelKind::Webhook,
        config: serde_json::json!({"url": "https://hooks.example.com/ss"}),
        secret: Some(Secret::new("whsec-very-secret")),
    }
}

async fn round_trip(db: &TestDb) {
    let store = &db.store;
    let ann = seed_user(store, "ann@example.com").await;
    let hook = store.create_channel(webhook(ann.id, "ops")).await.unwrap();
    assert_eq!(hook.kind, ChannelKind::Webhook);
    assert!(hook.enabled);
    assert_eq!(
        hook.secret.as_ref().map(Secret::expose),
        Some("whsec-very-secret")
    );
    assert!(!format!("{hook:?}").contains("whsec-very-secret"));
    assert!(
        !serde_json::to_string(&hook)
            .unwrap()
            .contains("whsec-very-secret")
    );
    assert_eq!(store.get_channel(hook.id).await.unwrap(), hook);

    let chat = store
        .create_channel(NewChannel {
            owner: ann.id,
            name: "phone".into(),
            kind: ChannelKind::Telegram,
            config: serde_json::json!({"chat_id": 123456789}),
            secret: None,
        })
        .await
        .unwrap();
    store.set_channel_enabled(chat.id, false).await.unwrap();
    store
        .record_channel_outcome(hook.id, ChannelOutcome::Failed("HTTP 503".into()))
        .await
        .unwrap();
    let listed = store.list_channels(ann.id).await.unwrap();
    assert_eq!(
        listed.iter().map(|c| c.id).collect::<Vec<_>>(),
        [hook.id, chat.id]
    );
    assert_eq!(listed[0].last_error.as_deref(), Some("HTTP 503"));
    assert!(!listed[1].enabled);

    let ok_at = at("2026-11-28T15:00:00Z");
    store
        .record_channel_outcome(hook.id, ChannelOutcome::Delivered(ok_at))
        .await
        .unwrap();
    let hook = store.get_channel(hook.id).await.unwrap();
    assert_eq!(hook.last_ok_at, Some(ok_at));
    assert_eq!(hook.last_error, None);

    store.delete_channel(chat.id).await.unwrap();
    assert_eq!(store.list_channels(ann.id).await.unwrap().len(), 1);
}

async fn not_found_and_conflict(db: &TestDb) {
    let store = &db.store;
    let missing = ChannelId::new(3);
    assert!(matches!(
        store.get_channel(missing).await.unwrap_err(),
        StoreError::NotFound {
            entity: "notification channel",
            ..
        }
    ));
    assert!(matches!(
        store.set_channel_enabled(missing, true).await.unwrap_err(),
        StoreError::NotFound { .. }
    ));
    assert!(matches!(
        store
            .record_channel_outcome(missing, ChannelOutcome::Failed("x".into()))
            .await
            .unwrap_err(),
        StoreError::NotFound { .. }
    ));
    assert!(matches!(
        store.delete_channel(missing).await.unwrap_err(),
        StoreError::NotFound { .. }
    ));
    let ann = seed_user(store, "ann@example.com").await;
    store.create_channel(webhook(ann.id, "ops")).await.unwrap();
    let err = store
        .create_channel(webhook(ann.id, "ops"))
        .await
        .unwrap_err();
    assert!(
        matches!(
            err,
            StoreError::Conflict {
                entity: "notification channel",
                field: "name"
            }
        ),
        "{err:?}"
    );
    let err = store
        .create_channel(webhook(UserId::new(99), "x"))
        .await
        .unwrap_err();
    assert!(
        matches!(err, StoreError::MissingReference { .. }),
        "{err:?}"
    );
}

backend_tests!(round_trip, not_found_and_conflict);
