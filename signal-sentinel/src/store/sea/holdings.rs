use async_trait::async_trait;
use sea_orm::sea_query::OnConflict;
use sea_orm::{ActiveValue::Set, ColumnTrait, EntityTrait, QueryFilter, QueryOrder};

use super::entity::holding;
use super::{SeaStore, backend_err, corrupt, decimal_from_text, write_err};
use crate::domain::{ConnectionId, Holding, HoldingId, NewHolding, Symbol, UserId};
use crate::store::{HoldingStore, Result};
use crate::time;

const ENTITY: &str = "holding";

pub(super) fn to_domain(m: holding::Model) -> Result<Holding> {
    Ok(Holding {
        id: HoldingId::new(m.id),
        owner: UserId::new(m.user_id),
        account: m.account,
        symbol: Symbol::parse(&m.symbol).map_err(corrupt(ENTITY))?,
        quantity: decimal_from_text(ENTITY, &m.quantity)?,
        cost_basis: m
            .cost_basis
            .as_deref()
            .map(|c| decimal_from_text(ENTITY, c))
            .transpose()?,
        source: m.source.parse().map_err(corrupt(ENTITY))?,
        connection: m.broker_connection_id.map(ConnectionId::new),
        updated_at: m.updated_at,
    })
}

/// The insert of a position that replaces the one with the same owner, account and symbol.
pub(super) fn upsert(new: NewHolding) -> sea_orm::Insert<holding::ActiveModel> {
    let model = holding::ActiveModel {
        user_id: Set(new.owner.get()),
        account: Set(new.account),
        symbol: Set(new.symbol.as_str().to_owned()),
        quantity: Set(new.quantity.to_string()),
        cost_basis: Set(new.cost_basis.map(|c| c.to_string())),
        source: Set(new.source.as_str().to_owned()),
        broker_connection_id: Set(new.connection.map(ConnectionId::get)),
        updated_at: Set(time::now()),
        ..Default::default()
    };
    holding::Entity::insert(model).on_conflict(
        OnConflict::columns([
            holding::Column::UserId,
            holding::Column::Account,
            holding::Column::Symbol,
        ])
        .update_columns([
            holding::Column::Quantity,
            holding::Column::CostBasis,
            holding::Column::Source,
            holding::Column::BrokerConnectionId,
            holding::Column::UpdatedAt,
        ])
        .to_owned(),
    )
}

#[async_trait]
impl HoldingStore for SeaStore {
    async fn upsert_holding(&self, new: NewHolding) -> Result<Holding> {
        let model = upsert(new)
            .exec_with_returning(&self.db)
            .await
            .map_err(write_err(ENTITY))?;
        to_domain(model)
    }

    async fn list_holdings(&self, owner: UserId) -> Result<Vec<Holding>> {
        holding::Entity::find()
            .filter(holding::Column::UserId.eq(owner.get()))
            .order_by_asc(holding::Column::Account)
            .order_by_asc(holding::Column::Symbol)
            .all(&self.db)
            .await
            .map_err(backend_err)?
            .into_iter()
            .map(to_domain)
            .collect()
    }

    async fn delete_holding(&self, id: HoldingId) -> Result<()> {
        self.delete_row::<holding::Entity>(ENTITY, id.get()).await
    }
}
