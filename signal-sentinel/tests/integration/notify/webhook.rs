use std::time::Duration;

use serde_json::json;
use signal_sentinel::Secret;
use signal_sentinel::domain::{ChannelKind, NotificationChannel, UserId};
use signal_sentinel::notify::{
    Notifier, NotifyError, SIGNATURE_HEADER, TIMESTAMP_HEADER, WebhookNotifier, verify,
};
use wiremock::matchers::{header, method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

use super::{WEBHOOK_SECRET, message};

fn hook(url: &str) -> NotificationChannel {
    NotificationChannel {
        id: signal_sentinel::domain::ChannelId::new(2),
        owner: UserId::new(1),
        name: "hook".into(),
        kind: ChannelKind::Webhook,
        config: json!({"url": url}),
        secret: Some(Secret::new(WEBHOOK_SECRET)),
        enabled: true,
        created_at: chrono::Utc::now(),
        updated_at: chrono::Utc::now(),
        last_ok_at: None,
        last_error: None,
    }
}

fn notifier() -> WebhookNotifier {
    WebhookNotifier::new(Duration::from_secs(2)).unwrap()
}

#[tokio::test]
async fn posts_signed_json_with_an_idempotency_key() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/hooks/ss"))
        .and(header("Idempotency-Key", "7"))
        .and(header("content-type", "application/json"))
        .respond_with(ResponseTemplate::new(204))
        .expect(1)
        .mount(&server)
        .await;
    notifier()
        .send(
            &hook(&format!("{}/hooks/ss", server.uri())),
            &message("AAPL crosses above 200: now 201"),
        )
        .await
        .unwrap();
    let request = &server.received_requests().await.unwrap()[0];
    let timestamp: i64 = request
        .headers
        .get(TIMESTAMP_HEADER)
        .unwrap()
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    let signature = request
        .headers
        .get(SIGNATURE_HEADER)
        .unwrap()
        .to_str()
        .unwrap();
    let now = chrono::Utc::now().timestamp();
    assert!(verify(
        WEBHOOK_SECRET.as_bytes(),
        timestamp,
        &request.body,
        signature,
        now,
        Duration::from_secs(300)
    ));
    assert!(!verify(
        b"wrong",
        timestamp,
        &request.body,
        signature,
        now,
        Duration::from_secs(300)
    ));
    let body: serde_json::Value = serde_json::from_slice(&request.body).unwrap();
    assert_eq!(
        body,
        json!({"id": 7, "event": "alert.fired", "text": "AAPL crosses above 200: now 201", "silent": false, "alert": null, "actions": []})
    );
    assert!(!String::from_utf8_lossy(&request.body).contains(WEBHOOK_SECRET));
}

#[tokio::test]
async fn retries_server_errors_and_timeouts_not_other_refusals() {
    let server = MockServer::start().await;
    Mock::given(path("/500"))
        .respond_with(ResponseTemplate::new(500))
        .mount(&server)
        .await;
    Mock::given(path("/429"))
        .respond_with(ResponseTemplate::new(429).insert_header("retry-after", "30"))
        .mount(&server)
        .await;
    Mock::given(path("/410"))
        .respond_with(ResponseTemplate::new(410))
        .mount(&server)
        .await;
    Mock::given(path("/slow"))
        .respond_with(ResponseTemplate::new(200).set_delay(Duration::from_secs(5)))
        .mount(&server)
        .await;
    let send = |p: &'static str| {
        let url = format!("{}{p}", server.uri());
        async move {
            notifier()
                .send(&hook(&url), &message("x"))
                .await
                .unwrap_err()
        }
    };
    assert_eq!(
        send("/500").await,
        NotifyError::Retry {
            message: "the webhook answered HTTP 500".into(),
            after: None
        }
    );
    assert_eq!(
        send("/429").await,
        NotifyError::Retry {
            message: "the webhook answered HTTP 429".into(),
            after: Some(Duration::from_secs(30))
        }
    );
    assert_eq!(
        send("/410").await,
        NotifyError::Permanent("the webhook answered HTTP 410".into())
    );
    assert_eq!(
        send("/slow").await,
        NotifyError::Retry {
            message: "the webhook timed out".into(),
            after: None
        }
    );
    let err = notifier()
        .send(&hook("http://127.0.0.1:9/x"), &message("x"))
        .await
        .unwrap_err();
    assert_eq!(
        err,
        NotifyError::Retry {
            message: "cannot connect to the webhook".into(),
            after: None
        }
    );
    let mut broken = hook("not a url");
    broken.config = json!({});
    assert!(matches!(
        notifier().send(&broken, &message("x")).await.unwrap_err(),
        NotifyError::Permanent(_)
    ));
}
