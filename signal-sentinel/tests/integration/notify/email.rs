//! E-mail against a real SMTP conversation: a small SMTP server on loopback (greeting, EHLO
//! with AUTH, AUTH PLAIN, MAIL/RCPT/DATA with dot-terminated data, QUIT) that can refuse the
//! login, be busy, or go away in the middle of a message.

use std::time::Duration;

use serde_json::json;
use signal_sentinel::Secret;
use signal_sentinel::domain::{
    ChannelId, ChannelKind, DeliveryEvent, DeliveryId, NotificationChannel, UserId,
};
use signal_sentinel::notify::{
    EmailNotifier, Notifier, NotifyError, OutgoingMessage, SmtpSecurity, SmtpServer,
};
use test_support::smtp::{Behaviour, Smtp};

fn server(port: u16) -> SmtpServer {
    SmtpServer {
        host: "127.0.0.1".into(),
        port,
        security: SmtpSecurity::None,
        user: Some("relay-user".into()),
        password: Some(Secret::new("relay-pass-do-not-leak")),
    }
}

fn notifier(port: u16) -> EmailNotifier {
    EmailNotifier::new(
        Some(server(port)),
        Some("Signal Sentinel <alerts@example.com>".into()),
        Duration::from_secs(5),
        Some(url::Url::parse("https://alerts.example.com").unwrap()),
    )
}

fn to(address: &str) -> NotificationChannel {
    NotificationChannel {
        id: ChannelId::new(4),
        owner: UserId::new(1),
        name: "mail".into(),
        kind: ChannelKind::Email,
        config: json!({"to": address}),
        secret: None,
        enabled: true,
        created_at: chrono::Utc::now(),
        updated_at: chrono::Utc::now(),
        last_ok_at: None,
        last_error: None,
    }
}

fn message() -> OutgoingMessage {
    OutgoingMessage {
        delivery_id: DeliveryId::new(77),
        event: DeliveryEvent::System,
        text: "AAPL crosses above 200: now 201.50 <b>".into(),
        alert: None,
        silent: false,
        actions: Vec::new(),
        priority: None,
    }
}

#[tokio::test]
async fn sends_plain_text_and_html_through_the_servers_smtp() {
    let smtp = Smtp::start(Behaviour::Accept).await;
    notifier(smtp.port)
        .send(&to("me@example.com"), &message())
        .await
        .unwrap();
    let got = smtp.received();
    assert_eq!(got.len(), 1);
    let mail = &got[0];
    assert_eq!(
        mail.login.as_deref(),
        Some("|relay-user|relay-pass-do-not-leak")
    );
    assert_eq!(mail.from, "<alerts@example.com>");
    assert_eq!(mail.to, ["<me@example.com>"]);
    // The HTML part is quoted-printable: undo its soft line breaks and escaped '='.
    let data = mail.data.replace("=\n", "").replace("=3D", "=");
    for part in [
        "Subject: Signal Sentinel",
        "To: me@example.com",
        "Message-ID: <signal-sentinel.77@127.0.0.1>",
        "multipart/alternative",
        "Content-Type: text/plain",
        "Content-Type: text/html",
        "AAPL crosses above 200: now 201.50 <b>",
        "AAPL crosses above 200: now 201.50 &lt;b&gt;",
        "https://alerts.example.com/",
    ] {
        assert!(data.contains(part), "{part:?} not in:\n{data}");
    }
}

#[tokio::test]
async fn a_refused_login_is_permanent_and_never_shows_the_password() {
    let smtp = Smtp::start(Behaviour::RefuseLogin).await;
    let e = notifier(smtp.port)
        .send(&to("me@example.com"), &message())
        .await
        .unwrap_err();
    match e {
        NotifyError::Permanent(m) => {
            assert!(m.contains("535") || m.contains("credentials"), "{m}");
            assert!(!m.contains("relay-pass-do-not-leak"), "{m}");
        }
        other => panic!("{other:?}"),
    }
}

#[tokio::test]
async fn a_busy_server_and_one_that_goes_away_mid_message_are_retried() {
    for behaviour in [Behaviour::Busy, Behaviour::HangUpInData] {
        let smtp = Smtp::start(behaviour).await;
        let e = notifier(smtp.port)
            .send(&to("me@example.com"), &message())
            .await
            .unwrap_err();
        assert!(
            matches!(&e, NotifyError::Retry { .. }),
            "{behaviour:?}: {e:?}"
        );
        assert!(!e.to_string().contains("relay-pass-do-not-leak"));
        assert!(smtp.received().is_empty());
    }
}

#[tokio::test]
async fn without_a_server_the_channel_says_so() {
    let e = EmailNotifier::new(None, None, Duration::from_secs(1), None)
        .send(&to("me@example.com"), &message())
        .await
        .unwrap_err();
    assert!(matches!(e, NotifyError::Permanent(m) if m.contains("SMTP_URL")));
}

mod through_services {
    use signal_sentinel::Secret;
    use signal_sentinel::config::Settings;
    use signal_sentinel::service::{Principal, Services};
    use signal_sentinel::store::{ChannelStore, SeaStore};

    use super::{Behaviour, Smtp};

    #[tokio::test]
    async fn a_mailto_url_with_its_own_server_keeps_the_password_sealed() {
        let smtp = Smtp::start(Behaviour::Accept).await;
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}/e.db?mode=rwc", dir.path().display());
        let settings = Settings::from_vars([
            ("DATABASE_URL", url.as_str()),
            ("SECRET_KEY", "email-test-secret-key-0123456789abcdef"),
            (
                "SIGNAL_SENTINEL_DATA_DIR",
                &dir.path().display().to_string(),
            ),
        ])
        .unwrap();
        let services = Services::open(&settings).await.unwrap();
        let user = services
            .register(
                "ann@example.com",
                Secret::new("correct horse battery"),
                None,
            )
            .await
            .unwrap();
        let ann = Principal {
            user: user.id,
            api_key: None,
        };
        let (channel, shown) = services
            .add_channel_url(
                ann,
                &format!(
                    "mailto://ann%40example.com:mail-pass-xyz@127.0.0.1:{}?to=me@example.com&tls=none",
                    smtp.port
                ),
                None,
            )
            .await
            .unwrap();
        assert!(shown.is_none());
        assert_eq!(channel.name, "email me@example.com");
        let visible = serde_json::to_string(&channel).unwrap();
        assert!(!visible.contains("mail-pass-xyz"), "{visible}");
        let store = SeaStore::open(&settings.database_url).await.unwrap();
        let at_rest = store.get_channel(channel.id).await.unwrap().secret.unwrap();
        assert!(at_rest.expose().starts_with("v1.") && !at_rest.expose().contains("mail-pass"));
        let test = services.test_channel(ann, channel.id).await.unwrap();
        assert!(test.ok, "{:?}", test.error);
        let got = smtp.received();
        assert_eq!(
            got[0].login.as_deref(),
            Some("|ann@example.com|mail-pass-xyz")
        );
        assert_eq!(got[0].from, "<ann@example.com>");
        assert_eq!(got[0].to, ["<me@example.com>"]);
    }
}
