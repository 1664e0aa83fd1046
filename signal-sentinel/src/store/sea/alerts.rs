use async_trait::async_trait;
use sea_orm::sea_query::{Condition, Expr};
use sea_orm::{ActiveValue::Set, ColumnTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect};

use super::direct::{self, Columns};
use super::entity::alert;
use super::{SeaStore, backend_err, corrupt, decimal_from_text, expect_rows, write_err};
use crate::domain::{Alert, AlertId, AlertQuery, AlertState, NewAlert, RuleId, Symbol, UserId};
use crate::store::{AlertStore, Result};
use crate::time::{self, Timestamp};

const ENTITY: &str = "alert";
/// Rows per statement: 12 columns × 1,000 rows stays under SQLite's limit of bound parameters.
const CHUNK: usize = 1_000;

pub(super) fn to_domain(m: alert::Model) -> Result<Alert> {
    Ok(Alert {
        id: AlertId::new(m.id),
        rule_id: m.rule_id.map(RuleId::new),
        owner: UserId::new(m.user_id),
        symbol: Symbol::parse(&m.symbol).map_err(corrupt(ENTITY))?,
        episode: m.episode,
        kind: m.kind.parse().map_err(corrupt(ENTITY))?,
        price: decimal_from_text(ENTITY, &m.price)?,
        message: m.message,
        summary: m.summary,
        state: m.state.parse().map_err(corrupt(ENTITY))?,
        fired_at: m.fired_at,
        acknowledged_at: m.acknowledged_at,
        reminder: u32::try_from(m.reminder)
            .map_err(|_| crate::domain::ValidationError::field_error("reminder", "out of range"))
            .map_err(corrupt(ENTITY))?,
    })
}

/// The columns `read_row` reads, in its order.
const COLUMNS: [&str; 13] = [
    "id",
    "rule_id",
    "user_id",
    "symbol",
    "episode",
    "kind",
    "price",
    "message",
    "summary",
    "state",
    "fired_at",
    "acknowledged_at",
    "reminder",
];

/// A row read on the caller's thread (see `direct`).
fn read_row(row: &rusqlite::Row<'_>, c: &Columns) -> rusqlite::Result<alert::Model> {
    Ok(alert::Model {
        id: row.get(c.at(0))?,
        rule_id: row.get(c.at(1))?,
        user_id: row.get(c.at(2))?,
        symbol: row.get(c.at(3))?,
        episode: row.get(c.at(4))?,
        kind: row.get(c.at(5))?,
        price: row.get(c.at(6))?,
        message: row.get(c.at(7))?,
        summary: row.get(c.at(8))?,
        state: row.get(c.at(9))?,
        fired_at: direct::time(row, c.at(10))?,
        acknowledged_at: direct::optional_time(row, c.at(11))?,
        reminder: row.get(c.at(12))?,
    })
}

pub(super) fn to_active(a: NewAlert) -> alert::ActiveModel {
    alert::ActiveModel {
        rule_id: Set(Some(a.rule_id.get())),
        user_id: Set(a.owner.get()),
        symbol: Set(a.symbol.as_str().to_owned()),
        episode: Set(a.episode),
        kind: Set(a.kind.as_str().to_owned()),
        price: Set(a.price.to_string()),
        message: Set(a.message),
        summary: Set(None),
        state: Set(AlertState::New.as_str().to_owned()),
        fired_at: Set(time::to_storage_precision(a.fired_at)),
        acknowledged_at: Set(None),
        reminder: Set(i64::from(a.reminder)),
        ..Default::default()
    }
}

#[async_trait]
impl AlertStore for SeaStore {
    fn alert_feed(&self) -> Option<crate::store::AlertFeed> {
        Some(self.subscribe())
    }

    async fn insert_alerts(&self, alerts: Vec<NewAlert>) -> Result<Vec<Alert>> {
        if alerts.is_empty() {
            return Ok(Vec::new());
        }
        let mut stored = Vec::with_capacity(alerts.len());
        let txn = self.begin_write().await.map_err(backend_err)?;
        let mut alerts = alerts.into_iter().peekable();
        while alerts.peek().is_some() {
            let chunk: Vec<_> = alerts.by_ref().take(CHUNK).map(to_active).collect();
            let models = alert::Entity::insert_many(chunk)
                .exec_with_returning(&txn)
                .await
                .map_err(write_err(ENTITY))?;
            for model in models {
                stored.push(to_domain(model)?);
            }
        }
        let owners = stored.iter().map(|a| a.owner.get()).collect();
        self.commit_alerts(txn, &owners).await?;
        Ok(stored)
    }

    async fn get_alert(&self, id: AlertId) -> Result<Alert> {
        to_domain(self.find_row::<alert::Entity>(ENTITY, id.get()).await?)
    }

    async fn list_alerts(&self, q: &AlertQuery) -> Result<Vec<Alert>> {
        let mut query = alert::Entity::find()
            .filter(alert::Column::UserId.eq(q.owner.get()))
            .order_by_desc(alert::Column::FiredAt)
            .order_by_desc(alert::Column::Id)
            .limit(q.limit);
        if let Some(rule) = q.rule_id {
            query = query.filter(alert::Column::RuleId.eq(rule.get()));
        }
        if let Some(symbol) = &q.symbol {
            query = query.filter(alert::Column::Symbol.eq(symbol.as_str()));
        }
        if let Some(since) = q.since {
            query = query.filter(alert::Column::FiredAt.gte(time::to_storage_precision(since)));
        }
        if let Some(state) = q.state {
            query = query.filter(alert::Column::State.eq(state.as_str()));
        }
        if let Some(cursor) = q.before {
            let at = time::to_storage_precision(cursor.fired_at);
            query = query.filter(
                Condition::any().add(alert::Column::FiredAt.lt(at)).add(
                    Condition::all()
                        .add(alert::Column::FiredAt.eq(at))
                        .add(alert::Column::Id.lt(cursor.id.get())),
                ),
            );
        }
        // Filtered by owner, time and cursor only, the index on (user_id, fired_at, id) bounds
        // the read to the page. Other filters may scan: through the pool.
        let models = if q.rule_id.is_none() && q.symbol.is_none() && q.state.is_none() {
            self.read_bounded(query, &COLUMNS, read_row).await?
        } else {
            query.all(&self.db).await.map_err(backend_err)?
        };
        models.into_iter().map(to_domain).collect()
    }

    async fn acknowledge_alert(&self, id: AlertId, at: Timestamp) -> Result<Alert> {
        alert::Entity::update_many()
            .col_expr(
                alert::Column::State,
                Expr::value(AlertState::Acknowledged.as_str()),
            )
            .col_expr(
                alert::Column::AcknowledgedAt,
                Expr::value(time::to_storage_precision(at)),
            )
            .filter(alert::Column::Id.eq(id.get()))
            .filter(alert::Column::State.eq(AlertState::New.as_str()))
            .exec(&self.db)
            .await
            .map_err(backend_err)?;
        self.get_alert(id).await
    }

    async fn set_alert_summary(&self, id: AlertId, summary: String) -> Result<()> {
        let result = alert::Entity::update_many()
            .col_expr(alert::Column::Summary, Expr::value(summary))
            .filter(alert::Column::Id.eq(id.get()))
            .exec(&self.db)
            .await
            .map_err(backend_err)?;
        expect_rows(result.rows_affected, ENTITY, id)
    }

    async fn delete_alerts_before(&self, owner: UserId, before: Timestamp) -> Result<u64> {
        let result = alert::Entity::delete_many()
            .filter(alert::Column::UserId.eq(owner.get()))
            .filter(alert::Column::FiredAt.lt(time::to_storage_precision(before)))
            .exec(&self.db)
            .await
            .map_err(backend_err)?;
        Ok(result.rows_affected)
    }
}
