//! What holds across the whole database: cascades, reopening, concurrent readers and
//! starters, the health check.

use std::process::Command;

use sea_orm::{
    ConnectionTrait, Database, SqliteTransactionMode, TransactionOptions, TransactionTrait,
};
use signal_sentinel::config::DatabaseUrl;
use signal_sentinel::domain::{
    AlertQuery, HoldingSource, NewApiKey, NewHolding, RuleFilter, RuleState,
};
use signal_sentinel::store::{
    AlertStore, ApiKeyStore, ChannelStore, HoldingStore, RuleStateStore, RuleStore, SeaStore,
    StoreError, UserStore,
};

use crate::helpers::{
    Backend, PostgresDatabase, TestDb, at, dec, new_alert, seed_console_channel, seed_rule,
    seed_user, sqlite_file_url, symbol,
};

async fn deleting_a_user_deletes_what_they_own(db: &TestDb) {
    let store = &db.store;
    let ann = seed_user(store, "ann@example.com").await;
    let bob = seed_user(store, "bob@example.com").await;
    for user in [&ann, &bob] {
        store
            .create_api_key(NewApiKey {
                user_id: user.id,
                name: "k".into(),
                prefix: format!("ss_{}", user.id),
                key_hash: "h".into(),
            })
            .await
            .unwrap();
        let rule = seed_rule(store, user, "AAPL").await;
        store
            .save_rule_states(&[RuleState::initial(rule.id, at("2026-11-28T00:00:00Z"))])
            .await
            .unwrap();
        store
            .insert_alerts(vec![new_alert(&rule, 1, "100", at("2026-11-28T00:00:00Z"))])
            .await
            .unwrap();
        seed_console_channel(store, user).await;
        store
            .upsert_holding(NewHolding {
                owner: user.id,
                account: String::new(),
                symbol: symbol("AAPL"),
                quantity: dec("1"),
                cost_basis: None,
                source: HoldingSource::Manual,
                connection: None,
            })
            .await
            .unwrap();
    }
    let ann_rule = store
        .list_rules(&RuleFilter {
            owner: Some(ann.id),
            ..RuleFilter::default()
        })
        .await
        .unwrap()
        .remove(0);

    store.delete_user(ann.id).await.unwrap();

    assert!(store.list_api_keys(ann.id).await.unwrap().is_empty());
    assert!(matches!(
        store.get_rule(ann_rule.id).await,
        Err(StoreError::NotFound { .. })
    ));
    assert!(matches!(
        store.get_rule_state(ann_rule.id).await,
        Err(StoreError::NotFound { .. })
    ));
    assert!(
        store
            .list_alerts(&AlertQuery::newest(ann.id, 10))
            .await
            .unwrap()
            .is_empty()
    );
    assert!(store.list_channels(ann.id).await.unwrap().is_empty());
    assert!(store.list_holdings(ann.id).await.unwrap().is_empty());
    // Bob keeps everything.
    assert_eq!(store.list_api_keys(bob.id).await.unwrap().len(), 1);
    assert_eq!(
        store
            .list_rules(&RuleFilter::default())
            .await
            .unwrap()
            .len(),
        1
    );
    assert_eq!(
        store
            .list_alerts(&AlertQuery::newest(bob.id, 10))
            .await
            .unwrap()
            .len(),
        1
    );
    assert_eq!(store.list_channels(bob.id).await.unwrap().len(), 1);
    assert_eq!(store.list_holdings(bob.id).await.unwrap().len(), 1);
}

async fn migrations_are_idempotent_and_checked(db: &TestDb) {
    assert!(
        db.store.migrate().await.unwrap().is_empty(),
        "nothing left to apply"
    );
    let check = db.store.check().await.unwrap();
    assert!(check.healthy, "{check:?}");
    assert!(check.pending_migrations.is_empty(), "{check:?}");
    match db.backend() {
        Backend::Postgres => {
            assert_eq!(check.backend, "postgres");
            assert!(check.detail.starts_with("PostgreSQL"), "{check:?}");
        }
        _ => {
            assert_eq!(check.backend, "sqlite");
            assert_eq!(check.detail, "ok");
        }
    }
}

async fn stats_count_rows_and_vacuum_keeps_them(db: &TestDb) {
    let store = &db.store;
    let empty = store.stats().await.unwrap();
    assert!(empty.tables.iter().all(|(_, n)| *n == 0), "{empty:?}");
    let ann = seed_user(store, "ann@example.com").await;
    let bob = seed_user(store, "bob@example.com").await;
    let rule = seed_rule(store, &ann, "AAPL").await;
    seed_rule(store, &bob, "MSFT").await;
    store
        .insert_alerts(vec![new_alert(
            &rule,
            1,
            "201.5",
            at("2026-11-30T15:00:00Z"),
        )])
        .await
        .unwrap();
    let stats = store.stats().await.unwrap();
    let count = |table: &str| {
        stats
            .tables
            .iter()
            .find(|(t, _)| *t == table)
            .map(|(_, n)| *n)
            .unwrap()
    };
    assert_eq!(
        (
            count("users"),
            count("rules"),
            count("alerts"),
            count("holdings")
        ),
        (2, 2, 1, 0)
    );
    assert_eq!(stats.tables.len(), 10);
    assert!(stats.size_bytes > 0);
    let (before, after) = store.vacuum().await.unwrap();
    assert!(before > 0 && after > 0);
    let again = store.stats().await.unwrap();
    assert_eq!(again.tables, stats.tables, "vacuum loses nothing");
    assert_eq!(again.backend, db.store.check().await.unwrap().backend);
}

backend_tests!(
    deleting_a_user_deletes_what_they_own,
    migrations_are_idempotent_and_checked,
    stats_count_rows_and_vacuum_keeps_them
);

/// Data written, pool closed, database opened again: everything is there.
async fn survives_reopen(url: &DatabaseUrl) {
    let store = SeaStore::open(url).await.unwrap();
    let ann = seed_user(&store, "ann@example.com").await;
    let rule = seed_rule(&store, &ann, "AAPL").await;
    let alerts = store
        .insert_alerts(vec![new_alert(
            &rule,
            1,
            "187.25",
            at("2026-11-28T15:00:00Z"),
        )])
        .await
        .unwrap();
    store.close().await.unwrap();

    let reopened = SeaStore::open(url).await.unwrap();
    assert_eq!(reopened.get_user(ann.id).await.unwrap(), ann);
    assert_eq!(reopened.get_rule(rule.id).await.unwrap(), rule);
    assert_eq!(reopened.get_alert(alerts[0].id).await.unwrap(), alerts[0]);
}

#[tokio::test]
async fn sqlite_file_survives_reopen() {
    let dir = tempfile::tempdir().unwrap();
    survives_reopen(&sqlite_file_url(&dir)).await;
}

#[tokio::test]
async fn postgres_survives_reopen() {
    if let Some(pg) = PostgresDatabase::create().await {
        survives_reopen(&pg.url).await;
    }
}

/// Several processes starting at once all migrate the same fresh database without error.
async fn concurrent_start(url: &DatabaseUrl) {
    let starts = (0..4).map(|_| {
        let url = url.clone();
        tokio::spawn(async move { SeaStore::open(&url).await })
    });
    for start in starts {
        let store = start.await.unwrap().unwrap();
        assert!(store.pending_migrations().await.unwrap().is_empty());
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sqlite_file_concurrent_start_migrates_once() {
    let dir = tempfile::tempdir().unwrap();
    concurrent_start(&sqlite_file_url(&dir)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn postgres_concurrent_start_migrates_once() {
    if let Some(pg) = PostgresDatabase::create().await {
        concurrent_start(&pg.url).await;
    }
}

#[tokio::test]
async fn unmigrated_database_reports_pending_migrations_until_migrated() {
    let store = SeaStore::connect(&DatabaseUrl::parse("sqlite::memory:").unwrap())
        .await
        .unwrap();
    let check = store.check().await.unwrap();
    assert!(check.healthy);
    let all: Vec<String> = {
        use migration::MigratorTrait;
        migration::Migrator::migrations()
            .iter()
            .map(|m| m.name().to_owned())
            .collect()
    };
    assert_eq!(all[0], "m20261128_000001_initial");
    assert_eq!(check.pending_migrations, all);
    assert_eq!(store.migrate().await.unwrap(), all);
    assert!(store.check().await.unwrap().pending_migrations.is_empty());
}

#[tokio::test]
async fn checking_a_missing_sqlite_file_does_not_create_it() {
    let dir = tempfile::tempdir().unwrap();
    let url = sqlite_file_url(&dir);
    let err = SeaStore::check_existing(&url).await.unwrap_err();
    assert!(matches!(err, StoreError::Connection(_)), "{err:?}");
    assert!(err.to_string().contains("does not exist"), "{err}");
    assert!(!dir.path().join("nested").exists());
    SeaStore::open(&url).await.unwrap().close().await.unwrap();
    assert!(SeaStore::check_existing(&url).await.unwrap().healthy);
}

const WAL_CHILD_VAR: &str = "SIGNAL_SENTINEL_TEST_WAL_CHILD_DB";

/// The reading side of `sqlite_second_process_reads_while_one_writes`: runs only when that
/// test starts this binary again with the database's URL.
#[tokio::test]
async fn wal_reader_child() {
    let Ok(url) = std::env::var(WAL_CHILD_VAR) else {
        return;
    };
    let store = SeaStore::connect(&DatabaseUrl::parse(&url).unwrap())
        .await
        .unwrap();
    let users = store.list_users().await.unwrap();
    println!("CHILD-READ users={}", users.len());
}

#[tokio::test]
async fn sqlite_second_process_reads_while_one_writes() {
    let dir = tempfile::tempdir().unwrap();
    let url = sqlite_file_url(&dir);
    let store = SeaStore::open(&url).await.unwrap();
    seed_user(&store, "ann@example.com").await;

    // A writer holding an EXCLUSIVE transaction with an uncommitted row. Without WAL this
    // lock keeps every reader out; with WAL readers see the last committed state.
    let writer = Database::connect(url.expose()).await.unwrap();
    let journal = writer
        .query_one_raw(sea_orm::Statement::from_string(
            writer.get_database_backend(),
            "PRAGMA journal_mode",
        ))
        .await
        .unwrap()
        .unwrap()
        .try_get_by_index::<String>(0)
        .unwrap();
    assert_eq!(journal, "wal");
    let txn = writer
        .begin_with_options(TransactionOptions {
            sqlite_transaction_mode: Some(SqliteTransactionMode::Exclusive),
            ..TransactionOptions::default()
        })
        .await
        .unwrap();
    txn.execute_unprepared(
        "INSERT INTO users (email, password_hash, created_at, updated_at) \
         VALUES ('bob@example.com', 'h', '2026-11-28T00:00:00+00:00', '2026-11-28T00:00:00+00:00')",
    )
    .await
    .unwrap();

    let child = tokio::task::spawn_blocking({
        let url = url.expose().to_owned();
        move || {
            Command::new(std::env::current_exe().unwrap())
                .args([
                    "--exact",
                    "store::lifecycle::wal_reader_child",
                    "--nocapture",
                    "--test-threads=1",
                ])
                .env(WAL_CHILD_VAR, url)
                .output()
                .unwrap()
        }
    })
    .await
    .unwrap();
    let stdout = String::from_utf8_lossy(&child.stdout);
    assert!(
        child.status.success(),
        "child failed: {stdout}\n{}",
        String::from_utf8_lossy(&child.stderr)
    );
    assert!(
        stdout.contains("CHILD-READ users=1"),
        "child output: {stdout}"
    );

    txn.commit().await.unwrap();
    assert_eq!(store.list_users().await.unwrap().len(), 2);
}

/// A hot backup while another task keeps writing: the copy opens, passes its check and holds
/// every row written before it started; old copies go, other files stay.
#[tokio::test]
async fn sqlite_backups_are_hot_checked_compressed_and_rotated() {
    let dir = tempfile::tempdir().unwrap();
    let store = SeaStore::open(&sqlite_file_url(&dir)).await.unwrap();
    let ann = seed_user(&store, "ann@example.com").await;
    let rule = seed_rule(&store, &ann, "AAPL").await;
    let alerts: Vec<_> = (1..=200)
        .map(|i| new_alert(&rule, i, "100", at("2026-11-30T15:00:00Z")))
        .collect();
    store.insert_alerts(alerts).await.unwrap();

    let backups = dir.path().join("backups");
    std::fs::create_dir_all(&backups).unwrap();
    for name in [
        "signal_sentinel_20261101_030000.db.gz", // 27 days old: removed
        "signal_sentinel_20261125_030000.db.gz", // 3 days old: kept
        "notes.txt",                             // not ours: kept
    ] {
        std::fs::write(backups.join(name), b"x").unwrap();
    }
    let writer = {
        let store = store.clone();
        let rule = rule.clone();
        tokio::spawn(async move {
            for i in 201..=260 {
                store
                    .insert_alerts(vec![new_alert(&rule, i, "101", at("2026-11-30T15:01:00Z"))])
                    .await
                    .unwrap();
            }
        })
    };
    let report = store
        .backup_sqlite(&backups, 7, at("2026-11-28T22:00:00Z"))
        .await
        .unwrap();
    writer.await.unwrap();
    assert_eq!(
        report.file,
        backups.join("signal_sentinel_20261128_220000.db.gz")
    );
    assert_eq!(
        report.removed,
        [backups.join("signal_sentinel_20261101_030000.db.gz")]
    );
    let mut left: Vec<_> = std::fs::read_dir(&backups)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    left.sort();
    assert_eq!(
        left,
        [
            "notes.txt",
            "signal_sentinel_20261125_030000.db.gz",
            "signal_sentinel_20261128_220000.db.gz"
        ],
        "no partial file left behind"
    );
    assert!(report.compressed_bytes < report.database_bytes);

    // The copy, unpacked, is a database with everything written before the backup.
    let restored = dir.path().join("restored.db");
    let mut gz = flate2::read::GzDecoder::new(std::fs::File::open(&report.file).unwrap());
    std::io::copy(&mut gz, &mut std::fs::File::create(&restored).unwrap()).unwrap();
    let copy = SeaStore::connect_existing(
        &DatabaseUrl::parse(&format!("sqlite://{}", restored.display())).unwrap(),
    )
    .await
    .unwrap();
    assert!(copy.check().await.unwrap().healthy);
    let rows = copy
        .stats()
        .await
        .unwrap()
        .tables
        .into_iter()
        .find(|(t, _)| *t == "alerts")
        .unwrap()
        .1;
    assert!((200..=260).contains(&rows), "{rows}");
}

#[tokio::test]
async fn postgres_backups_are_refused_with_the_reason() {
    let Some(pg) = PostgresDatabase::create().await else {
        return;
    };
    let store = SeaStore::open(&pg.url).await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let err = store
        .backup_sqlite(dir.path(), 7, at("2026-11-28T22:00:00Z"))
        .await
        .unwrap_err();
    assert!(err.to_string().contains("pg_dump"), "{err}");
}
