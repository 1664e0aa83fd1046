//! Receiving Signal Sentinel's webhooks: check the signature before trusting the body.
//!
//! Each webhook request carries `X-Signal-Sentinel-Timestamp` (Unix seconds) and
//! `X-Signal-Sentinel-Signature: v1=<hex HMAC-SHA256(secret, "{timestamp}.{body}")>`, plus an
//! `Idempotency-Key` (the delivery id: the same when a delivery is sent again). A receiver:
//! 1. recomputes the HMAC over the raw body bytes and compares in constant time,
//! 2. refuses timestamps more than a few minutes away (replays),
//! 3. ignores an `Idempotency-Key` it has already handled.
//!
//! This program runs a tiny receiver on a local port, sends it a real signed webhook with the
//! library's own notifier, and shows the receiver accepting it and refusing a forged one.
//!
//! ```text
//! cargo run -p examples --example verify_webhook
//! ```

use std::time::Duration;

use signal_sentinel::Secret;
use signal_sentinel::domain::{
    ChannelId, ChannelKind, DeliveryEvent, DeliveryId, NotificationChannel, UserId,
};
use signal_sentinel::notify::{
    Notifier, OutgoingMessage, SIGNATURE_HEADER, TIMESTAMP_HEADER, WebhookNotifier, verify,
};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

const SECRET: &str = "whsec-example-0123456789abcdef";

/// Reads one HTTP request: its headers (lower-cased names) and raw body.
async fn read_request(
    stream: &mut tokio::net::TcpStream,
) -> anyhow::Result<(Vec<(String, String)>, Vec<u8>)> {
    let mut buffer = Vec::new();
    let mut chunk = [0u8; 4096];
    let header_end = loop {
        let n = stream.read(&mut chunk).await?;
        anyhow::ensure!(n > 0, "connection closed early");
        buffer.extend_from_slice(&chunk[..n]);
        if let Some(at) = buffer.windows(4).position(|w| w == b"\r\n\r\n") {
            break at + 4;
        }
    };
    let head = String::from_utf8_lossy(&buffer[..header_end]).into_owned();
    let headers: Vec<(String, String)> = head
        .lines()
        .skip(1)
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_owned()))
        .collect();
    let length: usize = headers
        .iter()
        .find(|(k, _)| k == "content-length")
        .and_then(|(_, v)| v.parse().ok())
        .unwrap_or(0);
    let mut body = buffer[header_end..].to_vec();
    while body.len() < length {
        let n = stream.read(&mut chunk).await?;
        anyhow::ensure!(n > 0, "connection closed early");
        body.extend_from_slice(&chunk[..n]);
    }
    Ok((headers, body))
}

/// The receiver's check.
fn accept(headers: &[(String, String)], body: &[u8]) -> bool {
    let get = |name: &str| {
        headers
            .iter()
            .find(|(k, _)| k == &name.to_ascii_lowercase())
            .map(|(_, v)| v.as_str())
    };
    let (Some(timestamp), Some(signature)) = (
        get(TIMESTAMP_HEADER).and_then(|t| t.parse().ok()),
        get(SIGNATURE_HEADER),
    ) else {
        return false;
    };
    let now = chrono::Utc::now().timestamp();
    verify(
        SECRET.as_bytes(),
        timestamp,
        body,
        signature,
        now,
        Duration::from_secs(300),
    )
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> anyhow::Result<()> {
    let listener = TcpListener::bind("127.0.0.1:0").await?;
    let url = format!("http://{}/hooks/signal-sentinel", listener.local_addr()?);
    let receiver = tokio::spawn(async move {
        let mut verdicts = Vec::new();
        for _ in 0..2 {
            let (mut stream, _) = listener.accept().await?;
            let (headers, body) = read_request(&mut stream).await?;
            let ok = accept(&headers, &body);
            let status = if ok {
                "204 No Content"
            } else {
                "401 Unauthorized"
            };
            stream
                .write_all(format!("HTTP/1.1 {status}\r\ncontent-length: 0\r\n\r\n").as_bytes())
                .await?;
            verdicts.push((ok, String::from_utf8_lossy(&body).into_owned()));
        }
        anyhow::Ok(verdicts)
    });

    let channel = |secret: &str| NotificationChannel {
        id: ChannelId::new(1),
        owner: UserId::new(1),
        name: "example".into(),
        kind: ChannelKind::Webhook,
        config: serde_json::json!({"url": url}),
        secret: Some(Secret::new(secret)),
        enabled: true,
        created_at: chrono::Utc::now(),
        updated_at: chrono::Utc::now(),
        last_ok_at: None,
        last_error: None,
    };
    let message = OutgoingMessage {
        delivery_id: DeliveryId::new(42),
        event: DeliveryEvent::Fired,
        text: "AAPL crosses above 200: now 201.50".into(),
        alert: None,
        silent: false,
        actions: Vec::new(),
        priority: None,
    };
    let notifier = WebhookNotifier::new(Duration::from_secs(5)).map_err(anyhow::Error::msg)?;
    // Signed with the right secret: accepted.
    notifier.send(&channel(SECRET), &message).await?;
    // Signed with another secret (a forger's): refused, and permanently so for the sender.
    let forged = notifier
        .send(&channel("not-the-secret-at-all"), &message)
        .await;
    for (ok, body) in receiver.await?? {
        println!("{} {body}", if ok { "accepted:" } else { "refused: " });
    }
    println!(
        "sender saw for the forged one: {}",
        forged.map_or_else(|e| e.to_string(), |()| "ok".into())
    );
    Ok(())
}
