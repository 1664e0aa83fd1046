//! A real server on a loopback port over a temporary database, and a client for it.

use std::sync::Arc;

use chrono::TimeZone;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use signal_sentinel::clock::{Clock, ManualClock, SystemClock};
use signal_sentinel::config::{DatabaseUrl, Settings};
use signal_sentinel::market::{MarketData, ReplayMarket};
use signal_sentinel::service::Services;
use signal_sentinel::store::{SeaStore, Store};
use signal_sentinel_http::{AppState, HttpConfig};
use tempfile::TempDir;

pub(crate) const SECRET_KEY: &str = "test-secret-key-0123456789abcdef-0123456789";
pub(crate) const PASSWORD: &str = "correct horse battery";

/// Daily bars of a real stock, June–July 2009, replayed as `XYZ`.
pub(crate) fn replay_market() -> Arc<dyn MarketData> {
    let clock: Arc<dyn Clock> = Arc::new(ManualClock::new(
        chrono::Utc
            .with_ymd_and_hms(2009, 7, 31, 20, 30, 0)
            .unwrap(),
    ));
    Arc::new(ReplayMarket::from_csv("xyz.csv", &daily_csv(), clock).unwrap())
}

/// The daily fixture in the replay format, as symbol XYZ.
fn daily_csv() -> String {
    let mut csv = String::from("time,symbol,open,high,low,close,volume\n");
    for line in include_str!("../../../signal-sentinel/fixtures/daily_ohlc_2009.csv")
        .lines()
        .skip(1)
    {
        let (date, rest) = line.split_once(',').unwrap();
        csv.push_str(&format!("{date},XYZ,{rest},\n"));
    }
    csv
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Backend {
    Sqlite,
    Postgres,
}

/// How to start a server.
pub(crate) struct Options {
    pub(crate) backend: Backend,
    pub(crate) vars: Vec<(&'static str, String)>,
    pub(crate) market: Option<Arc<dyn MarketData>>,
    pub(crate) body_limit: Option<usize>,
    /// The database of another server (a second replica) instead of a fresh one.
    pub(crate) database: Option<DatabaseUrl>,
    /// How often the alert stream polls (50 ms unless given).
    pub(crate) stream_poll: Option<std::time::Duration>,
    /// The account-wide login slow-down's numbers (the settings' unless given).
    pub(crate) login_throttle: Option<signal_sentinel::auth::throttle::ThrottleConfig>,
}

impl Default for Options {
    fn default() -> Self {
        Self {
            backend: Backend::Sqlite,
            vars: Vec::new(),
            market: None,
            body_limit: None,
            database: None,
            stream_poll: None,
            login_throttle: None,
        }
    }
}

/// A running server.
pub(crate) struct TestServer {
    pub(crate) base: String,
    pub(crate) http: reqwest::Client,
    pub(crate) store: Arc<SeaStore>,
    /// The server's use cases (to run a monitor cycle, the dispatcher or the bot beside it).
    pub(crate) services: Services,
    pub(crate) database: DatabaseUrl,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    _dir: TempDir,
    _postgres: Option<PostgresDatabase>,
}

impl Drop for TestServer {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }
}

pub(crate) struct Response {
    pub(crate) status: StatusCode,
    pub(crate) headers: reqwest::header::HeaderMap,
    pub(crate) body: Value,
    pub(crate) text: String,
}

impl TestServer {
    pub(crate) async fn start() -> Self {
        Self::start_with(Options::default()).await.unwrap()
    }

    /// `None` when PostgreSQL is asked for and not configured.
    pub(crate) async fn start_with(options: Options) -> Option<Self> {
        let _ = rustls::crypto::ring::default_provider().install_default();
        let dir = tempfile::tempdir().unwrap();
        let (url, postgres) = match (options.database, options.backend) {
            (Some(url), _) => (url, None),
            (None, Backend::Sqlite) => (
                DatabaseUrl::parse(&format!(
                    "sqlite://{}?mode=rwc",
                    dir.path().join("api.db").display()
                ))
                .unwrap(),
                None,
            ),
            (None, Backend::Postgres) => {
                let pg = PostgresDatabase::create().await?;
                (pg.url.clone(), Some(pg))
            }
        };
        let mut vars: Vec<(String, String)> = vec![
            ("DATABASE_URL".into(), url.expose().to_owned()),
            ("SECRET_KEY".into(), SECRET_KEY.into()),
            (
                "SIGNAL_SENTINEL_DATA_DIR".into(),
                dir.path().display().to_string(),
            ),
            ("MARKET_DATA_PROVIDERS".into(), "yahoo".into()),
        ];
        vars.extend(options.vars.into_iter().map(|(k, v)| (k.to_owned(), v)));
        let settings = Settings::from_vars(vars).unwrap();
        let store = Arc::new(SeaStore::open(&settings.database_url).await.unwrap());
        let clock: Arc<dyn Clock> = Arc::new(SystemClock);
        let market = match options.market {
            Some(m) => m,
            None => Arc::new(
                signal_sentinel::market::providers_from_settings(&settings, clock.clone(), None)
                    .unwrap(),
            ),
        };
        let notifiers =
            signal_sentinel::notify::channels::notifiers_from_settings(&settings).unwrap();
        let dyn_store: Arc<dyn Store> = store.clone();
        let mut services =
            Services::from_settings(&settings, dyn_store, clock, market, notifiers).unwrap();
        if let Some(config) = options.login_throttle {
            services = services.with_login_throttle(config);
        }
        let mut state = AppState::new(services.clone(), &settings.api);
        state.stream_poll = options
            .stream_poll
            .unwrap_or(std::time::Duration::from_millis(50));
        let config = HttpConfig {
            body_limit: options
                .body_limit
                .unwrap_or(signal_sentinel_http::DEFAULT_BODY_LIMIT),
            cors_origins: settings.api.cors_origins.clone(),
        };
        let app = signal_sentinel_http::app(state, &config);
        let acceptor = poem::listener::Listener::into_acceptor(poem::listener::TcpListener::bind(
            "127.0.0.1:0",
        ))
        .await
        .unwrap();
        let addr = poem::listener::Acceptor::local_addr(&acceptor)
            .remove(0)
            .as_socket_addr()
            .copied()
            .unwrap();
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        tokio::spawn(signal_sentinel_http::serve(acceptor, app, async move {
            let _ = stopped.await;
        }));
        Some(Self {
            base: format!("http://{addr}"),
            http: reqwest::Client::builder().no_proxy().build().unwrap(),
            store,
            services,
            database: settings.database_url.clone(),
            stop: Some(stop),
            _dir: dir,
            _postgres: postgres,
        })
    }

    /// Sends a request; `auth` is a bearer token (or `ss_…` key sent as `X-API-Key` when
    /// prefixed with `key:`).
    pub(crate) async fn call(
        &self,
        method: Method,
        path: &str,
        auth: Option<&str>,
        body: Option<Value>,
    ) -> Response {
        let mut req = self.http.request(method, format!("{}{path}", self.base));
        match auth {
            Some(a) if a.starts_with("key:") => req = req.header("x-api-key", &a[4..]),
            Some(a) => req = req.bearer_auth(a),
            None => {}
        }
        if let Some(body) = body {
            req = req.json(&body);
        }
        Self::read(req.send().await.unwrap()).await
    }

    pub(crate) async fn read(resp: reqwest::Response) -> Response {
        let status = resp.status();
        let headers = resp.headers().clone();
        let text = resp.text().await.unwrap();
        let body = serde_json::from_str(&text).unwrap_or(Value::Null);
        Response {
            status,
            headers,
            body,
            text,
        }
    }

    pub(crate) async fn get(&self, path: &str, auth: &str) -> Response {
        self.call(Method::GET, path, Some(auth), None).await
    }

    pub(crate) async fn post(&self, path: &str, auth: &str, body: Value) -> Response {
        self.call(Method::POST, path, Some(auth), Some(body)).await
    }

    /// Registers `email` and logs in: a session token.
    pub(crate) async fn user(&self, email: &str) -> String {
        let r = self
            .call(
                Method::POST,
                "/api/auth/register",
                None,
                Some(json!({"email": email, "password": PASSWORD})),
            )
            .await;
        assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
        self.login(email, PASSWORD).await
    }

    pub(crate) async fn login(&self, email: &str, password: &str) -> String {
        let r = self
            .call(
                Method::POST,
                "/api/auth/login",
                None,
                Some(json!({"email": email, "password": password})),
            )
            .await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.text);
        r.body["access_token"].as_str().unwrap().to_owned()
    }
}

/// Asserts the one error shape and returns its code.
pub(crate) fn error_code(r: &Response) -> String {
    let error = &r.body["error"];
    assert!(
        error["code"].is_string() && error["message"].is_string(),
        "not the error shape: {} {}",
        r.status,
        r.text
    );
    error["code"].as_str().unwrap().to_owned()
}

/// A PostgreSQL database of one test's own (the shared test-support crate's), dropped
/// afterwards.
pub(crate) struct PostgresDatabase {
    _database: test_support::TempPostgres,
    url: DatabaseUrl,
}

impl PostgresDatabase {
    async fn create() -> Option<Self> {
        let database = test_support::TempPostgres::create("ss_api").await?;
        Some(Self {
            url: DatabaseUrl::parse(&database.url).unwrap(),
            _database: database,
        })
    }
}
