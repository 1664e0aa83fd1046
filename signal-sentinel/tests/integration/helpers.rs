use std::sync::Arc;

use rust_decimal::Decimal;
use sea_orm::{ConnectionTrait, Database};
use signal_sentinel::Secret;
use signal_sentinel::config::DatabaseUrl;
use signal_sentinel::domain::{
    AlertKind, ChannelKind, Email, JsonDocument, NewAlert, NewChannel, NewRule, NewUser,
    NotificationChannel, Rule, Symbol, User,
};
use signal_sentinel::store::{ChannelStore, RuleStore, SeaStore, UserStore};
use signal_sentinel::time::Timestamp;
use tempfile::TempDir;

/// Names the server PostgreSQL tests create their databases on.

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Backend {
    SqliteMemory,
    SqliteFile,
    Postgres,
}

/// A fresh, migrated database that is removed when dropped.
pub(crate) struct TestDb {
    pub(crate) store: SeaStore,
    pub(crate) dir: Option<TempDir>,
    url: DatabaseUrl,
    postgres: Option<PostgresDatabase>,
}

impl TestDb {
    /// `None` (after saying so) when the backend is PostgreSQL and no server is configured.
    pub(crate) async fn new(backend: Backend) -> Option<Self> {
        let (url, dir, postgres) = match backend {
            Backend::SqliteMemory => (DatabaseUrl::parse("sqlite::memory:").unwrap(), None, None),
            Backend::SqliteFile => {
                let dir = tempfile::tempdir().unwrap();
                let url = sqlite_file_url(&dir);
                (url, Some(dir), None)
            }
            Backend::Postgres => {
                let pg = PostgresDatabase::create().await?;
                (pg.url.clone(), None, Some(pg))
            }
        };
        let store = SeaStore::open(&url).await.unwrap();
        Some(Self {
            store,
            dir,
            url,
            postgres,
        })
    }

    /// Runs `sql` on a connection of its own (file and PostgreSQL databases only).
    pub(crate) async fn execute_sql(&self, sql: &str) {
        assert_ne!(
            self.backend(),
            Backend::SqliteMemory,
            "no other connection reaches it"
        );
        let db = Database::connect(self.url.expose()).await.unwrap();
        db.execute_unprepared(sql).await.unwrap();
        db.close().await.unwrap();
    }

    /// A store with connections of its own to the same database, as another process has (the
    /// same store on an in-memory database, which no other connection can reach).
    pub(crate) async fn another_process(&self) -> SeaStore {
        match self.backend() {
            Backend::SqliteMemory => self.store.clone(),
            _ => SeaStore::connect(&self.url).await.unwrap(),
        }
    }

    pub(crate) fn backend(&self) -> Backend {
        if self.postgres.is_some() {
            Backend::Postgres
        } else if self.dir.is_some() {
            Backend::SqliteFile
        } else {
            Backend::SqliteMemory
        }
    }
}

pub(crate) fn sqlite_file_url(dir: &TempDir) -> DatabaseUrl {
    DatabaseUrl::parse(&format!(
        "sqlite://{}",
        dir.path().join("nested/dir/signal_sentinel.db").display()
    ))
    .unwrap()
}

/// A PostgreSQL database of one test's own (the shared test-support crate's), dropped
/// afterwards.
pub(crate) struct PostgresDatabase {
    _database: test_support::TempPostgres,
    pub(crate) url: DatabaseUrl,
}

impl PostgresDatabase {
    pub(crate) async fn create() -> Option<Self> {
        let database = test_support::TempPostgres::create("ss_test").await?;
        Some(Self {
            url: DatabaseUrl::parse(&database.url).unwrap(),
            _database: database,
        })
    }
}

/// Declares each named `async fn(&TestDb)` of the enclosing module as three tests, one per
/// backend.
macro_rules! backend_tests {
    ($($name:ident),* $(,)?) => {
        mod sqlite_memory {
            $(
                #[tokio::test]
                async fn $name() {
                    let db = crate::helpers::TestDb::new(crate::helpers::Backend::SqliteMemory).await.unwrap();
                    super::$name(&db).await;
                }
            )*
        }
        mod sqlite_file {
            $(
                #[tokio::test]
                async fn $name() {
                    let db = crate::helpers::TestDb::new(crate::helpers::Backend::SqliteFile).await.unwrap();
                    super::$name(&db).await;
                }
            )*
        }
        mod postgres {
            $(
                #[tokio::test]
                async fn $name() {
                    if let Some(db) = crate::helpers::TestDb::new(crate::helpers::Backend::Postgres).await {
                        super::$name(&db).await;
                    }
                }
            )*
        }
    };
}

pub(crate) fn symbol(s: &str) -> Symbol {
    Symbol::parse(s).unwrap()
}

pub(crate) fn dec(s: &str) -> Decimal {
    s.parse().unwrap()
}

pub(crate) fn at(rfc3339: &str) -> Timestamp {
    chrono::DateTime::parse_from_rfc3339(rfc3339)
        .unwrap()
        .to_utc()
}

pub(crate) async fn seed_user(store: &SeaStore, email: &str) -> User {
    store
        .create_user(NewUser {
            email: Email::parse(email).unwrap(),
            password_hash: Secret::new(format!("$argon2id$v=19$m=19456,t=2,p=1$salt${email}")),
            display_name: None,
        })
        .await
        .unwrap()
}

/// A console channel for `owner`, so that alerts get a delivery each.
pub(crate) async fn seed_console_channel(store: &SeaStore, owner: &User) -> NotificationChannel {
    store
        .create_channel(NewChannel {
            owner: owner.id,
            name: "console".into(),
            kind: ChannelKind::Console,
            config: serde_json::json!({}),
            secret: None,
        })
        .await
        .unwrap()
}

pub(crate) fn price_above(level: &str) -> JsonDocument {
    JsonDocument::new(
        1,
        serde_json::json!({"type": "price_above", "level": level}),
    )
    .unwrap()
}

pub(crate) async fn seed_rule(store: &SeaStore, owner: &User, sym: &str) -> Rule {
    store
        .create_rule(NewRule {
            owner: owner.id,
            symbol: symbol(sym),
            name: Some(format!("{sym} above 100")),
            condition: price_above("100"),
            options: JsonDocument::empty(),
            enabled: true,
            expires_at: None,
        })
        .await
        .unwrap()
}

pub(crate) fn new_alert(rule: &Rule, episode: i64, price: &str, fired_at: Timestamp) -> NewAlert {
    NewAlert {
        rule_id: rule.id,
        owner: rule.owner,
        symbol: rule.symbol.clone(),
        episode,
        kind: AlertKind::Fired,
        price: dec(price),
        message: format!("{} crossed at {price}", rule.symbol),
        fired_at,
        reminder: 0,
    }
}

/// Stores the rule `text` (symbol and condition) for `user` with `options`.
pub(crate) async fn add_rule(
    store: &SeaStore,
    user: &User,
    text: &str,
    options: signal_sentinel::engine::RuleOptions,
) -> Rule {
    let parsed = signal_sentinel::engine::parse_rule(text).unwrap();
    store
        .create_rule(NewRule {
            owner: user.id,
            symbol: parsed.symbol,
            name: None,
            condition: parsed.condition.to_document(),
            options: options.to_document(),
            enabled: true,
            expires_at: None,
        })
        .await
        .unwrap()
}

/// The daily fixture as a replay file for symbol XYZ (dates alone: each session's close).
pub(crate) fn daily_csv() -> String {
    let mut csv = String::from("time,symbol,open,high,low,close,volume\n");
    for line in include_str!("../../fixtures/daily_ohlc_2009.csv")
        .lines()
        .skip(1)
    {
        let mut f = line.splitn(2, ',');
        let (date, rest) = (f.next().unwrap(), f.next().unwrap());
        csv.push_str(&format!("{date},XYZ,{rest},\n"));
    }
    csv
}

/// A monitor over the test database's rules, quoting `market` on `clock`, default settings.
pub(crate) fn monitor_on(
    db: &TestDb,
    market: Arc<dyn signal_sentinel::market::MarketData>,
    clock: Arc<dyn signal_sentinel::clock::Clock>,
) -> signal_sentinel::monitor::Monitor {
    signal_sentinel::monitor::Monitor::new(
        Arc::new(db.store.clone()),
        market,
        clock,
        signal_sentinel::monitor::MonitorConfig::default(),
    )
}

/// A market whose quotes are set by the test: (price, previous close) by symbol.
#[derive(Debug)]
pub(crate) struct FixedMarket {
    clock: Arc<signal_sentinel::clock::ManualClock>,
    prices: std::sync::Mutex<std::collections::HashMap<String, (&'static str, &'static str)>>,
    /// The symbols asked for, request after request.
    pub(crate) asked: std::sync::Mutex<Vec<String>>,
    /// Quote requests made.
    pub(crate) calls: std::sync::Mutex<usize>,
}

impl FixedMarket {
    pub(crate) fn new(clock: Arc<signal_sentinel::clock::ManualClock>) -> Self {
        Self {
            clock,
            prices: std::sync::Mutex::default(),
            asked: std::sync::Mutex::default(),
            calls: std::sync::Mutex::default(),
        }
    }

    pub(crate) fn set(&self, symbol: &str, price: &'static str, previous_close: &'static str) {
        self.prices
            .lock()
            .unwrap()
            .insert(symbol.to_owned(), (price, previous_close));
    }
}

#[async_trait::async_trait]
impl signal_sentinel::market::MarketData for FixedMarket {
    fn name(&self) -> &str {
        "fixed"
    }

    fn max_batch(&self) -> usize {
        50
    }

    async fn quotes(
        &self,
        symbols: &[Symbol],
    ) -> Result<Vec<signal_sentinel::domain::Quote>, signal_sentinel::market::MarketError> {
        *self.calls.lock().unwrap() += 1;
        let prices = self.prices.lock().unwrap();
        let mut asked = self.asked.lock().unwrap();
        Ok(symbols
            .iter()
            .filter_map(|s| {
                asked.push(s.to_string());
                let (price, prev) = prices.get(s.as_str())?;
                signal_sentinel::domain::Quote::new(
                    s.clone(),
                    price.parse().unwrap(),
                    signal_sentinel::clock::Clock::now(&*self.clock),
                    "fixed",
                )
                .unwrap()
                .with_previous_close(prev.parse().unwrap())
                .ok()
            })
            .collect())
    }

    async fn daily_bars(
        &self,
        _: &Symbol,
        _: chrono::NaiveDate,
        _: chrono::NaiveDate,
    ) -> Result<Vec<signal_sentinel::domain::Bar>, signal_sentinel::market::MarketError> {
        Ok(Vec::new())
    }
}
