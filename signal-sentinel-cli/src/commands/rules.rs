//! `invest rules …`

use std::path::Path;
use std::process::ExitCode;
use std::sync::Arc;

use chrono::NaiveDate;
use serde_json::json;
use signal_sentinel::clock::SystemClock;
use signal_sentinel::engine::{RuleOptions, backtest as run_backtest, parse_rule};
use signal_sentinel::market::{MarketData, ReplayMarket};

/// `invest rules backtest "<rule>" --csv FILE`
pub(crate) async fn backtest(rule: &str, csv: &Path, as_json: bool) -> Result<ExitCode, String> {
    let rule = parse_rule(rule).map_err(|e| format!("rule: {e}"))?;
    let market = ReplayMarket::from_path(csv, Arc::new(SystemClock)).map_err(|e| e.to_string())?;
    let bars = market
        .daily_bars(&rule.symbol, NaiveDate::MIN, NaiveDate::MAX)
        .await
        .map_err(|e| e.to_string())?;
    if bars.is_empty() {
        return Err(format!("{} has no bars for {}", csv.display(), rule.symbol));
    }
    let alerts = run_backtest(
        &rule.symbol,
        &rule.condition,
        &RuleOptions::default(),
        &bars,
    );
    if as_json {
        println!(
            "{}",
            json!({"rule": rule.to_string(), "sessions": bars.len(), "alerts": alerts})
        );
        return Ok(ExitCode::SUCCESS);
    }
    println!(
        "{} over {} sessions: {} alerts",
        rule,
        bars.len(),
        alerts.len()
    );
    if !alerts.is_empty() {
        println!(
            "{:<9} {:>7}  {:<10}  {:>10}",
            "kind", "episode", "date", "price"
        );
        for a in &alerts {
            println!(
                "{:<9} {:>7}  {:<10}  {:>10}",
                a.kind.as_str(),
                a.episode,
                signal_sentinel::engine::indicators::exchange_date(a.at),
                a.price.to_string()
            );
        }
    }
    Ok(ExitCode::SUCCESS)
}
