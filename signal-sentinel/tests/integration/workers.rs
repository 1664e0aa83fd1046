//! Several monitor workers on one database, over a replayed market of 200 symbols and 10,000
//! rules: together they store exactly the alerts one worker stores; a worker killed in the
//! middle of a cycle, one that stalls and comes back after its shards were taken, and one that
//! joins mid-run change nothing in the alerts, and no shard is ever evaluated by two workers in
//! one round.
//!
//! Each round runs every worker's cycle concurrently at one moment of the replay. After an
//! event (a join, a death) the same moment is replayed until the shards are all held again —
//! the seconds a handover takes are well inside one daily bar — and the single worker of the
//! reference runs exactly the same rounds.

use std::collections::BTreeSet;
use std::sync::Arc;

use async_trait::async_trait;
use chrono::{Duration, NaiveDate};
use rust_decimal::Decimal;
use signal_sentinel::clock::{Clock, ManualClock};
use signal_sentinel::domain::{
    AlertQuery, Bar, NewRule, Quote, SHARDS, Symbol, User, WorkerIdentity,
};
use signal_sentinel::engine::{RuleOptions, parse_rule};
use signal_sentinel::market::{MarketData, MarketError, ReplayMarket};
use signal_sentinel::monitor::{CycleReport, Monitor, MonitorConfig, MonitorError, Sharding};
use signal_sentinel::store::{
    AlertStore, MonitorStore, RuleStore, SeaStore, Store, StoreError, WorkerStore,
};
use signal_sentinel::time::Timestamp;
use tokio::sync::Semaphore;

use crate::helpers::{Backend, TestDb, at, seed_console_channel, seed_user};

const SYMBOLS: usize = 200;
const LEASE: Duration = Duration::seconds(5);
/// Moments of the replay each test runs: the first 24 trading days (21,600 alerts).
const MOMENTS: usize = 24;

fn name(i: usize) -> String {
    format!("S{i:03}")
}

/// Factor of symbol `i`'s prices over the real series.
fn factor(i: usize) -> Decimal {
    Decimal::new(100 + 2 * i as i64, 2)
}

/// The real daily bars of June–July 2009, for 200 symbols each scaled by its factor.
fn market_csv() -> String {
    let mut csv = String::from("time,symbol,open,high,low,close,volume\n");
    let real = include_str!("../../fixtures/daily_ohlc_2009.csv");
    for i in 0..SYMBOLS {
        let f = factor(i);
        for record in csv::Reader::from_reader(real.as_bytes()).records() {
            let record = record.unwrap();
            let mut fields = record.iter();
            let date = fields.next().unwrap();
            let prices: Vec<String> = fields
                .map(|p| (p.parse::<Decimal>().unwrap() * f).round_dp(2).to_string())
                .collect();
            csv.push_str(&format!("{date},{},{},\n", name(i), prices.join(",")));
        }
    }
    csv
}

/// 50 rules per symbol around its price range (23–33 times its factor).
fn rule_texts(i: usize) -> Vec<String> {
    let s = name(i);
    let f = factor(i);
    let level = |x: i64| (Decimal::new(x, 1) * f).round_dp(2);
    let mut texts = Vec::new();
    for x in (240..=330).step_by(10) {
        texts.push(format!("{s} crosses above {}", level(x)));
        texts.push(format!("{s} crosses below {}", level(x)));
    }
    for x in (250..=330).step_by(20) {
        texts.push(format!("{s} price > {}", level(x)));
        texts.push(format!("{s} price < {}", level(x)));
        texts.push(format!("{s} price >= {}", level(x + 10)));
    }
    for pct in 1..=5 {
        texts.push(format!("{s} day change <= -{pct}%"));
        texts.push(format!("{s} day change >= {pct}%"));
    }
    for pct in [3, 5, 8, 10, 12] {
        texts.push(format!("{s} trailing stop {pct}%"));
    }
    texts
}

async fn seed(store: &SeaStore) -> User {
    let user = seed_user(store, "ann@example.com").await;
    seed_console_channel(store, &user).await;
    let mut batch = Vec::new();
    for i in 0..SYMBOLS {
        for text in rule_texts(i) {
            let parsed = parse_rule(&text).unwrap();
            batch.push(NewRule {
                owner: user.id,
                symbol: parsed.symbol,
                name: None,
                condition: parsed.condition.to_document(),
                options: RuleOptions::default().to_document(),
                enabled: true,
                expires_at: None,
            });
        }
    }
    assert_eq!(batch.len(), 10_000);
    for chunk in batch.chunks(2_000) {
        store.create_rules(chunk.to_vec()).await.unwrap();
    }
    user
}

/// The replayed market, with a gate a test can close to hold a worker inside its cycle.
#[derive(Debug)]
struct Gated {
    market: Arc<ReplayMarket>,
    gate: Arc<Semaphore>,
    /// Quote requests that reached the gate.
    arrived: Arc<std::sync::atomic::AtomicUsize>,
}

#[async_trait]
impl MarketData for Gated {
    fn name(&self) -> &str {
        "replay"
    }
    fn max_batch(&self) -> usize {
        100
    }
    async fn quotes(&self, symbols: &[Symbol]) -> Result<Vec<Quote>, MarketError> {
        self.arrived
            .fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        let _pass = self.gate.acquire().await.expect("gate open");
        self.market.quotes(symbols).await
    }
    async fn daily_bars(
        &self,
        symbol: &Symbol,
        from: NaiveDate,
        to: NaiveDate,
    ) -> Result<Vec<Bar>, MarketError> {
        self.market.daily_bars(symbol, from, to).await
    }
}

/// A worker: its monitor and the gate of its market.
struct Worker {
    monitor: Monitor,
    gate: Arc<Semaphore>,
    arrived: Arc<std::sync::atomic::AtomicUsize>,
}

impl Worker {
    /// Starts a cycle with the gate closed and returns once the cycle waits at it (it holds
    /// its shards and has written nothing).
    async fn start_held(&self) -> tokio::task::JoinHandle<Result<CycleReport, MonitorError>> {
        self.gate.forget_permits(Semaphore::MAX_PERMITS);
        let before = self.arrived.load(std::sync::atomic::Ordering::SeqCst);
        let monitor = self.monitor.clone();
        let task = tokio::spawn(async move { monitor.run_once().await });
        while self.arrived.load(std::sync::atomic::Ordering::SeqCst) == before {
            tokio::time::sleep(std::time::Duration::from_millis(5)).await;
        }
        task
    }
}

/// One replay: the store, the market's clock and the leases' clock.
struct Run {
    store: Arc<dyn Store>,
    market: Arc<ReplayMarket>,
    clock: Arc<ManualClock>,
    leases: Arc<ManualClock>,
    timeline: Vec<Timestamp>,
}

impl Run {
    fn new(store: &SeaStore) -> Self {
        let clock = Arc::new(ManualClock::new(at("2009-06-01T12:00:00Z")));
        let market =
            Arc::new(ReplayMarket::from_csv("s.csv", &market_csv(), clock.clone()).unwrap());
        let mut timeline = market.timeline();
        timeline.truncate(MOMENTS);
        Self {
            store: Arc::new(store.clone()),
            market,
            clock,
            leases: Arc::new(ManualClock::new(at("2026-11-29T10:00:00Z"))),
            timeline,
        }
    }

    fn worker(&self, id: &str) -> Worker {
        let gate = Arc::new(Semaphore::new(Semaphore::MAX_PERMITS));
        let arrived = Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let market: Arc<dyn MarketData> = Arc::new(Gated {
            market: self.market.clone(),
            gate: gate.clone(),
            arrived: arrived.clone(),
        });
        let clock: Arc<dyn Clock> = self.clock.clone();
        let monitor = Monitor::new(self.store.clone(), market, clock, MonitorConfig::default())
            .sharded(Sharding {
                worker: WorkerIdentity {
                    id: id.to_owned(),
                    host: "test".into(),
                    pid: 1,
                    interval_seconds: 1,
                },
                lease: LEASE,
                clock: self.leases.clone(),
            });
        Worker {
            monitor,
            gate,
            arrived,
        }
    }

    /// What a live worker's heartbeat task does between cycles.
    async fn heartbeat(&self, id: &str) {
        let worker = WorkerIdentity {
            id: id.to_owned(),
            host: "test".into(),
            pid: 1,
            interval_seconds: 1,
        };
        self.store
            .renew_leases(&worker, self.leases.now(), LEASE)
            .await
            .unwrap();
    }

    /// One round at moment `k`: every worker's cycle at once; the leases' clock moves one
    /// second. Checks that no shard was held by two of them; returns the shards held.
    async fn round(&self, k: usize, workers: &[&Worker]) -> BTreeSet<u32> {
        self.round_balance(k, workers).await.0
    }

    /// [`round`](Self::round), and whether every worker held at most its fair share.
    async fn round_balance(&self, k: usize, workers: &[&Worker]) -> (BTreeSet<u32>, bool) {
        self.clock.set(self.timeline[k]);
        let reports: Vec<CycleReport> =
            futures_util::future::join_all(workers.iter().map(|w| w.monitor.run_once()))
                .await
                .into_iter()
                .map(Result::unwrap)
                .collect();
        self.leases.advance(Duration::seconds(1));
        let held = disjoint(&reports);
        let share = SHARDS.div_ceil(workers.len() as u32) as usize;
        let balanced = reports
            .iter()
            .all(|r| r.shards.as_ref().unwrap().len() <= share);
        (held, balanced)
    }

    /// Rounds at moment `k` until every shard is held and nobody holds more than its share
    /// (so nothing changes hands in the next round); how many it took.
    async fn settle(&self, k: usize, workers: &[&Worker]) -> usize {
        for n in 1..=10 {
            let (held, balanced) = self.round_balance(k, workers).await;
            if held.len() == SHARDS as usize && balanced {
                return n;
            }
        }
        panic!("the shards were not all held after 10 rounds");
    }
}

fn disjoint(reports: &[CycleReport]) -> BTreeSet<u32> {
    let mut held = BTreeSet::new();
    for report in reports {
        for shard in report.shards.as_ref().unwrap() {
            assert!(
                held.insert(*shard),
                "shard {shard} evaluated twice in one round"
            );
        }
    }
    held
}

type Key = (i64, i64, String, String, String);

/// Every stored alert as (rule, episode, kind, time, price), checking each has one delivery.
async fn alerts_of(store: &SeaStore, user: &User) -> Vec<Key> {
    let mut keys = Vec::new();
    let mut query = AlertQuery::newest(user.id, 200);
    loop {
        let page = store.list_alerts(&query).await.unwrap();
        let Some(last) = page.last() else { break };
        query.before = Some(last.into());
        for alert in &page {
            keys.push((
                alert.rule_id.unwrap().get(),
                alert.episode,
                alert.kind.to_string(),
                alert.fired_at.to_rfc3339(),
                alert.price.to_string(),
            ));
        }
    }
    keys.sort();
    let unique: BTreeSet<&Key> = keys.iter().collect();
    assert_eq!(unique.len(), keys.len(), "an alert stored twice");
    keys
}

/// One unsharded worker running `rounds[k]` cycles at each moment `k`.
async fn reference(rounds: &[usize]) -> Vec<Key> {
    let db = TestDb::new(Backend::SqliteMemory).await.unwrap();
    let user = seed(&db.store).await;
    let run = Run::new(&db.store);
    let clock: Arc<dyn Clock> = run.clock.clone();
    let market: Arc<dyn MarketData> = run.market.clone();
    let monitor = Monitor::new(run.store.clone(), market, clock, MonitorConfig::default());
    for (k, n) in rounds.iter().enumerate() {
        run.clock.set(run.timeline[k]);
        for _ in 0..*n {
            monitor.run_once().await.unwrap();
        }
    }
    alerts_of(&db.store, &user).await
}

async fn check_against_reference(db: &TestDb, user: &User, rounds: &[usize]) {
    let got = alerts_of(&db.store, user).await;
    let expected = reference(rounds).await;
    assert!(expected.len() > 1_000, "{} alerts only", expected.len());
    assert_eq!(got.len(), expected.len());
    assert!(
        got == expected,
        "the workers' alerts differ from one worker's"
    );
    // One delivery per alert: nothing queued twice.
    let sample = db
        .store
        .list_alerts(&AlertQuery::newest(user.id, 50))
        .await
        .unwrap();
    for alert in sample {
        assert_eq!(db.store.list_deliveries(alert.id).await.unwrap().len(), 1);
    }
}

async fn three_workers_store_what_one_stores(db: &TestDb) {
    let user = seed(&db.store).await;
    let run = Run::new(&db.store);
    let (a, b, c) = (run.worker("a"), run.worker("b"), run.worker("c"));
    let all = [&a, &b, &c];
    let mut rounds = vec![1; run.timeline.len()];
    rounds[0] = run.settle(0, &all).await;
    for k in 1..run.timeline.len() {
        assert_eq!(run.round(k, &all).await.len(), SHARDS as usize);
    }
    // Each holds about a third.
    let status = db
        .store
        .list_workers(run.leases.now() - LEASE)
        .await
        .unwrap();
    let mut shares: Vec<usize> = status.iter().map(|w| w.shards.len()).collect();
    shares.sort_unstable();
    assert_eq!(shares, [20, 22, 22]);
    check_against_reference(db, &user, &rounds).await;
}

async fn a_killed_worker_and_a_stalled_one_lose_and_duplicate_nothing(db: &TestDb) {
    let user = seed(&db.store).await;
    let run = Run::new(&db.store);
    let (a, b, c) = (run.worker("a"), run.worker("b"), run.worker("c"));
    let mut rounds = vec![1; run.timeline.len()];
    rounds[0] = run.settle(0, &[&a, &b, &c]).await;
    let (kill_at, stall_at) = (8, 16);
    for (k, n) in rounds.iter_mut().enumerate().skip(1) {
        if k == kill_at {
            // `c` dies in the middle of its cycle: it has its shards and is waiting for
            // quotes when its process goes.
            run.clock.set(run.timeline[k]);
            let dying = c.start_held().await;
            let held = run.round(k, &[&a, &b]).await;
            assert!(held.len() < SHARDS as usize, "c's shards are still leased");
            dying.abort();
            // Its leases expire while the others' heartbeats renew theirs; they take its
            // shards at this same moment.
            run.leases.advance(LEASE);
            for w in ["a", "b"] {
                run.heartbeat(w).await;
            }
            *n = 1 + run.settle(k, &[&a, &b]).await;
        } else if k == stall_at {
            // `b` stalls in its cycle (a long pause) until its leases expire and `a` has
            // taken and evaluated its shards; its late write is refused whole.
            run.clock.set(run.timeline[k]);
            let stalled = b.start_held().await;
            run.leases.advance(LEASE + Duration::seconds(1));
            run.heartbeat("a").await;
            assert_eq!(run.round(k, &[&a]).await.len(), SHARDS as usize);
            b.gate.add_permits(Semaphore::MAX_PERMITS);
            match stalled.await.unwrap() {
                Err(MonitorError::Store(StoreError::LeaseLost { shards })) => {
                    assert!(!shards.is_empty());
                }
                other => panic!("expected the stalled write to be refused: {other:?}"),
            }
            // `b` carries on as a worker among the others.
            *n = 1 + run.settle(k, &[&a, &b]).await;
        } else if k > kill_at {
            assert_eq!(run.round(k, &[&a, &b]).await.len(), SHARDS as usize);
        } else {
            assert_eq!(run.round(k, &[&a, &b, &c]).await.len(), SHARDS as usize);
        }
    }
    check_against_reference(db, &user, &rounds).await;
}

async fn a_worker_joining_mid_run_takes_its_share(db: &TestDb) {
    let user = seed(&db.store).await;
    let run = Run::new(&db.store);
    let (a, b, c) = (run.worker("a"), run.worker("b"), run.worker("c"));
    let mut rounds = vec![1; run.timeline.len()];
    rounds[0] = run.settle(0, &[&a, &b]).await;
    let join_at = 12;
    for (k, n) in rounds.iter_mut().enumerate().skip(1) {
        if k == join_at {
            *n = run.settle(k, &[&a, &b, &c]).await;
            let status = db
                .store
                .list_workers(run.leases.now() - LEASE)
                .await
                .unwrap();
            let c_share = status.iter().find(|w| w.id == "c").unwrap().shards.len();
            assert!(c_share >= 20, "the newcomer holds {c_share} shards");
        } else if k > join_at {
            assert_eq!(run.round(k, &[&a, &b, &c]).await.len(), SHARDS as usize);
        } else {
            assert_eq!(run.round(k, &[&a, &b]).await.len(), SHARDS as usize);
        }
    }
    check_against_reference(db, &user, &rounds).await;
}

mod postgres {
    use crate::helpers::{Backend, TestDb};

    macro_rules! on_postgres {
        ($($name:ident),* $(,)?) => {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    if let Some(db) = TestDb::new(Backend::Postgres).await {
                        super::$name(&db).await;
                    }
                }
            )*
        };
    }

    on_postgres!(
        three_workers_store_what_one_stores,
        a_killed_worker_and_a_stalled_one_lose_and_duplicate_nothing,
        a_worker_joining_mid_run_takes_its_share,
    );
}

/// Workers sharing one SQLite file (its writers take turns) divide the rules the same way.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_workers_on_an_sqlite_file_store_what_one_stores() {
    let db = TestDb::new(Backend::SqliteFile).await.unwrap();
    three_workers_store_what_one_stores(&db).await;
}
