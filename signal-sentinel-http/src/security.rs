//! Who is calling: the two security schemes (bearer token or `X-API-Key`) and the rate
//! limits around them.

use std::net::IpAddr;
use std::num::NonZeroU32;
use std::time::Duration;

use governor::clock::{Clock, DefaultClock};
use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};
use poem_openapi::SecurityScheme;
use poem_openapi::auth::{ApiKey, Bearer};
use signal_sentinel::service::Principal;

use crate::AppState;
use crate::error::ApiError;

/// A session token from `POST /api/auth/login` (or an API key) as `Authorization: Bearer …`.
#[derive(SecurityScheme)]
#[oai(ty = "bearer", bearer_format = "JWT")]
pub struct BearerToken(Bearer);

/// An API key from `POST /api/auth/api-keys` in the `X-API-Key` header.
#[derive(SecurityScheme)]
#[oai(ty = "api_key", key_name = "X-API-Key", key_in = "header")]
pub struct ApiKeyHeader(ApiKey);

/// Either credential.
#[derive(SecurityScheme)]
pub enum Auth {
    /// `Authorization: Bearer …`.
    BearerToken(BearerToken),
    /// `X-API-Key: ss_…`.
    ApiKeyHeader(ApiKeyHeader),
}

macro_rules! redacted_debug {
    ($($t:ty),*) => {$(
        impl std::fmt::Debug for $t {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(concat!(stringify!($t), "([redacted])"))
            }
        }
    )*};
}
redacted_debug!(Auth, BearerToken, ApiKeyHeader);

impl Auth {
    /// The acting user, after the per-user rate limit.
    ///
    /// # Errors
    /// 401 for a bad credential, 429 past the limit.
    pub async fn principal(&self, state: &AppState) -> Result<Principal, ApiError> {
        let principal = match self {
            Self::BearerToken(BearerToken(b)) => {
                state.services.authenticate_bearer(&b.token).await?
            }
            Self::ApiKeyHeader(ApiKeyHeader(k)) => {
                state.services.authenticate_api_key(&k.key).await?
            }
        };
        state.limits.per_user.check(&principal.user.to_string())?;
        Ok(principal)
    }
}

/// A keyed limit of `n` events per minute.
pub struct Limit {
    limiter: DefaultKeyedRateLimiter<String>,
}

impl std::fmt::Debug for Limit {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Limit").finish_non_exhaustive()
    }
}

impl Limit {
    /// `per_minute` events per key per minute, all of them available at once.
    pub fn per_minute(per_minute: u32) -> Self {
        let n = NonZeroU32::new(per_minute.max(1)).unwrap_or(NonZeroU32::MIN);
        Self {
            limiter: RateLimiter::keyed(Quota::per_minute(n)),
        }
    }

    /// Counts one event for `key`.
    ///
    /// # Errors
    /// A 429 with the seconds to wait.
    pub fn check(&self, key: &str) -> Result<(), ApiError> {
        self.limiter
            .check_key(&key.to_owned())
            .map_err(|not_until| {
                let wait = not_until.wait_time_from(DefaultClock::default().now());
                ApiError::rate_limited(wait.as_secs().max(1))
            })
    }

    fn retain_recent(&self) {
        self.limiter.retain_recent();
        self.limiter.shrink_to_fit();
    }
}

/// The server's rate limits.
#[derive(Debug)]
pub struct Limits {
    /// Register and login attempts per client address.
    pub auth_per_address: Limit,
    /// Login attempts per account (e-mail) and client address.
    pub login_per_account_address: Limit,
    /// Authenticated requests per user.
    pub per_user: Limit,
}

impl Limits {
    /// Limits from the settings' numbers.
    pub fn new(auth_per_minute: u32, requests_per_minute: u32) -> Self {
        Self {
            auth_per_address: Limit::per_minute(auth_per_minute),
            login_per_account_address: Limit::per_minute(auth_per_minute),
            per_user: Limit::per_minute(requests_per_minute),
        }
    }

    /// Forgets keys that are back to a full allowance; run on a timer so the maps stay small.
    pub fn prune(&self) {
        self.auth_per_address.retain_recent();
        self.login_per_account_address.retain_recent();
        self.per_user.retain_recent();
    }

    /// Prunes every `every` until the process ends.
    pub fn spawn_pruner(limits: std::sync::Arc<Self>, every: Duration) {
        tokio::spawn(async move {
            let mut ticker = tokio::time::interval(every);
            loop {
                ticker.tick().await;
                limits.prune();
            }
        });
    }
}

/// The client's address as the key for per-address limits.
pub(crate) fn client_key(addr: Option<IpAddr>) -> String {
    addr.map_or_else(|| "unknown".to_owned(), |a| a.to_string())
}
