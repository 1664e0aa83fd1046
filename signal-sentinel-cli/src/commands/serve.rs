//! `invest serve`: the HTTP API, with the monitor and dispatcher in the same process unless
//! `--no-monitor`.

use std::net::SocketAddr;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use signal_sentinel::clock::SystemClock;
use signal_sentinel::config::Settings;
use signal_sentinel::monitor::{Monitor, MonitorConfig, Sharding};
use signal_sentinel::service::Services;
use signal_sentinel::store::{SeaStore, Store};
use signal_sentinel_http::{AppState, HttpConfig};

use super::monitor::{Market, market, shutdown_signal, work};
use crate::cli::MarketArgs;

pub(crate) async fn run(
    settings: &Settings,
    addr: SocketAddr,
    args: &MarketArgs,
    monitor_every: Option<Duration>,
) -> Result<ExitCode, String> {
    let Market { data, clock } = market(settings, args, false)?;
    let store: Arc<dyn Store> = Arc::new(
        SeaStore::open(&settings.database_url)
            .await
            .map_err(|e| e.to_string())?,
    );
    let notifiers = signal_sentinel::notify::channels::notifiers_from_settings(settings)?;
    // Sessions and tokens run on real time even when the monitor replays the past.
    let services = Services::from_settings(
        settings,
        store.clone(),
        Arc::new(SystemClock),
        data.clone(),
        notifiers,
    )
    .map_err(|e| e.to_string())?;
    services.warm_up().await.map_err(|e| e.to_string())?;
    services
        .reseal_broker_tokens()
        .await
        .map_err(|e| e.to_string())?;
    let mut state = AppState::new(services, &settings.api);
    let monitor = monitor_every.map(|every| {
        Arc::new(
            Monitor::new(store.clone(), data, clock, MonitorConfig::default())
                .sharded(Sharding::for_interval(every)),
        )
    });
    if let Some(monitor) = &monitor {
        let monitor = monitor.clone();
        state.monitor = Some(Arc::new(move || monitor.stats().snapshot()));
    }
    let config = HttpConfig {
        cors_origins: settings.api.cors_origins.clone(),
        ..HttpConfig::default()
    };
    let app = signal_sentinel_http::app(state, &config);
    let acceptor = poem::listener::Listener::into_acceptor(poem::listener::TcpListener::bind(addr))
        .await
        .map_err(|e| format!("cannot listen on {addr}: {e}"))?;

    // One shutdown signal, seen by the server and the worker.
    let (stop, stopped) = tokio::sync::watch::channel(false);
    tokio::spawn(async move {
        shutdown_signal().await;
        tracing::info!("shutting down: finishing requests in flight and the current cycle");
        let _ = stop.send(true);
    });
    let until = |mut rx: tokio::sync::watch::Receiver<bool>| async move {
        let _ = rx.wait_for(|stopped| *stopped).await;
    };
    tracing::info!(
        %addr,
        monitor = monitor.is_some(),
        "serving the dashboard on http://{addr}/ and the API under /api (docs at /api/docs, metrics at /metrics)"
    );
    let server = signal_sentinel_http::serve(acceptor, app, until(stopped.clone()));
    match (monitor, monitor_every) {
        (Some(monitor), Some(every)) => {
            let (served, worked) =
                tokio::join!(server, work(settings, &monitor, every, until(stopped)));
            served.map_err(|e| e.to_string())?;
            worked?;
        }
        _ => server.await.map_err(|e| e.to_string())?,
    }
    tracing::info!("stopped");
    Ok(ExitCode::SUCCESS)
}
