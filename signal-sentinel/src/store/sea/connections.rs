use async_trait::async_trait;
use sea_orm::sea_query::Expr;
use sea_orm::{ActiveValue::Set, ColumnTrait, Condition, EntityTrait, QueryFilter, QueryOrder};

use super::entity::{broker_connection, holding};
use super::{SeaStore, backend_err, corrupt, expect_rows, write_err};
use crate::domain::{
    BrokerConnection, ConnectionId, ConnectionStatus, NewBrokerConnection, SyncOutcome, UserId,
};
use crate::store::{BrokerStore, Result};
use crate::time::{self, Timestamp};

const ENTITY: &str = "broker connection";

fn to_domain(m: broker_connection::Model) -> Result<BrokerConnection> {
    Ok(BrokerConnection {
        id: ConnectionId::new(m.id),
        owner: UserId::new(m.user_id),
        provider: m.provider,
        item_id: m.item_id,
        institution: m.institution,
        sealed_token: m.access_token,
        status: m.status.parse().map_err(corrupt(ENTITY))?,
        error_code: m.error_code,
        error_message: m.error_message,
        last_synced_at: m.last_synced_at,
        created_at: m.created_at,
    })
}

fn all(models: Vec<broker_connection::Model>) -> Result<Vec<BrokerConnection>> {
    models.into_iter().map(to_domain).collect()
}

#[async_trait]
impl BrokerStore for SeaStore {
    async fn create_connection(&self, new: NewBrokerConnection) -> Result<BrokerConnection> {
        let now = time::now();
        let model = broker_connection::ActiveModel {
            user_id: Set(new.owner.get()),
            provider: Set(new.provider),
            item_id: Set(new.item_id),
            institution: Set(new.institution),
            access_token: Set(new.sealed_token),
            status: Set(ConnectionStatus::Active.as_str().to_owned()),
            error_code: Set(None),
            error_message: Set(None),
            last_synced_at: Set(None),
            sync_claimed_until: Set(None),
            created_at: Set(now),
            updated_at: Set(now),
            ..Default::default()
        };
        let model = broker_connection::Entity::insert(model)
            .exec_with_returning(&self.db)
            .await
            .map_err(write_err(ENTITY))?;
        to_domain(model)
    }

    async fn get_connection(&self, id: ConnectionId) -> Result<BrokerConnection> {
        to_domain(
            self.find_row::<broker_connection::Entity>(ENTITY, id.get())
                .await?,
        )
    }

    async fn list_connections(&self, owner: UserId) -> Result<Vec<BrokerConnection>> {
        all(broker_connection::Entity::find()
            .filter(broker_connection::Column::UserId.eq(owner.get()))
            .order_by_asc(broker_connection::Column::Id)
            .all(&self.db)
            .await
            .map_err(backend_err)?)
    }

    async fn all_connections(&self) -> Result<Vec<BrokerConnection>> {
        all(broker_connection::Entity::find()
            .order_by_asc(broker_connection::Column::Id)
            .all(&self.db)
            .await
            .map_err(backend_err)?)
    }

    async fn claim_due_connections(
        &self,
        now: Timestamp,
        synced_before: Timestamp,
        claim_until: Timestamp,
    ) -> Result<Vec<BrokerConnection>> {
        let now = time::to_storage_precision(now);
        let unclaimed = Condition::any()
            .add(broker_connection::Column::SyncClaimedUntil.is_null())
            .add(broker_connection::Column::SyncClaimedUntil.lt(now));
        let txn = self.begin_write().await.map_err(backend_err)?;
        let due = broker_connection::Entity::find()
            .filter(broker_connection::Column::Status.ne(ConnectionStatus::NeedsAttention.as_str()))
            .filter(
                Condition::any()
                    .add(broker_connection::Column::LastSyncedAt.is_null())
                    .add(broker_connection::Column::LastSyncedAt.lt(synced_before)),
            )
            .filter(unclaimed.clone())
            .order_by_asc(broker_connection::Column::Id)
            .all(&txn)
            .await
            .map_err(backend_err)?;
        let mut claimed = Vec::new();
        for model in due {
            // Conditional: a worker that got there first (PostgreSQL) wins the row.
            let result = broker_connection::Entity::update_many()
                .col_expr(
                    broker_connection::Column::SyncClaimedUntil,
                    Expr::value(time::to_storage_precision(claim_until)),
                )
                .filter(broker_connection::Column::Id.eq(model.id))
                .filter(unclaimed.clone())
                .exec(&txn)
                .await
                .map_err(backend_err)?;
            if result.rows_affected == 1 {
                claimed.push(to_domain(model)?);
            }
        }
        txn.commit().await.map_err(backend_err)?;
        Ok(claimed)
    }

    async fn reseal_connection(&self, id: ConnectionId, old: &str, new: &str) -> Result<bool> {
        let result = broker_connection::Entity::update_many()
            .col_expr(broker_connection::Column::AccessToken, Expr::value(new))
            .col_expr(
                broker_connection::Column::UpdatedAt,
                Expr::value(time::now()),
            )
            .filter(broker_connection::Column::Id.eq(id.get()))
            .filter(broker_connection::Column::AccessToken.eq(old))
            .exec(&self.db)
            .await
            .map_err(backend_err)?;
        Ok(result.rows_affected == 1)
    }

    async fn record_sync(
        &self,
        id: ConnectionId,
        outcome: SyncOutcome,
        at: Timestamp,
    ) -> Result<()> {
        let at = time::to_storage_precision(at);
        let txn = self.begin_write().await.map_err(backend_err)?;
        let update = broker_connection::Entity::update_many()
            .col_expr(
                broker_connection::Column::SyncClaimedUntil,
                Expr::value(Option::<Timestamp>::None),
            )
            .col_expr(broker_connection::Column::UpdatedAt, Expr::value(at))
            .filter(broker_connection::Column::Id.eq(id.get()));
        let update = match &outcome {
            SyncOutcome::Holdings(_) => update
                .col_expr(
                    broker_connection::Column::Status,
                    Expr::value(ConnectionStatus::Active.as_str()),
                )
                .col_expr(
                    broker_connection::Column::ErrorCode,
                    Expr::value(Option::<String>::None),
                )
                .col_expr(
                    broker_connection::Column::ErrorMessage,
                    Expr::value(Option::<String>::None),
                )
                .col_expr(broker_connection::Column::LastSyncedAt, Expr::value(at)),
            SyncOutcome::Failed {
                status,
                code,
                message,
            } => update
                .col_expr(
                    broker_connection::Column::Status,
                    Expr::value(status.as_str()),
                )
                .col_expr(
                    broker_connection::Column::ErrorCode,
                    Expr::value(code.clone()),
                )
                .col_expr(
                    broker_connection::Column::ErrorMessage,
                    Expr::value(message.clone()),
                ),
        };
        let result = update.exec(&txn).await.map_err(backend_err)?;
        expect_rows(result.rows_affected, ENTITY, id.get())?;
        if let SyncOutcome::Holdings(holdings) = outcome {
            holding::Entity::delete_many()
                .filter(holding::Column::BrokerConnectionId.eq(id.get()))
                .exec(&txn)
                .await
                .map_err(backend_err)?;
            for new in holdings {
                super::holdings::upsert(new)
                    .exec_without_returning(&txn)
                    .await
                    .map_err(write_err("holding"))?;
            }
        }
        txn.commit().await.map_err(backend_err)
    }

    async fn delete_connection(&self, id: ConnectionId) -> Result<()> {
        let txn = self.begin_write().await.map_err(backend_err)?;
        holding::Entity::delete_many()
            .filter(holding::Column::BrokerConnectionId.eq(id.get()))
            .exec(&txn)
            .await
            .map_err(backend_err)?;
        let result = broker_connection::Entity::delete_by_id(id.get())
            .exec(&txn)
            .await
            .map_err(backend_err)?;
        expect_rows(result.rows_affected, ENTITY, id.get())?;
        txn.commit().await.map_err(backend_err)
    }
}
