//! One monitor cycle for 100,000 rules over 5,000 symbols on the simulated market, with the
//! store on an SQLite file (or `BENCH_DATABASE_URL`).
//!
//! ```text
//! cargo bench -p benches --bench monitor
//! cargo bench -p benches --bench monitor_1m   # 1,000,000 rules over 50,000 symbols
//! ```
//!
//! Rules per symbol: 6 price levels, 6 crosses of a level, 6 day changes, 1 RSI(14), 1 move
//! within 30 minutes. The first (cold) cycle parses every rule, warms up daily history for the
//! RSI symbols and writes every rule's first state; it is timed once and printed. The
//! benchmark measures warm cycles: the clock moves one minute, prices move, every rule is
//! evaluated and what changed is written. Printed after the run: quote requests per cycle
//! against ceil(symbols / batch size), and the process's peak resident memory.

use std::alloc::{GlobalAlloc, Layout};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::Instant;

use chrono::{TimeZone, Utc};
use divan::Bencher;
use signal_sentinel::clock::ManualClock;
use signal_sentinel::config::DatabaseUrl;
use signal_sentinel::market::SimulatedMarket;
use signal_sentinel::monitor::{Monitor, MonitorConfig};
use signal_sentinel::store::SeaStore;
use tokio::runtime::Runtime;

/// The allocator `invest` runs on (jemalloc, which SQLite's C code uses too).
const INNER: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

/// Counts the bytes the program holds on the heap, and their peak: the figure that belongs to
/// the monitor, apart from what the allocator keeps in reserve (which RSS includes).
struct CountingAllocator;

static HEAP: AtomicUsize = AtomicUsize::new(0);
static HEAP_PEAK: AtomicUsize = AtomicUsize::new(0);

// SAFETY: forwards every call to jemalloc unchanged; only counts sizes.
#[allow(unsafe_code)]
unsafe impl GlobalAlloc for CountingAllocator {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let p = unsafe { INNER.alloc(layout) };
        if !p.is_null() {
            let now = HEAP.fetch_add(layout.size(), Ordering::Relaxed) + layout.size();
            HEAP_PEAK.fetch_max(now, Ordering::Relaxed);
        }
        p
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        unsafe { INNER.dealloc(ptr, layout) };
        HEAP.fetch_sub(layout.size(), Ordering::Relaxed);
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        let p = unsafe { INNER.realloc(ptr, layout, new_size) };
        if !p.is_null() {
            HEAP.fetch_sub(layout.size(), Ordering::Relaxed);
            let now = HEAP.fetch_add(new_size, Ordering::Relaxed) + new_size;
            HEAP_PEAK.fetch_max(now, Ordering::Relaxed);
        }
        p
    }
}

#[global_allocator]
static ALLOCATOR: CountingAllocator = CountingAllocator;

const SYMBOLS: usize = 5_000;

/// The symbol count: `BENCH_SYMBOLS` (for profiling at another size), else 50,000 for the
/// `monitor_1m` bench (this file under another name: 1,000,000 rules) and 5,000 here.
fn symbols() -> usize {
    let large = std::env::current_exe()
        .ok()
        .and_then(|exe| {
            exe.file_name()
                .map(|n| n.to_string_lossy().starts_with("monitor_1m"))
        })
        .unwrap_or(false);
    std::env::var("BENCH_SYMBOLS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(if large { 10 * SYMBOLS } else { SYMBOLS })
}
const RULES_PER_SYMBOL: usize = 20;
const BATCH: usize = 100;

struct Fixture {
    runtime: Runtime,
    monitor: Monitor,
    clock: Arc<ManualClock>,
    market: Arc<SimulatedMarket>,
    _dir: tempfile::TempDir,
}

fn fixture() -> &'static Fixture {
    static FIXTURE: OnceLock<Fixture> = OnceLock::new();
    FIXTURE.get_or_init(|| {
        let runtime = benches::runtime();
        let dir = tempfile::tempdir().unwrap();
        let url = benches::database_url(dir.path(), "monitor.db");
        let url = DatabaseUrl::parse(&url).unwrap();
        // Monday 2026-11-30, 10:00 New York: the market is open.
        let clock = Arc::new(ManualClock::new(
            Utc.with_ymd_and_hms(2026, 11, 30, 15, 0, 0).unwrap(),
        ));
        let market = Arc::new(SimulatedMarket::new(7, clock.clone()).with_max_batch(BATCH));
        // Seeded by a child process, so that this one's memory is the monitor's, as in
        // `invest monitor start` over a database its users filled.
        let seeded = Instant::now();
        let status = std::process::Command::new(std::env::current_exe().unwrap())
            .env(SEED_INTO, url.expose())
            .status()
            .unwrap();
        assert!(status.success(), "seeding failed: {status}");
        eprintln!(
            "seeded {} rules in {:.1?} (in a child process)",
            symbols() * RULES_PER_SYMBOL,
            seeded.elapsed(),
        );
        let monitor = runtime.block_on(async {
            let store = SeaStore::open(&url).await.unwrap();
            eprintln!("before the first cycle: {}", peak_memory());
            let monitor = Monitor::new(
                Arc::new(store),
                market.clone(),
                clock.clone(),
                MonitorConfig::default(),
            );
            let cold = Instant::now();
            let report = monitor.run_once().await.unwrap();
            eprintln!(
                "cold cycle: {:.1?} ({} rules evaluated, {} quote requests, {} alerts; {})",
                cold.elapsed(),
                report.evaluated,
                report.market_calls,
                report.alerts.len(),
                peak_memory()
            );
            monitor
        });
        Fixture {
            runtime,
            monitor,
            clock,
            market,
            _dir: dir,
        }
    })
}

/// Set in the child process that seeds the database named by its value, then exits.
const SEED_INTO: &str = "BENCH_MONITOR_SEED_INTO";

pub(crate) fn main() {
    if let Ok(url) = std::env::var(SEED_INTO) {
        let url = DatabaseUrl::parse(&url).unwrap();
        benches::runtime().block_on(async {
            let store = SeaStore::open(&url).await.unwrap();
            benches::seed_rules(&store, symbols(), RULES_PER_SYMBOL).await;
        });
        return;
    }
    let f = fixture();
    let calls_before = f.market.calls();
    divan::main();
    let cycles = f.monitor.stats().cycles().saturating_sub(1).max(1);
    let calls = f.market.calls() - calls_before;
    eprintln!(
        "quote requests per warm cycle: {} (ceil({} / {BATCH}) = {})",
        calls / cycles,
        symbols(),
        symbols().div_ceil(BATCH)
    );
    eprintln!("after the warm cycles: {}", peak_memory());
    eprintln!("warm cycle phases (medians): {}", phase_medians());
}

/// Peak and current resident memory of the process (Linux).
fn peak_memory() -> String {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let field = |name: &str| {
        status
            .lines()
            .find(|l| l.starts_with(name))
            .map(|l| l[name.len()..].trim().to_owned())
            .unwrap_or_else(|| "?".into())
    };
    let mb = |bytes: usize| bytes as f64 / 1_048_576.0;
    format!(
        "heap {:.0} MB, peak heap {:.0} MB, peak RSS {}, RSS {}",
        mb(HEAP.load(Ordering::Relaxed)),
        mb(HEAP_PEAK.load(Ordering::Relaxed)),
        field("VmHWM:"),
        field("VmRSS:")
    )
}

#[divan::bench(sample_count = 10, sample_size = 1)]
fn warm_cycle(bencher: Bencher<'_, '_>) {
    let f = fixture();
    bencher.bench_local(|| {
        f.clock.advance(chrono::Duration::minutes(1));
        let report = f.runtime.block_on(f.monitor.run_once()).unwrap();
        assert_eq!(report.evaluated, symbols() * RULES_PER_SYMBOL);
        PHASES
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .push(report.phases);
        report.alerts.len()
    });
}

/// The phases of every warm cycle measured.
static PHASES: std::sync::Mutex<Vec<signal_sentinel::monitor::CyclePhases>> =
    std::sync::Mutex::new(Vec::new());

/// The median of each phase over the warm cycles.
fn phase_medians() -> String {
    let phases = PHASES
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
        .clone();
    if phases.is_empty() {
        return "no warm cycle".into();
    }
    let median = |f: fn(&signal_sentinel::monitor::CyclePhases) -> std::time::Duration| {
        let mut v: Vec<_> = phases.iter().map(f).collect();
        v.sort_unstable();
        v[v.len() / 2]
    };
    format!(
        "load {:.1?}, fetch {:.1?}, evaluate {:.1?}, commit {:.1?}",
        median(|p| p.load),
        median(|p| p.fetch),
        median(|p| p.evaluate),
        median(|p| p.commit)
    )
}
