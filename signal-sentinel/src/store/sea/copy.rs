//! Copying a whole database into another, empty one (SQLite to PostgreSQL when one machine is
//! no longer enough): every table in the order of its foreign keys, in one transaction on the
//! target, then PostgreSQL's id sequences moved past the copied ids.

use sea_orm::{
    ActiveModelTrait, ConnectionTrait, DatabaseTransaction, EntityTrait, IntoActiveModel,
    PaginatorTrait,
};
use serde::Serialize;

use super::entity::{
    action_token_use, alert, api_key, broker_connection, channel, delivery, holding,
    notification_prefs, rule, rule_state, split_adjustment, symbol_event, symbol_sample,
    telegram_chat, telegram_link_code, user,
};
use super::{SeaStore, backend_err};
use crate::store::{Result, StoreError};

/// Rows inserted per statement.
const BATCH: usize = 500;

/// Rows copied, per table, in the order they were copied.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct CopyReport {
    /// `(table, rows)`.
    pub tables: Vec<(String, u64)>,
}

async fn copy_table<E>(
    from: &SeaStore,
    to: &DatabaseTransaction,
    name: &str,
    report: &mut CopyReport,
) -> Result<()>
where
    E: EntityTrait,
    E::Model: IntoActiveModel<E::ActiveModel>,
    E::ActiveModel: ActiveModelTrait<Entity = E> + Send,
{
    let rows = E::find().all(&from.db).await.map_err(backend_err)?;
    let count = rows.len() as u64;
    let mut rows = rows.into_iter().peekable();
    while rows.peek().is_some() {
        let batch: Vec<E::ActiveModel> = rows
            .by_ref()
            .take(BATCH)
            .map(|m| m.into_active_model().reset_all())
            .collect();
        E::insert_many(batch)
            .exec_without_returning(to)
            .await
            .map_err(backend_err)?;
    }
    report.tables.push((name.to_owned(), count));
    Ok(())
}

impl SeaStore {
    /// Copies everything stored in `self` into `target`, which must be empty (freshly
    /// migrated). All or nothing: the copy is one transaction on the target. The monitor
    /// workers and their shard leases are not copied: they describe running processes, and
    /// the workers on the target record themselves when they start.
    ///
    /// # Errors
    /// [`StoreError::Conflict`] when the target holds data already; backend failures.
    pub async fn copy_to(&self, target: &SeaStore) -> Result<CopyReport> {
        if user::Entity::find()
            .count(&target.db)
            .await
            .map_err(backend_err)?
            > 0
            || symbol_sample::Entity::find()
                .count(&target.db)
                .await
                .map_err(backend_err)?
                > 0
        {
            return Err(StoreError::Conflict {
                entity: "database",
                field: "content (copy only into an empty database)",
            });
        }
        let txn = target.begin_write().await.map_err(backend_err)?;
        let mut report = CopyReport::default();
        copy_table::<user::Entity>(self, &txn, "users", &mut report).await?;
        copy_table::<api_key::Entity>(self, &txn, "api_keys", &mut report).await?;
        copy_table::<rule::Entity>(self, &txn, "rules", &mut report).await?;
        copy_table::<rule_state::Entity>(self, &txn, "rule_states", &mut report).await?;
        copy_table::<alert::Entity>(self, &txn, "alerts", &mut report).await?;
        copy_table::<channel::Entity>(self, &txn, "channels", &mut report).await?;
        copy_table::<delivery::Entity>(self, &txn, "deliveries", &mut report).await?;
        copy_table::<holding::Entity>(self, &txn, "holdings", &mut report).await?;
        copy_table::<broker_connection::Entity>(self, &txn, "broker_connections", &mut report)
            .await?;
        copy_table::<notification_prefs::Entity>(self, &txn, "notification_prefs", &mut report)
            .await?;
        copy_table::<symbol_sample::Entity>(self, &txn, "symbol_samples", &mut report).await?;
        copy_table::<symbol_event::Entity>(self, &txn, "symbol_events", &mut report).await?;
        copy_table::<split_adjustment::Entity>(self, &txn, "split_adjustments", &mut report)
            .await?;
        copy_table::<action_token_use::Entity>(self, &txn, "action_token_uses", &mut report)
            .await?;
        copy_table::<telegram_chat::Entity>(self, &txn, "telegram_chats", &mut report).await?;
        copy_table::<telegram_link_code::Entity>(self, &txn, "telegram_link_codes", &mut report)
            .await?;
        if target.is_postgres() {
            for table in [
                "users",
                "api_keys",
                "rules",
                "alerts",
                "channels",
                "deliveries",
                "holdings",
                "broker_connections",
            ] {
                txn.execute_unprepared(&format!(
                    "SELECT setval(pg_get_serial_sequence('{table}', 'id'), \
                     (SELECT COALESCE(MAX(id), 0) + 1 FROM {table}), false)"
                ))
                .await
                .map_err(backend_err)?;
            }
        }
        txn.commit().await.map_err(backend_err)?;
        Ok(report)
    }
}
