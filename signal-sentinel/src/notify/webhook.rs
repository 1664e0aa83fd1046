use std::time::Duration;

use async_trait::async_trait;
use hmac::{Hmac, KeyInit, Mac};
use reqwest::{Client, StatusCode};
use serde_json::json;
use sha2::Sha256;

use super::{Notifier, NotifyError, OutgoingMessage};
use crate::domain::{ChannelKind, NotificationChannel};

/// Header with the Unix time (seconds) the request was signed at.
pub const TIMESTAMP_HEADER: &str = "X-Signal-Sentinel-Timestamp";
/// Header with the signature: `v1=` and the hex HMAC-SHA256 of `"{timestamp}.{body}"` keyed
/// with the channel's secret.
pub const SIGNATURE_HEADER: &str = "X-Signal-Sentinel-Signature";

/// The signature of a webhook request: `v1=<hex HMAC-SHA256(secret, "{timestamp}.{body}")>`.
pub fn sign(secret: &[u8], timestamp: i64, body: &[u8]) -> String {
    let mut mac = <Hmac<Sha256> as KeyInit>::new_from_slice(secret)
        .unwrap_or_else(|_| unreachable!("HMAC takes keys of any length"));
    mac.update(timestamp.to_string().as_bytes());
    mac.update(b".");
    mac.update(body);
    format!("v1={}", hex::encode(mac.finalize().into_bytes()))
}

/// Checks a received webhook: the signature matches (compared in constant time) and the
/// timestamp is within `tolerance` of `now` (so a captured request cannot be replayed later).
pub fn verify(
    secret: &[u8],
    timestamp: i64,
    body: &[u8],
    signature: &str,
    now: i64,
    tolerance: Duration,
) -> bool {
    if now.abs_diff(timestamp) > tolerance.as_secs() {
        return false;
    }
    let Some(hex_mac) = signature.strip_prefix("v1=") else {
        return false;
    };
    let Ok(given) = hex::decode(hex_mac) else {
        return false;
    };
    let mut mac = <Hmac<Sha256> as KeyInit>::new_from_slice(secret)
        .unwrap_or_else(|_| unreachable!("HMAC takes keys of any length"));
    mac.update(timestamp.to_string().as_bytes());
    mac.update(b".");
    mac.update(body);
    mac.verify_slice(&given).is_ok()
}

/// POSTs each message as signed JSON to the channel's URL.
///
/// Body: `{"id", "event", "text", "silent", "alert"}` (`alert` is null for digests and
/// notices). Headers: `Idempotency-Key` (the delivery id — the same on a resend),
/// [`TIMESTAMP_HEADER`], [`SIGNATURE_HEADER`]. Timeouts, connection errors, 429 and 5xx are
/// retried; any other 4xx is permanent.
#[derive(Debug, Clone)]
pub struct WebhookNotifier {
    client: Client,
}

impl WebhookNotifier {
    /// A notifier whose requests time out after `timeout`.
    ///
    /// # Errors
    /// [`BuildError::HttpClient`](crate::BuildError::HttpClient).
    pub fn new(timeout: Duration) -> Result<Self, crate::BuildError> {
        crate::market::ensure_crypto_provider();
        let client = Client::builder()
            .timeout(timeout)
            .user_agent(concat!("signal-sentinel/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| crate::BuildError::HttpClient(e.without_url()))?;
        Ok(Self { client })
    }
}

#[async_trait]
impl Notifier for WebhookNotifier {
    fn kind(&self) -> ChannelKind {
        ChannelKind::Webhook
    }

    async fn send(
        &self,
        channel: &NotificationChannel,
        message: &OutgoingMessage,
    ) -> Result<(), NotifyError> {
        let url = channel
            .config
            .get("url")
            .and_then(|u| u.as_str())
            .and_then(|u| url::Url::parse(u).ok())
            .ok_or_else(|| NotifyError::Permanent("the webhook has no valid URL".into()))?;
        let body = serde_json::to_vec(&json!({
            "id": message.delivery_id,
            "event": format!("alert.{}", message.event),
            "text": message.text,
            "silent": message.silent,
            "alert": message.alert,
            // Each with its page and the endpoint that acts on a POST, when PUBLIC_URL is set.
            "actions": message.actions,
        }))
        .map_err(|e| NotifyError::Permanent(e.to_string()))?;
        let timestamp = chrono::Utc::now().timestamp();
        let secret = channel
            .secret
            .as_ref()
            .map(|s| s.expose().as_bytes())
            .unwrap_or_default();
        let response = self
            .client
            .post(url)
            .header(reqwest::header::CONTENT_TYPE, "application/json")
            .header("Idempotency-Key", message.delivery_id.to_string())
            .header(TIMESTAMP_HEADER, timestamp.to_string())
            .header(SIGNATURE_HEADER, sign(secret, timestamp, &body))
            .body(body)
            .send()
            .await
            .map_err(|e| super::unanswered(e, "the webhook"))?;
        let status = response.status();
        tracing::debug!(channel = %channel.id, status = status.as_u16(), "webhook");
        if status.is_success() {
            return Ok(());
        }
        let message = format!("the webhook answered HTTP {}", status.as_u16());
        if status == StatusCode::TOO_MANY_REQUESTS || status.is_server_error() {
            let after = crate::market::retry_after_seconds(response.headers());
            Err(NotifyError::Retry { message, after })
        } else {
            Err(NotifyError::Permanent(message))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signatures_verify_and_expire() {
        let body = br#"{"id":1}"#;
        let sig = sign(b"whsec", 1_700_000_000, body);
        assert!(sig.starts_with("v1=") && sig.len() == 3 + 64);
        let tolerance = Duration::from_secs(300);
        assert!(verify(
            b"whsec",
            1_700_000_000,
            body,
            &sig,
            1_700_000_100,
            tolerance
        ));
        assert!(!verify(
            b"other",
            1_700_000_000,
            body,
            &sig,
            1_700_000_100,
            tolerance
        ));
        assert!(!verify(
            b"whsec",
            1_700_000_000,
            br#"{"id":2}"#,
            &sig,
            1_700_000_100,
            tolerance
        ));
        assert!(
            !verify(
                b"whsec",
                1_700_000_000,
                body,
                &sig,
                1_700_000_400,
                tolerance
            ),
            "too old"
        );
        assert!(!verify(
            b"whsec",
            1_700_000_000,
            body,
            "v1=zz",
            1_700_000_000,
            tolerance
        ));
    }
}
