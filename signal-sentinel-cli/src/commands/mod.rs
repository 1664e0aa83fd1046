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
use signal_sentinel::service::{Principal, Services};

/// The library's use cases as the settings configure them (the library's one composition
/// root).
pub(crate) async fn services(settings: &Settings) -> anyhow::Result<Services> {
    Ok(Services::open(settings).await?)
}

/// [`services`], acting for the user `--user` names (or the only one).
pub(crate) async fn services_as(
    settings: &Settings,
    user: Option<&str>,
) -> anyhow::Result<(Services, Principal, User)> {
    let services = services(settings).await?;
    let (who, me) = services.acting_user(user).await?;
    Ok((services, who, me))
}
