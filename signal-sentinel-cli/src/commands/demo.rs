//! `invest demo`

use std::path::Path;
use std::process::ExitCode;

use signal_sentinel::domain::text::printable;
use std::time::{Duration, Instant};

use chrono_tz::America::New_York;
use serde_json::json;
use std::sync::Arc;

use signal_sentinel::Secret;
use signal_sentinel::clock::{ManualClock, SystemClock};
use signal_sentinel::config::{DatabaseUrl, Settings};
use signal_sentinel::demo::{DEMO_EMAIL, DEMO_PRICES, DEMO_RULES, run_demo};
use signal_sentinel::market::ReplayMarket;
use signal_sentinel::service::Services;
use signal_sentinel_http::{AppState, HttpConfig};

use crate::output::out;

pub(crate) async fn run(
    settings: &Settings,
    data: &Path,
    pace_ms: u64,
    serve: Option<u16>,
    as_json: bool,
) -> anyhow::Result<ExitCode> {
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
                printable(&alert.message)
            );
        }
    })
    .await?;
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
        if serve.is_none() {
            out!("See them in the dashboard: invest demo --serve");
        }
    }
    if let Some(port) = serve {
        serve_demo(settings, &report.database, port).await?;
    }
    Ok(ExitCode::SUCCESS)
}

/// The demo's password, printed with the address: the demo database is throwaway.
const DEMO_PASSWORD: &str = "demo-password";

/// Serves the dashboard over the demo database until Ctrl-C, with the demo prices as the
/// market (quotes and charts as of the end of the replay) and no monitor.
async fn serve_demo(settings: &Settings, database: &Path, port: u16) -> anyhow::Result<()> {
    let mut settings = settings.clone();
    settings.database_url = DatabaseUrl::parse(&format!("sqlite://{}", database.display()))?;
    let probe = ReplayMarket::from_csv("demo prices", DEMO_PRICES, Arc::new(SystemClock))?;
    let end = probe
        .timeline()
        .last()
        .copied()
        .ok_or_else(|| anyhow::anyhow!("no demo prices"))?;
    let market =
        ReplayMarket::from_csv("demo prices", DEMO_PRICES, Arc::new(ManualClock::new(end)))?;
    let services = Services::open_with_market(&settings, Arc::new(market)).await?;
    services
        .reset_password(DEMO_EMAIL, Secret::new(DEMO_PASSWORD))
        .await?;
    let state = AppState::new(services, &settings.api);
    let app = signal_sentinel_http::app(state, &HttpConfig::default());
    let addr = std::net::SocketAddr::from(([127, 0, 0, 1], port));
    let acceptor = poem::listener::Listener::into_acceptor(poem::listener::TcpListener::bind(addr))
        .await
        .map_err(|e| anyhow::anyhow!("cannot listen on {addr}: {e}"))?;
    out!();
    out!(
        "Dashboard: http://{addr}/  (sign in as {DEMO_EMAIL}, password {DEMO_PASSWORD}); Ctrl-C stops it"
    );
    Ok(signal_sentinel_http::serve(acceptor, app, super::monitor::shutdown_signal()).await?)
}
