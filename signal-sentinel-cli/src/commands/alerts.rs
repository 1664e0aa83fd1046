//! `invest alerts …`

use std::process::ExitCode;

use serde_json::json;
use signal_sentinel::clock::{Clock, SystemClock};
use signal_sentinel::config::Settings;
use signal_sentinel::domain::{Alert, AlertId, AlertQuery, AlertState, Symbol, User};
use signal_sentinel::store::{AlertStore, ChannelStore, MonitorStore, SeaStore, StoreError};

use crate::cli::AlertsCommand;

use crate::output::{Style, out, paint};

pub(crate) async fn run(
    settings: &Settings,
    user: Option<&str>,
    command: AlertsCommand,
    as_json: bool,
) -> Result<ExitCode, String> {
    let (store, me) = super::open_as(settings, user).await?;
    let now = SystemClock.now();
    match command {
        AlertsCommand::List {
            limit,
            symbol,
            rule,
            state,
            since,
        } => {
            let query = AlertQuery {
                rule_id: rule,
                symbol: symbol
                    .map(|s| Symbol::parse(&s))
                    .transpose()
                    .map_err(|e| e.to_string())?,
                since: since.map(|s| s.instant(now)),
                state: state
                    .map(|s| s.parse::<AlertState>())
                    .transpose()
                    .map_err(|e| e.to_string())?,
                ..AlertQuery::newest(me.id, limit)
            };
            let alerts = store.list_alerts(&query).await.map_err(|e| e.to_string())?;
            if as_json {
                out!("{}", json!(alerts));
            } else if alerts.is_empty() {
                out!("no alerts");
            } else {
                out!(
                    "{:>6}  {:<16}  {:<8}  {:<9}  {:<4}  MESSAGE",
                    "ID",
                    "FIRED (UTC)",
                    "SYMBOL",
                    "KIND",
                    "NEW"
                );
                for a in &alerts {
                    let kind_style = if a.kind.as_str() == "fired" {
                        Style::Red
                    } else {
                        Style::Green
                    };
                    out!(
                        "{:>6}  {:<16}  {:<8}  {}  {}  {}",
                        a.id.to_string(),
                        a.fired_at.format("%Y-%m-%d %H:%M"),
                        a.symbol.as_str(),
                        paint(&format!("{:<9}", a.kind.as_str()), kind_style),
                        paint(
                            &format!("{:<4}", if a.state == AlertState::New { "*" } else { "" }),
                            Style::Bold
                        ),
                        a.message
                    );
                }
            }
        }
        AlertsCommand::Show { id } => {
            let alert = own_alert(&store, &me, id).await?;
            let mut deliveries = Vec::new();
            for d in store.list_deliveries(id).await.map_err(|e| e.to_string())? {
                let channel = match store.get_channel(d.channel_id).await {
                    Ok(c) => c.name,
                    Err(StoreError::NotFound { .. }) => format!("#{} (removed)", d.channel_id),
                    Err(e) => return Err(e.to_string()),
                };
                deliveries.push(json!({
                    "channel": channel,
                    "channel_id": d.channel_id,
                    "status": d.status.as_str(),
                    "attempts": d.attempts,
                    "next_attempt_at": d.next_attempt_at,
                    "sent_at": d.sent_at,
                    "last_error": d.last_error,
                }));
            }
            if as_json {
                let mut value = json!(alert);
                value["deliveries"] = json!(deliveries);
                out!("{value}");
            } else {
                out!("alert #{}: {}", alert.id, alert.message);
                out!(
                    "  fired:       {} at {} ({}, episode {})",
                    alert.fired_at.format("%Y-%m-%d %H:%M UTC"),
                    alert.price,
                    alert.kind.as_str(),
                    alert.episode
                );
                if let Some(rule) = alert.rule_id {
                    out!("  rule:        #{rule}");
                }
                match alert.acknowledged_at {
                    Some(at) => out!("  seen:        {}", at.format("%Y-%m-%d %H:%M UTC")),
                    None => out!("  seen:        not yet (`invest alerts ack {}`)", alert.id),
                }
                if deliveries.is_empty() {
                    out!("  deliveries:  none (no channel was enabled)");
                } else {
                    out!("  deliveries:");
                    for d in &deliveries {
                        out!(
                            "    {:<20}  {:<8}  {} attempt(s){}",
                            d["channel"].as_str().unwrap_or_default(),
                            d["status"].as_str().unwrap_or_default(),
                            d["attempts"],
                            d["last_error"]
                                .as_str()
                                .map(|e| format!("  last error: {e}"))
                                .unwrap_or_default()
                        );
                    }
                }
            }
        }
        AlertsCommand::Ack { id } => {
            own_alert(&store, &me, id).await?;
            let alert = store
                .acknowledge_alert(id, now)
                .await
                .map_err(|e| e.to_string())?;
            if as_json {
                out!("{}", json!(alert));
            } else {
                out!("acknowledged alert #{id}: {}", alert.message);
            }
        }
        AlertsCommand::Clean { older_than } => {
            let before = older_than.instant(now);
            let deleted = store
                .delete_alerts_before(me.id, before)
                .await
                .map_err(|e| e.to_string())?;
            if as_json {
                out!("{}", json!({"deleted": deleted, "before": before}));
            } else {
                out!(
                    "deleted {deleted} alert(s) fired before {}",
                    before.format("%Y-%m-%d %H:%M UTC")
                );
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// The user's alert, or the same "not found" whether it is missing or someone else's.
async fn own_alert(store: &SeaStore, me: &User, id: AlertId) -> Result<Alert, String> {
    match store.get_alert(id).await {
        Ok(alert) if alert.owner == me.id => Ok(alert),
        Ok(_) | Err(StoreError::NotFound { .. }) => Err(format!(
            "alert #{id} not found; `invest alerts list` shows yours"
        )),
        Err(e) => Err(e.to_string()),
    }
}
