use std::collections::HashMap;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use serde::Serialize;
use tokio::sync::Semaphore;

use super::{Notifier, NotifyError, OutgoingMessage, Plan};
use crate::clock::Clock;
use crate::domain::{ChannelKind, ChannelOutcome, Delivery, DeliveryOutcome};
use crate::notify::NotificationPrefs;
use crate::store::{Store, StoreError};
use crate::time::Timestamp;

/// How a dispatcher works.
#[derive(Debug, Clone)]
pub struct DispatcherConfig {
    /// Names this dispatcher's claims. By default, the process id and a random suffix.
    pub worker: String,
    /// Deliveries claimed at a time. By default, 100.
    pub batch: u64,
    /// How long a claim lasts; a dispatcher that dies is replaced after it, and a message it
    /// was sending when it died is sent again then. The dispatcher renews its claims every
    /// third of it while it sends, so a slow send never outlives its claim. By default, 20
    /// seconds.
    pub lease: chrono::Duration,
    /// Deliveries older than this are given up. By default, 24 hours.
    pub max_age: chrono::Duration,
    /// The first retry's delay; each next one doubles, with ±20% jitter. By default, 30 s.
    pub base_backoff: Duration,
    /// The longest delay between retries. By default, 1 hour.
    pub max_backoff: Duration,
    /// Messages in flight at once. By default, 8.
    pub concurrency: usize,
}

impl Default for DispatcherConfig {
    fn default() -> Self {
        Self {
            worker: format!("{}-{:04x}", std::process::id(), rand::random::<u16>()),
            batch: 100,
            lease: chrono::Duration::seconds(20),
            max_age: chrono::Duration::hours(24),
            base_backoff: Duration::from_secs(30),
            max_backoff: Duration::from_secs(3600),
            concurrency: 8,
        }
    }
}

/// What one round did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct DispatchReport {
    /// Deliveries claimed.
    pub claimed: usize,
    /// Sent.
    pub sent: usize,
    /// Failed, to be retried.
    pub retried: usize,
    /// Given up.
    pub given_up: usize,
    /// Turned off by their owner.
    pub skipped: usize,
    /// Held for quiet hours.
    pub held: usize,
}

/// Empties the outbox: claims due deliveries, sends each through its channel's notifier
/// (never inside a transaction), and records the outcome on the delivery and the channel.
#[derive(Clone)]
pub struct Dispatcher {
    store: Arc<dyn Store>,
    notifiers: Arc<HashMap<ChannelKind, Arc<dyn Notifier>>>,
    clock: Arc<dyn Clock>,
    config: DispatcherConfig,
    /// Opens the channels' sealed secrets.
    vault: Option<Arc<crate::auth::vault::Vault>>,
    /// Signs the actions alert messages carry.
    actions: Option<crate::service::ActionSigner>,
}

impl std::fmt::Debug for Dispatcher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Dispatcher")
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

/// What a batch's deliveries share: their channels (`None`: deleted meanwhile) and their
/// owners' preferences.
#[derive(Default)]
struct BatchContext {
    channels: HashMap<crate::domain::ChannelId, Option<crate::domain::NotificationChannel>>,
    prefs: HashMap<crate::domain::UserId, NotificationPrefs>,
    /// The alerts' rules as first read in this batch (`None`: deleted): a backlog of one
    /// rule's alerts reads it once.
    rules: std::sync::Mutex<HashMap<crate::domain::RuleId, Option<crate::domain::Rule>>>,
    /// What became of each delivery, recorded together when the batch is done.
    outcomes: std::sync::Mutex<Vec<(crate::domain::DeliveryId, DeliveryOutcome)>>,
    /// Each channel's last outcome in the batch, recorded when it is done.
    channel_outcomes: std::sync::Mutex<HashMap<crate::domain::ChannelId, ChannelOutcome>>,
}

enum Step {
    Sent,
    Retried,
    GivenUp,
    Skipped,
    Held,
}

impl Dispatcher {
    /// A dispatcher over `store`'s outbox with these notifiers (one per channel kind).
    pub fn new(
        store: Arc<dyn Store>,
        notifiers: Vec<Arc<dyn Notifier>>,
        clock: Arc<dyn Clock>,
        config: DispatcherConfig,
    ) -> Self {
        let notifiers = notifiers.into_iter().map(|n| (n.kind(), n)).collect();
        Self {
            store,
            notifiers: Arc::new(notifiers),
            clock,
            config,
            vault: None,
            actions: None,
        }
    }

    /// Opens channel secrets sealed with `vault` (as [`Services`](crate::service::Services)
    /// seals them) before sending. Without it, secrets are sent as stored.
    #[must_use]
    pub fn with_vault(mut self, vault: Arc<crate::auth::vault::Vault>) -> Self {
        self.vault = Some(vault);
        self
    }

    /// Gives alert messages actions (acknowledge, snooze …) signed by `signer`. Without it,
    /// messages carry none.
    #[must_use]
    pub fn with_actions(mut self, signer: crate::service::ActionSigner) -> Self {
        self.actions = Some(signer);
        self
    }

    /// [`run`](Self::run) on a task of its own until `cancel` is cancelled.
    pub fn spawn(
        &self,
        interval: Duration,
        cancel: tokio_util::sync::CancellationToken,
    ) -> tokio::task::JoinHandle<()> {
        let dispatcher = self.clone();
        tokio::spawn(async move { dispatcher.run(interval, cancel.cancelled_owned()).await })
    }

    /// Runs rounds every `interval`, at once after a full batch, and as soon as a commit
    /// stores alerts (see [`AlertStore::alert_feed`](crate::store::AlertStore::alert_feed)),
    /// until `shutdown`; a round in progress finishes first.
    pub async fn run(&self, interval: Duration, shutdown: impl Future<Output = ()>) {
        tokio::pin!(shutdown);
        // Woken by the commit that stores alerts (their deliveries are in the same
        // transaction): in this process directly, across processes where the store signals
        // them (PostgreSQL). The interval stays for retries, digests and other processes'
        // alerts on SQLite.
        let mut feed = self.store.alert_feed().map(|f| f.signals);
        loop {
            let full = match self.run_once().await {
                Ok(report) => {
                    if report.claimed > 0 {
                        tracing::info!(?report, "dispatched");
                        for (result, n) in [
                            ("sent", report.sent),
                            ("retried", report.retried),
                            ("given_up", report.given_up),
                            ("skipped", report.skipped),
                            ("held", report.held),
                        ] {
                            metrics::counter!("signal_sentinel_deliveries_total", "result" => result)
                                .increment(n as u64);
                        }
                    }
                    report.claimed as u64 == self.config.batch
                }
                Err(e) => {
                    tracing::error!("dispatch failed: {e}");
                    false
                }
            };
            if full {
                continue;
            }
            tokio::select! {
                biased;
                () = &mut shutdown => break,
                woken = next_signal(feed.as_mut()) => {
                    if !woken {
                        // The feed is gone: the interval alone from now on.
                        feed = None;
                    }
                }
                () = tokio::time::sleep(interval) => {}
            }
        }
    }

    /// Claims one batch of due deliveries and sends them.
    ///
    /// # Errors
    /// [`StoreError`] when the outbox cannot be read or written.
    pub async fn run_once(&self) -> Result<DispatchReport, StoreError> {
        let now = self.clock.now();
        let claimed = self
            .store
            .claim_deliveries(
                &self.config.worker,
                now,
                self.config.lease,
                self.config.batch,
            )
            .await?;
        let mut report = DispatchReport {
            claimed: claimed.len(),
            ..DispatchReport::default()
        };
        // Channels and preferences once per batch, not once per delivery.
        let mut context = BatchContext::default();
        for delivery in &claimed {
            if let std::collections::hash_map::Entry::Vacant(slot) =
                context.channels.entry(delivery.channel_id)
            {
                match self.store.get_channel(delivery.channel_id).await {
                    Ok(channel) => {
                        slot.insert(Some(channel));
                    }
                    Err(StoreError::NotFound { .. }) => {
                        slot.insert(None);
                    }
                    Err(e) => return Err(e),
                }
            }
            if let std::collections::hash_map::Entry::Vacant(slot) =
                context.prefs.entry(delivery.user_id)
            {
                let (doc, _) = self.store.get_notification_prefs(delivery.user_id).await?;
                slot.insert(NotificationPrefs::from_document(&doc).unwrap_or_else(|e| {
                    tracing::warn!(user = %delivery.user_id, "notification preferences unreadable, using defaults: {e}");
                    NotificationPrefs::default()
                }));
            }
        }
        let context = Arc::new(context);
        let permits = Arc::new(Semaphore::new(self.config.concurrency.max(1)));
        let mut tasks = tokio::task::JoinSet::new();
        for delivery in claimed {
            let this = self.clone();
            let permits = Arc::clone(&permits);
            let context = Arc::clone(&context);
            tasks.spawn(async move {
                let _permit = permits.acquire_owned().await;
                this.deliver(delivery, &context).await
            });
        }
        let work = async {
            let mut failure = None;
            while let Some(done) = tasks.join_next().await {
                match done {
                    Ok(Ok(Step::Sent)) => report.sent += 1,
                    Ok(Ok(Step::Retried)) => report.retried += 1,
                    Ok(Ok(Step::GivenUp)) => report.given_up += 1,
                    Ok(Ok(Step::Skipped)) => report.skipped += 1,
                    Ok(Ok(Step::Held)) => report.held += 1,
                    Ok(Err(e)) => failure = Some(e),
                    Err(e) => failure = Some(StoreError::Backend(e.to_string())),
                }
            }
            failure
        };
        let failure = tokio::select! {
            failure = work => failure,
            never = self.renew_claims() => match never {},
        };
        // One transaction for the batch's outcomes, whatever else failed.
        let outcomes = std::mem::take(
            &mut *context
                .outcomes
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner),
        );
        self.store.record_deliveries(outcomes).await?;
        let channels = std::mem::take(
            &mut *context
                .channel_outcomes
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner),
        );
        for (channel, outcome) in channels {
            match self.store.record_channel_outcome(channel, outcome).await {
                Ok(()) | Err(StoreError::NotFound { .. }) => {}
                Err(e) => return Err(e),
            }
        }
        match failure {
            Some(e) => Err(e),
            None => Ok(report),
        }
    }

    /// Keeps this dispatcher's claims alive while its batch is being sent: every third of the
    /// lease, they are extended by a lease. Never returns; dropped when the batch is done.
    async fn renew_claims(&self) -> std::convert::Infallible {
        let every = (self.config.lease / 3)
            .to_std()
            .unwrap_or(Duration::from_secs(1))
            .max(Duration::from_millis(10));
        loop {
            tokio::time::sleep(every).await;
            let until = self.clock.now() + self.config.lease;
            if let Err(e) = self
                .store
                .renew_delivery_claims(&self.config.worker, until)
                .await
            {
                tracing::warn!("cannot renew the outbox claims: {e}");
            }
        }
    }

    async fn deliver(
        &self,
        delivery: Delivery,
        context: &BatchContext,
    ) -> Result<Step, StoreError> {
        let now = self.clock.now();
        let Some(Some(channel)) = context.channels.get(&delivery.channel_id) else {
            return record(context, &delivery, DeliveryOutcome::Skipped, Step::Skipped);
        };
        let unwanted =
            delivery.event == crate::domain::DeliveryEvent::Resolved && !channel.sends_resolved();
        if !channel.enabled || unwanted {
            return record(context, &delivery, DeliveryOutcome::Skipped, Step::Skipped);
        }
        if now - delivery.created_at > self.config.max_age {
            let outcome = DeliveryOutcome::GivenUp {
                error: format!(
                    "not delivered within {} hours{}",
                    self.config.max_age.num_hours(),
                    delivery
                        .last_error
                        .as_deref()
                        .map(|e| format!(" (last error: {e})"))
                        .unwrap_or_default()
                ),
            };
            return record(context, &delivery, outcome, Step::GivenUp);
        }
        let defaults = NotificationPrefs::default();
        let prefs = context.prefs.get(&delivery.user_id).unwrap_or(&defaults);
        let silent = match prefs.plan(delivery.event, now) {
            Plan::Skip => {
                return record(context, &delivery, DeliveryOutcome::Skipped, Step::Skipped);
            }
            Plan::Hold(until) => {
                return record(
                    context,
                    &delivery,
                    DeliveryOutcome::Held { until },
                    Step::Held,
                );
            }
            Plan::Send { silent } => silent,
        };
        let alert = match delivery.alert_id {
            Some(id) => match self.store.get_alert(id).await {
                Ok(alert) => Some(alert),
                // The alert was cleaned away meanwhile: nothing left to say.
                Err(StoreError::NotFound { .. }) => {
                    return record(context, &delivery, DeliveryOutcome::Skipped, Step::Skipped);
                }
                Err(e) => return Err(e),
            },
            None => None,
        };
        let text = match (&alert, &delivery.body) {
            (Some(alert), _) => alert_text(alert, prefs.summaries),
            (None, Some(body)) => body.clone(),
            (None, None) => String::new(),
        };
        let rule = match alert.as_ref().and_then(|a| a.rule_id) {
            Some(id) => {
                let known = context
                    .rules
                    .lock()
                    .unwrap_or_else(std::sync::PoisonError::into_inner)
                    .get(&id)
                    .cloned();
                match known {
                    Some(rule) => rule,
                    None => {
                        let rule = match self.store.get_rule(id).await {
                            Ok(rule) => Some(rule),
                            Err(StoreError::NotFound { .. }) => None,
                            Err(e) => return Err(e),
                        };
                        context
                            .rules
                            .lock()
                            .unwrap_or_else(std::sync::PoisonError::into_inner)
                            .insert(id, rule.clone());
                        rule
                    }
                }
            }
            None => None,
        };
        let actions = match (&self.actions, &alert) {
            (Some(signer), Some(alert)) => signer.actions(alert, rule.as_ref(), self.clock.now()),
            _ => Vec::new(),
        };
        let priority = rule
            .as_ref()
            .and_then(|r| crate::engine::RuleOptions::from_document(&r.options).ok())
            .and_then(|o| o.priority);
        let message = OutgoingMessage {
            delivery_id: delivery.id,
            event: delivery.event,
            text,
            alert,
            silent,
            actions,
            priority,
        };
        let channel = match super::channels::opened(self.vault.as_deref(), channel.clone()) {
            Ok(channel) => channel,
            Err(e) => {
                // Another SECRET_KEY without SECRET_KEY_PREVIOUS: retried, so that setting it
                // delivers what waits.
                let error = format!("the channel's secret does not open: {e}");
                note_channel(context, channel.id, ChannelOutcome::Failed(error.clone()));
                let outcome = self.retry_or_give_up(&delivery, now, error, None);
                return record(context, &delivery, outcome.0, outcome.1);
            }
        };
        let channel = &channel;
        let Some(notifier) = self.notifiers.get(&channel.kind) else {
            let error = format!(
                "{} channels are not configured on this server",
                channel.kind
            );
            let outcome = self.retry_or_give_up(&delivery, now, error, None);
            return record(context, &delivery, outcome.0, outcome.1);
        };
        match notifier.send(channel, &message).await {
            Ok(()) => {
                note_channel(
                    context,
                    channel.id,
                    ChannelOutcome::Delivered(self.clock.now()),
                );
                record(
                    context,
                    &delivery,
                    DeliveryOutcome::Sent {
                        at: self.clock.now(),
                    },
                    Step::Sent,
                )
            }
            Err(NotifyError::Permanent(error)) => {
                note_channel(context, channel.id, ChannelOutcome::Failed(error.clone()));
                record(
                    context,
                    &delivery,
                    DeliveryOutcome::GivenUp { error },
                    Step::GivenUp,
                )
            }
            Err(NotifyError::Retry { message, after }) => {
                note_channel(context, channel.id, ChannelOutcome::Failed(message.clone()));
                let (outcome, step) = self.retry_or_give_up(&delivery, now, message, after);
                record(context, &delivery, outcome, step)
            }
        }
    }

    fn retry_or_give_up(
        &self,
        delivery: &Delivery,
        now: Timestamp,
        error: String,
        after: Option<Duration>,
    ) -> (DeliveryOutcome, Step) {
        let exponent = u32::try_from(delivery.attempts.max(0))
            .unwrap_or(u32::MAX)
            .min(20);
        let backoff = self
            .config
            .base_backoff
            .saturating_mul(2u32.saturating_pow(exponent))
            .min(self.config.max_backoff)
            .mul_f64(0.8 + 0.4 * rand::random::<f64>());
        // The receiver's own wait (429 Retry-After), else our backoff.
        let wait = after.unwrap_or(backoff);
        let next = now + chrono::Duration::from_std(wait).unwrap_or(chrono::Duration::hours(1));
        if next - delivery.created_at > self.config.max_age {
            (DeliveryOutcome::GivenUp { error }, Step::GivenUp)
        } else {
            (
                DeliveryOutcome::Retry {
                    next_attempt_at: next,
                    error,
                },
                Step::Retried,
            )
        }
    }
}

/// Notes a channel's latest outcome, for the batch's write.
fn note_channel(
    context: &BatchContext,
    channel: crate::domain::ChannelId,
    outcome: ChannelOutcome,
) {
    context
        .channel_outcomes
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
        .insert(channel, outcome);
}

/// Notes what became of a delivery, for the batch's one write.
#[allow(clippy::unnecessary_wraps)]
fn record(
    context: &BatchContext,
    delivery: &Delivery,
    outcome: DeliveryOutcome,
    step: Step,
) -> Result<Step, StoreError> {
    context
        .outcomes
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
        .push((delivery.id, outcome));
    Ok(step)
}

/// The text of an alert message: its rendered message, and the summary when there is one and
/// the user wants summaries.
fn alert_text(alert: &crate::domain::Alert, with_summary: bool) -> String {
    match &alert.summary {
        Some(summary) if with_summary => format!("{}\n\n{summary}", alert.message),
        _ => alert.message.clone(),
    }
}

/// Waits for the next signal of committed alerts: `true` when one came (or some were missed,
/// which also means "look"), `false` when the feed is closed; never returns without a feed.
async fn next_signal(
    feed: Option<&mut tokio::sync::broadcast::Receiver<crate::store::AlertSignal>>,
) -> bool {
    let Some(feed) = feed else {
        return std::future::pending().await;
    };
    match feed.recv().await {
        Ok(_) | Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => true,
        Err(tokio::sync::broadcast::error::RecvError::Closed) => false,
    }
}
