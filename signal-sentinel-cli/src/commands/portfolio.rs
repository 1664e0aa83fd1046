//! `invest portfolio …`

use serde_json::json;
use signal_sentinel::config::Settings;
use std::process::ExitCode;

use signal_sentinel::domain::text::printable;

use signal_sentinel::domain::{ConnectionId, ConnectionStatus};
use signal_sentinel::service::{ConnectionView, WatchHoldings};

use crate::cli::PortfolioCommand;
use crate::output::{Style, Table, out, paint, plain, styled};

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
                    let name = printable(
                        r.connection
                            .institution
                            .as_deref()
                            .unwrap_or(&r.connection.provider),
                    );
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
                            printable(&s.reason)
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
                let mut table = Table::new(&[
                    "ID",
                    "INSTITUTION",
                    "STATUS",
                    "POSITIONS",
                    "LAST SYNC",
                    "WHAT TO DO",
                ])
                .right(&[0, 3]);
                for c in &links {
                    let status = c.status.as_str();
                    table.row([
                        plain(c.id.get()),
                        plain(printable(c.institution.as_deref().unwrap_or(&c.provider))),
                        match c.status {
                            ConnectionStatus::Active => styled(status, Style::Green),
                            _ => styled(status, Style::Red),
                        },
                        plain(c.positions),
                        plain(
                            c.last_synced_at
                                .map_or("never".to_owned(), signal_sentinel::time::format_utc),
                        ),
                        plain(c.action.as_deref().map_or(String::new(), |action| {
                            format!(
                                "{}: {}",
                                printable(c.error_code.as_deref().unwrap_or("error")),
                                printable(action)
                            )
                        })),
                    ]);
                }
                table.print();
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
    let mut table = Table::new(&[
        "SYMBOL", "ACCOUNT", "QUANTITY", "COST", "PRICE", "VALUE", "TODAY", "GAIN %",
    ])
    .right(&[2, 3, 4, 5, 6, 7]);
    for p in &portfolio.positions {
        let today = show(p.day_change);
        table.row([
            plain(p.holding.symbol.as_str()),
            plain(printable(&p.holding.account)),
            plain(p.holding.quantity),
            plain(show(p.holding.cost_basis)),
            plain(show(p.price)),
            plain(show(p.market_value)),
            match p.day_change {
                Some(d) if d.is_sign_negative() => styled(today, Style::Red),
                Some(_) => styled(today, Style::Green),
                None => plain(today),
            },
            plain(show(p.gain_percent)),
        ]);
    }
    table.print();
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
        printable(c.institution.as_deref().unwrap_or(&c.provider)),
        paint(c.status.as_str(), Style::Red),
        printable(c.error_code.as_deref().unwrap_or("")),
        c.error_message
            .as_deref()
            .map(|m| format!(": {}", printable(m)))
            .unwrap_or_default()
    );
    if let Some(action) = &c.action {
        out!("  what to do: {}", printable(action));
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
