//! Channels named by one URL, as Apprise users write them: `ntfy://host/topic`,
//! `discord://ID/TOKEN`, `slack://T/B/X`, `gotify://host/TOKEN`, `pover://USER@TOKEN`,
//! `matrix://TOKEN@host/!room:server`, `tgram://CHAT_ID`, `https://…` (a signed webhook).
//!
//! A URL is parsed into the channel's kind, the settings it shows (server, topic, room …) and
//! the secret it keeps sealed (token, key); the URL itself is never stored, echoed or logged,
//! and no error quotes it.

use url::Url;

use super::channels::ChannelError;
use crate::Secret;
use crate::config::ChannelSettings;
use crate::domain::ChannelKind;

/// What a channel URL says.
#[derive(Debug, Clone)]
pub struct ChannelSpec {
    /// The kind of channel.
    pub kind: ChannelKind,
    /// The settings shown to the owner (never a secret).
    pub config: serde_json::Value,
    /// The credential (token, key), sealed when stored.
    pub secret: Option<Secret>,
    /// A name for the channel when the owner gives none.
    pub default_name: String,
}

/// The URL forms, for help texts and errors.
pub const FORMS: &str = "ntfy://[TOKEN@]HOST/TOPIC (ntfys:// for https, ntfy://TOPIC for the \
    public server), discord://WEBHOOK_ID/WEBHOOK_TOKEN, slack://T…/B…/X…, \
    gotify://HOST[/PATH]/APP_TOKEN (gotifys:// for https), pover://USER_KEY@APP_TOKEN, \
    matrix://ACCESS_TOKEN@HOMESERVER/!ROOM:SERVER or /%23ALIAS:SERVER (matrixs:// for https), \
    tgram://CHAT_ID, mailto://ADDRESS (through the server's SMTP_URL) or \
    mailto://USER:PASSWORD@SMTP_HOST[:PORT]?to=ADDRESS (mailtos:// for TLS), \
    https://… (a signed webhook)";

fn invalid(message: impl Into<String>) -> ChannelError {
    ChannelError::Invalid {
        field: "url",
        message: message.into(),
    }
}

/// `value` if it is 1 to `max` characters of letters, digits, `-` and `_`.
fn token<'a>(value: &'a str, what: &str, max: usize) -> Result<&'a str, ChannelError> {
    if value.is_empty()
        || value.len() > max
        || !value
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
    {
        return Err(invalid(format!(
            "{what}: expected 1 to {max} letters, digits, '-' or '_'"
        )));
    }
    Ok(value)
}

fn decoded(segment: &str) -> Result<String, ChannelError> {
    percent_encoding::percent_decode_str(segment)
        .decode_utf8()
        .map(std::borrow::Cow::into_owned)
        .map_err(|_| invalid("a part of the URL is not valid UTF-8"))
}

/// The path's segments, without empty ones.
fn segments(url: &Url) -> Vec<&str> {
    url.path_segments()
        .map(|s| s.filter(|p| !p.is_empty()).collect())
        .unwrap_or_default()
}

/// `http(s)://host[:port]` of a URL whose scheme says whether TLS is used.
fn server(url: &Url, tls: bool, path: &[&str]) -> Result<String, ChannelError> {
    let host = url
        .host_str()
        .filter(|h| !h.is_empty())
        .ok_or_else(|| invalid("the URL names no server"))?;
    let scheme = if tls { "https" } else { "http" };
    let port = url.port().map(|p| format!(":{p}")).unwrap_or_default();
    let path = path.iter().map(|p| format!("/{p}")).collect::<String>();
    let server = format!("{scheme}://{host}{port}{path}");
    Url::parse(&server).map_err(|_| invalid("the URL names no usable server"))?;
    Ok(server)
}

/// Parses a channel URL.
///
/// # Errors
/// [`ChannelError::Invalid`] naming `url`, saying what is wrong without quoting the URL.
pub fn parse(text: &str, settings: &ChannelSettings) -> Result<ChannelSpec, ChannelError> {
    let text = text.trim();
    if text.chars().count() > super::channels::MAX_URL_LEN {
        return Err(invalid(format!(
            "must be at most {} characters",
            super::channels::MAX_URL_LEN
        )));
    }
    let scheme = text
        .split_once("://")
        .map(|(s, _)| s.to_ascii_lowercase())
        .ok_or_else(|| invalid(format!("expected a channel URL: {FORMS}")))?;
    if scheme == "tgram" {
        return telegram(&text[text.find("://").unwrap_or(0) + 3..]);
    }
    let url = Url::parse(text).map_err(|_| invalid("this is not a URL that can be read"))?;
    match scheme.as_str() {
        "ntfy" | "ntfys" => ntfy(&url, scheme == "ntfys", settings),
        "discord" => discord(url.host_str().unwrap_or_default(), &segments(&url)),
        "slack" => {
            let mut parts = vec![url.host_str().unwrap_or_default()];
            parts.extend(segments(&url));
            slack(&parts)
        }
        "gotify" | "gotifys" => gotify(&url, scheme == "gotifys"),
        "pover" => pushover(&url),
        "matrix" | "matrixs" => matrix(&url, scheme == "matrixs"),
        "http" | "https" => {
            let host = url.host_str().unwrap_or_default().to_ascii_lowercase();
            let parts = segments(&url);
            match (host.as_str(), parts.as_slice()) {
                ("discord.com" | "discordapp.com", ["api", "webhooks", id, token]) => {
                    discord(id, &[token])
                }
                ("hooks.slack.com", ["services", rest @ ..]) => slack(rest),
                _ => Ok(ChannelSpec {
                    kind: ChannelKind::Webhook,
                    config: serde_json::json!({"url": url.as_str()}),
                    secret: None,
                    default_name: format!("webhook {host}"),
                }),
            }
        }
        "mailto" | "mailtos" => email(&url, text, settings),
        _ => Err(invalid(format!(
            "unknown kind of channel {scheme:?}; expected one of: {FORMS}"
        ))),
    }
}

fn email(url: &Url, text: &str, settings: &ChannelSettings) -> Result<ChannelSpec, ChannelError> {
    let address = |value: &str, what: &str| -> Result<String, ChannelError> {
        value
            .parse::<lettre::message::Mailbox>()
            .map(|m| m.email.to_string())
            .map_err(|_| invalid(format!("the {what} address is not an e-mail address")))
    };
    let query = |key: &str| {
        url.query_pairs()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.into_owned())
    };
    match query("to") {
        // mailto://ADDRESS: through the server's own SMTP.
        None => {
            if settings.smtp.is_none() {
                return Err(invalid(
                    "this server sends no e-mail of its own (no SMTP_URL): name your server, \
                     mailto://USER:PASSWORD@SMTP_HOST?to=ADDRESS",
                ));
            }
            let user = decoded(url.username())?;
            let to = address(
                &format!("{user}@{}", url.host_str().unwrap_or_default()),
                "to",
            )?;
            Ok(ChannelSpec {
                kind: ChannelKind::Email,
                config: serde_json::json!({"to": to}),
                secret: None,
                default_name: format!("email {to}"),
            })
        }
        // mailto://USER:PASSWORD@SMTP_HOST?to=ADDRESS: the user's own server.
        Some(to) => {
            let to = address(&to, "to")?;
            let server = crate::notify::SmtpServer::parse(text).map_err(invalid)?;
            let user = server.user.clone().unwrap_or_default();
            let from = match query("from") {
                Some(from) => address(&from, "from")?,
                None if user.contains('@') => address(&user, "from")?,
                None => address(&format!("{user}@{}", server.host), "from")?,
            };
            let mut config = server.to_config();
            config["to"] = serde_json::json!(to);
            config["from"] = serde_json::json!(from);
            Ok(ChannelSpec {
                kind: ChannelKind::Email,
                config,
                secret: server.password,
                default_name: format!("email {to}"),
            })
        }
    }
}

fn telegram(rest: &str) -> Result<ChannelSpec, ChannelError> {
    let chat = rest.trim_end_matches('/');
    if chat.contains('/') {
        return Err(invalid(
            "this server sends through its own bot (TELEGRAM_BOT_TOKEN): write tgram://CHAT_ID",
        ));
    }
    Ok(ChannelSpec {
        kind: ChannelKind::Telegram,
        config: serde_json::json!({"chat_id": chat}),
        secret: None,
        default_name: format!("telegram {chat}"),
    })
}

fn ntfy(url: &Url, tls: bool, settings: &ChannelSettings) -> Result<ChannelSpec, ChannelError> {
    let parts = segments(url);
    let (server, topic) = match parts.split_last() {
        // ntfy://TOPIC: the public server.
        None => (
            settings
                .ntfy_base_url
                .as_str()
                .trim_end_matches('/')
                .to_owned(),
            url.host_str().unwrap_or_default().to_owned(),
        ),
        Some((topic, prefix)) => (server(url, tls, prefix)?, (*topic).to_owned()),
    };
    let topic = token(&topic, "the ntfy topic", 64)?.to_owned();
    if url.password().is_some() {
        return Err(invalid(
            "ntfy: give an access token as ntfy://TOKEN@HOST/TOPIC, not a user and password",
        ));
    }
    let secret = match url.username() {
        "" => None,
        t => Some(Secret::new(token(
            &decoded(t)?,
            "the ntfy access token",
            128,
        )?)),
    };
    Ok(ChannelSpec {
        kind: ChannelKind::Ntfy,
        config: serde_json::json!({"server": server, "topic": topic}),
        secret,
        default_name: format!("ntfy {topic}"),
    })
}

fn discord(id: &str, rest: &[&str]) -> Result<ChannelSpec, ChannelError> {
    let [secret] = rest else {
        return Err(invalid("expected discord://WEBHOOK_ID/WEBHOOK_TOKEN"));
    };
    if id.is_empty() || id.len() > 32 || !id.chars().all(|c| c.is_ascii_digit()) {
        return Err(invalid("the Discord webhook id is a number"));
    }
    Ok(ChannelSpec {
        kind: ChannelKind::Discord,
        config: serde_json::json!({"webhook_id": id}),
        secret: Some(Secret::new(token(
            secret,
            "the Discord webhook token",
            256,
        )?)),
        default_name: "discord".into(),
    })
}

fn slack(parts: &[&str]) -> Result<ChannelSpec, ChannelError> {
    let [a, b, c] = parts else {
        return Err(invalid(
            "expected slack://T…/B…/X… (the three parts of the webhook)",
        ));
    };
    for part in [a, b, c] {
        token(part, "a part of the Slack webhook", 64)?;
    }
    Ok(ChannelSpec {
        kind: ChannelKind::Slack,
        config: serde_json::json!({"workspace": a}),
        secret: Some(Secret::new(format!("{a}/{b}/{c}"))),
        default_name: "slack".into(),
    })
}

fn gotify(url: &Url, tls: bool) -> Result<ChannelSpec, ChannelError> {
    let parts = segments(url);
    let Some((app_token, prefix)) = parts.split_last() else {
        return Err(invalid("expected gotify://HOST[/PATH]/APP_TOKEN"));
    };
    let server = server(url, tls, prefix)?;
    Ok(ChannelSpec {
        kind: ChannelKind::Gotify,
        config: serde_json::json!({"server": server}),
        secret: Some(Secret::new(token(
            app_token,
            "the Gotify application token",
            128,
        )?)),
        default_name: format!("gotify {}", url.host_str().unwrap_or_default()),
    })
}

fn pushover(url: &Url) -> Result<ChannelSpec, ChannelError> {
    let user = token(url.username(), "the Pushover user key", 64)?;
    let app = token(
        url.host_str().unwrap_or_default(),
        "the Pushover application token",
        64,
    )?;
    Ok(ChannelSpec {
        kind: ChannelKind::Pushover,
        config: serde_json::json!({}),
        secret: Some(Secret::new(format!("{user}@{app}"))),
        default_name: "pushover".into(),
    })
}

fn matrix(url: &Url, tls: bool) -> Result<ChannelSpec, ChannelError> {
    let access = decoded(url.username())?;
    if access.is_empty() || access.len() > 512 || access.chars().any(char::is_control) {
        return Err(invalid(
            "expected matrix://ACCESS_TOKEN@HOMESERVER/!ROOM:SERVER (the access token is missing)",
        ));
    }
    let parts = segments(url);
    let room = match (parts.as_slice(), url.fragment()) {
        ([], Some(alias)) => format!("#{}", decoded(alias)?),
        ([room], None) => decoded(room)?,
        _ => {
            return Err(invalid(
                "expected one room: /!ROOM_ID:SERVER or /%23ALIAS:SERVER",
            ));
        }
    };
    if !(room.starts_with('!') || room.starts_with('#'))
        || !room.contains(':')
        || room.len() > 255
        || room.chars().any(|c| c.is_control() || c.is_whitespace())
    {
        return Err(invalid(
            "the Matrix room is a room id (!abc:example.org) or an alias (#room:example.org)",
        ));
    }
    Ok(ChannelSpec {
        kind: ChannelKind::Matrix,
        config: serde_json::json!({"homeserver": server(url, tls, &[])?, "room": room}),
        secret: Some(Secret::new(access)),
        default_name: format!("matrix {room}"),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(url: &str) -> ChannelSpec {
        parse(url, &ChannelSettings::default()).unwrap()
    }

    fn error(url: &str) -> String {
        parse(url, &ChannelSettings::default())
            .unwrap_err()
            .to_string()
    }

    #[test]
    fn ntfy_urls() {
        let s = spec("ntfy://ntfy.example.com/my-topic");
        assert_eq!(s.kind, ChannelKind::Ntfy);
        assert_eq!(
            s.config,
            serde_json::json!({"server": "http://ntfy.example.com", "topic": "my-topic"})
        );
        assert!(s.secret.is_none());
        let s = spec("ntfys://tk_abc123@push.example.com:8443/alerts");
        assert_eq!(s.config["server"], "https://push.example.com:8443");
        assert_eq!(s.secret.unwrap().expose(), "tk_abc123");
        let s = spec("ntfy://just-a-topic");
        assert_eq!(
            s.config,
            serde_json::json!({"server": "https://ntfy.sh", "topic": "just-a-topic"})
        );
        assert!(error("ntfy://host/bad%20topic").contains("topic"));
        assert!(error("ntfy://user:pass@host/t").contains("access token"));
    }

    #[test]
    fn discord_and_slack_urls_in_both_spellings() {
        for url in [
            "discord://123456789/abcDEF_-123",
            "https://discord.com/api/webhooks/123456789/abcDEF_-123",
        ] {
            let s = spec(url);
            assert_eq!(s.kind, ChannelKind::Discord, "{url}");
            assert_eq!(s.config, serde_json::json!({"webhook_id": "123456789"}));
            assert_eq!(s.secret.unwrap().expose(), "abcDEF_-123");
        }
        for url in [
            "slack://T0001/B0002/XXXXsecret",
            "https://hooks.slack.com/services/T0001/B0002/XXXXsecret",
        ] {
            let s = spec(url);
            assert_eq!(s.kind, ChannelKind::Slack, "{url}");
            assert_eq!(s.config, serde_json::json!({"workspace": "T0001"}));
            assert_eq!(s.secret.unwrap().expose(), "T0001/B0002/XXXXsecret");
        }
        assert!(error("discord://notanumber/tok").contains("number"));
        assert!(error("slack://T/B").contains("three parts"));
    }

    #[test]
    fn gotify_pushover_matrix_telegram_and_webhooks() {
        let s = spec("gotifys://push.example.com/gotify/AbCdEf123");
        assert_eq!(s.config["server"], "https://push.example.com/gotify");
        assert_eq!(s.secret.unwrap().expose(), "AbCdEf123");
        let s = spec("pover://uQiRzpo4DXghDmr9QzzfQu27cmVRsG@azGDORePK8gMaC0QOYAMyEEuzJnyUi");
        assert_eq!(s.kind, ChannelKind::Pushover);
        assert_eq!(
            s.secret.unwrap().expose(),
            "uQiRzpo4DXghDmr9QzzfQu27cmVRsG@azGDORePK8gMaC0QOYAMyEEuzJnyUi"
        );
        let s = spec("matrixs://syt_token@matrix.example.org/!room:example.org");
        assert_eq!(
            s.config,
            serde_json::json!({"homeserver": "https://matrix.example.org", "room": "!room:example.org"})
        );
        assert_eq!(s.secret.unwrap().expose(), "syt_token");
        assert_eq!(
            spec("matrix://t@hs.example.org/#alerts:example.org").config["room"],
            "#alerts:example.org"
        );
        assert_eq!(
            spec("matrix://t@hs.example.org/%23alerts:example.org").config["room"],
            "#alerts:example.org"
        );
        assert!(error("matrix://hs.example.org/!r:x").contains("access token"));
        assert_eq!(spec("tgram://-100123456").config["chat_id"], "-100123456");
        assert!(error("tgram://123:AAbottoken/456").contains("own bot"));
        let s = spec("https://hooks.example.com/alerts");
        assert_eq!(s.kind, ChannelKind::Webhook);
        assert!(error("mailto://me@example.com").contains("no SMTP_URL"));
        let s = spec("mailtos://ann%40example.com:pw@smtp.example.com?to=me@example.com");
        assert_eq!(s.kind, ChannelKind::Email);
        assert_eq!(
            s.config,
            serde_json::json!({"to": "me@example.com", "from": "ann@example.com",
                "smtp_host": "smtp.example.com", "smtp_port": 465, "smtp_security": "tls",
                "smtp_user": "ann@example.com"})
        );
        assert_eq!(s.secret.unwrap().expose(), "pw");
        let with_smtp = ChannelSettings {
            smtp: Some(crate::notify::SmtpServer::parse("smtp://relay.example.com").unwrap()),
            ..ChannelSettings::default()
        };
        let s = parse("mailto://me@example.com", &with_smtp).unwrap();
        assert_eq!(s.config, serde_json::json!({"to": "me@example.com"}));
        assert!(error("mailto://u:p@smtp.example.com?to=not-an-address").contains("to address"));
        assert!(error("foo://bar").contains("unknown kind"));
        assert!(error("not a url").contains("expected a channel URL"));
    }

    #[test]
    fn errors_never_quote_the_url() {
        for url in [
            "discord://123/tok$secret",
            "slack://T1/B2/sec$ret",
            "gotify://host/",
            "pover://sec$ret@app",
            "matrix://sec%FFret@hs/!r:x",
        ] {
            let e = error(url);
            assert!(
                !e.contains("secret") && !e.contains("sec$ret"),
                "{url}: {e}"
            );
        }
    }
}
