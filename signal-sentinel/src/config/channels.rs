//! Where the chat and push services with one fixed host are reached (Discord, Slack,
//! Pushover, the public ntfy server). Each is configurable so that a test, a proxy or a
//! self-hosted mirror can stand in; per-user servers (a self-hosted ntfy, Gotify, a Matrix
//! homeserver) are named in each channel's own URL instead.

use url::Url;

use super::vars::Vars;
use super::{ConfigError, invalid};

/// Base URLs of the notification services with a fixed host.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct ChannelSettings {
    /// `DISCORD_BASE_URL`, default `https://discord.com`: incoming webhooks are
    /// `{base}/api/webhooks/{id}/{token}`.
    pub discord_base_url: Url,
    /// `SLACK_BASE_URL`, default `https://hooks.slack.com`: incoming webhooks are
    /// `{base}/services/{a}/{b}/{c}`.
    pub slack_base_url: Url,
    /// `PUSHOVER_BASE_URL`, default `https://api.pushover.net`.
    pub pushover_base_url: Url,
    /// `NTFY_BASE_URL`, default `https://ntfy.sh`: the server of `ntfy://TOPIC` (a URL with a
    /// topic and no host).
    pub ntfy_base_url: Url,
    /// `SMTP_URL`: the server-wide SMTP server for e-mail channels that name only an address
    /// (`smtp://USER:PASSWORD@HOST[:PORT]` with STARTTLS, `smtps://…` with TLS, `?tls=none`
    /// for a local relay). Without it, e-mail channels must name their own server.
    pub smtp: Option<crate::notify::SmtpServer>,
    /// `SMTP_FROM`: the sender of e-mail sent through `SMTP_URL` (`alerts@example.com` or
    /// `Signal Sentinel <alerts@example.com>`).
    pub smtp_from: Option<String>,
    /// `PUBLIC_URL`: where people reach this server's dashboard, for links inside messages
    /// (`https://alerts.example.com`). Without it, messages carry no links.
    pub public_url: Option<Url>,
}

impl Default for ChannelSettings {
    fn default() -> Self {
        let url = |u: &str| Url::parse(u).expect("a valid default URL");
        Self {
            discord_base_url: url("https://discord.com"),
            slack_base_url: url("https://hooks.slack.com"),
            pushover_base_url: url("https://api.pushover.net"),
            ntfy_base_url: url("https://ntfy.sh"),
            smtp: None,
            smtp_from: None,
            public_url: None,
        }
    }
}

impl ChannelSettings {
    pub(super) fn read(vars: &Vars) -> Result<Self, ConfigError> {
        Ok(Self {
            discord_base_url: vars.base_url("DISCORD_BASE_URL", "https://discord.com")?,
            slack_base_url: vars.base_url("SLACK_BASE_URL", "https://hooks.slack.com")?,
            pushover_base_url: vars.base_url("PUSHOVER_BASE_URL", "https://api.pushover.net")?,
            ntfy_base_url: vars.base_url("NTFY_BASE_URL", "https://ntfy.sh")?,
            smtp: match vars.secret("SMTP_URL") {
                Some(url) => Some(
                    crate::notify::SmtpServer::parse(url.expose())
                        .map_err(|e| invalid("SMTP_URL", e))?,
                ),
                None => None,
            },
            smtp_from: match vars.get("SMTP_FROM") {
                Some(from) if from.parse::<lettre::message::Mailbox>().is_err() => {
                    return Err(invalid(
                        "SMTP_FROM",
                        "expected an address like alerts@example.com or Name <alerts@example.com>",
                    ));
                }
                other => other,
            },
            public_url: match vars.get("PUBLIC_URL") {
                Some(_) => Some(vars.base_url("PUBLIC_URL", "")?),
                None => None,
            },
        })
    }
}
