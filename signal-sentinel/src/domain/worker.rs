//! Monitor workers sharing the rules through the store: the shards of the symbol space, a
//! worker's identity and its reported state.

use serde::{Deserialize, Serialize};

use super::Symbol;
use crate::time::Timestamp;

/// How many shards the symbol space is cut into. Every rule of a symbol falls in the same
/// shard, so one worker quotes a symbol and steps all its rules.
pub const SHARDS: u32 = 64;

/// The shard of `symbol`: FNV-1a of its text modulo [`SHARDS`], the same in every process and
/// release (it decides which worker evaluates which rules).
///
/// ```
/// use signal_sentinel::domain::{SHARDS, Symbol, shard_of};
/// let aapl = Symbol::parse("AAPL").unwrap();
/// assert!(shard_of(&aapl) < SHARDS);
/// assert_eq!(shard_of(&aapl), shard_of(&Symbol::parse("aapl").unwrap()));
/// ```
#[must_use]
pub fn shard_of(symbol: &Symbol) -> u32 {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for byte in symbol.as_str().bytes() {
        hash ^= u64::from(byte);
        hash = hash.wrapping_mul(0x0000_0100_0000_01b3);
    }
    (hash % u64::from(SHARDS)) as u32
}

/// How long a worker cycling every `interval` holds a lease without renewing it: the interval,
/// at least 2 s. A worker renews its leases three times per lease, so a dead worker's shards
/// are free one lease after its last heartbeat and taken at the others' next cycle: within two
/// intervals.
#[must_use]
pub fn lease_for(interval: std::time::Duration) -> chrono::Duration {
    chrono::Duration::from_std(interval.max(std::time::Duration::from_secs(2)))
        .unwrap_or(chrono::Duration::MAX)
}

/// Who a worker is, written with each heartbeat.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WorkerIdentity {
    /// Unique among the workers ever started: host, process id and a random suffix.
    pub id: String,
    /// The machine it runs on.
    pub host: String,
    /// Its process id there.
    pub pid: u32,
    /// Seconds between its cycles.
    pub interval_seconds: u64,
}

impl WorkerIdentity {
    /// This process, as a worker cycling every `interval_seconds`.
    #[must_use]
    pub fn this_process(interval_seconds: u64) -> Self {
        let host = std::fs::read_to_string("/proc/sys/kernel/hostname")
            .ok()
            .or_else(|| std::env::var("HOSTNAME").ok())
            .map(|h| h.trim().to_owned())
            .filter(|h| !h.is_empty())
            .unwrap_or_else(|| "localhost".to_owned());
        let pid = std::process::id();
        Self {
            id: format!("{host}-{pid}-{:04x}", rand::random::<u16>()),
            host,
            pid,
            interval_seconds,
        }
    }
}

/// What a worker reports of a cycle.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct WorkerCycle {
    /// When it started (wall clock).
    pub at: Option<Timestamp>,
    /// How long it took, in milliseconds.
    pub duration_ms: u64,
    /// Rules it evaluated.
    pub rules: u64,
    /// Alerts it stored.
    pub alerts: u64,
    /// Its error, when it failed.
    pub error: Option<String>,
    /// Where its quotes come from.
    pub feed: Option<MarketFeed>,
}

/// A worker as `invest monitor status` shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct WorkerStatus {
    /// Its id.
    pub id: String,
    /// Its machine.
    pub host: String,
    /// Its process id.
    pub pid: u32,
    /// Seconds between its cycles.
    pub interval_seconds: u64,
    /// When it started.
    pub started_at: Timestamp,
    /// Its last heartbeat.
    pub heartbeat_at: Timestamp,
    /// The shards whose lease it holds, ascending.
    pub shards: Vec<u32>,
    /// When its last cycle started.
    pub last_cycle_at: Option<Timestamp>,
    /// How long that cycle took, in milliseconds.
    pub last_cycle_ms: Option<u64>,
    /// Rules it evaluated.
    pub last_cycle_rules: Option<u64>,
    /// Alerts it stored.
    pub last_cycle_alerts: Option<u64>,
    /// Its error, when it failed.
    pub last_error: Option<String>,
    /// Where its quotes come from (polls, or a stream and its health), as of its last cycle.
    pub feed: Option<MarketFeed>,
}

impl WorkerStatus {
    /// Whether its heartbeat is recent enough that it still holds its leases at `now`.
    #[must_use]
    pub fn is_live(&self, now: Timestamp) -> bool {
        now - self.heartbeat_at <= lease_for(std::time::Duration::from_secs(self.interval_seconds))
    }
}

/// The shards a cycle was computed for: its write is committed only if the worker still holds
/// every one of them (and their leases are renewed in the same transaction), so a worker that
/// lost a shard while it was working writes nothing twice.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ShardFence {
    /// The worker.
    pub worker: String,
    /// The shards it evaluated.
    pub shards: Vec<u32>,
    /// Their leases' new end.
    pub lease_until: Timestamp,
}

/// How a stream is doing: what `invest monitor status` and the API show.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct StreamStatus {
    /// The provider.
    pub provider: String,
    /// Whether a connection is up and authenticated.
    pub connected: bool,
    /// Symbols subscribed on it.
    pub subscribed: usize,
    /// Connections made after the first.
    pub reconnects: u64,
    /// When the last message (a trade, a ping …) arrived.
    pub last_message_at: Option<Timestamp>,
    /// Messages that could not be read (counted, skipped).
    pub malformed: u64,
    /// Trades refused as bad data (no price, a price no market quotes, an unknown symbol).
    pub bad_trades: u64,
    /// What went wrong last (never containing a key).
    pub last_error: Option<String>,
}

/// Where a monitor's quotes come from, as `invest monitor status` and the API show it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct MarketFeed {
    /// `poll` (quotes asked every interval) or `stream` (trades as they happen, with the
    /// interval's polls as the safety net and for what a stream does not carry).
    pub mode: String,
    /// The stream's health, when there is one.
    pub stream: Option<StreamStatus>,
    /// Cycles run on trades since start.
    pub trade_cycles: u64,
    /// Trades received since start.
    pub trades_received: u64,
    /// Trades replaced by a later one of their symbol before the monitor read them.
    pub trades_coalesced: u64,
}

impl MarketFeed {
    /// A monitor that only polls.
    pub fn polling() -> Self {
        Self {
            mode: "poll".into(),
            ..Self::default()
        }
    }
}
