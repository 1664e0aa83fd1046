//! The monitor: every cycle, evaluate every enabled rule whose symbol is in session against
//! fresh quotes, and write what changed in one transaction.
//!
//! A cycle ([`Monitor::run_once`]):
//! 1. brings the enabled rules in memory up to date through the store's log of rule changes
//!    (reading and parsing only rules new or edited since the last cycle; every rule's stamp
//!    only at start, after a change of shards and hourly);
//! 2. keeps the symbols whose market is open now (NYSE calendar for equities, extended hours
//!    when a rule asks for them; crypto always);
//! 3. warms up daily history once per exchange day for symbols whose rules need it
//!    (averages, RSI, volume, 52-week extremes);
//! 4. fetches quotes in batches of the provider's size, a few batches at a time;
//! 5. steps every rule of every symbol (no I/O, no allocation per rule);
//! 6. commits changed rule states, new alerts with their pending deliveries, rules that fired
//!    and the symbols' latest samples in one transaction.
//!
//! Everything a rule's next evaluation depends on is in the store after the commit, so a
//! restarted monitor — or another worker — carries on where this one stopped: an alert is
//! never raised twice for an episode (the store also refuses duplicates) and never lost (a
//! failed commit leaves the rule where it was, and the next cycle raises it again).
//!
//! Several workers share the rules when each is [`Monitor::sharded`]: the symbol space is cut
//! into [`SHARDS`](crate::domain::SHARDS) shards, each cycle starts by taking the worker's
//! share of them through the store ([`WorkerStore::rebalance_shards`](crate::store::WorkerStore::rebalance_shards)),
//! evaluates only the rules of its shards, and commits only if it still holds them (a fence in
//! the cycle's transaction). A worker that stops frees its shards; one that dies loses them
//! when its leases expire; one that joins gets its share from the others' next cycles.

mod cache;
mod evaluate;
mod events;
mod fetch;
mod load;
mod sharding;
mod stats;
mod stream;

use std::collections::HashMap;
use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration as StdDuration;

use serde::Serialize;
use thiserror::Error;
use tokio::sync::Mutex;

use crate::clock::Clock;
use crate::domain::{Alert, CycleWrite, Quote, ShardFence, Symbol, UserId};
use crate::market::MarketData;
use crate::market::stream::{MarketStream, Trade};
use crate::store::{Store, StoreError};
use crate::time::Timestamp;

pub use crate::domain::MarketFeed;
use cache::Cache;
use evaluate::evaluate;
use load::in_session;
pub use sharding::Sharding;
use sharding::{heartbeat, shard_mask};
pub use stats::{MonitorSnapshot, MonitorStats};

/// How the monitor runs.
#[derive(Debug, Clone)]
pub struct MonitorConfig {
    /// Quote batches in flight at once. By default, this is 4.
    pub concurrency: usize,
    /// Pauses rules that fire too often. By default, more than 15 firings in 3 minutes.
    pub flood_guard: FloodGuard,
}

impl Default for MonitorConfig {
    fn default() -> Self {
        Self {
            concurrency: 4,
            flood_guard: FloodGuard::default(),
        }
    }
}

/// A rule that fires more than `firings` times within `window` is paused (disabled, as a rule
/// that fires once disables itself), and the alert that tripped the guard tells its owner so;
/// its "Re-arm" button (or `POST /api/alerts/{id}/actions/rearm`) resumes it. The window
/// starts at the first firing it counts and ends `window` later; the next firing after it
/// starts a new one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FloodGuard {
    /// Firings allowed in a window.
    pub firings: u32,
    /// The window.
    pub window: chrono::Duration,
}

impl Default for FloodGuard {
    fn default() -> Self {
        Self {
            firings: 15,
            window: chrono::Duration::minutes(3),
        }
    }
}

/// A cycle that could not complete.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum MonitorError {
    /// Reading rules or writing the cycle failed; nothing of the cycle was written.
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// What one cycle did.
#[derive(Debug, Clone, Serialize)]
pub struct CycleReport {
    /// The cycle's time (the clock's, at its start).
    pub at: Timestamp,
    /// How long it took.
    pub duration: StdDuration,
    /// Enabled rules (this worker's).
    pub rules: usize,
    /// Rules loaded from the store this cycle: new or edited ones.
    pub rules_loaded: usize,
    /// Whether the cycle read every enabled rule's stamp (at start, after a change of shards,
    /// when the log of changes was pruned past it, and hourly) instead of only the log.
    pub rules_rescanned: bool,
    /// Rules evaluated (their symbol in session, not expired).
    pub evaluated: usize,
    /// Symbols in session.
    pub symbols: usize,
    /// Quotes received.
    pub quotes: usize,
    /// Quote requests made to the provider.
    pub market_calls: usize,
    /// Alerts stored by this cycle.
    pub alerts: Vec<Alert>,
    /// What went wrong without stopping the cycle (a provider batch, a rule that cannot be
    /// read).
    pub problems: Vec<String>,
    /// The market-data providers after the cycle: breaker state, calls, failures, last error.
    pub providers: Vec<crate::market::ProviderStatus>,
    /// The shards this worker held during the cycle (`None`: not sharded, every rule).
    pub shards: Option<Vec<u32>>,
    /// Where the cycle's time went.
    pub phases: CyclePhases,
}

impl CycleReport {
    /// A cycle that did nothing.
    fn nothing(at: Timestamp, started: std::time::Instant) -> Self {
        Self {
            at,
            duration: started.elapsed(),
            rules: 0,
            rules_loaded: 0,
            rules_rescanned: false,
            evaluated: 0,
            symbols: 0,
            quotes: 0,
            market_calls: 0,
            alerts: Vec::new(),
            problems: Vec::new(),
            providers: Vec::new(),
            shards: None,
            phases: CyclePhases::default(),
        }
    }
}

/// How long each phase of a cycle took: where the next bottleneck is.
#[derive(Debug, Clone, Copy, Default, Serialize)]
pub struct CyclePhases {
    /// Reading rules, states, samples, corporate calendars and daily history.
    pub load: StdDuration,
    /// Holdings, quotes, splits and minute bars.
    pub fetch: StdDuration,
    /// Stepping every rule.
    pub evaluate: StdDuration,
    /// The one transaction.
    pub commit: StdDuration,
}

/// Watches the market for the rules in a store. Cheap to share (`Arc`); one cycle runs at a
/// time.
#[derive(Clone)]
pub struct Monitor {
    store: Arc<dyn Store>,
    market: Arc<dyn MarketData>,
    clock: Arc<dyn Clock>,
    config: MonitorConfig,
    cache: Arc<Mutex<Cache>>,
    stats: Arc<MonitorStats>,
    on_alerts: Option<AlertHook>,
    sharding: Option<Arc<Sharding>>,
    stream: Option<StreamSetup>,
}

/// A stream of trades the monitor evaluates rules on.
#[derive(Clone)]
struct StreamSetup {
    stream: Arc<dyn MarketStream>,
    /// The least time between two cycles on trades (each symbol's trades in between are
    /// taken as its latest).
    spacing: StdDuration,
}

/// Called by [`Monitor::run`] with the alerts a cycle stored, after they are committed (their
/// deliveries are already in the outbox: a hook never holds a notification back).
pub type AlertHook = Arc<dyn Fn(Vec<Alert>) + Send + Sync>;

impl std::fmt::Debug for Monitor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Monitor")
            .field("market", &self.market.name())
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

impl Monitor {
    /// A monitor over `store`'s rules, quoting from `market`, timed by `clock`.
    pub fn new(
        store: Arc<dyn Store>,
        market: Arc<dyn MarketData>,
        clock: Arc<dyn Clock>,
        config: MonitorConfig,
    ) -> Self {
        Self {
            store,
            market,
            clock,
            config,
            cache: Arc::default(),
            stats: Arc::default(),
            on_alerts: None,
            sharding: None,
            stream: None,
        }
    }

    /// Evaluates the rules on `stream`'s trades as they come, besides the polled cycles
    /// ([`run`](Self::run) subscribes to the symbols of the rules evaluated on every sample,
    /// follows rule changes within a second, and polls at once after the stream reconnects so
    /// nothing that happened while it was down is missed). `spacing` is the least time
    /// between two cycles on trades.
    #[must_use]
    pub fn with_stream(mut self, stream: Arc<dyn MarketStream>, spacing: StdDuration) -> Self {
        self.stream = Some(StreamSetup { stream, spacing });
        self
    }

    /// The monitor as an operator sees it, with its feed as of now.
    pub fn snapshot(&self) -> MonitorSnapshot {
        let mut snapshot = self.stats.snapshot();
        snapshot.feed = self.feed();
        snapshot
    }

    /// Where quotes come from now.
    pub fn feed(&self) -> MarketFeed {
        let mut feed = self.stats.snapshot().feed;
        match &self.stream {
            Some(setup) => {
                feed.mode = "stream".into();
                feed.stream = Some(setup.stream.status());
            }
            None => feed.mode = "poll".into(),
        }
        feed
    }

    /// Shares the rules with the other workers on the same store: each cycle evaluates only
    /// the rules of the shards this worker holds (see the module's documentation).
    #[must_use]
    pub fn sharded(mut self, sharding: Sharding) -> Self {
        self.sharding = Some(Arc::new(sharding));
        self
    }

    /// This worker, when sharded.
    pub fn sharding(&self) -> Option<&Sharding> {
        self.sharding.as_deref()
    }

    /// The store it writes.
    pub fn store(&self) -> &Arc<dyn Store> {
        &self.store
    }

    /// The market it asks.
    pub fn market(&self) -> &Arc<dyn MarketData> {
        &self.market
    }

    /// Calls `hook` with each cycle's new alerts (summaries, live feeds …).
    #[must_use]
    pub fn on_alerts(mut self, hook: AlertHook) -> Self {
        self.on_alerts = Some(hook);
        self
    }

    /// Counters over the monitor's life.
    pub fn stats(&self) -> &MonitorStats {
        &self.stats
    }

    /// [`run`](Self::run) on a task of its own until `cancel` is cancelled.
    pub fn spawn(
        &self,
        interval: StdDuration,
        cancel: tokio_util::sync::CancellationToken,
    ) -> tokio::task::JoinHandle<()> {
        let monitor = self.clone();
        tokio::spawn(async move { monitor.run(interval, cancel.cancelled_owned()).await })
    }

    /// Runs cycles every `interval` until `shutdown` completes. A cycle in progress when it
    /// does is finished first; ticks missed by a long cycle are skipped (and the overrun is
    /// logged and counted); a failed cycle is logged and the next one tried. With a stream
    /// ([`with_stream`](Self::with_stream)), cycles on trades run in between.
    pub async fn run(&self, interval: StdDuration, shutdown: impl Future<Output = ()>) {
        let mut ticker = tokio::time::interval(interval);
        ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
        tokio::pin!(shutdown);
        let feed = self.feed();
        self.stats.update(|s| {
            s.running = true;
            s.interval_seconds = Some(interval.as_secs());
            s.feed = feed;
        });
        let (stop_beating, beating) = tokio::sync::watch::channel(());
        let heartbeat = self
            .sharding
            .clone()
            .map(|sharding| tokio::spawn(heartbeat(self.store.clone(), sharding, beating)));
        let streaming = self.stream.clone().map(stream::Streaming::start);
        // Rule changes are followed (and subscriptions with them) every second.
        let mut follow = tokio::time::interval(StdDuration::from_secs(1));
        follow.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
        loop {
            tokio::select! {
                biased;
                () = &mut shutdown => break,
                _ = ticker.tick() => {
                    self.poll(interval).await;
                    if let Some(streaming) = &streaming {
                        self.subscribe(streaming).await;
                    }
                }
                // Before the trades: under a flood of trades, rule changes and a reconnect
                // are still followed within a second.
                _ = follow.tick(), if streaming.is_some() => {
                    if let Some(streaming) = &streaming {
                        if self.follow_stream(streaming).await {
                            // Back after a drop: what traded meanwhile is polled now.
                            self.poll(interval).await;
                        }
                        self.subscribe(streaming).await;
                    }
                }
                () = stream::trades_ready(streaming.as_ref()) => {
                    if let Some(streaming) = &streaming {
                        self.on_trades(streaming).await;
                    }
                }
            }
        }
        if let Some(streaming) = streaming {
            streaming.stop().await;
        }
        let _ = stop_beating.send(());
        if let Some(heartbeat) = heartbeat {
            let _ = heartbeat.await;
        }
        if let Some(sharding) = &self.sharding {
            // The others take the shards at their next cycle instead of after the leases.
            match self.store.leave(&sharding.worker.id).await {
                Ok(()) => tracing::info!(worker = %sharding.worker.id, "left; shards freed"),
                Err(e) => tracing::warn!("cannot free the shards (they expire instead): {e}"),
            }
        }
        self.stats.update(|s| s.running = false);
    }

    /// One polled cycle, recorded.
    async fn poll(&self, interval: StdDuration) {
        let every = chrono::Duration::from_std(interval).unwrap_or(chrono::Duration::MAX);
        let outcome = self.run_once().await;
        let next = self.clock.now().checked_add_signed(every);
        if let Some(sharding) = &self.sharding {
            sharding::record_cycle(&*self.store, sharding, &outcome, self.feed()).await;
        }
        self.hook(&outcome);
        self.stats.record(&outcome, interval, next);
    }

    /// Calls the alert hook with a cycle's alerts.
    fn hook(&self, outcome: &Result<CycleReport, MonitorError>) {
        if let (Ok(report), Some(hook)) = (outcome, &self.on_alerts)
            && !report.alerts.is_empty()
        {
            hook(report.alerts.clone());
        }
    }

    /// Runs one cycle.
    ///
    /// # Errors
    /// [`MonitorError::Store`] when rules cannot be read or the cycle cannot be written; then
    /// nothing of it is written and the next cycle starts again from the stored state.
    pub async fn run_once(&self) -> Result<CycleReport, MonitorError> {
        self.cycle(None).await
    }

    /// Runs a cycle on streamed trades (one per symbol; of several, the latest counts): the
    /// rules of the symbols that traded (those evaluated on every sample; rules at the close
    /// or on minute bars wait for the polled cycles), each on a quote made of its symbol's
    /// latest trade and the day's figures of the last quote, with the same engine, states and
    /// one-transaction write as [`run_once`](Self::run_once), and the rules as the last polled
    /// cycle or [`run`](Self::run)'s follow tick left them. Before the first polled cycle, or
    /// when no trade makes a quote, it does nothing.
    ///
    /// # Errors
    /// As [`run_once`](Self::run_once).
    pub async fn run_on_trades(&self, trades: Vec<Trade>) -> Result<CycleReport, MonitorError> {
        self.cycle(Some(trades)).await
    }

    /// A polled cycle (`trades` is `None`) or a cycle on trades.
    async fn cycle(&self, trades: Option<Vec<Trade>>) -> Result<CycleReport, MonitorError> {
        let started = std::time::Instant::now();
        let now = self.clock.now();
        let mut cache = self.cache.lock().await;
        let mut problems = Vec::new();

        // Load: the shards this worker holds, their rules and states. A cycle on trades keeps
        // the shards of the last polled cycle (its commit is fenced by them all the same).
        let owned = match &trades {
            None => self.owned_shards().await?,
            Some(_) if cache.sync.through.is_none() => {
                return Ok(CycleReport::nothing(now, started));
            }
            Some(_) => cache.sync.shards.clone(),
        };
        let mine = owned.as_deref().map(shard_mask);
        let is_mine = |symbol: &Symbol| sharding::holds(mine.as_ref(), symbol);
        // What another worker may have changed since this one held a shard is read afresh;
        // the symbols of other shards that combinations here read stay this worker's own.
        cache
            .symbols
            .retain(|symbol, entry| is_mine(symbol) != entry.foreign);

        // Only trades that make a quote (newer than the symbol's last, of the same day).
        let traded: Option<HashMap<Symbol, Quote>> =
            trades.map(|trades| stream::trade_quotes(&cache, trades));
        let rules_read = match &traded {
            None => {
                self.load_rules(&mut cache, owned.as_deref(), now, &is_mine, &mut problems)
                    .await?
            }
            // Nothing to evaluate: no transaction for nothing.
            Some(traded) if traded.is_empty() => return Ok(CycleReport::nothing(now, started)),
            // Rule changes are followed between cycles on trades (`run`'s follow tick).
            Some(_) => load::RulesRead {
                enabled: cache.rules.len(),
                ..load::RulesRead::default()
            },
        };

        let by_symbol = in_session(&cache, now, traded.as_ref());
        let evaluated: usize = by_symbol.values().map(Vec::len).sum();

        self.load_states(&mut cache, &by_symbol, &mut problems)
            .await?;
        for symbol in by_symbol.keys() {
            let entry = cache.symbols.entry(symbol.clone()).or_default();
            entry.foreign = !is_mine(symbol);
        }
        self.corporate_events(&mut cache, &by_symbol, now, &mut problems)
            .await?;
        self.warm_up(&mut cache, &by_symbol, now, &mut problems)
            .await;
        let loaded = std::time::Instant::now();
        // Fetch: the quotes of the symbols in session and of the holdings rules read.
        let portfolio = Symbol::parse(crate::engine::PORTFOLIO).ok();
        let (wanted, mut holdings) = self
            .holdings(&cache, &by_symbol, portfolio.as_ref(), &mut problems)
            .await;
        let (mut quotes, market_calls) = match &traded {
            None => self.fetch(wanted, &mut problems).await,
            Some(traded) => (stream::with_last_quotes(&cache, traded, &wanted), 0),
        };
        for quote in quotes.values() {
            if let Some(entry) = cache.symbols.get_mut(&quote.symbol) {
                entry.last_quote = Some(quote.clone());
            }
        }
        let mut write = CycleWrite {
            at: Some(now),
            fence: self
                .sharding
                .as_ref()
                .zip(owned.as_ref())
                .map(|(s, shards)| ShardFence {
                    worker: s.worker.id.clone(),
                    shards: shards.clone(),
                    lease_until: s.clock.now() + s.lease,
                }),
            ..CycleWrite::default()
        };
        // Splits first: the quotes, history and levels the rules read are then the new ones.
        events::apply_splits(&mut cache, &by_symbol, &mut quotes, now, &mut write);
        events::adjust_holdings(&mut holdings, &write.splits, now);
        if traded.is_none() {
            self.minute_bars(&mut cache, &by_symbol, now, &mut problems)
                .await;
        } else {
            // Minute bars are stepped by the polled cycles only.
            for symbol in by_symbol.keys() {
                if let Some(entry) = cache.symbols.get_mut(symbol) {
                    entry.new_bars = 0;
                }
            }
        }
        let fetched = std::time::Instant::now();
        let books: HashMap<UserId, crate::engine::Book> = holdings
            .iter()
            .map(|(owner, held)| {
                let priced: Vec<&Quote> =
                    held.iter().filter_map(|h| quotes.get(&h.symbol)).collect();
                (*owner, crate::engine::Book::new(held, &priced))
            })
            .collect();

        write
            .states
            .extend(self.broken_states(&mut cache, now).await?);
        // Evaluate every rule on its symbol's quote, into what the cycle writes.
        evaluate(
            &mut cache,
            &by_symbol,
            &evaluate::Inputs {
                quotes: &quotes,
                books: &books,
                portfolio: portfolio.as_ref(),
                now,
                flood_guard: self.config.flood_guard,
                minute_bars: self.market.has_minute_bars(),
            },
            &mut write,
        );
        drop(cache);
        let evaluated_at = std::time::Instant::now();

        // Commit: states, samples and alerts in one transaction.
        let alerts = match self.store.commit_cycle(write).await {
            Ok(alerts) => alerts,
            Err(e) => {
                // What this cycle computed is not stored: forget it, so the next cycle starts
                // from the stored states and samples and raises the same alerts again.
                let mut cache = self.cache.lock().await;
                cache.clear_states();
                cache.symbols.clear();
                return Err(e.into());
            }
        };
        self.stats.cycles.fetch_add(1, Ordering::Relaxed);
        let phases = CyclePhases {
            load: loaded - started,
            fetch: fetched - loaded,
            evaluate: evaluated_at - fetched,
            commit: evaluated_at.elapsed(),
        };
        Ok(CycleReport {
            at: now,
            duration: started.elapsed(),
            rules: rules_read.enabled,
            rules_loaded: rules_read.loaded,
            rules_rescanned: rules_read.rescanned,
            evaluated,
            symbols: by_symbol.len(),
            quotes: quotes.len(),
            market_calls,
            alerts,
            problems,
            providers: self.market.provider_status(),
            shards: owned,
            phases,
        })
    }
}
