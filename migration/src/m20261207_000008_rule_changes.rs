//! A log of rule changes (`rule_changes`): one row per inserted, updated or deleted rule,
//! written by triggers on `rules` in the same transaction as the change, so every writer (the
//! API, the CLI, the monitor, a cascade from a deleted user, an import) is in it. Recording a
//! firing (`last_triggered_at` alone) is not a change: the monitor wrote it. The monitor
//! reads the rows after the last one it saw instead of every rule's stamp each cycle, so its
//! cost follows the rules that changed, not all rules.
//!
//! Also `monitor_workers.market_feed`: where a worker's quotes come from (polls, or a stream
//! and its health) as JSON, for `invest monitor status`.

use sea_orm_migration::prelude::*;
use sea_orm_migration::sea_orm::DbBackend;

#[derive(DeriveMigrationName)]
pub(crate) struct Migration;

const SQLITE_UP: &[&str] = &[
    // AUTOINCREMENT: a sequence number is never reused, even after the newest row is pruned.
    "CREATE TABLE rule_changes (seq INTEGER PRIMARY KEY AUTOINCREMENT, rule_id BIGINT NOT NULL)",
    "CREATE TRIGGER rule_changes_insert AFTER INSERT ON rules \
     BEGIN INSERT INTO rule_changes (rule_id) VALUES (NEW.id); END",
    "CREATE TRIGGER rule_changes_update AFTER UPDATE OF user_id, shard, symbol, name, condition, options, enabled, updated_at, expires_at, snoozed_until ON rules \
     BEGIN INSERT INTO rule_changes (rule_id) VALUES (NEW.id); END",
    "CREATE TRIGGER rule_changes_delete AFTER DELETE ON rules \
     BEGIN INSERT INTO rule_changes (rule_id) VALUES (OLD.id); END",
];

const SQLITE_DOWN: &[&str] = &[
    "DROP TRIGGER IF EXISTS rule_changes_delete",
    "DROP TRIGGER IF EXISTS rule_changes_update",
    "DROP TRIGGER IF EXISTS rule_changes_insert",
    "DROP TABLE IF EXISTS rule_changes",
];

const POSTGRES_UP: &[&str] = &[
    "CREATE TABLE rule_changes (seq BIGSERIAL PRIMARY KEY, rule_id BIGINT NOT NULL)",
    "CREATE FUNCTION signal_sentinel_rule_changed() RETURNS trigger LANGUAGE plpgsql AS $$ \
     BEGIN \
       IF TG_OP = 'DELETE' THEN \
         INSERT INTO rule_changes (rule_id) VALUES (OLD.id); \
       ELSE \
         INSERT INTO rule_changes (rule_id) VALUES (NEW.id); \
       END IF; \
       RETURN NULL; \
     END $$",
    "CREATE TRIGGER rule_changes AFTER INSERT OR DELETE OR UPDATE OF user_id, shard, symbol, name, condition, options, enabled, updated_at, expires_at, snoozed_until ON rules \
     FOR EACH ROW EXECUTE FUNCTION signal_sentinel_rule_changed()",
];

const POSTGRES_DOWN: &[&str] = &[
    "DROP TRIGGER IF EXISTS rule_changes ON rules",
    "DROP FUNCTION IF EXISTS signal_sentinel_rule_changed()",
    "DROP TABLE IF EXISTS rule_changes",
];

async fn run(manager: &SchemaManager<'_>, statements: &[&str]) -> Result<(), DbErr> {
    let db = manager.get_connection();
    for statement in statements {
        db.execute_unprepared(statement).await?;
    }
    Ok(())
}

#[derive(DeriveIden)]
enum MonitorWorkers {
    Table,
    MarketFeed,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        match manager.get_database_backend() {
            DbBackend::Postgres => run(manager, POSTGRES_UP).await?,
            _ => run(manager, SQLITE_UP).await?,
        }
        manager
            .alter_table(
                Table::alter()
                    .table(MonitorWorkers::Table)
                    .add_column(ColumnDef::new(MonitorWorkers::MarketFeed).text().null())
                    .take(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(
                Table::alter()
                    .table(MonitorWorkers::Table)
                    .drop_column(MonitorWorkers::MarketFeed)
                    .take(),
            )
            .await?;
        match manager.get_database_backend() {
            DbBackend::Postgres => run(manager, POSTGRES_DOWN).await,
            _ => run(manager, SQLITE_DOWN).await,
        }
    }
}
