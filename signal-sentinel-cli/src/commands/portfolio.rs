//! `invest portfolio …`

use serde_json::json;
use signal_sentinel::config::Settings;
use std::process::ExitCode;

use signal_sentinel::domain::text::printable;

use signal_sentinel::domain::{ConnectionId, ConnectionStatus};
use signal_sentinel::service::{ConnectionView, WatchHoldings};

use crate::cli::PortfolioCommand;
use crate::output::{Style, out, paint};

pub(crate) async fn run(
    settings: &Settings,
    user: Option<&str>,
    command: PortfolioCommand,
    as_json: bool,
) -> anyhow::Result<ExitCode> {
    let (services, who, _) = super::services_as(settings, user).await?;
    if let PortfolioCommand::Import { file } = &command {
        let text = std::fs::read_to_string(file)
            .map_err(|e| anyhow::anyhow!("cannot read {}: {e}", file.display()))?;
        let imported = services
            .import_holdings(who, &text)
            .await
            .map_err(|e| anyhow::anyhow!("{}: {e}", file.display()))?;
        if as_json {
            out!("{}", json!({"imported": imported}));
        } else {
            out!(
                "imported {} holdings from {}",
                imported.len(),
                file.display()
            );
        }
        return Ok(ExitCode::SUCCESS);
    }
    match command {
        PortfolioCommand::Sync => {
            let reports = services.sync_brokerage(who).await?;
            if as_json {
                out!("{}", json!(reports));
            } else if reports.is_empty() {
                out!("no linked brokerage; link one on the dashboard's overview");
            }
            for r in &reports {
                if !as_json {
                    let name = r
                        .connection
                        .institution
                        .as_deref()
                        .unwrap_or(&r.connection.provider);
                    match &r.connection.error_code {
                        None if r.connection.status == ConnectionStatus::Active => out!(
                            "link {} ({name}): {} positions, cash {}{}",
                            r.connection.id,
                            r.positions,
                            r.cash,
                            if r.skipped.is_empty() {
                                String::new()
                            } else {
                                format!(", {} holdings left out", r.skipped.len())
                            }
                        ),
                        _ => print_failure(&r.connection),
                    }
                    for s in &r.skipped {
                        out!(
                            "  left out: {} in {}: {}",
                            printable(&s.name),
                            printable(&s.account),
                            s.reason
                        );
                    }
                }
            }
            return Ok(exit_for(reports.iter().map(|r| &r.connection)));
        }
        PortfolioCommand::LinkStatus => {
            let links = services.broker_connections(who).await?;
            if as_json {
                out!("{}", json!(links));
            } else if links.is_empty() {
                out!("no linked brokerage; link one on the dashboard's overview");
            } else {
                out!(
                    "{:<4} {:<24} {:<16} {:>9}  {}",
                    "ID",
                    "INSTITUTION",
                    "STATUS",
                    "POSITIONS",
                    "LAST SYNC"
                );
                for c in &links {
                    let status = format!("{:<16}", c.status.as_str());
                    let status = match c.status {
                        ConnectionStatus::Active => paint(&status, Style::Green),
                        _ => paint(&status, Style::Red),
                    };
                    out!(
                        "{:<4} {:<24} {} {:>9}  {}",
                        c.id.get(),
                        c.institution.as_deref().unwrap_or(&c.provider),
                        status,
                        c.positions,
                        c.last_synced_at.map_or("never".to_owned(), |t| t
                            .format("%Y-%m-%d %H:%M UTC")
                            .to_string())
                    );
                    if let Some(action) = &c.action {
                        out!(
                            "     {}: {}",
                            c.error_code.as_deref().unwrap_or("error"),
                            action
                        );
                    }
                }
            }
            return Ok(exit_for(links.iter()));
        }
        PortfolioCommand::Unlink { id } => {
            services
                .remove_brokerage(who, ConnectionId::new(id))
                .await
                .map_err(|e| anyhow::anyhow!("link {id}: {e}"))?;
            if as_json {
                out!("{}", json!({"removed": id}));
            } else {
                out!("removed link {id} and its positions");
            }
            return Ok(ExitCode::SUCCESS);
        }
        PortfolioCommand::Watch {
            below_cost,
            day_move,
            weight,
        } => {
            let mut watch = WatchHoldings {
                below_cost_percent: below_cost,
                day_move_percent: day_move,
                weight_percent: weight,
            };
            if watch == WatchHoldings::default() {
                watch.below_cost_percent = Some(rust_decimal::Decimal::TEN);
                watch.day_move_percent = Some(rust_decimal::Decimal::from(5));
            }
            let report = services.watch_holdings(who, watch).await?;
            if as_json {
                out!("{}", json!(report));
            } else if report.created.is_empty() && report.existing.is_empty() {
                out!("no holdings to watch; import or link some first");
            } else {
                for text in &report.created {
                    out!("created: {text}");
                }
                out!(
                    "{} rules created, {} existed already",
                    report.created.len(),
                    report.existing.len()
                );
            }
            return Ok(ExitCode::SUCCESS);
        }
        PortfolioCommand::Show | PortfolioCommand::Import { .. } => {}
    }
    let portfolio = services.portfolio(who).await?;
    if as_json {
        out!("{}", json!(portfolio));
        return Ok(ExitCode::SUCCESS);
    }
    if portfolio.positions.is_empty() {
        out!("no holdings; import some with `invest portfolio import holdings.csv`");
        return Ok(ExitCode::SUCCESS);
    }
    let show = |d: Option<rust_decimal::Decimal>| d.map_or("-".to_owned(), |d| d.to_string());
    out!(
        "{:<8} {:<12} {:>10} {:>10} {:>10} {:>12} {:>10} {:>10}",
        "SYMBOL",
        "ACCOUNT",
        "QUANTITY",
        "COST",
        "PRICE",
        "VALUE",
        "TODAY",
        "GAIN %"
    );
    for p in &portfolio.positions {
        let today = format!("{:>10}", show(p.day_change));
        let today = match p.day_change {
            Some(d) if d.is_sign_negative() => paint(&today, Style::Red),
            Some(_) => paint(&today, Style::Green),
            None => today,
        };
        out!(
            "{:<8} {:<12} {:>10} {:>10} {:>10} {:>12} {} {:>10}",
            p.holding.symbol.as_str(),
            printable(&p.holding.account),
            p.holding.quantity.to_string(),
            show(p.holding.cost_basis),
            show(p.price),
            show(p.market_value),
            today,
            show(p.gain_percent)
        );
    }
    out!(
        "total {} (today {}{}), gain {}",
        portfolio.market_value,
        portfolio.day_change,
        portfolio
            .day_change_percent
            .map(|p| format!(", {p}%"))
            .unwrap_or_default(),
        portfolio.gain
    );
    if !portfolio.unpriced.is_empty() {
        out!("no quote now for: {}", portfolio.unpriced.join(", "));
    }
    Ok(ExitCode::SUCCESS)
}

fn print_failure(c: &ConnectionView) {
    out!(
        "link {} ({}): {} {}{}",
        c.id,
        c.institution.as_deref().unwrap_or(&c.provider),
        paint(c.status.as_str(), Style::Red),
        c.error_code.as_deref().unwrap_or(""),
        c.error_message
            .as_deref()
            .map(|m| format!(": {m}"))
            .unwrap_or_default()
    );
    if let Some(action) = &c.action {
        out!("  what to do: {action}");
    }
}

/// 1 when a link needs its user, so scripts and cron notice.
fn exit_for<'a>(links: impl Iterator<Item = &'a ConnectionView>) -> ExitCode {
    let mut links = links;
    if links.any(|c| c.status == ConnectionStatus::NeedsAttention) {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    }
}
