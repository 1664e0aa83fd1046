//! Discord: an embed posted to an incoming webhook.

use std::time::Duration;

use async_trait::async_trait;
use serde_json::json;

use super::http::{Refusal, Sender, seconds, secret, setting, title};
use super::{Notifier, NotifyError, OutgoingMessage};
use crate::domain::{ChannelKind, DeliveryEvent, NotificationChannel};

/// The longest embed description Discord accepts, in characters.
const MAX_DESCRIPTION: usize = 4_096;
/// Discord's message flag that posts without a push notification.
const SUPPRESS_NOTIFICATIONS: u32 = 1 << 12;

/// Posts to a Discord incoming webhook: `POST {base}/api/webhooks/{id}/{token}?wait=true` with
/// one embed (title, the text, a colour for fired / resolved, a link to the dashboard), no
/// mentions. A 429 is retried after the body's `retry_after` (seconds); a 401 or 404 (a
/// deleted webhook) is permanent. The token is part of the URL, so no URL reaches an error.
#[derive(Debug, Clone)]
pub struct DiscordNotifier {
    sender: Sender,
    base: url::Url,
}

impl DiscordNotifier {
    /// A notifier for webhooks under `base` (`https://discord.com`, or a mock).
    ///
    /// # Errors
    /// [`BuildError::HttpClient`](crate::BuildError::HttpClient).
    pub fn new(
        base: url::Url,
        timeout: Duration,
        public_url: Option<url::Url>,
    ) -> Result<Self, crate::BuildError> {
        Ok(Self {
            sender: Sender::new(timeout, public_url)?,
            base,
        })
    }
}

#[async_trait]
impl Notifier for DiscordNotifier {
    fn kind(&self) -> ChannelKind {
        ChannelKind::Discord
    }

    async fn send(
        &self,
        channel: &NotificationChannel,
        message: &OutgoingMessage,
    ) -> Result<(), NotifyError> {
        let id = setting(channel, "webhook_id")?;
        let token = secret(channel)?;
        let mut url = self.base.clone();
        url.path_segments_mut()
            .map_err(|()| NotifyError::Permanent("DISCORD_BASE_URL cannot take a path".into()))?
            .pop_if_empty()
            .extend(["api", "webhooks", id, token]);
        url.set_query(Some("wait=true"));
        let colour = match message.event {
            DeliveryEvent::Fired => 0x00E5_484D,
            DeliveryEvent::Resolved => 0x0030_A46C,
            _ => 0x0000_90FF,
        };
        let mut embed = json!({
            "title": title(message),
            "description": message.text.chars().take(MAX_DESCRIPTION).collect::<String>(),
            "color": colour,
        });
        if let Some(url) = self.sender.link(message) {
            embed["url"] = json!(url);
        }
        if let Some(links) = super::http::markdown_actions(message) {
            embed["fields"] = json!([{"name": "Act on it", "value": links}]);
        }
        if let Some(alert) = &message.alert {
            embed["timestamp"] = json!(alert.fired_at.to_rfc3339());
        }
        let mut body = json!({
            "embeds": [embed],
            "allowed_mentions": {"parse": []},
        });
        if message.silent {
            body["flags"] = json!(SUPPRESS_NOTIFICATIONS);
        }
        let response = self
            .sender
            .client
            .post(url)
            .json(&body)
            .send()
            .await
            .map_err(|e| super::unanswered(e, "Discord"))?;
        let refusal = match Refusal::of(response).await {
            Ok(_) => return Ok(()),
            Err(refusal) => refusal,
        };
        let answer = refusal.json();
        let asked = answer
            .as_ref()
            .and_then(|a| seconds(a.get("retry_after"), 1.0));
        let detail = answer.as_ref().and_then(|a| a["message"].as_str());
        Err(refusal.error("Discord", asked, detail, Some(token)))
    }
}
