//! [`Settings`]: configuration from the environment and an optional `.env` file.
//!
//! Variable names are the ones users of Signal Sentinel already have in their `.env`
//! (`DATABASE_URL`, `SECRET_KEY`, `OPENAI_API_KEY`, …); every outside service also takes a
//! `*_BASE_URL` override so tests and self-hosted proxies can point it elsewhere. A value in the
//! process environment wins over the same name in `.env`; an empty value counts as unset.
//!
//! Loading fails on the first invalid value with one line that names the variable and says what
//! is expected, and never repeats a secret value in that line.

use std::collections::HashMap;
use std::fmt;
use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};

use thiserror::Error;
use url::Url;

use crate::Secret;

/// Default `DATABASE_URL`: an SQLite file under `./data`, created on first use.
pub const DEFAULT_DATABASE_URL: &str = "sqlite://./data/signal_sentinel.db?mode=rwc";
/// Shortest `SECRET_KEY` accepted, in bytes.
pub const MIN_SECRET_KEY_LEN: usize = 32;
/// Name of the file, in the data directory, that keeps a generated secret key.
pub const SECRET_KEY_FILE: &str = "secret_key";

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

/// Which database a [`DatabaseUrl`] points at.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum DatabaseBackend {
    /// An SQLite file.
    SqliteFile(PathBuf),
    /// An SQLite database in memory (gone when the process ends; for tests and trials).
    SqliteMemory,
    /// A PostgreSQL server.
    Postgres,
}

/// A validated `DATABASE_URL`. `Debug` and `Display` hide a password.
///
/// Accepted forms: `sqlite://PATH` (relative or absolute, e.g. `sqlite://./data/x.db` or
/// `sqlite:///var/lib/x.db`), `sqlite::memory:`, and `postgres://` / `postgresql://` URLs.
/// The form of the earlier Signal Sentinel, `sqlite:///./data/x.db`, means the relative path
/// `./data/x.db`, as it did there. SQLite files get `mode=rwc` (create if missing) unless a
/// `mode` is given.
#[derive(Clone, PartialEq, Eq)]
pub struct DatabaseUrl {
    url: String,
    backend: DatabaseBackend,
}

impl DatabaseUrl {
    /// Parses and normalises a database URL.
    ///
    /// # Errors
    /// [`ConfigError::Invalid`] naming `DATABASE_URL` when the scheme is not SQLite or
    /// PostgreSQL, or the URL has no path / host.
    pub fn parse(input: &str) -> Result<Self, ConfigError> {
        let input = input.trim();
        let expected = "expected sqlite://PATH, sqlite::memory: or postgres://USER@HOST/DATABASE";
        if let Some(rest) = input.strip_prefix("sqlite:") {
            let rest = rest.strip_prefix("//").unwrap_or(rest);
            let (path, query) = rest.split_once('?').unwrap_or((rest, ""));
            let memory = path == ":memory:"
                || path.is_empty() && query.split('&').any(|p| p == "mode=memory")
                || query.split('&').any(|p| p == "mode=memory");
            if memory {
                return Ok(Self {
                    url: "sqlite::memory:".to_owned(),
                    backend: DatabaseBackend::SqliteMemory,
                });
            }
            // `sqlite:///./x.db` is the earlier (SQLAlchemy) spelling of a relative path.
            let path = if path.starts_with("/./") || path.starts_with("/../") {
                &path[1..]
            } else {
                path
            };
            if path.is_empty() {
                return Err(invalid(
                    "DATABASE_URL",
                    format!("{expected}; the SQLite URL names no file"),
                ));
            }
            let mut query: Vec<&str> = query.split('&').filter(|p| !p.is_empty()).collect();
            if !query.iter().any(|p| p.starts_with("mode=")) {
                query.push("mode=rwc");
            }
            return Ok(Self {
                url: format!("sqlite://{path}?{}", query.join("&")),
                backend: DatabaseBackend::SqliteFile(PathBuf::from(path)),
            });
        }
        let url = Url::parse(input).map_err(|_| {
            invalid(
                "DATABASE_URL",
                format!("{expected}; the value is not a URL"),
            )
        })?;
        match url.scheme() {
            "postgres" | "postgresql" => {
                if url.host_str().is_none_or(str::is_empty) {
                    return Err(invalid(
                        "DATABASE_URL",
                        format!("{expected}; the PostgreSQL URL names no host"),
                    ));
                }
                Ok(Self {
                    url: input.to_owned(),
                    backend: DatabaseBackend::Postgres,
                })
            }
            other => Err(invalid(
                "DATABASE_URL",
                format!("{expected}; got a URL with scheme {other:?}"),
            )),
        }
    }

    /// The URL to connect with (contains the password, if any: do not print it).
    pub fn expose(&self) -> &str {
        &self.url
    }

    /// Which backend the URL selects.
    pub fn backend(&self) -> &DatabaseBackend {
        &self.backend
    }

    /// Whether this is PostgreSQL.
    pub fn is_postgres(&self) -> bool {
        self.backend == DatabaseBackend::Postgres
    }
}

impl fmt::Display for DatabaseUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match Url::parse(&self.url) {
            Ok(mut url) if url.password().is_some() => {
                let _ = url.set_password(Some("redacted"));
                f.write_str(&url.as_str().replacen(":redacted@", ":[redacted]@", 1))
            }
            _ => f.write_str(&self.url),
        }
    }
}

impl fmt::Debug for DatabaseUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "DatabaseUrl({self})")
    }
}

/// Where the secret key came from.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum SecretKeyOrigin {
    /// The `SECRET_KEY` variable.
    Environment,
    /// A file generated by an earlier start.
    File(PathBuf),
    /// A file generated by this start.
    Generated(PathBuf),
}

/// The key that signs session tokens (JWT) and derives other keys. At least 32 bytes.
#[derive(Debug, Clone)]
pub struct SecretKey {
    key: Secret,
    origin: SecretKeyOrigin,
}

impl SecretKey {
    /// The key's bytes.
    pub fn expose(&self) -> &[u8] {
        self.key.expose().as_bytes()
    }

    /// Where it came from.
    pub fn origin(&self) -> &SecretKeyOrigin {
        &self.origin
    }

    /// Reads the key kept in `dir`, or creates one of 32 random bytes there (hex-encoded, file
    /// mode 0600 on Unix).
    ///
    /// # Errors
    /// [`ConfigError::SecretKeyFile`] when the file cannot be read or created, and
    /// [`ConfigError::Invalid`] when it holds fewer than 32 bytes.
    pub fn load_or_generate(dir: &Path) -> Result<Self, ConfigError> {
        let path = dir.join(SECRET_KEY_FILE);
        let file_err = |source| ConfigError::SecretKeyFile {
            path: path.clone(),
            source,
        };
        std::fs::create_dir_all(dir).map_err(file_err)?;
        let mut options = std::fs::OpenOptions::new();
        options.write(true).create_new(true);
        #[cfg(unix)]
        std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
        match options.open(&path) {
            Ok(mut file) => {
                let key = hex::encode(rand::random::<[u8; 32]>());
                file.write_all(key.as_bytes())
                    .and_then(|()| file.sync_all())
                    .map_err(file_err)?;
                Ok(Self {
                    key: Secret::new(key),
                    origin: SecretKeyOrigin::Generated(path),
                })
            }
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {
                let mut key = String::new();
                std::fs::File::open(&path)
                    .and_then(|mut f| f.read_to_string(&mut key))
                    .map_err(file_err)?;
                let key = key.trim().to_owned();
                if key.len() < MIN_SECRET_KEY_LEN {
                    return Err(invalid(
                        "SECRET_KEY",
                        format!(
                            "the key kept in {} is shorter than {MIN_SECRET_KEY_LEN} bytes; delete the file to generate a new one",
                            path.display()
                        ),
                    ));
                }
                Ok(Self {
                    key: Secret::new(key),
                    origin: SecretKeyOrigin::File(path),
                })
            }
            Err(e) => Err(file_err(e)),
        }
    }
}

/// Plaid environment (`PLAID_ENV`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum PlaidEnv {
    /// Test data, free.
    Sandbox,
    /// Real credentials, limited items.
    Development,
    /// Real credentials.
    Production,
}

impl PlaidEnv {
    fn base_url(self) -> &'static str {
        match self {
            Self::Sandbox => "https://sandbox.plaid.com",
            Self::Development => "https://development.plaid.com",
            Self::Production => "https://production.plaid.com",
        }
    }
}

/// OpenAI-compatible chat-completions server.
#[derive(Debug, Clone)]
pub struct OpenAiSettings {
    /// `OPENAI_API_KEY`; without it summaries come from templates.
    pub api_key: Option<Secret>,
    /// `OPENAI_BASE_URL`, default `https://api.openai.com/v1`.
    pub base_url: Url,
    /// `OPENAI_MODEL`, default `gpt-4o-mini`.
    pub model: String,
    /// `OPENAI_DAILY_CALLS_PER_USER`: model calls per user per day; then the template. Default 50.
    pub daily_calls_per_user: u32,
}

/// Telegram Bot API.
#[derive(Debug, Clone)]
pub struct TelegramSettings {
    /// `TELEGRAM_BOT_TOKEN`.
    pub bot_token: Option<Secret>,
    /// `TELEGRAM_BASE_URL`, default `https://api.telegram.org`.
    pub base_url: Url,
}

/// Plaid brokerage linking.
#[derive(Debug, Clone)]
pub struct PlaidSettings {
    /// `PLAID_CLIENT_ID` (set together with the secret).
    pub client_id: Option<Secret>,
    /// `PLAID_SECRET`.
    pub secret: Option<Secret>,
    /// `PLAID_ENV`, default `sandbox`.
    pub env: PlaidEnv,
    /// `PLAID_BASE_URL`, default the host of `PLAID_ENV`.
    pub base_url: Url,
    /// `PLAID_SYNC_HOURS`, default 6: how old a link's holdings may get before the worker
    /// synchronises them again.
    pub sync_interval: chrono::Duration,
}

/// A market-data provider.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum ProviderName {
    /// Alpaca (keys).
    Alpaca,
    /// Finnhub (key).
    Finnhub,
    /// Yahoo Finance (no key).
    Yahoo,
}

/// Alpaca market data.
#[derive(Debug, Clone)]
pub struct AlpacaSettings {
    /// `ALPACA_API_KEY` (set together with the secret key).
    pub api_key: Option<Secret>,
    /// `ALPACA_SECRET_KEY`.
    pub secret_key: Option<Secret>,
    /// `ALPACA_BASE_URL`, default `https://data.alpaca.markets`.
    pub base_url: Url,
    /// `ALPACA_FEED`: `iex` (default, free plans) or `sip`.
    pub feed: String,
}

/// Finnhub market data.
#[derive(Debug, Clone)]
pub struct FinnhubSettings {
    /// `FINNHUB_API_KEY`.
    pub api_key: Option<Secret>,
    /// `FINNHUB_BASE_URL`, default `https://finnhub.io/api/v1`.
    pub base_url: Url,
    /// `FINNHUB_CALLS_PER_MINUTE`, default 60 (the free tier).
    pub calls_per_minute: u32,
}

/// Yahoo Finance market data (no key).
#[derive(Debug, Clone)]
pub struct YahooSettings {
    /// `YAHOO_BASE_URL`, default `https://query1.finance.yahoo.com`.
    pub base_url: Url,
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
}

/// Limits and session settings of the HTTP API.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct ApiSettings {
    /// `SECRET_KEY_PREVIOUS`: during a key rotation, tokens signed with it still verify.
    pub secret_key_previous: Option<Secret>,
    /// `ACCESS_TOKEN_EXPIRE_MINUTES`: how long a login token lives. Default 60.
    pub token_lifetime: chrono::Duration,
    /// `CORS_ORIGINS`: comma-separated origins a browser may call the API from; `*` for any.
    /// Default: none (same origin only).
    pub cors_origins: Vec<String>,
    /// `RATE_LIMIT_PER_MINUTE`: requests per user per minute. Default 600.
    pub requests_per_minute: u32,
    /// `AUTH_RATE_LIMIT_PER_MINUTE`: register and login attempts per client address, and
    /// logins per account from one address, per minute. Default 10.
    pub auth_attempts_per_minute: u32,
    /// `MAX_RULES_PER_USER`. Default 500.
    pub max_rules_per_user: u64,
    /// `METRICS_TOKEN`: the bearer token `/metrics` asks for (at least 16 characters).
    /// Without it, `/metrics` is not served.
    pub metrics_token: Option<Secret>,
}

impl Default for ApiSettings {
    fn default() -> Self {
        Self {
            secret_key_previous: None,
            token_lifetime: chrono::Duration::minutes(60),
            cors_origins: Vec::new(),
            requests_per_minute: 600,
            auth_attempts_per_minute: 10,
            max_rules_per_user: 500,
            metrics_token: None,
        }
    }
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
    "MARKET_DATA_PROVIDERS",
    "SECRET_KEY_PREVIOUS",
    "ACCESS_TOKEN_EXPIRE_MINUTES",
    "CORS_ORIGINS",
    "RATE_LIMIT_PER_MINUTE",
    "AUTH_RATE_LIMIT_PER_MINUTE",
    "MAX_RULES_PER_USER",
    "METRICS_TOKEN",
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
        })
    }
}

/// The variables a configuration is read from: blank values count as unset, values are
/// trimmed.
struct Vars(HashMap<String, String>);

impl Vars {
    fn new<K: Into<String>, V: Into<String>>(vars: impl IntoIterator<Item = (K, V)>) -> Self {
        Self(
            vars.into_iter()
                .map(|(k, v)| (k.into(), v.into()))
                .filter(|(_, v)| !v.trim().is_empty())
                .collect(),
        )
    }

    fn get(&self, name: &str) -> Option<String> {
        self.0.get(name).map(|v| v.trim().to_owned())
    }

    fn secret(&self, name: &str) -> Option<Secret> {
        self.get(name).map(Secret::new)
    }

    /// A whole number from 1 to 1,000,000, or `default`.
    fn whole(&self, name: &'static str, default: u64) -> Result<u64, ConfigError> {
        match self.get(name) {
            None => Ok(default),
            Some(v) => v
                .parse::<u64>()
                .ok()
                .filter(|n| (1..=1_000_000).contains(n))
                .ok_or_else(|| invalid(name, "expected a whole number from 1 to 1000000")),
        }
    }

    fn base_url(&self, name: &'static str, default: &str) -> Result<Url, ConfigError> {
        base_url(&self.0, name, default)
    }
}

/// `DATABASE_URL` and the data directory (by default the SQLite file's).
fn read_storage(vars: &Vars) -> Result<(DatabaseUrl, PathBuf), ConfigError> {
    let database_url = DatabaseUrl::parse(
        &vars
            .get("DATABASE_URL")
            .unwrap_or_else(|| DEFAULT_DATABASE_URL.into()),
    )?;
    let data_dir = match vars.get("SIGNAL_SENTINEL_DATA_DIR") {
        Some(dir) => PathBuf::from(dir),
        None => match database_url.backend() {
            DatabaseBackend::SqliteFile(path) => match path.parent() {
                Some(parent) if !parent.as_os_str().is_empty() => parent.to_path_buf(),
                _ => PathBuf::from("."),
            },
            _ => PathBuf::from("./data"),
        },
    };
    Ok((database_url, data_dir))
}

impl OpenAiSettings {
    fn read(vars: &Vars) -> Result<Self, ConfigError> {
        Ok(Self {
            api_key: vars.secret("OPENAI_API_KEY"),
            base_url: vars.base_url("OPENAI_BASE_URL", "https://api.openai.com/v1")?,
            model: vars
                .get("OPENAI_MODEL")
                .unwrap_or_else(|| "gpt-4o-mini".to_owned()),
            daily_calls_per_user: match vars.get("OPENAI_DAILY_CALLS_PER_USER") {
                None => 50,
                Some(v) => v.parse::<u32>().map_err(|_| {
                    invalid(
                        "OPENAI_DAILY_CALLS_PER_USER",
                        "expected a whole number of calls",
                    )
                })?,
            },
        })
    }
}

impl TelegramSettings {
    fn read(vars: &Vars) -> Result<Self, ConfigError> {
        Ok(Self {
            bot_token: match vars.secret("TELEGRAM_BOT_TOKEN") {
                Some(token) => Some(check_telegram_token(token)?),
                None => None,
            },
            base_url: vars.base_url("TELEGRAM_BASE_URL", "https://api.telegram.org")?,
        })
    }
}

impl PlaidSettings {
    fn read(vars: &Vars) -> Result<Self, ConfigError> {
        let env = match vars
            .get("PLAID_ENV")
            .map(|v| v.to_ascii_lowercase())
            .as_deref()
        {
            None | Some("sandbox") => PlaidEnv::Sandbox,
            Some("development") => PlaidEnv::Development,
            Some("production") => PlaidEnv::Production,
            Some(_) => {
                return Err(invalid(
                    "PLAID_ENV",
                    "expected one of sandbox, development, production",
                ));
            }
        };
        let plaid = Self {
            client_id: vars.secret("PLAID_CLIENT_ID"),
            secret: vars.secret("PLAID_SECRET"),
            env,
            base_url: vars.base_url("PLAID_BASE_URL", env.base_url())?,
            sync_interval: chrono::Duration::hours(match vars.get("PLAID_SYNC_HOURS") {
                None => 6,
                Some(v) => v
                    .parse::<i64>()
                    .ok()
                    .filter(|h| (1..=168).contains(h))
                    .ok_or_else(|| {
                        invalid(
                            "PLAID_SYNC_HOURS",
                            "expected a whole number of hours from 1 to 168",
                        )
                    })?,
            }),
        };
        pair(
            &plaid.client_id,
            "PLAID_CLIENT_ID",
            &plaid.secret,
            "PLAID_SECRET",
        )?;
        Ok(plaid)
    }
}

impl AlpacaSettings {
    fn read(vars: &Vars) -> Result<Self, ConfigError> {
        let alpaca = Self {
            api_key: vars.secret("ALPACA_API_KEY"),
            secret_key: vars.secret("ALPACA_SECRET_KEY"),
            base_url: vars.base_url("ALPACA_BASE_URL", "https://data.alpaca.markets")?,
            feed: match vars
                .get("ALPACA_FEED")
                .map(|f| f.to_ascii_lowercase())
                .as_deref()
            {
                None | Some("iex") => "iex".to_owned(),
                Some("sip") => "sip".to_owned(),
                Some(_) => return Err(invalid("ALPACA_FEED", "expected iex or sip")),
            },
        };
        pair(
            &alpaca.api_key,
            "ALPACA_API_KEY",
            &alpaca.secret_key,
            "ALPACA_SECRET_KEY",
        )?;
        Ok(alpaca)
    }
}

impl FinnhubSettings {
    fn read(vars: &Vars) -> Result<Self, ConfigError> {
        Ok(Self {
            api_key: vars.secret("FINNHUB_API_KEY"),
            base_url: vars.base_url("FINNHUB_BASE_URL", "https://finnhub.io/api/v1")?,
            calls_per_minute: match vars.get("FINNHUB_CALLS_PER_MINUTE") {
                None => 60,
                Some(v) => v.parse::<u32>().ok().filter(|n| *n > 0).ok_or_else(|| {
                    invalid(
                        "FINNHUB_CALLS_PER_MINUTE",
                        "expected a whole number of calls, 1 or more",
                    )
                })?,
            },
        })
    }
}

impl ApiSettings {
    fn read(vars: &Vars) -> Result<Self, ConfigError> {
        let defaults = Self::default();
        let secret_key_previous = vars.secret("SECRET_KEY_PREVIOUS");
        if secret_key_previous
            .as_ref()
            .is_some_and(|k| k.len() < MIN_SECRET_KEY_LEN)
        {
            return Err(invalid(
                "SECRET_KEY_PREVIOUS",
                format!("must be at least {MIN_SECRET_KEY_LEN} bytes, like SECRET_KEY"),
            ));
        }
        let per_minute = |name, default: u32| {
            vars.whole(name, u64::from(default))
                .map(|n| u32::try_from(n).unwrap_or(u32::MAX))
        };
        Ok(Self {
            secret_key_previous,
            token_lifetime: chrono::Duration::minutes(
                i64::try_from(vars.whole("ACCESS_TOKEN_EXPIRE_MINUTES", 60)?).unwrap_or(60),
            ),
            cors_origins: vars
                .get("CORS_ORIGINS")
                .map(|v| {
                    v.split(',')
                        .map(|o| o.trim().trim_end_matches('/').to_owned())
                        .filter(|o| !o.is_empty())
                        .collect()
                })
                .unwrap_or_default(),
            requests_per_minute: per_minute("RATE_LIMIT_PER_MINUTE", defaults.requests_per_minute)?,
            auth_attempts_per_minute: per_minute(
                "AUTH_RATE_LIMIT_PER_MINUTE",
                defaults.auth_attempts_per_minute,
            )?,
            max_rules_per_user: vars.whole("MAX_RULES_PER_USER", defaults.max_rules_per_user)?,
            metrics_token: match vars.secret("METRICS_TOKEN") {
                Some(token) if token.len() < 16 => {
                    return Err(ConfigError::Invalid {
                        variable: "METRICS_TOKEN",
                        expected: "at least 16 characters".into(),
                    });
                }
                other => other,
            },
        })
    }
}

impl SecretKey {
    /// `SECRET_KEY`, or the key file in `data_dir` (generated and written on first use).
    fn read(vars: &Vars, data_dir: &Path) -> Result<Self, ConfigError> {
        match vars.secret("SECRET_KEY") {
            Some(key) if key.len() < MIN_SECRET_KEY_LEN => Err(invalid(
                "SECRET_KEY",
                format!(
                    "must be at least {MIN_SECRET_KEY_LEN} bytes, got {}; generate one with `openssl rand -hex 32`",
                    key.len()
                ),
            )),
            Some(key) => Ok(Self {
                key,
                origin: SecretKeyOrigin::Environment,
            }),
            None => Self::load_or_generate(data_dir),
        }
    }
}

fn parse_providers(
    raw: &str,
    alpaca: &AlpacaSettings,
    finnhub: &FinnhubSettings,
) -> Result<Vec<ProviderName>, ConfigError> {
    let expected = "expected a comma-separated list of alpaca, finnhub, yahoo";
    let mut list = Vec::new();
    for name in raw.split(',').map(str::trim).filter(|n| !n.is_empty()) {
        let provider = match name.to_ascii_lowercase().as_str() {
            "alpaca" if alpaca.api_key.is_none() => {
                return Err(invalid(
                    "MARKET_DATA_PROVIDERS",
                    "alpaca needs ALPACA_API_KEY and ALPACA_SECRET_KEY",
                ));
            }
            "finnhub" if finnhub.api_key.is_none() => {
                return Err(invalid(
                    "MARKET_DATA_PROVIDERS",
                    "finnhub needs FINNHUB_API_KEY",
                ));
            }
            "alpaca" => ProviderName::Alpaca,
            "finnhub" => ProviderName::Finnhub,
            "yahoo" => ProviderName::Yahoo,
            _ => return Err(invalid("MARKET_DATA_PROVIDERS", expected)),
        };
        if !list.contains(&provider) {
            list.push(provider);
        }
    }
    if list.is_empty() {
        return Err(invalid("MARKET_DATA_PROVIDERS", expected));
    }
    Ok(list)
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

fn base_url(
    vars: &HashMap<String, String>,
    name: &'static str,
    default: &str,
) -> Result<Url, ConfigError> {
    let raw = vars.get(name).map_or(default, |v| v.trim());
    let url = Url::parse(raw).map_err(|_| invalid(name, "expected an http:// or https:// URL"))?;
    if !matches!(url.scheme(), "http" | "https") || url.host_str().is_none() {
        return Err(invalid(name, "expected an http:// or https:// URL"));
    }
    Ok(url)
}

fn pair(
    a: &Option<Secret>,
    a_name: &'static str,
    b: &Option<Secret>,
    b_name: &'static str,
) -> Result<(), ConfigError> {
    match (a.is_some(), b.is_some()) {
        (true, false) => Err(invalid(b_name, format!("must be set when {a_name} is"))),
        (false, true) => Err(invalid(a_name, format!("must be set when {b_name} is"))),
        _ => Ok(()),
    }
}

fn check_telegram_token(token: Secret) -> Result<Secret, ConfigError> {
    // Bot tokens look like `123456789:AA…`; catching a pasted chat id or URL here saves a
    // confusing 404 from Telegram later.
    let ok = token.expose().split_once(':').is_some_and(|(id, rest)| {
        !id.is_empty()
            && id.bytes().all(|b| b.is_ascii_digit())
            && !rest.is_empty()
            && rest
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
    });
    if ok {
        Ok(token)
    } else {
        Err(invalid(
            "TELEGRAM_BOT_TOKEN",
            "expected a bot token like 123456789:ABC-DEF… (from @BotFather)",
        ))
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
