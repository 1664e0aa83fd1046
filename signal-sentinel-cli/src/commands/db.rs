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
