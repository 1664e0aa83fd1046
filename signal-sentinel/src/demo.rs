//! The demo: real prices of five large US stocks (monthly closes 2000–2010, shipped with the
//! crate), a demo user with a handful of rules, and the monitor replaying the decade, one
//! month per cycle. No keys, no network.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use thiserror::Error;

use crate::Secret;
use crate::clock::ManualClock;
use crate::config::DatabaseUrl;
use crate::domain::{Alert, ChannelKind, Email, NewChannel, NewUser};
use crate::market::{ReplayError, ReplayMarket};
use crate::monitor::{Monitor, MonitorConfig, MonitorError};
use crate::rules::{RuleInput, prepare_rule};
use crate::store::{ChannelStore, RuleStore, SeaStore, StoreError, UserStore};

/// Monthly closes of MSFT, AMZN, IBM, AAPL and GOOG, in the replay format.
pub const DEMO_PRICES: &str = include_str!("../fixtures/demo_monthly_2000_2010.csv");

/// The demo user's login.
pub const DEMO_EMAIL: &str = "demo@signal-sentinel.local";

/// The demo's rules, in the text form (see `docs/rules.md`), with what each shows.
pub const DEMO_RULES: &[(&str, &str)] = &[
    ("AAPL crosses above 100", "a level crossed upwards"),
    ("MSFT crosses below 20", "a level crossed downwards"),
    (
        "AMZN trailing stop 30%",
        "a fall of 30% from the highest close since armed",
    ),
    ("IBM new 52w high", "a new 52-week high"),
    (
        "GOOG crosses below sma(6)",
        "the price crossing its moving average",
    ),
    (
        "AAPL day change <= -15%",
        "a large fall from the previous close (here: the previous month)",
    ),
];

/// What went wrong running the demo.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum DemoError {
    /// The demo database.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// A cycle.
    #[error(transparent)]
    Monitor(#[from] MonitorError),
    /// The shipped prices (a packaging bug).
    #[error(transparent)]
    Prices(#[from] ReplayError),
    /// The data directory.
    #[error("{0}")]
    Setup(String),
}

/// What the demo did.
#[derive(Debug, Clone)]
pub struct DemoReport {
    /// The database it wrote.
    pub database: PathBuf,
    /// Rules created.
    pub rules: usize,
    /// Cycles run (one per month of prices).
    pub cycles: usize,
    /// Alerts raised.
    pub alerts: usize,
}

/// Runs the demo in `data_dir` (database `demo.db` there, replaced on each run), calling
/// `on_alert` for every alert as it fires and waiting `pace` between cycles.
///
/// # Errors
/// [`DemoError`] when the directory or database cannot be written.
pub async fn run_demo(
    data_dir: &Path,
    pace: Duration,
    mut on_alert: impl FnMut(&Alert),
) -> Result<DemoReport, DemoError> {
    std::fs::create_dir_all(data_dir)
        .map_err(|e| DemoError::Setup(format!("cannot create {}: {e}", data_dir.display())))?;
    let path = data_dir.join("demo.db");
    for suffix in ["", "-wal", "-shm"] {
        let file = PathBuf::from(format!("{}{suffix}", path.display()));
        if file.exists() {
            std::fs::remove_file(&file)
                .map_err(|e| DemoError::Setup(format!("cannot replace {}: {e}", file.display())))?;
        }
    }
    let url = DatabaseUrl::parse(&format!("sqlite://{}", path.display()))
        .map_err(|e| DemoError::Setup(e.to_string()))?;
    let store = SeaStore::open(&url).await?;

    let user = store
        .create_user(NewUser {
            email: Email::parse(DEMO_EMAIL).map_err(|e| DemoError::Setup(e.to_string()))?,
            // Not a hash of anything: the demo user cannot log in.
            password_hash: Secret::new("!demo"),
            display_name: Some("Demo".into()),
        })
        .await?;
    store
        .create_channel(NewChannel {
            owner: user.id,
            name: "console".into(),
            kind: ChannelKind::Console,
            config: serde_json::json!({}),
            secret: None,
        })
        .await?;
    for (text, why) in DEMO_RULES {
        let input = RuleInput {
            text: (*text).to_owned(),
            name: Some((*why).to_owned()),
            ..RuleInput::default()
        };
        let rule =
            prepare_rule(user.id, input).map_err(|e| DemoError::Setup(format!("{text}: {e}")))?;
        store.create_rule(rule).await?;
    }

    let market = ReplayMarket::from_csv(
        "demo prices",
        DEMO_PRICES,
        Arc::new(ManualClock::new(chrono::Utc::now())),
    )?;
    let timeline = market.timeline();
    let start = timeline.first().copied().unwrap_or_else(chrono::Utc::now);
    let clock = Arc::new(ManualClock::new(start));
    let market = Arc::new(ReplayMarket::from_csv(
        "demo prices",
        DEMO_PRICES,
        clock.clone(),
    )?);
    let monitor = Monitor::new(
        Arc::new(store.clone()),
        market,
        clock.clone(),
        MonitorConfig::default(),
    );

    let mut alerts = 0;
    for at in &timeline {
        clock.set(*at);
        let report = monitor.run_once().await?;
        for alert in &report.alerts {
            on_alert(alert);
        }
        alerts += report.alerts.len();
        if !pace.is_zero() {
            tokio::time::sleep(pace).await;
        }
    }
    store.close().await?;
    Ok(DemoReport {
        database: path,
        rules: DEMO_RULES.len(),
        cycles: timeline.len(),
        alerts,
    })
}
