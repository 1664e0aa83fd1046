//! Monitor workers' heartbeats and shard leases.

use async_trait::async_trait;
use sea_orm::sea_query::{Expr, ExprTrait, OnConflict};
use sea_orm::{
    ActiveValue::Set, ColumnTrait, ConnectionTrait, EntityTrait, PaginatorTrait, QueryFilter,
    QueryOrder, QuerySelect,
};

use super::entity::{monitor_shard, monitor_worker};
use super::{SeaStore, backend_err};
use crate::domain::{SHARDS, ShardFence, WorkerCycle, WorkerIdentity, WorkerStatus};
use crate::store::{Result, StoreError, WorkerStore};
use crate::time::{self, Timestamp};

/// Workers silent for this long are forgotten (their row removed; their leases expired long
/// ago).
const FORGET_AFTER: chrono::Duration = chrono::Duration::days(1);

fn to_i64(n: u64) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

fn to_u64(n: Option<i64>) -> Option<u64> {
    n.and_then(|n| u64::try_from(n).ok())
}

/// Records a heartbeat at `now`, creating the worker's row when it has none.
async fn beat(db: &impl ConnectionTrait, worker: &WorkerIdentity, now: Timestamp) -> Result<()> {
    monitor_worker::Entity::insert(monitor_worker::ActiveModel {
        id: Set(worker.id.clone()),
        host: Set(worker.host.clone()),
        pid: Set(i64::from(worker.pid)),
        interval_seconds: Set(to_i64(worker.interval_seconds)),
        started_at: Set(now),
        heartbeat_at: Set(now),
        last_cycle_at: Set(None),
        last_cycle_ms: Set(None),
        last_cycle_rules: Set(None),
        last_cycle_alerts: Set(None),
        last_error: Set(None),
        market_feed: Set(None),
    })
    .on_conflict(
        OnConflict::column(monitor_worker::Column::Id)
            .update_columns([
                monitor_worker::Column::HeartbeatAt,
                monitor_worker::Column::IntervalSeconds,
            ])
            .to_owned(),
    )
    .exec_without_returning(db)
    .await
    .map_err(backend_err)?;
    Ok(())
}

/// The shards `worker` holds, ascending.
async fn held(db: &impl ConnectionTrait, worker: &str) -> Result<Vec<u32>> {
    Ok(monitor_shard::Entity::find()
        .select_only()
        .column(monitor_shard::Column::Shard)
        .filter(monitor_shard::Column::WorkerId.eq(worker))
        .order_by_asc(monitor_shard::Column::Shard)
        .into_tuple::<i32>()
        .all(db)
        .await
        .map_err(backend_err)?
        .into_iter()
        .filter_map(|s| u32::try_from(s).ok())
        .collect())
}

/// Renews `worker`'s leases to `until`.
async fn renew(db: &impl ConnectionTrait, worker: &str, until: Timestamp) -> Result<()> {
    monitor_shard::Entity::update_many()
        .col_expr(monitor_shard::Column::LeaseUntil, Expr::value(until))
        .filter(monitor_shard::Column::WorkerId.eq(worker))
        .exec(db)
        .await
        .map_err(backend_err)?;
    Ok(())
}

/// Creates the shard rows the first time any worker runs.
async fn ensure_shards(db: &impl ConnectionTrait) -> Result<()> {
    let count = monitor_shard::Entity::find()
        .count(db)
        .await
        .map_err(backend_err)?;
    if count >= u64::from(SHARDS) {
        return Ok(());
    }
    let rows = (0..SHARDS).map(|shard| monitor_shard::ActiveModel {
        shard: Set(shard as i32),
        worker_id: Set(None),
        lease_until: Set(None),
    });
    monitor_shard::Entity::insert_many(rows)
        .on_conflict_do_nothing_on([monitor_shard::Column::Shard])
        .exec_without_returning(db)
        .await
        .map_err(backend_err)?;
    Ok(())
}

/// Checks, inside a cycle's transaction, that the worker still holds the shards it evaluated,
/// and renews their leases (on PostgreSQL the rows stay locked until the commit, so no other
/// worker can claim them in between).
pub(super) async fn check_fence(db: &impl ConnectionTrait, fence: &ShardFence) -> Result<()> {
    if fence.shards.is_empty() {
        return Ok(());
    }
    let shards: Vec<i32> = fence.shards.iter().map(|s| *s as i32).collect();
    let renewed = monitor_shard::Entity::update_many()
        .col_expr(
            monitor_shard::Column::LeaseUntil,
            Expr::value(time::to_storage_precision(fence.lease_until)),
        )
        .filter(monitor_shard::Column::WorkerId.eq(fence.worker.as_str()))
        .filter(monitor_shard::Column::Shard.is_in(shards))
        .exec(db)
        .await
        .map_err(backend_err)?;
    if renewed.rows_affected == fence.shards.len() as u64 {
        return Ok(());
    }
    let still = held(db, &fence.worker).await?;
    Err(StoreError::LeaseLost {
        shards: fence
            .shards
            .iter()
            .filter(|s| !still.contains(s))
            .copied()
            .collect(),
    })
}

#[async_trait]
impl WorkerStore for SeaStore {
    async fn rebalance_shards(
        &self,
        worker: &WorkerIdentity,
        now: Timestamp,
        lease: chrono::Duration,
    ) -> Result<Vec<u32>> {
        let now = time::to_storage_precision(now);
        let until = time::to_storage_precision(now + lease);
        let txn = self.begin_write().await.map_err(backend_err)?;
        beat(&txn, worker, now).await?;
        monitor_worker::Entity::delete_many()
            .filter(monitor_worker::Column::HeartbeatAt.lt(now - FORGET_AFTER))
            .exec(&txn)
            .await
            .map_err(backend_err)?;
        ensure_shards(&txn).await?;
        // Its own leases first: once renewed, no other worker's claim can take them, and a claim
        // never waits on a lease (it skips locked rows), so two workers never wait on each
        // other.
        renew(&txn, &worker.id, until).await?;
        let live = monitor_worker::Entity::find()
            .filter(monitor_worker::Column::HeartbeatAt.gte(now - lease))
            .count(&txn)
            .await
            .map_err(backend_err)?;
        let live = Ord::max(live, 1);
        let share = u64::from(SHARDS).div_ceil(live) as usize;
        let mine = held(&txn, &worker.id).await?;
        if mine.len() > share {
            // The highest first: a worker that joined claims the lowest free shards.
            let release: Vec<i32> = mine[share..].iter().map(|s| *s as i32).collect();
            monitor_shard::Entity::update_many()
                .col_expr(
                    monitor_shard::Column::WorkerId,
                    Expr::value(Option::<String>::None),
                )
                .col_expr(
                    monitor_shard::Column::LeaseUntil,
                    Expr::value(Option::<Timestamp>::None),
                )
                .filter(monitor_shard::Column::WorkerId.eq(worker.id.as_str()))
                .filter(monitor_shard::Column::Shard.is_in(release))
                .exec(&txn)
                .await
                .map_err(backend_err)?;
        } else if mine.len() < share {
            // Free or expired leases; PostgreSQL skips rows another worker is claiming right
            // now, SQLite serialises writers (immediate transaction).
            let free: Vec<i32> = monitor_shard::Entity::find()
                .select_only()
                .column(monitor_shard::Column::Shard)
                .filter(
                    monitor_shard::Column::WorkerId
                        .is_null()
                        .or(monitor_shard::Column::LeaseUntil.is_null())
                        .or(monitor_shard::Column::LeaseUntil.lt(now)),
                )
                .order_by_asc(monitor_shard::Column::Shard)
                .limit((share - mine.len()) as u64)
                .lock_with_behavior(
                    sea_orm::sea_query::LockType::Update,
                    sea_orm::sea_query::LockBehavior::SkipLocked,
                )
                .into_tuple::<i32>()
                .all(&txn)
                .await
                .map_err(backend_err)?;
            if !free.is_empty() {
                monitor_shard::Entity::update_many()
                    .col_expr(
                        monitor_shard::Column::WorkerId,
                        Expr::value(worker.id.as_str()),
                    )
                    .col_expr(monitor_shard::Column::LeaseUntil, Expr::value(until))
                    .filter(monitor_shard::Column::Shard.is_in(free))
                    .exec(&txn)
                    .await
                    .map_err(backend_err)?;
            }
        }
        let shards = held(&txn, &worker.id).await?;
        txn.commit().await.map_err(backend_err)?;
        Ok(shards)
    }

    async fn renew_leases(
        &self,
        worker: &WorkerIdentity,
        now: Timestamp,
        lease: chrono::Duration,
    ) -> Result<Vec<u32>> {
        let now = time::to_storage_precision(now);
        let txn = self.begin_write().await.map_err(backend_err)?;
        beat(&txn, worker, now).await?;
        renew(&txn, &worker.id, time::to_storage_precision(now + lease)).await?;
        let shards = held(&txn, &worker.id).await?;
        txn.commit().await.map_err(backend_err)?;
        Ok(shards)
    }

    async fn record_worker_cycle(&self, worker: &str, cycle: &WorkerCycle) -> Result<()> {
        monitor_worker::Entity::update_many()
            .col_expr(
                monitor_worker::Column::LastCycleAt,
                Expr::value(cycle.at.map(time::to_storage_precision)),
            )
            .col_expr(
                monitor_worker::Column::LastCycleMs,
                Expr::value(to_i64(cycle.duration_ms)),
            )
            .col_expr(
                monitor_worker::Column::LastCycleRules,
                Expr::value(to_i64(cycle.rules)),
            )
            .col_expr(
                monitor_worker::Column::LastCycleAlerts,
                Expr::value(to_i64(cycle.alerts)),
            )
            .col_expr(
                monitor_worker::Column::LastError,
                Expr::value(cycle.error.clone()),
            )
            .col_expr(
                monitor_worker::Column::MarketFeed,
                Expr::value(
                    cycle
                        .feed
                        .as_ref()
                        .and_then(|feed| serde_json::to_string(feed).ok()),
                ),
            )
            .filter(monitor_worker::Column::Id.eq(worker))
            .exec(&self.db)
            .await
            .map_err(backend_err)?;
        Ok(())
    }

    async fn leave(&self, worker: &str) -> Result<()> {
        let txn = self.begin_write().await.map_err(backend_err)?;
        monitor_shard::Entity::update_many()
            .col_expr(
                monitor_shard::Column::WorkerId,
                Expr::value(Option::<String>::None),
            )
            .col_expr(
                monitor_shard::Column::LeaseUntil,
                Expr::value(Option::<Timestamp>::None),
            )
            .filter(monitor_shard::Column::WorkerId.eq(worker))
            .exec(&txn)
            .await
            .map_err(backend_err)?;
        monitor_worker::Entity::delete_by_id(worker.to_owned())
            .exec(&txn)
            .await
            .map_err(backend_err)?;
        txn.commit().await.map_err(backend_err)
    }

    async fn list_workers(&self, since: Timestamp) -> Result<Vec<WorkerStatus>> {
        let workers = monitor_worker::Entity::find()
            .filter(monitor_worker::Column::HeartbeatAt.gte(time::to_storage_precision(since)))
            .order_by_asc(monitor_worker::Column::Id)
            .all(&self.db)
            .await
            .map_err(backend_err)?;
        let mut shards: std::collections::HashMap<String, Vec<u32>> =
            std::collections::HashMap::new();
        for row in monitor_shard::Entity::find()
            .filter(monitor_shard::Column::WorkerId.is_not_null())
            .order_by_asc(monitor_shard::Column::Shard)
            .all(&self.db)
            .await
            .map_err(backend_err)?
        {
            if let (Some(worker), Ok(shard)) = (row.worker_id, u32::try_from(row.shard)) {
                shards.entry(worker).or_default().push(shard);
            }
        }
        Ok(workers
            .into_iter()
            .map(|w| WorkerStatus {
                shards: shards.remove(&w.id).unwrap_or_default(),
                host: w.host,
                pid: u32::try_from(w.pid).unwrap_or_default(),
                interval_seconds: to_u64(Some(w.interval_seconds)).unwrap_or_default(),
                started_at: w.started_at,
                heartbeat_at: w.heartbeat_at,
                last_cycle_at: w.last_cycle_at,
                last_cycle_ms: to_u64(w.last_cycle_ms),
                last_cycle_rules: to_u64(w.last_cycle_rules),
                last_cycle_alerts: to_u64(w.last_cycle_alerts),
                last_error: w.last_error,
                // Written by this library as JSON; a row it cannot read shows no feed.
                feed: w
                    .market_feed
                    .as_deref()
                    .and_then(|json| serde_json::from_str(json).ok()),
                id: w.id,
            })
            .collect())
    }
}
