//! Mounting the Signal Sentinel API and dashboard under a prefix inside another poem
//! application: your own routes beside `/sentinel/` (the dashboard), `/sentinel/api/…` (the
//! API) and `/sentinel/metrics`, served by one server. The library supplies the behaviour
//! (`Services`), `signal-sentinel-http` the routes.
//!
//! ```text
//! cargo run -p examples --example mount_api              # starts, calls itself, stops
//! cargo run -p examples --example mount_api -- --serve   # keeps serving on 127.0.0.1:8080
//! ```
//!
//! Mount it with a trailing slash (`/sentinel/`): the dashboard loads its assets and calls the
//! API relative to its own address.

use std::sync::Arc;

use poem::listener::{Acceptor, Listener, TcpListener};
use poem::{EndpointExt, Route, handler};
use signal_sentinel::clock::{Clock, SystemClock};
use signal_sentinel::config::Settings;
use signal_sentinel::market::{MarketData, SimulatedMarket};
use signal_sentinel::service::Services;
use signal_sentinel_http::{AppState, HttpConfig};

#[handler]
fn hello() -> &'static str {
    "the host application's own route\n"
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    // The HTTP clients of the library (and this program's) use rustls with ring.
    let _ = rustls::crypto::ring::default_provider().install_default();
    // Settings as `invest serve` reads them from the environment; here given directly.
    let settings = Settings::from_vars([
        ("DATABASE_URL".to_owned(), "sqlite::memory:".to_owned()),
        (
            "SECRET_KEY".to_owned(),
            "example-secret-key-0123456789abcdef-0123456789".to_owned(),
        ),
    ])?;
    // Offline prices; `Services::open(&settings)` uses the configured real providers.
    let clock: Arc<dyn Clock> = Arc::new(SystemClock);
    let market: Arc<dyn MarketData> = Arc::new(SimulatedMarket::new(7, clock));
    // The library's one composition root: database, notifiers, summaries, the use cases.
    let services = Services::open_with_market(&settings, market).await?;
    let sentinel = signal_sentinel_http::app(
        AppState::new(services, &settings.api),
        &HttpConfig::default(),
    );

    let app = Route::new()
        .at("/hello", hello)
        .nest("/sentinel/", sentinel)
        .with(poem::middleware::Tracing);

    let serve = std::env::args().any(|a| a == "--serve");
    let address = if serve {
        "127.0.0.1:8080"
    } else {
        "127.0.0.1:0"
    };
    let acceptor = TcpListener::bind(address).into_acceptor().await?;
    let port = acceptor.local_addr()[0]
        .as_socket_addr()
        .map(std::net::SocketAddr::port)
        .ok_or_else(|| anyhow::anyhow!("not a TCP address"))?;
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(signal_sentinel_http::serve(acceptor, app, async move {
        let _ = stopped.await;
    }));
    let base = format!("http://127.0.0.1:{port}");
    if serve {
        println!("serving: {base}/hello, the dashboard at {base}/sentinel/ (Ctrl-C stops)");
        tokio::signal::ctrl_c().await?;
    } else {
        let http = reqwest::Client::builder().no_proxy().build()?;
        for path in [
            "/hello",
            "/sentinel/api/health",
            "/sentinel/",
            "/sentinel/assets/app.js",
        ] {
            let response = http.get(format!("{base}{path}")).send().await?;
            let status = response.status();
            let body = response.text().await?;
            println!(
                "GET {path:<26} {status}  {}",
                body.lines().next().unwrap_or("")
            );
            anyhow::ensure!(status.is_success(), "{path} answered {status}");
            if path == "/sentinel/" {
                // Relative addresses, so the page works under any prefix.
                anyhow::ensure!(
                    body.contains(r#"src="assets/app.js""#),
                    "absolute asset path"
                );
            }
        }
        // The API works under the prefix: register and use the account.
        let registered = http
            .post(format!("{base}/sentinel/api/auth/register"))
            .json(&serde_json::json!({"email": "ann@example.com", "password": "correct horse battery"}))
            .send()
            .await?;
        println!("POST /sentinel/api/auth/register  {}", registered.status());
        anyhow::ensure!(registered.status().is_success(), "registration failed");
    }
    let _ = stop.send(());
    server.await??;
    Ok(())
}
