//! Corporate events: each symbol's calendar as the providers last gave it (`symbol_events`,
//! one row per symbol, refreshed daily by the monitor), and the splits the monitor has applied
//! to the rules and history of a symbol (`split_adjustments`, one row per split, so a split is
//! applied once whichever worker sees it).

use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::*;

#[derive(DeriveMigrationName)]
pub(crate) struct Migration;

#[derive(DeriveIden)]
enum SymbolEvents {
    Table,
    Symbol,
    Events,
    RefreshedOn,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum SplitAdjustments {
    Table,
    Symbol,
    ExDate,
    Ratio,
    AppliedAt,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(SymbolEvents::Table)
                    .col(text(SymbolEvents::Symbol).primary_key())
                    .col(json(SymbolEvents::Events))
                    .col(date(SymbolEvents::RefreshedOn))
                    .col(timestamp_with_time_zone(SymbolEvents::UpdatedAt))
                    .take(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(SplitAdjustments::Table)
                    .col(text(SplitAdjustments::Symbol))
                    .col(date(SplitAdjustments::ExDate))
                    .col(text(SplitAdjustments::Ratio))
                    .col(timestamp_with_time_zone(SplitAdjustments::AppliedAt))
                    .primary_key(
                        Index::create()
                            .name("ux_split_adjustments_symbol_ex_date")
                            .col(SplitAdjustments::Symbol)
                            .col(SplitAdjustments::ExDate),
                    )
                    .take(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(SplitAdjustments::Table).take())
            .await?;
        manager
            .drop_table(Table::drop().table(SymbolEvents::Table).take())
            .await
    }
}
