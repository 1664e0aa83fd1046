//! ntfy: a message published as JSON to a topic of ntfy.sh or a self-hosted server.

use std::time::Duration;

use async_trait::async_trait;
use serde_json::json;

use super::http::{Refusal, Sender, setting, title};
use super::{Notifier, NotifyError, OutgoingMessage};
use crate::domain::{ChannelKind, DeliveryEvent, NotificationChannel};
use crate::engine::Priority;

/// The most action buttons ntfy shows on a notification.
const MAX_ACTIONS: usize = 3;

/// Publishes to an ntfy topic: `POST {server}` with `{"topic", "message", "title", "tags",
/// "priority", "click", "actions"}`, and `Authorization: Bearer` with the channel's access
/// token when it has one. Priority: 4 (high) for a firing alert, 3 otherwise, 2 when silent.
/// The alert's first three actions become `http` buttons that POST their token back to
/// `{PUBLIC_URL}/api/actions/{token}` (when `PUBLIC_URL` is set). ntfy's 429 and 5xx are
/// retried; 401 and 403 (a wrong or missing token) are permanent.

#[derive(Debug, Clone)]
pub struct NtfyNotifier {
    sender: Sender,
}

impl NtfyNotifier {
    /// A notifier whose requests time out after `timeout`; messages link to `public_url`.
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
impl Notifier for NtfyNotifier {
    fn kind(&self) -> ChannelKind {
        ChannelKind::Ntfy
    }

    async fn send(
        &self,
        channel: &NotificationChannel,
        message: &OutgoingMessage,
    ) -> Result<(), NotifyError> {
        let server = setting(channel, "server")?;
        let topic = setting(channel, "topic")?;
        let priority = match (message.event, message.priority) {
            _ if message.silent => 2,
            (DeliveryEvent::Fired, Some(p)) => match p {
                Priority::Low => 2,
                Priority::Normal => 3,
                Priority::High => 4,
                Priority::Urgent => 5,
            },
            (DeliveryEvent::Fired, None) => 4,
            _ => 3,
        };
        let tags: &[&str] = match message.event {
            DeliveryEvent::Fired => &["rotating_light"],
            DeliveryEvent::Resolved => &["white_check_mark"],
            _ => &[],
        };
        let mut body = json!({
            "topic": topic,
            "title": title(message),
            "message": message.text,
            "priority": priority,
            "tags": tags,
        });
        if let Some(click) = self.sender.link(message) {
            body["click"] = json!(click);
        }
        // ntfy shows at most three buttons; each POSTs its token back, which acts at once.
        let actions: Vec<serde_json::Value> = message
            .actions
            .iter()
            .filter_map(|a| Some((a.label, a.post_url.as_deref()?)))
            .take(MAX_ACTIONS)
            .map(|(label, url)| {
                json!({"action": "http", "label": label, "url": url, "method": "POST", "clear": true})
            })
            .collect();
        if !actions.is_empty() {
            body["actions"] = json!(actions);
        }
        let mut request = self.sender.client.post(server).json(&body);
        let token = channel.secret.as_ref().map(crate::Secret::expose);
        if let Some(token) = token.filter(|t| !t.is_empty()) {
            request = request.bearer_auth(token);
        }
        let response = request
            .send()
            .await
            .map_err(|e| super::unanswered(e, "ntfy"))?;
        let refusal = match Refusal::of(response).await {
            Ok(_) => return Ok(()),
            Err(refusal) => refusal,
        };
        let answer = refusal.json();
        let detail = answer.as_ref().and_then(|a| a["error"].as_str());
        Err(refusal.error("ntfy", None, detail, token))
    }
}
