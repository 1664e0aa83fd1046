//! Gotify: a message to a self-hosted server, as one of its applications.

use std::time::Duration;

use async_trait::async_trait;
use serde_json::json;

use super::http::{Refusal, Sender, secret, setting, title};
use super::{Notifier, NotifyError, OutgoingMessage};
use crate::domain::{ChannelKind, DeliveryEvent, NotificationChannel};

/// Sends to a Gotify server: `POST {server}/message` with the application token in
/// `X-Gotify-Key` and `{"title", "message", "priority", "extras"}` (a click URL to the
/// dashboard). Priority 8 for a firing alert, 5 otherwise, 1 when silent. 401 and 403 (a wrong
/// token) are permanent; 5xx are retried.
#[derive(Debug, Clone)]
pub struct GotifyNotifier {
    sender: Sender,
}

impl GotifyNotifier {
    /// A notifier whose requests time out after `timeout`.
    ///
    /// # Errors
    /// [`BuildError::HttpClient`](crate::BuildError::HttpClient).
    pub fn new(timeout: Duration, public_url: Option<url::Url>) -> Result<Self, crate::BuildError> {
        Ok(Self {
            sender: Sender::new(timeout, public_url)?,
        })
    }
}

#[async_trait]
impl Notifier for GotifyNotifier {
    fn kind(&self) -> ChannelKind {
        ChannelKind::Gotify
    }

    async fn send(
        &self,
        channel: &NotificationChannel,
        message: &OutgoingMessage,
    ) -> Result<(), NotifyError> {
        let server = setting(channel, "server")?;
        let token = secret(channel)?;
        let url = format!("{}/message", server.trim_end_matches('/'));
        let priority = match (message.event, message.priority) {
            _ if message.silent => 1,
            (DeliveryEvent::Fired, Some(p)) => match p {
                crate::engine::Priority::Low => 2,
                crate::engine::Priority::Normal => 5,
                crate::engine::Priority::High => 8,
                crate::engine::Priority::Urgent => 10,
            },
            (DeliveryEvent::Fired, None) => 8,
            _ => 5,
        };
        let mut body = json!({
            "title": title(message),
            "message": message.text,
            "priority": priority,
        });
        let mut extras = serde_json::Map::new();
        if let Some(click) = self.sender.link(message) {
            extras.insert(
                "client::notification".into(),
                json!({"click": {"url": click}}),
            );
        }
        if let Some(links) = super::http::markdown_actions(message) {
            body["message"] = json!(format!("{}\n\n{links}", message.text));
            extras.insert(
                "client::display".into(),
                json!({"contentType": "text/markdown"}),
            );
        }
        if !extras.is_empty() {
            body["extras"] = serde_json::Value::Object(extras);
        }
        let response = self
            .sender
            .client
            .post(url)
            .header("X-Gotify-Key", token)
            .json(&body)
            .send()
            .await
            .map_err(|e| super::unanswered(e, "Gotify"))?;
        let refusal = match Refusal::of(response).await {
            Ok(_) => return Ok(()),
            Err(refusal) => refusal,
        };
        let answer = refusal.json();
        let detail = answer
            .as_ref()
            .and_then(|a| a["errorDescription"].as_str().or(a["error"].as_str()));
        Err(refusal.error("Gotify", None, detail, Some(token)))
    }
}
