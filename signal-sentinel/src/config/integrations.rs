//! The outside services besides market data: the chat-completions server, Telegram and Plaid.

use url::Url;

use crate::Secret;

use super::vars::{Vars, pair};
use super::{ConfigError, invalid};

/// Plaid environment (`PLAID_ENV`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum PlaidEnv {
    /// Test data, free.
    Sandbox,
    /// Real credentials, limited items.
    Development,
    /// Real credentials.
    Production,
}

impl PlaidEnv {
    pub(super) fn base_url(self) -> &'static str {
        match self {
            Self::Sandbox => "https://sandbox.plaid.com",
            Self::Development => "https://development.plaid.com",
            Self::Production => "https://production.plaid.com",
        }
    }
}

/// OpenAI-compatible chat-completions server.
#[derive(Debug, Clone)]
pub struct OpenAiSettings {
    /// `OPENAI_API_KEY`; without it summaries come from templates.
    pub api_key: Option<Secret>,
    /// `OPENAI_BASE_URL`, default `https://api.openai.com/v1`.
    pub base_url: Url,
    /// `OPENAI_MODEL`, default `gpt-4o-mini`.
    pub model: String,
    /// `OPENAI_DAILY_CALLS_PER_USER`: model calls per user per day; then the template. Default 50.
    pub daily_calls_per_user: u32,
}

/// Telegram Bot API.
#[derive(Debug, Clone)]
pub struct TelegramSettings {
    /// `TELEGRAM_BOT_TOKEN`.
    pub bot_token: Option<Secret>,
    /// `TELEGRAM_BASE_URL`, default `https://api.telegram.org`.
    pub base_url: Url,
    /// `TELEGRAM_WEBHOOK_URL`: where Telegram posts the bot's updates (this server's
    /// `/telegram/webhook`, reachable from Telegram). Unset: the bot reads them by long polling.
    pub webhook_url: Option<Url>,
}

/// Plaid brokerage linking.
#[derive(Debug, Clone)]
pub struct PlaidSettings {
    /// `PLAID_CLIENT_ID` (set together with the secret).
    pub client_id: Option<Secret>,
    /// `PLAID_SECRET`.
    pub secret: Option<Secret>,
    /// `PLAID_ENV`, default `sandbox`.
    pub env: PlaidEnv,
    /// `PLAID_BASE_URL`, default the host of `PLAID_ENV`.
    pub base_url: Url,
    /// `PLAID_SYNC_HOURS`, default 6: how old a link's holdings may get before the worker
    /// synchronises them again.
    pub sync_interval: chrono::Duration,
}

impl OpenAiSettings {
    pub(super) fn read(vars: &Vars) -> Result<Self, ConfigError> {
        Ok(Self {
            api_key: vars.secret("OPENAI_API_KEY"),
            base_url: vars.base_url("OPENAI_BASE_URL", "https://api.openai.com/v1")?,
            model: vars
                .get("OPENAI_MODEL")
                .unwrap_or_else(|| "gpt-4o-mini".to_owned()),
            daily_calls_per_user: match vars.get("OPENAI_DAILY_CALLS_PER_USER") {
                None => 50,
                Some(v) => v.parse::<u32>().map_err(|_| {
                    invalid(
                        "OPENAI_DAILY_CALLS_PER_USER",
                        "expected a whole number of calls",
                    )
                })?,
            },
        })
    }
}

impl TelegramSettings {
    pub(super) fn read(vars: &Vars) -> Result<Self, ConfigError> {
        Ok(Self {
            bot_token: match vars.secret("TELEGRAM_BOT_TOKEN") {
                Some(token) => Some(check_telegram_token(token)?),
                None => None,
            },
            base_url: vars.base_url("TELEGRAM_BASE_URL", "https://api.telegram.org")?,
            webhook_url: match vars.get("TELEGRAM_WEBHOOK_URL") {
                Some(_) => Some(vars.base_url("TELEGRAM_WEBHOOK_URL", "")?),
                None => None,
            },
        })
    }
}

impl PlaidSettings {
    pub(super) fn read(vars: &Vars) -> Result<Self, ConfigError> {
        let env = match vars
            .get("PLAID_ENV")
            .map(|v| v.to_ascii_lowercase())
            .as_deref()
        {
            None | Some("sandbox") => PlaidEnv::Sandbox,
            Some("development") => PlaidEnv::Development,
            Some("production") => PlaidEnv::Production,
            Some(_) => {
                return Err(invalid(
                    "PLAID_ENV",
                    "expected one of sandbox, development, production",
                ));
            }
        };
        let plaid = Self {
            client_id: vars.secret("PLAID_CLIENT_ID"),
            secret: vars.secret("PLAID_SECRET"),
            env,
            base_url: vars.base_url("PLAID_BASE_URL", env.base_url())?,
            sync_interval: chrono::Duration::hours(match vars.get("PLAID_SYNC_HOURS") {
                None => 6,
                Some(v) => v
                    .parse::<i64>()
                    .ok()
                    .filter(|h| (1..=168).contains(h))
                    .ok_or_else(|| {
                        invalid(
                            "PLAID_SYNC_HOURS",
                            "expected a whole number of hours from 1 to 168",
                        )
                    })?,
            }),
        };
        pair(
            &plaid.client_id,
            "PLAID_CLIENT_ID",
            &plaid.secret,
            "PLAID_SECRET",
        )?;
        Ok(plaid)
    }
}

fn check_telegram_token(token: Secret) -> Result<Secret, ConfigError> {
    // Bot tokens look like `123456789:AA…`; catching a pasted chat id or URL here saves a
    // confusing 404 from Telegram later.
    let ok = token.expose().split_once(':').is_some_and(|(id, rest)| {
        !id.is_empty()
            && id.bytes().all(|b| b.is_ascii_digit())
            && !rest.is_empty()
            && rest
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
    });
    if ok {
        Ok(token)
    } else {
        Err(invalid(
            "TELEGRAM_BOT_TOKEN",
            "expected a bot token like 123456789:ABC-DEF… (from @BotFather)",
        ))
    }
}
