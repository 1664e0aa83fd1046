//! `/api/monitor/status`: the background monitor as operators see it.

use poem::web::Data;
use poem_openapi::{Object, OpenApi, payload::Json};

use super::ApiTags;
use crate::AppState;
use crate::error::ApiError;
use crate::security::Auth;

type Time = chrono::DateTime<chrono::Utc>;

/// A market-data provider's health.
#[derive(Debug, Clone, Object)]
pub struct ProviderOut {
    /// Provider name.
    pub name: String,
    /// Circuit breaker: `closed` (healthy), `open` (skipped) or `half_open` (being retried).
    pub breaker: String,
    /// Calls made.
    pub calls: u64,
    /// Calls failed.
    pub failures: u64,
    /// Its last error.
    #[oai(nullable)]
    pub last_error: Option<String>,
    /// Its last success.
    #[oai(nullable)]
    pub last_ok_at: Option<Time>,
}

/// A trade stream's health.
#[derive(Debug, Clone, Object)]
pub struct StreamOut {
    /// The provider (`alpaca`, `finnhub`).
    pub provider: String,
    /// Whether a connection is up and authenticated (when not, the polls go on).
    pub connected: bool,
    /// Symbols subscribed on it.
    pub subscribed: u64,
    /// Connections made after the first.
    pub reconnects: u64,
    /// When its last message arrived.
    #[oai(nullable)]
    pub last_message_at: Option<Time>,
    /// Messages that could not be read.
    pub malformed: u64,
    /// Trades refused as bad data.
    pub bad_trades: u64,
    /// What went wrong last.
    #[oai(nullable)]
    pub last_error: Option<String>,
}

/// Where a monitor's quotes come from.
#[derive(Debug, Clone, Object)]
pub struct FeedOut {
    /// `poll` (quotes asked every interval) or `stream` (trades as they happen, the polls
    /// going on as the safety net).
    pub mode: String,
    /// The stream, in `stream` mode.
    #[oai(nullable)]
    pub stream: Option<StreamOut>,
    /// Evaluations on trades since start.
    pub trade_cycles: u64,
    /// Trades received since start.
    pub trades_received: u64,
    /// Trades replaced by a later one of their symbol before they were evaluated.
    pub trades_coalesced: u64,
}

impl From<signal_sentinel::domain::MarketFeed> for FeedOut {
    fn from(f: signal_sentinel::domain::MarketFeed) -> Self {
        Self {
            mode: f.mode,
            stream: f.stream.map(|s| StreamOut {
                provider: s.provider,
                connected: s.connected,
                subscribed: s.subscribed as u64,
                reconnects: s.reconnects,
                last_message_at: s.last_message_at,
                malformed: s.malformed,
                bad_trades: s.bad_trades,
                last_error: s.last_error,
            }),
            trade_cycles: f.trade_cycles,
            trades_received: f.trades_received,
            trades_coalesced: f.trades_coalesced,
        }
    }
}

/// A monitor worker sharing the rules (any process on the database, this one or another).
#[derive(Debug, Clone, Object)]
pub struct WorkerOut {
    /// Its id: host, process id and a random suffix.
    pub id: String,
    /// Its machine.
    pub host: String,
    /// Its process id.
    pub pid: u32,
    /// Seconds between its cycles.
    pub interval_seconds: u64,
    /// When it started.
    pub started_at: Time,
    /// Its last heartbeat.
    pub heartbeat_at: Time,
    /// The shards of the symbol space it evaluates (of `shards`).
    pub shards: Vec<u32>,
    /// When its last cycle started.
    #[oai(nullable)]
    pub last_cycle_at: Option<Time>,
    /// That cycle's duration in milliseconds.
    #[oai(nullable)]
    pub last_cycle_ms: Option<u64>,
    /// Rules it evaluated.
    #[oai(nullable)]
    pub last_cycle_rules: Option<u64>,
    /// Alerts it stored.
    #[oai(nullable)]
    pub last_cycle_alerts: Option<u64>,
    /// Its error, when it failed.
    #[oai(nullable)]
    pub last_error: Option<String>,
    /// Where its quotes come from, as of its last cycle.
    #[oai(nullable)]
    pub feed: Option<FeedOut>,
}

impl From<signal_sentinel::domain::WorkerStatus> for WorkerOut {
    fn from(w: signal_sentinel::domain::WorkerStatus) -> Self {
        Self {
            id: w.id,
            host: w.host,
            pid: w.pid,
            interval_seconds: w.interval_seconds,
            started_at: w.started_at,
            heartbeat_at: w.heartbeat_at,
            shards: w.shards,
            last_cycle_at: w.last_cycle_at,
            last_cycle_ms: w.last_cycle_ms,
            last_cycle_rules: w.last_cycle_rules,
            last_cycle_alerts: w.last_cycle_alerts,
            last_error: w.last_error,
            feed: w.feed.map(FeedOut::from),
        }
    }
}

/// The monitor's state.
#[derive(Debug, Clone, Object)]
pub struct MonitorStatus {
    /// Whether this server process runs the monitor (`false` for `invest serve --no-monitor`:
    /// ask the worker's logs or metrics).
    pub running: bool,
    /// Seconds between cycles.
    #[oai(nullable)]
    pub interval_seconds: Option<u64>,
    /// When the last cycle started.
    #[oai(nullable)]
    pub last_cycle_at: Option<Time>,
    /// Its duration in milliseconds.
    #[oai(nullable)]
    pub last_cycle_ms: Option<u64>,
    /// Alerts it stored.
    #[oai(nullable)]
    pub last_cycle_alerts: Option<u64>,
    /// Its error, if it failed.
    #[oai(nullable)]
    pub last_error: Option<String>,
    /// When the next cycle is due.
    #[oai(nullable)]
    pub next_cycle_at: Option<Time>,
    /// Cycles since start.
    pub cycles: u64,
    /// Cycles longer than the interval.
    pub overruns: u64,
    /// Cycles failed.
    pub failures: u64,
    /// Market-data providers.
    pub providers: Vec<ProviderOut>,
    /// Where this process's monitor takes its quotes from (`null` when it runs none).
    #[oai(nullable)]
    pub feed: Option<FeedOut>,
    /// The live workers on the database (every process running the monitor, wherever it
    /// runs), by id.
    pub workers: Vec<WorkerOut>,
    /// How many shards the symbol space is cut into.
    pub shards: u32,
}

/// The monitor.
#[derive(Debug, Clone, Copy, Default)]
pub struct MonitorApi;

#[OpenApi(tag = "ApiTags::Monitor")]
impl MonitorApi {
    /// The monitor's last cycle in this process, its duration, the next run and the providers'
    /// health; and every live worker on the database with its shards and last cycle.
    #[oai(
        path = "/monitor/status",
        method = "get",
        operation_id = "monitor_status"
    )]
    async fn status(
        &self,
        state: Data<&AppState>,
        auth: Auth,
    ) -> Result<Json<MonitorStatus>, ApiError> {
        auth.principal(&state).await?;
        let s = state.monitor.as_ref().map(|f| f()).unwrap_or_default();
        let workers = state.services.live_workers().await?;
        Ok(Json(MonitorStatus {
            running: s.running,
            interval_seconds: s.interval_seconds,
            last_cycle_at: s.last_cycle_at,
            last_cycle_ms: s.last_cycle_ms,
            last_cycle_alerts: s.last_cycle_alerts.map(|n| n as u64),
            last_error: s.last_error,
            next_cycle_at: s.next_cycle_at,
            cycles: s.cycles,
            overruns: s.overruns,
            failures: s.failures,
            providers: s
                .providers
                .into_iter()
                .map(|p| ProviderOut {
                    breaker: match p.state {
                        signal_sentinel::market::BreakerState::Closed => "closed",
                        signal_sentinel::market::BreakerState::Open => "open",
                        signal_sentinel::market::BreakerState::HalfOpen => "half_open",
                    }
                    .to_owned(),
                    name: p.name,
                    calls: p.calls,
                    failures: p.failures,
                    last_error: p.last_error,
                    last_ok_at: p.last_ok_at,
                })
                .collect(),
            feed: s.running.then(|| FeedOut::from(s.feed)),
            workers: workers.into_iter().map(WorkerOut::from).collect(),
            shards: signal_sentinel::domain::SHARDS,
        }))
    }
}
