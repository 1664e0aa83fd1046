//! Storage: small async traits, one per aggregate, composed by [`Store`].
//!
//! Methods take domain types and typed ids and return domain types; the one implementation,
//! [`SeaStore`], speaks SQLite and PostgreSQL through sea-orm, and no sea-orm type crosses this
//! module's boundary. Callers match on [`StoreError`]: [`NotFound`](StoreError::NotFound),
//! [`Conflict`](StoreError::Conflict) (with the field to change) or the rest.
//!
//! Ownership is not checked here: the service layer checks that the acting user owns what a
//! request names before it calls the store.

mod backup;
mod error;
mod sea;

use async_trait::async_trait;
use chrono::NaiveDate;

pub use backup::{
    BACKUP_PREFIX, BACKUP_SUFFIX, BackupReport, RestoreReport, restore_sqlite, sqlite_in_use,
};
pub use error::{Result, StoreError};
pub use sea::{CopyReport, DatabaseCheck, DatabaseStats, SeaStore};

use crate::domain::{
    Alert, AlertId, AlertQuery, ApiKey, ApiKeyId, BrokerConnection, ChannelId, ChannelOutcome,
    ConnectionId, CorporateEvent, CycleWrite, Delivery, DeliveryId, DeliveryOutcome, Email,
    Holding, HoldingId, JsonDocument, NewAlert, NewApiKey, NewBrokerConnection, NewChannel,
    NewDelivery, NewHolding, NewRule, NewUser, NotificationChannel, Rule, RuleChanges, RuleFilter,
    RuleId, RuleStamp, RuleState, RuleUpdate, Symbol, SymbolEvents, SymbolSamples, SyncOutcome,
    User, UserId, UserUpdate, WorkerCycle, WorkerIdentity, WorkerStatus,
};
use crate::time::Timestamp;

/// Accounts.
#[async_trait]
pub trait UserStore: Send + Sync {
    /// Answers when the database does (a readiness probe: one trivial query).
    async fn ping(&self) -> Result<()>;

    /// Creates an account.
    ///
    /// # Errors
    /// [`StoreError::Conflict`] on field `email` when the address is taken.
    async fn create_user(&self, new: NewUser) -> Result<User>;
    /// One account.
    ///
    /// # Errors
    /// [`StoreError::NotFound`] when there is none with this id.
    async fn get_user(&self, id: UserId) -> Result<User>;
    /// The account with this login name.
    ///
    /// # Errors
    /// [`StoreError::NotFound`] when there is none.
    async fn get_user_by_email(&self, email: &Email) -> Result<User>;
    /// All accounts, by id.
    ///
    /// # Errors
    /// Only backend failures.
    async fn list_users(&self) -> Result<Vec<User>>;
    /// Changes an account.
    ///
    /// # Errors
    /// [`StoreError::NotFound`] when there is none with this id.
    async fn update_user(&self, id: UserId, update: UserUpdate) -> Result<User>;
    /// Deletes an account and everything it owns (keys, rules, alerts, channels, holdings).
    ///
    /// # Errors
    /// [`StoreError::NotFound`] when there is none with this id.
    async fn delete_user(&self, id: UserId) -> Result<()>;
}

/// API keys.
#[async_trait]
pub trait ApiKeyStore: Send + Sync {
    /// Stores a key.
    ///
    /// # Errors
    /// [`StoreError::Conflict`] on `name` (the owner has a key with that name) or `prefix`;
    /// [`StoreError::MissingReference`] when the owner does not exist.
    async fn create_api_key(&self, new: NewApiKey) -> Result<ApiKey>;
    /// The key with this prefix, revoked or not.
    ///
    /// # Errors
    /// [`StoreError::NotFound`] when there is none.
    async fn get_api_key_by_prefix(&self, prefix: &str) -> Result<ApiKey>;
    /// A user's keys, by id.
    ///
    /// # Errors
    /// Only backend failures.
    async fn list_api_keys(&self, owner: UserId) -> Result<Vec<ApiKey>>;
    /// Records that a key was used.
    ///
    /// # Errors
    /// [`StoreError::NotFound`] when there is no such key.
    async fn touch_api_key(&self, id: ApiKeyId, at: Timestamp) -> Result<()>;
    /// Revokes a key (revoking twice keeps the first instant).
    ///
    /// # Errors
    /// [`StoreError::NotFound`] when there is no such key.
    async fn revoke_api_key(&self, id: ApiKeyId, at: Timestamp) -> Result<ApiKey>;
}

/// Alert rules.
#[async_trait]
pub trait RuleStore: Send + Sync {
    /// Stores a rule.
    ///
    /// # Errors
    /// [`StoreError::MissingReference`] when the owner does not exist.
    async fn create_rule(&self, new: NewRule) -> Result<Rule>;
    /// Stores many rules in one transaction (imports, tests, benchmarks): all or none.
    ///
    /// # Errors
    /// [`StoreError::MissingReference`] when an owner does not exist.
    async fn create_rules(&self, new: Vec<NewRule>) -> Result<Vec<Rule>>;
    /// How many rules `owner` has (for the per-user cap).
    async fn count_rules(&self, owner: UserId) -> Result<u64>;
    /// One rule.
    ///
    /// # Errors
    /// [`StoreError::NotFound`] when there is none with this id.
    async fn get_rule(&self, id: RuleId) -> Result<Rule>;
    /// Rules matching a filter, by id.
    ///
    /// # Errors
    /// Only backend failures.
    async fn list_rules(&self, filter: &RuleFilter) -> Result<Vec<Rule>>;
    /// Id and last edit of the rules matching a filter, by id: what the monitor reads every
    /// cycle to find new and edited rules without loading them all.
    ///
    /// # Errors
    /// Only backend failures.
    async fn list_rule_stamps(&self, filter: &RuleFilter) -> Result<Vec<RuleStamp>>;
    /// The rules with these ids that exist, by id.
    ///
    /// # Errors
    /// Only backend failures.
    async fn get_rules(&self, ids: &[RuleId]) -> Result<Vec<Rule>>;
    /// At most `limit` changes of the log after sequence number `after` (see
    /// [`RuleChanges`]): what the monitor reads every cycle instead of every rule.
    ///
    /// # Errors
    /// Only backend failures.
    async fn rule_changes(&self, after: i64, limit: u64) -> Result<RuleChanges>;
    /// Deletes the changes up to sequence number `through`; returns how many.
    ///
    /// # Errors
    /// Only backend failures.
    async fn prune_rule_changes(&self, through: i64) -> Result<u64>;
    /// Changes a rule.
    ///
    /// # Errors
    /// [`StoreError::NotFound`] when there is none with this id.
    async fn update_rule(&self, id: RuleId, update: RuleUpdate) -> Result<Rule>;
    /// Deletes a rule and its state; its alerts are kept, detached from it.
    ///
    /// # Errors
    /// [`StoreError::NotFound`] when there is none with this id.
    async fn delete_rule(&self, id: RuleId) -> Result<()>;
}

/// What the monitor remembers about rules between cycles.
#[async_trait]
pub trait RuleStateStore: Send + Sync {
    /// One rule's state.
    ///
    /// # Errors
    /// [`StoreError::NotFound`] when the rule has none yet.
    async fn get_rule_state(&self, rule: RuleId) -> Result<RuleState>;
    /// The states of these rules (rules without one are left out).
    ///
    /// # Errors
    /// Only backend failures.
    async fn load_rule_states(&self, rules: &[RuleId]) -> Result<Vec<RuleState>>;
    /// Writes these states, replacing earlier ones, in one transaction.
    ///
    /// # Errors
    /// [`StoreError::MissingReference`] when a rule does not exist (nothing is written).
    async fn save_rule_states(&self, states: &[RuleState]) -> Result<()>;
}

/// What wakes a live view of alerts (see [`AlertStore::alert_feed`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AlertSignal {
    /// New alerts of this owner were committed.
    Owner(UserId),
    /// Signals may have been missed (the feed started listening, or its connection was lost
    /// and came back): every view looks again.
    All,
}

/// A subscription to committed alerts: a signal per transaction that stored alerts, naming
/// their owners. It says *that* something arrived, not what: a view reads the alerts from the
/// store when woken.
#[derive(Debug)]
pub struct AlertFeed {
    /// The signals. A receiver that falls behind gets `Lagged`, which means "look again".
    pub signals: tokio::sync::broadcast::Receiver<AlertSignal>,
    /// Whether alerts committed by other processes are signalled too (PostgreSQL's
    /// `LISTEN/NOTIFY`). When not, only this process's commits are, and a view must also poll
    /// for what other processes write.
    pub cross_process: bool,
}

/// Alerts.
#[async_trait]
pub trait AlertStore: Send + Sync {
    /// Subscribes to alerts committed from now on. `None` when the store cannot signal them
    /// (the default): a view then polls.
    fn alert_feed(&self) -> Option<AlertFeed> {
        None
    }
    /// Stores alerts in one transaction: all or none.
    ///
    /// # Errors
    /// [`StoreError::Conflict`] when an alert repeats a `(rule, episode, kind)` already stored;
    /// [`StoreError::MissingReference`] when a rule or owner does not exist.
    async fn insert_alerts(&self, alerts: Vec<NewAlert>) -> Result<Vec<Alert>>;
    /// One alert.
    ///
    /// # Errors
    /// [`StoreError::NotFound`] when there is none with this id.
    async fn get_alert(&self, id: AlertId) -> Result<Alert>;
    /// A user's alerts, newest first, filtered and paged by [`AlertQuery`].
    ///
    /// # Errors
    /// Only backend failures.
    async fn list_alerts(&self, query: &AlertQuery) -> Result<Vec<Alert>>;
    /// Marks an alert as seen (acknowledging twice keeps the first instant).
    ///
    /// # Errors
    /// [`StoreError::NotFound`] when there is none with this id.
    async fn acknowledge_alert(&self, id: AlertId, at: Timestamp) -> Result<Alert>;
    /// Attaches a summary to an alert.
    ///
    /// # Errors
    /// [`StoreError::NotFound`] when there is none with this id.
    async fn set_alert_summary(&self, id: AlertId, summary: String) -> Result<()>;
    /// Deletes a user's alerts fired before an instant; returns how many.
    ///
    /// # Errors
    /// Only backend failures.
    async fn delete_alerts_before(&self, owner: UserId, before: Timestamp) -> Result<u64>;
}

/// Notification channels.
#[async_trait]
pub trait ChannelStore: Send + Sync {
    /// Stores a channel.
    ///
    /// # Errors
    /// [`StoreError::Conflict`] on `name` when the owner has a channel with that name;
    /// [`StoreError::MissingReference`] when the owner does not exist.
    async fn create_channel(&self, new: NewChannel) -> Result<NotificationChannel>;
    /// One channel.
    ///
    /// # Errors
    /// [`StoreError::NotFound`] when there is none with this id.
    async fn get_channel(&self, id: ChannelId) -> Result<NotificationChannel>;
    /// A user's channels, by id.
    ///
    /// # Errors
    /// Only backend failures.
    async fn list_channels(&self, owner: UserId) -> Result<Vec<NotificationChannel>>;
    /// Enables or disables a channel.
    ///
    /// # Errors
    /// [`StoreError::NotFound`] when there is none with this id.
    async fn set_channel_enabled(&self, id: ChannelId, enabled: bool) -> Result<()>;
    /// Replaces a channel's settings that are not secret.
    ///
    /// # Errors
    /// [`StoreError::NotFound`] when there is none with this id.
    async fn set_channel_config(&self, id: ChannelId, config: serde_json::Value) -> Result<()>;
    /// Records the result of a delivery attempt.
    ///
    /// # Errors
    /// [`StoreError::NotFound`] when there is none with this id.
    async fn record_channel_outcome(&self, id: ChannelId, outcome: ChannelOutcome) -> Result<()>;
    /// Deletes a channel.
    ///
    /// # Errors
    /// [`StoreError::NotFound`] when there is none with this id.
    async fn delete_channel(&self, id: ChannelId) -> Result<()>;
    /// Every channel, of every user, that keeps a secret (for sealing them again after a key
    /// rotation).
    ///
    /// # Errors
    /// Only backend failures.
    async fn channels_with_secrets(&self) -> Result<Vec<NotificationChannel>>;
    /// Replaces a channel's stored secret with `new` if it is still `old`; says whether it did.
    ///
    /// # Errors
    /// Only backend failures.
    async fn reseal_channel(&self, id: ChannelId, old: &str, new: &str) -> Result<bool>;
}

/// Portfolio holdings.
#[async_trait]
pub trait HoldingStore: Send + Sync {
    /// Stores a position, replacing the one with the same owner, account and symbol.
    ///
    /// # Errors
    /// [`StoreError::MissingReference`] when the owner does not exist.
    async fn upsert_holding(&self, new: NewHolding) -> Result<Holding>;
    /// A user's positions, by account then symbol.
    ///
    /// # Errors
    /// Only backend failures.
    async fn list_holdings(&self, owner: UserId) -> Result<Vec<Holding>>;
    /// Deletes a position.
    ///
    /// # Errors
    /// [`StoreError::NotFound`] when there is none with this id.
    async fn delete_holding(&self, id: HoldingId) -> Result<()>;
}

/// Brokerage connections and the holdings they report.
#[async_trait]
pub trait BrokerStore: Send + Sync {
    /// Stores a new connection (status active, never synchronised).
    ///
    /// # Errors
    /// [`StoreError::Conflict`] when the provider's link is stored already;
    /// [`StoreError::MissingReference`] when the owner does not exist.
    async fn create_connection(&self, new: NewBrokerConnection) -> Result<BrokerConnection>;
    /// One connection.
    ///
    /// # Errors
    /// [`StoreError::NotFound`] when there is none with this id.
    async fn get_connection(&self, id: ConnectionId) -> Result<BrokerConnection>;
    /// A user's connections, oldest first.
    ///
    /// # Errors
    /// Only backend failures.
    async fn list_connections(&self, owner: UserId) -> Result<Vec<BrokerConnection>>;
    /// Every connection (for re-sealing tokens after a key rotation).
    ///
    /// # Errors
    /// Only backend failures.
    async fn all_connections(&self) -> Result<Vec<BrokerConnection>>;
    /// Claims the connections due for a scheduled sync: not waiting for their user, last
    /// synchronised before `synced_before` (or never), and not claimed by another worker
    /// until after `now`. Claimed ones are left alone by others until `claim_until`.
    ///
    /// # Errors
    /// Only backend failures.
    async fn claim_due_connections(
        &self,
        now: Timestamp,
        synced_before: Timestamp,
        claim_until: Timestamp,
    ) -> Result<Vec<BrokerConnection>>;
    /// Replaces the sealed token if it still is `old` (so two processes re-sealing after a
    /// rotation do not undo each other). Returns whether it was replaced.
    ///
    /// # Errors
    /// Only backend failures.
    async fn reseal_connection(&self, id: ConnectionId, old: &str, new: &str) -> Result<bool>;
    /// Records a sync: new holdings replace the connection's previous ones in one
    /// transaction; a failure keeps them and records the status and error.
    ///
    /// # Errors
    /// [`StoreError::NotFound`] when the connection is gone.
    async fn record_sync(
        &self,
        id: ConnectionId,
        outcome: SyncOutcome,
        at: Timestamp,
    ) -> Result<()>;
    /// Deletes a connection and the holdings it reported.
    ///
    /// # Errors
    /// [`StoreError::NotFound`] when there is none with this id.
    async fn delete_connection(&self, id: ConnectionId) -> Result<()>;
}

/// What the monitor writes and reads back after a restart.
#[async_trait]
pub trait MonitorStore: Send + Sync {
    /// Writes one cycle's results in one transaction — changed rule states, new alerts (an
    /// alert already stored for the same rule, episode, kind and reminder is skipped), a pending
    /// delivery per new alert and enabled channel of its owner, rules that fired, the symbols'
    /// samples — and returns the alerts newly stored. All or nothing.
    ///
    /// # Errors
    /// [`StoreError::MissingReference`] when a rule or owner no longer exists (nothing is
    /// written); backend failures.
    async fn commit_cycle(&self, write: CycleWrite) -> Result<Vec<Alert>>;
    /// The stored samples of these symbols (symbols without any are left out).
    ///
    /// # Errors
    /// Backend failures; [`StoreError::Corrupt`] for unreadable samples.
    async fn load_symbol_samples(&self, symbols: &[Symbol]) -> Result<Vec<SymbolSamples>>;
    /// The deliveries queued for an alert, by id.
    ///
    /// # Errors
    /// Backend failures.
    async fn list_deliveries(&self, alert: AlertId) -> Result<Vec<Delivery>>;
}

/// The outbox the dispatcher works from, and the owners' notification preferences.
#[async_trait]
pub trait OutboxStore: Send + Sync {
    /// Claims up to `limit` deliveries that are due at `now` and not claimed by a live
    /// dispatcher, for `lease`: until it ends no other dispatcher takes them (on PostgreSQL
    /// with `FOR UPDATE SKIP LOCKED`, so dispatchers never wait on each other). A dispatcher
    /// that dies leaves its claims to expire, and the deliveries are sent again.
    ///
    /// # Errors
    /// Backend failures.
    async fn claim_deliveries(
        &self,
        worker: &str,
        now: Timestamp,
        lease: chrono::Duration,
        limit: u64,
    ) -> Result<Vec<Delivery>>;
    /// Extends every claim `worker` still holds until `until` (a dispatcher renews its claims
    /// while it sends, so that a short lease never lapses under a slow send); returns how many.
    ///
    /// # Errors
    /// Backend failures.
    async fn renew_delivery_claims(&self, worker: &str, until: Timestamp) -> Result<u64>;
    /// Records what became of an attempt, and releases the claim.
    ///
    /// # Errors
    /// [`StoreError::NotFound`] when the delivery no longer exists.
    async fn record_delivery(&self, id: DeliveryId, outcome: DeliveryOutcome) -> Result<()>;
    /// Records what became of a batch of attempts in one transaction (a dispatcher's batch),
    /// releasing their claims; deliveries deleted meanwhile are passed over.
    ///
    /// # Errors
    /// Backend failures (then nothing is recorded, and the claims lapse: the deliveries are
    /// sent again).
    async fn record_deliveries(&self, outcomes: Vec<(DeliveryId, DeliveryOutcome)>) -> Result<()> {
        for (id, outcome) in outcomes {
            match self.record_delivery(id, outcome).await {
                Ok(()) | Err(StoreError::NotFound { .. }) => {}
                Err(e) => return Err(e),
            }
        }
        Ok(())
    }
    /// Queues messages that are not alerts (digests, notices, tests), due at `now`.
    ///
    /// # Errors
    /// [`StoreError::MissingReference`] when a channel or owner does not exist.
    async fn enqueue_deliveries(
        &self,
        deliveries: Vec<NewDelivery>,
        now: Timestamp,
    ) -> Result<Vec<Delivery>>;
    /// One delivery.
    ///
    /// # Errors
    /// [`StoreError::NotFound`] when there is none with this id.
    async fn get_delivery(&self, id: DeliveryId) -> Result<Delivery>;
    /// How many of a user's deliveries wait to be sent.
    ///
    /// # Errors
    /// Backend failures.
    async fn count_pending_deliveries(&self, owner: UserId) -> Result<u64>;
    /// A user's notification preferences (a versioned document; empty when never set) and
    /// the exchange day of their last digest.
    ///
    /// # Errors
    /// Backend failures.
    async fn get_notification_prefs(
        &self,
        owner: UserId,
    ) -> Result<(JsonDocument, Option<NaiveDate>)>;
    /// Stores a user's notification preferences.
    ///
    /// # Errors
    /// [`StoreError::MissingReference`] when the user does not exist.
    async fn set_notification_prefs(&self, owner: UserId, prefs: JsonDocument) -> Result<()>;
    /// Records the day of a user's last digest.
    ///
    /// # Errors
    /// [`StoreError::MissingReference`] when the user does not exist.
    async fn set_last_digest(&self, owner: UserId, day: NaiveDate) -> Result<()>;
}

/// Monitor workers dividing the rules among themselves: leases on the shards of the symbol
/// space ([`SHARDS`](crate::domain::SHARDS) of them), renewed by heartbeats, taken over when
/// they expire.
#[async_trait]
pub trait WorkerStore: Send + Sync {
    /// One worker's turn at the start of a cycle, in one transaction: records its heartbeat;
    /// renews its leases to `now + lease`; counts the live workers (a heartbeat within
    /// `lease`); releases the shards it holds beyond its fair share (`SHARDS / live`, rounded
    /// up) so a worker that joined can take them; claims free or expired shards up to its
    /// share (on PostgreSQL with `FOR UPDATE SKIP LOCKED`, so claims never wait). Returns the
    /// shards it holds, ascending.
    ///
    /// # Errors
    /// Backend failures.
    async fn rebalance_shards(
        &self,
        worker: &WorkerIdentity,
        now: Timestamp,
        lease: chrono::Duration,
    ) -> Result<Vec<u32>>;
    /// Between cycles: records the worker's heartbeat and renews its leases to `now + lease`.
    /// Returns the shards it still holds.
    ///
    /// # Errors
    /// Backend failures.
    async fn renew_leases(
        &self,
        worker: &WorkerIdentity,
        now: Timestamp,
        lease: chrono::Duration,
    ) -> Result<Vec<u32>>;
    /// Records what the worker's last cycle did, for `invest monitor status`.
    ///
    /// # Errors
    /// Backend failures.
    async fn record_worker_cycle(&self, worker: &str, cycle: &WorkerCycle) -> Result<()>;
    /// A worker stopping: its shards are freed at once (the others take them at their next
    /// cycle instead of waiting for the leases to expire) and its row removed.
    ///
    /// # Errors
    /// Backend failures.
    async fn leave(&self, worker: &str) -> Result<()>;
    /// The workers whose heartbeat is at or after `since`, with the shards they hold, by id.
    ///
    /// # Errors
    /// Backend failures.
    async fn list_workers(&self, since: Timestamp) -> Result<Vec<WorkerStatus>>;
}

/// What acting on alerts from messages and the Telegram bot keep: used action tokens, linked
/// chats, link codes, and each bot's update cursor with the lease of its reader.
#[async_trait]
pub trait ActionStore: Send + Sync {
    /// Records that an action token was used; `false` when it had been used already (nothing
    /// is written). Forgets the uses of tokens that expired before `now`.
    ///
    /// # Errors
    /// [`StoreError::MissingReference`] when the user does not exist.
    async fn use_action_token(
        &self,
        token_id: &str,
        user: UserId,
        now: Timestamp,
        expires_at: Timestamp,
    ) -> Result<bool>;
    /// Stores a one-time code linking a Telegram chat to `user` (by its SHA-256), replacing
    /// the user's earlier codes.
    ///
    /// # Errors
    /// [`StoreError::MissingReference`] when the user does not exist.
    async fn create_link_code(
        &self,
        code_hash: &str,
        user: UserId,
        expires_at: Timestamp,
    ) -> Result<()>;
    /// Takes a link code (it works once): its user, when it exists and has not expired.
    ///
    /// # Errors
    /// Backend failures.
    async fn take_link_code(&self, code_hash: &str, now: Timestamp) -> Result<Option<UserId>>;
    /// Links a chat to a user, replacing an earlier link of that chat.
    ///
    /// # Errors
    /// [`StoreError::MissingReference`] when the user does not exist.
    async fn link_chat(&self, chat: i64, user: UserId, at: Timestamp) -> Result<()>;
    /// Unlinks a chat (only from `user` when given); `false` when there was no such link.
    ///
    /// # Errors
    /// Backend failures.
    async fn unlink_chat(&self, chat: i64, user: Option<UserId>) -> Result<bool>;
    /// The user a chat is linked to.
    ///
    /// # Errors
    /// Backend failures.
    async fn chat_user(&self, chat: i64) -> Result<Option<UserId>>;
    /// The chats linked to a user, by chat id.
    ///
    /// # Errors
    /// Backend failures.
    async fn user_chats(&self, user: UserId) -> Result<Vec<i64>>;
    /// Takes or renews the lease of `bot`'s update reader for `holder` until `now + lease`;
    /// the next update to read when `holder` holds it, `None` while another holds it.
    ///
    /// # Errors
    /// Backend failures.
    async fn claim_bot_cursor(
        &self,
        bot: &str,
        holder: &str,
        now: Timestamp,
        lease: chrono::Duration,
    ) -> Result<Option<i64>>;
    /// Moves `bot`'s cursor past the updates handled; `false` (nothing written) when `holder`
    /// no longer holds the lease.
    ///
    /// # Errors
    /// Backend failures.
    async fn advance_bot_cursor(&self, bot: &str, holder: &str, next_update: i64) -> Result<bool>;
    /// Records that the update `update_id` came for `bot` by webhook: `false` when it, or a
    /// later one, came already (Telegram sends a webhook's updates in order when it keeps one
    /// connection; a resent one is then not handled twice).
    ///
    /// # Errors
    /// Backend failures.
    async fn record_bot_update(&self, bot: &str, update_id: i64) -> Result<bool>;
    /// Gives up the lease (another process may take it at once).
    ///
    /// # Errors
    /// Backend failures.
    async fn release_bot_cursor(&self, bot: &str, holder: &str) -> Result<()>;
}

/// Corporate calendars and the splits applied.
#[async_trait]
pub trait EventStore: Send + Sync {
    /// Replaces the calendar of `symbol` with `events`, asked for on `refreshed_on`.
    ///
    /// # Errors
    /// Backend failures.
    async fn save_events(
        &self,
        symbol: &Symbol,
        events: &[CorporateEvent],
        refreshed_on: NaiveDate,
    ) -> Result<()>;
    /// The stored calendars of these symbols (symbols never refreshed are left out).
    ///
    /// # Errors
    /// Backend failures; [`StoreError::Corrupt`] for an unreadable calendar.
    async fn load_events(&self, symbols: &[Symbol]) -> Result<Vec<SymbolEvents>>;
    /// The splits applied to these symbols: symbol, ex-date and ratio.
    ///
    /// # Errors
    /// Backend failures; [`StoreError::Corrupt`] for an unreadable ratio.
    async fn applied_splits(
        &self,
        symbols: &[Symbol],
    ) -> Result<Vec<(Symbol, NaiveDate, crate::domain::SplitRatio)>>;
}

/// All storage, as one object: what services hold as `Arc<dyn Store>`.
pub trait Store:
    UserStore
    + ApiKeyStore
    + RuleStore
    + RuleStateStore
    + AlertStore
    + ChannelStore
    + HoldingStore
    + BrokerStore
    + MonitorStore
    + OutboxStore
    + WorkerStore
    + ActionStore
    + EventStore
{
}

impl<T> Store for T where
    T: UserStore
        + ApiKeyStore
        + RuleStore
        + RuleStateStore
        + AlertStore
        + ChannelStore
        + HoldingStore
        + BrokerStore
        + MonitorStore
        + OutboxStore
        + WorkerStore
        + ActionStore
        + EventStore
{
}
