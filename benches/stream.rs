//! Trade → alert → notifier: the real monitor on a stream of trades, with the real dispatcher
//! handing each alert's delivery to a notifier, at 1, 1,000 and 10,000 trades per second over
//! 5,000 symbols with 100,000 rules; the store on an SQLite file (or `BENCH_DATABASE_URL`).
//!
//! ```text
//! cargo bench -p benches --bench stream
//! BENCH_RATES=1000 cargo bench -p benches --bench stream
//! ```
//!
//! Each symbol has 10 `crosses above` and 10 `crosses below` rules at levels around its price
//! (100 users own them, each with a webhook channel whose notifier records when it is handed a
//! message instead of sending it). After one polled cycle (the day's figures), a generator
//! pushes trades at the rate, each a random step of a random symbol, into the stream the
//! monitor reads. Printed per rate: trade received → alert committed and → message handed to
//! the notifier (median, p99, max), the trades coalesced (replaced by a later one of their
//! symbol before a cycle read them), and every crossing in the pushed trades against the
//! alerts stored for it: none may be lost.

#[global_allocator]
static ALLOCATOR: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

use std::collections::{BTreeSet, HashMap};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use chrono::{TimeZone, Utc};
use rust_decimal::Decimal;
use serde_json::json;
use signal_sentinel::clock::ManualClock;
use signal_sentinel::config::DatabaseUrl;
use signal_sentinel::domain::{ChannelKind, NewChannel, NewRule, Symbol};
use signal_sentinel::engine::{RuleOptions, parse_rule};
use signal_sentinel::market::{
    MarketData, MarketStream, SimulatedMarket, StreamStatus, Trade, TradeBuffer,
};
use signal_sentinel::monitor::{FloodGuard, Monitor, MonitorConfig};
use signal_sentinel::notify::{
    Dispatcher, DispatcherConfig, Notifier, NotifyError, OutgoingMessage,
};
use signal_sentinel::store::{ChannelStore, RuleStore, SeaStore, Store};
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;

const SYMBOLS: usize = 5_000;
const LEVELS: usize = 10;

/// When each trade was pushed, by (symbol, price): prices are unique per symbol.
type Pushed = Arc<Mutex<HashMap<(String, String), Instant>>>;

/// A stream the generator pushes into.
#[derive(Debug, Default)]
struct BenchStream {
    buffer: Mutex<Option<Arc<TradeBuffer>>>,
    subscribed: Mutex<usize>,
}

#[async_trait::async_trait]
impl MarketStream for BenchStream {
    fn name(&self) -> &str {
        "bench"
    }

    fn supports(&self, _: &Symbol) -> bool {
        true
    }

    fn max_symbols(&self) -> usize {
        usize::MAX
    }

    fn status(&self) -> StreamStatus {
        StreamStatus {
            provider: "bench".into(),
            connected: true,
            subscribed: *self.subscribed.lock().unwrap(),
            ..StreamStatus::default()
        }
    }

    async fn run(
        &self,
        mut subscriptions: watch::Receiver<BTreeSet<Symbol>>,
        trades: Arc<TradeBuffer>,
        shutdown: CancellationToken,
    ) {
        *self.buffer.lock().unwrap() = Some(trades);
        loop {
            *self.subscribed.lock().unwrap() = subscriptions.borrow_and_update().len();
            tokio::select! {
                () = shutdown.cancelled() => return,
                changed = subscriptions.changed() => if changed.is_err() { return },
            }
        }
    }
}

/// Records when it is handed each alert's message.
#[derive(Debug)]
struct Recorder {
    pushed: Pushed,
    latencies: Arc<Mutex<Vec<Duration>>>,
}

#[async_trait::async_trait]
impl Notifier for Recorder {
    fn kind(&self) -> ChannelKind {
        ChannelKind::Webhook
    }

    async fn send(
        &self,
        _: &signal_sentinel::domain::NotificationChannel,
        message: &OutgoingMessage,
    ) -> Result<(), NotifyError> {
        let now = Instant::now();
        if let Some(alert) = &message.alert {
            let key = (
                alert.symbol.to_string(),
                alert.price.normalize().to_string(),
            );
            if let Some(pushed) = self.pushed.lock().unwrap().get(&key) {
                self.latencies.lock().unwrap().push(now - *pushed);
            }
        }
        Ok(())
    }
}

fn percentiles(mut values: Vec<Duration>) -> String {
    if values.is_empty() {
        return "none".into();
    }
    values.sort_unstable();
    let at = |p: f64| values[((values.len() as f64 - 1.0) * p).round() as usize];
    format!(
        "median {:.1} ms, p99 {:.1} ms, max {:.1} ms ({} alerts)",
        at(0.5).as_secs_f64() * 1e3,
        at(0.99).as_secs_f64() * 1e3,
        values.last().unwrap().as_secs_f64() * 1e3,
        values.len()
    )
}

fn main() {
    let runtime = benches::runtime();
    runtime.block_on(run());
}

async fn run() {
    let rates: Vec<u64> = std::env::var("BENCH_RATES")
        .unwrap_or_else(|_| "1,1000,10000".into())
        .split(',')
        .map(|r| {
            r.trim()
                .parse()
                .expect("BENCH_RATES: trades per second, comma-separated")
        })
        .collect();
    let dir = tempfile::tempdir().unwrap();
    let url = benches::database_url(dir.path(), "stream.db");
    let store = SeaStore::open(&DatabaseUrl::parse(&url).unwrap())
        .await
        .unwrap();
    // Monday 2026-11-30, 10:00 New York.
    let start = Utc.with_ymd_and_hms(2026, 11, 30, 15, 0, 0).unwrap();
    let clock = Arc::new(ManualClock::new(start));
    let market = Arc::new(SimulatedMarket::new(7, clock.clone()).with_max_batch(100));
    let symbols: Vec<Symbol> = (0..SYMBOLS)
        .map(|s| Symbol::parse(&format!("S{s}")).unwrap())
        .collect();
    let mut prices: Vec<Decimal> = Vec::with_capacity(SYMBOLS);
    for batch in symbols.chunks(100) {
        for quote in market.quotes(batch).await.unwrap() {
            prices.push(quote.price);
        }
    }
    assert_eq!(prices.len(), SYMBOLS);

    // 100 users with a webhook channel each; 20 rules per symbol at levels around its price.
    let seeded = Instant::now();
    let mut users = Vec::new();
    for u in 0..100 {
        let user = benches::bench_user(&store, &format!("user{u}@example.com")).await;
        store
            .create_channel(NewChannel {
                owner: user.id,
                name: "hook".into(),
                kind: ChannelKind::Webhook,
                config: json!({"url": "http://127.0.0.1:9/hook"}),
                secret: Some(signal_sentinel::Secret::new("whsec-bench-0123456789")),
            })
            .await
            .unwrap();
        users.push(user.id);
    }
    // Each symbol's levels, and whether its rule there waits for a cross above (or below).
    let mut levels: Vec<Vec<(Decimal, bool)>> = Vec::with_capacity(SYMBOLS);
    let mut batch = Vec::new();
    for (s, price) in prices.iter().enumerate() {
        let mut own = Vec::new();
        for k in 1..=LEVELS {
            // ±0.2% … ±2% of the price, to cents.
            let step = *price * Decimal::new(2 * k as i64, 3);
            for (direction, level) in [("above", *price + step), ("below", *price - step)] {
                let level = level.round_dp(2);
                own.push((level, direction == "above"));
                let rule = parse_rule(&format!("S{s} crosses {direction} {level}")).unwrap();
                batch.push(NewRule {
                    owner: users[(s * 2 * LEVELS + own.len()) % users.len()],
                    symbol: rule.symbol,
                    name: None,
                    condition: rule.condition.to_document(),
                    options: RuleOptions::default().to_document(),
                    enabled: true,
                    expires_at: None,
                });
            }
        }
        levels.push(own);
        if batch.len() >= 10_000 {
            store
                .create_rules(std::mem::take(&mut batch))
                .await
                .unwrap();
        }
    }
    store.create_rules(batch).await.unwrap();
    eprintln!(
        "seeded {} rules over {SYMBOLS} symbols in {:.1?}",
        SYMBOLS * 2 * LEVELS,
        seeded.elapsed()
    );

    let store: Arc<dyn Store> = Arc::new(store);
    let pushed: Pushed = Arc::default();
    let committed: Arc<Mutex<Vec<Duration>>> = Arc::default();
    let notified: Arc<Mutex<Vec<Duration>>> = Arc::default();
    let stream = Arc::new(BenchStream::default());
    let monitor = Monitor::new(
        store.clone(),
        market.clone(),
        clock.clone(),
        MonitorConfig {
            // Every crossing is to fire, however often a rule's level is crossed.
            flood_guard: FloodGuard {
                firings: u32::MAX,
                window: chrono::Duration::minutes(1),
            },
            ..MonitorConfig::default()
        },
    )
    .on_alerts(Arc::new({
        let pushed = pushed.clone();
        let committed = committed.clone();
        move |alerts| {
            let now = Instant::now();
            let pushed = pushed.lock().unwrap();
            let mut committed = committed.lock().unwrap();
            for alert in alerts {
                let key = (
                    alert.symbol.to_string(),
                    alert.price.normalize().to_string(),
                );
                if let Some(at) = pushed.get(&key) {
                    committed.push(now - *at);
                }
            }
        }
    }))
    .with_stream(stream.clone(), Duration::ZERO);
    let notifier: Arc<dyn Notifier> = Arc::new(Recorder {
        pushed: pushed.clone(),
        latencies: notified.clone(),
    });
    let dispatcher = Dispatcher::new(
        store.clone(),
        vec![notifier],
        clock.clone(),
        DispatcherConfig::default(),
    );
    let stop = CancellationToken::new();
    let cold = Instant::now();
    // One poll at start (the day's figures); the rest is the stream's.
    let monitoring = monitor.spawn(Duration::from_secs(3_600), stop.clone());
    let dispatching = dispatcher.spawn(Duration::from_secs(5), stop.clone());
    while *stream.subscribed.lock().unwrap() < SYMBOLS {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    eprintln!(
        "first (polled) cycle and subscriptions: {:.1?}",
        cold.elapsed()
    );
    // Let the first cycle's deliveries (there are none: no trade yet) settle.
    tokio::time::sleep(Duration::from_millis(500)).await;

    let mut rng_state: u64 = 0x9e37_79b9_7f4a_7c15;
    let mut next = move || {
        // xorshift64*: reproducible, no dependency.
        rng_state ^= rng_state >> 12;
        rng_state ^= rng_state << 25;
        rng_state ^= rng_state >> 27;
        rng_state.wrapping_mul(0x2545_f491_4f6c_dd1d)
    };
    let mut last: Vec<Decimal> = prices.clone();
    let mut at = start;
    let mut serial: u64 = 0;
    for rate in rates {
        let seconds: u64 = match rate {
            r if r >= 10_000 => 5,
            _ => 10,
        };
        let total = rate * seconds;
        committed.lock().unwrap().clear();
        notified.lock().unwrap().clear();
        let buffer = stream.buffer.lock().unwrap().clone().unwrap();
        let (received, coalesced) = (buffer.received(), buffer.coalesced());
        let alerts_before = monitor.snapshot().feed.trade_cycles;
        let mut crossings = 0_u64;
        let began = Instant::now();
        let mut sent = 0_u64;
        while sent < total {
            // Trades due by now, in bursts of at most a millisecond's worth.
            let due = ((began.elapsed().as_secs_f64() * rate as f64) as u64 + 1).min(total);
            while sent < due {
                let s = (next() % SYMBOLS as u64) as usize;
                // A step of -0.5% … +0.5%, to 1/1000, never on a level (levels are cents).
                let step = (next() % 1_001) as i64 - 500;
                let moved = last[s] + last[s] * Decimal::new(step, 5);
                serial += 1;
                let price = moved.round_dp(2) + Decimal::new(5 + 10 * (serial % 100) as i64, 5);
                let price = price.max(Decimal::new(1, 2));
                crossings += levels[s]
                    .iter()
                    .filter(|(level, above)| {
                        if *above {
                            last[s] < *level && price >= *level
                        } else {
                            last[s] > *level && price <= *level
                        }
                    })
                    .count() as u64;
                last[s] = price;
                at += chrono::Duration::microseconds(100);
                clock.set(at);
                pushed.lock().unwrap().insert(
                    (format!("S{s}"), price.normalize().to_string()),
                    Instant::now(),
                );
                buffer.push(Trade {
                    symbol: symbols[s].clone(),
                    price,
                    at,
                    size: Some(Decimal::ONE_HUNDRED),
                });
                sent += 1;
            }
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
        let pushing = began.elapsed();
        // Until every alert of the trades is committed and handed to the notifier.
        let mut quiet = 0;
        let mut seen = (0, 0);
        while quiet < 20 {
            tokio::time::sleep(Duration::from_millis(50)).await;
            let now = (
                committed.lock().unwrap().len(),
                notified.lock().unwrap().len(),
            );
            if now == seen && now.0 == now.1 && buffer.is_empty() {
                quiet += 1;
            } else {
                quiet = 0;
                seen = now;
            }
        }
        let feed = monitor.snapshot().feed;
        let alerts = committed.lock().unwrap().len();
        println!(
            "{rate} trades/s: {total} trades in {pushing:.1?} ({} received, {} coalesced, {} cycles on trades)",
            buffer.received() - received,
            buffer.coalesced() - coalesced,
            feed.trade_cycles - alerts_before,
        );
        println!(
            "  trade → alert committed: {}",
            percentiles(committed.lock().unwrap().clone())
        );
        println!(
            "  trade → notifier: {}",
            percentiles(notified.lock().unwrap().clone())
        );
        println!(
            "  crossings in the trades pushed: {crossings}; alerts committed for them: {alerts}{}",
            if crossings == alerts as u64 {
                " (none lost)"
            } else {
                " (DIFFERENT: see the coalesced trades)"
            }
        );
    }
    stop.cancel();
    monitoring.await.unwrap();
    dispatching.await.unwrap();
    let rss = std::fs::read_to_string("/proc/self/status")
        .unwrap_or_default()
        .lines()
        .find(|l| l.starts_with("VmHWM:"))
        .map(|l| l["VmHWM:".len()..].trim().to_owned())
        .unwrap_or_default();
    println!("peak RSS {rss}");
}
