//! `/api/channels`: where alerts are sent (Telegram chats, webhooks, ntfy, Discord, Slack,
//! Gotify, Pushover, Matrix), added by kind or by one channel URL.

use crate::strict::Text;
use poem::web::Data;
use poem_openapi::param::Path;
use poem_openapi::{ApiResponse, Enum, Object, OpenApi, payload::Json};
use signal_sentinel::Secret;
use signal_sentinel::domain::{ChannelId, NotificationChannel};
use signal_sentinel::notify::channels;

/// The longest IANA time zone name accepted (the longest is 32 characters).
const MAX_TIME_ZONE_LEN: usize = 64;

use super::{ApiTags, NoContent};
use crate::AppState;
use crate::error::ApiError;
use crate::security::Auth;

type Time = chrono::DateTime<chrono::Utc>;

/// A channel (its webhook secret is never shown again after creation).
#[derive(Debug, Clone, Object)]
pub struct ChannelOut {
    /// Channel id.
    pub id: i64,
    /// Its name.
    pub name: String,
    /// `telegram`, `webhook`, `email`, `ntfy`, `discord`, `slack`, `gotify`, `pushover`,
    /// `matrix` or `console`.
    pub kind: String,
    /// Where it sends, without its secret: `{"chat_id": …}`, `{"url": …}`,
    /// `{"server", "topic"}` (ntfy), `{"webhook_id"}` (Discord), `{"workspace"}` (Slack),
    /// `{"server"}` (Gotify), `{"homeserver", "room"}` (Matrix), `{"to", …}` (e-mail, with
    /// its own server's host, port, security, user and sender when it has one).
    pub config: serde_json::Value,
    /// Whether alerts go to it.
    pub enabled: bool,
    /// Created.
    pub created_at: Time,
    /// Last successful delivery.
    #[oai(nullable)]
    pub last_ok_at: Option<Time>,
    /// Last failure.
    #[oai(nullable)]
    pub last_error: Option<String>,
}

impl From<NotificationChannel> for ChannelOut {
    fn from(c: NotificationChannel) -> Self {
        Self {
            id: c.id.get(),
            name: c.name,
            kind: c.kind.as_str().to_owned(),
            config: c.config,
            enabled: c.enabled,
            created_at: c.created_at,
            last_ok_at: c.last_ok_at,
            last_error: c.last_error,
        }
    }
}

/// The kinds a user can add.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Enum)]
#[oai(rename_all = "lowercase")]
pub enum NewChannelKind {
    /// A Telegram chat (needs `chat_id`).
    Telegram,
    /// An HTTPS endpoint that receives signed JSON (needs `url`).
    Webhook,
    /// Any channel named by its URL (needs `url`): `ntfy://…`, `discord://…`, `slack://…`,
    /// `gotify://…`, `pover://…`, `matrix://…`, `mailto://…`, `tgram://…`, `https://…`.
    Url,
}

/// A new channel: a `kind` with its fields; with `kind` `url`, a channel URL such as
/// `ntfy://ntfy.example.com/my-topic`, `discord://ID/TOKEN`, `slack://T/B/X`,
/// `gotify://HOST/TOKEN`, `pover://USER_KEY@APP_TOKEN`, `matrix://TOKEN@HOST/!ROOM:SERVER`,
/// `tgram://CHAT_ID`, `mailto://ADDRESS`, `mailto://USER:PASSWORD@SMTP_HOST?to=ADDRESS` or
/// `https://…` (a signed webhook).
#[derive(Object)]
pub struct ChannelIn {
    // A plain comment, not a doc comment: documented, poem-openapi would wrap the enum's `$ref`
    // in an `allOf` with the description, which client generators refuse for a string enum.
    // The enum's own schema says what it is.
    #[allow(missing_docs)]
    pub kind: NewChannelKind,
    /// A name (1 to 64 characters); a default is made from the target.
    #[oai(nullable)]
    pub name: Option<Text<{ channels::MAX_NAME_LEN }>>,
    /// Telegram: the chat id (`123456789`) or channel (`@my_channel`).
    #[oai(nullable)]
    pub chat_id: Option<Text<{ channels::MAX_CHAT_ID_LEN }>>,
    /// Webhook: the URL. With `kind` `url`: the channel's URL (its secret is kept sealed and
    /// never shown again).
    #[oai(nullable)]
    pub url: Option<Text<{ channels::MAX_URL_LEN }>>,
    /// Webhook: the signing secret (at least 16 bytes); generated when absent.
    #[oai(nullable)]
    pub secret: Option<Text<{ channels::MAX_SECRET_LEN }>>,
}

impl std::fmt::Debug for ChannelIn {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ChannelIn")
            .field("kind", &self.kind)
            .field("name", &self.name)
            .finish_non_exhaustive()
    }
}

/// A created channel.
#[derive(Object)]
pub struct CreatedChannel {
    /// The channel.
    pub channel: ChannelOut,
    /// Webhook: the signing secret, shown this once.
    #[oai(nullable, skip_serializing_if_is_none)]
    pub secret: Option<String>,
}

impl std::fmt::Debug for CreatedChannel {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CreatedChannel")
            .field("channel", &self.channel)
            .finish_non_exhaustive()
    }
}

/// Channel created.
#[derive(Debug, ApiResponse)]
pub enum CreatedChannelResponse {
    /// The channel.
    #[oai(status = 201)]
    Created(Json<CreatedChannel>),
}

/// A change to a channel.
#[derive(Debug, Object)]
pub struct ChannelPatch {
    /// Turn it on or off.
    pub enabled: Option<bool>,
    /// Send resolved notices through it (on unless turned off).
    pub resolved: Option<bool>,
}

/// The caller's channels and the deliveries waiting.
#[derive(Debug, Object)]
pub struct ChannelStatus {
    /// Channels with their last outcome.
    pub channels: Vec<ChannelOut>,
    /// Deliveries not yet sent (due, retrying or held for quiet hours).
    pub pending_deliveries: u64,
}

/// A test message's outcome.
#[derive(Debug, Object)]
pub struct ChannelTestOut {
    /// The channel.
    pub channel: String,
    /// Whether it arrived.
    pub ok: bool,
    /// Why not.
    #[oai(nullable)]
    pub error: Option<String>,
}

/// Notification preferences: per event `on`, `silent` or `off`; quiet hours; digest time.
#[derive(Debug, Clone, Object)]
pub struct PrefsBody {
    /// `{"fired", "resolved", "digest", "system"}`, each `on`, `silent` or `off`.
    pub events: serde_json::Value,
    /// `{"start": "22:00", "end": "07:00", "behavior": "hold"|"drop"|"silent"}`, or absent.
    #[oai(nullable)]
    pub quiet_hours: Option<serde_json::Value>,
    /// Time of the daily digest, `18:00`, or absent for none.
    #[oai(nullable)]
    pub digest_at: Option<Text>,
    /// IANA time zone for quiet hours and the digest, e.g. `America/New_York`.
    pub time_zone: Text<{ MAX_TIME_ZONE_LEN }>,
    /// Whether alert messages and the digest end with the summary (the AI model's, or the
    /// template's); default true.
    #[oai(nullable)]
    pub summaries: Option<bool>,
    /// Quiet until this instant (`POST /api/channels/mute`), or absent.
    #[oai(nullable)]
    pub muted_until: Option<Time>,
}

/// A one-time code linking a Telegram chat.
#[derive(Debug, Object)]
pub struct TelegramLinkOut {
    /// The code.
    pub code: String,
    /// What to send to the bot: `/start CODE`.
    pub command: String,
    /// When the code stops working (15 minutes after it was made).
    pub expires_at: Time,
}

/// The Telegram chats linked to the caller.
#[derive(Debug, Object)]
pub struct TelegramChatsOut {
    /// Chat ids.
    pub chats: Vec<i64>,
}

/// How long to mute notifications.
#[derive(Debug, Object)]
pub struct MuteIn {
    /// Minutes, 1 to 525,600 (a year).
    #[oai(validator(minimum(value = "1"), maximum(value = "525600")))]
    pub minutes: u32,
}

/// Until when notifications are muted.
#[derive(Debug, Object)]
pub struct MuteOut {
    /// The end of the mute.
    pub muted_until: Time,
}

impl PrefsBody {
    fn from_prefs(p: &signal_sentinel::notify::NotificationPrefs) -> Result<Self, ApiError> {
        let value = serde_json::to_value(p)
            .map_err(|e| ApiError::from(signal_sentinel::service::ServiceError::internal(e)))?;
        Ok(Self {
            events: value["events"].clone(),
            quiet_hours: value.get("quiet_hours").cloned().filter(|v| !v.is_null()),
            digest_at: value
                .get("digest_at")
                .and_then(serde_json::Value::as_str)
                .map(|d| Text::from(d.to_owned())),
            time_zone: Text::from(p.time_zone.clone()),
            summaries: Some(p.summaries),
            muted_until: p.muted_until,
        })
    }

    fn into_prefs(self) -> Result<signal_sentinel::notify::NotificationPrefs, ApiError> {
        let mut value =
            serde_json::json!({"events": self.events, "time_zone": String::from(self.time_zone)});
        if let Some(q) = self.quiet_hours {
            value["quiet_hours"] = q;
        }
        if let Some(d) = self.digest_at {
            value["digest_at"] = serde_json::Value::String(d.into());
        }
        if let Some(s) = self.summaries {
            value["summaries"] = serde_json::Value::Bool(s);
        }
        if let Some(until) = self.muted_until {
            value["muted_until"] = serde_json::json!(until);
        }
        serde_json::from_value(value).map_err(|e| ApiError::invalid("prefs", e.to_string()))
    }
}

/// Notification channels.
#[derive(Debug, Clone, Copy, Default)]
pub struct ChannelsApi;

#[OpenApi(prefix_path = "/channels", tag = "ApiTags::Channels")]
impl ChannelsApi {
    /// The caller's channels.
    #[oai(path = "/", method = "get", operation_id = "list_channels")]
    async fn list(
        &self,
        state: Data<&AppState>,
        auth: Auth,
    ) -> Result<Json<Vec<ChannelOut>>, ApiError> {
        let who = auth.principal(&state).await?;
        let (channels, _) = state.services.list_channels(who).await?;
        Ok(Json(channels.into_iter().map(ChannelOut::from).collect()))
    }

    /// Add a channel: a Telegram chat or a webhook by `kind`, or any channel by its URL.
    #[oai(path = "/", method = "post", operation_id = "create_channel")]
    async fn create(
        &self,
        state: Data<&AppState>,
        auth: Auth,
        body: Json<ChannelIn>,
    ) -> Result<CreatedChannelResponse, ApiError> {
        let who = auth.principal(&state).await?;
        let Json(body) = body;
        let created = match body.kind {
            NewChannelKind::Url => {
                let url = body
                    .url
                    .ok_or_else(|| ApiError::invalid("url", "give the channel's URL"))?;
                let (channel, secret) = state
                    .services
                    .add_channel_url(who, &url, body.name.map(String::from))
                    .await?;
                CreatedChannel {
                    channel: channel.into(),
                    secret: secret.map(|s| s.expose().to_owned()),
                }
            }
            NewChannelKind::Telegram => {
                let chat = body.chat_id.ok_or_else(|| {
                    ApiError::invalid("chat_id", "a Telegram channel needs chat_id")
                })?;
                CreatedChannel {
                    channel: state
                        .services
                        .add_telegram(who, &chat, body.name.map(String::from))
                        .await?
                        .into(),
                    secret: None,
                }
            }
            NewChannelKind::Webhook => {
                let url = body
                    .url
                    .ok_or_else(|| ApiError::invalid("url", "a webhook needs url"))?;
                let (channel, secret) = state
                    .services
                    .add_webhook(
                        who,
                        &url,
                        body.name.map(String::from),
                        body.secret.map(|s| Secret::new(String::from(s))),
                    )
                    .await?;
                CreatedChannel {
                    channel: channel.into(),
                    secret: Some(secret.expose().to_owned()),
                }
            }
        };
        Ok(CreatedChannelResponse::Created(Json(created)))
    }

    /// The caller's notification preferences.
    #[oai(
        path = "/prefs",
        method = "get",
        operation_id = "get_notification_prefs"
    )]
    async fn prefs(&self, state: Data<&AppState>, auth: Auth) -> Result<Json<PrefsBody>, ApiError> {
        let who = auth.principal(&state).await?;
        let prefs = state.services.notification_prefs(who).await?;
        Ok(Json(PrefsBody::from_prefs(&prefs)?))
    }

    /// Replace the caller's notification preferences.
    #[oai(
        path = "/prefs",
        method = "put",
        operation_id = "set_notification_prefs"
    )]
    async fn set_prefs(
        &self,
        state: Data<&AppState>,
        auth: Auth,
        body: Json<PrefsBody>,
    ) -> Result<Json<PrefsBody>, ApiError> {
        let who = auth.principal(&state).await?;
        let prefs = body.0.into_prefs()?;
        let prefs = state.services.set_notification_prefs(who, prefs).await?;
        Ok(Json(PrefsBody::from_prefs(&prefs)?))
    }

    /// Each channel's last outcome and the deliveries waiting.
    #[oai(path = "/status", method = "get", operation_id = "channel_status")]
    async fn status(
        &self,
        state: Data<&AppState>,
        auth: Auth,
    ) -> Result<Json<ChannelStatus>, ApiError> {
        let who = auth.principal(&state).await?;
        let (channels, pending) = state.services.list_channels(who).await?;
        Ok(Json(ChannelStatus {
            channels: channels.into_iter().map(ChannelOut::from).collect(),
            pending_deliveries: pending,
        }))
    }

    /// One channel.
    #[oai(path = "/:channel_id", method = "get", operation_id = "get_channel")]
    async fn get(
        &self,
        state: Data<&AppState>,
        auth: Auth,
        channel_id: Path<i64>,
    ) -> Result<Json<ChannelOut>, ApiError> {
        let who = auth.principal(&state).await?;
        let channel = state
            .services
            .get_channel(who, ChannelId::new(channel_id.0))
            .await?;
        Ok(Json(channel.into()))
    }

    /// Turn a channel on or off.
    #[oai(
        path = "/:channel_id",
        method = "patch",
        operation_id = "update_channel"
    )]
    async fn update(
        &self,
        state: Data<&AppState>,
        auth: Auth,
        channel_id: Path<i64>,
        body: Json<ChannelPatch>,
    ) -> Result<Json<ChannelOut>, ApiError> {
        let who = auth.principal(&state).await?;
        let id = ChannelId::new(channel_id.0);
        let ChannelPatch { enabled, resolved } = body.0;
        let channel = state
            .services
            .change_channel(who, id, enabled, resolved)
            .await?;
        Ok(Json(channel.into()))
    }

    /// Remove a channel.
    #[oai(
        path = "/:channel_id",
        method = "delete",
        operation_id = "delete_channel"
    )]
    async fn delete(
        &self,
        state: Data<&AppState>,
        auth: Auth,
        channel_id: Path<i64>,
    ) -> Result<NoContent, ApiError> {
        let who = auth.principal(&state).await?;
        state
            .services
            .delete_channel(who, ChannelId::new(channel_id.0))
            .await?;
        Ok(NoContent::Done)
    }

    /// Send a test message now (not through the outbox) and record the outcome.
    #[oai(
        path = "/:channel_id/test",
        method = "post",
        operation_id = "test_channel"
    )]
    async fn test(
        &self,
        state: Data<&AppState>,
        auth: Auth,
        channel_id: Path<i64>,
    ) -> Result<Json<ChannelTestOut>, ApiError> {
        let who = auth.principal(&state).await?;
        let result = state
            .services
            .test_channel(who, ChannelId::new(channel_id.0))
            .await?;
        Ok(Json(ChannelTestOut {
            channel: result.channel,
            ok: result.ok,
            error: result.error,
        }))
    }

    /// A one-time code linking a Telegram chat to the caller: send `/start CODE` to the bot
    /// within 15 minutes. The chat then receives the caller's alerts with buttons and takes
    /// commands as the caller.
    #[oai(
        path = "/telegram/link",
        method = "post",
        operation_id = "telegram_link_code"
    )]
    async fn telegram_link(
        &self,
        state: Data<&AppState>,
        auth: Auth,
    ) -> Result<Json<TelegramLinkOut>, ApiError> {
        let who = auth.principal(&state).await?;
        let code = state.services.telegram_link_code(who).await?;
        Ok(Json(TelegramLinkOut {
            command: format!("/start {}", code.code),
            code: code.code,
            expires_at: code.expires_at,
        }))
    }

    /// The Telegram chats linked to the caller.
    #[oai(
        path = "/telegram/chats",
        method = "get",
        operation_id = "list_telegram_chats"
    )]
    async fn telegram_chats(
        &self,
        state: Data<&AppState>,
        auth: Auth,
    ) -> Result<Json<TelegramChatsOut>, ApiError> {
        let who = auth.principal(&state).await?;
        Ok(Json(TelegramChatsOut {
            chats: state.services.telegram_chats(who).await?,
        }))
    }

    /// Unlink a Telegram chat: it no longer acts for the caller (its channel stays).
    #[oai(
        path = "/telegram/chats/:chat_id",
        method = "delete",
        operation_id = "unlink_telegram_chat"
    )]
    async fn unlink_telegram(
        &self,
        state: Data<&AppState>,
        auth: Auth,
        chat_id: Path<i64>,
    ) -> Result<NoContent, ApiError> {
        let who = auth.principal(&state).await?;
        state.services.unlink_telegram(who, Some(chat_id.0)).await?;
        Ok(NoContent::Done)
    }

    /// Quiet hours now, for a while: alerts are held (or silent, if the quiet hours say so)
    /// until it ends.
    #[oai(path = "/mute", method = "post", operation_id = "mute_notifications")]
    async fn mute(
        &self,
        state: Data<&AppState>,
        auth: Auth,
        body: Json<MuteIn>,
    ) -> Result<Json<MuteOut>, ApiError> {
        let who = auth.principal(&state).await?;
        let until = state
            .services
            .mute_notifications(
                who,
                std::time::Duration::from_secs(u64::from(body.0.minutes) * 60),
            )
            .await?;
        Ok(Json(MuteOut { muted_until: until }))
    }

    /// End a mute now.
    #[oai(
        path = "/mute",
        method = "delete",
        operation_id = "unmute_notifications"
    )]
    async fn unmute(&self, state: Data<&AppState>, auth: Auth) -> Result<NoContent, ApiError> {
        let who = auth.principal(&state).await?;
        state.services.unmute_notifications(who).await?;
        Ok(NoContent::Done)
    }
}
