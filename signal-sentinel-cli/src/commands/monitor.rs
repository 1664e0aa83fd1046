//! `invest monitor …`

use std::path::Path;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use signal_sentinel::clock::{Clock, ManualClock, ScaledClock, SystemClock};
use signal_sentinel::config::Settings;
use signal_sentinel::market::{MarketData, ReplayMarket, SimulatedMarket};
use signal_sentinel::monitor::{CycleReport, Monitor, MonitorConfig, Sharding};
use signal_sentinel::store::SeaStore;

use crate::cli::MarketArgs;

use crate::output::out;

/// A market and the clock it runs on.
pub(crate) struct Market {
    pub(crate) data: Arc<dyn MarketData>,
    pub(crate) clock: Arc<dyn Clock>,
}

/// Which market and clock `--market` names. `one_cycle` replays the file's last moment; a
/// running monitor replays from its first at `--speed`.
pub(crate) fn market(
    settings: &Settings,
    args: &MarketArgs,
    one_cycle: bool,
) -> Result<Market, String> {
    if args.market == "providers" {
        let clock: Arc<dyn Clock> = Arc::new(SystemClock);
        // A quote older than this is asked of the next provider, then treated as missing.
        let max_age = chrono::Duration::minutes(30);
        let chain = signal_sentinel::market::providers_from_settings(
            settings,
            clock.clone(),
            Some(max_age),
        )?;
        return Ok(Market {
            data: Arc::new(chain),
            clock,
        });
    }
    if args.market == "simulated" {
        let clock: Arc<dyn Clock> = Arc::new(SystemClock);
        let data = Arc::new(SimulatedMarket::new(42, clock.clone()));
        return Ok(Market { data, clock });
    }
    let Some(path) = args.market.strip_prefix("replay:") else {
        return Err(format!(
            "unknown market {:?}: use --market providers, --market simulated or --market replay:PATH",
            args.market
        ));
    };
    let probe = ReplayMarket::from_path(Path::new(path), Arc::new(SystemClock))
        .map_err(|e| e.to_string())?;
    let timeline = probe.timeline();
    let (Some(first), Some(last)) = (timeline.first(), timeline.last()) else {
        return Err(format!("{path}: no bars to replay"));
    };
    let clock: Arc<dyn Clock> = if one_cycle {
        Arc::new(ManualClock::new(*last))
    } else {
        Arc::new(ScaledClock::new(*first, args.speed))
    };
    let market =
        ReplayMarket::from_path(Path::new(path), clock.clone()).map_err(|e| e.to_string())?;
    Ok(Market {
        data: Arc::new(market),
        clock,
    })
}

async fn monitor(
    settings: &Settings,
    args: &MarketArgs,
    one_cycle: bool,
) -> Result<Monitor, String> {
    let Market { data, clock } = market(settings, args, one_cycle)?;
    monitor_over(settings, data, clock).await
}

/// A monitor over the configured database and the given market.
pub(crate) async fn monitor_over(
    settings: &Settings,
    data: Arc<dyn MarketData>,
    clock: Arc<dyn Clock>,
) -> Result<Monitor, String> {
    let store = SeaStore::open(&settings.database_url)
        .await
        .map_err(|e| e.to_string())?;
    Ok(Monitor::new(
        Arc::new(store),
        data,
        clock,
        MonitorConfig::default(),
    ))
}

/// `invest monitor run`
pub(crate) async fn run(
    settings: &Settings,
    args: &MarketArgs,
    verbose: bool,
    as_json: bool,
) -> Result<ExitCode, String> {
    let monitor = monitor(settings, args, true).await?;
    let report = monitor.run_once().await.map_err(|e| e.to_string())?;
    if as_json {
        out!(
            "{}",
            serde_json::to_string(&report).map_err(|e| e.to_string())?
        );
    } else {
        print_report(&report, verbose);
    }
    Ok(ExitCode::SUCCESS)
}

fn print_report(report: &CycleReport, verbose: bool) {
    out!(
        "cycle at {}: {} rules, {} evaluated on {} symbols in session, {} quotes from {} requests, {} alerts, {} ms",
        report.at.format("%Y-%m-%d %H:%M:%S UTC"),
        report.rules,
        report.evaluated,
        report.symbols,
        report.quotes,
        report.market_calls,
        report.alerts.len(),
        report.duration.as_millis()
    );
    if verbose {
        for alert in &report.alerts {
            out!(
                "  alert #{}: {} {} — {}",
                alert.id,
                alert.symbol,
                alert.price,
                alert.message
            );
        }
    }
    for problem in &report.problems {
        out!("  problem: {problem}");
    }
    for p in &report.providers {
        let state = match p.state {
            signal_sentinel::market::BreakerState::Closed => "closed",
            signal_sentinel::market::BreakerState::Open => "OPEN",
            signal_sentinel::market::BreakerState::HalfOpen => "half-open",
        };
        out!(
            "  provider {}: breaker {state}, {} calls, {} failed{}",
            p.name,
            p.calls,
            p.failures,
            p.last_error
                .as_deref()
                .map(|e| format!(", last error: {e}"))
                .unwrap_or_default()
        );
    }
}

/// `invest monitor start`: the monitor, and beside it the notification dispatcher and the
/// daily digests; Ctrl-C (or SIGTERM) stops all three after their current round.
pub(crate) async fn start(
    settings: &Settings,
    args: &MarketArgs,
    interval: Duration,
) -> Result<ExitCode, String> {
    // Shares the rules with the other workers on the same database (alone, it holds every
    // shard).
    let monitor = with_summaries(
        settings,
        monitor(settings, args, false)
            .await?
            .sharded(Sharding::for_interval(interval)),
    )?;
    tracing::info!(
        interval_s = interval.as_secs(),
        market = %args.market,
        "monitor started with the notification dispatcher; Ctrl-C stops it after the current cycle"
    );
    work(settings, &monitor, interval, shutdown_signal()).await?;
    Ok(ExitCode::SUCCESS)
}

/// `invest monitor status`: the live workers on the database, their shards and last cycle.
pub(crate) async fn status(settings: &Settings, as_json: bool) -> Result<ExitCode, String> {
    use signal_sentinel::store::WorkerStore;
    let store = SeaStore::open(&settings.database_url)
        .await
        .map_err(|e| e.to_string())?;
    let now = signal_sentinel::time::now();
    let mut workers = store
        .list_workers(now - chrono::Duration::hours(1))
        .await
        .map_err(|e| e.to_string())?;
    workers.retain(|w| w.is_live(now));
    let held: usize = workers.iter().map(|w| w.shards.len()).sum();
    let shards = signal_sentinel::domain::SHARDS as usize;
    if as_json {
        out!(
            "{}",
            serde_json::to_string(&serde_json::json!({
                "workers": workers,
                "shards": shards,
                "unassigned_shards": shards.saturating_sub(held),
            }))
            .map_err(|e| e.to_string())?
        );
    } else {
        for w in &workers {
            let last = match (&w.last_cycle_at, &w.last_error) {
                (_, Some(error)) => format!("last cycle failed: {error}"),
                (Some(at), None) => format!(
                    "last cycle {} ago: {} rules, {} alerts, {} ms",
                    ago(now - *at),
                    w.last_cycle_rules.unwrap_or(0),
                    w.last_cycle_alerts.unwrap_or(0),
                    w.last_cycle_ms.unwrap_or(0)
                ),
                (None, None) => "no cycle yet".to_owned(),
            };
            out!(
                "worker {} (host {}, pid {}, every {} s, heartbeat {} ago): {} shards {}; {last}",
                w.id,
                w.host,
                w.pid,
                w.interval_seconds,
                ago(now - w.heartbeat_at),
                w.shards.len(),
                ranges(&w.shards)
            );
        }
        if !workers.is_empty() && held < shards {
            out!(
                "{} of {shards} shards unassigned (being handed over; taken at the next cycle)",
                shards - held
            );
        }
    }
    if workers.is_empty() {
        return Err(
            "no live monitor worker on this database: rules are not being evaluated (start one with `invest monitor start`)"
                .to_owned(),
        );
    }
    Ok(ExitCode::SUCCESS)
}

fn ago(d: chrono::Duration) -> String {
    let s = d.num_seconds().max(0);
    if s < 120 {
        format!("{s} s")
    } else {
        format!("{} min", s / 60)
    }
}

/// `0-21,40,42-43`
fn ranges(shards: &[u32]) -> String {
    let mut parts = Vec::new();
    let mut i = 0;
    while i < shards.len() {
        let start = shards[i];
        let mut end = start;
        while i + 1 < shards.len() && shards[i + 1] == end + 1 {
            i += 1;
            end = shards[i];
        }
        parts.push(if start == end {
            start.to_string()
        } else {
            format!("{start}-{end}")
        });
        i += 1;
    }
    parts.join(",")
}

/// Summaries by the model configured in `settings` (else the template), over `store` and
/// `market`.
pub(crate) fn summaries(
    settings: &Settings,
    store: Arc<dyn signal_sentinel::store::Store>,
    market: Arc<dyn signal_sentinel::market::MarketData>,
) -> Result<signal_sentinel::summary::AlertSummaries, String> {
    Ok(signal_sentinel::summary::AlertSummaries::new(
        store,
        market,
        signal_sentinel::summary::AlertSummaries::model_from_settings(settings)?,
        settings.openai.daily_calls_per_user,
    ))
}

/// The monitor, summarising each new alert in the background (the model when `OPENAI_API_KEY`
/// is set, else the template) and storing the summary with it.
pub(crate) fn with_summaries(settings: &Settings, monitor: Monitor) -> Result<Monitor, String> {
    let summaries = Arc::new(summaries(
        settings,
        monitor.store().clone(),
        monitor.market().clone(),
    )?);
    Ok(monitor.on_alerts(Arc::new(move |alerts| {
        let summaries = summaries.clone();
        tokio::spawn(async move {
            for alert in alerts {
                if let Err(e) = summaries.summarize(&alert).await {
                    tracing::warn!(alert = %alert.id, "cannot store the summary: {e}");
                }
            }
        });
    })))
}

/// Runs the monitor every `interval`, the notification dispatcher and the daily digests until
/// `shutdown`; the cycle and the deliveries in progress finish first.
pub(crate) async fn work(
    settings: &Settings,
    monitor: &Monitor,
    interval: Duration,
    shutdown: impl std::future::Future<Output = ()>,
) -> Result<(), String> {
    let store: Arc<dyn signal_sentinel::store::Store> = Arc::new(
        SeaStore::open(&settings.database_url)
            .await
            .map_err(|e| e.to_string())?,
    );
    let clock: Arc<dyn Clock> = Arc::new(SystemClock);
    let store_for_sync = store.clone();
    let dispatcher = signal_sentinel::notify::Dispatcher::new(
        store.clone(),
        signal_sentinel::notify::channels::notifiers_from_settings(settings)?,
        clock.clone(),
        signal_sentinel::notify::DispatcherConfig::default(),
    );
    let (stop, stopped) = tokio::sync::watch::channel(());
    let until_stopped = |mut rx: tokio::sync::watch::Receiver<()>| async move {
        let _ = rx.changed().await;
    };
    let dispatching = tokio::spawn({
        let stopped = until_stopped(stopped.clone());
        async move { dispatcher.run(Duration::from_secs(5), stopped).await }
    });
    let digest_summaries = summaries(settings, store.clone(), monitor.market().clone())?;
    let digesting = tokio::spawn({
        let mut stopped = stopped.clone();
        async move {
            loop {
                if let Err(e) = signal_sentinel::notify::send_due_digests(
                    store.as_ref(),
                    clock.as_ref(),
                    Some(&digest_summaries),
                )
                .await
                {
                    tracing::error!("digests failed: {e}");
                }
                tokio::select! {
                    _ = stopped.changed() => break,
                    () = tokio::time::sleep(Duration::from_secs(60)) => {}
                }
            }
        }
    });
    let syncing = tokio::spawn(sync_brokerage(
        settings.clone(),
        store_for_sync,
        monitor.market().clone(),
        stopped.clone(),
    ));
    monitor.run(interval, shutdown).await;
    let _ = stop.send(());
    let _ = tokio::join!(dispatching, digesting, syncing);
    tracing::info!(
        cycles = monitor.stats().cycles(),
        overruns = monitor.stats().overruns(),
        "monitor stopped"
    );
    Ok(())
}

/// Brokerage links: re-seals access tokens left under `SECRET_KEY_PREVIOUS`, then every few
/// minutes synchronises the links whose holdings are older than `PLAID_SYNC_HOURS`.
async fn sync_brokerage(
    settings: Settings,
    store: Arc<dyn signal_sentinel::store::Store>,
    market: Arc<dyn signal_sentinel::market::MarketData>,
    mut stopped: tokio::sync::watch::Receiver<()>,
) {
    let services = match signal_sentinel::service::Services::from_settings(
        &settings,
        store,
        Arc::new(SystemClock),
        market,
        Vec::new(),
    ) {
        Ok(services) => services,
        Err(e) => {
            tracing::error!("brokerage sync disabled: {e}");
            return;
        }
    };
    if let Err(e) = services.reseal_broker_tokens().await {
        tracing::error!("re-sealing brokerage tokens failed: {e}");
    }
    if !services.brokerage_configured() {
        return;
    }
    loop {
        match services
            .sync_due_brokerage(settings.plaid.sync_interval)
            .await
        {
            Ok(reports) if !reports.is_empty() => {
                tracing::info!(links = reports.len(), "brokerage holdings synchronised");
            }
            Ok(_) => {}
            Err(e) => tracing::error!("brokerage sync failed: {e}"),
        }
        tokio::select! {
            _ = stopped.changed() => break,
            () = tokio::time::sleep(Duration::from_secs(300)) => {}
        }
    }
}

pub(crate) async fn shutdown_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        match signal(SignalKind::terminate()) {
            Ok(mut term) => {
                tokio::select! {
                    _ = tokio::signal::ctrl_c() => {}
                    _ = term.recv() => {}
                }
            }
            Err(_) => {
                let _ = tokio::signal::ctrl_c().await;
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}
