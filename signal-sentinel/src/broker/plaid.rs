//! The Plaid client (feature `plaid`).

use std::time::Duration;

use async_trait::async_trait;
use reqwest::StatusCode;
use rust_decimal::Decimal;
use serde::Deserialize;

use super::{
    BrokerError, BrokerHoldings, BrokerLink, BrokerPosition, Exchanged, LinkToken, SkippedHolding,
};
use crate::Secret;
use crate::config::PlaidSettings;
use crate::domain::{Symbol, UserId};
use crate::market::http;

/// Longest account label kept (the same limit as a CSV import's account column).
const MAX_ACCOUNT_LEN: usize = 64;

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
    /// [`BuildError::HttpClient`](crate::BuildError::HttpClient).
    pub fn new(config: PlaidConfig) -> Result<Self, crate::BuildError> {
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
