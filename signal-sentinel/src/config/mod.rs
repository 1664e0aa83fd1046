//! [`Settings`]: configuration from the environment and an optional `.env` file.
//!
//! Variable names are the ones users of Signal Sentinel already have in their `.env`
//! (`DATABASE_URL`, `SECRET_KEY`, `OPENAI_API_KEY`, …); every outside service also takes a
//! `*_BASE_URL` override so tests and self-hosted proxies can point it elsewhere. A value in the
//! process environment wins over the same name in `.env`; an empty value counts as unset.
//!
//! Loading fails on the first invalid value with one line that names the variable and says what
//! is expected, and never repeats a secret value in that line.

mod api;
mod channels;
mod integrations;
mod providers;
mod secret_key;
mod storage;
mod vars;

use std::io;
use std::path::{Path, PathBuf};

use thiserror::Error;

pub use api::ApiSettings;
pub use channels::ChannelSettings;
pub use integrations::{OpenAiSettings, PlaidEnv, PlaidSettings, TelegramSettings};
use providers::parse_providers;
pub use providers::{AlpacaSettings, FinnhubSettings, ProviderName, YahooSettings};
pub use secret_key::{MIN_SECRET_KEY_LEN, SECRET_KEY_FILE, SecretKey, SecretKeyOrigin};
use storage::read_storage;
pub use storage::{DEFAULT_DATABASE_URL, DatabaseBackend, DatabaseUrl};
use vars::Vars;

/// A configuration value that cannot be used.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum ConfigError {
    /// A variable has a value that cannot be used; the message says what is expected.
    #[error("{variable}: {expected}")]
    Invalid {
        /// The variable's name.
        variable: &'static str,
        /// What a valid value looks like (never the rejected value when it may be secret).
        expected: String,
    },
    /// The `.env` file exists but cannot be read or parsed.
    #[error("{path}: {message}")]
    DotEnv {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        message: String,
    },
    /// The generated secret key could not be read or written.
    #[error("secret key file {path}: {source}")]
    SecretKeyFile {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        source: io::Error,
    },
}

fn invalid(variable: &'static str, expected: impl Into<String>) -> ConfigError {
    ConfigError::Invalid {
        variable,
        expected: expected.into(),
    }
}

/// Everything Signal Sentinel reads from its environment.
///
/// ```
/// use signal_sentinel::config::Settings;
///
/// let dir = tempfile::tempdir()?;
/// let settings = Settings::from_vars([
///     ("DATABASE_URL", "sqlite::memory:"),
///     ("SECRET_KEY", "0123456789abcdef0123456789abcdef"),
///     ("SIGNAL_SENTINEL_DATA_DIR", dir.path().to_str().unwrap()),
///     ("FINNHUB_API_KEY", "fh-key"),
/// ])?;
/// assert_eq!(settings.log_level, "info");
/// // Secrets never print.
/// assert!(!format!("{settings:?}").contains("fh-key"));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct Settings {
    /// `DATABASE_URL`.
    pub database_url: DatabaseUrl,
    /// `SIGNAL_SENTINEL_DATA_DIR`: where the generated secret key (and later backups) live.
    /// Default: the SQLite file's directory, else `./data`.
    pub data_dir: PathBuf,
    /// `SECRET_KEY`, or the generated one.
    pub secret_key: SecretKey,
    /// `LOG_LEVEL` as a tracing filter (`info`, `debug`, `warn,signal_sentinel=debug` …).
    pub log_level: String,
    /// AI summaries.
    pub openai: OpenAiSettings,
    /// Telegram notifications.
    pub telegram: TelegramSettings,
    /// Brokerage linking.
    pub plaid: PlaidSettings,
    /// Alpaca market data.
    pub alpaca: AlpacaSettings,
    /// Finnhub market data.
    pub finnhub: FinnhubSettings,
    /// Yahoo Finance market data.
    pub yahoo: YahooSettings,
    /// `MARKET_DATA_PROVIDERS`: the providers to ask, in order. Default: those with keys
    /// (Alpaca, then Finnhub), then Yahoo Finance.
    pub providers: Vec<ProviderName>,
    /// The HTTP API's limits and tokens.
    pub api: ApiSettings,
    /// The notification services with a fixed host, and the dashboard's public address.
    pub channels: ChannelSettings,
}

/// The variables [`Settings`] reads, in the order the README documents them.
pub const VARIABLES: &[&str] = &[
    "DATABASE_URL",
    "SECRET_KEY",
    "SIGNAL_SENTINEL_DATA_DIR",
    "LOG_LEVEL",
    "OPENAI_API_KEY",
    "OPENAI_BASE_URL",
    "OPENAI_MODEL",
    "OPENAI_DAILY_CALLS_PER_USER",
    "TELEGRAM_BOT_TOKEN",
    "TELEGRAM_BASE_URL",
    "TELEGRAM_WEBHOOK_URL",
    "PLAID_CLIENT_ID",
    "PLAID_SECRET",
    "PLAID_ENV",
    "PLAID_BASE_URL",
    "PLAID_SYNC_HOURS",
    "ALPACA_API_KEY",
    "ALPACA_SECRET_KEY",
    "ALPACA_BASE_URL",
    "FINNHUB_API_KEY",
    "FINNHUB_BASE_URL",
    "YAHOO_BASE_URL",
    "ALPACA_FEED",
    "FINNHUB_CALLS_PER_MINUTE",
    "ALPACA_STREAM_URL",
    "FINNHUB_STREAM_URL",
    "MARKET_DATA_PROVIDERS",
    "SECRET_KEY_PREVIOUS",
    "ACCESS_TOKEN_EXPIRE_MINUTES",
    "CORS_ORIGINS",
    "RATE_LIMIT_PER_MINUTE",
    "AUTH_RATE_LIMIT_PER_MINUTE",
    "LOGIN_FAILURES_BEFORE_SLOWDOWN",
    "MAX_RULES_PER_USER",
    "FLOOD_GUARD_FIRINGS",
    "FLOOD_GUARD_MINUTES",
    "METRICS_TOKEN",
    "DISCORD_BASE_URL",
    "SLACK_BASE_URL",
    "PUSHOVER_BASE_URL",
    "NTFY_BASE_URL",
    "SMTP_URL",
    "SMTP_FROM",
    "PUBLIC_URL",
];

impl Settings {
    /// Things about these settings an operator should hear at start-up (a generated secret
    /// key, …). Loading does not log them itself: logging is set up from the settings, so it
    /// does not exist yet while they load.
    pub fn warnings(&self) -> Vec<String> {
        let mut warnings = Vec::new();
        if let SecretKeyOrigin::Generated(path) = self.secret_key.origin() {
            warnings.push(format!(
                "SECRET_KEY is not set: generated a random key and kept it in {}; set SECRET_KEY \
                 to share one key between processes on several machines",
                path.display()
            ));
        }
        warnings
    }

    /// Loads settings from the process environment, over `./.env` when that file exists.
    ///
    /// # Errors
    /// See [`Settings::from_vars`]; also [`ConfigError::DotEnv`] for an unreadable `.env`.
    pub fn from_env() -> Result<Self, ConfigError> {
        Self::from_env_and_dotenv(Path::new(".env"))
    }

    /// Like [`Settings::from_env`] with another `.env` path.
    ///
    /// # Errors
    /// See [`Settings::from_env`].
    pub fn from_env_and_dotenv(dotenv: &Path) -> Result<Self, ConfigError> {
        Self::from_sources(dotenv, std::env::vars())
    }

    /// Builds settings from a `.env` file (missing is fine) and environment pairs that win
    /// over it: [`Settings::from_env`] with the environment given instead of read.
    ///
    /// # Errors
    /// See [`Settings::from_vars`]; also [`ConfigError::DotEnv`] for an unreadable `.env`.
    pub fn from_sources(
        dotenv: &Path,
        env: impl IntoIterator<Item = (String, String)>,
    ) -> Result<Self, ConfigError> {
        let mut vars = read_dotenv(dotenv)?;
        vars.extend(
            env.into_iter()
                .filter(|(k, _)| VARIABLES.contains(&k.as_str())),
        );
        Self::from_vars(vars)
    }

    /// Builds settings from name/value pairs (later pairs win). Generates and keeps the secret
    /// key in the data directory when `SECRET_KEY` is absent.
    ///
    /// # Errors
    /// [`ConfigError::Invalid`] for the first variable whose value cannot be used;
    /// [`ConfigError::SecretKeyFile`] when the generated key cannot be kept.
    pub fn from_vars<K, V>(vars: impl IntoIterator<Item = (K, V)>) -> Result<Self, ConfigError>
    where
        K: Into<String>,
        V: Into<String>,
    {
        let vars = Vars::new(vars);
        let (database_url, data_dir) = read_storage(&vars)?;
        let log_level = parse_log_level(vars.get("LOG_LEVEL").as_deref().unwrap_or("info"))?;
        let openai = OpenAiSettings::read(&vars)?;
        let telegram = TelegramSettings::read(&vars)?;
        let plaid = PlaidSettings::read(&vars)?;
        let alpaca = AlpacaSettings::read(&vars)?;
        let finnhub = FinnhubSettings::read(&vars)?;
        let yahoo = YahooSettings {
            base_url: vars.base_url("YAHOO_BASE_URL", "https://query1.finance.yahoo.com")?,
        };
        let providers = match vars.get("MARKET_DATA_PROVIDERS") {
            None => {
                let mut list = Vec::new();
                if alpaca.api_key.is_some() {
                    list.push(ProviderName::Alpaca);
                }
                if finnhub.api_key.is_some() {
                    list.push(ProviderName::Finnhub);
                }
                list.push(ProviderName::Yahoo);
                list
            }
            Some(raw) => parse_providers(&raw, &alpaca, &finnhub)?,
        };
        let api = ApiSettings::read(&vars)?;
        let channels = ChannelSettings::read(&vars)?;
        // Last, so that a bad value elsewhere does not leave a generated key file behind.
        let secret_key = SecretKey::read(&vars, &data_dir)?;
        Ok(Self {
            database_url,
            data_dir,
            secret_key,
            log_level,
            openai,
            telegram,
            plaid,
            alpaca,
            finnhub,
            yahoo,
            providers,
            api,
            channels,
        })
    }
}

/// Reads `KEY=VALUE` pairs from a `.env` file; a missing file gives no pairs.
fn read_dotenv(path: &Path) -> Result<Vec<(String, String)>, ConfigError> {
    let iter = match dotenvy::from_path_iter(path) {
        Ok(iter) => iter,
        Err(dotenvy::Error::Io(e)) if e.kind() == io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(dotenv_error(path, &e)),
    };
    iter.map(|item| item.map_err(|e| dotenv_error(path, &e)))
        .collect()
}

fn dotenv_error(path: &Path, e: &dotenvy::Error) -> ConfigError {
    // dotenvy's parse errors quote the offending line, which may hold a secret: keep only
    // the position.
    let message = match e {
        dotenvy::Error::LineParse(_, index) => {
            format!("cannot parse the line at character {index}; expected KEY=VALUE")
        }
        dotenvy::Error::Io(io) => io.to_string(),
        _ => "cannot be read as KEY=VALUE lines".to_owned(),
    };
    ConfigError::DotEnv {
        path: path.to_path_buf(),
        message,
    }
}

fn parse_log_level(raw: &str) -> Result<String, ConfigError> {
    const LEVELS: [&str; 6] = ["trace", "debug", "info", "warn", "error", "off"];
    let expected = "expected trace, debug, info, warn, error or off, or directives like \
                    `warn,signal_sentinel=debug`";
    let normalise = |level: &str| {
        let level = level.trim().to_ascii_lowercase();
        let level = if level == "warning" {
            "warn".to_owned()
        } else {
            level
        };
        LEVELS.contains(&level.as_str()).then_some(level)
    };
    let mut parts = Vec::new();
    for part in raw.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        let directive = match part.split_once('=') {
            None => normalise(part),
            Some((target, level)) => {
                let target_ok = !target.is_empty()
                    && target
                        .chars()
                        .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == ':' || c == '-');
                normalise(level)
                    .filter(|_| target_ok)
                    .map(|l| format!("{target}={l}"))
            }
        };
        parts.push(directive.ok_or_else(|| invalid("LOG_LEVEL", expected))?);
    }
    if parts.is_empty() {
        return Err(invalid("LOG_LEVEL", expected));
    }
    Ok(parts.join(","))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn database_urls_normalise() {
        let cases = [
            (
                "sqlite://./data/signal_sentinel.db?mode=rwc",
                "sqlite://./data/signal_sentinel.db?mode=rwc",
                DatabaseBackend::SqliteFile("./data/signal_sentinel.db".into()),
            ),
            (
                "sqlite:///./data/signal_sentinel.db",
                "sqlite://./data/signal_sentinel.db?mode=rwc",
                DatabaseBackend::SqliteFile("./data/signal_sentinel.db".into()),
            ),
            (
                "sqlite:///var/lib/ss/db.sqlite",
                "sqlite:///var/lib/ss/db.sqlite?mode=rwc",
                DatabaseBackend::SqliteFile("/var/lib/ss/db.sqlite".into()),
            ),
            (
                "sqlite:x.db?mode=ro",
                "sqlite://x.db?mode=ro",
                DatabaseBackend::SqliteFile("x.db".into()),
            ),
            (
                "sqlite::memory:",
                "sqlite::memory:",
                DatabaseBackend::SqliteMemory,
            ),
            (
                "sqlite://:memory:",
                "sqlite::memory:",
                DatabaseBackend::SqliteMemory,
            ),
            (
                "postgres://ss@db.internal/ss",
                "postgres://ss@db.internal/ss",
                DatabaseBackend::Postgres,
            ),
        ];
        for (input, url, backend) in cases {
            let parsed = DatabaseUrl::parse(input).unwrap();
            assert_eq!(parsed.expose(), url, "{input}");
            assert_eq!(parsed.backend(), &backend, "{input}");
        }
    }

    #[test]
    fn database_url_hides_its_password() {
        let url = DatabaseUrl::parse("postgresql://ss:hunter2-pw@db:5432/ss").unwrap();
        assert_eq!(url.to_string(), "postgresql://ss:[redacted]@db:5432/ss");
        assert!(!format!("{url:?}").contains("hunter2-pw"));
        let err = DatabaseUrl::parse("mysql://root:hunter2-pw@db/ss")
            .unwrap_err()
            .to_string();
        assert!(err.starts_with("DATABASE_URL: expected sqlite://"), "{err}");
        assert!(
            err.contains("\"mysql\"") && !err.contains("hunter2-pw"),
            "{err}"
        );
        assert!(DatabaseUrl::parse("sqlite://").is_err());
        assert!(DatabaseUrl::parse("postgres:///ss").is_err());
    }

    #[test]
    fn log_levels() {
        assert_eq!(parse_log_level("DEBUG").unwrap(), "debug");
        assert_eq!(parse_log_level("Warning").unwrap(), "warn");
        assert_eq!(
            parse_log_level("warn, signal_sentinel=debug").unwrap(),
            "warn,signal_sentinel=debug"
        );
        for bad in ["loud", "", "x=loud", "=debug", "a b=debug"] {
            let err = parse_log_level(bad).unwrap_err().to_string();
            assert!(err.starts_with("LOG_LEVEL: expected trace"), "{bad}: {err}");
        }
    }
}
