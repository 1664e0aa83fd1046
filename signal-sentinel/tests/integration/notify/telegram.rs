use std::time::Duration;

use serde_json::json;
use signal_sentinel::Secret;
use signal_sentinel::domain::{ChannelKind, NotificationChannel, UserId};
use signal_sentinel::notify::{Notifier, NotifyError, TelegramNotifier};
use wiremock::matchers::{body_partial_json, method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

use super::{TOKEN, message};
use crate::providers::Logs;

fn notifier(server: &MockServer) -> TelegramNotifier {
    TelegramNotifier::new(
        url::Url::parse(&server.uri()).unwrap(),
        Secret::new(TOKEN),
        Duration::from_secs(2),
    )
    .unwrap()
}

fn chat(id: i64) -> NotificationChannel {
    NotificationChannel {
        id: signal_sentinel::domain::ChannelId::new(1),
        owner: UserId::new(1),
        name: "phone".into(),
        kind: ChannelKind::Telegram,
        config: json!({"chat_id": id}),
        secret: None,
        enabled: true,
        created_at: chrono::Utc::now(),
        updated_at: chrono::Utc::now(),
        last_ok_at: None,
        last_error: None,
    }
}

fn ok() -> ResponseTemplate {
    ResponseTemplate::new(200).set_body_json(
        json!({"ok": true, "result": {"message_id": 42, "date": 1795813200,
        "chat": {"id": 123456789, "type": "private"}, "text": "…"}}),
    )
}

#[tokio::test]
async fn send_message_in_html_with_the_text_escaped() {
    let (logs, _guard) = Logs::capture();
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path(format!("/bot{TOKEN}/sendMessage")))
        .and(body_partial_json(json!({
            "chat_id": 123456789, "parse_mode": "HTML", "disable_notification": true,
            "text": "AAPL &lt; 200 &amp; falling: &lt;b&gt;now&lt;/b&gt;"
        })))
        .respond_with(ok())
        .expect(1)
        .mount(&server)
        .await;
    let mut m = message("AAPL < 200 & falling: <b>now</b>");
    m.silent = true;
    notifier(&server).send(&chat(123456789), &m).await.unwrap();
    let text = logs.text();
    assert!(text.contains("telegram sendMessage"), "{text}");
    assert!(
        !text.contains(TOKEN) && !text.contains("AAHsecretBotToken"),
        "token in logs: {text}"
    );
}

/// The pace itself (a message a second per chat, twenty a minute per group) is tested on
/// tokio's paused clock beside the notifier; here, that a long message goes as three parts.
#[tokio::test]
async fn long_messages_are_split_into_parts() {
    let server = MockServer::start().await;
    Mock::given(path(format!("/bot{TOKEN}/sendMessage")))
        .respond_with(ok())
        .expect(3)
        .mount(&server)
        .await;
    notifier(&server)
        .send(&chat(1), &message(&"x".repeat(10_000)))
        .await
        .unwrap();
    let parts: Vec<usize> = server
        .received_requests()
        .await
        .unwrap()
        .iter()
        .map(|r| {
            let body: serde_json::Value = serde_json::from_slice(&r.body).unwrap();
            body["text"].as_str().unwrap().chars().count()
        })
        .collect();
    assert_eq!(parts, [4_096, 4_096, 1_808]);
}

#[tokio::test]
async fn rate_limits_errors_and_refusals_are_classified_without_the_token() {
    let server = MockServer::start().await;
    Mock::given(path(format!("/bot{TOKEN}/sendMessage")))
        .and(body_partial_json(json!({"chat_id": 429})))
        .respond_with(
            ResponseTemplate::new(429).set_body_json(json!({"ok": false, "error_code": 429,
            "description": "Too Many Requests: retry after 5", "parameters": {"retry_after": 5}})),
        )
        .mount(&server)
        .await;
    Mock::given(path(format!("/bot{TOKEN}/sendMessage")))
        .and(body_partial_json(json!({"chat_id": 403})))
        .respond_with(
            ResponseTemplate::new(403).set_body_json(json!({"ok": false, "error_code": 403,
            "description": "Forbidden: bot was blocked by the user"})),
        )
        .mount(&server)
        .await;
    Mock::given(path(format!("/bot{TOKEN}/sendMessage")))
        .and(body_partial_json(json!({"chat_id": 400})))
        .respond_with(
            ResponseTemplate::new(400).set_body_json(json!({"ok": false, "error_code": 400,
            "description": "Bad Request: chat not found"})),
        )
        .mount(&server)
        .await;
    Mock::given(path(format!("/bot{TOKEN}/sendMessage")))
        .and(body_partial_json(json!({"chat_id": 500})))
        .respond_with(ResponseTemplate::new(502).set_body_string("Bad Gateway"))
        .mount(&server)
        .await;
    Mock::given(path(format!("/bot{TOKEN}/sendMessage")))
        .and(body_partial_json(json!({"chat_id": 504})))
        .respond_with(ok().set_delay(Duration::from_secs(5)))
        .mount(&server)
        .await;
    let n = notifier(&server);
    let send = |id| {
        let n = n.clone();
        async move { n.send(&chat(id), &message("hello")).await.unwrap_err() }
    };
    assert_eq!(
        send(429).await,
        NotifyError::Retry {
            message: "Telegram: Too Many Requests: retry after 5".into(),
            after: Some(Duration::from_secs(5))
        }
    );
    assert_eq!(
        send(403).await,
        NotifyError::Permanent("Telegram: Forbidden: bot was blocked by the user".into())
    );
    assert_eq!(
        send(400).await,
        NotifyError::Permanent("Telegram: Bad Request: chat not found".into())
    );
    assert_eq!(
        send(500).await,
        NotifyError::Retry {
            message: "Telegram: HTTP 502".into(),
            after: None
        }
    );
    assert_eq!(
        send(504).await,
        NotifyError::Retry {
            message: "Telegram timed out".into(),
            after: None
        }
    );
    // No channel or a closed port: never the token.
    let closed = TelegramNotifier::new(
        url::Url::parse("http://127.0.0.1:9").unwrap(),
        Secret::new(TOKEN),
        Duration::from_secs(2),
    )
    .unwrap();
    let err = closed
        .send(&chat(1), &message("hi"))
        .await
        .unwrap_err()
        .to_string();
    assert!(!err.contains(TOKEN) && !err.contains("AAHsecret"), "{err}");
    assert!(!format!("{n:?}").contains(TOKEN));
}
