//! `invest notifications …`

use std::process::ExitCode;

use signal_sentinel::domain::text::printable;

use serde_json::json;
use signal_sentinel::Secret;
use signal_sentinel::config::Settings;
use signal_sentinel::notify::{EventMode, PrefsPatch, QuietBehavior};
use signal_sentinel::service::ServiceError;

use crate::cli::NotificationsCommand;

use crate::output::{Style, Table, out, plain, styled};

pub(crate) async fn run(
    settings: &Settings,
    user: Option<&str>,
    command: NotificationsCommand,
    as_json: bool,
) -> anyhow::Result<ExitCode> {
    let (services, who, _) = super::services_as(settings, user).await?;
    match command {
        NotificationsCommand::AddTelegram { chat_id, name } => {
            let channel = services.add_telegram(who, &chat_id, name).await?;
            if settings.telegram.bot_token.is_none() {
                tracing::warn!(
                    "TELEGRAM_BOT_TOKEN is not set: messages to this channel wait until it is"
                );
            }
            print(
                as_json,
                json!(channel),
                &format!(
                    "added Telegram channel \"{}\" (#{})",
                    printable(&channel.name),
                    channel.id
                ),
            );
        }
        NotificationsCommand::Add { url, name } => {
            let (channel, secret) = services.add_channel_url(who, &url, name).await?;
            let mut text = format!(
                "added {} channel \"{}\" (#{})",
                channel.kind,
                printable(&channel.name),
                channel.id
            );
            if let Some(secret) = &secret {
                text.push_str(&format!(
                    "\nsigning secret (shown once; see docs/notifications.md to verify): {}",
                    secret.expose()
                ));
            }
            print(
                as_json,
                json!({"channel": channel, "secret": secret.as_ref().map(Secret::expose)}),
                &text,
            );
        }
        NotificationsCommand::AddWebhook { url, name, secret } => {
            let (channel, secret) = services
                .add_webhook(who, &url, name, secret.map(Secret::new))
                .await?;
            print(
                as_json,
                json!({"channel": channel, "secret": secret.expose()}),
                &format!(
                    "added webhook \"{}\" (#{})\nsigning secret (shown once; see docs/notifications.md to verify): {}",
                    channel.name,
                    channel.id,
                    secret.expose()
                ),
            );
        }
        NotificationsCommand::Rm { name } => {
            let channel = services
                .channel_named(who, &name)
                .await
                .map_err(|e| match e {
                    ServiceError::NotFound(_) => anyhow::anyhow!("no channel named {name:?}"),
                    other => other.into(),
                })?;
            services.delete_channel(who, channel.id).await?;
            print(
                as_json,
                json!({"removed": channel.name}),
                &format!("removed \"{}\"", channel.name),
            );
        }
        NotificationsCommand::Test => {
            let results = services.test_channels(who).await?;
            if as_json {
                out!("{}", json!(results));
            } else if results.is_empty() {
                out!(
                    "no channels: add one with `invest notifications add-telegram` or `add-webhook`"
                );
            } else {
                let mut table = Table::new(&["CHANNEL", "RESULT"]);
                for r in &results {
                    table.row([
                        plain(printable(&r.channel)),
                        match &r.error {
                            None => styled("ok", Style::Green),
                            Some(e) => styled(format!("FAILED: {}", printable(e)), Style::Red),
                        },
                    ]);
                }
                table.print();
            }
            return Ok(if results.iter().all(|r| r.ok) {
                ExitCode::SUCCESS
            } else {
                ExitCode::FAILURE
            });
        }
        NotificationsCommand::Status => {
            let (channels, pending) = services.list_channels(who).await?;
            if as_json {
                out!(
                    "{}",
                    json!({"channels": channels, "pending_deliveries": pending})
                );
            } else {
                let mut table =
                    Table::new(&["CHANNEL", "KIND", "ENABLED", "LAST SUCCESS", "LAST ERROR"]);
                for c in &channels {
                    table.row([
                        plain(printable(&c.name)),
                        plain(c.kind.as_str()),
                        if c.enabled {
                            styled("yes", Style::Green)
                        } else {
                            styled("no", Style::Dim)
                        },
                        plain(
                            c.last_ok_at
                                .map(signal_sentinel::time::format_utc)
                                .unwrap_or_else(|| "—".into()),
                        ),
                        c.last_error
                            .as_deref()
                            .map_or_else(|| plain("—"), |e| styled(printable(e), Style::Red)),
                    ]);
                }
                table.print();
                out!("{pending} deliveries waiting");
            }
        }
        NotificationsCommand::Prefs {
            fired,
            resolved,
            digest,
            system,
            quiet_hours,
            quiet_mode,
            digest_at,
            tz,
            summaries,
        } => {
            let mode = |name: &str, v: Option<String>| -> anyhow::Result<Option<EventMode>> {
                v.map(|v| match v.as_str() {
                    "on" => Ok(EventMode::On),
                    "silent" => Ok(EventMode::Silent),
                    "off" => Ok(EventMode::Off),
                    _ => Err(anyhow::anyhow!("--{name}: expected on, silent or off")),
                })
                .transpose()
            };
            let time = |name: &str, v: &str| {
                chrono::NaiveTime::parse_from_str(v, "%H:%M")
                    .map_err(|_| anyhow::anyhow!("--{name}: expected a time like 18:00"))
            };
            let quiet_hours = match quiet_hours.as_deref() {
                None => None,
                Some("off") => Some(None),
                Some(q) => {
                    let (start, end) = q.split_once('-').ok_or_else(|| {
                        anyhow::anyhow!("--quiet-hours: expected a range like 22:00-07:00, or off")
                    })?;
                    Some(Some((
                        time("quiet-hours", start)?,
                        time("quiet-hours", end)?,
                    )))
                }
            };
            let quiet_mode = match quiet_mode.as_deref() {
                None => None,
                Some("silent") => Some(QuietBehavior::Silent),
                Some("hold") => Some(QuietBehavior::Hold),
                Some(_) => anyhow::bail!("--quiet-mode: expected silent or hold"),
            };
            let digest_at = match digest_at.as_deref() {
                None => None,
                Some("off") => Some(None),
                Some(d) => Some(Some(time("digest-at", d)?)),
            };
            let patch = PrefsPatch {
                fired: mode("fired", fired)?,
                resolved: mode("resolved", resolved)?,
                digest: mode("digest", digest)?,
                system: mode("system", system)?,
                quiet_hours,
                quiet_mode,
                digest_at,
                time_zone: tz,
                summaries: summaries.map(|v| v == "on"),
                muted_until: None,
            };
            let prefs = services
                .update_notification_prefs(who, patch)
                .await
                .map_err(|e| match e {
                    ServiceError::Invalid { field, message } if field == "quiet_mode" => {
                        anyhow::anyhow!("--quiet-mode {message}: --quiet-hours 22:00-07:00")
                    }
                    ServiceError::Invalid { field, message } if field == "time_zone" => {
                        anyhow::anyhow!("--tz: {message}")
                    }
                    other => other.into(),
                })?;
            let shown = serde_json::to_value(&prefs).unwrap_or_default();
            print(
                as_json,
                shown.clone(),
                &serde_json::to_string_pretty(&shown).unwrap_or_default(),
            );
        }
        NotificationsCommand::Set {
            name,
            enabled,
            resolved,
        } => {
            let channel = services.channel_named(who, &name).await?;
            let on = |v: Option<String>| v.map(|v| v == "on");
            let channel = services
                .change_channel(who, channel.id, on(enabled), on(resolved))
                .await?;
            print(
                as_json,
                json!(channel),
                &format!(
                    "channel \"{}\": {}, resolved notices {}",
                    printable(&channel.name),
                    if channel.enabled { "on" } else { "off" },
                    if channel.sends_resolved() {
                        "on"
                    } else {
                        "off"
                    },
                ),
            );
        }
        NotificationsCommand::LinkTelegram => {
            if settings.telegram.bot_token.is_none() {
                tracing::warn!("TELEGRAM_BOT_TOKEN is not set: no bot will read the code");
            }
            let code = services.telegram_link_code(who).await?;
            print(
                as_json,
                json!({"code": code.code, "expires_at": code.expires_at}),
                &format!(
                    "send this to your bot in Telegram within 15 minutes:\n/start {}",
                    code.code
                ),
            );
        }
        NotificationsCommand::UnlinkTelegram { chat } => {
            let unlinked = services.unlink_telegram(who, chat).await?;
            print(
                as_json,
                json!({"unlinked": unlinked}),
                &format!("unlinked {unlinked} chat(s)"),
            );
        }
        NotificationsCommand::Mute { duration, off } => match duration.filter(|_| !off) {
            None => {
                services.unmute_notifications(who).await?;
                print(as_json, json!({"muted_until": null}), "unmuted");
            }
            Some(duration) => {
                let until = services.mute_notifications(who, duration).await?;
                print(
                    as_json,
                    json!({"muted_until": until}),
                    &format!("muted until {}", signal_sentinel::time::format_utc(until)),
                );
            }
        },
        NotificationsCommand::Dispatch => {
            let (digests, report) = services.dispatch_once().await?;
            print(
                as_json,
                json!({"digests": digests.deliveries, "dispatch": report}),
                &format!(
                    "{} digest deliveries queued; {} claimed: {} sent, {} to retry, {} given up, {} skipped, {} held",
                    digests.deliveries,
                    report.claimed,
                    report.sent,
                    report.retried,
                    report.given_up,
                    report.skipped,
                    report.held
                ),
            );
        }
    }
    Ok(ExitCode::SUCCESS)
}

fn print(as_json: bool, value: serde_json::Value, text: &str) {
    if as_json {
        out!("{value}");
    } else {
        out!("{text}");
    }
}
