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
}

/// The monitor.
#[derive(Debug, Clone, Copy, Default)]
pub struct MonitorApi;

#[OpenApi(tag = "ApiTags::Monitor")]
impl MonitorApi {
    /// The monitor's last cycle, its duration, the next run and the providers' health.
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
        }))
    }
}
