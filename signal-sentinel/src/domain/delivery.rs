use serde::Serialize;

use super::{AlertId, ChannelId, DeliveryId, NewAlert, RuleId, RuleState, SymbolSamples};
use crate::time::Timestamp;

stored_enum! {
    /// Where a delivery stands.
    pub enum DeliveryStatus("delivery status") {
        /// Waiting to be sent (or to be retried at `next_attempt_at`).
        Pending => "pending",
        /// Delivered.
        Sent => "sent",
        /// Failed for good (retries exhausted, or a permanent refusal).
        GivenUp => "given_up",
    }
}

/// One alert to send through one channel: the outbox row the dispatcher works from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Delivery {
    /// Identifier (also the idempotency key sent to receivers).
    pub id: DeliveryId,
    /// The alert.
    pub alert_id: AlertId,
    /// The channel.
    pub channel_id: ChannelId,
    /// Where it stands.
    pub status: DeliveryStatus,
    /// Attempts made so far.
    pub attempts: i32,
    /// When the next attempt is due.
    pub next_attempt_at: Timestamp,
    /// Why the last attempt failed (scrubbed of secrets).
    pub last_error: Option<String>,
    /// When it was delivered.
    pub sent_at: Option<Timestamp>,
    /// When it was queued.
    pub created_at: Timestamp,
}

/// Everything one monitor cycle writes, in one transaction.
#[derive(Debug, Clone, Default)]
pub struct CycleWrite {
    /// Rule states that changed.
    pub states: Vec<RuleState>,
    /// Alerts raised; one already stored for the same rule, episode and kind is skipped (a
    /// retried or repeated cycle writes nothing twice). Each new alert gets a pending delivery
    /// per enabled channel of its owner.
    pub alerts: Vec<NewAlert>,
    /// Rules that fired and must record it (and, when `true`, disable themselves: they fire
    /// once).
    pub fired: Vec<(RuleId, Timestamp, bool)>,
    /// The symbols' latest samples.
    pub samples: Vec<SymbolSamples>,
}
