//! What the monitor reports of itself: counters over its life and its last cycle.

use std::sync::atomic::{AtomicU64, Ordering};

use std::time::Duration as StdDuration;

use serde::Serialize;

use super::{CycleReport, MonitorError};
use crate::store::StoreError;

use crate::time::Timestamp;

/// Counters over the monitor's life.
#[derive(Debug, Default)]
pub struct MonitorStats {
    pub(super) cycles: AtomicU64,
    overruns: AtomicU64,
    failures: AtomicU64,
    latest: std::sync::Mutex<MonitorSnapshot>,
}

/// The monitor as an operator sees it: its last cycle, the next one and the providers.
#[derive(Debug, Clone, Default, Serialize)]
pub struct MonitorSnapshot {
    /// Whether the loop is running.
    pub running: bool,
    /// Seconds between cycles.
    pub interval_seconds: Option<u64>,
    /// When the last cycle started.
    pub last_cycle_at: Option<Timestamp>,
    /// How long it took, in milliseconds.
    pub last_cycle_ms: Option<u64>,
    /// Alerts it stored.
    pub last_cycle_alerts: Option<usize>,
    /// Its error, when it failed.
    pub last_error: Option<String>,
    /// When the next cycle is due.
    pub next_cycle_at: Option<Timestamp>,
    /// Cycles completed, overrun and failed since start.
    pub cycles: u64,
    /// Cycles that took longer than the interval.
    pub overruns: u64,
    /// Cycles that failed.
    pub failures: u64,
    /// The market-data providers after the last cycle.
    pub providers: Vec<crate::market::ProviderStatus>,
    /// Where quotes come from: polls, or a stream and its health.
    pub feed: crate::domain::MarketFeed,
}

impl MonitorStats {
    /// Cycles completed.
    pub fn cycles(&self) -> u64 {
        self.cycles.load(Ordering::Relaxed)
    }

    /// Cycles that took longer than the interval.
    pub fn overruns(&self) -> u64 {
        self.overruns.load(Ordering::Relaxed)
    }

    /// Cycles that failed.
    pub fn failures(&self) -> u64 {
        self.failures.load(Ordering::Relaxed)
    }

    /// The state to report.
    pub fn snapshot(&self) -> MonitorSnapshot {
        let mut snapshot = self
            .latest
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone();
        snapshot.cycles = self.cycles();
        snapshot.overruns = self.overruns();
        snapshot.failures = self.failures();
        snapshot
    }

    /// Counts and logs a cycle on trades (not kept as the last cycle: that is the last poll).
    pub(super) fn record_trades(&self, outcome: &Result<CycleReport, MonitorError>) {
        match outcome {
            Ok(report) => {
                metrics::counter!("signal_sentinel_alerts_fired_total")
                    .increment(report.alerts.len() as u64);
                metrics::histogram!("signal_sentinel_monitor_trade_cycle_seconds")
                    .record(report.duration.as_secs_f64());
                for problem in &report.problems {
                    tracing::warn!("{problem}");
                }
            }
            Err(MonitorError::Store(StoreError::LeaseLost { .. })) => {}
            Err(e) => {
                self.failures.fetch_add(1, Ordering::Relaxed);
                tracing::error!("monitor cycle on trades failed: {e}");
            }
        }
        self.update(|s| s.feed.trade_cycles += 1);
    }

    /// Counts, logs and keeps a cycle's outcome for [`snapshot`](Self::snapshot) and
    /// `/metrics`; `next` is when the next cycle is due.
    pub(super) fn record(
        &self,
        outcome: &Result<CycleReport, MonitorError>,
        interval: StdDuration,
        next: Option<Timestamp>,
    ) {
        let report = match outcome {
            Ok(report) => report,
            Err(e) => {
                if let MonitorError::Store(StoreError::LeaseLost { shards }) = e {
                    // Not a failure: the shards moved to another worker, which evaluates them.
                    tracing::warn!(
                        ?shards,
                        "another worker took shards while this cycle ran; its write was dropped"
                    );
                } else {
                    self.failures.fetch_add(1, Ordering::Relaxed);
                    tracing::error!("monitor cycle failed: {e}");
                }
                self.update(|s| {
                    s.last_error = Some(e.to_string());
                    s.next_cycle_at = next;
                });
                return;
            }
        };
        let duration_ms = u64::try_from(report.duration.as_millis()).unwrap_or(u64::MAX);
        metrics::histogram!("signal_sentinel_monitor_cycle_seconds")
            .record(report.duration.as_secs_f64());
        metrics::counter!("signal_sentinel_alerts_fired_total")
            .increment(report.alerts.len() as u64);
        for p in &report.providers {
            let name = p.name.clone();
            metrics::counter!("signal_sentinel_provider_calls_total", "provider" => name.clone())
                .absolute(p.calls);
            metrics::counter!("signal_sentinel_provider_errors_total", "provider" => name)
                .absolute(p.failures);
        }
        self.update(|s| {
            s.last_cycle_at = Some(report.at);
            s.last_cycle_ms = Some(duration_ms);
            s.last_cycle_alerts = Some(report.alerts.len());
            s.last_error = None;
            s.next_cycle_at = next;
            s.providers.clone_from(&report.providers);
        });
        tracing::info!(
            rules = report.rules,
            evaluated = report.evaluated,
            symbols = report.symbols,
            alerts = report.alerts.len(),
            duration_ms,
            "monitor cycle"
        );
        for problem in &report.problems {
            tracing::warn!("{problem}");
        }
        if report.duration > interval {
            self.overruns.fetch_add(1, Ordering::Relaxed);
            metrics::counter!("signal_sentinel_monitor_overruns_total").increment(1);
            tracing::warn!(
                duration_ms,
                interval_ms = u64::try_from(interval.as_millis()).unwrap_or(u64::MAX),
                "monitor cycle overran its interval; missed ticks are skipped"
            );
        }
    }

    pub(super) fn update(&self, f: impl FnOnce(&mut MonitorSnapshot)) {
        f(&mut self
            .latest
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner));
    }
}
