//! The HTTP API of Signal Sentinel: a thin poem + poem-openapi layer over the
//! `signal-sentinel` library.
//!
//! Handlers parse the request, resolve the acting user, call one
//! `Services` method and map its result to a typed
//! response; no business rule and no SQL live here. [`openapi`] builds the documented
//! service, so the spec people generate clients from is the code that serves them.
#![deny(missing_docs)]

mod action_pages;
pub mod api;
pub mod dashboard;
pub mod error;
pub mod json;
mod middleware;
pub mod security;
pub mod strict;
mod telegram;

use std::sync::{Arc, OnceLock};

use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle};
use poem::middleware::Cors;
use poem::{Endpoint, EndpointExt, Route};
use poem_openapi::OpenApiService;
use signal_sentinel::monitor::MonitorSnapshot;
use signal_sentinel::service::Services;

pub use middleware::DEFAULT_BODY_LIMIT;

/// The API prefix every endpoint lives under.
pub const API_PREFIX: &str = "/api";

/// Everything the handlers share. Cheap to clone.
#[derive(Clone)]
pub struct AppState {
    /// The use cases.
    pub services: Services,
    /// Rate limits.
    pub limits: Arc<security::Limits>,
    /// The in-process monitor's state, when this process runs one.
    pub monitor: Option<Arc<dyn Fn() -> MonitorSnapshot + Send + Sync>>,
    /// How often the alert stream looks for new alerts when the database cannot signal them
    /// from other processes (SQLite); on PostgreSQL it is woken by each commit instead.
    pub stream_poll: std::time::Duration,
    /// The bearer token `/metrics` asks for (`METRICS_TOKEN`); none: metrics are not served.
    pub metrics_token: Option<signal_sentinel::Secret>,
}

impl std::fmt::Debug for AppState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AppState")
            .field("services", &self.services)
            .field("monitor", &self.monitor.is_some())
            .finish_non_exhaustive()
    }
}

impl AppState {
    /// State for `services` with the rate limits of `api` (pruned every minute), no
    /// in-process monitor and a one-second alert stream poll.
    pub fn new(services: Services, api: &signal_sentinel::config::ApiSettings) -> Self {
        let limits = Arc::new(security::Limits::new(
            api.auth_attempts_per_minute,
            api.requests_per_minute,
        ));
        security::Limits::spawn_pruner(limits.clone(), std::time::Duration::from_secs(60));
        Self {
            services,
            limits,
            monitor: None,
            stream_poll: std::time::Duration::from_secs(1),
            metrics_token: api.metrics_token.clone(),
        }
    }
}

/// How the server is put together around the API.
#[derive(Debug, Clone)]
pub struct HttpConfig {
    /// Largest request body, in bytes (413 above it).
    pub body_limit: usize,
    /// Origins a browser may call from (`*` for any); empty for none.
    pub cors_origins: Vec<String>,
}

impl Default for HttpConfig {
    fn default() -> Self {
        Self {
            body_limit: DEFAULT_BODY_LIMIT,
            cors_origins: Vec::new(),
        }
    }
}

/// All endpoints, one type per tag.
pub type Apis = (
    api::health::HealthApi,
    api::auth::AuthApi,
    api::rules::RulesApi,
    api::alerts::AlertsApi,
    api::alerts::ActionsApi,
    api::channels::ChannelsApi,
    api::market::MarketApi,
    api::monitor::MonitorApi,
    api::portfolio::PortfolioApi,
);

/// The OpenAPI service with every endpoint, served under [`API_PREFIX`].
pub fn openapi() -> OpenApiService<Apis, ()> {
    OpenApiService::new(
        Apis::default(),
        signal_sentinel::NAME,
        signal_sentinel::VERSION,
    )
    .description(signal_sentinel::TAGLINE)
    .url_prefix(API_PREFIX)
}

/// The spec as committed in `docs/openapi.json` (pretty JSON, trailing newline).
pub fn spec_json() -> String {
    let mut spec = openapi().spec();
    spec.push('\n');
    spec
}

/// The process-wide Prometheus recorder (installed on first use).
pub fn metrics_handle() -> PrometheusHandle {
    static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();
    HANDLE
        .get_or_init(|| {
            let builder = PrometheusBuilder::new()
                .set_buckets(&[
                    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
                    30.0,
                ])
                .unwrap_or_else(|_| PrometheusBuilder::new());
            let recorder = builder.build_recorder();
            let handle = recorder.handle();
            // Another recorder (a test's, an embedding program's) may be installed already:
            // then this handle renders only what reaches it, and nothing breaks.
            let _ = metrics::set_global_recorder(recorder);
            handle
        })
        .clone()
}

/// `/metrics`: the Prometheus text to a request bearing the `METRICS_TOKEN` (compared in
/// constant time); 401 to any other; 404 when no token is configured (metrics are off).
fn metrics_answer(
    request: &poem::Request,
    token: Option<&signal_sentinel::Secret>,
    metrics: &PrometheusHandle,
) -> poem::Response {
    use poem::IntoResponse;
    use subtle::ConstantTimeEq;
    let error = |status: poem::http::StatusCode, code: &str, message: &str| {
        let body = serde_json::json!({"error": {"code": code, "message": message}});
        poem::Response::builder()
            .status(status)
            .content_type("application/json")
            .body(body.to_string())
    };
    let Some(token) = token else {
        return error(
            poem::http::StatusCode::NOT_FOUND,
            "not_found",
            "metrics are off: set METRICS_TOKEN to serve them",
        );
    };
    let given = request
        .headers()
        .get(poem::http::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .unwrap_or_default();
    if bool::from(given.as_bytes().ct_eq(token.expose().as_bytes())) {
        metrics
            .render()
            .with_content_type("text/plain; version=0.0.4")
            .into_response()
    } else {
        let mut response = error(
            poem::http::StatusCode::UNAUTHORIZED,
            "unauthenticated",
            "send the metrics token: Authorization: Bearer $METRICS_TOKEN",
        );
        response.headers_mut().insert(
            poem::http::header::WWW_AUTHENTICATE,
            poem::http::HeaderValue::from_static("Bearer"),
        );
        response
    }
}

/// The poem application: the dashboard at `/`, the API under `/api`, its spec at
/// `/api/openapi.json`, interactive docs at `/api/docs`, Prometheus metrics at `/metrics`.
pub fn app(state: AppState, config: &HttpConfig) -> impl Endpoint + 'static {
    let api = openapi();
    let allowed = middleware::Routes::from_spec(&api.spec());
    let spec = api.spec_endpoint();
    let docs = api.swagger_ui();
    let metrics = metrics_handle();
    let token = state.metrics_token.clone();
    let cors = config.cors_origins.iter().fold(
        Cors::new()
            .allow_methods(["GET", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"])
            .allow_headers(["authorization", "content-type", "x-api-key", "x-request-id"])
            .expose_headers(["x-request-id", "retry-after"]),
        |cors, origin| {
            if origin == "*" {
                cors
            } else {
                cors.allow_origin(origin.as_str())
            }
        },
    );
    let any_origin = config.cors_origins.iter().any(|o| o == "*");
    let routes = telegram::routes(action_pages::routes(dashboard::routes(Route::new())))
        .at("/api/openapi.json", spec)
        .nest("/api/docs", docs)
        .nest(API_PREFIX, api)
        .at(
            "/metrics",
            poem::endpoint::make_sync(move |request: poem::Request| {
                metrics_answer(&request, token.as_ref(), &metrics)
            }),
        )
        .data(state);
    let with_cors: poem::endpoint::BoxEndpoint<'static> =
        if config.cors_origins.is_empty() && !any_origin {
            routes.boxed()
        } else {
            routes.with(cors).boxed()
        };
    middleware::Outer::new(config.body_limit, allowed).wrap(with_cors)
}

/// Serves `app` on `listener` until `shutdown` completes; requests in flight get up to 30 s
/// to finish.
///
/// # Errors
/// When the listener fails.
pub async fn serve(
    acceptor: impl poem::listener::Acceptor + 'static,
    app: impl Endpoint + 'static,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    poem::Server::new_with_acceptor(acceptor)
        .run_with_graceful_shutdown(app, shutdown, Some(std::time::Duration::from_secs(30)))
        .await
}
