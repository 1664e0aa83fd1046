//! The monitor on a stream of trades: rules evaluated on each trade with the same engine and
//! one-transaction write as a polled cycle, subscriptions that follow the rules, a poll after
//! the stream reconnects, and the feed's status.

use std::collections::BTreeSet;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::{TimeZone, Utc};
use signal_sentinel::clock::ManualClock;
use signal_sentinel::domain::{AlertKind, AlertQuery, Symbol};
use signal_sentinel::engine::RuleOptions;
use signal_sentinel::market::{MarketStream, StreamStatus, Trade, TradeBuffer};
use signal_sentinel::monitor::{Monitor, MonitorConfig};
use signal_sentinel::store::{AlertStore, MonitorStore, RuleStore};
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;

use crate::helpers::{
    Backend, FixedMarket, TestDb, add_rule, seed_console_channel, seed_user, symbol,
};

/// A stream the test drives: it pushes trades and sets the status; the monitor's
/// subscriptions are kept.
#[derive(Debug, Default)]
struct Scripted {
    wanted: Mutex<BTreeSet<Symbol>>,
    buffer: Mutex<Option<Arc<TradeBuffer>>>,
    status: Mutex<StreamStatus>,
}

impl Scripted {
    fn push(&self, trade: Trade) {
        self.buffer.lock().unwrap().as_ref().unwrap().push(trade);
    }

    fn wanted(&self) -> Vec<String> {
        self.wanted
            .lock()
            .unwrap()
            .iter()
            .map(ToString::to_string)
            .collect()
    }
}

#[async_trait::async_trait]
impl MarketStream for Scripted {
    fn name(&self) -> &str {
        "scripted"
    }

    fn supports(&self, symbol: &Symbol) -> bool {
        !symbol.as_str().starts_with('^')
    }

    fn max_symbols(&self) -> usize {
        50
    }

    fn status(&self) -> StreamStatus {
        self.status.lock().unwrap().clone()
    }

    async fn run(
        &self,
        mut subscriptions: watch::Receiver<BTreeSet<Symbol>>,
        trades: Arc<TradeBuffer>,
        shutdown: CancellationToken,
    ) {
        *self.buffer.lock().unwrap() = Some(trades);
        self.status.lock().unwrap().connected = true;
        loop {
            *self.wanted.lock().unwrap() = subscriptions.borrow_and_update().clone();
            tokio::select! {
                () = shutdown.cancelled() => return,
                changed = subscriptions.changed() => if changed.is_err() { return },
            }
        }
    }
}

/// Waits (up to a safety limit, not a timing) until `done` holds.
async fn until<F: std::future::Future<Output = bool>>(mut done: impl FnMut() -> F) -> bool {
    for _ in 0..1_000 {
        if done().await {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    false
}

/// A monitor on `market` and `stream`, running with an hour between polls (one at start).
fn monitor_streaming(
    db: &TestDb,
    market: Arc<FixedMarket>,
    clock: &Arc<ManualClock>,
    stream: &Arc<Scripted>,
    spacing: Duration,
) -> (Monitor, CancellationToken, tokio::task::JoinHandle<()>) {
    let monitor = Monitor::new(
        Arc::new(db.store.clone()),
        market,
        clock.clone(),
        MonitorConfig::default(),
    )
    .with_stream(stream.clone(), spacing);
    let stop = CancellationToken::new();
    let running = monitor.spawn(Duration::from_secs(3_600), stop.clone());
    (monitor, stop, running)
}

fn trade(sym: &str, price: &str, at: chrono::DateTime<Utc>) -> Trade {
    Trade {
        symbol: symbol(sym),
        price: price.parse().unwrap(),
        at,
        size: Some("100".parse().unwrap()),
    }
}

/// A cross on the stream fires between two polls an hour apart; only rules evaluated on every
/// sample are subscribed; rules added and removed change the subscriptions; a reconnect polls.
#[tokio::test]
async fn rules_fire_on_trades_between_polls() {
    let db = TestDb::new(Backend::SqliteFile).await.unwrap();
    let ann = seed_user(&db.store, "ann@example.com").await;
    seed_console_channel(&db.store, &ann).await;
    let cross = add_rule(
        &db.store,
        &ann,
        "XYZ crosses above 30",
        RuleOptions::default(),
    )
    .await;
    let drop = add_rule(
        &db.store,
        &ann,
        "XYZ day change <= -10%",
        RuleOptions::default(),
    )
    .await;
    // Evaluated at the close only: not a reason to subscribe.
    let at_close = RuleOptions {
        evaluate: signal_sentinel::engine::Evaluate::AtSessionClose,
        ..RuleOptions::default()
    };
    add_rule(&db.store, &ann, "KO price > 1", at_close).await;
    // Monday 2026-11-30, 10:00 New York.
    let start = Utc.with_ymd_and_hms(2026, 11, 30, 15, 0, 0).unwrap();
    let clock = Arc::new(ManualClock::new(start));
    let market = Arc::new(FixedMarket::new(clock.clone()));
    market.set("XYZ", "25", "25");
    market.set("KO", "60", "60");
    market.set("ABC", "5", "5");
    let stream = Arc::new(Scripted::default());
    // One poll at start, the next an hour later: what fires in between is the stream's.
    let (monitor, stop, running) =
        monitor_streaming(&db, market.clone(), &clock, &stream, Duration::ZERO);
    assert!(
        until(|| async { stream.wanted() == ["XYZ"] }).await,
        "{:?}",
        stream.wanted()
    );
    assert_eq!(*market.calls.lock().unwrap(), 1);

    // Trades: 29, then 31 (the cross), then a trade older than the last one (ignored).
    let second = chrono::Duration::seconds(1);
    clock.set(start + second * 2);
    stream.push(trade("XYZ", "29", start + second));
    assert!(until(|| async { monitor.snapshot().feed.trade_cycles >= 1 }).await);
    stream.push(trade("XYZ", "31", start + second * 2));
    let alerts = || async {
        db.store
            .list_alerts(&AlertQuery::newest(ann.id, 50))
            .await
            .unwrap()
    };
    assert!(until(|| async { !alerts().await.is_empty() }).await);
    let fired = alerts().await;
    assert_eq!(fired.len(), 1, "{fired:?}");
    assert_eq!(fired[0].rule_id, Some(cross.id));
    assert_eq!(fired[0].kind, AlertKind::Fired);
    assert_eq!(fired[0].price.to_string(), "31");
    // The day's figures come from the poll: a trade at 22.4 is a 10.4% drop from 25.
    clock.set(start + second * 4);
    stream.push(trade("XYZ", "22.4", start + second * 3));
    assert!(until(|| async { alerts().await.len() == 2 }).await);
    assert_eq!(alerts().await[0].rule_id, Some(drop.id));
    // Its delivery is in the outbox like a polled alert's.
    for alert in alerts().await {
        let deliveries = db.store.list_deliveries(alert.id).await.unwrap();
        assert_eq!(deliveries.len(), 1, "{deliveries:?}");
    }

    // A rule added elsewhere is subscribed within the follow tick; a deleted one is not.
    let abc = add_rule(&db.store, &ann, "ABC price > 6", RuleOptions::default()).await;
    assert!(
        until(|| async { stream.wanted() == ["ABC", "XYZ"] }).await,
        "{:?}",
        stream.wanted()
    );
    db.store.delete_rule(cross.id).await.unwrap();
    db.store.delete_rule(drop.id).await.unwrap();
    assert!(
        until(|| async { stream.wanted() == ["ABC"] }).await,
        "{:?}",
        stream.wanted()
    );
    // ABC's first trade comes before any poll of it: it waits for the day's figures.
    clock.set(start + second * 6);
    stream.push(trade("ABC", "7", start + second * 5));
    let cycles = monitor.snapshot().feed.trade_cycles;
    assert!(until(|| async { monitor.snapshot().feed.trade_cycles > cycles }).await);
    assert_eq!(
        alerts().await.len(),
        2,
        "no quote without the day's figures"
    );

    // The stream drops and comes back: the monitor polls at once (ABC is quoted, at 5).
    {
        let mut status = stream.status.lock().unwrap();
        status.reconnects = 1;
    }
    assert!(until(|| async { *market.calls.lock().unwrap() == 2 }).await);
    clock.set(start + second * 8);
    stream.push(trade("ABC", "7", start + second * 7));
    assert!(until(|| async { alerts().await.len() == 3 }).await);
    assert_eq!(alerts().await[0].rule_id, Some(abc.id));

    let feed = monitor.snapshot().feed;
    assert_eq!(feed.mode, "stream");
    assert_eq!(feed.stream.as_ref().unwrap().provider, "");
    assert!(feed.stream.unwrap().connected);
    assert_eq!(feed.trades_received, 5);
    stop.cancel();
    running.await.unwrap();
}

/// A burst of trades of one symbol taken at once: each is evaluated in order, so a level
/// crossed twice within the burst fires twice.
#[tokio::test]
async fn every_crossing_in_a_burst_fires() {
    let db = TestDb::new(Backend::SqliteMemory).await.unwrap();
    let ann = seed_user(&db.store, "ann@example.com").await;
    add_rule(
        &db.store,
        &ann,
        "XYZ crosses above 30",
        RuleOptions::default(),
    )
    .await;
    let start = Utc.with_ymd_and_hms(2026, 11, 30, 15, 0, 0).unwrap();
    let clock = Arc::new(ManualClock::new(start));
    let market = Arc::new(FixedMarket::new(clock.clone()));
    market.set("XYZ", "25", "25");
    let stream = Arc::new(Scripted::default());
    let (monitor, stop, running) =
        monitor_streaming(&db, market, &clock, &stream, Duration::from_millis(200));
    assert!(until(|| async { stream.wanted() == ["XYZ"] }).await);
    // Up, down, up, down, up: three crossings above 30, pushed at once (the spacing makes
    // the monitor take them together after its first cycle on trades).
    let ms = chrono::Duration::milliseconds(1);
    clock.set(start + ms * 10);
    for (i, price) in ["31", "29", "32", "28", "33"].into_iter().enumerate() {
        stream.push(trade("XYZ", price, start + ms * (i as i32 + 1)));
    }
    let alerts = || async {
        db.store
            .list_alerts(&AlertQuery::newest(ann.id, 50))
            .await
            .unwrap()
    };
    assert!(
        until(|| async { alerts().await.len() == 3 }).await,
        "{:?}",
        alerts().await
    );
    let prices: Vec<String> = alerts()
        .await
        .iter()
        .rev()
        .map(|a| a.price.to_string())
        .collect();
    assert_eq!(prices, ["31", "32", "33"]);
    assert_eq!(monitor.snapshot().feed.trades_coalesced, 0);
    stop.cancel();
    running.await.unwrap();
}
