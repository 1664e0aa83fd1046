use serde::Serialize;

use super::{ConnectionId, NewHolding, UserId};
use crate::time::Timestamp;

stored_enum! {
    /// The health of a brokerage connection.
    pub enum ConnectionStatus("connection status") {
        /// Synchronising normally (or not yet synchronised).
        Active => "active",
        /// The brokerage needs the user (a new sign-in, consent …): scheduled syncs skip it
        /// until the user repairs it.
        NeedsAttention => "needs_attention",
        /// The last sync failed for a passing reason (outage, rate limit): retried.
        Retrying => "retrying",
    }
}

/// A linked brokerage (a Plaid item) of a user.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct BrokerConnection {
    /// Identifier.
    pub id: ConnectionId,
    /// Owner.
    pub owner: UserId,
    /// The link provider (`plaid`).
    pub provider: String,
    /// The provider's id of the link (not a secret).
    pub item_id: String,
    /// The institution's name or id, when known.
    pub institution: Option<String>,
    /// The access token, sealed by [`crate::auth::vault::Vault`]; never sent to clients.
    #[serde(skip)]
    pub sealed_token: String,
    /// Health.
    pub status: ConnectionStatus,
    /// The provider's code of the last failure (`ITEM_LOGIN_REQUIRED`).
    pub error_code: Option<String>,
    /// The last failure's message.
    pub error_message: Option<String>,
    /// When holdings were last synchronised.
    pub last_synced_at: Option<Timestamp>,
    /// When it was linked.
    pub created_at: Timestamp,
}

/// A connection to store.
#[derive(Debug, Clone)]
pub struct NewBrokerConnection {
    /// Owner.
    pub owner: UserId,
    /// The link provider (`plaid`).
    pub provider: String,
    /// The provider's id of the link.
    pub item_id: String,
    /// The institution's name or id.
    pub institution: Option<String>,
    /// The sealed access token.
    pub sealed_token: String,
}

/// What a synchronisation of one connection brought.
#[derive(Debug, Clone)]
pub enum SyncOutcome {
    /// The connection's holdings now: they replace the ones it reported before.
    Holdings(Vec<NewHolding>),
    /// It failed; the holdings stay as they were.
    Failed {
        /// [`ConnectionStatus::NeedsAttention`] or [`ConnectionStatus::Retrying`].
        status: ConnectionStatus,
        /// The provider's code, when it sent one.
        code: Option<String>,
        /// What went wrong (no secret in it).
        message: String,
    },
}
