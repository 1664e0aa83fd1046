//! The first schema: users, API keys, rules and their state, alerts, notification channels,
//! holdings.

use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::*;

#[derive(DeriveMigrationName)]
pub(crate) struct Migration;

#[derive(DeriveIden)]
enum Users {
    Table,
    Id,
    Email,
    PasswordHash,
    DisplayName,
    CreatedAt,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum ApiKeys {
    Table,
    Id,
    UserId,
    Name,
    Prefix,
    KeyHash,
    CreatedAt,
    LastUsedAt,
    RevokedAt,
}

#[derive(DeriveIden)]
enum Rules {
    Table,
    Id,
    UserId,
    Symbol,
    Name,
    Condition,
    Options,
    Enabled,
    CreatedAt,
    UpdatedAt,
    LastTriggeredAt,
    ExpiresAt,
    SnoozedUntil,
}

#[derive(DeriveIden)]
enum RuleStates {
    Table,
    RuleId,
    Phase,
    Episode,
    PendingSince,
    LastPrice,
    Memory,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum Alerts {
    Table,
    Id,
    RuleId,
    UserId,
    Symbol,
    Episode,
    Kind,
    Price,
    Message,
    Summary,
    State,
    FiredAt,
    AcknowledgedAt,
}

#[derive(DeriveIden)]
enum Channels {
    Table,
    Id,
    UserId,
    Name,
    Kind,
    Config,
    Secret,
    Enabled,
    CreatedAt,
    UpdatedAt,
    LastOkAt,
    LastError,
}

#[derive(DeriveIden)]
enum Holdings {
    Table,
    Id,
    UserId,
    Account,
    Symbol,
    Quantity,
    CostBasis,
    Source,
    UpdatedAt,
}

fn owner_fk<T: IntoIden + 'static, C: IntoIden + 'static>(
    table: T,
    column: C,
) -> ForeignKeyCreateStatement {
    ForeignKey::create()
        .from(table, column)
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
                    .table(Users::Table)
                    .col(big_pk_auto(Users::Id))
                    .col(text(Users::Email))
                    .col(text(Users::PasswordHash))
                    .col(text_null(Users::DisplayName))
                    .col(timestamp_with_time_zone(Users::CreatedAt))
                    .col(timestamp_with_time_zone(Users::UpdatedAt))
                    .take(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("ux_users_email")
                    .table(Users::Table)
                    .col(Users::Email)
                    .unique()
                    .take(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(ApiKeys::Table)
                    .col(big_pk_auto(ApiKeys::Id))
                    .col(big_integer(ApiKeys::UserId))
                    .col(text(ApiKeys::Name))
                    .col(text(ApiKeys::Prefix))
                    .col(text(ApiKeys::KeyHash))
                    .col(timestamp_with_time_zone(ApiKeys::CreatedAt))
                    .col(timestamp_with_time_zone_null(ApiKeys::LastUsedAt))
                    .col(timestamp_with_time_zone_null(ApiKeys::RevokedAt))
                    .foreign_key(&mut owner_fk(ApiKeys::Table, ApiKeys::UserId))
                    .take(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("ux_api_keys_prefix")
                    .table(ApiKeys::Table)
                    .col(ApiKeys::Prefix)
                    .unique()
                    .take(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("ux_api_keys_user_id_name")
                    .table(ApiKeys::Table)
                    .col(ApiKeys::UserId)
                    .col(ApiKeys::Name)
                    .unique()
                    .take(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(Rules::Table)
                    .col(big_pk_auto(Rules::Id))
                    .col(big_integer(Rules::UserId))
                    .col(text(Rules::Symbol))
                    .col(text_null(Rules::Name))
                    .col(json(Rules::Condition))
                    .col(json(Rules::Options))
                    .col(boolean(Rules::Enabled))
                    .col(timestamp_with_time_zone(Rules::CreatedAt))
                    .col(timestamp_with_time_zone(Rules::UpdatedAt))
                    .col(timestamp_with_time_zone_null(Rules::LastTriggeredAt))
                    .col(timestamp_with_time_zone_null(Rules::ExpiresAt))
                    .col(timestamp_with_time_zone_null(Rules::SnoozedUntil))
                    .foreign_key(&mut owner_fk(Rules::Table, Rules::UserId))
                    .take(),
            )
            .await?;
        // The monitor loads enabled rules by symbol on every cycle.
        manager
            .create_index(
                Index::create()
                    .name("ix_rules_enabled_symbol")
                    .table(Rules::Table)
                    .col(Rules::Enabled)
                    .col(Rules::Symbol)
                    .take(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("ix_rules_user_id")
                    .table(Rules::Table)
                    .col(Rules::UserId)
                    .col(Rules::Id)
                    .take(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(RuleStates::Table)
                    .col(big_integer(RuleStates::RuleId).primary_key())
                    .col(text(RuleStates::Phase))
                    .col(big_integer(RuleStates::Episode))
                    .col(timestamp_with_time_zone_null(RuleStates::PendingSince))
                    .col(text_null(RuleStates::LastPrice))
                    .col(json(RuleStates::Memory))
                    .col(timestamp_with_time_zone(RuleStates::UpdatedAt))
                    .foreign_key(
                        ForeignKey::create()
                            .from(RuleStates::Table, RuleStates::RuleId)
                            .to(Rules::Table, Rules::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .take(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(Alerts::Table)
                    .col(big_pk_auto(Alerts::Id))
                    // Nullable: an alert outlives the rule that raised it (history is kept).
                    .col(big_integer_null(Alerts::RuleId))
                    .col(big_integer(Alerts::UserId))
                    .col(text(Alerts::Symbol))
                    .col(big_integer(Alerts::Episode))
                    .col(text(Alerts::Kind))
                    .col(text(Alerts::Price))
                    .col(text(Alerts::Message))
                    .col(text_null(Alerts::Summary))
                    .col(text(Alerts::State))
                    .col(timestamp_with_time_zone(Alerts::FiredAt))
                    .col(timestamp_with_time_zone_null(Alerts::AcknowledgedAt))
                    .foreign_key(
                        ForeignKey::create()
                            .from(Alerts::Table, Alerts::RuleId)
                            .to(Rules::Table, Rules::Id)
                            .on_delete(ForeignKeyAction::SetNull),
                    )
                    .foreign_key(&mut owner_fk(Alerts::Table, Alerts::UserId))
                    .take(),
            )
            .await?;
        // The last line of defence against a duplicate alert: one per rule, episode and kind.
        manager
            .create_index(
                Index::create()
                    .name("ux_alerts_rule_id_episode_kind")
                    .table(Alerts::Table)
                    .col(Alerts::RuleId)
                    .col(Alerts::Episode)
                    .col(Alerts::Kind)
                    .unique()
                    .take(),
            )
            .await?;
        // "The newest alerts of a user" is the hottest query (dashboard, API, CLI).
        manager
            .create_index(
                Index::create()
                    .name("ix_alerts_user_id_fired_at")
                    .table(Alerts::Table)
                    .col(Alerts::UserId)
                    .col((Alerts::FiredAt, IndexOrder::Desc))
                    .col((Alerts::Id, IndexOrder::Desc))
                    .take(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(Channels::Table)
                    .col(big_pk_auto(Channels::Id))
                    .col(big_integer(Channels::UserId))
                    .col(text(Channels::Name))
                    .col(text(Channels::Kind))
                    .col(json(Channels::Config))
                    .col(text_null(Channels::Secret))
                    .col(boolean(Channels::Enabled))
                    .col(timestamp_with_time_zone(Channels::CreatedAt))
                    .col(timestamp_with_time_zone(Channels::UpdatedAt))
                    .col(timestamp_with_time_zone_null(Channels::LastOkAt))
                    .col(text_null(Channels::LastError))
                    .foreign_key(&mut owner_fk(Channels::Table, Channels::UserId))
                    .take(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("ux_channels_user_id_name")
                    .table(Channels::Table)
                    .col(Channels::UserId)
                    .col(Channels::Name)
                    .unique()
                    .take(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(Holdings::Table)
                    .col(big_pk_auto(Holdings::Id))
                    .col(big_integer(Holdings::UserId))
                    .col(text(Holdings::Account))
                    .col(text(Holdings::Symbol))
                    .col(text(Holdings::Quantity))
                    .col(text_null(Holdings::CostBasis))
                    .col(text(Holdings::Source))
                    .col(timestamp_with_time_zone(Holdings::UpdatedAt))
                    .foreign_key(&mut owner_fk(Holdings::Table, Holdings::UserId))
                    .take(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("ux_holdings_user_id_account_symbol")
                    .table(Holdings::Table)
                    .col(Holdings::UserId)
                    .col(Holdings::Account)
                    .col(Holdings::Symbol)
                    .unique()
                    .take(),
            )
            .await?;
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for table in [
            Holdings::Table.into_iden(),
            Channels::Table.into_iden(),
            Alerts::Table.into_iden(),
            RuleStates::Table.into_iden(),
            Rules::Table.into_iden(),
            ApiKeys::Table.into_iden(),
            Users::Table.into_iden(),
        ] {
            manager
                .drop_table(Table::drop().table(table).take())
                .await?;
        }
        Ok(())
    }
}
