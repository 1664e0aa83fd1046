//! What the HTTP notifiers share: how a message is titled and linked, how a channel's settings
//! and secret are read, and how a service's refusal maps onto the outbox (retry after the
//! service's own wait, or give up). Each notifier only formats and sends.

use std::time::Duration;

use reqwest::StatusCode;
use reqwest::header::HeaderMap;

use super::{NotifyError, OutgoingMessage};
use crate::domain::{DeliveryEvent, NotificationChannel};

/// Longest piece of a service's error text kept in a channel's last error.
const MAX_DETAIL: usize = 200;

/// What every HTTP channel notifier holds: a client (a timeout, our user agent, no redirects:
/// a redirect would carry a token to another host) and the dashboard's address for links.
#[derive(Debug, Clone)]
pub(crate) struct Sender {
    pub(crate) client: reqwest::Client,
    pub(crate) public_url: Option<url::Url>,
}

impl Sender {
    pub(crate) fn new(
        timeout: Duration,
        public_url: Option<url::Url>,
    ) -> Result<Self, crate::BuildError> {
        // One client per timeout for the whole process: building one loads the system's
        // certificate roots (tens of milliseconds), which every `invest` command would
        // otherwise pay once per channel kind. Clones share the client's connection pool.
        static CLIENTS: std::sync::Mutex<Vec<(Duration, reqwest::Client)>> =
            std::sync::Mutex::new(Vec::new());
        let mut clients = CLIENTS
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if let Some((_, client)) = clients.iter().find(|(t, _)| *t == timeout) {
            return Ok(Self {
                client: client.clone(),
                public_url,
            });
        }
        crate::market::ensure_crypto_provider();
        let client = reqwest::Client::builder()
            .timeout(timeout)
            .redirect(reqwest::redirect::Policy::none())
            .user_agent(concat!("signal-sentinel/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| crate::BuildError::HttpClient(e.without_url()))?;
        clients.push((timeout, client.clone()));
        Ok(Self { client, public_url })
    }

    /// The dashboard page of the message's alert, when the public address is known.
    pub(crate) fn link(&self, message: &OutgoingMessage) -> Option<String> {
        link(self.public_url.as_ref(), message)
    }
}

/// A service's answer that is not a success, read whole.
pub(crate) struct Refusal {
    status: StatusCode,
    headers: HeaderMap,
    body: String,
}

impl Refusal {
    /// The response itself for a success; else the refusal, read.
    pub(crate) async fn of(response: reqwest::Response) -> Result<reqwest::Response, Self> {
        let status = response.status();
        if status.is_success() {
            return Ok(response);
        }
        let headers = response.headers().clone();
        let body = response.text().await.unwrap_or_default();
        Err(Self {
            status,
            headers,
            body,
        })
    }

    /// The body as JSON, when it is.
    pub(crate) fn json(&self) -> Option<serde_json::Value> {
        serde_json::from_str(&self.body).ok()
    }

    /// The body as text.
    pub(crate) fn text(&self) -> &str {
        &self.body
    }

    /// What it means for the outbox: see [`refused`].
    pub(crate) fn error(
        &self,
        service: &str,
        asked: Option<Duration>,
        detail: Option<&str>,
        secret: Option<&str>,
    ) -> NotifyError {
        refused(service, self.status, &self.headers, asked, detail, secret)
    }
}

/// A one-line title: the symbol and what happened, or what the message is.
pub(crate) fn title(message: &OutgoingMessage) -> String {
    match (&message.alert, message.event) {
        (Some(alert), DeliveryEvent::Fired) => format!("{} alert", alert.symbol),
        (Some(alert), DeliveryEvent::Resolved) => format!("{} resolved", alert.symbol),
        (Some(alert), DeliveryEvent::System) => format!("{} rule changed", alert.symbol),
        (_, DeliveryEvent::Digest) => "Signal Sentinel digest".to_owned(),
        (_, DeliveryEvent::Test) => "Signal Sentinel test".to_owned(),
        _ => "Signal Sentinel".to_owned(),
    }
}

/// The dashboard's alerts of the message's symbol (or the dashboard), when the server's
/// public address is known.
pub(crate) fn link(public_url: Option<&url::Url>, message: &OutgoingMessage) -> Option<String> {
    let base = public_url?.as_str().trim_end_matches('/');
    Some(match &message.alert {
        Some(alert) => format!("{base}/#/alerts?symbol={}", alert.symbol),
        None => format!("{base}/"),
    })
}

/// A string setting of the channel.
pub(crate) fn setting<'a>(
    channel: &'a NotificationChannel,
    key: &str,
) -> Result<&'a str, NotifyError> {
    channel
        .config
        .get(key)
        .and_then(serde_json::Value::as_str)
        .ok_or_else(|| NotifyError::Permanent(format!("the {} channel has no {key}", channel.kind)))
}

/// The channel's (opened) secret.
pub(crate) fn secret(channel: &NotificationChannel) -> Result<&str, NotifyError> {
    channel
        .secret
        .as_ref()
        .map(crate::Secret::expose)
        .filter(|s| !s.is_empty())
        .ok_or_else(|| {
            NotifyError::Permanent(format!("the {} channel has no credentials", channel.kind))
        })
}

/// What a service's non-success answer means: 429, 408 and 5xx are retried after the wait the
/// service asked for (`asked`, read from its body, else `Retry-After`); any other answer is
/// permanent (bad credentials, an unknown webhook or room). `detail` is the service's own
/// words, cut short and scrubbed of `secret`.
fn refused(
    service: &str,
    status: StatusCode,
    headers: &HeaderMap,
    asked: Option<Duration>,
    detail: Option<&str>,
    secret: Option<&str>,
) -> NotifyError {
    let mut message = format!("{service} answered HTTP {}", status.as_u16());
    if let Some(detail) = detail.map(str::trim).filter(|d| !d.is_empty()) {
        let mut detail: String = detail.chars().take(MAX_DETAIL).collect();
        if let Some(secret) = secret.filter(|s| !s.is_empty()) {
            detail = detail.replace(secret, "[redacted]");
        }
        message = format!("{message}: {}", crate::domain::text::printable(&detail));
    }
    if status == StatusCode::TOO_MANY_REQUESTS
        || status == StatusCode::REQUEST_TIMEOUT
        || status.is_server_error()
    {
        NotifyError::Retry {
            message,
            after: asked.or_else(|| crate::market::retry_after_seconds(headers)),
        }
    } else {
        NotifyError::Permanent(message)
    }
}

/// A duration in (possibly fractional) seconds or milliseconds from a service's body, bounded
/// to a day (a wait longer than that is the outbox's business, not the service's).
pub(crate) fn seconds(value: Option<&serde_json::Value>, per_second: f64) -> Option<Duration> {
    let n = value?.as_f64()?;
    if !n.is_finite() || n < 0.0 {
        return None;
    }
    Duration::try_from_secs_f64((n / per_second).min(86_400.0)).ok()
}

/// The actions of a message that have a page to open (`PUBLIC_URL` set), as `(label, url)`.
pub(crate) fn action_links(message: &OutgoingMessage) -> Vec<(&'static str, &str)> {
    message
        .actions
        .iter()
        .filter_map(|a| Some((a.label, a.url.as_deref()?)))
        .collect()
}

/// The actions as Markdown links on one line: `[Acknowledge](…) · [Snooze 1 h](…)`.
pub(crate) fn markdown_actions(message: &OutgoingMessage) -> Option<String> {
    let links = action_links(message);
    (!links.is_empty()).then(|| {
        links
            .iter()
            .map(|(label, url)| format!("[{label}]({url})"))
            .collect::<Vec<_>>()
            .join(" · ")
    })
}
