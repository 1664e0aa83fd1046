//! Brokerage connections: one row per linked institution (a Plaid "item"), its access token sealed
//! with a key derived from `SECRET_KEY`, its health and when it last synced; and, on each
//! holding, the link it came from (null for holdings typed in or imported from CSV), so a sync
//! replaces exactly that link's positions.

use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::*;

#[derive(DeriveMigrationName)]
pub(crate) struct Migration;

#[derive(DeriveIden)]
enum BrokerConnections {
    Table,
    Id,
    UserId,
    Provider,
    ItemId,
    Institution,
    AccessToken,
    Status,
    ErrorCode,
    ErrorMessage,
    LastSyncedAt,
    SyncClaimedUntil,
    CreatedAt,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum Holdings {
    Table,
    BrokerConnectionId,
}

#[derive(DeriveIden)]
enum Users {
    Table,
    Id,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(BrokerConnections::Table)
                    .col(big_pk_auto(BrokerConnections::Id))
                    .col(big_integer(BrokerConnections::UserId))
                    .col(text(BrokerConnections::Provider))
                    // The provider's id of the link (Plaid's item_id): not secret.
                    .col(text(BrokerConnections::ItemId))
                    .col(text_null(BrokerConnections::Institution))
                    // `v1.<key id>.<nonce>.<ciphertext>`: never the token itself.
                    .col(text(BrokerConnections::AccessToken))
                    .col(text(BrokerConnections::Status))
                    .col(text_null(BrokerConnections::ErrorCode))
                    .col(text_null(BrokerConnections::ErrorMessage))
                    .col(timestamp_with_time_zone_null(
                        BrokerConnections::LastSyncedAt,
                    ))
                    // A worker's claim on the next scheduled sync, so several workers sync a
                    // link once.
                    .col(timestamp_with_time_zone_null(
                        BrokerConnections::SyncClaimedUntil,
                    ))
                    .col(timestamp_with_time_zone(BrokerConnections::CreatedAt))
                    .col(timestamp_with_time_zone(BrokerConnections::UpdatedAt))
                    .foreign_key(
                        ForeignKey::create()
                            .from(BrokerConnections::Table, BrokerConnections::UserId)
                            .to(Users::Table, Users::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .take(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("ux_broker_connections_provider_item_id")
                    .table(BrokerConnections::Table)
                    .col(BrokerConnections::Provider)
                    .col(BrokerConnections::ItemId)
                    .unique()
                    .take(),
            )
            .await?;
        // No foreign key: SQLite cannot add one to an existing table. The library deletes a
        // link's holdings in the same transaction as the link.
        manager
            .alter_table(
                Table::alter()
                    .table(Holdings::Table)
                    .add_column(big_integer_null(Holdings::BrokerConnectionId))
                    .take(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(
                Table::alter()
                    .table(Holdings::Table)
                    .drop_column(Holdings::BrokerConnectionId)
                    .take(),
            )
            .await?;
        manager
            .drop_table(Table::drop().table(BrokerConnections::Table).take())
            .await
    }
}
