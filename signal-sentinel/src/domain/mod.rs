//! Domain types: identifiers, symbols, quotes, users, rules, alerts, channels, holdings.
//!
//! Values are validated when they are built ([`Symbol::parse`], [`Email::parse`],
//! [`Quote::new`], …), so code that holds one never checks it again.

/// Declares a fieldless enum stored as text: `as_str`, `Display`, `FromStr` (with a
/// [`ValidationError`] naming the accepted values) and snake-case serde.
macro_rules! stored_enum {
    (
        $(#[$meta:meta])*
        pub enum $name:ident($what:literal) {
            $($(#[$vmeta:meta])* $variant:ident => $text:literal,)+
        }
    ) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
        #[non_exhaustive]
        pub enum $name {
            $($(#[$vmeta])* #[serde(rename = $text)] $variant,)+
        }

        impl $name {
            /// Every value, in declaration order.
            pub const ALL: &'static [Self] = &[$(Self::$variant),+];

            /// The stored (and serialized) name.
            pub fn as_str(self) -> &'static str {
                match self {
                    $(Self::$variant => $text,)+
                }
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl std::str::FromStr for $name {
            type Err = $crate::domain::ValidationError;

            fn from_str(s: &str) -> Result<Self, Self::Err> {
                match s {
                    $($text => Ok(Self::$variant),)+
                    other => Err($crate::domain::ValidationError::Field {
                        field: $what,
                        reason: format!(
                            "unknown value {other:?}; expected one of: {}",
                            [$($text),+].join(", ")
                        ),
                    }),
                }
            }
        }
    };
}

mod alert;
mod api_key;
mod channel;
mod connection;
mod delivery;
mod email;
mod error;
mod event;
mod holding;
mod ids;
mod market;
mod rule;
mod symbol;
pub mod text;
mod user;
mod worker;

pub use alert::{Alert, AlertCursor, AlertKind, AlertQuery, AlertState, NewAlert};
pub use api_key::{ApiKey, NewApiKey};
pub use channel::{ChannelKind, ChannelOutcome, NewChannel, NotificationChannel};
pub use connection::{BrokerConnection, ConnectionStatus, NewBrokerConnection, SyncOutcome};
pub use delivery::{
    CycleWrite, Delivery, DeliveryEvent, DeliveryOutcome, DeliveryStatus, NewDelivery,
};
pub use email::Email;
pub use error::ValidationError;
pub use event::{AppliedSplit, CorporateEvent, EventKind, ReportHour, SplitRatio, SymbolEvents};
pub use holding::{Holding, HoldingSource, NewHolding};
pub use ids::{AlertId, ApiKeyId, ChannelId, ConnectionId, DeliveryId, HoldingId, RuleId, UserId};
pub use market::{Bar, MAX_PRICE, MIN_PRICE, Quote, Sample, SymbolSamples};
pub use rule::{
    JsonDocument, NewRule, Rule, RuleChanges, RuleFilter, RulePhase, RuleStamp, RuleState,
    RuleUpdate,
};
pub use symbol::{Symbol, SymbolKind};
pub use text::{TextError, check_text};
pub use user::{NewUser, User, UserUpdate};
pub use worker::{
    MarketFeed, SHARDS, ShardFence, StreamStatus, WorkerCycle, WorkerIdentity, WorkerStatus,
    lease_for, shard_of,
};
