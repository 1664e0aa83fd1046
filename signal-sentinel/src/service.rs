//! The use cases both frontends call, with the acting user: register, log in, manage API
//! keys, rules, alerts and channels, read quotes.
//!
//! Ownership is checked here, once, for everyone: an object of another user answers
//! [`ServiceError::NotFound`] exactly as a missing one does, so ids reveal nothing.

use std::sync::Arc;

use chrono::NaiveDate;
use thiserror::Error;

use crate::Secret;
use crate::auth::api_keys;
use crate::auth::tokens::{IssuedToken, TokenError, TokenKeys};
use crate::auth::{PasswordError, hash_password, verify_password};
use crate::clock::Clock;
use crate::domain::{
    Alert, AlertId, AlertQuery, ApiKey, ApiKeyId, Bar, ChannelId, Delivery, Email, NewApiKey,
    NewUser, NotificationChannel, Quote, Rule, RuleFilter, RuleId, RuleState, RuleUpdate, Symbol,
    User, UserId, UserUpdate,
};
use crate::engine::{BacktestAlert, Condition, RuleOptions, backtest};
use crate::market::{MarketData, MarketError};
use crate::notify::Notifier;
use crate::notify::channels::{ChannelError, ChannelTest, add_telegram, add_webhook};
use crate::rules::{RuleInput, RuleInputError, prepare_rule};
use crate::store::{Store, StoreError};
use crate::time::Timestamp;

mod brokerage;
mod watch;

pub use brokerage::{ConnectionView, ResealReport, SyncReport, WatchHoldings, WatchReport};
pub use watch::{AlertWatch, SIGNALLED_POLL};

/// Most rows one list call returns.
pub const MAX_PAGE_SIZE: u64 = 200;
/// Longest API key name, in characters.
pub const MAX_KEY_NAME_LEN: usize = 64;
/// Most API keys a user may hold at once.
pub const MAX_API_KEYS: usize = 20;
/// Most symbols one quote request may name.
pub const MAX_QUOTE_SYMBOLS: usize = 50;
/// Longest span of daily bars one request may ask for.
pub const MAX_BAR_DAYS: i64 = 366 * 5;
/// Longest snooze: a year (525,600 minutes), whether given as a duration or as an end time.
pub const MAX_SNOOZE: std::time::Duration = std::time::Duration::from_secs(365 * 86_400);

/// Why a use case failed. The `Display` text is safe to show to the user who asked; the
/// [`Internal`](ServiceError::Internal) cause is for logs only.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum ServiceError {
    /// The input cannot be used; `field` names what to change.
    #[error("{field}: {message}")]
    Invalid {
        /// The request field at fault.
        field: String,
        /// What is wrong with it.
        message: String,
    },
    /// No such object for this user.
    #[error("{0} not found")]
    NotFound(&'static str),
    /// The object exists already (e.g. an e-mail address taken).
    #[error("{message}")]
    Conflict {
        /// The request field at fault.
        field: String,
        /// What collides.
        message: String,
    },
    /// Missing, wrong or expired credentials.
    #[error("{0}")]
    Unauthenticated(String),
    /// A per-user cap is reached (rules, API keys).
    #[error("{0}")]
    LimitReached(String),
    /// An outside service (market data) failed or is not configured.
    #[error("{0}")]
    Unavailable(String),
    /// Storage or another internal failure; the text is logged, never shown.
    #[error("internal error")]
    Internal(String),
}

impl ServiceError {
    fn invalid(field: impl Into<String>, message: impl Into<String>) -> Self {
        Self::Invalid {
            field: field.into(),
            message: message.into(),
        }
    }

    /// A stable machine-readable code for the error's kind.
    pub fn code(&self) -> &'static str {
        match self {
            Self::Invalid { .. } => "invalid_input",
            Self::NotFound(_) => "not_found",
            Self::Conflict { .. } => "conflict",
            Self::Unauthenticated(_) => "unauthenticated",
            Self::LimitReached(_) => "limit_reached",
            Self::Unavailable(_) => "unavailable",
            Self::Internal(_) => "internal",
        }
    }
}

impl From<StoreError> for ServiceError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::NotFound { entity, .. } => Self::NotFound(entity),
            StoreError::Conflict { entity, field } => Self::Conflict {
                field: field.to_owned(),
                message: format!("a {entity} with this {field} already exists"),
            },
            other => Self::Internal(other.to_string()),
        }
    }
}

impl From<PasswordError> for ServiceError {
    fn from(e: PasswordError) -> Self {
        match e {
            PasswordError::Length => Self::invalid("password", e.to_string()),
            other => Self::Internal(other.to_string()),
        }
    }
}

impl From<RuleInputError> for ServiceError {
    fn from(e: RuleInputError) -> Self {
        match e {
            RuleInputError::Text(e) => Self::invalid("text", e.to_string()),
            RuleInputError::Options(e) => Self::invalid("options", e.to_string()),
            RuleInputError::Name(message) => Self::invalid("name", message),
        }
    }
}

impl From<ChannelError> for ServiceError {
    fn from(e: ChannelError) -> Self {
        match e {
            ChannelError::Invalid(message) => match message.split_once(": ") {
                Some((field, m)) => Self::invalid(field.replace(' ', "_"), m),
                None => Self::invalid("channel", message),
            },
            ChannelError::Store(e) => e.into(),
        }
    }
}

impl From<MarketError> for ServiceError {
    fn from(e: MarketError) -> Self {
        Self::Unavailable(format!("market data: {e}"))
    }
}

/// Result of a use case.
pub type ServiceResult<T> = Result<T, ServiceError>;

/// Who is acting, and how they proved it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Principal {
    /// The user.
    pub user: UserId,
    /// The API key used, when it was one (else a session token).
    pub api_key: Option<ApiKeyId>,
}

/// Limits a deployment sets.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// Most rules one user may have.
    pub max_rules_per_user: u64,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            max_rules_per_user: 500,
        }
    }
}

/// A rule as the API submits it: either the text form or a JSON condition on a symbol.
#[derive(Debug, Clone, Default)]
pub struct RuleSpec {
    /// `AAPL crosses above 200` (see `docs/rules.md`).
    pub text: Option<String>,
    /// With `condition`: the symbol it watches.
    pub symbol: Option<String>,
    /// The condition as JSON (the stored form, `version` optional).
    pub condition: Option<serde_json::Value>,
}

/// What an update changes; `None` leaves a field as it is.
#[derive(Debug, Clone, Default)]
pub struct RuleChange {
    /// New condition (text or JSON).
    pub spec: RuleSpec,
    /// New name (`Some(None)` removes it).
    pub name: Option<Option<String>>,
    /// New options, replacing the old ones.
    pub options: Option<RuleOptions>,
    /// Enable or disable.
    pub enabled: Option<bool>,
    /// New expiry (`Some(None)` removes it).
    pub expires_at: Option<Option<Timestamp>>,
}

/// A rule with its evaluation state.
#[derive(Debug, Clone)]
pub struct RuleView {
    /// The rule.
    pub rule: Rule,
    /// Its state, once the monitor has evaluated it.
    pub state: Option<RuleState>,
}

/// The text form of a stored rule: `AAPL crosses above 200`.
pub fn rule_text(rule: &Rule) -> String {
    match Condition::from_document(&rule.condition) {
        Ok(condition) => format!("{} {condition}", rule.symbol),
        Err(_) => format!("{} (unreadable condition)", rule.symbol),
    }
}

/// The use cases, over one store, clock, market and set of notifiers. Cheap to clone.
#[derive(Clone)]
pub struct Services {
    store: Arc<dyn Store>,
    clock: Arc<dyn Clock>,
    tokens: Arc<TokenKeys>,
    market: Arc<dyn MarketData>,
    notifiers: Arc<Vec<Arc<dyn Notifier>>>,
    limits: Limits,
    /// The brokerage link and the vault sealing its tokens.
    brokerage: brokerage::Brokerage,
    /// A real argon2id hash of nothing anyone knows: logins for unknown e-mails verify against
    /// it so that they cost what a real one does.
    decoy_hash: Arc<tokio::sync::OnceCell<Secret>>,
}

impl std::fmt::Debug for Services {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Services")
            .field("market", &self.market)
            .field("limits", &self.limits)
            .finish_non_exhaustive()
    }
}

impl Services {
    /// The use cases over these parts.
    ///
    pub fn new(
        store: Arc<dyn Store>,
        clock: Arc<dyn Clock>,
        tokens: TokenKeys,
        market: Arc<dyn MarketData>,
        notifiers: Vec<Arc<dyn Notifier>>,
        limits: Limits,
    ) -> Self {
        Self {
            store,
            clock,
            tokens: Arc::new(tokens),
            market,
            notifiers: Arc::new(notifiers),
            limits,
            brokerage: brokerage::Brokerage::default(),
            decoy_hash: Arc::default(),
        }
    }

    /// The use cases as `settings` configure them: session tokens signed with `SECRET_KEY`
    /// (and verified with `SECRET_KEY_PREVIOUS` too), limits from the API settings.
    ///
    /// # Errors
    /// [`ServiceError::Internal`] when a key cannot be used.
    pub fn from_settings(
        settings: &crate::config::Settings,
        store: Arc<dyn Store>,
        clock: Arc<dyn Clock>,
        market: Arc<dyn MarketData>,
        notifiers: Vec<Arc<dyn Notifier>>,
    ) -> ServiceResult<Self> {
        // Session tokens and sealed brokerage tokens both accept the previous key while a
        // rotation lasts.
        let previous = settings
            .api
            .secret_key_previous
            .as_ref()
            .map(|k| k.expose().as_bytes());
        let tokens = TokenKeys::new(
            settings.secret_key.expose(),
            previous,
            settings.api.token_lifetime,
        )
        .map_err(|e| ServiceError::Internal(e.to_string()))?;
        let limits = Limits {
            max_rules_per_user: settings.api.max_rules_per_user,
        };
        #[cfg(feature = "plaid")]
        let link = match crate::broker::PlaidConfig::from_settings(&settings.plaid) {
            Some(config) => Some(Arc::new(
                crate::broker::PlaidClient::new(config).map_err(ServiceError::Internal)?,
            ) as Arc<dyn crate::broker::BrokerLink>),
            None => None,
        };
        #[cfg(not(feature = "plaid"))]
        let link: Option<Arc<dyn crate::broker::BrokerLink>> = {
            if settings.plaid.client_id.is_some() {
                tracing::warn!(
                    "PLAID_CLIENT_ID is set but this build has no Plaid client (feature `plaid`)"
                );
            }
            None
        };
        let vault = crate::auth::vault::Vault::new(settings.secret_key.expose(), previous);
        Ok(Self::new(store, clock, tokens, market, notifiers, limits).with_brokerage(link, vault))
    }

    /// The store (for readiness checks and background tasks).
    pub fn store(&self) -> &Arc<dyn Store> {
        &self.store
    }

    /// The monitor workers whose heartbeat is recent enough that they hold their shards, by id
    /// (on any machine sharing the database).
    ///
    /// # Errors
    /// [`ServiceError::Internal`] when the database cannot be read.
    pub async fn live_workers(&self) -> Result<Vec<crate::domain::WorkerStatus>, ServiceError> {
        let now = self.clock.now();
        let mut workers = self
            .store
            .list_workers(now - chrono::Duration::hours(1))
            .await?;
        workers.retain(|w| w.is_live(now));
        Ok(workers)
    }

    /// The market data source.
    pub fn market(&self) -> &Arc<dyn MarketData> {
        &self.market
    }

    /// The clock.
    pub fn now(&self) -> Timestamp {
        self.clock.now()
    }

    // ----- accounts -------------------------------------------------------------------------

    /// Opens an account.
    ///
    /// # Errors
    /// [`ServiceError::Invalid`] for a bad e-mail or password, [`ServiceError::Conflict`] when
    /// the address is taken.
    pub async fn register(
        &self,
        email: &str,
        password: Secret,
        display_name: Option<String>,
    ) -> ServiceResult<User> {
        let email =
            Email::parse(email).map_err(|e| ServiceError::invalid("email", e.to_string()))?;
        let display_name = match display_name.map(|n| n.trim().to_owned()) {
            Some(n) if n.chars().count() > 100 => {
                return Err(ServiceError::invalid(
                    "display_name",
                    "must be at most 100 characters",
                ));
            }
            Some(n) if n.is_empty() => None,
            other => other,
        };
        let password_hash = hash_password(password).await?;
        let user = self
            .store
            .create_user(NewUser {
                email,
                password_hash,
                display_name,
            })
            .await
            .map_err(|e| match e {
                StoreError::Conflict { .. } => ServiceError::Conflict {
                    field: "email".into(),
                    message: "an account with this e-mail address already exists".into(),
                },
                other => other.into(),
            })?;
        tracing::info!(user = %user.id, "account registered");
        Ok(user)
    }

    /// Checks an e-mail and password and issues a session token. An unknown address costs
    /// the same hash as a known one and fails with the same message.
    ///
    /// # Errors
    /// [`ServiceError::Unauthenticated`] for any mismatch.
    pub async fn login(&self, email: &str, password: Secret) -> ServiceResult<(User, IssuedToken)> {
        let refused = || ServiceError::Unauthenticated("wrong e-mail address or password".into());
        let user = match Email::parse(email) {
            Ok(email) => match self.store.get_user_by_email(&email).await {
                Ok(user) => Some(user),
                Err(StoreError::NotFound { .. }) => None,
                Err(e) => return Err(e.into()),
            },
            Err(_) => None,
        };
        let stored = match &user {
            Some(u) => u.password_hash.clone(),
            None => self
                .decoy_hash
                .get_or_try_init(|| {
                    hash_password(Secret::new(hex::encode(rand::random::<[u8; 16]>())))
                })
                .await?
                .clone(),
        };
        let ok = verify_password(password, stored).await?;
        match user {
            Some(user) if ok => {
                let token = self.issue_token(user.id)?;
                Ok((user, token))
            }
            _ => Err(refused()),
        }
    }

    fn issue_token(&self, user: UserId) -> ServiceResult<IssuedToken> {
        self.tokens
            .issue(user, self.clock.now())
            .map_err(|e| ServiceError::Internal(e.to_string()))
    }

    /// Computes the decoy password hash now, so that the first login for an unknown address
    /// costs no more than later ones. Servers call it at start-up.
    ///
    /// # Errors
    /// [`ServiceError::Internal`] when hashing fails.
    pub async fn warm_up(&self) -> ServiceResult<()> {
        self.decoy_hash
            .get_or_try_init(|| hash_password(Secret::new(hex::encode(rand::random::<[u8; 16]>()))))
            .await?;
        Ok(())
    }

    /// How long session tokens live.
    pub fn token_lifetime(&self) -> chrono::Duration {
        self.tokens.lifetime()
    }

    /// The user a bearer credential names: a session token, or an API key sent as a bearer
    /// token.
    ///
    /// # Errors
    /// [`ServiceError::Unauthenticated`].
    pub async fn authenticate_bearer(&self, credential: &str) -> ServiceResult<Principal> {
        if credential.starts_with(api_keys::KEY_PREFIX) {
            return self.authenticate_api_key(credential).await;
        }
        match self.tokens.verify(credential) {
            Ok(user) => Ok(Principal {
                user,
                api_key: None,
            }),
            Err(e @ (TokenError::Expired | TokenError::Invalid)) => {
                Err(ServiceError::Unauthenticated(e.to_string()))
            }
            Err(e) => Err(ServiceError::Internal(e.to_string())),
        }
    }

    /// The user an API key belongs to. Costs one indexed read and one SHA-256; the last-used
    /// time is written at most once a minute per key.
    ///
    /// # Errors
    /// [`ServiceError::Unauthenticated`] for a malformed, unknown or revoked key.
    pub async fn authenticate_api_key(&self, key: &str) -> ServiceResult<Principal> {
        let refused = || ServiceError::Unauthenticated("the API key is not valid".into());
        let prefix = api_keys::lookup_prefix(key).ok_or_else(refused)?;
        let stored = match self.store.get_api_key_by_prefix(prefix).await {
            Ok(stored) => stored,
            Err(StoreError::NotFound { .. }) => return Err(refused()),
            Err(e) => return Err(e.into()),
        };
        if !stored.is_active() || !api_keys::matches(key, &stored.key_hash) {
            return Err(refused());
        }
        let now = self.clock.now();
        if stored
            .last_used_at
            .is_none_or(|at| now - at >= chrono::Duration::minutes(1))
        {
            let store = self.store.clone();
            let id = stored.id;
            tokio::spawn(async move {
                if let Err(e) = store.touch_api_key(id, now).await {
                    tracing::warn!(key = %id, "cannot record the API key's last use: {e}");
                }
            });
        }
        Ok(Principal {
            user: stored.user_id,
            api_key: Some(stored.id),
        })
    }

    /// The acting user's account.
    ///
    /// # Errors
    /// [`ServiceError::Unauthenticated`] when the account was deleted since the token was
    /// issued.
    pub async fn me(&self, who: Principal) -> ServiceResult<User> {
        match self.store.get_user(who.user).await {
            Ok(user) => Ok(user),
            Err(StoreError::NotFound { .. }) => Err(ServiceError::Unauthenticated(
                "the account no longer exists".into(),
            )),
            Err(e) => Err(e.into()),
        }
    }

    /// Changes the password after checking the current one.
    ///
    /// # Errors
    /// [`ServiceError::Invalid`] when the current password is wrong or the new one too short.
    pub async fn change_password(
        &self,
        who: Principal,
        current: Secret,
        new: Secret,
    ) -> ServiceResult<()> {
        let user = self.me(who).await?;
        if !verify_password(current, user.password_hash.clone()).await? {
            return Err(ServiceError::invalid(
                "current_password",
                "is not the account's password",
            ));
        }
        let password_hash = hash_password(new).await.map_err(|e| match e {
            PasswordError::Length => ServiceError::invalid("new_password", e.to_string()),
            other => other.into(),
        })?;
        self.store
            .update_user(
                user.id,
                UserUpdate {
                    password_hash: Some(password_hash),
                    ..UserUpdate::default()
                },
            )
            .await?;
        Ok(())
    }

    // ----- API keys -------------------------------------------------------------------------

    /// Creates an API key; the whole key is returned this once.
    ///
    /// # Errors
    /// [`ServiceError::Invalid`] for a bad name, [`ServiceError::LimitReached`] past
    /// [`MAX_API_KEYS`] active keys.
    pub async fn create_api_key(
        &self,
        who: Principal,
        name: &str,
    ) -> ServiceResult<(ApiKey, Secret)> {
        let name = name.trim();
        if name.is_empty() || name.chars().count() > MAX_KEY_NAME_LEN {
            return Err(ServiceError::invalid(
                "name",
                format!("must be 1 to {MAX_KEY_NAME_LEN} characters"),
            ));
        }
        let active = self
            .store
            .list_api_keys(who.user)
            .await?
            .iter()
            .filter(|k| k.is_active())
            .count();
        if active >= MAX_API_KEYS {
            return Err(ServiceError::LimitReached(format!(
                "you already have {MAX_API_KEYS} API keys; revoke one first"
            )));
        }
        let generated = api_keys::generate();
        let key = self
            .store
            .create_api_key(NewApiKey {
                user_id: who.user,
                name: name.to_owned(),
                prefix: generated.prefix,
                key_hash: generated.hash,
            })
            .await?;
        tracing::info!(user = %who.user, key = %key.id, "API key created");
        Ok((key, generated.key))
    }

    /// The user's API keys, revoked ones included (never the keys themselves).
    ///
    /// # Errors
    /// Storage failures.
    pub async fn list_api_keys(&self, who: Principal) -> ServiceResult<Vec<ApiKey>> {
        Ok(self.store.list_api_keys(who.user).await?)
    }

    /// Revokes one of the user's keys; the next request with it is refused.
    ///
    /// # Errors
    /// [`ServiceError::NotFound`] for a key that is not the user's or already revoked.
    pub async fn revoke_api_key(&self, who: Principal, id: ApiKeyId) -> ServiceResult<ApiKey> {
        let owned = self
            .store
            .list_api_keys(who.user)
            .await?
            .into_iter()
            .any(|k| k.id == id && k.is_active());
        if !owned {
            return Err(ServiceError::NotFound("API key"));
        }
        let key = self.store.revoke_api_key(id, self.clock.now()).await?;
        tracing::info!(user = %who.user, key = %id, "API key revoked");
        Ok(key)
    }

    // ----- rules ----------------------------------------------------------------------------

    fn spec_text(spec: &RuleSpec) -> ServiceResult<Option<String>> {
        match (&spec.text, &spec.symbol, &spec.condition) {
            (Some(_), _, Some(_)) => Err(ServiceError::invalid(
                "condition",
                "give either text or symbol + condition, not both",
            )),
            (Some(text), None, None) => Ok(Some(text.clone())),
            (Some(_), Some(_), None) => Err(ServiceError::invalid(
                "symbol",
                "the text form names its symbol; leave symbol out",
            )),
            (None, Some(symbol), Some(condition)) => {
                let symbol = Symbol::parse(symbol)
                    .map_err(|e| ServiceError::invalid("symbol", e.to_string()))?;
                let mut value = condition.clone();
                if let Some(object) = value.as_object_mut() {
                    object.entry("version").or_insert(1.into());
                }
                let doc = crate::domain::JsonDocument::try_from(value)
                    .map_err(|e| ServiceError::invalid("condition", e.to_string()))?;
                let condition = Condition::from_document(&doc)
                    .map_err(|e| ServiceError::invalid("condition", e.to_string()))?;
                // The text form is the one checked path for values and ranges.
                Ok(Some(format!("{symbol} {condition}")))
            }
            (None, None, Some(_)) => Err(ServiceError::invalid(
                "symbol",
                "a JSON condition needs the symbol it watches",
            )),
            (None, Some(_), None) => Err(ServiceError::invalid(
                "condition",
                "give the condition for this symbol, or the whole rule as text",
            )),
            (None, None, None) => Ok(None),
        }
    }

    async fn owned_rule(&self, who: Principal, id: RuleId) -> ServiceResult<Rule> {
        match self.store.get_rule(id).await {
            Ok(rule) if rule.owner == who.user => Ok(rule),
            Ok(_) | Err(StoreError::NotFound { .. }) => Err(ServiceError::NotFound("rule")),
            Err(e) => Err(e.into()),
        }
    }

    /// Creates a rule.
    ///
    /// # Errors
    /// [`ServiceError::Invalid`] naming the field to fix; [`ServiceError::LimitReached`] past
    /// the per-user cap.
    pub async fn create_rule(
        &self,
        who: Principal,
        spec: RuleSpec,
        name: Option<String>,
        options: RuleOptions,
        enabled: bool,
        expires_at: Option<Timestamp>,
    ) -> ServiceResult<Rule> {
        let text = Self::spec_text(&spec)?.ok_or_else(|| {
            ServiceError::invalid("text", "give the rule as text, or symbol + condition")
        })?;
        let new = prepare_rule(
            who.user,
            RuleInput {
                text,
                name,
                options,
                disabled: !enabled,
                expires_at,
            },
        )?;
        let cap = self.limits.max_rules_per_user;
        let existing = self.store.count_rules(who.user).await?;
        if existing >= cap {
            return Err(ServiceError::LimitReached(format!(
                "you have {cap} rules, the most this server allows; delete some first"
            )));
        }
        Ok(self.store.create_rule(new).await?)
    }

    /// The user's rules, oldest first, after the `after` cursor.
    ///
    /// # Errors
    /// Storage failures.
    pub async fn list_rules(
        &self,
        who: Principal,
        symbol: Option<&str>,
        enabled: Option<bool>,
        after: Option<RuleId>,
        limit: u64,
    ) -> ServiceResult<Vec<Rule>> {
        let symbol = symbol
            .map(Symbol::parse)
            .transpose()
            .map_err(|e| ServiceError::invalid("symbol", e.to_string()))?;
        Ok(self
            .store
            .list_rules(&RuleFilter {
                owner: Some(who.user),
                symbol,
                enabled,
                after,
                limit: Some(limit.clamp(1, MAX_PAGE_SIZE)),
                shards: None,
            })
            .await?)
    }

    /// The states of some of the user's rules (for lists); rules not yet evaluated, or not
    /// the user's, are left out.
    ///
    /// # Errors
    /// Storage failures.
    pub async fn rule_states(
        &self,
        who: Principal,
        rules: &[Rule],
    ) -> ServiceResult<Vec<RuleState>> {
        let ids: Vec<RuleId> = rules
            .iter()
            .filter(|r| r.owner == who.user)
            .map(|r| r.id)
            .collect();
        Ok(self.store.load_rule_states(&ids).await?)
    }

    /// One of the user's rules with its state.
    ///
    /// # Errors
    /// [`ServiceError::NotFound`].
    pub async fn get_rule(&self, who: Principal, id: RuleId) -> ServiceResult<RuleView> {
        let rule = self.owned_rule(who, id).await?;
        let state = match self.store.get_rule_state(id).await {
            Ok(state) => Some(state),
            Err(StoreError::NotFound { .. }) => None,
            Err(e) => return Err(e.into()),
        };
        Ok(RuleView { rule, state })
    }

    /// Changes a rule; the merged rule is checked as a new one would be.
    ///
    /// # Errors
    /// [`ServiceError::NotFound`], [`ServiceError::Invalid`].
    pub async fn update_rule(
        &self,
        who: Principal,
        id: RuleId,
        change: RuleChange,
    ) -> ServiceResult<Rule> {
        let current = self.owned_rule(who, id).await?;
        let options = match change.options {
            Some(options) => options,
            None => RuleOptions::from_document(&current.options)
                .map_err(|e| ServiceError::Internal(format!("rule {id} options: {e}")))?,
        };
        let text = Self::spec_text(&change.spec)?.unwrap_or_else(|| rule_text(&current));
        let enabled = change.enabled.unwrap_or(current.enabled);
        let checked = prepare_rule(
            who.user,
            RuleInput {
                text,
                name: change.name.unwrap_or(current.name),
                options,
                disabled: !enabled,
                expires_at: change.expires_at.unwrap_or(current.expires_at),
            },
        )?;
        Ok(self
            .store
            .update_rule(
                id,
                RuleUpdate {
                    symbol: Some(checked.symbol),
                    name: Some(checked.name),
                    condition: Some(checked.condition),
                    options: Some(checked.options),
                    enabled: Some(checked.enabled),
                    expires_at: Some(checked.expires_at),
                    ..RuleUpdate::default()
                },
            )
            .await?)
    }

    /// Deletes a rule; its alerts are kept.
    ///
    /// # Errors
    /// [`ServiceError::NotFound`].
    pub async fn delete_rule(&self, who: Principal, id: RuleId) -> ServiceResult<()> {
        self.owned_rule(who, id).await?;
        Ok(self.store.delete_rule(id).await?)
    }

    /// Snoozes a rule for `duration` from now (at most [`MAX_SNOOZE`]).
    ///
    /// # Errors
    /// [`ServiceError::NotFound`], [`ServiceError::Invalid`] for a zero or too long duration.
    pub async fn snooze_rule_for(
        &self,
        who: Principal,
        id: RuleId,
        duration: std::time::Duration,
    ) -> ServiceResult<Rule> {
        let too_long = || {
            ServiceError::invalid(
                "minutes",
                format!("must be 1 minute to {}", crate::time::describe(MAX_SNOOZE)),
            )
        };
        if duration.is_zero() || duration > MAX_SNOOZE {
            return Err(too_long());
        }
        let until = chrono::Duration::from_std(duration)
            .ok()
            .and_then(|d| self.clock.now().checked_add_signed(d))
            .ok_or_else(too_long)?;
        self.snooze_rule(who, id, Some(until)).await
    }

    /// Snoozes a rule until `until` (at most [`MAX_SNOOZE`] ahead), or wakes it with `None`.
    ///
    /// # Errors
    /// [`ServiceError::NotFound`], [`ServiceError::Invalid`] for a time in the past or more
    /// than [`MAX_SNOOZE`] ahead.
    pub async fn snooze_rule(
        &self,
        who: Principal,
        id: RuleId,
        until: Option<Timestamp>,
    ) -> ServiceResult<Rule> {
        self.owned_rule(who, id).await?;
        let now = self.clock.now();
        if until.is_some_and(|u| u <= now) {
            return Err(ServiceError::invalid("until", "must be in the future"));
        }
        if until.is_some_and(|u| (u - now).to_std().is_ok_and(|ahead| ahead > MAX_SNOOZE)) {
            return Err(ServiceError::invalid(
                "until",
                format!(
                    "must be at most {} ahead",
                    crate::time::describe(MAX_SNOOZE)
                ),
            ));
        }
        Ok(self
            .store
            .update_rule(
                id,
                RuleUpdate {
                    snoozed_until: Some(until),
                    ..RuleUpdate::default()
                },
            )
            .await?)
    }

    /// Replays a rule over the market's daily bars from `from` to `to`.
    ///
    /// # Errors
    /// [`ServiceError::Invalid`] for a bad rule or range, [`ServiceError::Unavailable`] when
    /// the market cannot give bars.
    pub async fn backtest(
        &self,
        spec: RuleSpec,
        options: RuleOptions,
        from: NaiveDate,
        to: NaiveDate,
    ) -> ServiceResult<(Symbol, usize, Vec<BacktestAlert>)> {
        let text = Self::spec_text(&spec)?.ok_or_else(|| {
            ServiceError::invalid("text", "give the rule as text, or symbol + condition")
        })?;
        let rule = crate::engine::parse_rule(&text)
            .map_err(|e| ServiceError::invalid("text", e.to_string()))?;
        options
            .validate(&rule.condition)
            .map_err(|e| ServiceError::invalid("options", e.to_string()))?;
        if rule.condition.reads_holdings() || rule.symbol.as_str() == crate::engine::PORTFOLIO {
            return Err(ServiceError::invalid(
                "text",
                "holdings and portfolio conditions depend on what you held at each moment, which is not recorded: they cannot be backtested",
            ));
        }
        Self::check_range(from, to)?;
        let bars = self.market.daily_bars(&rule.symbol, from, to).await?;
        let alerts = backtest(&rule.symbol, &rule.condition, &options, &bars);
        Ok((rule.symbol, bars.len(), alerts))
    }

    fn check_range(from: NaiveDate, to: NaiveDate) -> ServiceResult<()> {
        if from > to {
            return Err(ServiceError::invalid("from", "must not be after `to`"));
        }
        if (to - from).num_days() > MAX_BAR_DAYS {
            return Err(ServiceError::invalid(
                "from",
                format!("the range may span at most {MAX_BAR_DAYS} days"),
            ));
        }
        Ok(())
    }

    // ----- alerts ---------------------------------------------------------------------------

    async fn owned_alert(&self, who: Principal, id: AlertId) -> ServiceResult<Alert> {
        match self.store.get_alert(id).await {
            Ok(alert) if alert.owner == who.user => Ok(alert),
            Ok(_) | Err(StoreError::NotFound { .. }) => Err(ServiceError::NotFound("alert")),
            Err(e) => Err(e.into()),
        }
    }

    /// The user's alerts, newest first; `query.owner` is replaced by the acting user.
    ///
    /// # Errors
    /// Storage failures.
    pub async fn list_alerts(
        &self,
        who: Principal,
        mut query: AlertQuery,
    ) -> ServiceResult<Vec<Alert>> {
        query.owner = who.user;
        query.limit = query.limit.clamp(1, MAX_PAGE_SIZE);
        if let Some(rule) = query.rule_id {
            // Another user's rule id filters to nothing, like a missing one.
            if self.owned_rule(who, rule).await.is_err() {
                return Ok(Vec::new());
            }
        }
        Ok(self.store.list_alerts(&query).await?)
    }

    /// One alert with its deliveries.
    ///
    /// # Errors
    /// [`ServiceError::NotFound`].
    pub async fn get_alert(
        &self,
        who: Principal,
        id: AlertId,
    ) -> ServiceResult<(Alert, Vec<Delivery>)> {
        let alert = self.owned_alert(who, id).await?;
        let deliveries = self.store.list_deliveries(id).await?;
        Ok((alert, deliveries))
    }

    /// Marks an alert as seen.
    ///
    /// # Errors
    /// [`ServiceError::NotFound`].
    pub async fn acknowledge_alert(&self, who: Principal, id: AlertId) -> ServiceResult<Alert> {
        self.owned_alert(who, id).await?;
        Ok(self.store.acknowledge_alert(id, self.clock.now()).await?)
    }

    /// Deletes the user's alerts fired before `before`; returns how many.
    ///
    /// # Errors
    /// Storage failures.
    pub async fn delete_alerts_before(
        &self,
        who: Principal,
        before: Timestamp,
    ) -> ServiceResult<u64> {
        Ok(self.store.delete_alerts_before(who.user, before).await?)
    }

    // ----- channels -------------------------------------------------------------------------

    async fn owned_channel(
        &self,
        who: Principal,
        id: ChannelId,
    ) -> ServiceResult<NotificationChannel> {
        match self.store.get_channel(id).await {
            Ok(channel) if channel.owner == who.user => Ok(channel),
            Ok(_) | Err(StoreError::NotFound { .. }) => Err(ServiceError::NotFound("channel")),
            Err(e) => Err(e.into()),
        }
    }

    /// The user's channels and how many deliveries wait.
    ///
    /// # Errors
    /// Storage failures.
    pub async fn list_channels(
        &self,
        who: Principal,
    ) -> ServiceResult<(Vec<NotificationChannel>, u64)> {
        Ok((
            self.store.list_channels(who.user).await?,
            self.store.count_pending_deliveries(who.user).await?,
        ))
    }

    /// One channel.
    ///
    /// # Errors
    /// [`ServiceError::NotFound`].
    pub async fn get_channel(
        &self,
        who: Principal,
        id: ChannelId,
    ) -> ServiceResult<NotificationChannel> {
        self.owned_channel(who, id).await
    }

    /// Adds a Telegram chat.
    ///
    /// # Errors
    /// [`ServiceError::Invalid`], [`ServiceError::Conflict`] for a taken name.
    pub async fn add_telegram(
        &self,
        who: Principal,
        chat_id: &str,
        name: Option<String>,
    ) -> ServiceResult<NotificationChannel> {
        Ok(add_telegram(self.store.as_ref(), who.user, chat_id, name).await?)
    }

    /// Adds a webhook; returns the signing secret (generated unless given) this once.
    ///
    /// # Errors
    /// [`ServiceError::Invalid`], [`ServiceError::Conflict`] for a taken name.
    pub async fn add_webhook(
        &self,
        who: Principal,
        url: &str,
        name: Option<String>,
        secret: Option<Secret>,
    ) -> ServiceResult<(NotificationChannel, Secret)> {
        Ok(add_webhook(self.store.as_ref(), who.user, url, name, secret).await?)
    }

    /// Turns a channel on or off.
    ///
    /// # Errors
    /// [`ServiceError::NotFound`].
    pub async fn set_channel_enabled(
        &self,
        who: Principal,
        id: ChannelId,
        enabled: bool,
    ) -> ServiceResult<NotificationChannel> {
        self.owned_channel(who, id).await?;
        self.store.set_channel_enabled(id, enabled).await?;
        Ok(self.store.get_channel(id).await?)
    }

    /// Removes a channel.
    ///
    /// # Errors
    /// [`ServiceError::NotFound`].
    pub async fn delete_channel(&self, who: Principal, id: ChannelId) -> ServiceResult<()> {
        self.owned_channel(who, id).await?;
        Ok(self.store.delete_channel(id).await?)
    }

    /// Sends a test message to one channel and records the outcome.
    ///
    /// # Errors
    /// [`ServiceError::NotFound`].
    pub async fn test_channel(&self, who: Principal, id: ChannelId) -> ServiceResult<ChannelTest> {
        self.owned_channel(who, id).await?;
        let results = crate::notify::channels::test_channels(
            self.store.as_ref(),
            &self.notifiers,
            who.user,
            Some(id),
            self.clock.now(),
        )
        .await?;
        results
            .into_iter()
            .next()
            .ok_or(ServiceError::NotFound("channel"))
    }

    /// The user's notification preferences.
    ///
    /// # Errors
    /// Storage failures, or stored preferences this build cannot read.
    pub async fn notification_prefs(
        &self,
        who: Principal,
    ) -> ServiceResult<crate::notify::NotificationPrefs> {
        let (doc, _) = self.store.get_notification_prefs(who.user).await?;
        crate::notify::NotificationPrefs::from_document(&doc).map_err(ServiceError::Internal)
    }

    /// Replaces the user's notification preferences.
    ///
    /// # Errors
    /// [`ServiceError::Invalid`] for an unknown time zone.
    pub async fn set_notification_prefs(
        &self,
        who: Principal,
        prefs: crate::notify::NotificationPrefs,
    ) -> ServiceResult<crate::notify::NotificationPrefs> {
        prefs
            .zone()
            .map_err(|e| ServiceError::invalid("time_zone", e))?;
        self.store
            .set_notification_prefs(who.user, prefs.to_document())
            .await?;
        Ok(prefs)
    }

    // ----- portfolio ------------------------------------------------------------------------

    /// Imports holdings from CSV (`symbol,quantity,cost_basis,account`): all lines or none.
    /// Each row replaces the position with the same account and symbol.
    ///
    /// # Errors
    /// [`ServiceError::Invalid`] on field `csv` listing every bad line with its number.
    pub async fn import_holdings(
        &self,
        who: Principal,
        csv: &str,
    ) -> ServiceResult<Vec<crate::domain::Holding>> {
        let rows = crate::portfolio::parse_holdings_csv(csv).map_err(|errors| {
            let lines: Vec<String> = errors.iter().map(ToString::to_string).collect();
            ServiceError::invalid("csv", format!("nothing imported; {}", lines.join("; ")))
        })?;
        let mut stored = Vec::with_capacity(rows.len());
        for row in rows {
            stored.push(
                self.store
                    .upsert_holding(crate::domain::NewHolding {
                        owner: who.user,
                        account: row.account,
                        symbol: row.symbol,
                        quantity: row.quantity,
                        cost_basis: row.cost_basis,
                        source: crate::domain::HoldingSource::Csv,
                        connection: None,
                    })
                    .await?,
            );
        }
        Ok(stored)
    }

    /// The user's holdings valued at current quotes (positions without a quote are listed
    /// unpriced; a market outage leaves them all unpriced rather than failing).
    ///
    /// # Errors
    /// Storage failures.
    pub async fn portfolio(&self, who: Principal) -> ServiceResult<crate::portfolio::Portfolio> {
        let holdings = self.store.list_holdings(who.user).await?;
        let mut symbols: Vec<Symbol> = holdings.iter().map(|h| h.symbol.clone()).collect();
        symbols.sort();
        symbols.dedup();
        let quotes = if symbols.is_empty() {
            Vec::new()
        } else {
            match self.market.quotes(&symbols).await {
                Ok(quotes) => quotes,
                Err(e) => {
                    tracing::warn!("portfolio without prices: {e}");
                    Vec::new()
                }
            }
        };
        Ok(crate::portfolio::value(holdings, &quotes))
    }

    // ----- market ---------------------------------------------------------------------------

    /// Latest quotes for up to [`MAX_QUOTE_SYMBOLS`] symbols.
    ///
    /// # Errors
    /// [`ServiceError::Invalid`] for a bad symbol, [`ServiceError::Unavailable`].
    pub async fn quotes(&self, symbols: &[String]) -> ServiceResult<Vec<Quote>> {
        let mut parsed = Vec::new();
        for s in symbols
            .iter()
            .flat_map(|s| s.split(','))
            .map(str::trim)
            .filter(|s| !s.is_empty())
        {
            let symbol =
                Symbol::parse(s).map_err(|e| ServiceError::invalid("symbols", e.to_string()))?;
            if !parsed.contains(&symbol) {
                parsed.push(symbol);
            }
        }
        if parsed.is_empty() {
            return Err(ServiceError::invalid("symbols", "name at least one symbol"));
        }
        if parsed.len() > MAX_QUOTE_SYMBOLS {
            return Err(ServiceError::invalid(
                "symbols",
                format!("at most {MAX_QUOTE_SYMBOLS} symbols per request"),
            ));
        }
        Ok(self.market.quotes(&parsed).await?)
    }

    /// Daily bars of one symbol.
    ///
    /// # Errors
    /// [`ServiceError::Invalid`], [`ServiceError::Unavailable`].
    pub async fn daily_bars(
        &self,
        symbol: &str,
        from: NaiveDate,
        to: NaiveDate,
    ) -> ServiceResult<Vec<Bar>> {
        let symbol =
            Symbol::parse(symbol).map_err(|e| ServiceError::invalid("symbol", e.to_string()))?;
        Self::check_range(from, to)?;
        Ok(self.market.daily_bars(&symbol, from, to).await?)
    }
}
