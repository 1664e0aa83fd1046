//! E-mail against a real SMTP conversation: a small SMTP server on loopback (greeting, EHLO
//! with AUTH, AUTH PLAIN, MAIL/RCPT/DATA with dot-terminated data, QUIT) that can refuse the
//! login, be busy, or go away in the middle of a message.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use base64::Engine;
use serde_json::json;
use signal_sentinel::Secret;
use signal_sentinel::domain::{
    ChannelId, ChannelKind, DeliveryEvent, DeliveryId, NotificationChannel, UserId,
};
use signal_sentinel::notify::{
    EmailNotifier, Notifier, NotifyError, OutgoingMessage, SmtpSecurity, SmtpServer,
};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Behaviour {
    Accept,
    RefuseLogin,
    Busy,
    HangUpInData,
}

#[derive(Debug, Default, Clone)]
pub(crate) struct Received {
    pub(crate) login: Option<String>,
    pub(crate) from: String,
    pub(crate) to: Vec<String>,
    pub(crate) data: String,
}

pub(crate) struct Smtp {
    pub(crate) port: u16,
    pub(crate) received: Arc<Mutex<Vec<Received>>>,
}

impl Smtp {
    pub(crate) async fn start(behaviour: Behaviour) -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let received = Arc::new(Mutex::new(Vec::new()));
        let store = received.clone();
        tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                tokio::spawn(session(stream, behaviour, store.clone()));
            }
        });
        Self { port, received }
    }

    pub(crate) fn received(&self) -> Vec<Received> {
        self.received.lock().unwrap().clone()
    }
}

async fn session(
    stream: tokio::net::TcpStream,
    behaviour: Behaviour,
    received: Arc<Mutex<Vec<Received>>>,
) -> std::io::Result<()> {
    let (read, mut write) = stream.into_split();
    let mut lines = BufReader::new(read).lines();
    write.write_all(b"220 mock.example ESMTP ready\r\n").await?;
    let mut current = Received::default();
    while let Some(line) = lines.next_line().await? {
        let upper = line.to_ascii_uppercase();
        let reply: &[u8] = if upper.starts_with("EHLO") {
            b"250-mock.example\r\n250-AUTH PLAIN LOGIN\r\n250 8BITMIME\r\n"
        } else if let Some(rest) = upper.strip_prefix("AUTH PLAIN") {
            let encoded = if rest.trim().is_empty() {
                write.write_all(b"334 \r\n").await?;
                lines.next_line().await?.unwrap_or_default()
            } else {
                line[10..].trim().to_owned()
            };
            let decoded = base64::engine::general_purpose::STANDARD
                .decode(encoded.trim())
                .unwrap_or_default();
            current.login = Some(String::from_utf8_lossy(&decoded).replace('\0', "|"));
            if behaviour == Behaviour::RefuseLogin {
                b"535 5.7.8 Authentication credentials invalid\r\n"
            } else {
                b"235 2.7.0 Authentication successful\r\n"
            }
        } else if upper.starts_with("MAIL FROM:") {
            current.from = line[10..].trim().to_owned();
            if behaviour == Behaviour::Busy {
                b"451 4.3.0 Mail server temporarily busy, try again later\r\n"
            } else {
                b"250 2.1.0 OK\r\n"
            }
        } else if upper.starts_with("RCPT TO:") {
            current.to.push(line[8..].trim().to_owned());
            b"250 2.1.5 OK\r\n"
        } else if upper == "DATA" {
            write
                .write_all(b"354 End data with <CR><LF>.<CR><LF>\r\n")
                .await?;
            if behaviour == Behaviour::HangUpInData {
                let _ = lines.next_line().await?;
                return Ok(());
            }
            let mut data = String::new();
            while let Some(line) = lines.next_line().await? {
                if line == "." {
                    break;
                }
                data.push_str(line.strip_prefix('.').unwrap_or(&line));
                data.push('\n');
            }
            current.data = data;
            received.lock().unwrap().push(std::mem::take(&mut current));
            b"250 2.0.0 Ok: queued\r\n"
        } else if upper == "QUIT" {
            write.write_all(b"221 2.0.0 Bye\r\n").await?;
            return Ok(());
        } else {
            b"250 2.0.0 OK\r\n"
        };
        write.write_all(reply).await?;
    }
    Ok(())
}

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
