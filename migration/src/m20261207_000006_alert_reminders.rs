//! Reminders while a rule keeps firing: an alert row per reminder, numbered within its
//! episode (`reminder`, 0 for the firing itself), so the unique key of an alert becomes
//! `(rule, episode, kind, reminder)`.

use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::*;

#[derive(DeriveMigrationName)]
pub(crate) struct Migration;

#[derive(DeriveIden)]
enum Alerts {
    Table,
    RuleId,
    Episode,
    Kind,
    Reminder,
}

const OLD: &str = "ux_alerts_rule_id_episode_kind";
const NEW: &str = "ux_alerts_rule_id_episode_kind_reminder";

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(
                Table::alter()
                    .table(Alerts::Table)
                    .add_column(big_integer(Alerts::Reminder).default(0))
                    .take(),
            )
            .await?;
        manager
            .drop_index(Index::drop().name(OLD).table(Alerts::Table).to_owned())
            .await?;
        manager
            .create_index(
                Index::create()
                    .name(NEW)
                    .table(Alerts::Table)
                    .col(Alerts::RuleId)
                    .col(Alerts::Episode)
                    .col(Alerts::Kind)
                    .col(Alerts::Reminder)
                    .unique()
                    .take(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_index(Index::drop().name(NEW).table(Alerts::Table).to_owned())
            .await?;
        manager
            .get_connection()
            .execute_unprepared("DELETE FROM alerts WHERE reminder > 0")
            .await?;
        manager
            .create_index(
                Index::create()
                    .name(OLD)
                    .table(Alerts::Table)
                    .col(Alerts::RuleId)
                    .col(Alerts::Episode)
                    .col(Alerts::Kind)
                    .unique()
                    .take(),
            )
            .await?;
        manager
            .alter_table(
                Table::alter()
                    .table(Alerts::Table)
                    .drop_column(Alerts::Reminder)
                    .take(),
            )
            .await
    }
}
