//! Database maintenance for operators: what `invest db …` calls. Unlike
//! [`Services::open`](crate::service::Services::open), nothing here creates a database by
//! mistake: every operation but `migrate` and the target of `copy_to` needs an existing one,
//! with its schema up to date.

use std::path::Path;

use thiserror::Error;

use crate::config::{DatabaseBackend, DatabaseUrl};
use crate::store::{SeaStore, StoreError};
use crate::time::Timestamp;

pub use crate::store::{BackupReport, CopyReport, DatabaseCheck, DatabaseStats, RestoreReport};

/// Why a maintenance operation did not run.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum MaintenanceError {
    /// The schema is behind this build.
    #[error("{url}: {count} pending migration(s); run `invest db migrate` first")]
    Pending {
        /// The database (without its password).
        url: String,
        /// How many migrations wait.
        count: usize,
    },
    /// A copy's target has rows.
    #[error("{0} holds data already: the target must be empty (a new database)")]
    TargetNotEmpty(String),
    /// A copy's source and target are one database.
    #[error("the source and the target name the same database")]
    SameDatabase,
    /// The backend does this with its own tools, or not at all.
    #[error("{0}")]
    Unsupported(String),
    /// The file to restore is missing.
    #[error("{0} does not exist")]
    NoSuchFile(String),
    /// A copy's target cannot be used.
    #[error("{url}")]
    Target {
        /// The target (without its password).
        url: String,
        /// Why.
        #[source]
        source: StoreError,
    },
    /// The database failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Result of a maintenance operation.
pub type Result<T> = std::result::Result<T, MaintenanceError>;

/// Maintenance of the database at one URL.
#[derive(Debug, Clone)]
pub struct Maintenance {
    url: DatabaseUrl,
}

impl Maintenance {
    /// Maintenance of the database `url` names.
    pub fn new(url: DatabaseUrl) -> Self {
        Self { url }
    }

    /// Creates the database if needed and applies pending migrations; returns their names.
    ///
    /// # Errors
    /// [`MaintenanceError::Store`] when the database cannot be opened or a migration fails.
    pub async fn migrate(&self) -> Result<Vec<String>> {
        let store = SeaStore::connect(&self.url).await?;
        let applied = store.migrate().await?;
        store.close().await?;
        Ok(applied)
    }

    /// Integrity and reachability, and the migrations still to apply.
    ///
    /// # Errors
    /// [`MaintenanceError::Store`] when the database does not exist or cannot be reached.
    pub async fn check(&self) -> Result<DatabaseCheck> {
        Ok(SeaStore::check_existing(&self.url).await?)
    }

    /// Rows per table and the size on disk.
    ///
    /// # Errors
    /// [`MaintenanceError::Pending`], [`MaintenanceError::Store`].
    pub async fn stats(&self) -> Result<DatabaseStats> {
        let store = existing(&self.url).await?;
        let stats = store.stats().await?;
        store.close().await?;
        Ok(stats)
    }

    /// Reclaims free space; returns the size before and after, in bytes.
    ///
    /// # Errors
    /// [`MaintenanceError::Pending`], [`MaintenanceError::Store`].
    pub async fn vacuum(&self) -> Result<(u64, u64)> {
        let store = existing(&self.url).await?;
        let sizes = store.vacuum().await?;
        store.close().await?;
        Ok(sizes)
    }

    /// Copies, checks and compresses an SQLite database into `dir`, removing this database's
    /// backups there older than `keep_days`.
    ///
    /// # Errors
    /// [`MaintenanceError::Unsupported`] on PostgreSQL (use `pg_dump`), as well as
    /// [`MaintenanceError::Pending`] and [`MaintenanceError::Store`].
    pub async fn backup(&self, dir: &Path, keep_days: u32, now: Timestamp) -> Result<BackupReport> {
        if self.url.is_postgres() {
            return Err(MaintenanceError::Unsupported(format!(
                "PostgreSQL is backed up with its own tool: pg_dump --format=custom --file=signal_sentinel.dump \"$DATABASE_URL\" (restore with pg_restore); {} is not copied",
                self.url
            )));
        }
        let store = existing(&self.url).await?;
        let report = store.backup_sqlite(dir, keep_days, now).await;
        store.close().await?;
        Ok(report?)
    }

    /// Replaces the SQLite database with a backup after checking it; unless `force`, a
    /// database in use is refused.
    ///
    /// # Errors
    /// [`MaintenanceError::Unsupported`] on PostgreSQL (use `pg_restore`) or in memory,
    /// [`MaintenanceError::NoSuchFile`], [`MaintenanceError::Store`].
    pub async fn restore(&self, file: &Path, force: bool, now: Timestamp) -> Result<RestoreReport> {
        let target = match self.url.backend() {
            DatabaseBackend::SqliteFile(path) => path.clone(),
            DatabaseBackend::Postgres => {
                return Err(MaintenanceError::Unsupported(format!(
                    "PostgreSQL is restored with its own tool: pg_restore --clean --dbname=\"$DATABASE_URL\" {}",
                    file.display()
                )));
            }
            DatabaseBackend::SqliteMemory => {
                return Err(MaintenanceError::Unsupported(
                    "an in-memory database cannot be restored into".into(),
                ));
            }
        };
        if !file.exists() {
            return Err(MaintenanceError::NoSuchFile(file.display().to_string()));
        }
        Ok(crate::store::restore_sqlite(&target, file, force, now).await?)
    }

    /// Copies every row into the empty database `target` (created and migrated if needed):
    /// SQLite to PostgreSQL and back.
    ///
    /// # Errors
    /// [`MaintenanceError::SameDatabase`], [`MaintenanceError::TargetNotEmpty`],
    /// [`MaintenanceError::Target`], [`MaintenanceError::Pending`],
    /// [`MaintenanceError::Store`].
    pub async fn copy_to(&self, target: &DatabaseUrl) -> Result<CopyReport> {
        if &self.url == target {
            return Err(MaintenanceError::SameDatabase);
        }
        let source = existing(&self.url).await?;
        let into = SeaStore::open(target)
            .await
            .map_err(|source| MaintenanceError::Target {
                url: target.to_string(),
                source,
            })?;
        let report = source.copy_to(&into).await.map_err(|e| match e {
            StoreError::Conflict { .. } => MaintenanceError::TargetNotEmpty(target.to_string()),
            source => MaintenanceError::Target {
                url: target.to_string(),
                source,
            },
        })?;
        source.close().await?;
        into.close().await?;
        Ok(report)
    }
}

/// The database at `url`, which must exist and be up to date.
async fn existing(url: &DatabaseUrl) -> Result<SeaStore> {
    let store = SeaStore::connect_existing(url).await?;
    let pending = store.pending_migrations().await?;
    if !pending.is_empty() {
        return Err(MaintenanceError::Pending {
            url: url.to_string(),
            count: pending.len(),
        });
    }
    Ok(store)
}
