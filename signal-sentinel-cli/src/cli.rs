//! Command-line grammar.

use clap::{Args, Parser, Subcommand};

/// Signal Sentinel — your AI-powered market watchdog.
///
/// Configuration comes from the environment and ./.env (DATABASE_URL, SECRET_KEY, provider
/// keys …); see the README for the full list.
#[derive(Debug, Parser)]
#[command(name = "invest", version, about, long_about)]
pub(crate) struct Cli {
    #[command(flatten)]
    pub(crate) global: GlobalArgs,
    #[command(subcommand)]
    pub(crate) command: Command,
}

#[derive(Debug, Args)]
pub(crate) struct GlobalArgs {
    /// Database to use instead of DATABASE_URL (sqlite://PATH or postgres://…).
    #[arg(long, global = true, value_name = "URL")]
    pub(crate) database_url: Option<String>,
    /// Print machine-readable JSON instead of text.
    #[arg(long, global = true)]
    pub(crate) json: bool,
    /// More log output on stderr (-v debug, -vv trace); overrides LOG_LEVEL.
    #[arg(short, long, global = true, action = clap::ArgAction::Count, conflicts_with = "quiet")]
    pub(crate) verbose: u8,
    /// Only errors on stderr.
    #[arg(short, long, global = true)]
    pub(crate) quiet: bool,
}

#[derive(Debug, Subcommand)]
pub(crate) enum Command {
    /// Database maintenance.
    Db {
        #[command(subcommand)]
        command: DbCommand,
    },
}

#[derive(Debug, Subcommand)]
pub(crate) enum DbCommand {
    /// Create the database if needed and apply pending migrations.
    Migrate,
    /// Check the database: integrity (SQLite) or connectivity (PostgreSQL), and pending
    /// migrations. Exits 1 when the database is unhealthy or unreachable.
    Check,
}
