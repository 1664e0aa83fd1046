use rust_decimal::Decimal;
use serde::Serialize;

use super::{AlertId, RuleId, Symbol, UserId};
use crate::time::Timestamp;

stored_enum! {
    /// Whether an alert says a condition started or stopped holding.
    pub enum AlertKind("alert kind") {
        /// The condition became true.
        Fired => "fired",
        /// The condition stopped being true (for rules that report recovery).
        Resolved => "resolved",
        /// The condition still holds: a reminder while firing (the rule's `repeat` option).
        Reminder => "reminder",
        /// The rule has no data, or cannot be evaluated, in market hours (its `no_data` or
        /// `on_error` option is `alert`).
        NoData => "no_data",
        /// A notice to the rule's owner about the rule itself: a split moved its level.
        Notice => "notice",
    }
}

stored_enum! {
    /// Whether the owner has seen an alert.
    pub enum AlertState("alert state") {
        /// Not acknowledged yet.
        New => "new",
        /// Acknowledged by the owner.
        Acknowledged => "acknowledged",
    }
}

/// A stored alert: a rule fired (or resolved) at a price.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Alert {
    /// Identifier.
    pub id: AlertId,
    /// The rule that raised it; `None` once that rule has been deleted (the alert is kept).
    pub rule_id: Option<RuleId>,
    /// Owner (the rule's owner).
    pub owner: UserId,
    /// The symbol.
    pub symbol: Symbol,
    /// The rule's episode; `(rule, episode, kind, reminder)` is unique.
    pub episode: i64,
    /// Fired or resolved.
    pub kind: AlertKind,
    /// The price that triggered it.
    pub price: Decimal,
    /// The rendered message.
    pub message: String,
    /// An AI (or template) summary, added after the alert is stored.
    pub summary: Option<String>,
    /// New or acknowledged.
    pub state: AlertState,
    /// When it fired.
    pub fired_at: Timestamp,
    /// When the owner acknowledged it.
    pub acknowledged_at: Option<Timestamp>,
    /// For a reminder, which one of its episode (1, 2, …); for a notice, the day it is about
    /// (days since 1970-01-01: a split's ex-date); 0 otherwise.
    pub reminder: u32,
}

/// What it takes to store an [`Alert`].
#[derive(Debug, Clone)]
pub struct NewAlert {
    /// The rule that fired.
    pub rule_id: RuleId,
    /// The rule's owner.
    pub owner: UserId,
    /// The symbol.
    pub symbol: Symbol,
    /// The rule's episode.
    pub episode: i64,
    /// Fired or resolved.
    pub kind: AlertKind,
    /// The price that triggered it.
    pub price: Decimal,
    /// The rendered message.
    pub message: String,
    /// When it fired.
    pub fired_at: Timestamp,
    /// For a reminder, which one of its episode (1, 2, …); for a notice, the day it is about
    /// (days since 1970-01-01: a split's ex-date); 0 otherwise.
    pub reminder: u32,
}

/// Position in the newest-first list of alerts: the last alert of the previous page.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct AlertCursor {
    /// `fired_at` of the last alert seen.
    pub fired_at: Timestamp,
    /// `id` of the last alert seen.
    pub id: AlertId,
}

impl From<&Alert> for AlertCursor {
    fn from(alert: &Alert) -> Self {
        Self {
            fired_at: alert.fired_at,
            id: alert.id,
        }
    }
}

/// Which alerts of a user to list, newest first.
#[derive(Debug, Clone)]
pub struct AlertQuery {
    /// The owner (alerts are always listed per user).
    pub owner: UserId,
    /// Only this rule's alerts.
    pub rule_id: Option<RuleId>,
    /// Only this symbol's alerts.
    pub symbol: Option<Symbol>,
    /// Only alerts fired at or after this instant.
    pub since: Option<Timestamp>,
    /// Only alerts in this state.
    pub state: Option<AlertState>,
    /// Only alerts older than this cursor (the next page).
    pub before: Option<AlertCursor>,
    /// At most this many alerts.
    pub limit: u64,
}

impl AlertQuery {
    /// The newest `limit` alerts of `owner`, unfiltered.
    pub fn newest(owner: UserId, limit: u64) -> Self {
        Self {
            owner,
            rule_id: None,
            symbol: None,
            since: None,
            state: None,
            before: None,
            limit,
        }
    }
}
