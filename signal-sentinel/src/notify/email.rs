//! E-mail over SMTP (lettre on rustls): a plain-text and an HTML part, to the channel's
//! address, through the server-wide `SMTP_URL` or the channel's own server.

use std::time::Duration;

use async_trait::async_trait;
use lettre::message::{Mailbox, MultiPart};
use lettre::transport::smtp::AsyncSmtpTransport;
use lettre::transport::smtp::authentication::Credentials;
use lettre::transport::smtp::client::{Tls, TlsParameters};
use lettre::{AsyncTransport, Message, Tokio1Executor};

use super::http::{link, title};
use super::{Notifier, NotifyError, OutgoingMessage};
use crate::Secret;
use crate::domain::{ChannelKind, DeliveryEvent, NotificationChannel};

/// How the connection to an SMTP server is protected.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum SmtpSecurity {
    /// Plain connection upgraded with STARTTLS, which is required (`smtp://`, port 587).
    StartTls,
    /// TLS from the first byte (`smtps://`, port 465).
    Tls,
    /// No encryption (`?tls=none`): only for a relay on the same machine or network.
    None,
}

impl SmtpSecurity {
    fn as_str(self) -> &'static str {
        match self {
            Self::StartTls => "starttls",
            Self::Tls => "tls",
            Self::None => "none",
        }
    }

    fn parse(text: &str) -> Option<Self> {
        match text {
            "starttls" => Some(Self::StartTls),
            "tls" => Some(Self::Tls),
            "none" => Some(Self::None),
            _ => None,
        }
    }
}

/// An SMTP server and the account that sends through it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SmtpServer {
    /// Host name.
    pub host: String,
    /// Port.
    pub port: u16,
    /// Connection security.
    pub security: SmtpSecurity,
    /// The login, when the server asks for one.
    pub user: Option<String>,
    /// Its password (never printed).
    pub password: Option<Secret>,
}

impl SmtpServer {
    /// Reads `smtp://[USER:PASSWORD@]HOST[:PORT]` (STARTTLS, default port 587),
    /// `smtps://…` (TLS, 465), with `?tls=none` for a plain connection (default port 25).
    /// `mailto`/`mailtos` are read as `smtp`/`smtps`.
    ///
    /// # Errors
    /// A sentence saying what is wrong, never quoting the URL (it may hold a password).
    pub fn parse(text: &str) -> Result<Self, String> {
        let url = url::Url::parse(text.trim())
            .map_err(|_| "expected smtp://[USER:PASSWORD@]HOST[:PORT] or smtps://…".to_owned())?;
        let mut security = match url.scheme() {
            "smtp" | "mailto" => SmtpSecurity::StartTls,
            "smtps" | "mailtos" => SmtpSecurity::Tls,
            _ => return Err("expected smtp://[USER:PASSWORD@]HOST[:PORT] or smtps://…".into()),
        };
        for (key, value) in url.query_pairs() {
            match (key.as_ref(), value.as_ref()) {
                ("tls", "none") => security = SmtpSecurity::None,
                ("tls", "starttls") => security = SmtpSecurity::StartTls,
                ("tls", "tls") => security = SmtpSecurity::Tls,
                ("tls", _) => return Err("tls= is starttls, tls or none".into()),
                _ => {}
            }
        }
        let host = url
            .host_str()
            .filter(|h| !h.is_empty())
            .ok_or_else(|| "the URL names no SMTP server".to_owned())?
            .to_owned();
        let decode = |s: &str| {
            percent_encoding::percent_decode_str(s)
                .decode_utf8()
                .map(|c| c.into_owned())
                .map_err(|_| "the user or password is not valid UTF-8".to_owned())
        };
        let user = match url.username() {
            "" => None,
            u => Some(decode(u)?),
        };
        let password = url.password().map(decode).transpose()?.map(Secret::new);
        let port = url.port().unwrap_or(match security {
            SmtpSecurity::StartTls => 587,
            SmtpSecurity::Tls => 465,
            SmtpSecurity::None => 25,
        });
        Ok(Self {
            host,
            port,
            security,
            user,
            password,
        })
    }

    /// The settings a channel shows (everything but the password).
    pub(crate) fn to_config(&self) -> serde_json::Value {
        serde_json::json!({
            "smtp_host": self.host,
            "smtp_port": self.port,
            "smtp_security": self.security.as_str(),
            "smtp_user": self.user,
        })
    }

    /// The channel's own server, when it has one.
    fn from_channel(channel: &NotificationChannel) -> Result<Option<Self>, NotifyError> {
        let Some(host) = channel.config.get("smtp_host").and_then(|h| h.as_str()) else {
            return Ok(None);
        };
        let malformed =
            || NotifyError::Permanent("the e-mail channel's server is malformed".into());
        Ok(Some(Self {
            host: host.to_owned(),
            port: channel
                .config
                .get("smtp_port")
                .and_then(serde_json::Value::as_u64)
                .and_then(|p| u16::try_from(p).ok())
                .ok_or_else(malformed)?,
            security: channel
                .config
                .get("smtp_security")
                .and_then(|s| s.as_str())
                .and_then(SmtpSecurity::parse)
                .ok_or_else(malformed)?,
            user: channel
                .config
                .get("smtp_user")
                .and_then(|u| u.as_str())
                .map(str::to_owned),
            password: channel.secret.clone(),
        }))
    }

    fn transport(
        &self,
        timeout: Duration,
    ) -> Result<AsyncSmtpTransport<Tokio1Executor>, NotifyError> {
        let tls = |host: &str| {
            TlsParameters::new(host.to_owned())
                .map_err(|e| NotifyError::Permanent(format!("e-mail: TLS cannot be set up: {e}")))
        };
        let tls = match self.security {
            SmtpSecurity::StartTls => Tls::Required(tls(&self.host)?),
            SmtpSecurity::Tls => Tls::Wrapper(tls(&self.host)?),
            SmtpSecurity::None => Tls::None,
        };
        let mut builder = AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(&self.host)
            .port(self.port)
            .tls(tls)
            .timeout(Some(timeout));
        if let (Some(user), Some(password)) = (&self.user, &self.password) {
            builder =
                builder.credentials(Credentials::new(user.clone(), password.expose().to_owned()));
        }
        Ok(builder.build())
    }
}

/// Sends e-mail: `Subject` the message's title, a plain-text part and an HTML part (the text
/// escaped, a link to the dashboard when `PUBLIC_URL` is set), a `Message-ID` made from the
/// delivery. Through the channel's own SMTP server when it names one, else the server-wide
/// `SMTP_URL` and `SMTP_FROM`. The server's 5xx answers (a refused login, an unknown mailbox)
/// are permanent; 4xx answers, timeouts and broken connections are retried.
#[derive(Debug, Clone)]
pub struct EmailNotifier {
    server: Option<SmtpServer>,
    from: Option<String>,
    timeout: Duration,
    public_url: Option<url::Url>,
}

impl EmailNotifier {
    /// A notifier using `server` and `from` for channels without their own server.
    pub fn new(
        server: Option<SmtpServer>,
        from: Option<String>,
        timeout: Duration,
        public_url: Option<url::Url>,
    ) -> Self {
        Self {
            server,
            from,
            timeout,
            public_url,
        }
    }
}

fn escape(text: &str) -> String {
    crate::domain::text::escape_html(text).replace('\n', "<br>\n")
}

fn mailbox(address: &str, what: &str) -> Result<Mailbox, NotifyError> {
    address.parse().map_err(|_| {
        NotifyError::Permanent(format!("the e-mail channel's {what} address is not valid"))
    })
}

#[async_trait]
impl Notifier for EmailNotifier {
    fn kind(&self) -> ChannelKind {
        ChannelKind::Email
    }

    async fn send(
        &self,
        channel: &NotificationChannel,
        message: &OutgoingMessage,
    ) -> Result<(), NotifyError> {
        let to = super::http::setting(channel, "to")?;
        let own = SmtpServer::from_channel(channel)?;
        let server = own.as_ref().or(self.server.as_ref()).ok_or_else(|| {
            NotifyError::Permanent("this server has no SMTP_URL: e-mail cannot be sent".into())
        })?;
        let from = match &own {
            Some(_) => super::http::setting(channel, "from")?.to_owned(),
            None => self
                .from
                .clone()
                .ok_or_else(|| NotifyError::Permanent("this server has no SMTP_FROM".into()))?,
        };
        let title = title(message);
        let link = link(self.public_url.as_ref(), message);
        let actions = super::http::action_links(message);
        let mut plain = format!("{}\n", message.text);
        if !actions.is_empty() {
            plain.push('\n');
            for (label, url) in &actions {
                plain.push_str(&format!("{label}: {url}\n"));
            }
        }
        if let Some(link) = &link {
            plain.push_str(&format!("\nOpen in Signal Sentinel: {link}\n"));
        }
        let html_actions = if actions.is_empty() {
            String::new()
        } else {
            let anchors: Vec<String> = actions
                .iter()
                .map(|(label, url)| format!("<a href=\"{}\">{}</a>", escape(url), escape(label)))
                .collect();
            format!("<p>{}</p>", anchors.join(" &middot; "))
        };
        let html = format!(
            "<!doctype html><html><body><h2>{}</h2><p>{}</p>{html_actions}{}</body></html>",
            escape(&title),
            escape(&message.text),
            link.as_deref()
                .map(|l| format!(
                    "<p><a href=\"{}\">Open in Signal Sentinel</a></p>",
                    escape(l)
                ))
                .unwrap_or_default()
        );
        let id = match message.event {
            DeliveryEvent::Test => format!("test-{}", hex::encode(rand::random::<[u8; 8]>())),
            _ => message.delivery_id.to_string(),
        };
        let email = Message::builder()
            .from(mailbox(&from, "from")?)
            .to(mailbox(to, "to")?)
            .subject(title)
            .message_id(Some(format!("<signal-sentinel.{id}@{}>", server.host)))
            .multipart(MultiPart::alternative_plain_html(plain, html))
            .map_err(|e| NotifyError::Permanent(format!("e-mail: {e}")))?;
        let transport = server.transport(self.timeout)?;
        match transport.send(email).await {
            Ok(_) => Ok(()),
            Err(e) => {
                let secret = server
                    .password
                    .as_ref()
                    .map(Secret::expose)
                    .unwrap_or_default();
                let mut text = e.to_string();
                if !secret.is_empty() {
                    text = text.replace(secret, "[redacted]");
                }
                let text = format!("e-mail: {}", crate::domain::text::printable(&text));
                if e.is_permanent() {
                    Err(NotifyError::Permanent(text))
                } else {
                    Err(NotifyError::Retry {
                        message: text,
                        after: None,
                    })
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn smtp_urls() {
        let s = SmtpServer::parse("smtp://ann%40example.com:p%40ss@mail.example.com").unwrap();
        assert_eq!(s.host, "mail.example.com");
        assert_eq!((s.port, s.security), (587, SmtpSecurity::StartTls));
        assert_eq!(s.user.as_deref(), Some("ann@example.com"));
        assert_eq!(s.password.unwrap().expose(), "p@ss");
        let s = SmtpServer::parse("smtps://mail.example.com").unwrap();
        assert_eq!((s.port, s.security), (465, SmtpSecurity::Tls));
        let s = SmtpServer::parse("smtp://127.0.0.1:2525?tls=none").unwrap();
        assert_eq!((s.port, s.security), (2525, SmtpSecurity::None));
        let e = SmtpServer::parse("smtp://u:hunter2@host?tls=maybe").unwrap_err();
        assert!(!e.contains("hunter2"), "{e}");
        assert!(SmtpServer::parse("http://host").is_err());
    }
}
