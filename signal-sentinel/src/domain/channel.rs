use serde::Serialize;

use super::{ChannelId, UserId};
use crate::Secret;
use crate::time::Timestamp;

stored_enum! {
    /// Where a channel delivers.
    pub enum ChannelKind("channel kind") {
        /// A Telegram chat, through the bot.
        Telegram => "telegram",
        /// An HTTP endpoint receiving signed JSON.
        Webhook => "webhook",
        /// The server's standard output (demos).
        Console => "console",
        /// An ntfy topic (ntfy.sh or a self-hosted server).
        Ntfy => "ntfy",
        /// A Discord incoming webhook.
        Discord => "discord",
        /// A Slack incoming webhook.
        Slack => "slack",
        /// A Gotify server's application.
        Gotify => "gotify",
        /// Pushover (a user key and an application token).
        Pushover => "pushover",
        /// A Matrix room, through a homeserver and an access token.
        Matrix => "matrix",
        /// An e-mail address, through SMTP.
        Email => "email",
    }
}

/// A user's notification channel.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct NotificationChannel {
    /// Identifier.
    pub id: ChannelId,
    /// Owner.
    pub owner: UserId,
    /// The owner's name for it; unique per owner.
    pub name: String,
    /// Where it delivers.
    pub kind: ChannelKind,
    /// Settings that are not secret (chat id, URL, …).
    pub config: serde_json::Value,
    /// Secret part (a webhook's signing secret, a service's token), sealed at rest (see
    /// [`crate::notify::channels`]). Never serialized or printed.
    #[serde(skip)]
    pub secret: Option<Secret>,
    /// Whether deliveries go out through it.
    pub enabled: bool,
    /// When it was created.
    pub created_at: Timestamp,
    /// When it last changed.
    pub updated_at: Timestamp,
    /// Last successful delivery.
    pub last_ok_at: Option<Timestamp>,
    /// Last failure, already scrubbed of secrets.
    pub last_error: Option<String>,
}

impl NotificationChannel {
    /// Whether resolved notices go out through it (its config's `"resolved"`; on unless set to
    /// `false`).
    pub fn sends_resolved(&self) -> bool {
        self.config.get("resolved") != Some(&serde_json::Value::Bool(false))
    }
}

/// What it takes to create a [`NotificationChannel`].
#[derive(Debug, Clone)]
pub struct NewChannel {
    /// Owner.
    pub owner: UserId,
    /// The owner's name for it.
    pub name: String,
    /// Telegram, webhook or console.
    pub kind: ChannelKind,
    /// Settings that are not secret.
    pub config: serde_json::Value,
    /// Secret part.
    pub secret: Option<Secret>,
}

/// The result of a delivery attempt, recorded on the channel.
#[derive(Debug, Clone)]
pub enum ChannelOutcome {
    /// Delivered at this instant.
    Delivered(Timestamp),
    /// Failed with this (scrubbed) message.
    Failed(String),
}
