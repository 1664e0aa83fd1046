use async_trait::async_trait;
use sea_orm::sea_query::{Expr, ExprTrait, OnConflict};
use sea_orm::{ActiveValue::Set, ColumnTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect};

use super::entity::{action_token_use, bot_cursor, telegram_chat, telegram_link_code};
use super::{SeaStore, backend_err, write_err};
use crate::domain::UserId;
use crate::store::{ActionStore, Result};
use crate::time::{self, Timestamp};

/// The cursor row of `bot`, created at offset 0 the first time.
async fn ensure_cursor(txn: &sea_orm::DatabaseTransaction, bot: &str) -> Result<()> {
    bot_cursor::Entity::insert(bot_cursor::ActiveModel {
        bot: Set(bot.to_owned()),
        next_update: Set(0),
        holder: Set(None),
        lease_until: Set(None),
    })
    .on_conflict(
        OnConflict::column(bot_cursor::Column::Bot)
            .do_nothing()
            .to_owned(),
    )
    .exec_without_returning(txn)
    .await
    .map_err(backend_err)?;
    Ok(())
}

#[async_trait]
impl ActionStore for SeaStore {
    async fn use_action_token(
        &self,
        token_id: &str,
        user: UserId,
        now: Timestamp,
        expires_at: Timestamp,
    ) -> Result<bool> {
        let txn = self.begin_write().await.map_err(backend_err)?;
        action_token_use::Entity::delete_many()
            .filter(action_token_use::Column::ExpiresAt.lt(time::to_storage_precision(now)))
            .exec(&txn)
            .await
            .map_err(backend_err)?;
        let inserted = action_token_use::Entity::insert(action_token_use::ActiveModel {
            token_id: Set(token_id.to_owned()),
            user_id: Set(user.get()),
            used_at: Set(time::to_storage_precision(now)),
            expires_at: Set(time::to_storage_precision(expires_at)),
        })
        .on_conflict(
            OnConflict::column(action_token_use::Column::TokenId)
                .do_nothing()
                .to_owned(),
        )
        .exec_without_returning(&txn)
        .await
        .map_err(write_err("action token use"))?;
        txn.commit().await.map_err(backend_err)?;
        Ok(inserted == 1)
    }

    async fn create_link_code(
        &self,
        code_hash: &str,
        user: UserId,
        expires_at: Timestamp,
    ) -> Result<()> {
        let txn = self.begin_write().await.map_err(backend_err)?;
        telegram_link_code::Entity::delete_many()
            .filter(
                telegram_link_code::Column::UserId
                    .eq(user.get())
                    .or(telegram_link_code::Column::ExpiresAt.lt(time::now())),
            )
            .exec(&txn)
            .await
            .map_err(backend_err)?;
        telegram_link_code::Entity::insert(telegram_link_code::ActiveModel {
            code_hash: Set(code_hash.to_owned()),
            user_id: Set(user.get()),
            expires_at: Set(time::to_storage_precision(expires_at)),
        })
        .exec_without_returning(&txn)
        .await
        .map_err(write_err("link code"))?;
        txn.commit().await.map_err(backend_err)
    }

    async fn take_link_code(&self, code_hash: &str, now: Timestamp) -> Result<Option<UserId>> {
        let txn = self.begin_write().await.map_err(backend_err)?;
        let found = telegram_link_code::Entity::find_by_id(code_hash.to_owned())
            .one(&txn)
            .await
            .map_err(backend_err)?;
        let Some(found) = found else {
            return Ok(None);
        };
        telegram_link_code::Entity::delete_by_id(code_hash.to_owned())
            .exec(&txn)
            .await
            .map_err(backend_err)?;
        txn.commit().await.map_err(backend_err)?;
        Ok((found.expires_at > now).then(|| UserId::new(found.user_id)))
    }

    async fn link_chat(&self, chat: i64, user: UserId, at: Timestamp) -> Result<()> {
        telegram_chat::Entity::insert(telegram_chat::ActiveModel {
            chat_id: Set(chat),
            user_id: Set(user.get()),
            linked_at: Set(time::to_storage_precision(at)),
        })
        .on_conflict(
            OnConflict::column(telegram_chat::Column::ChatId)
                .update_columns([
                    telegram_chat::Column::UserId,
                    telegram_chat::Column::LinkedAt,
                ])
                .to_owned(),
        )
        .exec_without_returning(&self.db)
        .await
        .map_err(write_err("telegram chat"))?;
        Ok(())
    }

    async fn unlink_chat(&self, chat: i64, user: Option<UserId>) -> Result<bool> {
        let mut delete =
            telegram_chat::Entity::delete_many().filter(telegram_chat::Column::ChatId.eq(chat));
        if let Some(user) = user {
            delete = delete.filter(telegram_chat::Column::UserId.eq(user.get()));
        }
        let result = delete.exec(&self.db).await.map_err(backend_err)?;
        Ok(result.rows_affected > 0)
    }

    async fn chat_user(&self, chat: i64) -> Result<Option<UserId>> {
        Ok(telegram_chat::Entity::find_by_id(chat)
            .one(&self.db)
            .await
            .map_err(backend_err)?
            .map(|m| UserId::new(m.user_id)))
    }

    async fn user_chats(&self, user: UserId) -> Result<Vec<i64>> {
        telegram_chat::Entity::find()
            .select_only()
            .column(telegram_chat::Column::ChatId)
            .filter(telegram_chat::Column::UserId.eq(user.get()))
            .order_by_asc(telegram_chat::Column::ChatId)
            .into_tuple::<i64>()
            .all(&self.db)
            .await
            .map_err(backend_err)
    }

    async fn claim_bot_cursor(
        &self,
        bot: &str,
        holder: &str,
        now: Timestamp,
        lease: chrono::Duration,
    ) -> Result<Option<i64>> {
        let now = time::to_storage_precision(now);
        let until = time::to_storage_precision(now + lease);
        let txn = self.begin_write().await.map_err(backend_err)?;
        ensure_cursor(&txn, bot).await?;
        let taken = bot_cursor::Entity::update_many()
            .col_expr(bot_cursor::Column::Holder, Expr::value(holder))
            .col_expr(bot_cursor::Column::LeaseUntil, Expr::value(until))
            .filter(bot_cursor::Column::Bot.eq(bot))
            .filter(
                bot_cursor::Column::Holder
                    .is_null()
                    .or(bot_cursor::Column::Holder.eq(holder))
                    .or(bot_cursor::Column::LeaseUntil.is_null())
                    .or(bot_cursor::Column::LeaseUntil.lt(now)),
            )
            .exec(&txn)
            .await
            .map_err(backend_err)?;
        let next = if taken.rows_affected == 1 {
            bot_cursor::Entity::find_by_id(bot.to_owned())
                .one(&txn)
                .await
                .map_err(backend_err)?
                .map(|m| m.next_update)
        } else {
            None
        };
        txn.commit().await.map_err(backend_err)?;
        Ok(next)
    }

    async fn advance_bot_cursor(&self, bot: &str, holder: &str, next_update: i64) -> Result<bool> {
        let result = bot_cursor::Entity::update_many()
            .col_expr(bot_cursor::Column::NextUpdate, Expr::value(next_update))
            .filter(bot_cursor::Column::Bot.eq(bot))
            .filter(bot_cursor::Column::Holder.eq(holder))
            .exec(&self.db)
            .await
            .map_err(backend_err)?;
        Ok(result.rows_affected == 1)
    }

    async fn record_bot_update(&self, bot: &str, update_id: i64) -> Result<bool> {
        let txn = self.begin_write().await.map_err(backend_err)?;
        ensure_cursor(&txn, bot).await?;
        let moved = bot_cursor::Entity::update_many()
            .col_expr(
                bot_cursor::Column::NextUpdate,
                Expr::value(update_id.saturating_add(1)),
            )
            .filter(bot_cursor::Column::Bot.eq(bot))
            .filter(bot_cursor::Column::NextUpdate.lte(update_id))
            .exec(&txn)
            .await
            .map_err(backend_err)?;
        txn.commit().await.map_err(backend_err)?;
        Ok(moved.rows_affected == 1)
    }

    async fn release_bot_cursor(&self, bot: &str, holder: &str) -> Result<()> {
        bot_cursor::Entity::update_many()
            .col_expr(
                bot_cursor::Column::Holder,
                Expr::value(Option::<String>::None),
            )
            .col_expr(
                bot_cursor::Column::LeaseUntil,
                Expr::value(Option::<Timestamp>::None),
            )
            .filter(bot_cursor::Column::Bot.eq(bot))
            .filter(bot_cursor::Column::Holder.eq(holder))
            .exec(&self.db)
            .await
            .map_err(backend_err)?;
        Ok(())
    }
}
