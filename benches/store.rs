//! Storage benchmarks.
//!
//! - `insert_10k_alerts`: one `insert_alerts` call — one transaction — with 10,000 alerts.
//! - `newest_50_alerts_of_one_user`: the dashboard's query, the newest 50 alerts of one user,
//!   with 1,000,000 alerts in the table (1,000 users × 1,000 alerts, seeded once before
//!   measuring; the seeding time is printed).
//!
//! Runs on a fresh SQLite file by default; set `BENCH_DATABASE_URL` to a PostgreSQL URL of an
//! empty database to measure PostgreSQL instead:
//!
//! ```text
//! cargo bench -p benches --bench store
//! BENCH_DATABASE_URL=postgres://postgres@127.0.0.1/ss_bench cargo bench -p benches --bench store
//! ```

use std::sync::OnceLock;
use std::sync::atomic::{AtomicI64, Ordering};
use std::time::Instant;

use chrono::{Duration, TimeZone, Utc};
use divan::Bencher;
use rust_decimal::Decimal;
use signal_sentinel::config::DatabaseUrl;
use signal_sentinel::domain::{
    AlertKind, AlertQuery, JsonDocument, NewAlert, NewRule, Rule, Symbol, UserId,
};
use signal_sentinel::store::{AlertStore, RuleStore, SeaStore};
use tokio::runtime::Runtime;

const USERS: usize = 1_000;
const ALERTS_PER_USER: i64 = 1_000;
const BATCH: usize = 10_000;

struct Fixture {
    runtime: Runtime,
    store: SeaStore,
    rules: Vec<Rule>,
    /// Keeps the SQLite file alive for the run.
    _dir: tempfile::TempDir,
}

/// Episodes above the seeded ones, so the insert benchmark never repeats a (rule, episode).
static NEXT_EPISODE: AtomicI64 = AtomicI64::new(ALERTS_PER_USER + 1);

fn fixture() -> &'static Fixture {
    static FIXTURE: OnceLock<Fixture> = OnceLock::new();
    FIXTURE.get_or_init(|| {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        let dir = tempfile::tempdir().unwrap();
        let url = benches::database_url(dir.path(), "bench.db");
        let url = DatabaseUrl::parse(&url).unwrap();
        let (store, rules) = runtime.block_on(seed(&url));
        Fixture {
            runtime,
            store,
            rules,
            _dir: dir,
        }
    })
}

async fn seed(url: &DatabaseUrl) -> (SeaStore, Vec<Rule>) {
    let started = Instant::now();
    let store = SeaStore::open(url).await.unwrap();
    let mut rules = Vec::with_capacity(USERS);
    for u in 0..USERS {
        let user = benches::bench_user(&store, &format!("user{u}@example.com")).await;
        let rule = store
            .create_rule(NewRule {
                owner: user.id,
                symbol: Symbol::parse(["AAPL", "MSFT", "AMZN", "IBM", "GOOG"][u % 5]).unwrap(),
                name: None,
                condition: JsonDocument::new(1, serde_json_price_above()).unwrap(),
                options: JsonDocument::empty(),
                enabled: true,
                expires_at: None,
            })
            .await
            .unwrap();
        rules.push(rule);
    }
    // Alerts interleave users in time, as real traffic does.
    let mut batch = Vec::with_capacity(BATCH);
    for episode in 1..=ALERTS_PER_USER {
        for rule in &rules {
            batch.push(alert(rule, episode));
            if batch.len() == BATCH {
                store
                    .insert_alerts(std::mem::take(&mut batch))
                    .await
                    .unwrap();
            }
        }
    }
    if !batch.is_empty() {
        store.insert_alerts(batch).await.unwrap();
    }
    eprintln!(
        "seeded {} alerts for {USERS} users in {:.1?}",
        USERS as i64 * ALERTS_PER_USER,
        started.elapsed()
    );
    (store, rules)
}

fn serde_json_price_above() -> serde_json::Value {
    serde_json::json!({"type": "price_above", "level": "150"})
}

fn alert(rule: &Rule, episode: i64) -> NewAlert {
    let start = Utc.with_ymd_and_hms(2020, 1, 1, 14, 30, 0).unwrap();
    NewAlert {
        rule_id: rule.id,
        owner: rule.owner,
        symbol: rule.symbol.clone(),
        episode,
        kind: AlertKind::Fired,
        price: Decimal::new(15_000 + episode, 2),
        message: format!("{} is above 150", rule.symbol),
        fired_at: start + Duration::minutes(episode) + Duration::milliseconds(rule.id.get()),
        reminder: 0,
    }
}

fn main() {
    fixture();
    divan::main();
}

#[divan::bench(sample_count = 10, sample_size = 1)]
fn insert_10k_alerts(bencher: Bencher<'_, '_>) {
    let f = fixture();
    bencher
        .with_inputs(|| {
            let episode = NEXT_EPISODE.fetch_add(10, Ordering::Relaxed);
            f.rules
                .iter()
                .flat_map(|rule| (episode..episode + 10).map(move |e| alert(rule, e)))
                .collect::<Vec<_>>()
        })
        .bench_local_values(|alerts| {
            assert_eq!(alerts.len(), 10_000);
            f.runtime.block_on(f.store.insert_alerts(alerts)).unwrap()
        });
}

#[divan::bench(sample_count = 200)]
fn newest_50_alerts_of_one_user(bencher: Bencher<'_, '_>) {
    let f = fixture();
    let user = UserId::new(f.rules[USERS / 2].owner.get());
    bencher.bench_local(|| {
        let alerts = f
            .runtime
            .block_on(f.store.list_alerts(&AlertQuery::newest(user, 50)))
            .unwrap();
        assert_eq!(alerts.len(), 50);
        alerts
    });
}
