//! Endpoints, one module per tag.

use poem_openapi::{ApiResponse, Tags};

pub mod alerts;
pub mod auth;
pub mod channels;
pub mod health;
pub mod market;
pub mod monitor;
pub mod portfolio;
pub mod rules;

/// The spec's tags.
#[derive(Debug, Tags)]
pub enum ApiTags {
    /// Liveness and readiness.
    Health,
    /// Accounts, session tokens and API keys.
    Auth,
    /// Alert rules.
    Rules,
    /// Alerts the rules fired, and their live stream.
    Alerts,
    /// Where alerts are sent.
    Channels,
    /// Quotes and bars.
    Market,
    /// The background monitor.
    Monitor,
    /// Holdings and their value.
    Portfolio,
}

/// Done, nothing to say.
#[derive(Debug, ApiResponse)]
pub enum NoContent {
    /// Done.
    #[oai(status = 204)]
    Done,
}

/// Most rows a list answers unless asked for fewer.
pub(crate) const DEFAULT_PAGE_SIZE: u64 = 50;
