//! `invest demo`

use std::path::Path;
use std::process::ExitCode;
use std::time::{Duration, Instant};

use chrono_tz::America::New_York;
use serde_json::json;
use signal_sentinel::demo::{DEMO_RULES, run_demo};

use crate::output::out;

pub(crate) async fn run(data: &Path, pace_ms: u64, as_json: bool) -> Result<ExitCode, String> {
    let started = Instant::now();
    if !as_json {
        out!("Signal Sentinel demo: monthly closes of MSFT, AMZN, IBM, AAPL and GOOG, 2000–2010");
        out!("Rules:");
        for (text, why) in DEMO_RULES {
            out!("  {text:<28} {why}");
        }
        out!();
    }
    let report = run_demo(data, Duration::from_millis(pace_ms), |alert| {
        if as_json {
            out!("{}", json!(alert));
        } else {
            let when = alert.fired_at.with_timezone(&New_York).format("%Y-%m-%d");
            out!(
                "{when}  {:<5} {:>8}  {}",
                alert.symbol,
                alert.price.to_string(),
                alert.message
            );
        }
    })
    .await
    .map_err(|e| e.to_string())?;
    if !as_json {
        out!();
        out!(
            "{} alerts from {} rules over {} replayed months in {:.1} s. Database: {}",
            report.alerts,
            report.rules,
            report.cycles,
            started.elapsed().as_secs_f64(),
            report.database.display()
        );
    }
    Ok(ExitCode::SUCCESS)
}
