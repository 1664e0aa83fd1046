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

use std::time::Duration;

use async_trait::async_trait;
use reqwest::StatusCode;
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use thiserror::Error;

use crate::Secret;
use crate::config::PlaidSettings;
use crate::domain::{Symbol, UserId};
use crate::market::http;

/// Longest account label kept (the same limit as a CSV import's account column).
const MAX_ACCOUNT_LEN: usize = 64;

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

/// How to reach Plaid.
#[derive(Debug, Clone)]
pub struct PlaidConfig {
    /// The API's base URL (`https://sandbox.plaid.com`, or a mock).
    pub base_url: url::Url,
    /// `PLAID_CLIENT_ID`.
    pub client_id: Secret,
    /// `PLAID_SECRET`.
    pub secret: Secret,
    /// The name Link shows the user.
    pub client_name: String,
    /// Per-request timeout.
    pub timeout: Duration,
}

impl PlaidConfig {
    /// The configuration from settings, when Plaid is configured.
    pub fn from_settings(settings: &PlaidSettings) -> Option<Self> {
        Some(Self {
            base_url: settings.base_url.clone(),
            client_id: settings.client_id.clone()?,
            secret: settings.secret.clone()?,
            client_name: "Signal Sentinel".into(),
            timeout: Duration::from_secs(20),
        })
    }
}

/// Plaid's API (`/link/token/create`, `/item/public_token/exchange`,
/// `/investments/holdings/get`, `/item/remove`).
pub struct PlaidClient {
    config: PlaidConfig,
    client: reqwest::Client,
}

impl std::fmt::Debug for PlaidClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PlaidClient")
            .field("base_url", &self.config.base_url.as_str())
            .finish_non_exhaustive()
    }
}

/// Plaid's error body (`{"error_type","error_code","error_message","display_message",…}`).
#[derive(Debug, Deserialize)]
struct PlaidErrorBody {
    #[serde(default)]
    error_type: String,
    #[serde(default)]
    error_code: String,
    #[serde(default)]
    error_message: String,
    #[serde(default)]
    display_message: Option<String>,
}

impl PlaidErrorBody {
    fn into_error(self, status: StatusCode, retry_after: Option<Duration>) -> BrokerError {
        let message = self
            .display_message
            .filter(|m| !m.trim().is_empty())
            .unwrap_or(self.error_message);
        let message: String = message.chars().take(300).collect();
        match self.error_type.as_str() {
            "ITEM_ERROR" => BrokerError::Item {
                code: self.error_code,
                message,
            },
            "RATE_LIMIT_EXCEEDED" => BrokerError::RateLimited { retry_after },
            "API_ERROR" | "INSTITUTION_ERROR" => {
                BrokerError::Unavailable(format!("{}: {message}", self.error_code))
            }
            _ if status == StatusCode::TOO_MANY_REQUESTS => {
                BrokerError::RateLimited { retry_after }
            }
            _ if self.error_code.is_empty() => {
                BrokerError::Unavailable(format!("HTTP {}", status.as_u16()))
            }
            _ => BrokerError::Rejected {
                code: self.error_code,
                message,
            },
        }
    }
}

#[derive(Deserialize)]
struct LinkTokenBody {
    link_token: String,
    #[serde(default)]
    expiration: Option<String>,
}

#[derive(Deserialize)]
struct ExchangeBody {
    access_token: String,
    item_id: String,
}

#[derive(Deserialize)]
struct HoldingsBody {
    accounts: Vec<PlaidAccount>,
    holdings: Vec<PlaidHolding>,
    securities: Vec<PlaidSecurity>,
    #[serde(default)]
    item: Option<PlaidItem>,
}

#[derive(Deserialize)]
struct PlaidAccount {
    account_id: String,
    #[serde(default)]
    name: Option<String>,
    #[serde(default)]
    official_name: Option<String>,
    #[serde(default)]
    mask: Option<String>,
}

#[derive(Deserialize)]
struct PlaidHolding {
    account_id: String,
    security_id: String,
    quantity: serde_json::Number,
    #[serde(default)]
    cost_basis: Option<serde_json::Number>,
    #[serde(default)]
    institution_value: Option<serde_json::Number>,
    #[serde(default)]
    iso_currency_code: Option<String>,
    #[serde(default)]
    unofficial_currency_code: Option<String>,
}

#[derive(Deserialize)]
struct PlaidSecurity {
    security_id: String,
    #[serde(default)]
    ticker_symbol: Option<String>,
    #[serde(default)]
    name: Option<String>,
    #[serde(default, rename = "type")]
    kind: Option<String>,
    #[serde(default)]
    is_cash_equivalent: Option<bool>,
}

#[derive(Deserialize)]
struct PlaidItem {
    #[serde(default)]
    institution_id: Option<String>,
}

impl PlaidClient {
    /// A client for `config`.
    ///
    /// # Errors
    /// When the HTTP client cannot be built.
    pub fn new(config: PlaidConfig) -> Result<Self, String> {
        let client = http::client(config.timeout, None, &config.base_url)?;
        Ok(Self { config, client })
    }

    /// POSTs `body` to `path` with the credentials in Plaid's headers and reads the answer.
    async fn call<T: serde::de::DeserializeOwned>(
        &self,
        path: &str,
        body: serde_json::Value,
    ) -> Result<T, BrokerError> {
        let url = http::join(&self.config.base_url, &path.split('/').collect::<Vec<_>>());
        let response = http::send(
            || {
                self.client
                    .post(url.clone())
                    .header("PLAID-CLIENT-ID", self.config.client_id.expose())
                    .header("PLAID-SECRET", self.config.secret.expose())
                    .header("Plaid-Version", "2020-09-14")
                    .json(&body)
            },
            http::retry_after_header,
        )
        .await
        .map_err(|failure| match failure {
            http::Failure::RateLimited(retry_after) => BrokerError::RateLimited { retry_after },
            http::Failure::Other(message) => BrokerError::Unavailable(message),
        })?;
        let status = response.status();
        let retry_after = http::retry_after_header(&response);
        let bytes = response
            .bytes()
            .await
            .map_err(|e| BrokerError::Unavailable(e.without_url().to_string()))?;
        if !status.is_success() {
            return Err(match serde_json::from_slice::<PlaidErrorBody>(&bytes) {
                Ok(body) => body.into_error(status, retry_after),
                Err(_) => BrokerError::Unavailable(format!("HTTP {}", status.as_u16())),
            });
        }
        serde_json::from_slice(&bytes)
            .map_err(|e| BrokerError::Unavailable(format!("malformed answer: {e}")))
    }
}

#[async_trait]
impl BrokerLink for PlaidClient {
    fn provider(&self) -> &'static str {
        "plaid"
    }

    async fn create_link_token(
        &self,
        user: UserId,
        update: Option<&Secret>,
    ) -> Result<LinkToken, BrokerError> {
        let mut body = serde_json::json!({
            "client_name": self.config.client_name,
            "language": "en",
            "country_codes": ["US"],
            "user": {"client_user_id": format!("user-{}", user.get())},
        });
        match update {
            Some(access_token) => body["access_token"] = access_token.expose().into(),
            None => body["products"] = serde_json::json!(["investments"]),
        }
        let answer: LinkTokenBody = self.call("link/token/create", body).await?;
        Ok(LinkToken {
            link_token: answer.link_token,
            expiration: answer.expiration,
        })
    }

    async fn exchange_public_token(&self, public_token: &str) -> Result<Exchanged, BrokerError> {
        let answer: ExchangeBody = self
            .call(
                "item/public_token/exchange",
                serde_json::json!({"public_token": public_token}),
            )
            .await?;
        Ok(Exchanged {
            item_id: answer.item_id,
            access_token: Secret::new(answer.access_token),
        })
    }

    async fn holdings(&self, access_token: &Secret) -> Result<BrokerHoldings, BrokerError> {
        let answer: HoldingsBody = self
            .call(
                "investments/holdings/get",
                serde_json::json!({"access_token": access_token.expose()}),
            )
            .await?;
        Ok(map_holdings(answer))
    }

    async fn remove(&self, access_token: &Secret) -> Result<(), BrokerError> {
        let _: serde_json::Value = self
            .call(
                "item/remove",
                serde_json::json!({"access_token": access_token.expose()}),
            )
            .await?;
        Ok(())
    }
}

/// `Plaid IRA ••5555`, at most [`MAX_ACCOUNT_LEN`] characters.
fn account_label(account: Option<&PlaidAccount>, account_id: &str) -> String {
    let name = account
        .and_then(|a| a.name.as_deref().or(a.official_name.as_deref()))
        .filter(|n| !n.trim().is_empty())
        .unwrap_or(account_id)
        .trim();
    let label = match account.and_then(|a| a.mask.as_deref()) {
        Some(mask) if !mask.is_empty() => format!("{name} ••{mask}"),
        _ => name.to_owned(),
    };
    label.chars().take(MAX_ACCOUNT_LEN).collect()
}

/// Joins holdings to their securities and accounts and maps them to our symbols.
fn map_holdings(answer: HoldingsBody) -> BrokerHoldings {
    let mut positions: Vec<BrokerPosition> = Vec::new();
    let mut skipped = Vec::new();
    let mut cash = Decimal::ZERO;
    for holding in answer.holdings {
        let account = account_label(
            answer
                .accounts
                .iter()
                .find(|a| a.account_id == holding.account_id),
            &holding.account_id,
        );
        let security = answer
            .securities
            .iter()
            .find(|s| s.security_id == holding.security_id);
        let name = security
            .and_then(|s| s.name.clone().or_else(|| s.ticker_symbol.clone()))
            .unwrap_or_else(|| holding.security_id.clone());
        let mut skip = |reason: &str| {
            skipped.push(SkippedHolding {
                account: account.clone(),
                name: name.clone(),
                reason: reason.into(),
            });
        };
        let Some(security) = security else {
            skip("the provider sent no security for it");
            continue;
        };
        let currency = holding
            .iso_currency_code
            .as_deref()
            .or(holding.unofficial_currency_code.as_deref())
            .unwrap_or("USD");
        let is_cash =
            security.is_cash_equivalent == Some(true) || security.kind.as_deref() == Some("cash");
        if is_cash && currency == "USD" {
            cash += holding
                .institution_value
                .as_ref()
                .and_then(http::decimal)
                .unwrap_or_default();
            continue;
        }
        if currency != "USD" {
            skip(&format!(
                "held in {currency}; only US-dollar holdings are watched"
            ));
            continue;
        }
        let Some(quantity) = http::decimal(&holding.quantity).filter(|q| *q > Decimal::ZERO) else {
            skip("no units held");
            continue;
        };
        let ticker = security
            .ticker_symbol
            .as_deref()
            .map(str::trim)
            .filter(|t| !t.is_empty());
        let symbol = match (ticker, security.kind.as_deref()) {
            (None, _) => {
                skip("no ticker symbol");
                continue;
            }
            (Some(_), Some("derivative")) => {
                skip("options and other derivatives are not watched");
                continue;
            }
            (Some(t), Some("cryptocurrency")) if !t.contains('-') => {
                Symbol::parse(&format!("{t}-USD"))
            }
            (Some(t), _) => Symbol::parse(t),
        };
        let Ok(symbol) = symbol else {
            skip("its ticker is not a symbol we can watch");
            continue;
        };
        let cost_basis = holding
            .cost_basis
            .as_ref()
            .and_then(http::decimal)
            .filter(|c| *c >= Decimal::ZERO)
            .map(|total| (total / quantity).round_dp(4).normalize());
        // The same symbol twice in one account (lots reported apart): one position.
        if let Some(p) = positions
            .iter_mut()
            .find(|p| p.account == account && p.symbol == symbol)
        {
            let total = |q: Decimal, c: Option<Decimal>| c.map(|c| c * q);
            p.cost_basis = match (total(p.quantity, p.cost_basis), total(quantity, cost_basis)) {
                (Some(a), Some(b)) => {
                    Some(((a + b) / (p.quantity + quantity)).round_dp(4).normalize())
                }
                _ => None,
            };
            p.quantity += quantity;
            continue;
        }
        positions.push(BrokerPosition {
            account,
            symbol,
            quantity,
            cost_basis,
        });
    }
    BrokerHoldings {
        institution_id: answer.item.and_then(|i| i.institution_id),
        positions,
        cash,
        skipped,
    }
}

/// Fuzzing entry: a holdings answer joined and mapped; must never panic.
#[cfg(feature = "fuzzing")]
pub(crate) fn fuzz_answer(bytes: &[u8]) {
    if let Ok(answer) = serde_json::from_slice::<HoldingsBody>(bytes) {
        let _ = map_holdings(answer);
    }
}
