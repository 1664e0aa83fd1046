//! Limits and session settings of the HTTP API.

use crate::Secret;

use super::MIN_SECRET_KEY_LEN;
use super::vars::Vars;
use super::{ConfigError, invalid};

/// Limits and session settings of the HTTP API.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct ApiSettings {
    /// `SECRET_KEY_PREVIOUS`: during a key rotation, tokens signed with it still verify.
    pub secret_key_previous: Option<Secret>,
    /// `ACCESS_TOKEN_EXPIRE_MINUTES`: how long a login token lives. Default 60.
    pub token_lifetime: chrono::Duration,
    /// `CORS_ORIGINS`: comma-separated origins a browser may call the API from; `*` for any.
    /// Default: none (same origin only).
    pub cors_origins: Vec<String>,
    /// `RATE_LIMIT_PER_MINUTE`: requests per user per minute. Default 600.
    pub requests_per_minute: u32,
    /// `AUTH_RATE_LIMIT_PER_MINUTE`: register and login attempts per client address, and
    /// logins per account from one address, per minute. Default 10.
    pub auth_attempts_per_minute: u32,
    /// `LOGIN_FAILURES_BEFORE_SLOWDOWN`: wrong passwords an account may see in 15 minutes,
    /// from any number of addresses, before its logins take turns one a second (see
    /// [`crate::auth::throttle`]). Default 20.
    pub login_failures_before_slowdown: u32,
    /// `MAX_RULES_PER_USER`. Default 500.
    pub max_rules_per_user: u64,
    /// `FLOOD_GUARD_FIRINGS` and `FLOOD_GUARD_MINUTES`: a rule that fires more than this
    /// many times within this many minutes is paused, and its owner told. Default 15 in 3
    /// (TradingView's numbers).
    pub flood_guard: crate::monitor::FloodGuard,
    /// `METRICS_TOKEN`: the bearer token `/metrics` asks for (at least 16 characters).
    /// Without it, `/metrics` is not served.
    pub metrics_token: Option<Secret>,
}

impl Default for ApiSettings {
    fn default() -> Self {
        Self {
            secret_key_previous: None,
            token_lifetime: chrono::Duration::minutes(60),
            cors_origins: Vec::new(),
            requests_per_minute: 600,
            auth_attempts_per_minute: 10,
            login_failures_before_slowdown: 20,
            max_rules_per_user: 500,
            flood_guard: crate::monitor::FloodGuard::default(),
            metrics_token: None,
        }
    }
}

impl ApiSettings {
    pub(super) fn read(vars: &Vars) -> Result<Self, ConfigError> {
        let defaults = Self::default();
        let secret_key_previous = vars.secret("SECRET_KEY_PREVIOUS");
        if secret_key_previous
            .as_ref()
            .is_some_and(|k| k.len() < MIN_SECRET_KEY_LEN)
        {
            return Err(invalid(
                "SECRET_KEY_PREVIOUS",
                format!("must be at least {MIN_SECRET_KEY_LEN} bytes, like SECRET_KEY"),
            ));
        }
        // `whole` bounds every number to 1..=1,000,000, which a u32 holds.
        let count = |name, default: u32| {
            vars.whole(name, u64::from(default))
                .map(|n| u32::try_from(n).expect("bounded to a million"))
        };
        Ok(Self {
            secret_key_previous,
            token_lifetime: chrono::Duration::minutes(
                i64::try_from(vars.whole("ACCESS_TOKEN_EXPIRE_MINUTES", 60)?)
                    .expect("bounded to a million"),
            ),
            cors_origins: vars
                .get("CORS_ORIGINS")
                .map(|v| {
                    v.split(',')
                        .map(|o| o.trim().trim_end_matches('/').to_owned())
                        .filter(|o| !o.is_empty())
                        .collect()
                })
                .unwrap_or_default(),
            requests_per_minute: count("RATE_LIMIT_PER_MINUTE", defaults.requests_per_minute)?,
            auth_attempts_per_minute: count(
                "AUTH_RATE_LIMIT_PER_MINUTE",
                defaults.auth_attempts_per_minute,
            )?,
            login_failures_before_slowdown: count(
                "LOGIN_FAILURES_BEFORE_SLOWDOWN",
                defaults.login_failures_before_slowdown,
            )?,
            max_rules_per_user: vars.whole("MAX_RULES_PER_USER", defaults.max_rules_per_user)?,
            flood_guard: crate::monitor::FloodGuard {
                firings: count("FLOOD_GUARD_FIRINGS", defaults.flood_guard.firings)?,
                window: chrono::Duration::minutes(i64::from(count(
                    "FLOOD_GUARD_MINUTES",
                    u32::try_from(defaults.flood_guard.window.num_minutes()).unwrap_or(3),
                )?)),
            },
            metrics_token: match vars.secret("METRICS_TOKEN") {
                Some(token) if token.len() < 16 => {
                    return Err(ConfigError::Invalid {
                        variable: "METRICS_TOKEN",
                        expected: "at least 16 characters".into(),
                    });
                }
                other => other,
            },
        })
    }
}
