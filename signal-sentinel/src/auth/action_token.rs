//! Tokens that let a message act on the alert it carries: signed, expiring, bound to one
//! alert, one action and one user.
//!
//! A token is 42 bytes, written as 56 characters of URL-safe base64 (short enough for a
//! Telegram button's 64-byte `callback_data`):
//!
//! | bytes | what |
//! |---|---|
//! | 1 | format version (1) |
//! | 1 | the action ([`AlertAction::code`]) |
//! | 8 | the user id, big-endian |
//! | 8 | the alert id, big-endian |
//! | 8 | expiry, seconds since the Unix epoch, big-endian |
//! | 16 | HMAC-SHA256 of the 26 bytes above, truncated to 128 bits |
//!
//! The HMAC key is derived (HKDF-SHA256) from `SECRET_KEY` for this purpose only, so neither a
//! session token nor a sealed secret can pass for an action token. During a rotation the key
//! derived from `SECRET_KEY_PREVIOUS` verifies too. A token works once: its
//! [`id`](VerifiedAction::token_id) is recorded when it is used (see
//! [`Services::act_on_alert`](crate::service::Services::act_on_alert)).

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use ring::hkdf::{HKDF_SHA256, KeyType, Salt};
use ring::hmac;
use sha2::{Digest, Sha256};
use thiserror::Error;

use crate::domain::{AlertId, UserId};
use crate::time::Timestamp;

const VERSION: u8 = 1;
const INFO: &[u8] = b"signal-sentinel alert actions v1";
const PAYLOAD_LEN: usize = 26;
const MAC_LEN: usize = 16;
/// The length of a token's text form.
pub const TOKEN_LEN: usize = (PAYLOAD_LEN + MAC_LEN).div_ceil(3) * 4;

/// How long a token in a message stays usable: a week.
pub const ACTION_TOKEN_LIFETIME: std::time::Duration = std::time::Duration::from_secs(7 * 86_400);

/// What a message can do to the alert it carries (and its rule).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum AlertAction {
    /// Mark the alert as seen.
    Acknowledge,
    /// Snooze the rule for an hour.
    SnoozeHour,
    /// Snooze the rule until the next regular session opens (New York).
    SnoozeUntilOpen,
    /// Arm a rule that fires once again (it disabled itself when it fired).
    Rearm,
    /// Disable the rule.
    DisableRule,
    /// Move a price-level rule's level 5% further in the direction it fired, and arm it again.
    RearmFurther,
}

impl AlertAction {
    /// Every action, in the order messages show them.
    pub const ALL: &'static [Self] = &[
        Self::Acknowledge,
        Self::SnoozeHour,
        Self::SnoozeUntilOpen,
        Self::Rearm,
        Self::RearmFurther,
        Self::DisableRule,
    ];

    /// Its byte in a token.
    pub const fn code(self) -> u8 {
        match self {
            Self::Acknowledge => 1,
            Self::SnoozeHour => 2,
            Self::SnoozeUntilOpen => 3,
            Self::Rearm => 4,
            Self::DisableRule => 5,
            Self::RearmFurther => 6,
        }
    }

    fn from_code(code: u8) -> Option<Self> {
        Self::ALL.iter().copied().find(|a| a.code() == code)
    }

    /// Its name in the API: `acknowledge`, `snooze_1h`, `snooze_until_open`, `rearm`,
    /// `disable_rule`, `rearm_further`.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Acknowledge => "acknowledge",
            Self::SnoozeHour => "snooze_1h",
            Self::SnoozeUntilOpen => "snooze_until_open",
            Self::Rearm => "rearm",
            Self::DisableRule => "disable_rule",
            Self::RearmFurther => "rearm_further",
        }
    }

    /// The label of its button.
    pub const fn label(self) -> &'static str {
        match self {
            Self::Acknowledge => "Acknowledge",
            Self::SnoozeHour => "Snooze 1 h",
            Self::SnoozeUntilOpen => "Snooze until open",
            Self::Rearm => "Re-arm",
            Self::DisableRule => "Disable rule",
            Self::RearmFurther => "Re-arm 5% further",
        }
    }
}

impl std::str::FromStr for AlertAction {
    type Err = crate::domain::ValidationError;

    /// Parses an action's API name ([`as_str`](Self::as_str)).
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::ALL
            .iter()
            .copied()
            .find(|a| a.as_str() == s)
            .ok_or_else(|| {
                crate::domain::ValidationError::field_error(
                    "action",
                    format!(
                        "unknown action {s:?}; expected one of: {}",
                        Self::ALL
                            .iter()
                            .map(|a| a.as_str())
                            .collect::<Vec<_>>()
                            .join(", ")
                    ),
                )
            })
    }
}

impl std::fmt::Display for AlertAction {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What a token grants.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ActionGrant {
    /// The action.
    pub action: AlertAction,
    /// The user it acts as.
    pub user: UserId,
    /// The alert it acts on.
    pub alert: AlertId,
    /// After this instant it no longer works.
    pub expires_at: Timestamp,
}

/// A token whose signature checked out and whose time has not run out.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifiedAction {
    /// What it grants.
    pub grant: ActionGrant,
    /// Identifies the token for its single use: hex of SHA-256 of its payload, 32 digits (the
    /// same under either key of a rotation).
    pub token_id: String,
}

/// Why a token does not act.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum ActionTokenError {
    /// Not a token of this server's format (cut short, mistyped).
    #[error("this link is not a valid action link (it may have been cut short)")]
    Malformed,
    /// The signature does not match: forged or altered, or signed under a `SECRET_KEY` this
    /// server no longer has.
    #[error("this link was not issued by this server, or its key has been replaced")]
    Forged,
    /// Its time ran out.
    #[error("this link has expired; act from the dashboard instead")]
    Expired,
}

struct Len;

impl KeyType for Len {
    fn len(&self) -> usize {
        32
    }
}

fn derive(secret: &[u8]) -> hmac::Key {
    let prk = Salt::new(HKDF_SHA256, b"signal-sentinel").extract(secret);
    let mut bytes = [0u8; 32];
    prk.expand(&[INFO], Len)
        .and_then(|okm| okm.fill(&mut bytes))
        .expect("32 bytes is a valid HKDF-SHA256 output length");
    hmac::Key::new(hmac::HMAC_SHA256, &bytes)
}

/// Signs and verifies action tokens with keys derived from `SECRET_KEY` (and
/// `SECRET_KEY_PREVIOUS`).
pub struct ActionKeys {
    current: hmac::Key,
    previous: Option<hmac::Key>,
}

impl std::fmt::Debug for ActionKeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ActionKeys")
            .field("rotating", &self.previous.is_some())
            .finish_non_exhaustive()
    }
}

impl ActionKeys {
    /// Keys derived from the current secret and, during a rotation, the previous one.
    pub fn new(current: &[u8], previous: Option<&[u8]>) -> Self {
        Self {
            current: derive(current),
            previous: previous.map(derive),
        }
    }

    /// The token granting `grant`, under the current key.
    pub fn sign(&self, grant: &ActionGrant) -> String {
        let payload = payload(grant);
        let tag = hmac::sign(&self.current, &payload);
        let mut bytes = Vec::with_capacity(PAYLOAD_LEN + MAC_LEN);
        bytes.extend_from_slice(&payload);
        bytes.extend_from_slice(&tag.as_ref()[..MAC_LEN]);
        URL_SAFE_NO_PAD.encode(bytes)
    }

    /// Checks a token's form, signature (under either key) and expiry at `now`.
    ///
    /// # Errors
    /// [`ActionTokenError`] saying which check failed.
    pub fn verify(&self, token: &str, now: Timestamp) -> Result<VerifiedAction, ActionTokenError> {
        let token = token.trim();
        if token.len() != TOKEN_LEN {
            return Err(ActionTokenError::Malformed);
        }
        let bytes = URL_SAFE_NO_PAD
            .decode(token)
            .map_err(|_| ActionTokenError::Malformed)?;
        let (payload, mac) = bytes.split_at(PAYLOAD_LEN);
        let signed_by = |key: &hmac::Key| {
            let tag = hmac::sign(key, payload);
            bool::from(subtle::ConstantTimeEq::ct_eq(&tag.as_ref()[..MAC_LEN], mac))
        };
        if !signed_by(&self.current) && !self.previous.as_ref().is_some_and(signed_by) {
            return Err(ActionTokenError::Forged);
        }
        let grant = parse(payload).ok_or(ActionTokenError::Malformed)?;
        if now >= grant.expires_at {
            return Err(ActionTokenError::Expired);
        }
        Ok(VerifiedAction {
            grant,
            token_id: hex::encode(&Sha256::digest(payload)[..16]),
        })
    }
}

fn payload(grant: &ActionGrant) -> [u8; PAYLOAD_LEN] {
    let mut out = [0u8; PAYLOAD_LEN];
    out[0] = VERSION;
    out[1] = grant.action.code();
    out[2..10].copy_from_slice(&grant.user.get().to_be_bytes());
    out[10..18].copy_from_slice(&grant.alert.get().to_be_bytes());
    out[18..26].copy_from_slice(&grant.expires_at.timestamp().to_be_bytes());
    out
}

fn parse(payload: &[u8]) -> Option<ActionGrant> {
    if payload.len() != PAYLOAD_LEN || payload[0] != VERSION {
        return None;
    }
    let int = |range: std::ops::Range<usize>| {
        Some(i64::from_be_bytes(payload.get(range)?.try_into().ok()?))
    };
    Some(ActionGrant {
        action: AlertAction::from_code(payload[1])?,
        user: UserId::new(int(2..10)?),
        alert: AlertId::new(int(10..18)?),
        expires_at: chrono::DateTime::from_timestamp(int(18..26)?, 0)?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone as _;

    fn at(seconds: i64) -> Timestamp {
        chrono::Utc
            .timestamp_opt(1_800_000_000 + seconds, 0)
            .unwrap()
    }

    fn grant() -> ActionGrant {
        ActionGrant {
            action: AlertAction::SnoozeHour,
            user: UserId::new(7),
            alert: AlertId::new(42),
            expires_at: at(3600),
        }
    }

    #[test]
    fn a_token_fits_a_telegram_button_and_round_trips() {
        let keys = ActionKeys::new(b"a secret key of thirty-two bytes!", None);
        let token = keys.sign(&grant());
        assert_eq!(token.len(), TOKEN_LEN);
        assert!(token.len() <= 64, "{token}");
        let verified = keys.verify(&token, at(0)).unwrap();
        assert_eq!(verified.grant, grant());
        assert_eq!(verified.token_id.len(), 32);
    }

    #[test]
    fn forged_altered_expired_and_cut_tokens_are_refused() {
        let keys = ActionKeys::new(b"a secret key of thirty-two bytes!", None);
        let other = ActionKeys::new(b"another key of thirty-two bytes!!", None);
        let token = keys.sign(&grant());
        assert_eq!(other.verify(&token, at(0)), Err(ActionTokenError::Forged));
        assert_eq!(
            keys.verify(&token, at(3600)),
            Err(ActionTokenError::Expired)
        );
        assert_eq!(
            keys.verify(&token[..40], at(0)),
            Err(ActionTokenError::Malformed)
        );
        // Each byte of the payload is covered: changing the user, the alert or the action
        // breaks the signature.
        let mut bytes = URL_SAFE_NO_PAD.decode(&token).unwrap();
        for i in 0..PAYLOAD_LEN {
            bytes[i] ^= 1;
            let altered = URL_SAFE_NO_PAD.encode(&bytes);
            assert_eq!(keys.verify(&altered, at(0)), Err(ActionTokenError::Forged));
            bytes[i] ^= 1;
        }
        assert_eq!(
            keys.verify("!".repeat(TOKEN_LEN).as_str(), at(0)),
            Err(ActionTokenError::Malformed)
        );
    }

    #[test]
    fn a_token_signed_before_a_rotation_still_works_and_keeps_its_id() {
        let old = ActionKeys::new(b"the old key of thirty-two bytes!!", None);
        let rotated = ActionKeys::new(
            b"the new key of thirty-two bytes!!",
            Some(b"the old key of thirty-two bytes!!"),
        );
        let before = old.sign(&grant());
        let after = rotated.sign(&grant());
        assert_ne!(before, after);
        assert_eq!(
            rotated.verify(&before, at(0)).unwrap().token_id,
            rotated.verify(&after, at(0)).unwrap().token_id
        );
    }
}
