//! The use cases both frontends call, with the acting user: register, log in, manage API
//! keys, rules, alerts and channels, read quotes.
//!
//! Ownership is checked here, once, for everyone: an object of another user answers
//! [`ServiceError::NotFound`] exactly as a missing one does, so ids reveal nothing.

use std::sync::Arc;

use crate::Secret;
use crate::auth::tokens::TokenKeys;
use crate::clock::Clock;
use crate::domain::{ApiKeyId, UserId};
use crate::market::MarketData;
use crate::notify::Notifier;
use crate::store::Store;
use crate::time::Timestamp;

mod accounts;
mod actions;
mod alerts;
mod background;
mod brokerage;
mod channels;
mod errors;
mod keys;
mod market;
mod portfolio;
mod rules;
mod telegram;
mod watch;

pub use actions::{
    ActionOutcome, ActionPreview, ActionSigner, LADDER_STEP_PERCENT, MessageAction,
    applicable_actions, next_open,
};
pub use brokerage::{ConnectionView, ResealReport, SyncReport, WatchHoldings, WatchReport};
pub use errors::{BoxError, ServiceError, ServiceResult};
pub use rules::{ImportReport, RuleChange, RuleSpec, RuleView, backtest_on, rule_text};
pub use telegram::{LINK_CODE_LIFETIME, TelegramLinkCode};
pub use watch::{AlertWatch, SIGNALLED_POLL};

/// Most rows one list call returns.
pub const MAX_PAGE_SIZE: u64 = 200;
/// Longest API key name, in characters.
pub const MAX_KEY_NAME_LEN: usize = 64;
/// The longest display name, in characters.
pub const MAX_DISPLAY_NAME_LEN: usize = 100;
/// Most API keys a user may hold at once.
pub const MAX_API_KEYS: usize = 20;
/// Most symbols one quote request may name.
pub const MAX_QUOTE_SYMBOLS: usize = 50;
/// Longest span of daily bars one request may ask for.
pub const MAX_BAR_DAYS: i64 = 366 * 5;
/// Longest snooze: a year (525,600 minutes), whether given as a duration or as an end time.
pub const MAX_SNOOZE: std::time::Duration = std::time::Duration::from_secs(365 * 86_400);

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
    /// Alert and digest summaries (the model's or the template's), when configured.
    summaries: Option<Arc<crate::summary::AlertSummaries>>,
    /// The notification services with a fixed host (for channel URLs).
    channel_settings: Arc<crate::config::ChannelSettings>,
    /// The account-wide slow-down of password guessing.
    login_throttle: Arc<crate::auth::throttle::LoginThrottle>,
    /// A real argon2id hash of nothing anyone knows: logins for unknown e-mails verify against
    /// it so that they cost what a real one does.
    decoy_hash: Arc<tokio::sync::OnceCell<Secret>>,
    /// Signs and verifies the tokens of message actions.
    action_keys: Option<Arc<crate::auth::action_token::ActionKeys>>,
    /// The Telegram bot's client and how updates reach it, when `TELEGRAM_BOT_TOKEN` is set.
    telegram: Option<Arc<TelegramBotSettings>>,
    /// The flood guard of the monitors it builds, when the settings give one.
    flood_guard: Option<crate::monitor::FloodGuard>,
    /// The providers' symbol searches asked lately, by lower-case name: a day each.
    symbol_searches: Arc<crate::market::directory::SearchCache>,
}

/// How the Telegram bot is reached.
#[derive(Debug)]
struct TelegramBotSettings {
    /// `TELEGRAM_BASE_URL`.
    base: url::Url,
    /// `TELEGRAM_BOT_TOKEN`.
    token: Secret,
    /// The Bot API client, built when the bot is first used (a command that never uses the
    /// bot does not pay for an HTTP client and its certificate roots).
    api: std::sync::OnceLock<crate::notify::TelegramNotifier>,
    /// `TELEGRAM_WEBHOOK_URL`, when updates come by webhook.
    webhook: Option<url::Url>,
    /// What Telegram sends in `X-Telegram-Bot-Api-Secret-Token` (derived from `SECRET_KEY`).
    webhook_secret: Secret,
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
            summaries: None,
            channel_settings: Arc::default(),
            login_throttle: Arc::default(),
            decoy_hash: Arc::default(),
            action_keys: None,
            telegram: None,
            flood_guard: None,
            symbol_searches: Arc::default(),
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
        .map_err(ServiceError::internal)?;
        let limits = Limits {
            max_rules_per_user: settings.api.max_rules_per_user,
        };
        #[cfg(feature = "plaid")]
        let link = match crate::broker::PlaidConfig::from_settings(&settings.plaid) {
            Some(config) => Some(Arc::new(
                crate::broker::PlaidClient::new(config).map_err(ServiceError::internal)?,
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
        let summaries = crate::summary::AlertSummaries::new(
            store.clone(),
            market.clone(),
            crate::summary::AlertSummaries::model_from_settings(settings)
                .map_err(ServiceError::internal)?,
            settings.openai.daily_calls_per_user,
        );
        let mut services = Self::new(store, clock, tokens, market, notifiers, limits)
            .with_brokerage(link, vault)
            .with_summaries(summaries)
            .with_action_keys(crate::auth::action_token::ActionKeys::new(
                settings.secret_key.expose(),
                previous,
            ))
            .with_login_throttle(crate::auth::throttle::ThrottleConfig {
                free_failures: settings.api.login_failures_before_slowdown,
                ..Default::default()
            });
        services.brokerage.sync_interval = Some(settings.plaid.sync_interval);
        services.channel_settings = Arc::new(settings.channels.clone());
        services.flood_guard = Some(settings.api.flood_guard);
        if let Some(token) = &settings.telegram.bot_token {
            services.telegram = Some(Arc::new(TelegramBotSettings {
                base: settings.telegram.base_url.clone(),
                token: token.clone(),
                api: std::sync::OnceLock::new(),
                webhook: settings.telegram.webhook_url.clone(),
                webhook_secret: webhook_secret(settings.secret_key.expose()),
            }));
        }
        Ok(services)
    }

    /// The use cases as `settings` configure them, built in one place for every binary: the
    /// database (its schema brought up to date, only read when it is), the configured
    /// providers (quotes of any age, shown with their time: the monitor's own chain is the one
    /// that refuses stale ones), the notifiers, the system clock.
    ///
    /// # Errors
    /// [`ServiceError::Unavailable`] when the database cannot be opened;
    /// [`ServiceError::Internal`] when a part cannot be built.
    pub async fn open(settings: &crate::config::Settings) -> ServiceResult<Self> {
        let clock: Arc<dyn Clock> = Arc::new(crate::clock::SystemClock);
        let market = crate::market::providers_from_settings(settings, clock, None)
            .map_err(ServiceError::internal)?;
        Self::open_with_market(settings, Arc::new(market)).await
    }

    /// [`open`](Self::open) with another source of quotes (a replay, a simulation, your own).
    ///
    /// # Errors
    /// As [`open`](Self::open).
    pub async fn open_with_market(
        settings: &crate::config::Settings,
        market: Arc<dyn MarketData>,
    ) -> ServiceResult<Self> {
        let store = crate::store::SeaStore::open(&settings.database_url)
            .await
            .map_err(|e| match e {
                e @ crate::store::StoreError::Connection(_) => {
                    ServiceError::Unavailable(e.to_string())
                }
                other => ServiceError::internal(other),
            })?;
        let notifiers = crate::notify::channels::notifiers_from_settings(settings)
            .map_err(ServiceError::internal)?;
        Self::from_settings(
            settings,
            Arc::new(store),
            Arc::new(crate::clock::SystemClock),
            market,
            notifiers,
        )
    }

    /// Slows password guessing on one account with these numbers (by default
    /// [`ThrottleConfig::default`](crate::auth::throttle::ThrottleConfig)).
    #[must_use]
    pub fn with_login_throttle(mut self, config: crate::auth::throttle::ThrottleConfig) -> Self {
        self.login_throttle = Arc::new(crate::auth::throttle::LoginThrottle::new(config));
        self
    }

    /// Adds summaries to digests sent by [`dispatch_once`](Self::dispatch_once).
    #[must_use]
    pub fn with_summaries(mut self, summaries: crate::summary::AlertSummaries) -> Self {
        self.summaries = Some(Arc::new(summaries));
        self
    }

    /// Whether the database answers (readiness checks).
    ///
    /// # Errors
    /// [`ServiceError::Unavailable`] with the cause when it does not.
    pub async fn ready(&self) -> ServiceResult<()> {
        self.store
            .ping()
            .await
            .map_err(|e| ServiceError::Unavailable(format!("the database does not answer: {e}")))
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

    /// The Telegram bot, when `TELEGRAM_BOT_TOKEN` is set (and its HTTP client can be built;
    /// when it cannot, the cause is logged).
    pub fn telegram_bot(&self) -> Option<crate::bot::TelegramBot> {
        let t = self.telegram.as_ref()?;
        let api = match t.api.get() {
            Some(api) => api.clone(),
            None => {
                let built = crate::notify::TelegramNotifier::new(
                    t.base.clone(),
                    t.token.clone(),
                    crate::notify::channels::NOTIFY_TIMEOUT,
                );
                match built {
                    Ok(api) => t.api.get_or_init(|| api).clone(),
                    Err(e) => {
                        tracing::error!("the Telegram bot's HTTP client: {e}");
                        return None;
                    }
                }
            }
        };
        Some(crate::bot::TelegramBot::new(
            self.clone(),
            api,
            crate::bot::BotConfig::default(),
        ))
    }

    /// Whether `given` is the secret Telegram sends with webhook updates (compared in constant
    /// time); `false` when the bot takes no webhook.
    pub fn is_telegram_webhook_secret(&self, given: &str) -> bool {
        use subtle::ConstantTimeEq as _;
        self.telegram.as_ref().is_some_and(|t| {
            t.webhook.is_some()
                && bool::from(given.as_bytes().ct_eq(t.webhook_secret.expose().as_bytes()))
        })
    }

    /// Tells Telegram where to post the bot's updates when `TELEGRAM_WEBHOOK_URL` is set, and
    /// registers its commands; `false` when updates come by polling instead (or there is no
    /// bot). The HTTP server calls it at start.
    ///
    /// # Errors
    /// [`ServiceError::Unavailable`] when Telegram refuses or does not answer.
    pub async fn start_telegram_webhook(&self) -> ServiceResult<bool> {
        let (Some(t), Some(bot)) = (self.telegram.as_ref(), self.telegram_bot()) else {
            return Ok(false);
        };
        let Some(url) = &t.webhook else {
            return Ok(false);
        };
        let unavailable = |e: crate::bot::BotError| ServiceError::Unavailable(e.to_string());
        bot.use_webhook(url, t.webhook_secret.expose())
            .await
            .map_err(unavailable)?;
        bot.register_commands().await.map_err(unavailable)?;
        Ok(true)
    }

    /// Whether the bot reads its updates by long polling (a bot without a webhook).
    pub(crate) fn telegram_polls(&self) -> bool {
        self.telegram.as_ref().is_some_and(|t| t.webhook.is_none())
    }

    /// The store (for the library's own background parts: the bot's update cursor).
    pub(crate) fn store(&self) -> &Arc<dyn Store> {
        &self.store
    }

    /// The market data source.
    pub fn market(&self) -> &Arc<dyn MarketData> {
        &self.market
    }

    /// The clock.
    pub fn now(&self) -> Timestamp {
        self.clock.now()
    }

    /// Queues the digests that are due and sends what waits in the outbox, once: what
    /// `invest notifications dispatch` does between two runs of the background dispatcher.
    ///
    /// # Errors
    /// Storage failures.
    pub async fn dispatch_once(
        &self,
    ) -> ServiceResult<(crate::notify::DigestReport, crate::notify::DispatchReport)> {
        let digests = crate::notify::send_due_digests(
            self.store.as_ref(),
            self.clock.as_ref(),
            self.summaries.as_deref(),
        )
        .await?;
        Ok((digests, self.dispatcher().run_once().await?))
    }

    /// The dispatcher over this store's outbox with these notifiers.
    fn dispatcher(&self) -> crate::notify::Dispatcher {
        let dispatcher = crate::notify::Dispatcher::new(
            self.store.clone(),
            self.notifiers.as_ref().clone(),
            self.clock.clone(),
            crate::notify::DispatcherConfig::default(),
        );
        let dispatcher = match self.vault() {
            Some(vault) => dispatcher.with_vault(vault.clone()),
            None => dispatcher,
        };
        match self.action_signer() {
            Some(signer) => dispatcher.with_actions(signer),
            None => dispatcher,
        }
    }

    /// The vault sealing the secrets kept for users (channel tokens, brokerage tokens).
    fn vault(&self) -> Option<&Arc<crate::auth::vault::Vault>> {
        self.brokerage.vault.as_ref()
    }
}

/// The webhook's secret token: 64 hex digits of HMAC-SHA256 of a fixed label under
/// `SECRET_KEY`, the same in every process of a deployment.
fn webhook_secret(secret_key: &[u8]) -> Secret {
    use hmac::{Hmac, KeyInit, Mac};
    let mut mac = <Hmac<sha2::Sha256> as KeyInit>::new_from_slice(secret_key)
        .expect("HMAC takes a key of any length");
    mac.update(b"signal-sentinel telegram webhook v1");
    Secret::new(hex::encode(mac.finalize().into_bytes()))
}
