//! Notifications: the [`Notifier`] trait and its channels (Telegram, signed webhooks, ntfy,
//! Discord, Slack, Gotify, Pushover, Matrix, e-mail, the console), the channel URLs that name them, the
//! owners' preferences, the dispatcher that empties the outbox, and digests.
//!
//! Each channel's notifier only formats, sends and says whether a failure is worth a retry
//! (and after how long the service asked to wait); the outbox and the [`Dispatcher`] own
//! retries, backoff, idempotency and metrics for all of them.
//!
//! Delivery is at-least-once: the monitor writes each alert and its deliveries in one
//! transaction; the [`Dispatcher`] claims due deliveries, sends them without holding a
//! transaction, and records the outcome. A dispatcher that dies between sending and recording
//! leaves a claim that expires, and the message is sent again — never lost. Webhook receivers
//! deduplicate with the `Idempotency-Key` header (the delivery id).

pub mod channel_url;
pub mod channels;
mod console;
mod digest;
mod discord;
mod dispatcher;
mod email;
mod gotify;
mod http;
mod matrix;
mod ntfy;
mod prefs;
mod pushover;
mod slack;
mod telegram;
mod webhook;

use std::time::Duration;

use async_trait::async_trait;
use serde::Serialize;
use thiserror::Error;

use crate::domain::{Alert, ChannelKind, DeliveryEvent, DeliveryId, NotificationChannel};

pub use console::ConsoleNotifier;
pub use digest::{DigestReport, send_due_digests};
pub use discord::DiscordNotifier;
pub use dispatcher::{DispatchReport, Dispatcher, DispatcherConfig};
pub use email::{EmailNotifier, SmtpSecurity, SmtpServer};
pub use gotify::GotifyNotifier;
pub use matrix::MatrixNotifier;
pub use ntfy::NtfyNotifier;
pub use prefs::{
    EventMode, NotificationPrefs, PatchError, Plan, PrefsError, PrefsPatch, QuietBehavior,
    QuietHours,
};
pub use pushover::PushoverNotifier;
pub use slack::SlackNotifier;
pub use telegram::TelegramNotifier;
pub(crate) use telegram::truncate as telegram_truncate;
pub use webhook::{SIGNATURE_HEADER, TIMESTAMP_HEADER, WebhookNotifier, sign, verify};

/// A message ready to send through one channel.
#[derive(Debug, Clone, Serialize)]
pub struct OutgoingMessage {
    /// The delivery (the idempotency key).
    pub delivery_id: DeliveryId,
    /// What it carries.
    pub event: DeliveryEvent,
    /// The text, the same for every channel.
    pub text: String,
    /// The alert, for alert messages (webhooks send it as data).
    pub alert: Option<Alert>,
    /// Deliver without a sound (quiet hours, or the owner's choice).
    pub silent: bool,
    /// What the reader can do from the message (alert messages): buttons or links, each with
    /// its signed token.
    pub actions: Vec<crate::service::MessageAction>,
    /// The rule's priority, when it sets one (alert messages).
    pub priority: Option<crate::engine::Priority>,
}

/// Why a message was not delivered.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum NotifyError {
    /// It will not work later either (chat not found, bot blocked, a webhook's 4xx): the
    /// delivery is given up and the channel shows the reason.
    #[error("{0}")]
    Permanent(String),
    /// It may work later (timeout, 5xx, rate limit): the delivery is retried.
    #[error("{message}")]
    Retry {
        /// What went wrong (free of secrets).
        message: String,
        /// How long the receiver asked us to wait.
        after: Option<Duration>,
    },
}

/// A request that got no answer, as a retryable error naming `whom` (never the URL, which may
/// hold a token).
pub(crate) fn unanswered(error: reqwest::Error, whom: &str) -> NotifyError {
    let error = error.without_url();
    NotifyError::Retry {
        message: if error.is_timeout() {
            format!("{whom} timed out")
        } else if error.is_connect() {
            format!("cannot connect to {whom}")
        } else {
            format!("{whom}: {error}")
        },
        after: None,
    }
}

/// Sends messages through one kind of channel.
#[async_trait]
pub trait Notifier: Send + Sync + std::fmt::Debug {
    /// The kind of channel it serves.
    fn kind(&self) -> ChannelKind;

    /// Sends `message` through `channel` (whose kind is [`kind`](Self::kind)).
    ///
    /// # Errors
    /// [`NotifyError`] saying whether a retry can help; never containing a secret.
    async fn send(
        &self,
        channel: &NotificationChannel,
        message: &OutgoingMessage,
    ) -> Result<(), NotifyError>;
}
