//! Brokerage links: the [`BrokerLink`] trait and its Plaid client.
//!
//! The flow is Plaid's: the server creates a *link token*; the browser opens Plaid Link with it
//! and the user signs in to their brokerage there (their credentials never reach us); Link hands
//! the browser a *public token*, which the server exchanges for a long-lived *access token*
//! (sealed at rest by [`crate::auth::vault`]); holdings are then read with the access token, on
//! a schedule and on demand. When the brokerage needs the user again (a changed password, an
//! expired consent) the link reports an item error such as `ITEM_LOGIN_REQUIRED`;
//! [`BrokerError::what_to_do`] says what the user does about it, and a link token in *update
//! mode* ([`BrokerLink::create_link_token`] with the access token) lets Link repair it.

#[cfg(feature = "plaid")]
mod plaid;

use std::time::Duration;

use async_trait::async_trait;
use rust_decimal::Decimal;
use serde::Serialize;
use thiserror::Error;

use crate::Secret;
use crate::domain::{Symbol, UserId};

#[cfg(all(feature = "plaid", feature = "fuzzing"))]
pub(crate) use plaid::fuzz_answer;
#[cfg(feature = "plaid")]
pub use plaid::{PlaidClient, PlaidConfig};

/// A token for the browser to open Plaid Link with (short-lived, single-use, not a credential).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct LinkToken {
    /// The token (`link-sandbox-…`).
    pub link_token: String,
    /// When it expires (RFC 3339, as the provider wrote it).
    pub expiration: Option<String>,
}

/// What exchanging a public token gives: the link's id and its access token.
#[derive(Debug, Clone)]
pub struct Exchanged {
    /// The provider's id of the link (Plaid's `item_id`).
    pub item_id: String,
    /// The access token; seal it before storing.
    pub access_token: Secret,
}

/// One position at the brokerage, mapped to our symbol.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct BrokerPosition {
    /// The account's label (`Plaid IRA ••5555`).
    pub account: String,
    /// Our symbol for the security.
    pub symbol: Symbol,
    /// Units held.
    pub quantity: Decimal,
    /// Cost per unit (the provider reports the total; we divide by the quantity).
    pub cost_basis: Option<Decimal>,
}

/// A holding that is not a position we can watch, and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SkippedHolding {
    /// The account's label.
    pub account: String,
    /// The security's name or ticker.
    pub name: String,
    /// Why it was left out.
    pub reason: String,
}

/// Everything one link holds.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct BrokerHoldings {
    /// The institution's id at the provider (`ins_3`).
    pub institution_id: Option<String>,
    /// Positions in securities we have symbols for.
    pub positions: Vec<BrokerPosition>,
    /// Cash and cash equivalents, in US dollars.
    pub cash: Decimal,
    /// Holdings left out (no ticker, another currency, options …).
    pub skipped: Vec<SkippedHolding>,
}

/// Why a call to the brokerage link failed.
#[derive(Debug, Clone, Error, PartialEq, Eq)]
#[non_exhaustive]
pub enum BrokerError {
    /// `PLAID_CLIENT_ID` and `PLAID_SECRET` are not set.
    #[error("brokerage linking is not configured: set PLAID_CLIENT_ID and PLAID_SECRET")]
    NotConfigured,
    /// The link needs the user (Plaid's `ITEM_ERROR`s: a new sign-in, consent, MFA …).
    #[error("{code}: {message}")]
    Item {
        /// The provider's code (`ITEM_LOGIN_REQUIRED`).
        code: String,
        /// The provider's message.
        message: String,
    },
    /// The request was refused (a bad or expired public token, wrong API keys …).
    #[error("{code}: {message}")]
    Rejected {
        /// The provider's code (`INVALID_PUBLIC_TOKEN`).
        code: String,
        /// The provider's message.
        message: String,
    },
    /// Too many requests; try again later.
    #[error("the brokerage link is rate limited")]
    RateLimited {
        /// How long the provider asked to wait, when it said.
        retry_after: Option<Duration>,
    },
    /// The provider or the institution did not answer usefully (down, timeout, malformed).
    #[error("the brokerage link is unavailable: {0}")]
    Unavailable(String),
}

impl BrokerError {
    /// The provider's error code, when it sent one.
    pub fn code(&self) -> Option<&str> {
        match self {
            Self::Item { code, .. } | Self::Rejected { code, .. } => Some(code),
            _ => None,
        }
    }

    /// What the user (or the operator) can do about it, in one sentence.
    pub fn what_to_do(&self) -> String {
        let reconnect = "Choose Reconnect next to the brokerage on the dashboard's overview and sign in at your brokerage again.";
        match self {
            Self::NotConfigured => {
                "Ask the operator to set PLAID_CLIENT_ID and PLAID_SECRET, or import a CSV of your holdings.".into()
            }
            Self::Item { code, .. } => match code.as_str() {
                "ITEM_LOGIN_REQUIRED" | "PENDING_EXPIRATION" | "PENDING_DISCONNECT"
                | "INVALID_CREDENTIALS" | "INVALID_MFA" | "INVALID_UPDATED_USERNAME" => {
                    reconnect.into()
                }
                "ITEM_LOCKED" => "Your brokerage locked the account: unlock it on the brokerage's own site, then choose Reconnect.".into(),
                "USER_SETUP_REQUIRED" | "USER_INPUT_TIMEOUT" => "Finish the steps your brokerage asks for on its own site, then choose Reconnect.".into(),
                "NO_INVESTMENT_ACCOUNTS" | "NO_ACCOUNTS" => "This login has no investment accounts: link the brokerage that holds your positions.".into(),
                "PRODUCT_NOT_READY" => "The brokerage is still preparing your holdings: sync again in a few minutes.".into(),
                "ACCESS_NOT_GRANTED" | "INSUFFICIENT_CREDENTIALS" => "Sharing of investment data was not allowed: choose Reconnect and allow it.".into(),
                _ => format!("{reconnect} If that does not help, remove the link and link it again."),
            },
            Self::Rejected { code, .. } => match code.as_str() {
                "INVALID_PUBLIC_TOKEN" => "The link expired before it was saved: link the brokerage again.".into(),
                "INVALID_API_KEYS" | "INVALID_CLIENT_ID" | "INVALID_SECRET" => "Ask the operator to check PLAID_CLIENT_ID, PLAID_SECRET and PLAID_ENV.".into(),
                "INVALID_ACCESS_TOKEN" => "This link is no longer valid at the provider: remove it and link the brokerage again.".into(),
                _ => "Link the brokerage again; if it keeps failing, tell the operator the code.".into(),
            },
            Self::RateLimited { .. } | Self::Unavailable(_) => {
                "Nothing to do: the next sync tries again, and your holdings stay as they were.".into()
            }
        }
    }
}

/// A brokerage-link provider.
#[async_trait]
pub trait BrokerLink: Send + Sync {
    /// The provider's name as stored with each link (`plaid`).
    fn provider(&self) -> &'static str;

    /// A link token for `user`'s browser; with `update`, one that repairs the link holding
    /// that access token (update mode) instead of creating a new one.
    async fn create_link_token(
        &self,
        user: UserId,
        update: Option<&Secret>,
    ) -> Result<LinkToken, BrokerError>;

    /// Exchanges the public token Link gave the browser for the link's access token.
    async fn exchange_public_token(&self, public_token: &str) -> Result<Exchanged, BrokerError>;

    /// The link's investment holdings.
    async fn holdings(&self, access_token: &Secret) -> Result<BrokerHoldings, BrokerError>;

    /// Revokes the access token at the provider (when the user removes the link).
    async fn remove(&self, access_token: &Secret) -> Result<(), BrokerError>;
}
