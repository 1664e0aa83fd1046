//! The sea-orm implementation of the storage traits, for SQLite and PostgreSQL.

mod actions;
mod alerts;
mod api_keys;
mod channels;
mod connections;
mod copy;
mod direct;

pub use copy::CopyReport;
mod entity;
mod events;
mod feed;
mod holdings;
mod monitor;
mod outbox;
mod rule_states;
mod rules;
mod users;
mod workers;

use std::fmt;
use std::str::FromStr;
use std::time::Duration;

use migration::{Migrator, MigratorTrait};
use rust_decimal::Decimal;
use sea_orm::sqlx::sqlite::{SqliteJournalMode, SqliteSynchronous};
use sea_orm::{
    ConnectOptions, ConnectionTrait, Database, DatabaseConnection, DatabaseTransaction, DbErr,
    EntityTrait, PrimaryKeyTrait, SqlErr, SqliteTransactionMode, TransactionOptions,
    TransactionTrait,
};

use super::{Result, StoreError};
use crate::config::{DatabaseBackend, DatabaseUrl};

/// How long an SQLite connection waits for another writer before giving up.
const SQLITE_BUSY_TIMEOUT: Duration = Duration::from_secs(10);
/// Connections in an SQLite file pool (readers run in parallel under WAL; writers queue).
const SQLITE_POOL_SIZE: u32 = 8;
/// Prepared statements kept per SQLite connection. Batch inserts of varying row counts are
/// distinct statements, and a prepared multi-row insert is large: sqlx's default of 100 per
/// connection let a busy monitor's memory grow by hundreds of megabytes.
const SQLITE_STATEMENT_CACHE: usize = 24;
/// Rows an SQLite connection's thread may hand over before the reader takes them. Above the
/// largest page (200) plus the statement's result, so a page never makes that thread wait for
/// its reader (sqlx's default of 50 did, on every page of 50).
const SQLITE_ROW_CHANNEL: usize = 256;
/// Connections in a PostgreSQL pool.
const POSTGRES_POOL_SIZE: u32 = 10;
/// A pooled PostgreSQL connection idle this long is pinged before it is used again.
const POSTGRES_PING_AFTER_IDLE: Duration = Duration::from_secs(30);
/// Key of the PostgreSQL advisory lock that serialises migrations across processes
/// (`"sigsent"` as ASCII).
const MIGRATION_LOCK_KEY: i64 = 0x0073_6967_7365_6e74;

/// Storage on SQLite or PostgreSQL, chosen by the URL's scheme. Cheap to clone (a pool handle).
///
/// ```
/// use signal_sentinel::config::DatabaseUrl;
/// use signal_sentinel::store::{SeaStore, UserStore};
///
/// # tokio::runtime::Runtime::new().unwrap().block_on(async {
/// let store = SeaStore::open(&DatabaseUrl::parse("sqlite::memory:")?).await?;
/// assert!(store.list_users().await?.is_empty());
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// # }).unwrap();
/// ```
#[derive(Clone)]
pub struct SeaStore {
    db: DatabaseConnection,
    backend: DatabaseBackend,
    feed: std::sync::Arc<feed::AlertBus>,
    /// Bounded reads of an SQLite file on the caller's thread (none for in-memory SQLite and
    /// PostgreSQL).
    direct: Option<std::sync::Arc<direct::DirectReader>>,
}

impl fmt::Debug for SeaStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SeaStore")
            .field("backend", &self.backend)
            .finish_non_exhaustive()
    }
}

/// What [`SeaStore::check`] found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DatabaseCheck {
    /// `sqlite` or `postgres`.
    pub backend: &'static str,
    /// Whether the database answered and (SQLite) `PRAGMA integrity_check` said `ok`.
    pub healthy: bool,
    /// What the check reported (`ok`, or the problems found).
    pub detail: String,
    /// Migrations known to this build but not applied to the database.
    pub pending_migrations: Vec<String>,
}

/// What a database holds: rows per table and its size.
#[derive(Debug, Clone, serde::Serialize)]
pub struct DatabaseStats {
    /// `sqlite` or `postgres`.
    pub backend: &'static str,
    /// Rows per table, in schema order.
    pub tables: Vec<(&'static str, u64)>,
    /// Bytes the database takes (SQLite: pages in the file, not its WAL; PostgreSQL: the
    /// database's size on the server).
    pub size_bytes: u64,
}

/// The tables `stats` counts, in schema order.
const TABLES: [&str; 10] = [
    "users",
    "api_keys",
    "rules",
    "rule_states",
    "alerts",
    "channels",
    "deliveries",
    "notification_prefs",
    "symbol_samples",
    "holdings",
];

impl SeaStore {
    /// Connects and brings the schema up to date: what every process does at start-up.
    ///
    /// # Errors
    /// [`StoreError::Connection`] when the database cannot be opened,
    /// [`StoreError::Migration`] when the schema cannot be brought up to date.
    pub async fn open(url: &DatabaseUrl) -> Result<Self> {
        let store = Self::connect(url).await?;
        // An up-to-date schema is only read: no lock, no DDL, no server notices.
        if store.pending_migrations().await.is_ok_and(|p| p.is_empty()) {
            return Ok(store);
        }
        let applied = store.migrate().await?;
        if !applied.is_empty() {
            tracing::info!(migrations = ?applied, "database schema brought up to date");
        }
        Ok(store)
    }

    /// Connects without touching the schema. An SQLite file's directory is created if missing.
    ///
    /// SQLite connections use WAL, `synchronous=NORMAL`, `foreign_keys=ON` and a busy timeout;
    /// an in-memory database keeps exactly one connection (each connection would otherwise be
    /// its own empty database).
    ///
    /// # Errors
    /// [`StoreError::Connection`] when the database cannot be opened.
    pub async fn connect(url: &DatabaseUrl) -> Result<Self> {
        let address = match url.backend() {
            DatabaseBackend::Postgres => without_tls_on_loopback(url.expose()),
            _ => url.expose().to_owned(),
        };
        let mut options = ConnectOptions::new(address);
        options
            .sqlx_logging(false)
            .connect_timeout(Duration::from_secs(10));
        match url.backend() {
            DatabaseBackend::SqliteFile(path) => {
                if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
                    std::fs::create_dir_all(dir).map_err(|e| {
                        StoreError::Connection(format!("cannot create {}: {e}", dir.display()))
                    })?;
                }
                // A file cannot hang up: pinging a pooled connection before each use would
                // only add a round trip to its worker thread (a third of a short read's time).
                options
                    .max_connections(SQLITE_POOL_SIZE)
                    .min_connections(1)
                    .test_before_acquire(false)
                    .map_sqlx_sqlite_opts(|o| {
                        o.journal_mode(SqliteJournalMode::Wal)
                            .synchronous(SqliteSynchronous::Normal)
                            .foreign_keys(true)
                            .busy_timeout(SQLITE_BUSY_TIMEOUT)
                            .statement_cache_capacity(SQLITE_STATEMENT_CACHE)
                            .row_buffer_size(SQLITE_ROW_CHANNEL)
                    });
            }
            DatabaseBackend::SqliteMemory => {
                options
                    .max_connections(1)
                    .min_connections(1)
                    .test_before_acquire(false)
                    .map_sqlx_sqlite_opts(|o| o.foreign_keys(true))
                    .map_sqlx_sqlite_pool_opts(|p| p.idle_timeout(None).max_lifetime(None));
            }
            DatabaseBackend::Postgres => {
                if !cfg!(feature = "postgres") {
                    return Err(StoreError::Connection(
                        "this build has no PostgreSQL support (the `postgres` feature of \
                         signal-sentinel): use an sqlite:// DATABASE_URL"
                            .into(),
                    ));
                }
                // A server, a proxy or a firewall may drop a connection that sat idle; a
                // busy one is not pinged before each query (a round trip each).
                options
                    .max_connections(POSTGRES_POOL_SIZE)
                    .test_before_acquire_if_idle_for(POSTGRES_PING_AFTER_IDLE);
            }
        }
        let db = Database::connect(options).await.map_err(|e| {
            let mut message = scrub(&e.to_string(), url);
            if url.is_postgres() {
                message.push_str(
                    " (is the PostgreSQL server named in DATABASE_URL running and reachable?)",
                );
            }
            StoreError::Connection(message)
        })?;
        let direct = match url.backend() {
            DatabaseBackend::SqliteFile(path) => Some(std::sync::Arc::new(
                direct::DirectReader::new(path, SQLITE_BUSY_TIMEOUT),
            )),
            _ => None,
        };
        Ok(Self {
            db,
            backend: url.backend().clone(),
            feed: feed::AlertBus::new(),
            direct,
        })
    }

    /// Applies pending migrations and returns their names. Safe when several processes start
    /// together: on PostgreSQL they queue on an advisory lock, on SQLite on an immediate
    /// transaction, and the later ones find nothing left to do.
    ///
    /// # Errors
    /// [`StoreError::Migration`] when a migration fails (the failed one is rolled back).
    pub async fn migrate(&self) -> Result<Vec<String>> {
        let migration_err = |e: DbErr| StoreError::Migration(e.to_string());
        let txn = self.begin_write().await.map_err(migration_err)?;
        if self.is_postgres() {
            // Transaction-scoped: released by the commit or rollback below, or when the
            // connection dies.
            txn.execute_unprepared(&format!(
                "SELECT pg_advisory_xact_lock({MIGRATION_LOCK_KEY})"
            ))
            .await
            .map_err(migration_err)?;
        }
        let pending: Vec<String> = Migrator::get_pending_migrations(&txn)
            .await
            .map_err(migration_err)?
            .iter()
            .map(|m| m.name().to_owned())
            .collect();
        if !pending.is_empty() {
            Migrator::up(&txn, None).await.map_err(migration_err)?;
        }
        rules::fill_shards(&txn).await?;
        txn.commit().await.map_err(migration_err)?;
        Ok(pending)
    }

    /// Names of migrations this build knows but the database has not applied.
    ///
    /// # Errors
    /// [`StoreError::Backend`] when the database cannot be queried.
    pub async fn pending_migrations(&self) -> Result<Vec<String>> {
        Ok(Migrator::get_pending_migrations_read_only(&self.db)
            .await
            .map_err(backend_err)?
            .iter()
            .map(|m| m.name().to_owned())
            .collect())
    }

    /// Connects to a database that must exist already, without creating or migrating it
    /// (maintenance commands must not create an empty database by mistake).
    ///
    /// # Errors
    /// [`StoreError::Connection`] when a SQLite file does not exist or the database cannot be
    /// reached.
    pub async fn connect_existing(url: &DatabaseUrl) -> Result<Self> {
        if let DatabaseBackend::SqliteFile(path) = url.backend()
            && !path.exists()
        {
            return Err(StoreError::Connection(format!(
                "database file {} does not exist (`invest db migrate` creates it)",
                path.display()
            )));
        }
        Self::connect(url).await
    }

    /// Connects to an existing database and checks it (see [`SeaStore::check`]); unlike
    /// [`SeaStore::connect`] it never creates an SQLite file.
    ///
    /// # Errors
    /// [`StoreError::Connection`] when the file does not exist or the server does not answer.
    pub async fn check_existing(url: &DatabaseUrl) -> Result<DatabaseCheck> {
        let store = Self::connect_existing(url).await?;
        let check = store.check().await;
        store.close().await?;
        check
    }

    /// Checks the database without changing it: `PRAGMA integrity_check` on SQLite, a query
    /// on PostgreSQL, and the list of pending migrations on both.
    ///
    /// # Errors
    /// [`StoreError::Backend`] when the database does not answer at all.
    pub async fn check(&self) -> Result<DatabaseCheck> {
        let (backend, healthy, detail) = if self.is_postgres() {
            let row = self
                .db
                .query_one_raw(sea_orm::Statement::from_string(
                    self.db.get_database_backend(),
                    "SELECT version()",
                ))
                .await
                .map_err(backend_err)?;
            let version: String = row
                .map(|r| r.try_get_by_index(0))
                .transpose()
                .map_err(backend_err)?
                .unwrap_or_default();
            ("postgres", true, version)
        } else {
            let rows = self
                .db
                .query_all_raw(sea_orm::Statement::from_string(
                    self.db.get_database_backend(),
                    "PRAGMA integrity_check",
                ))
                .await
                .map_err(backend_err)?;
            let lines = rows
                .iter()
                .map(|r| r.try_get_by_index::<String>(0))
                .collect::<std::result::Result<Vec<_>, _>>()
                .map_err(backend_err)?;
            let healthy = lines == ["ok"];
            ("sqlite", healthy, lines.join("; "))
        };
        Ok(DatabaseCheck {
            backend,
            healthy,
            detail,
            pending_migrations: self.pending_migrations().await?,
        })
    }

    /// Rows per table and the database's size.
    ///
    /// # Errors
    /// [`StoreError::Backend`] when a query fails.
    pub async fn stats(&self) -> Result<DatabaseStats> {
        let mut tables = Vec::with_capacity(TABLES.len());
        for table in TABLES {
            // The names are this crate's constants, never input.
            let n = self
                .scalar(&format!("SELECT COUNT(*) FROM {table}"))
                .await?;
            tables.push((table, u64::try_from(n).unwrap_or(0)));
        }
        let (backend, size) = if self.is_postgres() {
            (
                "postgres",
                self.scalar("SELECT pg_database_size(current_database())")
                    .await?,
            )
        } else {
            let pages = self.scalar("PRAGMA page_count").await?;
            ("sqlite", pages * self.scalar("PRAGMA page_size").await?)
        };
        Ok(DatabaseStats {
            backend,
            tables,
            size_bytes: u64::try_from(size).unwrap_or(0),
        })
    }

    /// Gives free space back and refreshes the planner's statistics: `VACUUM` and
    /// `PRAGMA optimize` on SQLite (it rewrites the file and needs as much free disk as the
    /// database takes; writers wait meanwhile), `VACUUM (ANALYZE)` on PostgreSQL (online).
    /// Returns the size before and after, in bytes.
    ///
    /// # Errors
    /// [`StoreError::Backend`] when the database refuses.
    pub async fn vacuum(&self) -> Result<(u64, u64)> {
        let before = self.stats().await?.size_bytes;
        let statements: &[&str] = if self.is_postgres() {
            &["VACUUM (ANALYZE)"]
        } else {
            &["VACUUM", "PRAGMA optimize"]
        };
        for sql in statements {
            self.db.execute_unprepared(sql).await.map_err(backend_err)?;
        }
        Ok((before, self.stats().await?.size_bytes))
    }

    /// Runs one statement that returns nothing (maintenance: `VACUUM INTO …`).
    pub(crate) async fn execute_raw(&self, sql: &str) -> Result<()> {
        self.db
            .execute_unprepared(sql)
            .await
            .map(drop)
            .map_err(backend_err)
    }

    /// The first column of the first row of `sql`, as an integer.
    async fn scalar(&self, sql: &str) -> Result<i64> {
        let row = self
            .db
            .query_one_raw(sea_orm::Statement::from_string(
                self.db.get_database_backend(),
                sql,
            ))
            .await
            .map_err(backend_err)?;
        row.map(|r| r.try_get_by_index::<i64>(0))
            .transpose()
            .map_err(backend_err)
            .map(Option::unwrap_or_default)
    }

    /// Closes the pool, waiting for connections to finish (SQLite then folds the WAL into the
    /// database file).
    ///
    /// # Errors
    /// [`StoreError::Backend`] when closing fails.
    pub async fn close(self) -> Result<()> {
        if let Some(direct) = &self.direct {
            direct.close();
        }
        self.db.close().await.map_err(backend_err)
    }

    /// The rows of a read an index bounds to the rows it returns: on an SQLite file read on
    /// the caller's thread (see `direct`; `decode` reads `columns`), otherwise through the
    /// pool. Only for bounded reads: one that may scan would hold a runtime thread.
    async fn read_bounded<E: EntityTrait>(
        &self,
        select: sea_orm::Select<E>,
        columns: &[&str],
        decode: fn(&rusqlite::Row<'_>, &direct::Columns) -> rusqlite::Result<E::Model>,
    ) -> Result<Vec<E::Model>> {
        use sea_orm::QueryTrait;
        match &self.direct {
            Some(direct) => {
                direct.query(&select.build(sea_orm::DbBackend::Sqlite), columns, decode)
            }
            None => select.all(&self.db).await,
        }
        .map_err(backend_err)
    }

    /// The row of `E` with this primary key, or [`StoreError::NotFound`] naming `entity`.
    async fn find_row<E>(&self, entity: &'static str, id: i64) -> Result<E::Model>
    where
        E: EntityTrait,
        <E::PrimaryKey as PrimaryKeyTrait>::ValueType: From<i64>,
    {
        E::find_by_id(id)
            .one(&self.db)
            .await
            .map_err(backend_err)?
            .ok_or_else(|| not_found(entity, id))
    }

    /// Deletes the row of `E` with this primary key, or says [`StoreError::NotFound`].
    async fn delete_row<E>(&self, entity: &'static str, id: i64) -> Result<()>
    where
        E: EntityTrait,
        <E::PrimaryKey as PrimaryKeyTrait>::ValueType: From<i64>,
    {
        let result = E::delete_by_id(id)
            .exec(&self.db)
            .await
            .map_err(backend_err)?;
        expect_rows(result.rows_affected, entity, id)
    }

    pub(crate) fn is_postgres(&self) -> bool {
        self.backend == DatabaseBackend::Postgres
    }

    /// Starts a transaction that will write. On SQLite it takes the write lock at `BEGIN`
    /// (`BEGIN IMMEDIATE`): a deferred transaction that reads and then writes can fail with
    /// SQLITE_BUSY at once instead of waiting its turn.
    async fn begin_write(&self) -> std::result::Result<DatabaseTransaction, DbErr> {
        if self.is_postgres() {
            self.db.begin().await
        } else {
            self.db
                .begin_with_options(TransactionOptions {
                    sqlite_transaction_mode: Some(SqliteTransactionMode::Immediate),
                    ..TransactionOptions::default()
                })
                .await
        }
    }
}

/// Unique indexes, as named in the migrations, and the field each protects. SQLite names the
/// columns in its message, PostgreSQL the index.
const UNIQUE_CONSTRAINTS: &[(&str, &str, &str)] = &[
    ("ux_users_email", "users.email", "email"),
    ("ux_api_keys_prefix", "api_keys.prefix", "prefix"),
    (
        "ux_api_keys_user_id_name",
        "api_keys.user_id, api_keys.name",
        "name",
    ),
    (
        "ux_alerts_rule_id_episode_kind_reminder",
        "alerts.rule_id, alerts.episode, alerts.kind, alerts.reminder",
        "rule, episode, kind and reminder",
    ),
    (
        "ux_channels_user_id_name",
        "channels.user_id, channels.name",
        "name",
    ),
    (
        "ux_deliveries_alert_id_channel_id",
        "deliveries.alert_id, deliveries.channel_id",
        "alert and channel",
    ),
    (
        "ux_broker_connections_provider_item_id",
        "broker_connections.provider, broker_connections.item_id",
        "item",
    ),
    (
        "ux_holdings_user_id_account_symbol",
        "holdings.user_id, holdings.account, holdings.symbol",
        "account and symbol",
    ),
];

/// Maps a sea-orm error from writing an `entity` to ours: unique violations become
/// [`StoreError::Conflict`] with the field, foreign-key violations
/// [`StoreError::MissingReference`].
fn write_err(entity: &'static str) -> impl Fn(DbErr) -> StoreError {
    move |e| match e.sql_err() {
        Some(SqlErr::UniqueConstraintViolation(message)) => StoreError::Conflict {
            entity,
            field: UNIQUE_CONSTRAINTS
                .iter()
                .find(|(index, columns, _)| message.contains(index) || message.contains(columns))
                .map_or("value", |(_, _, field)| field),
        },
        Some(SqlErr::ForeignKeyConstraintViolation(_)) => StoreError::MissingReference { entity },
        _ => backend_err(e),
    }
}

/// An update or delete of one row by id that touched none means the row does not exist.
fn expect_rows(rows_affected: u64, entity: &'static str, id: impl ToString) -> Result<()> {
    if rows_affected == 0 {
        Err(not_found(entity, id))
    } else {
        Ok(())
    }
}

/// Maps the result of `ActiveModel::update` on a row named by id.
fn updated<M>(result: std::result::Result<M, DbErr>, entity: &'static str, id: i64) -> Result<M> {
    match result {
        Ok(model) => Ok(model),
        Err(DbErr::RecordNotUpdated) => Err(not_found(entity, id)),
        Err(e) => Err(write_err(entity)(e)),
    }
}

fn backend_err(e: DbErr) -> StoreError {
    StoreError::Backend(e.to_string())
}

fn not_found(entity: &'static str, id: impl ToString) -> StoreError {
    StoreError::NotFound {
        entity,
        id: id.to_string(),
    }
}

fn corrupt(entity: &'static str) -> impl Fn(crate::domain::ValidationError) -> StoreError {
    move |e| StoreError::Corrupt {
        entity,
        reason: e.to_string(),
    }
}

fn decimal_from_text(entity: &'static str, text: &str) -> Result<Decimal> {
    Decimal::from_str(text).map_err(|e| StoreError::Corrupt {
        entity,
        reason: format!("{text:?} is not a decimal number: {e}"),
    })
}

/// Removes the connection URL (and so any password) from a driver message, should it quote it.
fn scrub(message: &str, url: &DatabaseUrl) -> String {
    message.replace(url.expose(), &url.to_string())
}

/// Run by `.ci/run` with `--no-default-features`.
#[cfg(all(test, not(feature = "postgres")))]
mod without_postgres {
    use super::*;

    /// A build without the `postgres` feature says so instead of failing obscurely.
    #[tokio::test]
    async fn a_postgres_url_needs_the_feature() {
        let url = DatabaseUrl::parse("postgres://ss:pw@127.0.0.1:1/ss").unwrap();
        let err = SeaStore::connect(&url).await.unwrap_err();
        assert!(err.to_string().contains("`postgres` feature"), "{err}");
        assert!(!err.to_string().contains("pw"), "no password in {err}");
    }
}

/// A PostgreSQL URL for a server on this machine (`localhost`, `127.0.0.1`, `::1`) that does
/// not choose an `sslmode` gets `sslmode=disable`: the traffic never leaves the machine, and
/// the TLS handshake `prefer` makes was most of a command's time (240 ms of a `rules list`,
/// 80 ms without). A URL that names a `sslmode`, and every other host, is left as it is.
fn without_tls_on_loopback(address: &str) -> String {
    let Ok(mut parsed) = url::Url::parse(address) else {
        return address.to_owned();
    };
    let loopback = match parsed.host() {
        // `postgres:` is not a special scheme: its host comes as text, addresses too.
        Some(url::Host::Domain(d)) => {
            d.eq_ignore_ascii_case("localhost")
                || d.trim_start_matches('[')
                    .trim_end_matches(']')
                    .parse::<std::net::IpAddr>()
                    .is_ok_and(|ip| ip.is_loopback())
        }
        Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
        Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
        None => false,
    };
    if !loopback || parsed.query_pairs().any(|(k, _)| k == "sslmode") {
        return address.to_owned();
    }
    parsed.query_pairs_mut().append_pair("sslmode", "disable");
    parsed.to_string()
}

#[cfg(test)]
mod tests {
    #[test]
    fn loopback_postgres_goes_without_tls_unless_the_url_says() {
        use super::without_tls_on_loopback as plain;
        assert_eq!(
            plain("postgres://u@127.0.0.1:5432/db"),
            "postgres://u@127.0.0.1:5432/db?sslmode=disable"
        );
        assert_eq!(
            plain("postgres://u@localhost/db?application_name=x"),
            "postgres://u@localhost/db?application_name=x&sslmode=disable"
        );
        assert_eq!(
            plain("postgres://u@[::1]/db"),
            "postgres://u@[::1]/db?sslmode=disable"
        );
        for kept in [
            "postgres://u@127.0.0.1/db?sslmode=require",
            "postgres://u@db.example.com/db",
            "postgres://u@10.0.0.5/db",
        ] {
            assert_eq!(plain(kept), kept);
        }
    }
}
