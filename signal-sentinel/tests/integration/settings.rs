use std::path::Path;

use signal_sentinel::config::{
    ConfigError, DatabaseBackend, PlaidEnv, SECRET_KEY_FILE, SecretKeyOrigin, Settings,
};

const KEY: &str = "0123456789abcdef0123456789abcdef-long-enough";

fn vars<'a>(dir: &Path, extra: &[(&'a str, &'a str)]) -> Vec<(String, String)> {
    let mut v = vec![(
        "SIGNAL_SENTINEL_DATA_DIR".to_owned(),
        dir.display().to_string(),
    )];
    v.extend(
        extra
            .iter()
            .map(|(k, val)| ((*k).to_owned(), (*val).to_owned())),
    );
    v
}

#[test]
fn defaults() {
    let dir = tempfile::tempdir().unwrap();
    let s = Settings::from_vars(vars(dir.path(), &[])).unwrap();
    assert_eq!(
        s.database_url.expose(),
        "sqlite://./data/signal_sentinel.db?mode=rwc"
    );
    assert_eq!(
        s.database_url.backend(),
        &DatabaseBackend::SqliteFile("./data/signal_sentinel.db".into())
    );
    assert_eq!(s.log_level, "info");
    assert_eq!(s.openai.base_url.as_str(), "https://api.openai.com/v1");
    assert_eq!(s.openai.model, "gpt-4o-mini");
    assert!(s.openai.api_key.is_none());
    assert_eq!(s.telegram.base_url.as_str(), "https://api.telegram.org/");
    assert_eq!(s.plaid.env, PlaidEnv::Sandbox);
    assert_eq!(s.plaid.base_url.as_str(), "https://sandbox.plaid.com/");
    assert_eq!(s.alpaca.base_url.as_str(), "https://data.alpaca.markets/");
    assert_eq!(s.finnhub.base_url.as_str(), "https://finnhub.io/api/v1");
    assert_eq!(
        s.yahoo.base_url.as_str(),
        "https://query1.finance.yahoo.com/"
    );
}

#[test]
fn providers_default_to_the_keyed_ones_then_yahoo() {
    use signal_sentinel::config::ProviderName::{Alpaca, Finnhub, Yahoo};
    let dir = tempfile::tempdir().unwrap();
    let only = |extra: &[(&str, &str)]| {
        Settings::from_vars(vars(dir.path(), extra))
            .unwrap()
            .providers
    };
    assert_eq!(only(&[]), [Yahoo]);
    assert_eq!(only(&[("FINNHUB_API_KEY", "k")]), [Finnhub, Yahoo]);
    assert_eq!(
        only(&[
            ("FINNHUB_API_KEY", "k"),
            ("ALPACA_API_KEY", "a"),
            ("ALPACA_SECRET_KEY", "s")
        ]),
        [Alpaca, Finnhub, Yahoo]
    );
    assert_eq!(
        only(&[
            ("FINNHUB_API_KEY", "k"),
            ("MARKET_DATA_PROVIDERS", "yahoo, Finnhub, yahoo")
        ]),
        [Yahoo, Finnhub]
    );
    let s = Settings::from_vars(vars(dir.path(), &[])).unwrap();
    assert_eq!(
        (s.alpaca.feed.as_str(), s.finnhub.calls_per_minute),
        ("iex", 60)
    );
}

#[test]
fn generated_secret_key_is_kept_private_and_reused() {
    let dir = tempfile::tempdir().unwrap();
    let first = Settings::from_vars(vars(dir.path(), &[])).unwrap();
    let path = dir.path().join(SECRET_KEY_FILE);
    assert_eq!(
        first.secret_key.origin(),
        &SecretKeyOrigin::Generated(path.clone())
    );
    assert_eq!(first.secret_key.expose().len(), 64, "32 random bytes, hex");
    assert_eq!(first.warnings().len(), 1);
    assert!(first.warnings()[0].starts_with("SECRET_KEY is not set"));
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&path).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
    }
    let second = Settings::from_vars(vars(dir.path(), &[])).unwrap();
    assert_eq!(second.secret_key.origin(), &SecretKeyOrigin::File(path));
    assert_eq!(second.secret_key.expose(), first.secret_key.expose());
    assert!(second.warnings().is_empty());
    // An explicit key wins and writes nothing.
    let other = tempfile::tempdir().unwrap();
    let s = Settings::from_vars(vars(other.path(), &[("SECRET_KEY", KEY)])).unwrap();
    assert_eq!(s.secret_key.origin(), &SecretKeyOrigin::Environment);
    assert_eq!(s.secret_key.expose(), KEY.as_bytes());
    assert!(!other.path().join(SECRET_KEY_FILE).exists());
}

#[test]
fn data_dir_follows_the_sqlite_file() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("state/ss.db");
    let url = format!("sqlite://{}", db.display());
    let s = Settings::from_vars([("DATABASE_URL", url.as_str())]).unwrap();
    assert_eq!(s.data_dir, dir.path().join("state"));
    assert!(dir.path().join("state").join(SECRET_KEY_FILE).exists());
}

#[test]
fn dotenv_is_read_and_the_environment_wins() {
    let dir = tempfile::tempdir().unwrap();
    let dotenv = dir.path().join(".env");
    std::fs::write(
        &dotenv,
        format!(
            "# Core\nDATABASE_URL=sqlite:///./data/from_dotenv.db\nSECRET_KEY=\"{KEY}\"\n\n\
             FINNHUB_API_KEY=fh-from-file\nLOG_LEVEL=DEBUG\nPLAID_ENV=production\n\
             OPENAI_API_KEY=\nUNRELATED=1\n"
        ),
    )
    .unwrap();
    let env = vars(
        dir.path(),
        &[("FINNHUB_API_KEY", "fh-from-env"), ("PATH", "/bin")],
    );
    let s = Settings::from_sources(&dotenv, env).unwrap();
    assert_eq!(
        s.database_url.expose(),
        "sqlite://./data/from_dotenv.db?mode=rwc"
    );
    assert_eq!(s.secret_key.expose(), KEY.as_bytes());
    assert_eq!(s.finnhub.api_key.as_ref().unwrap().expose(), "fh-from-env");
    assert_eq!(s.log_level, "debug");
    assert_eq!(s.plaid.env, PlaidEnv::Production);
    assert_eq!(s.plaid.base_url.as_str(), "https://production.plaid.com/");
    assert_eq!(s.plaid.sync_interval, chrono::Duration::hours(6));
    assert!(s.openai.api_key.is_none(), "an empty value counts as unset");
    // A missing .env is fine.
    let s = Settings::from_sources(&dir.path().join("absent.env"), vars(dir.path(), &[])).unwrap();
    assert!(s.finnhub.api_key.is_none());
}

#[test]
fn malformed_dotenv_names_the_file_but_not_its_content() {
    let dir = tempfile::tempdir().unwrap();
    let dotenv = dir.path().join(".env");
    std::fs::write(&dotenv, "SECRET_KEY='unterminated-secret-value\n").unwrap();
    let err = Settings::from_sources(&dotenv, vars(dir.path(), &[])).unwrap_err();
    assert!(matches!(err, ConfigError::DotEnv { .. }), "{err:?}");
    let msg = err.to_string();
    assert!(msg.starts_with(&dotenv.display().to_string()), "{msg}");
    assert!(!msg.contains("unterminated-secret-value"), "{msg}");
}

/// The stream `--market auto` uses: the first provider in order with a stream and its keys;
/// Alpaca's URL follows its feed.
#[test]
fn the_stream_is_the_first_keyed_provider_with_one() {
    use signal_sentinel::market::stream_from_settings;
    let dir = tempfile::tempdir().unwrap();
    let stream = |extra: &[(&str, &str)]| {
        stream_from_settings(&Settings::from_vars(vars(dir.path(), extra)).unwrap())
            .map(|s| format!("{} {s:?}", s.name()))
    };
    assert_eq!(stream(&[]), None, "Yahoo has no stream");
    let finnhub = stream(&[("FINNHUB_API_KEY", "fh-key-123")]).unwrap();
    assert!(finnhub.starts_with("finnhub ") && finnhub.contains("wss://ws.finnhub.io/"));
    assert!(!finnhub.contains("fh-key-123"), "{finnhub}");
    let both = [
        ("FINNHUB_API_KEY", "fh-key-123"),
        ("ALPACA_API_KEY", "a"),
        ("ALPACA_SECRET_KEY", "s"),
        ("ALPACA_FEED", "sip"),
    ];
    let alpaca = stream(&both).unwrap();
    assert!(
        alpaca.starts_with("alpaca ") && alpaca.contains("wss://stream.data.alpaca.markets/v2/sip"),
        "{alpaca}"
    );
    let mut ordered = both.to_vec();
    ordered.push(("MARKET_DATA_PROVIDERS", "finnhub,alpaca"));
    ordered.push(("FINNHUB_STREAM_URL", "ws://127.0.0.1:9/"));
    let local = stream(&ordered).unwrap();
    assert!(local.contains("ws://127.0.0.1:9/"), "{local}");
}

#[test]
fn each_bad_value_fails_with_one_line_naming_the_variable() {
    let dir = tempfile::tempdir().unwrap();
    let cases: &[(&str, &str, &str)] = &[
        (
            "DATABASE_URL",
            "mysql://root:pw-123@db/ss",
            "DATABASE_URL: expected sqlite://PATH, sqlite::memory: or postgres://USER@HOST/DATABASE; got a URL with scheme \"mysql\"",
        ),
        (
            "DATABASE_URL",
            "not a url",
            "DATABASE_URL: expected sqlite://PATH, sqlite::memory: or postgres://USER@HOST/DATABASE; the value is not a URL",
        ),
        (
            "SECRET_KEY",
            "short-secret-123",
            "SECRET_KEY: must be at least 32 bytes, got 16; generate one with `openssl rand -hex 32`",
        ),
        (
            "LOG_LEVEL",
            "loud",
            "LOG_LEVEL: expected trace, debug, info, warn, error or off, or directives like `warn,signal_sentinel=debug`",
        ),
        (
            "FINNHUB_STREAM_URL",
            "https://ws.finnhub.io",
            "FINNHUB_STREAM_URL: expected a ws:// or wss:// URL",
        ),
        (
            "PLAID_ENV",
            "staging",
            "PLAID_ENV: expected one of sandbox, development, production",
        ),
        (
            "PLAID_SYNC_HOURS",
            "0",
            "PLAID_SYNC_HOURS: expected a whole number of hours from 1 to 168",
        ),
        (
            "OPENAI_BASE_URL",
            "ftp://models.local",
            "OPENAI_BASE_URL: expected an http:// or https:// URL",
        ),
        (
            "TELEGRAM_BASE_URL",
            "localhost:8081",
            "TELEGRAM_BASE_URL: expected an http:// or https:// URL",
        ),
        (
            "YAHOO_BASE_URL",
            "nope",
            "YAHOO_BASE_URL: expected an http:// or https:// URL",
        ),
        (
            "FINNHUB_BASE_URL",
            "http://",
            "FINNHUB_BASE_URL: expected an http:// or https:// URL",
        ),
        (
            "ALPACA_BASE_URL",
            "data.alpaca.markets",
            "ALPACA_BASE_URL: expected an http:// or https:// URL",
        ),
        (
            "PLAID_BASE_URL",
            "sandbox",
            "PLAID_BASE_URL: expected an http:// or https:// URL",
        ),
        (
            "TELEGRAM_BOT_TOKEN",
            "https://api.telegram.org/bot123",
            "TELEGRAM_BOT_TOKEN: expected a bot token like 123456789:ABC-DEF… (from @BotFather)",
        ),
        (
            "ALPACA_API_KEY",
            "PKTEST123",
            "ALPACA_SECRET_KEY: must be set when ALPACA_API_KEY is",
        ),
        (
            "ALPACA_SECRET_KEY",
            "alpaca-secret-9",
            "ALPACA_API_KEY: must be set when ALPACA_SECRET_KEY is",
        ),
        (
            "PLAID_CLIENT_ID",
            "plaid-client-7",
            "PLAID_SECRET: must be set when PLAID_CLIENT_ID is",
        ),
        (
            "PLAID_SECRET",
            "plaid-secret-8",
            "PLAID_CLIENT_ID: must be set when PLAID_SECRET is",
        ),
    ];
    for (name, value, expected) in cases {
        let err = Settings::from_vars(vars(dir.path(), &[(name, value)])).unwrap_err();
        let msg = err.to_string();
        assert_eq!(&msg, expected, "{name}={value}");
        assert!(!msg.contains('\n'));
        if name.contains("KEY")
            || name.contains("SECRET")
            || name.contains("TOKEN")
            || name.contains("CLIENT")
        {
            assert!(!msg.contains(value), "{msg} repeats the secret");
        }
    }
    assert!(
        !dir.path().join(SECRET_KEY_FILE).exists(),
        "a failed start leaves no generated key behind"
    );
}

#[test]
fn secrets_are_redacted_in_debug_output() {
    let dir = tempfile::tempdir().unwrap();
    let secrets = [
        ("SECRET_KEY", KEY),
        ("OPENAI_API_KEY", "sk-openai-secret-1"),
        ("TELEGRAM_BOT_TOKEN", "123456789:AAbotTokenSecret_2"),
        ("PLAID_CLIENT_ID", "plaid-client-secret-3"),
        ("PLAID_SECRET", "plaid-secret-4"),
        ("ALPACA_API_KEY", "PKalpacaSecret5"),
        ("ALPACA_SECRET_KEY", "alpaca-secret-6"),
        ("FINNHUB_API_KEY", "finnhub-secret-7"),
    ];
    let mut extra = secrets.to_vec();
    extra.push(("DATABASE_URL", "postgres://ss:db-password-8@db.internal/ss"));
    let s = Settings::from_vars(vars(dir.path(), &extra)).unwrap();
    let debug = format!("{s:?}");
    for (name, value) in secrets
        .iter()
        .chain([&("DATABASE_URL password", "db-password-8")])
    {
        assert!(!debug.contains(value), "{name} leaks into Debug: {debug}");
    }
    assert!(debug.contains("[redacted]"));
    assert_eq!(
        s.telegram.bot_token.as_ref().unwrap().expose(),
        "123456789:AAbotTokenSecret_2"
    );
    assert_eq!(
        s.database_url.to_string(),
        "postgres://ss:[redacted]@db.internal/ss"
    );
    assert_eq!(
        s.database_url.expose(),
        "postgres://ss:db-password-8@db.internal/ss"
    );
}
