//! Acting on alerts from messages, and the Telegram bot.
//!
//! - `action_token_uses`: the action tokens already used (each works once), by token id, kept
//!   until they expire.
//! - `telegram_chats`: the chats linked to an account (a chat acts for one user only).
//! - `telegram_link_codes`: one-time codes a user asks for and sends to the bot as
//!   `/start CODE`, stored as their SHA-256.
//! - `bot_cursors`: per bot, the next update to read (`getUpdates`' offset) and the lease of
//!   the process reading them (one poller per deployment).

use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::*;

#[derive(DeriveMigrationName)]
pub(crate) struct Migration;

#[derive(DeriveIden)]
enum Users {
    Table,
    Id,
}

#[derive(DeriveIden)]
enum ActionTokenUses {
    Table,
    TokenId,
    UserId,
    UsedAt,
    ExpiresAt,
}

#[derive(DeriveIden)]
enum TelegramChats {
    Table,
    ChatId,
    UserId,
    LinkedAt,
}

#[derive(DeriveIden)]
enum TelegramLinkCodes {
    Table,
    CodeHash,
    UserId,
    ExpiresAt,
}

#[derive(DeriveIden)]
enum BotCursors {
    Table,
    Bot,
    NextUpdate,
    Holder,
    LeaseUntil,
}

/// `from.column` references a user; the row goes with its user.
fn owned_by_user(from: impl IntoIden, column: impl IntoIden) -> ForeignKeyCreateStatement {
    ForeignKey::create()
        .from(from, column)
        .to(Users::Table, Users::Id)
        .on_delete(ForeignKeyAction::Cascade)
        .take()
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(ActionTokenUses::Table)
                    .col(text(ActionTokenUses::TokenId).primary_key())
                    .col(big_integer(ActionTokenUses::UserId))
                    .col(timestamp_with_time_zone(ActionTokenUses::UsedAt))
                    .col(timestamp_with_time_zone(ActionTokenUses::ExpiresAt))
                    .foreign_key(&mut owned_by_user(
                        ActionTokenUses::Table,
                        ActionTokenUses::UserId,
                    ))
                    .take(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_action_token_uses_expires_at")
                    .table(ActionTokenUses::Table)
                    .col(ActionTokenUses::ExpiresAt)
                    .take(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(TelegramChats::Table)
                    .col(big_integer(TelegramChats::ChatId).primary_key())
                    .col(big_integer(TelegramChats::UserId))
                    .col(timestamp_with_time_zone(TelegramChats::LinkedAt))
                    .foreign_key(&mut owned_by_user(
                        TelegramChats::Table,
                        TelegramChats::UserId,
                    ))
                    .take(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_telegram_chats_user_id")
                    .table(TelegramChats::Table)
                    .col(TelegramChats::UserId)
                    .take(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(TelegramLinkCodes::Table)
                    .col(text(TelegramLinkCodes::CodeHash).primary_key())
                    .col(big_integer(TelegramLinkCodes::UserId))
                    .col(timestamp_with_time_zone(TelegramLinkCodes::ExpiresAt))
                    .foreign_key(&mut owned_by_user(
                        TelegramLinkCodes::Table,
                        TelegramLinkCodes::UserId,
                    ))
                    .take(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(BotCursors::Table)
                    .col(text(BotCursors::Bot).primary_key())
                    .col(big_integer(BotCursors::NextUpdate))
                    .col(text_null(BotCursors::Holder))
                    .col(timestamp_with_time_zone_null(BotCursors::LeaseUntil))
                    .take(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for table in [
            BotCursors::Table.into_iden(),
            TelegramLinkCodes::Table.into_iden(),
            TelegramChats::Table.into_iden(),
            ActionTokenUses::Table.into_iden(),
        ] {
            manager
                .drop_table(Table::drop().table(table).take())
                .await?;
        }
        Ok(())
    }
}
