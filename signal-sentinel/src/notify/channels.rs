//! Adding, testing and reviewing a user's channels: what `invest notifications …` and the
//! API call.

use std::sync::Arc;
use std::time::Duration;

use serde::Serialize;
use thiserror::Error;

use super::{ConsoleNotifier, Notifier, OutgoingMessage, TelegramNotifier, WebhookNotifier};
use crate::Secret;
use crate::config::Settings;
use crate::domain::{
    ChannelKind, DeliveryEvent, DeliveryId, NewChannel, NotificationChannel, UserId,
};
use crate::store::{Store, StoreError};
use crate::time::Timestamp;

/// The longest channel name, in characters.
pub const MAX_NAME_LEN: usize = 64;
/// The longest Telegram chat id (`-100…` or `@name`), in characters.
pub const MAX_CHAT_ID_LEN: usize = 64;
/// The longest webhook URL, in characters.
pub const MAX_URL_LEN: usize = 2048;
/// The longest webhook signing secret, in characters.
pub const MAX_SECRET_LEN: usize = 256;

/// `field` of at most `max` characters.
fn at_most(field: &'static str, value: &str, max: usize) -> Result<(), ChannelError> {
    if value.chars().count() > max {
        return Err(ChannelError::Invalid {
            field,
            message: format!("must be at most {max} characters"),
        });
    }
    Ok(())
}

/// A channel that cannot be added.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum ChannelError {
    /// A value the user gave is not usable.
    #[error("{field}: {message}")]
    Invalid {
        /// The input at fault (`chat_id`, `url`, `secret`, `name`).
        field: &'static str,
        /// What is wrong with it.
        message: String,
    },
    /// Storage.
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// The notifiers this server can use: webhooks and the console always, Telegram when
/// `TELEGRAM_BOT_TOKEN` is set.
///
/// # Errors
/// [`BuildError::HttpClient`](crate::BuildError::HttpClient).
pub fn notifiers_from_settings(
    settings: &Settings,
) -> Result<Vec<Arc<dyn Notifier>>, crate::BuildError> {
    let timeout = Duration::from_secs(10);
    let mut notifiers: Vec<Arc<dyn Notifier>> = vec![
        Arc::new(WebhookNotifier::new(timeout)?),
        Arc::new(ConsoleNotifier::default()),
    ];
    if let Some(token) = &settings.telegram.bot_token {
        notifiers.push(Arc::new(TelegramNotifier::new(
            settings.telegram.base_url.clone(),
            token.clone(),
            timeout,
        )?));
    }
    Ok(notifiers)
}

fn name_or(name: Option<String>, default: String) -> Result<String, ChannelError> {
    let name = name.map(|n| n.trim().to_owned()).unwrap_or(default);
    if name.is_empty() || name.chars().count() > MAX_NAME_LEN {
        return Err(ChannelError::Invalid {
            field: "name",
            message: format!("must be 1 to {MAX_NAME_LEN} characters"),
        });
    }
    crate::domain::check_text(&name, false).map_err(|e| ChannelError::Invalid {
        field: "name",
        message: e.to_string(),
    })?;
    Ok(name)
}

/// Adds a Telegram chat: a numeric chat id (`123456789`, `-100…` for groups) or a public
/// channel's `@name`.
///
/// # Errors
/// [`ChannelError::Invalid`] for another chat id; [`StoreError::Conflict`] for a taken name.
pub async fn add_telegram(
    store: &dyn Store,
    owner: UserId,
    chat: &str,
    name: Option<String>,
) -> Result<NotificationChannel, ChannelError> {
    let chat = chat.trim();
    at_most("chat_id", chat, MAX_CHAT_ID_LEN)?;
    let chat_id = if let Ok(id) = chat.parse::<i64>() {
        serde_json::json!(id)
    } else if chat.starts_with('@')
        && chat.len() > 1
        && chat[1..]
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_')
    {
        serde_json::json!(chat)
    } else {
        return Err(ChannelError::Invalid {
            field: "chat_id",
            message: format!(
                "expected a number like 123456789 or a channel like @my_channel, got {chat:?}"
            ),
        });
    };
    let name = name_or(name, format!("telegram {chat}"))?;
    Ok(store
        .create_channel(NewChannel {
            owner,
            name,
            kind: ChannelKind::Telegram,
            config: serde_json::json!({"chat_id": chat_id}),
            secret: None,
        })
        .await?)
}

/// Adds a webhook; without a `secret`, one of 32 random bytes is made. Returns the channel and
/// its secret (to show once).
///
/// # Errors
/// [`ChannelError::Invalid`] for a URL that is not http(s) or a secret shorter than 16 bytes;
/// [`StoreError::Conflict`] for a taken name.
pub async fn add_webhook(
    store: &dyn Store,
    owner: UserId,
    url: &str,
    name: Option<String>,
    secret: Option<Secret>,
) -> Result<(NotificationChannel, Secret), ChannelError> {
    at_most("url", url.trim(), MAX_URL_LEN)?;
    if let Some(secret) = &secret {
        at_most("secret", secret.expose(), MAX_SECRET_LEN)?;
    }
    let parsed = url::Url::parse(url.trim())
        .ok()
        .filter(|u| matches!(u.scheme(), "http" | "https") && u.host_str().is_some())
        .ok_or_else(|| ChannelError::Invalid {
            field: "url",
            message: "expected an http:// or https:// URL".into(),
        })?;
    let secret = match secret {
        Some(s) if s.len() < 16 => {
            return Err(ChannelError::Invalid {
                field: "secret",
                message: "must be at least 16 bytes".into(),
            });
        }
        Some(s) => s,
        None => Secret::new(hex::encode(rand::random::<[u8; 32]>())),
    };
    let name = name_or(name, format!("webhook {}", parsed.host_str().unwrap_or("")))?;
    let channel = store
        .create_channel(NewChannel {
            owner,
            name,
            kind: ChannelKind::Webhook,
            config: serde_json::json!({"url": parsed.as_str()}),
            secret: Some(secret.clone()),
        })
        .await?;
    Ok((channel, secret))
}

/// The result of a test message on one channel.
#[derive(Debug, Clone, Serialize)]
pub struct ChannelTest {
    /// The channel's name.
    pub channel: String,
    /// Whether it arrived.
    pub ok: bool,
    /// Why not (free of secrets).
    pub error: Option<String>,
}

/// Sends a test message through each of a user's channels (or only the one `only` names),
/// directly (not through the outbox),
/// and records each result on its channel.
///
/// # Errors
/// [`StoreError`] when the channels cannot be read or updated.
pub async fn test_channels(
    store: &dyn Store,
    notifiers: &[Arc<dyn Notifier>],
    owner: UserId,
    only: Option<crate::domain::ChannelId>,
    now: Timestamp,
) -> Result<Vec<ChannelTest>, StoreError> {
    let mut results = Vec::new();
    for channel in store.list_channels(owner).await? {
        if only.is_some_and(|id| id != channel.id) {
            continue;
        }
        let message = OutgoingMessage {
            delivery_id: DeliveryId::new(0),
            event: DeliveryEvent::Test,
            text: format!(
                "Signal Sentinel test message for channel \"{}\": it works.",
                channel.name
            ),
            alert: None,
            silent: false,
        };
        let outcome = match notifiers.iter().find(|n| n.kind() == channel.kind) {
            Some(n) => n.send(&channel, &message).await.map_err(|e| e.to_string()),
            None => Err(format!(
                "{} channels are not configured on this server",
                channel.kind
            )),
        };
        let recorded = match &outcome {
            Ok(()) => crate::domain::ChannelOutcome::Delivered(now),
            Err(e) => crate::domain::ChannelOutcome::Failed(e.clone()),
        };
        store.record_channel_outcome(channel.id, recorded).await?;
        results.push(ChannelTest {
            channel: channel.name,
            ok: outcome.is_ok(),
            error: outcome.err(),
        });
    }
    Ok(results)
}

/// A user's channels and the number of deliveries waiting.
///
/// # Errors
/// [`StoreError`] when they cannot be read.
pub async fn channel_status(
    store: &dyn Store,
    owner: UserId,
) -> Result<(Vec<NotificationChannel>, u64), StoreError> {
    Ok((
        store.list_channels(owner).await?,
        store.count_pending_deliveries(owner).await?,
    ))
}
