//! Logs go to stderr, so `--json` output on stdout stays clean.

use tracing_subscriber::EnvFilter;

/// Sets up logging from `LOG_LEVEL`, unless `-v`/`-q` say otherwise.
pub(crate) fn init(log_level: &str, verbose: u8, quiet: bool) -> Result<(), String> {
    let directives = match (quiet, verbose) {
        (true, _) => "error",
        (false, 0) => log_level,
        (false, 1) => "debug",
        (false, _) => "trace",
    };
    let filter = EnvFilter::try_new(directives).map_err(|e| format!("LOG_LEVEL: {e}"))?;
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(
            std::env::var_os("NO_COLOR").is_none()
                && std::io::IsTerminal::is_terminal(&std::io::stderr()),
        )
        .try_init()
        .map_err(|e| format!("cannot set up logging: {e}"))
}
