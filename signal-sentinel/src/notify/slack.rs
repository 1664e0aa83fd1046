//! Slack: blocks posted to an incoming webhook.

use std::time::Duration;

use async_trait::async_trait;
use serde_json::json;

use super::http::{Refusal, Sender, secret, title};
use super::{Notifier, NotifyError, OutgoingMessage};
use crate::domain::{ChannelKind, NotificationChannel};

/// The longest text of a section block Slack accepts, in characters.
const MAX_SECTION: usize = 3_000;

/// Escapes text for Slack's `mrkdwn`.
fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

/// Posts to a Slack incoming webhook: `POST {base}/services/{T}/{B}/{X}` with a header block,
/// the text as a section and a button to the dashboard. Slack answers errors in plain text
/// (`invalid_token`, `no_service`, `channel_is_archived`): those are permanent; a 429 is
/// retried after `Retry-After`. The webhook's path is its secret, so no URL reaches an error.
#[derive(Debug, Clone)]
pub struct SlackNotifier {
    sender: Sender,
    base: url::Url,
}

impl SlackNotifier {
    /// A notifier for webhooks under `base` (`https://hooks.slack.com`, or a mock).
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
impl Notifier for SlackNotifier {
    fn kind(&self) -> ChannelKind {
        ChannelKind::Slack
    }

    async fn send(
        &self,
        channel: &NotificationChannel,
        message: &OutgoingMessage,
    ) -> Result<(), NotifyError> {
        let path = secret(channel)?;
        let mut url = self.base.clone();
        url.path_segments_mut()
            .map_err(|()| NotifyError::Permanent("SLACK_BASE_URL cannot take a path".into()))?
            .pop_if_empty()
            .push("services")
            .extend(path.split('/'));
        let title = title(message);
        let mut blocks = vec![
            json!({"type": "header", "text": {"type": "plain_text", "text": title}}),
            json!({"type": "section", "text": {
                "type": "mrkdwn",
                "text": escape(&message.text).chars().take(MAX_SECTION).collect::<String>(),
            }}),
        ];
        let mut buttons: Vec<serde_json::Value> = super::http::action_links(message)
            .into_iter()
            .map(|(label, url)| {
                json!({"type": "button", "text": {"type": "plain_text", "text": label}, "url": url})
            })
            .collect();
        if let Some(url) = self.sender.link(message) {
            buttons.push(json!({
                "type": "button",
                "text": {"type": "plain_text", "text": "Open in Signal Sentinel"},
                "url": url,
            }));
        }
        if !buttons.is_empty() {
            // Slack takes at most 25 elements in an actions block; a message has at most 7.
            blocks.push(json!({"type": "actions", "elements": buttons}));
        }
        let body = json!({"text": format!("{title}: {}", message.text), "blocks": blocks});
        let response = self
            .sender
            .client
            .post(url)
            .json(&body)
            .send()
            .await
            .map_err(|e| super::unanswered(e, "Slack"))?;
        let refusal = match Refusal::of(response).await {
            Ok(_) => return Ok(()),
            Err(refusal) => refusal,
        };
        Err(refusal.error("Slack", None, Some(refusal.text()), Some(path)))
    }
}
