//! `invest alerts …`

use std::process::ExitCode;

use signal_sentinel::domain::text::printable;

use serde_json::json;
use signal_sentinel::config::Settings;
use signal_sentinel::domain::{AlertId, AlertQuery, AlertState};
use signal_sentinel::service::ServiceError;

use crate::cli::AlertsCommand;

use crate::output::{Style, Table, out, plain, styled};

pub(crate) async fn run(
    settings: &Settings,
    user: Option<&str>,
    command: AlertsCommand,
    as_json: bool,
) -> anyhow::Result<ExitCode> {
    let (services, who, _) = super::services_as(settings, user).await?;
    let now = services.now();
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
                    .map(|s| signal_sentinel::domain::Symbol::parse(&s))
                    .transpose()?,
                since: since.map(|s| s.instant(now)),
                state: state.map(|s| s.parse::<AlertState>()).transpose()?,
                ..AlertQuery::newest(who.user, limit)
            };
            let alerts = services.list_alerts(who, query).await?;
            if as_json {
                out!("{}", json!(alerts));
            } else if alerts.is_empty() {
                out!("no alerts");
            } else {
                let mut table =
                    Table::new(&["ID", "FIRED (UTC)", "SYMBOL", "KIND", "NEW", "MESSAGE"])
                        .right(&[0]);
                for a in &alerts {
                    let kind_style = if a.kind.as_str() == "fired" {
                        Style::Red
                    } else {
                        Style::Green
                    };
                    table.row([
                        plain(a.id),
                        plain(a.fired_at.format("%Y-%m-%d %H:%M")),
                        plain(a.symbol.as_str()),
                        styled(a.kind.as_str(), kind_style),
                        styled(
                            if a.state == AlertState::New { "*" } else { "" },
                            Style::Bold,
                        ),
                        plain(printable(&a.message)),
                    ]);
                }
                table.print();
            }
        }
        AlertsCommand::Show { id } => {
            let (alert, found) = services
                .get_alert(who, id)
                .await
                .map_err(|e| not_found(e, id))?;
            let (channels, _) = services.list_channels(who).await?;
            let mut deliveries = Vec::new();
            for d in found {
                let channel = channels.iter().find(|c| c.id == d.channel_id).map_or_else(
                    || format!("#{} (removed)", d.channel_id),
                    |c| printable(&c.name).into_owned(),
                );
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
                out!("alert #{}: {}", alert.id, printable(&alert.message));
                out!(
                    "  fired:       {} at {} ({}, episode {})",
                    signal_sentinel::time::format_utc(alert.fired_at),
                    alert.price,
                    alert.kind.as_str(),
                    alert.episode
                );
                if let Some(rule) = alert.rule_id {
                    out!("  rule:        #{rule}");
                }
                match alert.acknowledged_at {
                    Some(at) => out!("  seen:        {}", signal_sentinel::time::format_utc(at)),
                    None => out!("  seen:        not yet (`invest alerts ack {}`)", alert.id),
                }
                if deliveries.is_empty() {
                    out!("  deliveries:  none (no channel was enabled)");
                } else {
                    out!("  deliveries:");
                    let mut table = Table::new(&["CHANNEL", "STATUS", "ATTEMPTS", "LAST ERROR"])
                        .right(&[2])
                        .indented("    ");
                    for d in &deliveries {
                        let text =
                            |key: &str| printable(d[key].as_str().unwrap_or_default()).into_owned();
                        table.row([
                            text("channel"),
                            text("status"),
                            d["attempts"].to_string(),
                            text("last_error"),
                        ]);
                    }
                    table.print();
                }
            }
        }
        AlertsCommand::Ack { id } => {
            let alert = services
                .acknowledge_alert(who, id)
                .await
                .map_err(|e| not_found(e, id))?;
            if as_json {
                out!("{}", json!(alert));
            } else {
                out!("acknowledged alert #{id}: {}", printable(&alert.message));
            }
        }
        AlertsCommand::Clean { older_than } => {
            let before = older_than.instant(now);
            let deleted = services.delete_alerts_before(who, before).await?;
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

/// "Not found" with where to look; an alert of another user reads the same as a missing one.
fn not_found(e: ServiceError, id: AlertId) -> anyhow::Error {
    match e {
        ServiceError::NotFound(_) => {
            anyhow::anyhow!("alert #{id} not found; `invest alerts list` shows yours")
        }
        other => other.into(),
    }
}
