//! Database migrations of Signal Sentinel, for SQLite and PostgreSQL.
//!
//! One file per change, named `mYYYYMMDD_HHMMSS_what.rs`, each with an `up` and a `down`.
//! A migration that has been released is never edited: a later change adds a new file and
//! appends it to [`Migrator::migrations`].
//!
//! Conventions every migration follows, because the library relies on them:
//! - Decimal amounts (prices, quantities) are `TEXT` holding the canonical decimal string.
//!   SQLite has no exact decimal type (its `NUMERIC` affinity turns `"0.1"` into a float), and
//!   sea-orm reads SQLite decimals through `f64`; a string is exact on both backends.
//! - Timestamps are `timestamp with time zone` (PostgreSQL) / RFC 3339 text in UTC (SQLite),
//!   written with microsecond precision, so text order is time order.
//! - Unique indexes are named `ux_<table>_<columns>`: the library maps a violation of one back
//!   to the field the user has to change.

// async-trait cannot express `&SchemaManager<'_>` the way the trait declares it.
#![allow(elided_lifetimes_in_paths)]

pub use sea_orm_migration::prelude::*;

mod m20261128_000001_initial;
mod m20261128_000002_monitor;
mod m20261129_000003_broker_connections;
mod m20261129_000004_monitor_workers;
mod m20261207_000005_alert_actions;
mod m20261207_000006_alert_reminders;
mod m20261207_000007_corporate_events;
mod m20261207_000008_rule_changes;

/// The list of migrations, oldest first.
#[derive(Debug)]
pub struct Migrator;

#[async_trait::async_trait]
impl MigratorTrait for Migrator {
    fn migrations() -> Vec<Box<dyn MigrationTrait>> {
        vec![
            Box::new(m20261128_000001_initial::Migration),
            Box::new(m20261128_000002_monitor::Migration),
            Box::new(m20261129_000003_broker_connections::Migration),
            Box::new(m20261129_000004_monitor_workers::Migration),
            Box::new(m20261207_000005_alert_actions::Migration),
            Box::new(m20261207_000006_alert_reminders::Migration),
            Box::new(m20261207_000007_corporate_events::Migration),
            Box::new(m20261207_000008_rule_changes::Migration),
        ]
    }
}
