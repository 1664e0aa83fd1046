//! Backtesting a set of rules over a CSV of daily (or monthly) bars and printing a summary
//! table: what each rule would have sent, when it first and last fired.
//!
//! ```text
//! cargo run -p examples --example backtest_csv                    # ten years of five stocks
//! cargo run -p examples --example backtest_csv -- prices.csv      # your own bars
//! ```
//!
//! The CSV has the replay format `time,symbol,open,high,low,close,volume` (volume may be
//! empty). Without an argument: the monthly closes of MSFT, AAPL, AMZN, GOOG (from 2004) and
//! IBM from 2000 to 2010 that the demo replays.

use std::sync::Arc;

use chrono::NaiveDate;
use signal_sentinel::clock::SystemClock;
use signal_sentinel::domain::AlertKind;
use signal_sentinel::engine::{RuleOptions, backtest, parse_rule};
use signal_sentinel::market::{MarketData, ReplayMarket};

const DEMO: &str = include_str!("../signal-sentinel/fixtures/demo_monthly_2000_2010.csv");

const RULES: [&str; 6] = [
    "MSFT crosses above 30",
    "AAPL crosses above 100",
    "IBM day change <= -10%",
    "AMZN within 5% of 52w high",
    "GOOG sma(12) crosses above sma(24)",
    "AAPL trailing stop 25%",
];

#[tokio::main(flavor = "current_thread")]
async fn main() -> anyhow::Result<()> {
    let clock = Arc::new(SystemClock);
    let market = match std::env::args().nth(1) {
        Some(path) => ReplayMarket::from_path(std::path::Path::new(&path), clock)?,
        None => ReplayMarket::from_csv("demo_monthly_2000_2010.csv", DEMO, clock)?,
    };

    println!(
        "{:<36} {:>8} {:>6} {:>9}  {:<10}  {:<10}",
        "rule", "sessions", "fired", "resolved", "first", "last"
    );
    let mut total = 0;
    for text in RULES {
        let rule = parse_rule(text)?;
        // Every bar the file has for the symbol.
        let bars = market
            .daily_bars(&rule.symbol, NaiveDate::MIN, NaiveDate::MAX)
            .await?;
        // Evaluated once per bar at its close, with the same lifecycle and options as live.
        let alerts = backtest(
            &rule.symbol,
            &rule.condition,
            &RuleOptions::default(),
            &bars,
        );
        let fired: Vec<_> = alerts
            .iter()
            .filter(|a| a.kind == AlertKind::Fired)
            .collect();
        let day = |a: Option<&&signal_sentinel::engine::BacktestAlert>| {
            a.map_or_else(|| "—".to_owned(), |a| a.at.date_naive().to_string())
        };
        println!(
            "{:<36} {:>8} {:>6} {:>9}  {:<10}  {:<10}",
            text,
            bars.len(),
            fired.len(),
            alerts.len() - fired.len(),
            day(fired.first()),
            day(fired.last()),
        );
        total += alerts.len();
    }
    anyhow::ensure!(total > 0, "ten years of prices should fire some rule");
    Ok(())
}
