//! A notifier of your own receiving real alerts through the outbox: here it appends each
//! message to a local file (another chat service would be the same shape). The monitor stores
//! each alert and one pending delivery per enabled channel in one transaction; the dispatcher
//! claims due deliveries and hands them to the notifier of the channel's kind, recording sent,
//! retry or given up — so nothing is lost if the notifier fails or the process stops.
//!
//! ```text
//! cargo run -p examples --example custom_notifier
//! ```
//!
//! The notifier serves the channels of kind `console` (the kind meant for local output), so a
//! user's console channel now writes to the file.

use std::io::Write;
use std::path::PathBuf;
use std::sync::Arc;

use async_trait::async_trait;
use chrono::{TimeZone, Utc};
use signal_sentinel::Secret;
use signal_sentinel::clock::ManualClock;
use signal_sentinel::config::DatabaseUrl;
use signal_sentinel::domain::{ChannelKind, Email, NewChannel, NewUser, NotificationChannel};
use signal_sentinel::market::{MarketData, ReplayMarket};
use signal_sentinel::monitor::{Monitor, MonitorConfig};
use signal_sentinel::notify::{
    Dispatcher, DispatcherConfig, Notifier, NotifyError, OutgoingMessage,
};
use signal_sentinel::rules::{RuleInput, prepare_rule};
use signal_sentinel::store::{ChannelStore, RuleStore, SeaStore, Store, UserStore};

/// Appends one line per message to a file.
#[derive(Debug)]
struct FileNotifier {
    path: PathBuf,
}

#[async_trait]
impl Notifier for FileNotifier {
    fn kind(&self) -> ChannelKind {
        ChannelKind::Console
    }

    async fn send(
        &self,
        channel: &NotificationChannel,
        message: &OutgoingMessage,
    ) -> Result<(), NotifyError> {
        let line = format!(
            "[{}] delivery {} ({:?}): {}\n",
            channel.name,
            message.delivery_id,
            message.event,
            message.text.replace('\n', " / ")
        );
        // A failure here is worth retrying (a full disk may be freed): the dispatcher backs
        // off and tries again; `Permanent` would give the delivery up.
        let mut file = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.path)
            .map_err(|e| NotifyError::Retry {
                message: format!("cannot open the log: {e}"),
                after: None,
            })?;
        file.write_all(line.as_bytes())
            .map_err(|e| NotifyError::Retry {
                message: format!("cannot write the log: {e}"),
                after: None,
            })
    }
}

/// Three sessions of a made-up stock.
const PRICES: &str = "time,symbol,open,high,low,close,volume
2009-06-01,XYZ,28.70,30.05,28.45,29.10,
2009-06-02,XYZ,29.10,30.13,28.30,29.63,
2009-06-03,XYZ,29.63,30.90,29.40,30.52,
";

#[tokio::main(flavor = "current_thread")]
async fn main() -> anyhow::Result<()> {
    let dir = std::env::temp_dir().join(format!("signal-sentinel-example-{}", std::process::id()));
    std::fs::create_dir_all(&dir)?;
    let log = dir.join("alerts.log");

    let store = SeaStore::open(&DatabaseUrl::parse("sqlite::memory:")?).await?;
    let user = store
        .create_user(NewUser {
            email: Email::parse("ops@example.com")?,
            password_hash: Secret::new("$argon2id$example"),
            display_name: None,
        })
        .await?;
    store
        .create_channel(NewChannel {
            owner: user.id,
            name: "alert log".into(),
            kind: ChannelKind::Console,
            config: serde_json::json!({}),
            secret: None,
        })
        .await?;
    let input = RuleInput {
        text: "XYZ price > 30".into(),
        ..RuleInput::default()
    };
    store.create_rule(prepare_rule(user.id, input)?).await?;
    let store: Arc<dyn Store> = Arc::new(store);

    // A date alone is that session's close (its last minute, 15:59 in New York): the clock
    // stands there on 2009-06-03, when XYZ closed at 30.52.
    let clock = Arc::new(ManualClock::new(
        Utc.with_ymd_and_hms(2009, 6, 3, 19, 59, 0)
            .single()
            .expect("a valid time"),
    ));
    let market: Arc<dyn MarketData> =
        Arc::new(ReplayMarket::from_csv("xyz.csv", PRICES, clock.clone())?);
    let monitor = Monitor::new(
        store.clone(),
        market,
        clock.clone(),
        MonitorConfig::default(),
    );
    let report = monitor.run_once().await?;
    println!(
        "monitor: {} alert(s) stored, their deliveries queued",
        report.alerts.len()
    );

    // The dispatcher a worker runs beside the monitor, with our notifier instead of the
    // built-in console one.
    let dispatcher = Dispatcher::new(
        store,
        vec![Arc::new(FileNotifier { path: log.clone() })],
        clock,
        DispatcherConfig::default(),
    );
    let sent = dispatcher.run_once().await?;
    println!("dispatcher: {} claimed, {} sent", sent.claimed, sent.sent);

    let written = std::fs::read_to_string(&log)?;
    print!("{}:\n{written}", log.display());
    std::fs::remove_dir_all(&dir)?;
    anyhow::ensure!(
        sent.sent == report.alerts.len() && sent.sent > 0,
        "every alert delivered"
    );
    Ok(())
}
