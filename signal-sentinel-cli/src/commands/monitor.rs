//! `invest monitor …`

use std::path::Path;
use std::process::ExitCode;

use signal_sentinel::domain::text::printable;
use std::sync::Arc;
use std::time::Duration;

use signal_sentinel::clock::{Clock, ManualClock, ScaledClock, SystemClock};
use signal_sentinel::config::Settings;
use signal_sentinel::market::{MarketData, MarketStream, ReplayMarket, SimulatedMarket};
use signal_sentinel::monitor::{CycleReport, Monitor, MonitorConfig, Sharding};
use signal_sentinel::service::Services;
use tokio_util::sync::CancellationToken;

use crate::cli::MarketArgs;

use crate::output::out;

/// A market and the clock it runs on.
pub(crate) struct Market {
    /// What the monitor evaluates rules on.
    pub(crate) data: Arc<dyn MarketData>,
    /// What `Services` answers quotes and portfolios from: the same market, without the
    /// monitor's age limit on provider quotes (on a weekend the last close is still the last
    /// price, as `invest quote` shows it).
    pub(crate) quotes: Arc<dyn MarketData>,
    pub(crate) clock: Arc<dyn Clock>,
    /// The trade stream a running monitor evaluates rules on, besides its polls.
    pub(crate) stream: Option<Arc<dyn MarketStream>>,
}

impl Market {
    /// Evaluates `monitor`'s rules on the stream too, when there is one.
    pub(crate) fn streamed(&self, monitor: Monitor, args: &MarketArgs) -> Monitor {
        match &self.stream {
            Some(stream) => monitor.with_stream(
                stream.clone(),
                Duration::from_millis(args.stream_spacing_ms),
            ),
            None => monitor,
        }
    }
}

/// Which market and clock `--market` names. `one_cycle` replays the file's last moment; a
/// running monitor replays from its first at `--speed`.
pub(crate) fn market(
    settings: &Settings,
    args: &MarketArgs,
    one_cycle: bool,
) -> anyhow::Result<Market> {
    if matches!(args.market.as_str(), "providers" | "auto" | "stream") {
        let clock: Arc<dyn Clock> = Arc::new(SystemClock);
        // A quote older than this is asked of the next provider, then treated as missing.
        let max_age = chrono::Duration::minutes(30);
        let chain = |max_age| {
            signal_sentinel::market::providers_from_settings(settings, clock.clone(), max_age)
        };
        let stream = match args.market.as_str() {
            "providers" => None,
            "auto" => signal_sentinel::market::stream_from_settings(settings),
            _ => Some(
                signal_sentinel::market::stream_from_settings(settings).ok_or_else(|| {
                    anyhow::anyhow!(
                        "--market stream: no configured provider has a stream (set ALPACA_API_KEY and ALPACA_SECRET_KEY, or FINNHUB_API_KEY; Yahoo has none)"
                    )
                })?,
            ),
        };
        return Ok(Market {
            data: Arc::new(chain(Some(max_age))?),
            quotes: Arc::new(chain(None)?),
            clock,
            stream,
        });
    }
    if args.market == "simulated" {
        let clock: Arc<dyn Clock> = Arc::new(SystemClock);
        let data = Arc::new(SimulatedMarket::new(42, clock.clone()));
        return Ok(Market {
            quotes: data.clone(),
            data,
            clock,
            stream: None,
        });
    }
    let Some(path) = args.market.strip_prefix("replay:") else {
        return Err(anyhow::anyhow!(
            "unknown market {:?}: use --market auto, providers, stream, simulated or replay:PATH",
            args.market
        ));
    };
    let probe = ReplayMarket::from_path(Path::new(path), Arc::new(SystemClock))?;
    let timeline = probe.timeline();
    let (Some(first), Some(last)) = (timeline.first(), timeline.last()) else {
        return Err(anyhow::anyhow!("{path}: no bars to replay"));
    };
    let clock: Arc<dyn Clock> = if one_cycle {
        Arc::new(ManualClock::new(*last))
    } else {
        Arc::new(ScaledClock::new(*first, args.speed))
    };
    let market: Arc<dyn MarketData> =
        Arc::new(ReplayMarket::from_path(Path::new(path), clock.clone())?);
    Ok(Market {
        quotes: market.clone(),
        data: market,
        clock,
        stream: None,
    })
}

async fn monitor(
    settings: &Settings,
    args: &MarketArgs,
    one_cycle: bool,
) -> anyhow::Result<(Services, Monitor)> {
    let chosen = market(settings, args, one_cycle)?;
    let services = Services::open_with_market(settings, chosen.quotes.clone()).await?;
    let monitor = services.monitor(
        chosen.data.clone(),
        chosen.clock.clone(),
        MonitorConfig::default(),
    );
    Ok((services, chosen.streamed(monitor, args)))
}

/// `invest monitor run`
pub(crate) async fn run(
    settings: &Settings,
    args: &MarketArgs,
    verbose: bool,
    as_json: bool,
) -> anyhow::Result<ExitCode> {
    let (_, monitor) = monitor(settings, args, true).await?;
    let report = monitor.run_once().await?;
    if as_json {
        out!("{}", serde_json::to_string(&report)?);
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
        let p = &report.phases;
        out!(
            "  phases: load {} ms, fetch {} ms, evaluate {} ms, commit {} ms",
            p.load.as_millis(),
            p.fetch.as_millis(),
            p.evaluate.as_millis(),
            p.commit.as_millis()
        );
        for alert in &report.alerts {
            out!(
                "  alert #{}: {} {} — {}",
                alert.id,
                alert.symbol,
                alert.price,
                printable(&alert.message)
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
) -> anyhow::Result<ExitCode> {
    // Shares the rules with the other workers on the same database (alone, it holds every
    // shard).
    let (services, monitor) = monitor(settings, args, false).await?;
    let monitor = monitor.sharded(Sharding::for_interval(interval));
    tracing::info!(
        interval_s = interval.as_secs(),
        market = %args.market,
        "monitor started with the notification dispatcher; Ctrl-C stops it after the current cycle"
    );
    let cancel = CancellationToken::new();
    tokio::spawn({
        let cancel = cancel.clone();
        async move {
            shutdown_signal().await;
            cancel.cancel();
        }
    });
    services.run_background(&monitor, interval, cancel).await;
    Ok(ExitCode::SUCCESS)
}

/// `invest monitor status`: the live workers on the database, their shards and last cycle.
pub(crate) async fn status(settings: &Settings, as_json: bool) -> anyhow::Result<ExitCode> {
    let services = super::services(settings).await?;
    let now = services.now();
    let workers = services.live_workers().await?;
    let held: usize = workers.iter().map(|w| w.shards.len()).sum();
    let shards = signal_sentinel::domain::SHARDS as usize;
    if as_json {
        out!(
            "{}",
            serde_json::to_string(&serde_json::json!({
                "workers": workers,
                "shards": shards,
                "unassigned_shards": shards.saturating_sub(held),
            }))?
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
                "worker {} (host {}, pid {}, every {} s, heartbeat {} ago): {} shards {}; {last}; {}",
                w.id,
                w.host,
                w.pid,
                w.interval_seconds,
                ago(now - w.heartbeat_at),
                w.shards.len(),
                ranges(&w.shards),
                feed(w.feed.as_ref(), now)
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
        anyhow::bail!(
            "no live monitor worker on this database: rules are not being evaluated (start one with `invest monitor start`)"
        );
    }
    Ok(ExitCode::SUCCESS)
}

/// `market: stream finnhub, connected, 42 symbols, 3 reconnects, 1,204 trade cycles`
fn feed(
    feed: Option<&signal_sentinel::domain::MarketFeed>,
    now: chrono::DateTime<chrono::Utc>,
) -> String {
    let Some(feed) = feed else {
        return "market: not reported yet".to_owned();
    };
    let Some(stream) = &feed.stream else {
        return format!("market: {}", feed.mode);
    };
    let health = if stream.connected {
        format!("connected, {} symbols", stream.subscribed)
    } else {
        format!(
            "DOWN ({}), polling meanwhile",
            stream.last_error.as_deref().unwrap_or("not connected yet")
        )
    };
    let last = stream
        .last_message_at
        .map(|at| format!(", last message {} ago", ago(now - at)))
        .unwrap_or_default();
    format!(
        "market: stream {}, {health}{last}, {} reconnects, {} trade cycles, {} trades ({} coalesced)",
        stream.provider,
        stream.reconnects,
        feed.trade_cycles,
        feed.trades_received,
        feed.trades_coalesced
    )
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
