//! What the monitor writes besides alerts: the outbox of deliveries (one row per alert — or
//! digest, or notice — and channel, sent by the dispatcher) and each symbol's latest samples
//! (so crosses and moves within a window survive a restart); each user's notification
//! preferences.

use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::*;

#[derive(DeriveMigrationName)]
pub(crate) struct Migration;

#[derive(DeriveIden)]
enum Deliveries {
    Table,
    Id,
    AlertId,
    ChannelId,
    UserId,
    Event,
    Body,
    Silent,
    ClaimedBy,
    ClaimedUntil,
    Status,
    Attempts,
    NextAttemptAt,
    LastError,
    SentAt,
    CreatedAt,
}

#[derive(DeriveIden)]
enum NotificationPrefs {
    Table,
    UserId,
    Prefs,
    LastDigestOn,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum SymbolSamples {
    Table,
    Symbol,
    Samples,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum Alerts {
    Table,
    Id,
}

#[derive(DeriveIden)]
enum Channels {
    Table,
    Id,
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
                    .table(Deliveries::Table)
                    .col(big_pk_auto(Deliveries::Id))
                    // Null for messages that are not an alert (digests, system notices).
                    .col(big_integer_null(Deliveries::AlertId))
                    .col(big_integer(Deliveries::ChannelId))
                    .col(big_integer(Deliveries::UserId))
                    .col(text(Deliveries::Event))
                    // The text of a message that is not an alert; alerts render at sending.
                    .col(text_null(Deliveries::Body))
                    .col(boolean(Deliveries::Silent))
                    // A dispatcher's claim: others leave the row alone until it expires.
                    .col(text_null(Deliveries::ClaimedBy))
                    .col(timestamp_with_time_zone_null(Deliveries::ClaimedUntil))
                    .col(text(Deliveries::Status))
                    .col(integer(Deliveries::Attempts))
                    .col(timestamp_with_time_zone(Deliveries::NextAttemptAt))
                    .col(text_null(Deliveries::LastError))
                    .col(timestamp_with_time_zone_null(Deliveries::SentAt))
                    .col(timestamp_with_time_zone(Deliveries::CreatedAt))
                    .foreign_key(
                        ForeignKey::create()
                            .from(Deliveries::Table, Deliveries::AlertId)
                            .to(Alerts::Table, Alerts::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .from(Deliveries::Table, Deliveries::ChannelId)
                            .to(Channels::Table, Channels::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .from(Deliveries::Table, Deliveries::UserId)
                            .to(Users::Table, Users::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .take(),
            )
            .await?;
        // One delivery per alert and channel, whoever retries.
        manager
            .create_index(
                Index::create()
                    .name("ux_deliveries_alert_id_channel_id")
                    .table(Deliveries::Table)
                    .col(Deliveries::AlertId)
                    .col(Deliveries::ChannelId)
                    .unique()
                    .take(),
            )
            .await?;
        // The dispatcher claims due deliveries by status and time.
        manager
            .create_index(
                Index::create()
                    .name("ix_deliveries_status_next_attempt_at")
                    .table(Deliveries::Table)
                    .col(Deliveries::Status)
                    .col(Deliveries::NextAttemptAt)
                    .take(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(NotificationPrefs::Table)
                    .col(big_integer(NotificationPrefs::UserId).primary_key())
                    .col(json(NotificationPrefs::Prefs))
                    .col(date_null(NotificationPrefs::LastDigestOn))
                    .col(timestamp_with_time_zone(NotificationPrefs::UpdatedAt))
                    .foreign_key(
                        ForeignKey::create()
                            .from(NotificationPrefs::Table, NotificationPrefs::UserId)
                            .to(Users::Table, Users::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .take(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(SymbolSamples::Table)
                    .col(text(SymbolSamples::Symbol).primary_key())
                    .col(json(SymbolSamples::Samples))
                    .col(timestamp_with_time_zone(SymbolSamples::UpdatedAt))
                    .take(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(SymbolSamples::Table).take())
            .await?;
        manager
            .drop_table(Table::drop().table(NotificationPrefs::Table).take())
            .await?;
        manager
            .drop_table(Table::drop().table(Deliveries::Table).take())
            .await
    }
}
