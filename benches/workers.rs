//! Monitor workers sharing 100,000 rules (5,000 simulated symbols) through shard leases: the
//! time one round takes — every rule evaluated once and what changed written — with 1, 2 and 3
//! workers running their cycles at once.
//!
//! ```text
//! BENCH_DATABASE_URL=postgres://postgres@127.0.0.1/ss_bench_workers cargo bench -p benches --bench workers
//! cargo bench -p benches --bench workers     # the same on an SQLite file
//! ```
//!
//! `BENCH_DATABASE_URL` must name an empty database. Each worker has connections of its own
//! and its own market client, as a worker process has; they run in this one process, so they
//! share its cores (and the database server's, when it runs on the same machine). For each
//! worker count: new workers (a cold cycle each), rounds until the shards are evenly held,
//! then 8 timed rounds, each a minute later on the market's clock. Printed: the median and
//! fastest round, the median of one worker's cycle, and each worker's share of the rules.

use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::{TimeZone, Utc};
use signal_sentinel::clock::{Clock, ManualClock, SystemClock};
use signal_sentinel::config::DatabaseUrl;
use signal_sentinel::domain::{SHARDS, WorkerIdentity};
use signal_sentinel::market::SimulatedMarket;
use signal_sentinel::monitor::{CycleReport, Monitor, MonitorConfig, Sharding};
use signal_sentinel::store::{SeaStore, WorkerStore};

const SYMBOLS: usize = 5_000;
const RULES_PER_SYMBOL: usize = 20;
const BATCH: usize = 100;
const ROUNDS: usize = 8;

fn main() {
    let runtime = benches::runtime();
    runtime.block_on(async {
        let dir = tempfile::tempdir().unwrap();
        let url = DatabaseUrl::parse(&benches::database_url(dir.path(), "workers.db")).unwrap();
        let store = SeaStore::open(&url).await.unwrap();
        let seeded = Instant::now();
        benches::seed_rules(&store, SYMBOLS, RULES_PER_SYMBOL).await;
        eprintln!(
            "seeded {} rules in {:.1?} ({})",
            SYMBOLS * RULES_PER_SYMBOL,
            seeded.elapsed(),
            if url.is_postgres() {
                "PostgreSQL"
            } else {
                "SQLite file"
            }
        );
        // Monday 2026-11-30, 10:00 New York: the market is open.
        let clock = Arc::new(ManualClock::new(
            Utc.with_ymd_and_hms(2026, 11, 30, 15, 0, 0).unwrap(),
        ));
        for n in 1..=3 {
            let mut workers = Vec::new();
            for i in 0..n {
                workers.push(worker(&url, &clock, &format!("bench-{n}-{i}")).await);
            }
            let mut settle = 0;
            loop {
                settle += 1;
                let (_, reports) = round(&workers, &clock).await;
                let share = SHARDS.div_ceil(n as u32) as usize;
                let held: usize = reports.iter().map(shards).sum();
                if held == SHARDS as usize && reports.iter().all(|r| shards(r) <= share) {
                    break;
                }
                assert!(settle < 20, "the shards did not settle");
            }
            let mut times = Vec::new();
            let mut evaluated = Vec::new();
            let mut cycles = Vec::new();
            for _ in 0..ROUNDS {
                let (took, reports) = round(&workers, &clock).await;
                let total: usize = reports.iter().map(|r| r.evaluated).sum();
                assert_eq!(total, SYMBOLS * RULES_PER_SYMBOL, "every rule once a round");
                times.push(took);
                evaluated = reports.iter().map(|r| r.evaluated).collect();
                cycles.extend(reports.iter().map(|r| r.duration));
            }
            times.sort_unstable();
            cycles.sort_unstable();
            println!(
                "{n} worker{}: round median {:.0?}, fastest {:.0?}; one worker's cycle median {:.0?} ({} rounds after {settle} to settle); rules per worker {evaluated:?}",
                if n == 1 { "" } else { "s" },
                times[times.len() / 2],
                times[0],
                cycles[cycles.len() / 2],
                ROUNDS,
            );
            for w in &workers {
                w.leave().await;
            }
        }
    });
}

/// One worker, with its own connections and market client as a process has.
async fn worker(url: &DatabaseUrl, clock: &Arc<ManualClock>, id: &str) -> Worker {
    let store = Arc::new(SeaStore::connect(url).await.unwrap());
    let market = Arc::new(SimulatedMarket::new(7, clock.clone()).with_max_batch(BATCH));
    let market_clock: Arc<dyn Clock> = clock.clone();
    let identity = WorkerIdentity {
        id: id.to_owned(),
        host: "bench".into(),
        pid: std::process::id(),
        interval_seconds: 60,
    };
    let monitor = Monitor::new(
        store.clone(),
        market,
        market_clock,
        MonitorConfig::default(),
    )
    .sharded(Sharding {
        worker: identity,
        lease: chrono::Duration::seconds(60),
        clock: Arc::new(SystemClock),
    });
    Worker {
        monitor,
        store,
        id: id.to_owned(),
    }
}

struct Worker {
    monitor: Monitor,
    store: Arc<SeaStore>,
    id: String,
}

impl Worker {
    async fn leave(&self) {
        self.store.leave(&self.id).await.unwrap();
    }
}

fn shards(report: &CycleReport) -> usize {
    report.shards.as_ref().map_or(0, Vec::len)
}

/// Every worker's cycle at once, a minute after the previous round; the wall time until the
/// last one finished.
async fn round(workers: &[Worker], clock: &ManualClock) -> (Duration, Vec<CycleReport>) {
    clock.advance(chrono::Duration::minutes(1));
    let started = Instant::now();
    let tasks: Vec<_> = workers
        .iter()
        .map(|w| {
            let monitor = w.monitor.clone();
            tokio::spawn(async move { monitor.run_once().await.unwrap() })
        })
        .collect();
    let mut reports = Vec::new();
    for task in tasks {
        reports.push(task.await.unwrap());
    }
    (started.elapsed(), reports)
}
