//! Logs go to stderr, so `--json` output on stdout stays clean.

use tracing_subscriber::EnvFilter;

/// Sets up logging from `LOG_LEVEL`, unless `-v`/`-q` say otherwise.
pub(crate) fn init(log_level: &str, verbose: u8, quiet: bool) -> anyhow::Result<()> {
    let directives = match (quiet, verbose) {
        (true, _) => "error".to_owned(),
        // PostgreSQL's notices ("… already exists, skipping") arrive at INFO; they are shown
        // with -v only.
        (false, 0) => format!("{log_level},sqlx::postgres::notice=warn"),
        (false, 1) => "debug".to_owned(),
        (false, _) => "trace".to_owned(),
    };
    let filter = EnvFilter::try_new(&directives).map_err(|e| anyhow::anyhow!("LOG_LEVEL: {e}"))?;
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(
            std::env::var_os("NO_COLOR").is_none()
                && std::io::IsTerminal::is_terminal(&std::io::stderr()),
        )
        .try_init()
        .map_err(|e| anyhow::anyhow!("cannot set up logging: {e}"))
}
