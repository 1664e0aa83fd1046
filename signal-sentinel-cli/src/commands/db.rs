//! `invest db …`

use std::process::ExitCode;

use serde_json::json;
use signal_sentinel::config::Settings;
use signal_sentinel::maintenance::Maintenance;

use crate::output::{Table, out};

/// `invest db migrate`
pub(crate) async fn migrate(settings: &Settings, as_json: bool) -> anyhow::Result<ExitCode> {
    let applied = maintenance(settings).migrate().await?;
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
pub(crate) async fn check(settings: &Settings, as_json: bool) -> anyhow::Result<ExitCode> {
    let check = maintenance(settings).check().await?;
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

/// Maintenance of the configured database.
fn maintenance(settings: &Settings) -> Maintenance {
    Maintenance::new(settings.database_url.clone())
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
pub(crate) async fn stats(settings: &Settings, as_json: bool) -> anyhow::Result<ExitCode> {
    let stats = maintenance(settings).stats().await?;
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
        let mut lines = Table::new(&[]).right(&[1]).indented("  ");
        for (table, rows) in &stats.tables {
            lines.row([table.to_string(), rows.to_string()]);
        }
        lines.print();
    }
    Ok(ExitCode::SUCCESS)
}

/// `invest db vacuum`
pub(crate) async fn vacuum(settings: &Settings, as_json: bool) -> anyhow::Result<ExitCode> {
    let (before, after) = maintenance(settings).vacuum().await?;
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
) -> anyhow::Result<ExitCode> {
    let now = signal_sentinel::clock::Clock::now(&signal_sentinel::clock::SystemClock);
    let progress = crate::output::spinner("copying, checking and compressing the database…");
    let report = maintenance(settings).backup(dir, keep_days, now).await;
    progress.finish_and_clear();
    let report = report?;
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
) -> anyhow::Result<ExitCode> {
    let now = signal_sentinel::clock::Clock::now(&signal_sentinel::clock::SystemClock);
    let progress = crate::output::spinner("unpacking and checking the backup…");
    let report = maintenance(settings).restore(file, force, now).await;
    progress.finish_and_clear();
    let report = report?;
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
) -> anyhow::Result<ExitCode> {
    let parse = |flag: &str, url: &str| {
        signal_sentinel::config::DatabaseUrl::parse(url)
            .map_err(|e| anyhow::anyhow!("--{flag}: {e}"))
    };
    let source_url = match from {
        Some(url) => parse("from", url)?,
        None => settings.database_url.clone(),
    };
    let target_url = parse("to", to)?;
    let report = Maintenance::new(source_url.clone())
        .copy_to(&target_url)
        .await?;
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
        let mut lines = Table::new(&[]).right(&[1]).indented("  ");
        for (table, n) in &report.tables {
            lines.row([table.to_string(), n.to_string()]);
        }
        lines.print();
    }
    Ok(ExitCode::SUCCESS)
}
