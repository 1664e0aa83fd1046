use signal_sentinel::domain::{ApiKeyId, NewApiKey, UserId};
use signal_sentinel::store::{ApiKeyStore, StoreError};

use crate::helpers::{TestDb, at, seed_user};

fn key(user: UserId, name: &str, prefix: &str) -> NewApiKey {
    NewApiKey {
        user_id: user,
        name: name.into(),
        prefix: prefix.into(),
        key_hash: format!("{prefix}-hash"),
    }
}

async fn round_trip(db: &TestDb) {
    let store = &db.store;
    let ann = seed_user(store, "ann@example.com").await;
    let created = store
        .create_api_key(key(ann.id, "laptop", "ss_aaaa"))
        .await
        .unwrap();
    assert!(created.is_active());
    assert_eq!(created.last_used_at, None);
    assert_eq!(
        store.get_api_key_by_prefix("ss_aaaa").await.unwrap(),
        created
    );

    let used = at("2026-11-28T10:00:00.123456Z");
    store.touch_api_key(created.id, used).await.unwrap();
    let second = store
        .create_api_key(key(ann.id, "ci", "ss_bbbb"))
        .await
        .unwrap();
    let listed = store.list_api_keys(ann.id).await.unwrap();
    assert_eq!(listed.len(), 2);
    assert_eq!(listed[0].last_used_at, Some(used));
    assert_eq!(listed[1], second);

    let revoked_at = at("2026-11-28T11:00:00Z");
    let revoked = store.revoke_api_key(created.id, revoked_at).await.unwrap();
    assert_eq!(revoked.revoked_at, Some(revoked_at));
    assert!(!revoked.is_active());
    // Revoking again keeps the first instant.
    let again = store
        .revoke_api_key(created.id, at("2026-11-29T00:00:00Z"))
        .await
        .unwrap();
    assert_eq!(again.revoked_at, Some(revoked_at));
    // Found by its prefix (on an SQLite file, on the caller's thread): every time as stored.
    assert_eq!(store.get_api_key_by_prefix("ss_aaaa").await.unwrap(), again);
    assert_eq!(again.last_used_at, Some(used));
}

async fn not_found(db: &TestDb) {
    let store = &db.store;
    let err = store.get_api_key_by_prefix("ss_none").await.unwrap_err();
    assert!(
        matches!(
            err,
            StoreError::NotFound {
                entity: "API key",
                ..
            }
        ),
        "{err:?}"
    );
    let err = store
        .touch_api_key(ApiKeyId::new(5), at("2026-01-01T00:00:00Z"))
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::NotFound { .. }), "{err:?}");
    let err = store
        .revoke_api_key(ApiKeyId::new(5), at("2026-01-01T00:00:00Z"))
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::NotFound { .. }), "{err:?}");
    let err = store
        .create_api_key(key(UserId::new(77), "orphan", "ss_orph"))
        .await
        .unwrap_err();
    assert!(
        matches!(err, StoreError::MissingReference { entity: "API key" }),
        "{err:?}"
    );
}

async fn conflicts(db: &TestDb) {
    let store = &db.store;
    let ann = seed_user(store, "ann@example.com").await;
    let bob = seed_user(store, "bob@example.com").await;
    store
        .create_api_key(key(ann.id, "laptop", "ss_aaaa"))
        .await
        .unwrap();
    let err = store
        .create_api_key(key(ann.id, "laptop", "ss_cccc"))
        .await
        .unwrap_err();
    assert!(
        matches!(
            err,
            StoreError::Conflict {
                entity: "API key",
                field: "name"
            }
        ),
        "{err:?}"
    );
    let err = store
        .create_api_key(key(bob.id, "other", "ss_aaaa"))
        .await
        .unwrap_err();
    assert!(
        matches!(
            err,
            StoreError::Conflict {
                entity: "API key",
                field: "prefix"
            }
        ),
        "{err:?}"
    );
    // Another user may use the same name.
    store
        .create_api_key(key(bob.id, "laptop", "ss_dddd"))
        .await
        .unwrap();
}

backend_tests!(round_trip, not_found, conflicts);
