use async_trait::async_trait;
use sea_orm::sea_query::Expr;
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, EntityTrait, QueryFilter, QueryOrder,
    QuerySelect,
};

use super::direct::{self, Columns};
use super::entity::api_key;
use super::{SeaStore, backend_err, expect_rows, not_found, write_err};
use crate::domain::{ApiKey, ApiKeyId, NewApiKey, UserId};
use crate::store::{ApiKeyStore, Result};
use crate::time::{self, Timestamp};

const ENTITY: &str = "API key";

fn to_domain(m: api_key::Model) -> ApiKey {
    ApiKey {
        id: ApiKeyId::new(m.id),
        user_id: UserId::new(m.user_id),
        name: m.name,
        prefix: m.prefix,
        key_hash: m.key_hash,
        created_at: m.created_at,
        last_used_at: m.last_used_at,
        revoked_at: m.revoked_at,
    }
}

/// The columns `read_row` reads, in its order.
const COLUMNS: [&str; 8] = [
    "id",
    "user_id",
    "name",
    "prefix",
    "key_hash",
    "created_at",
    "last_used_at",
    "revoked_at",
];

/// A row read on the caller's thread (see `direct`).
fn read_row(row: &rusqlite::Row<'_>, c: &Columns) -> rusqlite::Result<api_key::Model> {
    Ok(api_key::Model {
        id: row.get(c.at(0))?,
        user_id: row.get(c.at(1))?,
        name: row.get(c.at(2))?,
        prefix: row.get(c.at(3))?,
        key_hash: row.get(c.at(4))?,
        created_at: direct::time(row, c.at(5))?,
        last_used_at: direct::optional_time(row, c.at(6))?,
        revoked_at: direct::optional_time(row, c.at(7))?,
    })
}

impl SeaStore {
    async fn find_api_key(&self, id: ApiKeyId) -> Result<ApiKey> {
        Ok(to_domain(
            self.find_row::<api_key::Entity>(ENTITY, id.get()).await?,
        ))
    }
}

#[async_trait]
impl ApiKeyStore for SeaStore {
    async fn create_api_key(&self, new: NewApiKey) -> Result<ApiKey> {
        let model = api_key::ActiveModel {
            user_id: Set(new.user_id.get()),
            name: Set(new.name),
            prefix: Set(new.prefix),
            key_hash: Set(new.key_hash),
            created_at: Set(time::now()),
            last_used_at: Set(None),
            revoked_at: Set(None),
            ..Default::default()
        }
        .insert(&self.db)
        .await
        .map_err(write_err(ENTITY))?;
        Ok(to_domain(model))
    }

    async fn get_api_key_by_prefix(&self, prefix: &str) -> Result<ApiKey> {
        let query = api_key::Entity::find()
            .filter(api_key::Column::Prefix.eq(prefix))
            .limit(1);
        // A unique index finds the key.
        self.read_bounded(query, &COLUMNS, read_row)
            .await?
            .into_iter()
            .next()
            .map(to_domain)
            .ok_or_else(|| not_found(ENTITY, prefix))
    }

    async fn list_api_keys(&self, owner: UserId) -> Result<Vec<ApiKey>> {
        Ok(api_key::Entity::find()
            .filter(api_key::Column::UserId.eq(owner.get()))
            .order_by_asc(api_key::Column::Id)
            .all(&self.db)
            .await
            .map_err(backend_err)?
            .into_iter()
            .map(to_domain)
            .collect())
    }

    async fn touch_api_key(&self, id: ApiKeyId, at: Timestamp) -> Result<()> {
        let result = api_key::Entity::update_many()
            .col_expr(
                api_key::Column::LastUsedAt,
                Expr::value(time::to_storage_precision(at)),
            )
            .filter(api_key::Column::Id.eq(id.get()))
            .exec(&self.db)
            .await
            .map_err(backend_err)?;
        expect_rows(result.rows_affected, ENTITY, id)
    }

    async fn revoke_api_key(&self, id: ApiKeyId, at: Timestamp) -> Result<ApiKey> {
        api_key::Entity::update_many()
            .col_expr(
                api_key::Column::RevokedAt,
                Expr::value(time::to_storage_precision(at)),
            )
            .filter(api_key::Column::Id.eq(id.get()))
            .filter(api_key::Column::RevokedAt.is_null())
            .exec(&self.db)
            .await
            .map_err(backend_err)?;
        self.find_api_key(id).await
    }
}
