use async_trait::async_trait;
use sea_orm::sea_query::Expr;
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, EntityTrait, QueryFilter, QueryOrder,
};

use super::entity::channel;
use super::{SeaStore, backend_err, corrupt, expect_rows, write_err};
use crate::domain::{ChannelId, ChannelOutcome, NewChannel, NotificationChannel, UserId};
use crate::store::{ChannelStore, Result};
use crate::{Secret, time};

const ENTITY: &str = "notification channel";

fn to_domain(m: channel::Model) -> Result<NotificationChannel> {
    Ok(NotificationChannel {
        id: ChannelId::new(m.id),
        owner: UserId::new(m.user_id),
        name: m.name,
        kind: m.kind.parse().map_err(corrupt(ENTITY))?,
        config: m.config,
        secret: m.secret.map(Secret::new),
        enabled: m.enabled,
        created_at: m.created_at,
        updated_at: m.updated_at,
        last_ok_at: m.last_ok_at,
        last_error: m.last_error,
    })
}

impl SeaStore {
    async fn update_channel(
        &self,
        id: ChannelId,
        update: sea_orm::UpdateMany<channel::Entity>,
    ) -> Result<()> {
        let result = update
            .col_expr(channel::Column::UpdatedAt, Expr::value(time::now()))
            .filter(channel::Column::Id.eq(id.get()))
            .exec(&self.db)
            .await
            .map_err(backend_err)?;
        expect_rows(result.rows_affected, ENTITY, id)
    }
}

#[async_trait]
impl ChannelStore for SeaStore {
    async fn create_channel(&self, new: NewChannel) -> Result<NotificationChannel> {
        let now = time::now();
        let model = channel::ActiveModel {
            user_id: Set(new.owner.get()),
            name: Set(new.name),
            kind: Set(new.kind.as_str().to_owned()),
            config: Set(new.config),
            secret: Set(new.secret.map(|s| s.expose().to_owned())),
            enabled: Set(true),
            created_at: Set(now),
            updated_at: Set(now),
            last_ok_at: Set(None),
            last_error: Set(None),
            ..Default::default()
        }
        .insert(&self.db)
        .await
        .map_err(write_err(ENTITY))?;
        to_domain(model)
    }

    async fn get_channel(&self, id: ChannelId) -> Result<NotificationChannel> {
        to_domain(self.find_row::<channel::Entity>(ENTITY, id.get()).await?)
    }

    async fn list_channels(&self, owner: UserId) -> Result<Vec<NotificationChannel>> {
        channel::Entity::find()
            .filter(channel::Column::UserId.eq(owner.get()))
            .order_by_asc(channel::Column::Id)
            .all(&self.db)
            .await
            .map_err(backend_err)?
            .into_iter()
            .map(to_domain)
            .collect()
    }

    async fn set_channel_enabled(&self, id: ChannelId, enabled: bool) -> Result<()> {
        self.update_channel(
            id,
            channel::Entity::update_many().col_expr(channel::Column::Enabled, Expr::value(enabled)),
        )
        .await
    }

    async fn set_channel_config(&self, id: ChannelId, config: serde_json::Value) -> Result<()> {
        self.update_channel(
            id,
            channel::Entity::update_many().col_expr(channel::Column::Config, Expr::value(config)),
        )
        .await
    }

    async fn record_channel_outcome(&self, id: ChannelId, outcome: ChannelOutcome) -> Result<()> {
        let update = channel::Entity::update_many();
        let update = match outcome {
            ChannelOutcome::Delivered(at) => update
                .col_expr(
                    channel::Column::LastOkAt,
                    Expr::value(time::to_storage_precision(at)),
                )
                .col_expr(
                    channel::Column::LastError,
                    Expr::value(Option::<String>::None),
                ),
            ChannelOutcome::Failed(message) => {
                update.col_expr(channel::Column::LastError, Expr::value(message))
            }
        };
        self.update_channel(id, update).await
    }

    async fn delete_channel(&self, id: ChannelId) -> Result<()> {
        self.delete_row::<channel::Entity>(ENTITY, id.get()).await
    }

    async fn channels_with_secrets(&self) -> Result<Vec<NotificationChannel>> {
        channel::Entity::find()
            .filter(channel::Column::Secret.is_not_null())
            .order_by_asc(channel::Column::Id)
            .all(&self.db)
            .await
            .map_err(backend_err)?
            .into_iter()
            .map(to_domain)
            .collect()
    }

    async fn reseal_channel(&self, id: ChannelId, old: &str, new: &str) -> Result<bool> {
        let result = channel::Entity::update_many()
            .col_expr(channel::Column::Secret, Expr::value(new))
            .col_expr(channel::Column::UpdatedAt, Expr::value(time::now()))
            .filter(channel::Column::Id.eq(id.get()))
            .filter(channel::Column::Secret.eq(old))
            .exec(&self.db)
            .await
            .map_err(backend_err)?;
        Ok(result.rows_affected == 1)
    }
}
