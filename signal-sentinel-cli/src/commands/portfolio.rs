//! `invest portfolio …`

use serde_json::json;
use signal_sentinel::config::Settings;
use std::process::ExitCode;

use crate::cli::PortfolioCommand;
use crate::output::{Style, out, paint};

pub(crate) async fn run(
    settings: &Settings,
    user: Option<&str>,
    command: PortfolioCommand,
    as_json: bool,
) -> Result<ExitCode, String> {
    let (services, who, _) = super::services_as(settings, user).await?;
    if let PortfolioCommand::Import { file } = &command {
        let text = std::fs::read_to_string(file)
            .map_err(|e| format!("cannot read {}: {e}", file.display()))?;
        let imported = services
            .import_holdings(who, &text)
            .await
            .map_err(|e| format!("{}: {e}", file.display()))?;
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
    let portfolio = services.portfolio(who).await.map_err(|e| e.to_string())?;
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
            p.holding.account,
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
