use serde::Serialize;

use super::{AlertId, ChannelId, DeliveryId, NewAlert, RuleId, RuleState, SymbolSamples, UserId};
use crate::time::Timestamp;

stored_enum! {
    /// Where a delivery stands.
    pub enum DeliveryStatus("delivery status") {
        /// Waiting to be sent (or to be retried at `next_attempt_at`).
        Pending => "pending",
        /// Delivered.
        Sent => "sent",
        /// Failed for good (too old, or a permanent refusal such as a blocked bot).
        GivenUp => "given_up",
        /// Not sent: the owner turned this kind of message off.
        Skipped => "skipped",
    }
}

stored_enum! {
    /// What a delivery carries.
    pub enum DeliveryEvent("delivery event") {
        /// A rule fired.
        Fired => "fired",
        /// A rule's condition stopped holding.
        Resolved => "resolved",
        /// The daily digest.
        Digest => "digest",
        /// A notice from Signal Sentinel itself (a channel that stopped working, …).
        System => "system",
        /// A test message asked for by the owner.
        Test => "test",
    }
}

/// A message that is not an alert, to queue for a channel.
#[derive(Debug, Clone)]
pub struct NewDelivery {
    /// The channel.
    pub channel_id: ChannelId,
    /// Its owner.
    pub user_id: UserId,
    /// What it is.
    pub event: DeliveryEvent,
    /// The text.
    pub body: String,
}

/// What became of one attempt, recorded on the delivery.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum DeliveryOutcome {
    /// Delivered (`silent`: without a sound, in quiet hours or by preference).
    Sent {
        /// When.
        at: Timestamp,
    },
    /// Failed for now: try again at `next_attempt_at`.
    Retry {
        /// When to try again.
        next_attempt_at: Timestamp,
        /// Why it failed (scrubbed of secrets).
        error: String,
    },
    /// Held (quiet hours): not an attempt; sent at `until`.
    Held {
        /// When to send.
        until: Timestamp,
    },
    /// Failed for good.
    GivenUp {
        /// Why (scrubbed of secrets).
        error: String,
    },
    /// Not sent: turned off by the owner.
    Skipped,
}

/// One message to send through one channel: the outbox row the dispatcher works from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Delivery {
    /// Identifier (also the idempotency key sent to receivers).
    pub id: DeliveryId,
    /// The alert, for alert deliveries.
    pub alert_id: Option<AlertId>,
    /// The channel.
    pub channel_id: ChannelId,
    /// The channel's owner.
    pub user_id: UserId,
    /// What it carries.
    pub event: DeliveryEvent,
    /// The text of a message that is not an alert.
    pub body: Option<String>,
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
    /// The cycle's time: new deliveries are queued as due then.
    pub at: Option<Timestamp>,
    /// Rule states that changed.
    pub states: Vec<RuleState>,
    /// Alerts raised; one already stored for the same rule, episode, kind and reminder is skipped (a
    /// retried or repeated cycle writes nothing twice). Each new alert gets a pending delivery
    /// per enabled channel of its owner.
    pub alerts: Vec<NewAlert>,
    /// Rules that fired and must record it (and, when `true`, disable themselves: they fire
    /// once).
    pub fired: Vec<(RuleId, Timestamp, bool)>,
    /// The symbols' latest samples.
    pub samples: Vec<SymbolSamples>,
    /// Splits applied: each is recorded once per symbol and ex-date (a second time is a
    /// [`StoreError::Conflict`](crate::store::StoreError::Conflict), and nothing is written),
    /// and its rules get their new conditions.
    pub splits: Vec<super::AppliedSplit>,
    /// When set, the write is committed only if this worker still holds these shards
    /// ([`StoreError::Conflict`](crate::store::StoreError::Conflict) otherwise, and nothing is
    /// written).
    pub fence: Option<super::ShardFence>,
}
