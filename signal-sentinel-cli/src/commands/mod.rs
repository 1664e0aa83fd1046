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
