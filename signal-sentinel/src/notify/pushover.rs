//! Pushover: a message to a user (or group) key, sent as one application.

use std::time::Duration;

use async_trait::async_trait;

use super::http::{Refusal, Sender, secret, title};
use super::{Notifier, NotifyError, OutgoingMessage};
use crate::domain::{ChannelKind, DeliveryEvent, NotificationChannel};

/// The longest message Pushover accepts, in characters.
const MAX_MESSAGE: usize = 1_024;
/// The longest title, in characters.
const MAX_TITLE: usize = 250;

/// Sends through Pushover's `POST {base}/1/messages.json` (form fields `token`, `user`,
/// `message`, `title`, `priority`, `timestamp`, `url`). The channel's secret is
/// `USER_KEY@APP_TOKEN`. Priority 1 for a firing alert, 0 otherwise, -1 when silent. A 4xx
/// (`{"status": 0, "errors": […]}`: an invalid user or token) is permanent; 429 (the
/// application's monthly limit) and 5xx are retried.
#[derive(Debug, Clone)]
pub struct PushoverNotifier {
    sender: Sender,
    base: url::Url,
}

impl PushoverNotifier {
    /// A notifier for the API at `base` (`https://api.pushover.net`, or a mock).
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
impl Notifier for PushoverNotifier {
    fn kind(&self) -> ChannelKind {
        ChannelKind::Pushover
    }

    async fn send(
        &self,
        channel: &NotificationChannel,
        message: &OutgoingMessage,
    ) -> Result<(), NotifyError> {
        let credentials = secret(channel)?;
        let (user, token) = credentials.split_once('@').ok_or_else(|| {
            NotifyError::Permanent("the pushover channel's credentials are malformed".into())
        })?;
        let mut url = self.base.clone();
        url.path_segments_mut()
            .map_err(|()| NotifyError::Permanent("PUSHOVER_BASE_URL cannot take a path".into()))?
            .pop_if_empty()
            .extend(["1", "messages.json"]);
        let priority = match (message.event, message.priority) {
            _ if message.silent => "-1",
            (DeliveryEvent::Fired, Some(crate::engine::Priority::Low)) => "-1",
            (DeliveryEvent::Fired, Some(crate::engine::Priority::Normal)) => "0",
            (DeliveryEvent::Fired, _) => "1",
            _ => "0",
        };
        let text: String = message.text.chars().take(MAX_MESSAGE).collect();
        let title: String = title(message).chars().take(MAX_TITLE).collect();
        let mut form = vec![
            ("token", token.to_owned()),
            ("user", user.to_owned()),
            ("message", text),
            ("title", title),
            ("priority", priority.to_owned()),
        ];
        if let Some(alert) = &message.alert {
            form.push(("timestamp", alert.fired_at.timestamp().to_string()));
        }
        if let Some(url) = self.sender.link(message) {
            form.push(("url", url));
            form.push(("url_title", "Open in Signal Sentinel".to_owned()));
        }
        let response = self
            .sender
            .client
            .post(url)
            .form(&form)
            .send()
            .await
            .map_err(|e| super::unanswered(e, "Pushover"))?;
        let refusal = match Refusal::of(response).await {
            Ok(_) => return Ok(()),
            Err(refusal) => refusal,
        };
        let answer = refusal.json();
        let detail = answer
            .as_ref()
            .and_then(|a| a["errors"].as_array())
            .map(|errors| {
                errors
                    .iter()
                    .filter_map(serde_json::Value::as_str)
                    .collect::<Vec<_>>()
                    .join("; ")
            });
        let error = refusal.error("Pushover", None, detail.as_deref(), Some(token));
        Err(match error {
            NotifyError::Permanent(m) => NotifyError::Permanent(m.replace(user, "[redacted]")),
            NotifyError::Retry { message, after } => NotifyError::Retry {
                message: message.replace(user, "[redacted]"),
                after,
            },
        })
    }
}
