//! Hot backups of a SQLite database: a consistent copy taken while the server and monitor
//! keep writing (`VACUUM INTO`), checked with `PRAGMA integrity_check`, compressed, and the
//! copies older than the retention removed.

use std::fs::File;
use std::io::{BufReader, BufWriter};
use std::path::{Path, PathBuf};

use serde::Serialize;

use super::{SeaStore, StoreError};
use crate::config::DatabaseUrl;
use crate::time::Timestamp;

/// Prefix of the files a backup writes: `signal_sentinel_20261128_221500.db.gz`, the name the
/// earlier backup script used, so its old copies fall under the same retention.
pub const BACKUP_PREFIX: &str = "signal_sentinel_";
/// Suffix of the files a backup writes.
pub const BACKUP_SUFFIX: &str = ".db.gz";

/// What a backup did.
#[derive(Debug, Clone, Serialize)]
pub struct BackupReport {
    /// The compressed copy.
    pub file: PathBuf,
    /// Size of the database copy before compression, in bytes.
    pub database_bytes: u64,
    /// Size of the compressed file, in bytes.
    pub compressed_bytes: u64,
    /// Older copies removed by the retention.
    pub removed: Vec<PathBuf>,
}

fn io(what: &str, path: &Path, e: std::io::Error) -> StoreError {
    StoreError::Backend(format!("{what} {}: {e}", path.display()))
}

impl SeaStore {
    /// Backs a SQLite database up into `dir` (created if needed): a consistent copy taken with
    /// `VACUUM INTO` while other connections keep writing, checked with
    /// `PRAGMA integrity_check` before anything is reported, gzip-compressed, written under a
    /// temporary name and renamed. Copies in `dir` named like ours and older than `keep_days`
    /// are then removed (never the new one).
    ///
    /// # Errors
    /// [`StoreError::Backend`] when the database is not SQLite, the copy fails its check, or a
    /// file cannot be written. A failed backup leaves no partial file behind.
    pub async fn backup_sqlite(
        &self,
        dir: &Path,
        keep_days: u32,
        now: Timestamp,
    ) -> Result<BackupReport, StoreError> {
        if self.is_postgres() {
            return Err(StoreError::Backend(
                "backups of PostgreSQL are pg_dump's job".into(),
            ));
        }
        std::fs::create_dir_all(dir).map_err(|e| io("cannot create", dir, e))?;
        let stamp = now.format("%Y%m%d_%H%M%S");
        let copy = dir.join(format!(".{BACKUP_PREFIX}{stamp}.db.partial"));
        let packed = dir.join(format!(".{BACKUP_PREFIX}{stamp}{BACKUP_SUFFIX}.partial"));
        let file = dir.join(format!("{BACKUP_PREFIX}{stamp}{BACKUP_SUFFIX}"));
        let result = self.backup_steps(&copy, &packed, &file).await;
        let _ = std::fs::remove_file(&copy);
        let _ = std::fs::remove_file(&packed);
        let (database_bytes, compressed_bytes) = result?;
        let removed = remove_old_backups(dir, &file, keep_days, now)?;
        Ok(BackupReport {
            file,
            database_bytes,
            compressed_bytes,
            removed,
        })
    }

    async fn backup_steps(
        &self,
        copy: &Path,
        packed: &Path,
        file: &Path,
    ) -> Result<(u64, u64), StoreError> {
        let _ = std::fs::remove_file(copy);
        let target = copy.to_str().ok_or_else(|| {
            StoreError::Backend(format!("{} is not a UTF-8 path", copy.display()))
        })?;
        self.execute_raw(&format!("VACUUM INTO '{}'", target.replace('\'', "''")))
            .await?;
        // The copy is checked on its own before it counts as a backup.
        let url = DatabaseUrl::parse(&format!("sqlite://{target}"))
            .map_err(|e| StoreError::Backend(e.to_string()))?;
        let check_store = SeaStore::connect_existing(&url).await?;
        let check = check_store.check().await;
        check_store.close().await?;
        let check = check?;
        if !check.healthy {
            return Err(StoreError::Backend(format!(
                "the copy failed its integrity check: {}",
                check.detail
            )));
        }
        let (copy, packed, file) = (copy.to_owned(), packed.to_owned(), file.to_owned());
        tokio::task::spawn_blocking(move || compress(&copy, &packed, &file))
            .await
            .map_err(|e| StoreError::Backend(format!("compression did not finish: {e}")))?
    }
}

/// Gzips `copy` into `packed`, syncs it and renames it to `file`; returns both sizes.
fn compress(copy: &Path, packed: &Path, file: &Path) -> Result<(u64, u64), StoreError> {
    let input = File::open(copy).map_err(|e| io("cannot read", copy, e))?;
    let database_bytes = input
        .metadata()
        .map_err(|e| io("cannot read", copy, e))?
        .len();
    let output = File::create(packed).map_err(|e| io("cannot write", packed, e))?;
    let mut encoder =
        flate2::write::GzEncoder::new(BufWriter::new(output), flate2::Compression::default());
    std::io::copy(&mut BufReader::new(input), &mut encoder)
        .map_err(|e| io("cannot write", packed, e))?;
    let output = encoder
        .finish()
        .and_then(|w| w.into_inner().map_err(std::io::IntoInnerError::into_error))
        .map_err(|e| io("cannot write", packed, e))?;
    output
        .sync_all()
        .map_err(|e| io("cannot write", packed, e))?;
    let compressed_bytes = output
        .metadata()
        .map_err(|e| io("cannot write", packed, e))?
        .len();
    std::fs::rename(packed, file).map_err(|e| io("cannot write", file, e))?;
    Ok((database_bytes, compressed_bytes))
}

/// Removes our copies in `dir` taken more than `keep_days` before `now` (by the time in their
/// name), keeping `newest`.
fn remove_old_backups(
    dir: &Path,
    newest: &Path,
    keep_days: u32,
    now: Timestamp,
) -> Result<Vec<PathBuf>, StoreError> {
    let cutoff = (now - chrono::Duration::days(i64::from(keep_days))).naive_utc();
    let mut removed = Vec::new();
    for entry in std::fs::read_dir(dir).map_err(|e| io("cannot list", dir, e))? {
        let path = entry.map_err(|e| io("cannot list", dir, e))?.path();
        let Some(name) = path.file_name().and_then(|n| n.to_str()) else {
            continue;
        };
        let Some(stamp) = name
            .strip_prefix(BACKUP_PREFIX)
            .and_then(|rest| rest.strip_suffix(BACKUP_SUFFIX))
        else {
            continue;
        };
        let Ok(taken) = chrono::NaiveDateTime::parse_from_str(stamp, "%Y%m%d_%H%M%S") else {
            continue;
        };
        if taken < cutoff && path != newest {
            std::fs::remove_file(&path).map_err(|e| io("cannot remove", &path, e))?;
            removed.push(path);
        }
    }
    removed.sort();
    Ok(removed)
}

/// What a restore did.
#[derive(Debug, Clone, Serialize)]
pub struct RestoreReport {
    /// The database file now in place.
    pub database: PathBuf,
    /// Where the file it replaced was kept (none when there was no database).
    pub replaced_kept_as: Option<PathBuf>,
    /// Size of the restored database, in bytes.
    pub database_bytes: u64,
}

/// Whether some connection (another process's server or monitor, or a pool of this one) has
/// the SQLite database at `path` open: an exclusive lock cannot be had at once.
///
/// # Errors
/// [`StoreError::Backend`] when the file cannot be opened at all.
pub async fn sqlite_in_use(path: &Path) -> Result<bool, StoreError> {
    use sea_orm::sqlx::sqlite::SqliteLockingMode;
    use sea_orm::{ConnectOptions, ConnectionTrait, Database};
    if !path.exists() {
        return Ok(false);
    }
    let url = format!("sqlite://{}", path.display());
    let mut options = ConnectOptions::new(url);
    options
        .sqlx_logging(false)
        .max_connections(1)
        .map_sqlx_sqlite_opts(|o| {
            o.locking_mode(SqliteLockingMode::Exclusive)
                .busy_timeout(std::time::Duration::ZERO)
        });
    let is_lock = |e: &sea_orm::DbErr| {
        let text = e.to_string();
        text.contains("locked") || text.contains("busy")
    };
    // Opening runs pragmas that already need the lock.
    let db = match Database::connect(options).await {
        Ok(db) => db,
        Err(e) if is_lock(&e) => return Ok(true),
        Err(e) => {
            return Err(StoreError::Backend(format!(
                "cannot open {}: {e}",
                path.display()
            )));
        }
    };
    let locked = match db.execute_unprepared("BEGIN EXCLUSIVE").await {
        Ok(_) => {
            let _ = db.execute_unprepared("COMMIT").await;
            false
        }
        Err(e) if is_lock(&e) => true,
        Err(e) => {
            let _ = db.close().await;
            return Err(StoreError::Backend(format!(
                "cannot lock {}: {e}",
                path.display()
            )));
        }
    };
    let _ = db.close().await;
    Ok(locked)
}

/// Puts the backup `from` (ours, `.db.gz`, or a plain SQLite file) in place of the SQLite
/// database at `target`. The backup is unpacked next to the target and checked with
/// `PRAGMA integrity_check` first; a database in use is refused unless `force`; the file
/// replaced is kept as `TARGET.replaced-YYYYMMDD_HHMMSS` (with its `-wal` beside it).
///
/// # Errors
/// [`StoreError::Backend`] saying what is wrong: unreadable or corrupt backup, database in
/// use, a file that cannot be written. Nothing is replaced then.
pub async fn restore_sqlite(
    target: &Path,
    from: &Path,
    force: bool,
    now: Timestamp,
) -> Result<RestoreReport, StoreError> {
    let dir = match target.parent() {
        Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
        _ => PathBuf::from("."),
    };
    std::fs::create_dir_all(&dir).map_err(|e| io("cannot create", &dir, e))?;
    let name = target
        .file_name()
        .and_then(|n| n.to_str())
        .unwrap_or("signal_sentinel.db");
    let staged = dir.join(format!(".{name}.restoring"));
    let result = restore_steps(target, from, &staged, force, now).await;
    if result.is_err() {
        let _ = std::fs::remove_file(&staged);
    }
    result
}

async fn restore_steps(
    target: &Path,
    from: &Path,
    staged: &Path,
    force: bool,
    now: Timestamp,
) -> Result<RestoreReport, StoreError> {
    let unreadable = |e: String| {
        StoreError::Backend(format!("{} is not a readable backup: {e}", from.display()))
    };
    {
        let (from, staged) = (from.to_owned(), staged.to_owned());
        tokio::task::spawn_blocking(move || unpack(&from, &staged))
            .await
            .map_err(|e| StoreError::Backend(format!("unpacking did not finish: {e}")))?
            .map_err(unreadable)?;
    }
    let url = DatabaseUrl::parse(&format!("sqlite://{}", staged.display()))
        .map_err(|e| StoreError::Backend(e.to_string()))?;
    let check = SeaStore::check_existing(&url)
        .await
        .map_err(|e| unreadable(e.to_string()))?;
    if !check.healthy {
        return Err(unreadable(format!(
            "it fails its integrity check: {}",
            check.detail
        )));
    }
    if check.pending_migrations.len() == migration_count() {
        return Err(unreadable(
            "it is a SQLite database, but not one of Signal Sentinel (no migration applied)".into(),
        ));
    }
    if sqlite_in_use(target).await? && !force {
        return Err(StoreError::Backend(format!(
            "{} is in use (a server or monitor has it open): stop them first, or pass --force",
            target.display()
        )));
    }
    let replaced_kept_as = if target.exists() {
        let stamp = now.format("%Y%m%d_%H%M%S");
        let kept = PathBuf::from(format!("{}.replaced-{stamp}", target.display()));
        std::fs::rename(target, &kept).map_err(|e| io("cannot move", target, e))?;
        for suffix in ["-wal", "-shm"] {
            let side = PathBuf::from(format!("{}{suffix}", target.display()));
            if side.exists() {
                let kept_side = PathBuf::from(format!("{}{suffix}", kept.display()));
                std::fs::rename(&side, &kept_side).map_err(|e| io("cannot move", &side, e))?;
            }
        }
        Some(kept)
    } else {
        None
    };
    std::fs::rename(staged, target).map_err(|e| io("cannot write", target, e))?;
    let database_bytes = std::fs::metadata(target)
        .map_err(|e| io("cannot read", target, e))?
        .len();
    Ok(RestoreReport {
        database: target.to_owned(),
        replaced_kept_as,
        database_bytes,
    })
}

/// Copies `from` to `to`, gunzipping when it starts with the gzip magic bytes.
fn unpack(from: &Path, to: &Path) -> Result<(), String> {
    use std::io::Read;
    let mut input = File::open(from).map_err(|e| e.to_string())?;
    let mut magic = [0u8; 2];
    let gz = input.read(&mut magic).map_err(|e| e.to_string())? == 2 && magic == [0x1f, 0x8b];
    let input = File::open(from).map_err(|e| e.to_string())?;
    let mut output = BufWriter::new(File::create(to).map_err(|e| e.to_string())?);
    if gz {
        std::io::copy(
            &mut flate2::read::GzDecoder::new(BufReader::new(input)),
            &mut output,
        )
        .map_err(|e| format!("cannot decompress it: {e}"))?;
    } else {
        std::io::copy(&mut BufReader::new(input), &mut output).map_err(|e| e.to_string())?;
    }
    output
        .into_inner()
        .map_err(|e| e.to_string())?
        .sync_all()
        .map_err(|e| e.to_string())
}

fn migration_count() -> usize {
    use migration::MigratorTrait;
    migration::Migrator::migrations().len()
}
