//! `invest`, the command line of Signal Sentinel.
//!
//! It parses arguments, loads [`Settings`], calls the library and prints the result: nothing
//! else. Errors are one line on stderr; the exit code is 0 on success, 1 on failure, 2 on bad
//! usage.

#[cfg(not(target_env = "msvc"))]
#[global_allocator]
static GLOBAL: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

mod cli;
mod commands;
mod logging;
mod output;

use std::process::ExitCode;

use clap::Parser;
use signal_sentinel::config::Settings;

use crate::cli::{Cli, Command, DbCommand, MonitorCommand, ProvidersCommand};

fn main() -> ExitCode {
    let cli = Cli::parse();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => return fail(&format!("cannot start the async runtime: {e}")),
    };
    match runtime.block_on(run(cli)) {
        Ok(code) => code,
        Err(e) => {
            // An internal failure's cause is logged as well as printed.
            if let Some(e @ signal_sentinel::service::ServiceError::Internal(_)) =
                e.downcast_ref::<signal_sentinel::service::ServiceError>()
            {
                tracing::error!("{}", signal_sentinel::error_chain(e));
            }
            // `{:#}`: the message and its causes on one line.
            fail(&format!("{e:#}"))
        }
    }
}

fn fail(message: &str) -> ExitCode {
    eprintln!(
        "{}: {message}",
        output::paint_err("error", output::Style::Red)
    );
    ExitCode::FAILURE
}

async fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    // What needs no configuration comes first (no SECRET_KEY generated, no database).
    match &cli.command {
        Command::Openapi => {
            output::out!("{}", signal_sentinel_http::spec_json().trim_end());
            return Ok(ExitCode::SUCCESS);
        }
        Command::Completions { shell } => {
            use clap::CommandFactory;
            let mut script = Vec::new();
            clap_complete::generate(*shell, &mut Cli::command(), "invest", &mut script);
            output::out!("{}", String::from_utf8_lossy(&script).trim_end());
            return Ok(ExitCode::SUCCESS);
        }
        _ => {}
    }
    // One TLS crypto provider for the whole process (ring); "already installed" is fine.
    let _ = rustls::crypto::ring::default_provider().install_default();
    let mut settings = Settings::from_env()?;
    if let Some(url) = &cli.global.database_url {
        settings.database_url = signal_sentinel::config::DatabaseUrl::parse(url)?;
    }
    logging::init(&settings.log_level, cli.global.verbose, cli.global.quiet)?;
    for warning in settings.warnings() {
        tracing::warn!("{warning}");
    }
    let json = cli.global.json;
    match cli.command {
        Command::Demo { data, pace, serve } => {
            commands::demo::run(&settings, &data, pace, serve, json).await
        }
        Command::Notifications { command } => {
            commands::notifications::run(&settings, cli.global.user.as_deref(), command, json).await
        }
        Command::Quote { symbols } => commands::quote::quote(&settings, &symbols, json).await,
        Command::Providers { command } => match command {
            ProvidersCommand::Status { symbol } => {
                commands::quote::providers_status(&settings, &symbol, json).await
            }
        },
        Command::Monitor { command } => match command {
            MonitorCommand::Run { market } => {
                commands::monitor::run(&settings, &market, cli.global.verbose > 0, json).await
            }
            MonitorCommand::Start { market, interval } => {
                commands::monitor::start(&settings, &market, interval).await
            }
            MonitorCommand::Status => commands::monitor::status(&settings, json).await,
        },
        Command::Rules { command } => {
            commands::rules::run(&settings, cli.global.user.as_deref(), command, json).await
        }
        Command::Alerts { command } => {
            commands::alerts::run(&settings, cli.global.user.as_deref(), command, json).await
        }
        Command::Auth { command } => {
            commands::auth::run(&settings, cli.global.user.as_deref(), command, json).await
        }
        Command::Portfolio { command } => {
            commands::portfolio::run(&settings, cli.global.user.as_deref(), command, json).await
        }
        Command::Serve {
            host,
            port,
            no_monitor,
            market,
            interval,
        } => {
            let addr = std::net::SocketAddr::new(host, port);
            let monitor_every = (!no_monitor).then_some(interval);
            commands::serve::run(&settings, addr, &market, monitor_every).await
        }
        Command::Openapi | Command::Completions { .. } => unreachable!("handled above"),
        Command::Db { command } => match command {
            DbCommand::Migrate => commands::db::migrate(&settings, json).await,
            DbCommand::Check => commands::db::check(&settings, json).await,
            DbCommand::Stats => commands::db::stats(&settings, json).await,
            DbCommand::Backup { to, keep_days } => {
                commands::db::backup(&settings, &to, keep_days, json).await
            }
            DbCommand::Vacuum => commands::db::vacuum(&settings, json).await,
            DbCommand::Restore { file, force } => {
                commands::db::restore(&settings, &file, force, json).await
            }
            DbCommand::Copy { from, to } => {
                commands::db::copy(&settings, from.as_deref(), &to, json).await
            }
        },
    }
}
