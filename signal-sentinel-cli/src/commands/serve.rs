//! `invest serve`: the HTTP API, with the monitor, dispatcher, digests and brokerage syncs in
//! the same process unless `--no-monitor`.

use std::net::SocketAddr;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use signal_sentinel::config::Settings;
use signal_sentinel::monitor::{MonitorConfig, Sharding};
use signal_sentinel::service::Services;
use signal_sentinel_http::{AppState, HttpConfig};
use tokio_util::sync::CancellationToken;

use super::monitor::{Market, market, shutdown_signal};
use crate::cli::MarketArgs;

pub(crate) async fn run(
    settings: &Settings,
    addr: SocketAddr,
    args: &MarketArgs,
    monitor_every: Option<Duration>,
) -> anyhow::Result<ExitCode> {
    let chosen: Market = market(settings, args, false)?;
    // Sessions and tokens run on real time even when the monitor replays the past.
    let services = Services::open_with_market(settings, chosen.quotes.clone()).await?;
    services.warm_up().await?;
    // With TELEGRAM_WEBHOOK_URL, Telegram posts the bot's updates to this server.
    match services.start_telegram_webhook().await {
        Ok(true) => tracing::info!("the Telegram bot takes its updates at /telegram/webhook"),
        Ok(false) => {}
        Err(e) => tracing::warn!("cannot set the Telegram webhook: {e}"),
    }
    let mut state = AppState::new(services.clone(), &settings.api);
    let monitor = monitor_every.map(|every| {
        let monitor = services.monitor(
            chosen.data.clone(),
            chosen.clock.clone(),
            MonitorConfig::default(),
        );
        Arc::new(
            chosen
                .streamed(monitor, args)
                .sharded(Sharding::for_interval(every)),
        )
    });
    if let Some(monitor) = &monitor {
        let monitor = monitor.clone();
        state.monitor = Some(Arc::new(move || monitor.snapshot()));
    }
    let config = HttpConfig {
        cors_origins: settings.api.cors_origins.clone(),
        ..HttpConfig::default()
    };
    let app = signal_sentinel_http::app(state, &config);
    let acceptor = poem::listener::Listener::into_acceptor(poem::listener::TcpListener::bind(addr))
        .await
        .map_err(|e| anyhow::anyhow!("cannot listen on {addr}: {e}"))?;

    // One token, cancelled by the shutdown signal, stops the server and the background work.
    let cancel = CancellationToken::new();
    tokio::spawn({
        let cancel = cancel.clone();
        async move {
            shutdown_signal().await;
            tracing::info!("shutting down: finishing requests in flight and the current cycle");
            cancel.cancel();
        }
    });
    tracing::info!(
        %addr,
        monitor = monitor.is_some(),
        "serving the dashboard on http://{addr}/ and the API under /api (docs at /api/docs, metrics at /metrics)"
    );
    let server = signal_sentinel_http::serve(acceptor, app, cancel.clone().cancelled_owned());
    match (monitor, monitor_every) {
        (Some(monitor), Some(every)) => {
            let (served, ()) = tokio::join!(
                server,
                services.run_background(&monitor, every, cancel.clone())
            );
            served?;
        }
        _ => {
            // Without the monitor, brokerage tokens and channel secrets are still sealed under
            // the current key (after a rotation, or when stored before sealing existed).
            services.reseal_broker_tokens().await?;
            services.reseal_channel_secrets().await?;
            server.await?;
        }
    }
    tracing::info!("stopped");
    Ok(ExitCode::SUCCESS)
}
