//! A market-data provider of your own driving the real monitor: here quotes arrive on a
//! channel another part of the program writes to (a feed handler, a message queue consumer…),
//! and the monitor evaluates the stored rules against them, stores the alerts and queues
//! their deliveries exactly as it does with Alpaca, Finnhub or Yahoo.
//!
//! ```text
//! cargo run -p examples --example custom_market
//! ```

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use chrono::{NaiveDate, TimeZone, Utc};
use rust_decimal::Decimal;
use signal_sentinel::Secret;
use signal_sentinel::clock::{Clock, ManualClock};
use signal_sentinel::config::DatabaseUrl;
use signal_sentinel::domain::{Bar, Email, NewUser, Quote, Symbol};
use signal_sentinel::market::{MarketData, MarketError};
use signal_sentinel::monitor::{Monitor, MonitorConfig};
use signal_sentinel::rules::{RuleInput, prepare_rule};
use signal_sentinel::store::{RuleStore, SeaStore, UserStore};
use tokio::sync::mpsc;

/// Quotes pushed by someone else; the monitor asks for the latest of each symbol it watches.
#[derive(Debug)]
struct ChannelMarket {
    incoming: Mutex<mpsc::UnboundedReceiver<Quote>>,
    latest: Mutex<HashMap<Symbol, Quote>>,
}

#[async_trait]
impl MarketData for ChannelMarket {
    fn name(&self) -> &str {
        "channel"
    }

    /// Symbols per `quotes` call: the monitor batches its requests by this.
    fn max_batch(&self) -> usize {
        500
    }

    async fn quotes(&self, symbols: &[Symbol]) -> Result<Vec<Quote>, MarketError> {
        // Take in everything that arrived since the last call, keeping the newest per symbol.
        let mut latest = self.latest.lock().expect("not poisoned");
        let mut incoming = self.incoming.lock().expect("not poisoned");
        while let Ok(quote) = incoming.try_recv() {
            latest.insert(quote.symbol.clone(), quote);
        }
        // A symbol with no quote is simply left out: its rules go to "no data".
        Ok(symbols
            .iter()
            .filter_map(|s| latest.get(s).cloned())
            .collect())
    }

    /// Daily history, for rules on indicators (RSI, moving averages, 52-week extremes). This
    /// feed has none; rules that need it report the missing history as a problem.
    async fn daily_bars(
        &self,
        _symbol: &Symbol,
        _from: NaiveDate,
        _to: NaiveDate,
    ) -> Result<Vec<Bar>, MarketError> {
        Ok(Vec::new())
    }
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> anyhow::Result<()> {
    let store = SeaStore::open(&DatabaseUrl::parse("sqlite::memory:")?).await?;
    let user = store
        .create_user(NewUser {
            email: Email::parse("trader@example.com")?,
            password_hash: Secret::new("$argon2id$example"),
            display_name: None,
        })
        .await?;
    for text in ["ACME crosses above 101", "ACME day change <= -2%"] {
        // Checked as the API checks a new rule (text, name, options).
        let input = RuleInput {
            text: text.into(),
            ..RuleInput::default()
        };
        store.create_rule(prepare_rule(user.id, input)?).await?;
    }

    let (feed, incoming) = mpsc::unbounded_channel();
    let market = Arc::new(ChannelMarket {
        incoming: Mutex::new(incoming),
        latest: Mutex::new(HashMap::new()),
    });
    // Monday 2026-11-30, 10:00 New York: the market is open (the monitor skips closed ones).
    let clock = Arc::new(ManualClock::new(
        Utc.with_ymd_and_hms(2026, 11, 30, 15, 0, 0)
            .single()
            .expect("a valid time"),
    ));
    let monitor = Monitor::new(
        Arc::new(store),
        market,
        clock.clone(),
        MonitorConfig::default(),
    );

    let acme = Symbol::parse("ACME")?;
    let mut alerts = 0;
    for price in ["100.00", "100.60", "101.25", "100.90", "98.70"] {
        // Someone else's feed: a quote with yesterday's close of 100.80.
        let quote = Quote::new(
            acme.clone(),
            price.parse::<Decimal>()?,
            clock.now(),
            "channel",
        )?
        .with_previous_close(Decimal::new(10_080, 2))?;
        feed.send(quote)?;
        // One monitor cycle, as `Monitor::run` does every interval.
        let report = monitor.run_once().await?;
        println!(
            "{}  ACME {price:>7}: {} rules evaluated, {} alerts",
            clock.now().format("%H:%M"),
            report.evaluated,
            report.alerts.len()
        );
        for alert in &report.alerts {
            println!("        {} ({:?})", alert.message, alert.kind);
        }
        alerts += report.alerts.len();
        clock.advance(chrono::Duration::minutes(1));
    }
    anyhow::ensure!(alerts >= 2, "the crossing and the day's fall should fire");
    Ok(())
}
