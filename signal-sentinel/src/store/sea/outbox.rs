use async_trait::async_trait;
use chrono::NaiveDate;
use sea_orm::sea_query::{Expr, ExprTrait, OnConflict};
use sea_orm::{ActiveValue::Set, ColumnTrait, EntityTrait, PaginatorTrait, QueryFilter, Statement};

use super::entity::{delivery, notification_prefs};
use super::monitor::delivery_to_domain;
use super::{SeaStore, backend_err, expect_rows, write_err};
use crate::domain::{
    Delivery, DeliveryEvent, DeliveryId, DeliveryOutcome, DeliveryStatus, JsonDocument,
    NewDelivery, UserId,
};
use crate::store::{OutboxStore, Result, StoreError};
use crate::time::{self, Timestamp};

const ENTITY: &str = "delivery";

/// A new pending delivery, due at `now`.
pub(super) fn pending_row(
    alert_id: Option<i64>,
    channel_id: i64,
    user_id: i64,
    event: DeliveryEvent,
    body: Option<String>,
    now: Timestamp,
) -> delivery::ActiveModel {
    delivery::ActiveModel {
        alert_id: Set(alert_id),
        channel_id: Set(channel_id),
        user_id: Set(user_id),
        event: Set(event.as_str().to_owned()),
        body: Set(body),
        silent: Set(false),
        claimed_by: Set(None),
        claimed_until: Set(None),
        status: Set(DeliveryStatus::Pending.as_str().to_owned()),
        attempts: Set(0),
        next_attempt_at: Set(now),
        last_error: Set(None),
        sent_at: Set(None),
        created_at: Set(now),
        ..Default::default()
    }
}

#[async_trait]
impl OutboxStore for SeaStore {
    async fn claim_deliveries(
        &self,
        worker: &str,
        now: Timestamp,
        lease: chrono::Duration,
        limit: u64,
    ) -> Result<Vec<Delivery>> {
        let now = time::to_storage_precision(now);
        let until = time::to_storage_precision(now + lease);
        let backend = self.db.get_database_backend();
        // One statement: choose the due, unclaimed rows and claim them. PostgreSQL skips rows
        // another dispatcher is claiming; SQLite serialises writers (immediate transaction).
        let sql = if self.is_postgres() {
            "UPDATE deliveries SET claimed_by = $1, claimed_until = $2 \
             WHERE id IN (SELECT id FROM deliveries WHERE status = 'pending' AND next_attempt_at <= $3 \
             AND (claimed_until IS NULL OR claimed_until < $3) ORDER BY next_attempt_at, id LIMIT $4 \
             FOR UPDATE SKIP LOCKED) RETURNING *"
        } else {
            "UPDATE deliveries SET claimed_by = ?, claimed_until = ? \
             WHERE id IN (SELECT id FROM deliveries WHERE status = 'pending' AND next_attempt_at <= ? \
             AND (claimed_until IS NULL OR claimed_until < ?) ORDER BY next_attempt_at, id LIMIT ?) RETURNING *"
        };
        let values: Vec<sea_orm::Value> = if self.is_postgres() {
            vec![
                worker.into(),
                until.into(),
                now.into(),
                (limit as i64).into(),
            ]
        } else {
            vec![
                worker.into(),
                until.into(),
                now.into(),
                now.into(),
                (limit as i64).into(),
            ]
        };
        let txn = self.begin_write().await.map_err(backend_err)?;
        let models = delivery::Entity::find()
            .from_raw_sql(Statement::from_sql_and_values(backend, sql, values))
            .all(&txn)
            .await
            .map_err(backend_err)?;
        txn.commit().await.map_err(backend_err)?;
        let mut claimed: Vec<Delivery> = models
            .into_iter()
            .map(delivery_to_domain)
            .collect::<Result<_>>()?;
        claimed.sort_by_key(|d| (d.next_attempt_at, d.id));
        Ok(claimed)
    }

    async fn renew_delivery_claims(&self, worker: &str, until: Timestamp) -> Result<u64> {
        let result = delivery::Entity::update_many()
            .col_expr(
                delivery::Column::ClaimedUntil,
                Expr::value(time::to_storage_precision(until)),
            )
            .filter(delivery::Column::ClaimedBy.eq(worker))
            .filter(delivery::Column::Status.eq("pending"))
            .exec(&self.db)
            .await
            .map_err(backend_err)?;
        Ok(result.rows_affected)
    }

    async fn record_delivery(&self, id: DeliveryId, outcome: DeliveryOutcome) -> Result<()> {
        let result = outcome_update(outcome)
            .filter(delivery::Column::Id.eq(id.get()))
            .exec(&self.db)
            .await
            .map_err(backend_err)?;
        expect_rows(result.rows_affected, ENTITY, id)
    }

    async fn record_deliveries(&self, outcomes: Vec<(DeliveryId, DeliveryOutcome)>) -> Result<()> {
        if outcomes.is_empty() {
            return Ok(());
        }
        let txn = self.begin_write().await.map_err(backend_err)?;
        for (id, outcome) in outcomes {
            // A delivery deleted meanwhile (its account removed) has nothing to record.
            outcome_update(outcome)
                .filter(delivery::Column::Id.eq(id.get()))
                .exec(&txn)
                .await
                .map_err(backend_err)?;
        }
        txn.commit().await.map_err(backend_err)
    }

    async fn enqueue_deliveries(
        &self,
        deliveries: Vec<NewDelivery>,
        now: Timestamp,
    ) -> Result<Vec<Delivery>> {
        if deliveries.is_empty() {
            return Ok(Vec::new());
        }
        let now = time::to_storage_precision(now);
        let rows: Vec<delivery::ActiveModel> = deliveries
            .into_iter()
            .map(|d| {
                pending_row(
                    None,
                    d.channel_id.get(),
                    d.user_id.get(),
                    d.event,
                    Some(d.body),
                    now,
                )
            })
            .collect();
        let txn = self.begin_write().await.map_err(backend_err)?;
        let models = delivery::Entity::insert_many(rows)
            .exec_with_returning(&txn)
            .await
            .map_err(write_err(ENTITY))?;
        txn.commit().await.map_err(backend_err)?;
        models.into_iter().map(delivery_to_domain).collect()
    }

    async fn get_delivery(&self, id: DeliveryId) -> Result<Delivery> {
        delivery_to_domain(self.find_row::<delivery::Entity>(ENTITY, id.get()).await?)
    }

    async fn count_pending_deliveries(&self, owner: UserId) -> Result<u64> {
        delivery::Entity::find()
            .filter(delivery::Column::UserId.eq(owner.get()))
            .filter(delivery::Column::Status.eq(DeliveryStatus::Pending.as_str()))
            .count(&self.db)
            .await
            .map_err(backend_err)
    }

    async fn get_notification_prefs(
        &self,
        owner: UserId,
    ) -> Result<(JsonDocument, Option<NaiveDate>)> {
        match notification_prefs::Entity::find_by_id(owner.get())
            .one(&self.db)
            .await
            .map_err(backend_err)?
        {
            Some(m) => Ok((
                JsonDocument::try_from(m.prefs).map_err(|e| StoreError::Corrupt {
                    entity: "notification preferences",
                    reason: e.to_string(),
                })?,
                m.last_digest_on,
            )),
            None => Ok((JsonDocument::empty(), None)),
        }
    }

    async fn set_notification_prefs(&self, owner: UserId, prefs: JsonDocument) -> Result<()> {
        upsert_prefs(self, owner, Some(prefs), None).await
    }

    async fn set_last_digest(&self, owner: UserId, day: NaiveDate) -> Result<()> {
        upsert_prefs(self, owner, None, Some(day)).await
    }
}

async fn upsert_prefs(
    store: &SeaStore,
    owner: UserId,
    prefs: Option<JsonDocument>,
    day: Option<NaiveDate>,
) -> Result<()> {
    let mut update_columns = vec![notification_prefs::Column::UpdatedAt];
    if prefs.is_some() {
        update_columns.push(notification_prefs::Column::Prefs);
    }
    if day.is_some() {
        update_columns.push(notification_prefs::Column::LastDigestOn);
    }
    let model = notification_prefs::ActiveModel {
        user_id: Set(owner.get()),
        prefs: Set(prefs.unwrap_or_else(JsonDocument::empty).into()),
        last_digest_on: Set(day),
        updated_at: Set(time::now()),
    };
    notification_prefs::Entity::insert(model)
        .on_conflict(
            OnConflict::column(notification_prefs::Column::UserId)
                .update_columns(update_columns)
                .to_owned(),
        )
        .exec_without_returning(&store.db)
        .await
        .map_err(write_err("notification preferences"))?;
    Ok(())
}

/// The update that records `outcome` and releases the claim.
fn outcome_update(outcome: DeliveryOutcome) -> sea_orm::UpdateMany<delivery::Entity> {
    let update = delivery::Entity::update_many()
        .col_expr(
            delivery::Column::ClaimedBy,
            Expr::value(Option::<String>::None),
        )
        .col_expr(
            delivery::Column::ClaimedUntil,
            Expr::value(Option::<Timestamp>::None),
        );
    let attempt = |u: sea_orm::UpdateMany<delivery::Entity>| {
        u.col_expr(
            delivery::Column::Attempts,
            Expr::col(delivery::Column::Attempts).add(1),
        )
    };
    match outcome {
        DeliveryOutcome::Sent { at } => attempt(update)
            .col_expr(
                delivery::Column::Status,
                Expr::value(DeliveryStatus::Sent.as_str()),
            )
            .col_expr(
                delivery::Column::SentAt,
                Expr::value(time::to_storage_precision(at)),
            )
            .col_expr(
                delivery::Column::LastError,
                Expr::value(Option::<String>::None),
            ),
        DeliveryOutcome::Retry {
            next_attempt_at,
            error,
        } => attempt(update)
            .col_expr(
                delivery::Column::NextAttemptAt,
                Expr::value(time::to_storage_precision(next_attempt_at)),
            )
            .col_expr(delivery::Column::LastError, Expr::value(error)),
        DeliveryOutcome::Held { until } => update.col_expr(
            delivery::Column::NextAttemptAt,
            Expr::value(time::to_storage_precision(until)),
        ),
        DeliveryOutcome::GivenUp { error } => attempt(update)
            .col_expr(
                delivery::Column::Status,
                Expr::value(DeliveryStatus::GivenUp.as_str()),
            )
            .col_expr(delivery::Column::LastError, Expr::value(error)),
        DeliveryOutcome::Skipped => update.col_expr(
            delivery::Column::Status,
            Expr::value(DeliveryStatus::Skipped.as_str()),
        ),
    }
}
