//! Monitor workers sharing the rules: one row per running worker (its heartbeat and last
//! cycle, for `invest monitor status`) and one row per shard of the symbol space with the
//! worker holding its lease. A worker evaluates only the rules whose symbol falls in a shard
//! it holds; a lease not renewed before `lease_until` can be taken by another worker.
//!
//! The shard rows are created by the workers themselves (the number of shards is the
//! library's), so this migration only makes the tables, and gives each rule the column of its
//! symbol's shard (with an index) so that a worker reads only its own rules. The library
//! fills that column for rules stored before it (`NULL` until then): the shard function is
//! the library's.

use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::*;

#[derive(DeriveMigrationName)]
pub(crate) struct Migration;

#[derive(DeriveIden)]
enum MonitorWorkers {
    Table,
    Id,
    Host,
    Pid,
    IntervalSeconds,
    StartedAt,
    HeartbeatAt,
    LastCycleAt,
    LastCycleMs,
    LastCycleRules,
    LastCycleAlerts,
    LastError,
}

#[derive(DeriveIden)]
enum Rules {
    Table,
    Id,
    Shard,
}

#[derive(DeriveIden)]
enum MonitorShards {
    Table,
    Shard,
    WorkerId,
    LeaseUntil,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(MonitorWorkers::Table)
                    .col(text(MonitorWorkers::Id).primary_key())
                    .col(text(MonitorWorkers::Host))
                    .col(big_integer(MonitorWorkers::Pid))
                    .col(big_integer(MonitorWorkers::IntervalSeconds))
                    .col(timestamp_with_time_zone(MonitorWorkers::StartedAt))
                    .col(timestamp_with_time_zone(MonitorWorkers::HeartbeatAt))
                    .col(timestamp_with_time_zone_null(MonitorWorkers::LastCycleAt))
                    .col(big_integer_null(MonitorWorkers::LastCycleMs))
                    .col(big_integer_null(MonitorWorkers::LastCycleRules))
                    .col(big_integer_null(MonitorWorkers::LastCycleAlerts))
                    .col(text_null(MonitorWorkers::LastError))
                    .take(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(MonitorShards::Table)
                    .col(integer(MonitorShards::Shard).primary_key())
                    // No foreign key: a worker's row is removed when it stops, and a lease it
                    // left behind simply expires.
                    .col(text_null(MonitorShards::WorkerId))
                    .col(timestamp_with_time_zone_null(MonitorShards::LeaseUntil))
                    .take(),
            )
            .await?;
        manager
            .alter_table(
                Table::alter()
                    .table(Rules::Table)
                    .add_column(integer_null(Rules::Shard))
                    .take(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_rules_shard")
                    .table(Rules::Table)
                    .col(Rules::Shard)
                    .col(Rules::Id)
                    .take(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_index(
                Index::drop()
                    .name("idx_rules_shard")
                    .table(Rules::Table)
                    .to_owned(),
            )
            .await?;
        manager
            .alter_table(
                Table::alter()
                    .table(Rules::Table)
                    .drop_column(Rules::Shard)
                    .take(),
            )
            .await?;
        manager
            .drop_table(Table::drop().table(MonitorShards::Table).take())
            .await?;
        manager
            .drop_table(Table::drop().table(MonitorWorkers::Table).take())
            .await
    }
}
