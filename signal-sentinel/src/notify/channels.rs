//! Adding, testing and reviewing a user's channels: what `invest notifications …` and the
//! API call.
//!
//! A channel's secret (a webhook's signing secret, a service's token or key) is sealed at
//! rest with the [`Vault`] (ChaCha20-Poly1305 under a key derived from `SECRET_KEY`, bound to
//! the owner), so a copy of the database alone does not reveal it; it is opened only to send.
//! Secrets stored before sealing existed are used as they are until a server or worker starts
//! and seals them ([`Services::reseal_channel_secrets`](crate::service::Services::reseal_channel_secrets)).

use std::sync::Arc;
use std::time::Duration;

use serde::Serialize;
use thiserror::Error;

use super::{
    ConsoleNotifier, DiscordNotifier, GotifyNotifier, MatrixNotifier, Notifier, NtfyNotifier,
    OutgoingMessage, PushoverNotifier, SlackNotifier, TelegramNotifier, WebhookNotifier,
};
use crate::Secret;
use crate::auth::vault::{Vault, VaultError};
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

/// How long a notifier waits for a service's answer.
pub(crate) const NOTIFY_TIMEOUT: Duration = Duration::from_secs(10);

/// The notifiers this server can use: webhooks, ntfy, Discord, Slack, Gotify, Pushover,
/// Matrix and the console always, Telegram when `TELEGRAM_BOT_TOKEN` is set.
///
/// # Errors
/// [`BuildError::HttpClient`](crate::BuildError::HttpClient).
pub fn notifiers_from_settings(
    settings: &Settings,
) -> Result<Vec<Arc<dyn Notifier>>, crate::BuildError> {
    let timeout = NOTIFY_TIMEOUT;
    let c = &settings.channels;
    let public = || c.public_url.clone();
    let mut notifiers: Vec<Arc<dyn Notifier>> = vec![
        Arc::new(WebhookNotifier::new(timeout)?),
        Arc::new(ConsoleNotifier::default()),
        Arc::new(NtfyNotifier::new(timeout, public())?),
        Arc::new(DiscordNotifier::new(
            c.discord_base_url.clone(),
            timeout,
            public(),
        )?),
        Arc::new(SlackNotifier::new(
            c.slack_base_url.clone(),
            timeout,
            public(),
        )?),
        Arc::new(GotifyNotifier::new(timeout, public())?),
        Arc::new(PushoverNotifier::new(
            c.pushover_base_url.clone(),
            timeout,
            public(),
        )?),
        Arc::new(MatrixNotifier::new(timeout)?),
        Arc::new(super::EmailNotifier::new(
            c.smtp.clone(),
            c.smtp_from.clone(),
            timeout,
            public(),
        )),
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

/// What a channel's secret is bound to when sealed: its owner.
fn seal_context(owner: UserId) -> String {
    format!("user:{owner}/channel")
}

/// Whether a stored secret is in the vault's sealed form (else it predates sealing).
fn is_sealed(stored: &str) -> bool {
    stored.starts_with("v1.") && stored.split('.').count() == 4
}

/// Seals a channel's secret for storage; without a vault it is stored as given.
///
/// # Errors
/// [`VaultError::Random`] when no nonce can be drawn.
pub(crate) fn seal_secret(
    vault: Option<&Vault>,
    owner: UserId,
    secret: Secret,
) -> Result<Secret, VaultError> {
    match vault {
        Some(vault) => vault.seal(&secret, &seal_context(owner)).map(Secret::new),
        None => Ok(secret),
    }
}

/// The channel with its secret opened, ready for a notifier. A secret stored before sealing
/// existed is used as it is.
///
/// # Errors
/// [`VaultError`] when the sealed secret does not open (another `SECRET_KEY`, or tampering).
pub(crate) fn opened(
    vault: Option<&Vault>,
    mut channel: NotificationChannel,
) -> Result<NotificationChannel, VaultError> {
    if let (Some(vault), Some(stored)) = (vault, &channel.secret)
        && is_sealed(stored.expose())
    {
        channel.secret = Some(vault.open(stored.expose(), &seal_context(channel.owner))?);
    }
    Ok(channel)
}

/// The stored secret sealed again under the current key, when it is unsealed or sealed under
/// the previous one; `None` when it needs nothing.
///
/// # Errors
/// [`VaultError`] when a sealed secret does not open.
pub(crate) fn resealed(
    vault: &Vault,
    channel: &NotificationChannel,
) -> Result<Option<Secret>, VaultError> {
    let Some(stored) = &channel.secret else {
        return Ok(None);
    };
    if is_sealed(stored.expose()) && !vault.needs_reseal(stored.expose()) {
        return Ok(None);
    }
    let plain = opened(Some(vault), channel.clone())?
        .secret
        .unwrap_or_else(|| Secret::new(String::new()));
    seal_secret(Some(vault), channel.owner, plain).map(Some)
}

async fn create(
    store: &dyn Store,
    vault: Option<&Vault>,
    mut new: NewChannel,
) -> Result<NotificationChannel, ChannelError> {
    if let Some(secret) = new.secret.take() {
        new.secret = Some(seal_secret(vault, new.owner, secret).map_err(|e| {
            ChannelError::Store(StoreError::Backend(format!("cannot seal the secret: {e}")))
        })?);
    }
    Ok(store.create_channel(new).await?)
}

/// Adds the channel a URL names (see [`channel_url`](super::channel_url) for the forms);
/// returns it and, for a webhook, its signing secret (generated) to show once.
///
/// # Errors
/// [`ChannelError::Invalid`] naming `url` or `name`; [`StoreError::Conflict`] for a taken
/// name.
pub async fn add_from_url(
    store: &dyn Store,
    vault: Option<&Vault>,
    settings: &crate::config::ChannelSettings,
    owner: UserId,
    url: &str,
    name: Option<String>,
) -> Result<(NotificationChannel, Option<Secret>), ChannelError> {
    let spec = super::channel_url::parse(url, settings)?;
    match spec.kind {
        ChannelKind::Telegram => {
            let chat = spec.config["chat_id"]
                .as_str()
                .unwrap_or_default()
                .to_owned();
            Ok((add_telegram(store, owner, &chat, name).await?, None))
        }
        ChannelKind::Webhook => {
            let target = spec.config["url"].as_str().unwrap_or_default().to_owned();
            let (channel, secret) = add_webhook(store, vault, owner, &target, name, None).await?;
            Ok((channel, Some(secret)))
        }
        kind => {
            let name = name_or(name, spec.default_name)?;
            let channel = create(
                store,
                vault,
                NewChannel {
                    owner,
                    name,
                    kind,
                    config: spec.config,
                    secret: spec.secret,
                },
            )
            .await?;
            Ok((channel, None))
        }
    }
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
    vault: Option<&Vault>,
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
    let channel = create(
        store,
        vault,
        NewChannel {
            owner,
            name,
            kind: ChannelKind::Webhook,
            config: serde_json::json!({"url": parsed.as_str()}),
            secret: Some(secret.clone()),
        },
    )
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
    vault: Option<&Vault>,
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
            actions: Vec::new(),
            priority: None,
        };
        let name = channel.name.clone();
        let id = channel.id;
        let outcome = match (
            notifiers.iter().find(|n| n.kind() == channel.kind),
            opened(vault, channel),
        ) {
            (_, Err(e)) => Err(format!("the channel's secret does not open: {e}")),
            (Some(n), Ok(channel)) => n.send(&channel, &message).await.map_err(|e| e.to_string()),
            (None, Ok(channel)) => Err(format!(
                "{} channels are not configured on this server",
                channel.kind
            )),
        };
        let recorded = match &outcome {
            Ok(()) => crate::domain::ChannelOutcome::Delivered(now),
            Err(e) => crate::domain::ChannelOutcome::Failed(e.clone()),
        };
        store.record_channel_outcome(id, recorded).await?;
        results.push(ChannelTest {
            channel: name,
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
