//! One module per command group.

pub(crate) mod alerts;
pub(crate) mod auth;
pub(crate) mod db;
pub(crate) mod demo;
pub(crate) mod monitor;
pub(crate) mod notifications;
pub(crate) mod portfolio;
pub(crate) mod quote;
pub(crate) mod rules;
pub(crate) mod serve;

use signal_sentinel::config::Settings;
use signal_sentinel::domain::User;
use signal_sentinel::store::SeaStore;

/// The database, and the user a command acts for (`--user`, or the only one).
pub(crate) async fn open_as(
    settings: &Settings,
    user: Option<&str>,
) -> Result<(SeaStore, User), String> {
    let store = SeaStore::open(&settings.database_url)
        .await
        .map_err(|e| e.to_string())?;
    let me = signal_sentinel::users::acting_user(&store, user)
        .await
        .map_err(|e| e.to_string())?;
    Ok((store, me))
}

/// The library's use cases over the configured database and providers, acting for the user
/// `--user` names (or the only one).
pub(crate) async fn services_as(
    settings: &Settings,
    user: Option<&str>,
) -> Result<
    (
        signal_sentinel::service::Services,
        signal_sentinel::service::Principal,
        User,
    ),
    String,
> {
    use std::sync::Arc;
    let (store, me) = open_as(settings, user).await?;
    let clock: Arc<dyn signal_sentinel::clock::Clock> =
        Arc::new(signal_sentinel::clock::SystemClock);
    // A quote older than this counts as missing.
    let market = signal_sentinel::market::providers_from_settings(
        settings,
        clock.clone(),
        Some(chrono::Duration::minutes(30)),
    )?;
    let services = signal_sentinel::service::Services::from_settings(
        settings,
        Arc::new(store),
        clock,
        Arc::new(market),
        Vec::new(),
    )
    .map_err(|e| e.to_string())?;
    let who = signal_sentinel::service::Principal {
        user: me.id,
        api_key: None,
    };
    Ok((services, who, me))
}

/// A failed use case as the one line `invest` prints: the library's message (an input error
/// names its field), and for internal failures the cause, which is also logged at error
/// level. Secrets never reach these messages.
pub(crate) fn service_failure(e: signal_sentinel::service::ServiceError) -> String {
    use signal_sentinel::service::ServiceError;
    match e {
        ServiceError::Internal(cause) => {
            tracing::error!("internal error: {cause}");
            format!("internal error: {cause}")
        }
        other => other.to_string(),
    }
}
