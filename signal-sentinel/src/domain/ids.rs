use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use super::ValidationError;

macro_rules! id_type {
    ($(#[$doc:meta])* $name:ident, $what:literal) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
        #[serde(transparent)]
        pub struct $name(i64);

        impl $name {
            /// Wraps a database identifier.
            pub const fn new(id: i64) -> Self {
                Self(id)
            }

            /// The raw identifier.
            pub const fn get(self) -> i64 {
                self.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                self.0.fmt(f)
            }
        }

        impl FromStr for $name {
            type Err = ValidationError;

            /// Parses a positive decimal identifier, as typed on a command line or in a URL.
            fn from_str(s: &str) -> Result<Self, Self::Err> {
                match s.trim().parse::<i64>() {
                    Ok(id) if id > 0 => Ok(Self(id)),
                    _ => Err(ValidationError::field_error(
                        $what,
                        format!("expected a positive whole number, got {s:?}"),
                    )),
                }
            }
        }
    };
}

id_type!(
    /// Identifies a [`User`](super::User).
    UserId, "user id"
);
id_type!(
    /// Identifies a [`Rule`](super::Rule).
    RuleId, "rule id"
);
id_type!(
    /// Identifies an [`Alert`](super::Alert).
    AlertId, "alert id"
);
id_type!(
    /// Identifies an [`ApiKey`](super::ApiKey).
    ApiKeyId, "API key id"
);
id_type!(
    /// Identifies a [`NotificationChannel`](super::NotificationChannel).
    ChannelId, "channel id"
);
id_type!(
    /// Identifies a [`Holding`](super::Holding).
    HoldingId, "holding id"
);
id_type!(
    /// Identifies a [`Delivery`](super::Delivery).
    DeliveryId, "delivery id"
);
id_type!(
    /// Identifies a [`BrokerConnection`](super::BrokerConnection).
    ConnectionId, "connection id"
);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_positive_ids_only() {
        assert_eq!("42".parse::<RuleId>().ok(), Some(RuleId::new(42)));
        assert_eq!(" 7 ".parse::<UserId>().ok(), Some(UserId::new(7)));
        let err = "0".parse::<AlertId>().unwrap_err();
        assert_eq!(
            err.to_string(),
            "invalid alert id: expected a positive whole number, got \"0\""
        );
        assert!("abc".parse::<ApiKeyId>().is_err());
        assert!("-3".parse::<ChannelId>().is_err());
    }
}
