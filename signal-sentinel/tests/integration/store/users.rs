use signal_sentinel::Secret;
use signal_sentinel::domain::{Email, NewUser, UserId, UserUpdate};
use signal_sentinel::store::{StoreError, UserStore};

use crate::helpers::{TestDb, seed_user};

async fn round_trip(db: &TestDb) {
    let store = &db.store;
    let created = store
        .create_user(NewUser {
            email: Email::parse("Ann@Example.com").unwrap(),
            password_hash: Secret::new("$argon2id$hash"),
            display_name: Some("Ann".into()),
        })
        .await
        .unwrap();
    assert_eq!(created.email.as_str(), "ann@example.com");
    assert_eq!(created.password_hash.expose(), "$argon2id$hash");
    assert_eq!(store.get_user(created.id).await.unwrap(), created);
    let by_email = store
        .get_user_by_email(&Email::parse("ANN@example.com").unwrap())
        .await
        .unwrap();
    assert_eq!(by_email, created);

    let bob = seed_user(store, "bob@example.com").await;
    let all = store.list_users().await.unwrap();
    assert_eq!(
        all.iter().map(|u| u.id).collect::<Vec<_>>(),
        [created.id, bob.id]
    );

    let updated = store
        .update_user(
            created.id,
            UserUpdate {
                password_hash: Some(Secret::new("$argon2id$new")),
                display_name: Some(None),
            },
        )
        .await
        .unwrap();
    assert_eq!(updated.password_hash.expose(), "$argon2id$new");
    assert_eq!(updated.display_name, None);
    assert_eq!(updated.created_at, created.created_at);
    assert!(updated.updated_at >= created.updated_at);
    assert_eq!(store.get_user(created.id).await.unwrap(), updated);

    store.delete_user(bob.id).await.unwrap();
    assert_eq!(store.list_users().await.unwrap(), [updated]);
}

async fn not_found(db: &TestDb) {
    let store = &db.store;
    let missing = UserId::new(999);
    let err = store.get_user(missing).await.unwrap_err();
    assert!(
        matches!(err, StoreError::NotFound { entity: "user", .. }),
        "{err:?}"
    );
    assert_eq!(err.to_string(), "user 999 not found");
    let err = store
        .get_user_by_email(&Email::parse("nobody@example.com").unwrap())
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::NotFound { .. }), "{err:?}");
    let err = store
        .update_user(missing, UserUpdate::default())
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::NotFound { .. }), "{err:?}");
    let err = store.delete_user(missing).await.unwrap_err();
    assert!(matches!(err, StoreError::NotFound { .. }), "{err:?}");
}

async fn email_conflict(db: &TestDb) {
    let store = &db.store;
    seed_user(store, "ann@example.com").await;
    let err = store
        .create_user(NewUser {
            email: Email::parse("ANN@example.com").unwrap(),
            password_hash: Secret::new("x"),
            display_name: None,
        })
        .await
        .unwrap_err();
    assert!(
        matches!(
            err,
            StoreError::Conflict {
                entity: "user",
                field: "email"
            }
        ),
        "{err:?}"
    );
    assert_eq!(err.to_string(), "a user with this email already exists");
}

backend_tests!(round_trip, not_found, email_conflict);
