use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use reqwest::Client;
use serde::Deserialize;
use serde_json::json;
use tokio::sync::Mutex;
use tokio::time::Instant;

use super::{Notifier, NotifyError, OutgoingMessage};
use crate::Secret;
use crate::domain::{ChannelKind, NotificationChannel};
use crate::pace::RateLimiter;

/// Longest message Telegram accepts, in characters.
pub(crate) const MAX_MESSAGE: usize = 4_096;
/// Telegram's pace: one message a second per chat …
const PER_CHAT: Duration = Duration::from_secs(1);
/// … at most twenty a minute to one group (one every three seconds) …
const PER_GROUP: Duration = Duration::from_secs(3);
/// … and about thirty a second in all.
const PER_SECOND: u32 = 30;

/// Sends through the Telegram Bot API's `sendMessage`, in HTML parse mode with the text
/// escaped, split into parts of at most 4,096 characters, paced at one message a second per
/// chat, twenty a minute per group (a negative chat id) and thirty a second overall. A 429 is retried after `parameters.retry_after`; a 400
/// or 403 (chat not found, bot blocked) is permanent. The bot token is part of the request
/// URL, so no URL ever reaches an error or a log line.
#[derive(Clone)]
pub struct TelegramNotifier {
    client: Client,
    base: url::Url,
    token: Secret,
    overall: Arc<RateLimiter>,
    chats: Arc<Mutex<HashMap<String, Instant>>>,
}

impl std::fmt::Debug for TelegramNotifier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TelegramNotifier")
            .field("base", &self.base.as_str())
            .field("token", &self.token)
            .finish_non_exhaustive()
    }
}

#[derive(Deserialize)]
struct ApiAnswer {
    ok: bool,
    description: Option<String>,
    parameters: Option<Parameters>,
    result: Option<serde_json::Value>,
}

#[derive(Deserialize)]
struct Parameters {
    retry_after: Option<u64>,
}

impl TelegramNotifier {
    /// A notifier for the bot with `token`, at `base` (`https://api.telegram.org`, or a mock).
    ///
    /// # Errors
    /// [`BuildError::HttpClient`](crate::BuildError::HttpClient).
    pub fn new(
        base: url::Url,
        token: Secret,
        timeout: Duration,
    ) -> Result<Self, crate::BuildError> {
        let client = crate::market::http_client(timeout, &base)?;
        let (overall, chats) = pacing(&token);
        Ok(Self {
            client,
            base,
            token,
            overall,
            chats,
        })
    }

    fn url(&self, method: &str) -> url::Url {
        let mut url = self.base.clone();
        let prefix = url.path().trim_end_matches('/').to_owned();
        url.set_path(&format!("{prefix}/bot{}/{method}", self.token.expose()));
        url
    }

    /// Calls a Bot API method with a JSON body; its `result` when Telegram says `ok`.
    /// `wait` overrides the client's timeout (long polling).
    ///
    /// # Errors
    /// [`NotifyError::Retry`] for 429 (with Telegram's `retry_after`), 5xx and transport
    /// failures; [`NotifyError::Permanent`] for what a retry cannot fix (a bad token, a chat
    /// that blocked the bot, a malformed request). Never containing the token.
    pub(crate) async fn call(
        &self,
        method: &str,
        body: &serde_json::Value,
        wait: Option<Duration>,
    ) -> Result<serde_json::Value, NotifyError> {
        let mut request = self.client.post(self.url(method)).json(body);
        if let Some(wait) = wait {
            request = request.timeout(wait);
        }
        let response = request
            .send()
            .await
            .map_err(|e| super::unanswered(e, "Telegram"))?;
        let status = response.status();
        tracing::debug!(status = status.as_u16(), "telegram {method}");
        let answer: Option<ApiAnswer> = response.json().await.ok();
        if status.is_success()
            && let Some(answer) = answer.as_ref().filter(|a| a.ok)
        {
            return Ok(answer.result.clone().unwrap_or(serde_json::Value::Null));
        }
        let description = answer
            .as_ref()
            .and_then(|a| a.description.clone())
            .unwrap_or_else(|| format!("HTTP {}", status.as_u16()));
        let description = description.replace(self.token.expose(), "[redacted]");
        match status.as_u16() {
            429 => Err(NotifyError::Retry {
                message: format!("Telegram: {description}"),
                after: answer
                    .and_then(|a| a.parameters)
                    .and_then(|p| p.retry_after)
                    .map(Duration::from_secs),
            }),
            400 | 401 | 403 | 404 => {
                Err(NotifyError::Permanent(format!("Telegram: {description}")))
            }
            _ => Err(NotifyError::Retry {
                message: format!("Telegram: {description}"),
                after: None,
            }),
        }
    }

    /// Waits until `chat` may receive its next message.
    async fn pace(&self, chat: &str) {
        // Groups and supergroups have negative ids (`-100…`); people and channels do not.
        let spacing = if chat.starts_with('-') {
            PER_GROUP
        } else {
            PER_CHAT
        };
        let wait = {
            let mut chats = self.chats.lock().await;
            let now = Instant::now();
            let next = chats.get(chat).copied().unwrap_or(now).max(now);
            chats.insert(chat.to_owned(), next + spacing);
            next - now
        };
        tokio::time::sleep(wait).await;
        self.overall.acquire().await;
    }

    async fn send_part(
        &self,
        chat: &serde_json::Value,
        chat_key: &str,
        text: &str,
        silent: bool,
        keyboard: Option<&serde_json::Value>,
    ) -> Result<(), NotifyError> {
        self.pace(chat_key).await;
        let mut body = json!({
            "chat_id": chat,
            "text": text,
            "parse_mode": "HTML",
            "disable_notification": silent,
            "link_preview_options": {"is_disabled": true},
        });
        if let Some(keyboard) = keyboard {
            body["reply_markup"] = keyboard.clone();
        }
        self.call("sendMessage", &body, None).await.map(drop)
    }
}

impl TelegramNotifier {
    /// Sends `text` as plain text to `chat` (the bot's answers), in parts of at most 4,096
    /// characters, within the bot's overall limit. An answer follows a message of the chat's
    /// own, so it is not spaced like a burst of alerts (Telegram allows such short bursts).
    ///
    /// # Errors
    /// As [`call`](Self::call).
    pub(crate) async fn reply(&self, chat: i64, text: &str) -> Result<(), NotifyError> {
        for part in split(text, MAX_MESSAGE) {
            self.overall.acquire().await;
            self.call(
                "sendMessage",
                &json!({
                    "chat_id": chat,
                    "text": part,
                    "link_preview_options": {"is_disabled": true},
                }),
                None,
            )
            .await?;
        }
        Ok(())
    }
}

/// `text` cut to a Telegram message's 4,096 characters.
pub(crate) fn truncate(text: &str) -> String {
    text.chars().take(MAX_MESSAGE).collect()
}

type ChatPaces = Arc<Mutex<HashMap<String, Instant>>>;
/// One bot's pace: overall, and per chat.
type Pace = (Arc<RateLimiter>, ChatPaces);

/// The pace of one bot, shared by every notifier of its token in the process (the alert
/// sender and the bot's answers): Telegram's limits are per bot.
fn pacing(token: &Secret) -> Pace {
    use sha2::Digest as _;
    static PACES: std::sync::OnceLock<std::sync::Mutex<HashMap<Vec<u8>, Pace>>> =
        std::sync::OnceLock::new();
    let key = sha2::Sha256::digest(token.expose().as_bytes()).to_vec();
    let mut paces = PACES
        .get_or_init(Default::default)
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    paces
        .entry(key)
        .or_insert_with(|| {
            (
                Arc::new(RateLimiter::new(
                    PER_SECOND,
                    Duration::from_secs(1),
                    PER_SECOND,
                )),
                Arc::default(),
            )
        })
        .clone()
}

/// The inline keyboard of a message's actions, two buttons a row, each pressing sending its
/// token back as `callback_data` (which the bot acts on).
pub(crate) fn keyboard(actions: &[crate::service::MessageAction]) -> Option<serde_json::Value> {
    if actions.is_empty() {
        return None;
    }
    let rows: Vec<serde_json::Value> = actions
        .chunks(2)
        .map(|pair| {
            pair.iter()
                .map(|a| json!({"text": a.label, "callback_data": a.token}))
                .collect()
        })
        .collect();
    Some(json!({"inline_keyboard": rows}))
}

/// Splits `text` into parts of at most `max` characters, at line ends where possible, never
/// inside an HTML entity.
pub(crate) fn split(text: &str, max: usize) -> Vec<String> {
    let mut parts = Vec::new();
    let mut current = String::new();
    let mut count = 0;
    for line in text.split_inclusive('\n') {
        let len = line.chars().count();
        if count + len <= max {
            current.push_str(line);
            count += len;
            continue;
        }
        if !current.is_empty() {
            parts.push(std::mem::take(&mut current));
        }
        // A line longer than a message: cut it, backing off an entity it would split.
        let mut rest: Vec<char> = line.chars().collect();
        while rest.len() > max {
            let mut cut = max;
            if let Some(amp) = rest[..cut].iter().rposition(|c| *c == '&')
                && !rest[amp..cut].contains(&';')
                && amp > 0
            {
                cut = amp;
            }
            parts.push(rest.drain(..cut).collect());
        }
        count = rest.len();
        current = rest.into_iter().collect();
    }
    if !current.is_empty() {
        parts.push(current);
    }
    parts
}

#[async_trait]
impl Notifier for TelegramNotifier {
    fn kind(&self) -> ChannelKind {
        ChannelKind::Telegram
    }

    async fn send(
        &self,
        channel: &NotificationChannel,
        message: &OutgoingMessage,
    ) -> Result<(), NotifyError> {
        let chat = channel
            .config
            .get("chat_id")
            .filter(|c| c.is_i64() || c.is_string())
            .cloned()
            .ok_or_else(|| NotifyError::Permanent("the Telegram channel has no chat_id".into()))?;
        let chat_key = chat.to_string();
        let parts = split(
            &crate::domain::text::escape_html(&message.text),
            MAX_MESSAGE,
        );
        let keyboard = keyboard(&message.actions);
        let last = parts.len().saturating_sub(1);
        for (i, part) in parts.iter().enumerate() {
            // The buttons go under the last part, where the reader ends.
            let buttons = keyboard.as_ref().filter(|_| i == last);
            self.send_part(&chat, &chat_key, part, message.silent, buttons)
                .await?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn groups_get_twenty_messages_a_minute_people_sixty() {
        let notifier = TelegramNotifier::new(
            url::Url::parse("http://127.0.0.1:9").unwrap(),
            Secret::new("t"),
            Duration::from_secs(1),
        )
        .unwrap();
        let minute = |chat: &'static str| {
            let notifier = notifier.clone();
            async move {
                let start = Instant::now();
                let mut sent = 0;
                while start.elapsed() < Duration::from_secs(60) {
                    notifier.pace(chat).await;
                    sent += 1;
                }
                sent
            }
        };
        // The first of the next minute's is counted too: 20 + 1 and 60 + 1.
        assert_eq!(minute("-1001234567890").await, 21);
        assert_eq!(minute("123456789").await, 61);
    }

    #[test]
    fn escapes_user_text() {
        assert_eq!(
            crate::domain::text::escape_html("AAPL < 200 & <b>x</b>"),
            "AAPL &lt; 200 &amp; &lt;b&gt;x&lt;/b&gt;"
        );
    }

    #[test]
    fn splits_at_lines_and_never_inside_an_entity() {
        let text = "line one\nline two\nline three\n";
        assert_eq!(split(text, 18), ["line one\nline two\n", "line three\n"]);
        let long = format!("{}&amp;{}", "a".repeat(8), "b".repeat(8));
        let parts = split(&long, 10);
        assert_eq!(parts[0], "aaaaaaaa");
        assert!(parts[1].starts_with("&amp;"), "{parts:?}");
        assert!(parts.iter().all(|p| p.chars().count() <= 10));
        assert_eq!(parts.concat(), long);
        let message = "x".repeat(10_000);
        let parts = split(&message, MAX_MESSAGE);
        assert_eq!(
            parts.iter().map(|p| p.len()).collect::<Vec<_>>(),
            [4_096, 4_096, 1_808]
        );
    }
}
