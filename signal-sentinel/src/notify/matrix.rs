//! Matrix: an `m.room.message` sent to a room through the user's homeserver.

use std::time::Duration;

use async_trait::async_trait;
use serde_json::json;

use super::http::{Refusal, Sender, seconds, secret, setting, title};
use super::{Notifier, NotifyError, OutgoingMessage};
use crate::domain::{ChannelKind, DeliveryEvent, NotificationChannel};

/// Sends to a Matrix room: `PUT {homeserver}/_matrix/client/v3/rooms/{room}/send/m.room.message/{txn}`
/// with `Authorization: Bearer {access token}`, the text as `body` and as HTML. The
/// transaction id is the delivery's idempotency key (`ss-{delivery id}`), so a resend after a
/// crash is the same event to the homeserver, never a second message. A room alias
/// (`#room:server`) is resolved first through `/directory/room`. `M_LIMIT_EXCEEDED` (429) is
/// retried after its `retry_after_ms`; `M_UNKNOWN_TOKEN` and `M_FORBIDDEN` are permanent.
#[derive(Debug, Clone)]
pub struct MatrixNotifier {
    sender: Sender,
}

impl MatrixNotifier {
    /// A notifier whose requests time out after `timeout`.
    ///
    /// # Errors
    /// [`BuildError::HttpClient`](crate::BuildError::HttpClient).
    pub fn new(timeout: Duration) -> Result<Self, crate::BuildError> {
        Ok(Self {
            sender: Sender::new(timeout, None)?,
        })
    }

    fn url(homeserver: &str, segments: &[&str]) -> Result<url::Url, NotifyError> {
        let mut url = url::Url::parse(homeserver).map_err(|_| {
            NotifyError::Permanent("the matrix channel's homeserver is not a URL".into())
        })?;
        url.path_segments_mut()
            .map_err(|()| {
                NotifyError::Permanent("the matrix homeserver cannot take a path".into())
            })?
            .pop_if_empty()
            .extend(["_matrix", "client", "v3"])
            .extend(segments);
        Ok(url)
    }

    fn failure(refusal: &Refusal, token: &str) -> NotifyError {
        let answer = refusal.json();
        let asked = answer
            .as_ref()
            .and_then(|a| seconds(a.get("retry_after_ms"), 1_000.0));
        let detail = answer.as_ref().map(|a| {
            format!(
                "{} {}",
                a["errcode"].as_str().unwrap_or_default(),
                a["error"].as_str().unwrap_or_default()
            )
        });
        refusal.error("Matrix", asked, detail.as_deref(), Some(token))
    }

    /// The room id of `room`: itself, or what the homeserver says an alias names.
    async fn room_id(
        &self,
        homeserver: &str,
        room: &str,
        token: &str,
    ) -> Result<String, NotifyError> {
        if !room.starts_with('#') {
            return Ok(room.to_owned());
        }
        let response = self
            .sender
            .client
            .get(Self::url(homeserver, &["directory", "room", room])?)
            .bearer_auth(token)
            .send()
            .await
            .map_err(|e| super::unanswered(e, "Matrix"))?;
        let response = match Refusal::of(response).await {
            Ok(response) => response,
            Err(refusal) => return Err(Self::failure(&refusal, token)),
        };
        let answer: serde_json::Value = response
            .json()
            .await
            .map_err(|e| super::unanswered(e, "Matrix"))?;
        answer["room_id"]
            .as_str()
            .map(str::to_owned)
            .ok_or_else(|| {
                NotifyError::Permanent(format!("Matrix: the alias {room} names no room"))
            })
    }
}

/// Escapes text for Matrix's HTML body.
fn escape(text: &str) -> String {
    crate::domain::text::escape_html(text).replace('\n', "<br>")
}

#[async_trait]
impl Notifier for MatrixNotifier {
    fn kind(&self) -> ChannelKind {
        ChannelKind::Matrix
    }

    async fn send(
        &self,
        channel: &NotificationChannel,
        message: &OutgoingMessage,
    ) -> Result<(), NotifyError> {
        let homeserver = setting(channel, "homeserver")?;
        let room = setting(channel, "room")?;
        let token = secret(channel)?;
        let room_id = self.room_id(homeserver, room, token).await?;
        // Test messages share delivery id 0: each gets a transaction of its own.
        let txn = match message.event {
            DeliveryEvent::Test => format!("ss-test-{}", hex::encode(rand::random::<[u8; 8]>())),
            _ => format!("ss-{}", message.delivery_id),
        };
        let title = title(message);
        let links = super::http::action_links(message);
        let plain_links: String = links
            .iter()
            .map(|(label, url)| format!("\n{label}: {url}"))
            .collect();
        let html_links = if links.is_empty() {
            String::new()
        } else {
            let anchors: Vec<String> = links
                .iter()
                .map(|(label, url)| format!("<a href=\"{}\">{}</a>", escape(url), escape(label)))
                .collect();
            format!("<br>{}", anchors.join(" · "))
        };
        let body = json!({
            // Bots send notices (clients do not answer them), alerts that should ring send text.
            "msgtype": if message.silent { "m.notice" } else { "m.text" },
            "body": format!("{title}\n{}{plain_links}", message.text),
            "format": "org.matrix.custom.html",
            "formatted_body": format!(
                "<b>{}</b><br>{}{html_links}",
                escape(&title),
                escape(&message.text)
            ),
        });
        let url = Self::url(
            homeserver,
            &["rooms", &room_id, "send", "m.room.message", &txn],
        )?;
        let response = self
            .sender
            .client
            .put(url)
            .bearer_auth(token)
            .json(&body)
            .send()
            .await
            .map_err(|e| super::unanswered(e, "Matrix"))?;
        Refusal::of(response)
            .await
            .map(drop)
            .map_err(|refusal| Self::failure(&refusal, token))
    }
}
