//! Sharing the rules with other workers: the shards a worker holds, its heartbeat.

use std::sync::Arc;
use std::time::Duration as StdDuration;

use crate::clock::Clock;
use crate::domain::{WorkerCycle, WorkerIdentity};
use crate::store::Store;

use super::{CycleReport, Monitor, MonitorError};

/// How a monitor shares the rules with other workers on the same database.
#[derive(Clone)]
pub struct Sharding {
    /// This worker.
    pub worker: WorkerIdentity,
    /// How long its leases last unrenewed ([`lease_for`](crate::domain::lease_for) its
    /// interval): a dead worker's shards are taken after this.
    pub lease: chrono::Duration,
    /// The wall clock of leases and heartbeats (not the market's clock, which may replay the
    /// past).
    pub clock: Arc<dyn Clock>,
}

impl std::fmt::Debug for Sharding {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Sharding")
            .field("worker", &self.worker)
            .field("lease", &self.lease)
            .finish_non_exhaustive()
    }
}

impl Sharding {
    /// This process as a worker cycling every `interval`, on the system clock.
    #[must_use]
    pub fn for_interval(interval: StdDuration) -> Self {
        Self {
            worker: WorkerIdentity::this_process(interval.as_secs()),
            lease: crate::domain::lease_for(interval),
            clock: Arc::new(crate::clock::SystemClock),
        }
    }
}

impl Monitor {
    /// The shards this worker holds after rebalancing (`None` unsharded: every rule).
    pub(super) async fn owned_shards(&self) -> Result<Option<Vec<u32>>, MonitorError> {
        Ok(match &self.sharding {
            Some(sharding) => Some(
                self.store
                    .rebalance_shards(&sharding.worker, sharding.clock.now(), sharding.lease)
                    .await?,
            ),
            None => None,
        })
    }
}

/// Renews the worker's heartbeat and leases three times per lease until `stopped`, so a cycle
/// longer than the interval does not lose its shards.
pub(super) async fn heartbeat(
    store: Arc<dyn Store>,
    sharding: Arc<Sharding>,
    mut stopped: tokio::sync::watch::Receiver<()>,
) {
    let every = (sharding.lease / 3)
        .to_std()
        .unwrap_or(StdDuration::from_secs(1));
    loop {
        tokio::select! {
            _ = stopped.changed() => break,
            () = tokio::time::sleep(every) => {}
        }
        if let Err(e) = store
            .renew_leases(&sharding.worker, sharding.clock.now(), sharding.lease)
            .await
        {
            tracing::warn!("worker heartbeat failed: {e}");
        }
    }
}

/// Which shards of all a worker holds.
pub(super) fn shard_mask(shards: &[u32]) -> [bool; crate::domain::SHARDS as usize] {
    let mut mine = [false; crate::domain::SHARDS as usize];
    for shard in shards {
        if let Some(slot) = mine.get_mut(*shard as usize) {
            *slot = true;
        }
    }
    mine
}

/// Whether `symbol` falls in the shards of `mine` (every symbol when `None`: unsharded).
pub(super) fn holds(
    mine: Option<&[bool; crate::domain::SHARDS as usize]>,
    symbol: &crate::domain::Symbol,
) -> bool {
    mine.is_none_or(|m| m[crate::domain::shard_of(symbol) as usize])
}

/// Records a cycle's outcome on the worker's row, where `monitor status` and the other
/// workers read it.
pub(super) async fn record_cycle(
    store: &dyn Store,
    sharding: &Sharding,
    outcome: &Result<CycleReport, MonitorError>,
    feed: crate::domain::MarketFeed,
) {
    let mut cycle = match outcome {
        Ok(report) => WorkerCycle {
            at: Some(sharding.clock.now()),
            duration_ms: u64::try_from(report.duration.as_millis()).unwrap_or(u64::MAX),
            rules: report.evaluated as u64,
            alerts: report.alerts.len() as u64,
            error: None,
            feed: None,
        },
        Err(e) => WorkerCycle {
            at: Some(sharding.clock.now()),
            error: Some(e.to_string()),
            ..WorkerCycle::default()
        },
    };
    cycle.feed = Some(feed);
    if let Err(e) = store.record_worker_cycle(&sharding.worker.id, &cycle).await {
        tracing::warn!("cannot record the worker's cycle: {e}");
    }
}
