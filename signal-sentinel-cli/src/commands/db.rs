//! `invest db …`

use std::process::ExitCode;

use serde_json::json;
use signal_sentinel::config::Settings;
use signal_sentinel::store::SeaStore;

use crate::output::out;

/// `invest db migrate`
pub(crate) async fn migrate(settings: &Settings, as_json: bool) -> Result<ExitCode, String> {
    let store = SeaStore::connect(&settings.database_url)
        .await
        .map_err(|e| e.to_string())?;
    let applied = store.migrate().await.map_err(|e| e.to_string())?;
    store.close().await.map_err(|e| e.to_string())?;
    if as_json {
        out!(
            "{}",
            json!({"database": settings.database_url.to_string(), "applied": applied})
        );
    } else if applied.is_empty() {
        out!("{}: schema is up to date", settings.database_url);
    } else {
        out!(
            "{}: applied {} migration(s):",
            settings.database_url,
            applied.len()
        );
        for name in &applied {
            out!("  {name}");
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// `invest db check`
pub(crate) async fn check(settings: &Settings, as_json: bool) -> Result<ExitCode, String> {
    let check = SeaStore::check_existing(&settings.database_url)
        .await
        .map_err(|e| e.to_string())?;
    if as_json {
        out!(
            "{}",
            json!({
                "database": settings.database_url.to_string(),
                "backend": check.backend,
                "healthy": check.healthy,
                "detail": check.detail,
                "pending_migrations": check.pending_migrations,
            })
        );
    } else {
        let verdict = if check.healthy {
            "healthy"
        } else {
            "UNHEALTHY"
        };
        let detail = match check.backend {
            "sqlite" => format!("integrity check: {}", check.detail),
            _ => format!("server: {}", check.detail),
        };
        out!("{}: {verdict} ({detail})", settings.database_url);
        if check.pending_migrations.is_empty() {
            out!("schema: up to date");
        } else {
            out!(
                "schema: {} pending migration(s), applied by `invest db migrate` or at the next start: {}",
                check.pending_migrations.len(),
                check.pending_migrations.join(", ")
            );
        }
    }
    Ok(if check.healthy {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

/// An existing database with its schema up to date, for maintenance.
async fn existing(settings: &Settings) -> Result<SeaStore, String> {
    existing_at(&settings.database_url).await
}

/// The database at `url`, which must exist and be up to date.
async fn existing_at(url: &signal_sentinel::config::DatabaseUrl) -> Result<SeaStore, String> {
    let store = SeaStore::connect_existing(url)
        .await
        .map_err(|e| e.to_string())?;
    let pending = store
        .pending_migrations()
        .await
        .map_err(|e| e.to_string())?;
    if !pending.is_empty() {
        return Err(format!(
            "{}: {} pending migration(s); run `invest db migrate` first",
            url,
            pending.len()
        ));
    }
    Ok(store)
}

/// `1.2 MB`
fn size(bytes: u64) -> String {
    match bytes {
        b if b >= 1 << 30 => format!("{:.1} GB", b as f64 / f64::from(1u32 << 30)),
        b if b >= 1 << 20 => format!("{:.1} MB", b as f64 / f64::from(1u32 << 20)),
        b if b >= 1 << 10 => format!("{:.1} kB", b as f64 / 1024.0),
        b => format!("{b} B"),
    }
}

/// `invest db stats`
pub(crate) async fn stats(settings: &Settings, as_json: bool) -> Result<ExitCode, String> {
    let store = existing(settings).await?;
    let stats = store.stats().await.map_err(|e| e.to_string())?;
    store.close().await.map_err(|e| e.to_string())?;
    if as_json {
        let tables: serde_json::Map<String, serde_json::Value> = stats
            .tables
            .iter()
            .map(|(t, n)| ((*t).to_owned(), json!(n)))
            .collect();
        out!(
            "{}",
            json!({
                "database": settings.database_url.to_string(),
                "backend": stats.backend,
                "size_bytes": stats.size_bytes,
                "tables": tables,
            })
        );
    } else {
        out!(
            "{} ({}): {}",
            settings.database_url,
            stats.backend,
            size(stats.size_bytes)
        );
        for (table, rows) in &stats.tables {
            out!("  {table:<20} {rows:>10}");
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// `invest db vacuum`
pub(crate) async fn vacuum(settings: &Settings, as_json: bool) -> Result<ExitCode, String> {
    let store = existing(settings).await?;
    let (before, after) = store.vacuum().await.map_err(|e| e.to_string())?;
    store.close().await.map_err(|e| e.to_string())?;
    if as_json {
        out!(
            "{}",
            json!({"database": settings.database_url.to_string(), "size_before": before, "size_after": after})
        );
    } else {
        out!(
            "{}: {} -> {}",
            settings.database_url,
            size(before),
            size(after)
        );
    }
    Ok(ExitCode::SUCCESS)
}

/// `invest db backup`
pub(crate) async fn backup(
    settings: &Settings,
    dir: &std::path::Path,
    keep_days: u32,
    as_json: bool,
) -> Result<ExitCode, String> {
    if settings.database_url.is_postgres() {
        return Err(format!(
            "PostgreSQL is backed up with its own tool: pg_dump --format=custom --file=signal_sentinel.dump \"$DATABASE_URL\" (restore with pg_restore); {} is not copied",
            settings.database_url
        ));
    }
    let store = existing(settings).await?;
    let now = signal_sentinel::clock::Clock::now(&signal_sentinel::clock::SystemClock);
    let progress = crate::output::spinner("copying, checking and compressing the database…");
    let report = store.backup_sqlite(dir, keep_days, now).await;
    progress.finish_and_clear();
    let report = report.map_err(|e| e.to_string())?;
    store.close().await.map_err(|e| e.to_string())?;
    if as_json {
        out!("{}", json!(report));
    } else {
        out!(
            "backed up {} to {} ({} -> {}, integrity check ok)",
            settings.database_url,
            report.file.display(),
            size(report.database_bytes),
            size(report.compressed_bytes)
        );
        for old in &report.removed {
            out!("removed {} (older than {keep_days} days)", old.display());
        }
    }
    Ok(ExitCode::SUCCESS)
}

pub(crate) async fn restore(
    settings: &Settings,
    file: &std::path::Path,
    force: bool,
    as_json: bool,
) -> Result<ExitCode, String> {
    let target = match settings.database_url.backend() {
        signal_sentinel::config::DatabaseBackend::SqliteFile(path) => path.clone(),
        signal_sentinel::config::DatabaseBackend::Postgres => {
            return Err(format!(
                "PostgreSQL is restored with its own tool: pg_restore --clean --dbname=\"$DATABASE_URL\" {}",
                file.display()
            ));
        }
        _ => return Err("an in-memory database cannot be restored into".into()),
    };
    if !file.exists() {
        return Err(format!("{} does not exist", file.display()));
    }
    let now = signal_sentinel::clock::Clock::now(&signal_sentinel::clock::SystemClock);
    let progress = crate::output::spinner("unpacking and checking the backup…");
    let report = signal_sentinel::store::restore_sqlite(&target, file, force, now).await;
    progress.finish_and_clear();
    let report = report.map_err(|e| e.to_string())?;
    if as_json {
        out!("{}", json!(report));
    } else {
        out!(
            "restored {} from {} ({}, integrity check ok)",
            report.database.display(),
            file.display(),
            size(report.database_bytes)
        );
        if let Some(kept) = &report.replaced_kept_as {
            out!("the replaced database is kept as {}", kept.display());
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// `invest db copy`: every row of the source into an empty target.
pub(crate) async fn copy(
    settings: &Settings,
    from: Option<&str>,
    to: &str,
    as_json: bool,
) -> Result<ExitCode, String> {
    let parse = |flag: &str, url: &str| {
        signal_sentinel::config::DatabaseUrl::parse(url).map_err(|e| format!("--{flag}: {e}"))
    };
    let source_url = match from {
        Some(url) => parse("from", url)?,
        None => settings.database_url.clone(),
    };
    let target_url = parse("to", to)?;
    if source_url == target_url {
        return Err("--from and --to name the same database".into());
    }
    let source = existing_at(&source_url).await?;
    let target = SeaStore::open(&target_url)
        .await
        .map_err(|e| format!("{target_url}: {e}"))?;
    let report = source.copy_to(&target).await.map_err(|e| match e {
        signal_sentinel::store::StoreError::Conflict { .. } => {
            format!("{target_url} holds data already: the target must be empty (a new database)")
        }
        other => format!("{target_url}: {other}"),
    })?;
    source.close().await.map_err(|e| e.to_string())?;
    target.close().await.map_err(|e| e.to_string())?;
    if as_json {
        let tables: serde_json::Map<String, serde_json::Value> = report
            .tables
            .iter()
            .map(|(t, n)| (t.clone(), json!(n)))
            .collect();
        out!(
            "{}",
            json!({"from": source_url.to_string(), "to": target_url.to_string(), "tables": tables})
        );
    } else {
        let rows: u64 = report.tables.iter().map(|(_, n)| n).sum();
        out!("copied {rows} rows from {source_url} to {target_url}");
        for (table, n) in &report.tables {
            out!("  {table:<20} {n:>10}");
        }
    }
    Ok(ExitCode::SUCCESS)
}
