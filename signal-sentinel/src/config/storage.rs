//! `DATABASE_URL` and the data directory.

use std::fmt;
use std::path::PathBuf;

use url::Url;

use super::vars::Vars;
use super::{ConfigError, invalid};

/// Default `DATABASE_URL`: an SQLite file under `./data`, created on first use.
pub const DEFAULT_DATABASE_URL: &str = "sqlite://./data/signal_sentinel.db?mode=rwc";

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

/// `DATABASE_URL` and the data directory (by default the SQLite file's).
pub(super) fn read_storage(vars: &Vars) -> Result<(DatabaseUrl, PathBuf), ConfigError> {
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
