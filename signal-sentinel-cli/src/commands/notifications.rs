//! `invest notifications …`

use std::process::ExitCode;
use std::sync::Arc;

use serde_json::json;
use signal_sentinel::Secret;
use signal_sentinel::clock::{Clock, SystemClock};
use signal_sentinel::config::Settings;
use signal_sentinel::notify::channels::{
    add_telegram, add_webhook, channel_status, notifiers_from_settings, test_channels,
};
use signal_sentinel::notify::{
    Dispatcher, DispatcherConfig, EventMode, NotificationPrefs, QuietBehavior, QuietHours,
    send_due_digests,
};
use signal_sentinel::store::{ChannelStore, OutboxStore};

use crate::cli::NotificationsCommand;

use crate::output::{Style, out, paint};

pub(crate) async fn run(
    settings: &Settings,
    user: Option<&str>,
    command: NotificationsCommand,
    as_json: bool,
) -> Result<ExitCode, String> {
    let (store, me) = super::open_as(settings, user).await?;
    match command {
        NotificationsCommand::AddTelegram { chat_id, name } => {
            let channel = add_telegram(&store, me.id, &chat_id, name)
                .await
                .map_err(|e| e.to_string())?;
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
                    channel.name, channel.id
                ),
            );
        }
        NotificationsCommand::AddWebhook { url, name, secret } => {
            let (channel, secret) = add_webhook(&store, me.id, &url, name, secret.map(Secret::new))
                .await
                .map_err(|e| e.to_string())?;
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
            let channels = store
                .list_channels(me.id)
                .await
                .map_err(|e| e.to_string())?;
            let channel = channels
                .iter()
                .find(|c| c.name == name)
                .ok_or_else(|| format!("no channel named {name:?}"))?;
            store
                .delete_channel(channel.id)
                .await
                .map_err(|e| e.to_string())?;
            print(
                as_json,
                json!({"removed": channel.name}),
                &format!("removed \"{}\"", channel.name),
            );
        }
        NotificationsCommand::Test => {
            let notifiers = notifiers_from_settings(settings)?;
            let results = test_channels(&store, &notifiers, me.id, None, SystemClock.now())
                .await
                .map_err(|e| e.to_string())?;
            if as_json {
                out!("{}", json!(results));
            } else if results.is_empty() {
                out!(
                    "no channels: add one with `invest notifications add-telegram` or `add-webhook`"
                );
            } else {
                for r in &results {
                    match &r.error {
                        None => out!("{:<24} ok", r.channel),
                        Some(e) => out!("{:<24} FAILED: {e}", r.channel),
                    }
                }
            }
            return Ok(if results.iter().all(|r| r.ok) {
                ExitCode::SUCCESS
            } else {
                ExitCode::FAILURE
            });
        }
        NotificationsCommand::Status => {
            let (channels, pending) = channel_status(&store, me.id)
                .await
                .map_err(|e| e.to_string())?;
            if as_json {
                out!(
                    "{}",
                    json!({"channels": channels, "pending_deliveries": pending})
                );
            } else {
                out!(
                    "{:<24} {:<9} {:<8} {:<20} LAST ERROR",
                    "CHANNEL",
                    "KIND",
                    "ENABLED",
                    "LAST SUCCESS"
                );
                for c in &channels {
                    out!(
                        "{:<24} {:<9} {} {:<20} {}",
                        c.name,
                        c.kind.as_str(),
                        if c.enabled {
                            paint(&format!("{:<8}", "yes"), Style::Green)
                        } else {
                            paint(&format!("{:<8}", "no"), Style::Dim)
                        },
                        c.last_ok_at
                            .map(|t| t.format("%Y-%m-%d %H:%M UTC").to_string())
                            .unwrap_or_else(|| "—".into()),
                        c.last_error
                            .as_deref()
                            .map_or_else(|| "—".to_owned(), |e| paint(e, Style::Red))
                    );
                }
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
            let (doc, _) = store
                .get_notification_prefs(me.id)
                .await
                .map_err(|e| e.to_string())?;
            let mut prefs = NotificationPrefs::from_document(&doc)?;
            let mode = |name: &str, v: &str| match v {
                "on" => Ok(EventMode::On),
                "silent" => Ok(EventMode::Silent),
                "off" => Ok(EventMode::Off),
                _ => Err(format!("--{name}: expected on, silent or off")),
            };
            if let Some(v) = fired {
                prefs.events.fired = mode("fired", &v)?;
            }
            if let Some(v) = resolved {
                prefs.events.resolved = mode("resolved", &v)?;
            }
            if let Some(v) = digest {
                prefs.events.digest = mode("digest", &v)?;
            }
            if let Some(v) = system {
                prefs.events.system = mode("system", &v)?;
            }
            let time = |name: &str, v: &str| {
                chrono::NaiveTime::parse_from_str(v, "%H:%M")
                    .map_err(|_| format!("--{name}: expected a time like 18:00"))
            };
            if let Some(q) = quiet_hours {
                prefs.quiet_hours = if q == "off" {
                    None
                } else {
                    let (start, end) = q
                        .split_once('-')
                        .ok_or("--quiet-hours: expected a range like 22:00-07:00, or off")?;
                    let behavior = prefs.quiet_hours.map(|h| h.behavior).unwrap_or_default();
                    Some(QuietHours {
                        start: time("quiet-hours", start)?,
                        end: time("quiet-hours", end)?,
                        behavior,
                    })
                };
            }
            if let Some(m) = quiet_mode {
                let behavior = match m.as_str() {
                    "silent" => QuietBehavior::Silent,
                    "hold" => QuietBehavior::Hold,
                    _ => return Err("--quiet-mode: expected silent or hold".into()),
                };
                let hours = prefs
                    .quiet_hours
                    .as_mut()
                    .ok_or("--quiet-mode needs quiet hours (--quiet-hours 22:00-07:00)")?;
                hours.behavior = behavior;
            }
            if let Some(d) = digest_at {
                prefs.digest_at = if d == "off" {
                    None
                } else {
                    Some(time("digest-at", &d)?)
                };
            }
            if let Some(v) = summaries {
                prefs.summaries = v == "on";
            }
            if let Some(z) = tz {
                prefs.time_zone = z;
                prefs.zone().map_err(|e| format!("--tz: {e}"))?;
            }
            store
                .set_notification_prefs(me.id, prefs.to_document())
                .await
                .map_err(|e| e.to_string())?;
            let shown = serde_json::to_value(&prefs).unwrap_or_default();
            print(
                as_json,
                shown.clone(),
                &serde_json::to_string_pretty(&shown).unwrap_or_default(),
            );
        }
        NotificationsCommand::Dispatch => {
            let clock: Arc<dyn Clock> = Arc::new(SystemClock);
            let store: Arc<dyn signal_sentinel::store::Store> = Arc::new(store);
            let market: Arc<dyn signal_sentinel::market::MarketData> = Arc::new(
                signal_sentinel::market::providers_from_settings(settings, clock.clone(), None)
                    .map_err(|e| e.to_string())?,
            );
            let summaries = super::monitor::summaries(settings, store.clone(), market)?;
            let digests = send_due_digests(store.as_ref(), clock.as_ref(), Some(&summaries))
                .await
                .map_err(|e| e.to_string())?;
            let dispatcher = Dispatcher::new(
                store,
                notifiers_from_settings(settings)?,
                clock,
                DispatcherConfig::default(),
            );
            let report = dispatcher.run_once().await.map_err(|e| e.to_string())?;
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
