//! The monitor: every cycle, evaluate every enabled rule whose symbol is in session against
//! fresh quotes, and write what changed in one transaction.
//!
//! A cycle ([`Monitor::run_once`]):
//! 1. reads the enabled rules from the store (parsing only those new or edited since the
//!    last cycle);
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

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration as StdDuration;

use chrono::{Duration, NaiveDate};
use chrono_tz::America::New_York;
use serde::Serialize;
use thiserror::Error;
use tokio::sync::{Mutex, Semaphore};

use crate::clock::Clock;
use crate::domain::{
    Alert, AlertKind, CycleWrite, NewAlert, Quote, Rule, RuleFilter, RuleId, Sample, ShardFence,
    Symbol, SymbolSamples, UserId, WorkerCycle, WorkerIdentity, shard_of,
};
use crate::engine::indicators::{DailyHistory, exchange_date};
use crate::engine::{
    Condition, EngineState, MarketView, MessageContext, RuleOptions, Schedule, Transition,
    calendar, default_template, render, step,
};
use crate::market::MarketData;
use crate::store::{Store, StoreError};
use crate::time::Timestamp;

/// Rule stamps read per query.
const RULE_PAGE: u64 = 10_000;
/// New or edited rules loaded per query.
const RULE_LOAD_CHUNK: usize = 2_000;

/// How the monitor runs.
#[derive(Debug, Clone)]
pub struct MonitorConfig {
    /// Quote batches in flight at once. By default, this is 4.
    pub concurrency: usize,
}

impl Default for MonitorConfig {
    fn default() -> Self {
        Self { concurrency: 4 }
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
    /// Enabled rules read.
    pub rules: usize,
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
}

/// How a monitor shares the rules with other workers on the same database.
#[derive(Clone)]
pub struct Sharding {
    /// This worker.
    pub worker: WorkerIdentity,
    /// How long its leases last unrenewed ([`lease_for`](crate::domain::lease_for) its
    /// interval): a dead worker's shards are taken after this.
    pub lease: chrono::Duration,
    /// The wall clock of leases and heartbeats (not the market's clock, which may replay the
    /// past).
    pub clock: Arc<dyn Clock>,
}

impl std::fmt::Debug for Sharding {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Sharding")
            .field("worker", &self.worker)
            .field("lease", &self.lease)
            .finish_non_exhaustive()
    }
}

impl Sharding {
    /// This process as a worker cycling every `interval`, on the system clock.
    #[must_use]
    pub fn for_interval(interval: StdDuration) -> Self {
        Self {
            worker: WorkerIdentity::this_process(interval.as_secs()),
            lease: crate::domain::lease_for(interval),
            clock: Arc::new(crate::clock::SystemClock),
        }
    }
}

/// Counters over the monitor's life.
#[derive(Debug, Default)]
pub struct MonitorStats {
    cycles: AtomicU64,
    overruns: AtomicU64,
    failures: AtomicU64,
    latest: std::sync::Mutex<MonitorSnapshot>,
}

/// The monitor as an operator sees it: its last cycle, the next one and the providers.
#[derive(Debug, Clone, Default, Serialize)]
pub struct MonitorSnapshot {
    /// Whether the loop is running.
    pub running: bool,
    /// Seconds between cycles.
    pub interval_seconds: Option<u64>,
    /// When the last cycle started.
    pub last_cycle_at: Option<Timestamp>,
    /// How long it took, in milliseconds.
    pub last_cycle_ms: Option<u64>,
    /// Alerts it stored.
    pub last_cycle_alerts: Option<usize>,
    /// Its error, when it failed.
    pub last_error: Option<String>,
    /// When the next cycle is due.
    pub next_cycle_at: Option<Timestamp>,
    /// Cycles completed, overrun and failed since start.
    pub cycles: u64,
    /// Cycles that took longer than the interval.
    pub overruns: u64,
    /// Cycles that failed.
    pub failures: u64,
    /// The market-data providers after the last cycle.
    pub providers: Vec<crate::market::ProviderStatus>,
}

impl MonitorStats {
    /// Cycles completed.
    pub fn cycles(&self) -> u64 {
        self.cycles.load(Ordering::Relaxed)
    }

    /// Cycles that took longer than the interval.
    pub fn overruns(&self) -> u64 {
        self.overruns.load(Ordering::Relaxed)
    }

    /// Cycles that failed.
    pub fn failures(&self) -> u64 {
        self.failures.load(Ordering::Relaxed)
    }

    /// The state to report.
    pub fn snapshot(&self) -> MonitorSnapshot {
        let mut snapshot = self
            .latest
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone();
        snapshot.cycles = self.cycles();
        snapshot.overruns = self.overruns();
        snapshot.failures = self.failures();
        snapshot
    }

    fn update(&self, f: impl FnOnce(&mut MonitorSnapshot)) {
        f(&mut self
            .latest
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner));
    }
}

/// What the monitor keeps of a rule: only what evaluating it and writing its alerts need.
struct CachedRule {
    id: RuleId,
    owner: UserId,
    symbol: Symbol,
    name: Option<String>,
    created_at: Timestamp,
    updated_at: Timestamp,
    expires_at: Option<Timestamp>,
    snoozed_until: Option<Timestamp>,
    condition: Condition,
    options: RuleOptions,
    /// Completed sessions of daily history its condition needs (0: none).
    history_sessions: usize,
    window: Duration,
}

#[derive(Default)]
struct SymbolState {
    samples: Vec<Sample>,
    history: DailyHistory,
    /// The exchange day the history was loaded on.
    history_day: Option<NaiveDate>,
    /// What was loaded then: a rule saved later that needs more (a longer average, a 52-week
    /// extreme, volumes) has it loaded in its first cycle, not the next day.
    history_need: HistoryNeed,
}

/// How much daily history the rules of a symbol read.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
struct HistoryNeed {
    sessions: usize,
    ranges: bool,
    volumes: bool,
}

impl HistoryNeed {
    fn of(rule: &CachedRule) -> Self {
        Self {
            sessions: rule.history_sessions,
            ranges: rule.condition.reads_daily_ranges(),
            volumes: rule.condition.reads_daily_volumes(),
        }
    }

    fn union(self, other: Self) -> Self {
        Self {
            sessions: self.sessions.max(other.sessions),
            ranges: self.ranges || other.ranges,
            volumes: self.volumes || other.volumes,
        }
    }

    fn covers(self, other: Self) -> bool {
        self.sessions >= other.sessions
            && (self.ranges || !other.ranges)
            && (self.volumes || !other.volumes)
    }
}

#[derive(Default)]
struct Cache {
    rules: HashMap<RuleId, CachedRule>,
    states: HashMap<RuleId, EngineState>,
    symbols: HashMap<Symbol, SymbolState>,
    /// Rules whose stored condition or options cannot be read, with the edit that broke them:
    /// marked `error` once, read again when edited.
    broken: HashMap<RuleId, Timestamp>,
    /// Newly broken rules, to mark in this cycle's write.
    newly_broken: Vec<RuleId>,
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
        }
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

    /// Runs cycles every `interval` until `shutdown` completes. A cycle in progress when it
    /// does is finished first; ticks missed by a long cycle are skipped (and the overrun is
    /// logged and counted); a failed cycle is logged and the next one tried.
    pub async fn run(&self, interval: StdDuration, shutdown: impl Future<Output = ()>) {
        let mut ticker = tokio::time::interval(interval);
        ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
        tokio::pin!(shutdown);
        let every = chrono::Duration::from_std(interval).unwrap_or(chrono::Duration::MAX);
        self.stats.update(|s| {
            s.running = true;
            s.interval_seconds = Some(interval.as_secs());
        });
        let (stop_beating, beating) = tokio::sync::watch::channel(());
        let heartbeat = self
            .sharding
            .clone()
            .map(|sharding| tokio::spawn(heartbeat(self.store.clone(), sharding, beating)));
        loop {
            tokio::select! {
                biased;
                () = &mut shutdown => break,
                _ = ticker.tick() => {}
            }
            let outcome = self.run_once().await;
            let next = self.clock.now().checked_add_signed(every);
            if let Some(sharding) = &self.sharding {
                let cycle = match &outcome {
                    Ok(report) => WorkerCycle {
                        at: Some(sharding.clock.now()),
                        duration_ms: report.duration.as_millis() as u64,
                        rules: report.evaluated as u64,
                        alerts: report.alerts.len() as u64,
                        error: None,
                    },
                    Err(e) => WorkerCycle {
                        at: Some(sharding.clock.now()),
                        error: Some(e.to_string()),
                        ..WorkerCycle::default()
                    },
                };
                if let Err(e) = self
                    .store
                    .record_worker_cycle(&sharding.worker.id, &cycle)
                    .await
                {
                    tracing::warn!("cannot record the worker's cycle: {e}");
                }
            }
            match &outcome {
                Ok(report) => {
                    metrics::histogram!("signal_sentinel_monitor_cycle_seconds")
                        .record(report.duration.as_secs_f64());
                    metrics::counter!("signal_sentinel_alerts_fired_total")
                        .increment(report.alerts.len() as u64);
                    for p in &report.providers {
                        let name = p.name.clone();
                        metrics::counter!("signal_sentinel_provider_calls_total", "provider" => name.clone())
                            .absolute(p.calls);
                        metrics::counter!("signal_sentinel_provider_errors_total", "provider" => name)
                            .absolute(p.failures);
                    }
                    if let Some(hook) = &self.on_alerts
                        && !report.alerts.is_empty()
                    {
                        hook(report.alerts.clone());
                    }
                    self.stats.update(|s| {
                        s.last_cycle_at = Some(report.at);
                        s.last_cycle_ms = Some(report.duration.as_millis() as u64);
                        s.last_cycle_alerts = Some(report.alerts.len());
                        s.last_error = None;
                        s.next_cycle_at = next;
                        s.providers.clone_from(&report.providers);
                    });
                }
                Err(e) => self.stats.update(|s| {
                    s.last_error = Some(e.to_string());
                    s.next_cycle_at = next;
                }),
            }
            match outcome {
                Ok(report) => {
                    tracing::info!(
                        rules = report.rules,
                        evaluated = report.evaluated,
                        symbols = report.symbols,
                        alerts = report.alerts.len(),
                        duration_ms = report.duration.as_millis() as u64,
                        "monitor cycle"
                    );
                    for problem in &report.problems {
                        tracing::warn!("{problem}");
                    }
                    if report.duration > interval {
                        self.stats.overruns.fetch_add(1, Ordering::Relaxed);
                        metrics::counter!("signal_sentinel_monitor_overruns_total").increment(1);
                        tracing::warn!(
                            duration_ms = report.duration.as_millis() as u64,
                            interval_ms = interval.as_millis() as u64,
                            "monitor cycle overran its interval; missed ticks are skipped"
                        );
                    }
                }
                Err(MonitorError::Store(StoreError::LeaseLost { shards })) => {
                    // Not a failure: the shards moved to another worker, which evaluates them.
                    tracing::warn!(
                        ?shards,
                        "another worker took shards while this cycle ran; its write was dropped"
                    );
                }
                Err(e) => {
                    self.stats.failures.fetch_add(1, Ordering::Relaxed);
                    tracing::error!("monitor cycle failed: {e}");
                }
            }
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

    /// Runs one cycle.
    ///
    /// # Errors
    /// [`MonitorError::Store`] when rules cannot be read or the cycle cannot be written; then
    /// nothing of it is written and the next cycle starts again from the stored state.
    pub async fn run_once(&self) -> Result<CycleReport, MonitorError> {
        let started = std::time::Instant::now();
        let now = self.clock.now();
        let mut cache = self.cache.lock().await;
        let mut problems = Vec::new();

        // Load: the shards this worker holds, their rules and states.
        let owned = self.owned_shards().await?;
        let mine = owned.as_deref().map(shard_mask);
        let is_mine = |symbol: &Symbol| mine.is_none_or(|m| m[shard_of(symbol) as usize]);
        // What another worker may have changed since this one held a shard is read afresh.
        cache.symbols.retain(|symbol, _| is_mine(symbol));

        let rules = self
            .load_rules(&mut cache, owned.as_deref(), &is_mine, &mut problems)
            .await?;
        let rule_count = rules.len();

        let by_symbol = in_session(&cache, rules, now);
        let evaluated: usize = by_symbol.values().map(Vec::len).sum();

        self.load_states(&mut cache, &by_symbol, &mut problems)
            .await?;
        self.warm_up(&mut cache, &by_symbol, now, &mut problems)
            .await;
        // Fetch: the quotes of the symbols in session and of the holdings rules read.
        let portfolio = Symbol::parse(crate::engine::PORTFOLIO).ok();
        let (wanted, holdings) = self
            .holdings(&cache, &by_symbol, portfolio.as_ref(), &mut problems)
            .await;
        let (quotes, market_calls) = self.fetch(wanted, &mut problems).await;
        let books: HashMap<UserId, crate::engine::Book> = holdings
            .iter()
            .map(|(owner, held)| {
                let priced: Vec<&Quote> =
                    held.iter().filter_map(|h| quotes.get(&h.symbol)).collect();
                (*owner, crate::engine::Book::new(held, &priced))
            })
            .collect();

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
        write
            .states
            .extend(self.broken_states(&mut cache, now).await?);
        // Evaluate every rule on its symbol's quote, into what the cycle writes.
        evaluate(
            &mut cache,
            &by_symbol,
            &quotes,
            &books,
            portfolio.as_ref(),
            now,
            &mut write,
        );
        drop(cache);

        // Commit: states, samples and alerts in one transaction.
        let alerts = match self.store.commit_cycle(write).await {
            Ok(alerts) => alerts,
            Err(e) => {
                // What this cycle computed is not stored: forget it, so the next cycle starts
                // from the stored states and samples and raises the same alerts again.
                let mut cache = self.cache.lock().await;
                cache.states.clear();
                cache.symbols.clear();
                return Err(e.into());
            }
        };
        self.stats.cycles.fetch_add(1, Ordering::Relaxed);
        Ok(CycleReport {
            at: now,
            duration: started.elapsed(),
            rules: rule_count,
            evaluated,
            symbols: by_symbol.len(),
            quotes: quotes.len(),
            market_calls,
            alerts,
            problems,
            providers: self.market.provider_status(),
            shards: owned,
        })
    }

    /// The shards this worker holds after rebalancing (`None` unsharded: every rule).
    async fn owned_shards(&self) -> Result<Option<Vec<u32>>, MonitorError> {
        Ok(match &self.sharding {
            Some(sharding) => Some(
                self.store
                    .rebalance_shards(&sharding.worker, sharding.clock.now(), sharding.lease)
                    .await?,
            ),
            None => None,
        })
    }

    /// The owners whose rules read holdings, their holdings, and the symbols to quote: those
    /// with rules in session, and the held symbols no rule asked for when a rule needs the
    /// whole portfolio's value.
    async fn holdings(
        &self,
        cache: &Cache,
        by_symbol: &BTreeMap<Symbol, Vec<RuleId>>,
        portfolio: Option<&Symbol>,
        problems: &mut Vec<String>,
    ) -> (Vec<Symbol>, HashMap<UserId, Vec<crate::domain::Holding>>) {
        let mut book_owners: BTreeMap<UserId, bool> = BTreeMap::new();
        for (symbol, ids) in by_symbol {
            for id in ids {
                let cached = &cache.rules[id];
                let whole = Some(symbol) == portfolio || cached.condition.reads_portfolio_value();
                if whole || cached.condition.reads_holdings() {
                    *book_owners.entry(cached.owner).or_default() |= whole;
                }
            }
        }
        let mut holdings = HashMap::new();
        let mut wanted: BTreeSet<Symbol> = by_symbol
            .keys()
            .filter(|s| Some(*s) != portfolio)
            .cloned()
            .collect();
        for (owner, whole) in &book_owners {
            match self.store.list_holdings(*owner).await {
                Ok(held) => {
                    if *whole {
                        wanted.extend(held.iter().map(|h| h.symbol.clone()));
                    }
                    holdings.insert(*owner, held);
                }
                Err(e) => problems.push(format!("holdings of user {owner}: {e}")),
            }
        }
        (wanted.into_iter().collect(), holdings)
    }

    /// The `error` states of rules found unreadable since the last cycle, shown until the
    /// owner edits the rule; the episode count is kept.
    async fn broken_states(
        &self,
        cache: &mut Cache,
        now: Timestamp,
    ) -> Result<Vec<crate::domain::RuleState>, MonitorError> {
        let newly_broken = std::mem::take(&mut cache.newly_broken);
        if newly_broken.is_empty() {
            return Ok(Vec::new());
        }
        let stored = self.store.load_rule_states(&newly_broken).await?;
        Ok(newly_broken
            .into_iter()
            .map(|id| {
                let episode = stored
                    .iter()
                    .find(|s| s.rule_id == id)
                    .map_or(0, |s| s.episode);
                let state = EngineState {
                    phase: crate::domain::RulePhase::Error,
                    episode,
                    error: Some(crate::engine::EvalError::Unreadable),
                    ..EngineState::new()
                };
                state.to_stored(id, now)
            })
            .collect())
    }

    /// Reads the enabled rules' stamps, loading and parsing only new or edited rules; returns
    /// the ids of the enabled rules.
    async fn load_rules(
        &self,
        cache: &mut Cache,
        shards: Option<&[u32]>,
        is_mine: &impl Fn(&Symbol) -> bool,
        problems: &mut Vec<String>,
    ) -> Result<Vec<RuleId>, MonitorError> {
        let mut ids = Vec::new();
        let mut stale = Vec::new();
        let mut after = None;
        loop {
            let page = self
                .store
                .list_rule_stamps(&RuleFilter {
                    enabled: Some(true),
                    after,
                    limit: Some(RULE_PAGE),
                    // Only this worker's rules are read, so a worker's cycle shrinks with
                    // its share (a worker holding every shard reads them all, unfiltered).
                    shards: shards
                        .filter(|held| held.len() < crate::domain::SHARDS as usize)
                        .map(<[u32]>::to_vec),
                    ..RuleFilter::default()
                })
                .await?;
            let Some(last) = page.last() else { break };
            after = Some(last.id);
            let full = page.len() as u64 == RULE_PAGE;
            for stamp in page {
                if !is_mine(&stamp.symbol) {
                    continue;
                }
                ids.push(stamp.id);
                let known = cache.rules.get(&stamp.id).map(|c| c.updated_at);
                let broken = cache.broken.get(&stamp.id).copied();
                if known.or(broken) != Some(stamp.updated_at) {
                    stale.push(stamp.id);
                }
            }
            if !full {
                break;
            }
        }
        let enabled: HashSet<RuleId> = ids.iter().copied().collect();
        cache.rules.retain(|id, _| enabled.contains(id));
        cache.states.retain(|id, _| enabled.contains(id));
        cache.broken.retain(|id, _| enabled.contains(id));

        // In slices, so a cold start does not hold every rule's stored form at once.
        for slice in stale.chunks(RULE_LOAD_CHUNK) {
            for rule in self.store.get_rules(slice).await? {
                let id = rule.id;
                let updated_at = rule.updated_at;
                match parse_rule(rule) {
                    Ok(parsed) => {
                        cache.broken.remove(&id);
                        // An edited condition starts a new lifecycle; the episode count goes on
                        // so alert keys stay unique.
                        if let (Some(old), Some(state)) =
                            (cache.rules.get(&id), cache.states.get_mut(&id))
                            && (old.condition != parsed.condition || old.symbol != parsed.symbol)
                        {
                            *state = EngineState {
                                episode: state.episode,
                                ..EngineState::new()
                            };
                        }
                        cache.rules.insert(id, parsed);
                    }
                    Err(problem) => {
                        cache.rules.remove(&id);
                        cache.broken.insert(id, updated_at);
                        cache.newly_broken.push(id);
                        problems.push(problem);
                    }
                }
            }
        }
        // Rules that could not be read (or vanished meanwhile) are not evaluated.
        ids.retain(|id| cache.rules.contains_key(id));
        Ok(ids)
    }

    /// Reads the stored states of rules not yet in memory, and the samples of new symbols.
    async fn load_states(
        &self,
        cache: &mut Cache,
        by_symbol: &BTreeMap<Symbol, Vec<RuleId>>,
        problems: &mut Vec<String>,
    ) -> Result<(), MonitorError> {
        let missing: Vec<RuleId> = by_symbol
            .values()
            .flatten()
            .filter(|id| !cache.states.contains_key(id))
            .copied()
            .collect();
        if !missing.is_empty() {
            for stored in self.store.load_rule_states(&missing).await? {
                match EngineState::from_stored(&stored) {
                    Ok(state) => {
                        cache.states.insert(stored.rule_id, state);
                    }
                    Err(e) => problems.push(format!(
                        "rule {}: stored state unreadable, starting afresh: {e}",
                        stored.rule_id
                    )),
                }
            }
        }
        let new_symbols: Vec<Symbol> = by_symbol
            .keys()
            .filter(|s| !cache.symbols.contains_key(*s))
            .cloned()
            .collect();
        if !new_symbols.is_empty() {
            for stored in self.store.load_symbol_samples(&new_symbols).await? {
                cache.symbols.entry(stored.symbol).or_default().samples = stored.samples;
            }
        }
        Ok(())
    }

    /// Loads daily history once per exchange day for symbols whose rules need it, as many
    /// sessions as the most demanding rule of the symbol needs.
    async fn warm_up(
        &self,
        cache: &mut Cache,
        by_symbol: &BTreeMap<Symbol, Vec<RuleId>>,
        now: Timestamp,
        problems: &mut Vec<String>,
    ) {
        let today = exchange_date(now);
        for (symbol, ids) in by_symbol {
            let need = ids
                .iter()
                .map(|id| HistoryNeed::of(&cache.rules[id]))
                .fold(HistoryNeed::default(), HistoryNeed::union);
            if need.sessions == 0 {
                continue;
            }
            let entry = cache.symbols.entry(symbol.clone()).or_default();
            if entry.history_day == Some(today) && entry.history_need.covers(need) {
                continue;
            }
            match self
                .market
                .recent_daily_bars(symbol, need.sessions, today)
                .await
            {
                Ok(bars) => {
                    let mut history = DailyHistory::new(bars);
                    // Only the columns the rules read stay in memory.
                    history.keep_columns(need.ranges, need.volumes);
                    entry.history = history;
                    entry.history_day = Some(today);
                    entry.history_need = need;
                }
                Err(e) => problems.push(format!("{symbol}: no daily history: {e}")),
            }
        }
    }

    /// Quotes for every symbol, in batches of the provider's size, a few batches at a time.
    async fn fetch(
        &self,
        symbols: Vec<Symbol>,
        problems: &mut Vec<String>,
    ) -> (HashMap<Symbol, Quote>, usize) {
        let batches: Vec<Vec<Symbol>> = symbols
            .chunks(self.market.max_batch().max(1))
            .map(<[Symbol]>::to_vec)
            .collect();
        let calls = batches.len();
        let permits = Arc::new(Semaphore::new(self.config.concurrency.max(1)));
        let mut tasks = tokio::task::JoinSet::new();
        for batch in batches {
            let market = Arc::clone(&self.market);
            let permits = Arc::clone(&permits);
            tasks.spawn(async move {
                let _permit = permits.acquire_owned().await;
                (batch.len(), market.quotes(&batch).await)
            });
        }
        let mut quotes = HashMap::with_capacity(symbols.len());
        while let Some(done) = tasks.join_next().await {
            match done {
                Ok((_, Ok(batch))) => {
                    for quote in batch {
                        quotes.insert(quote.symbol.clone(), quote);
                    }
                }
                Ok((size, Err(e))) => {
                    problems.push(format!("a batch of {size} symbols got no quotes: {e}"))
                }
                Err(e) => problems.push(format!("a quote request stopped: {e}")),
            }
        }
        (quotes, calls)
    }
}

/// Renews the worker's heartbeat and leases three times per lease until `stopped`, so a cycle
/// longer than the interval does not lose its shards.
async fn heartbeat(
    store: Arc<dyn Store>,
    sharding: Arc<Sharding>,
    mut stopped: tokio::sync::watch::Receiver<()>,
) {
    let every = (sharding.lease / 3)
        .to_std()
        .unwrap_or(StdDuration::from_secs(1));
    loop {
        tokio::select! {
            _ = stopped.changed() => break,
            () = tokio::time::sleep(every) => {}
        }
        if let Err(e) = store
            .renew_leases(&sharding.worker, sharding.clock.now(), sharding.lease)
            .await
        {
            tracing::warn!("worker heartbeat failed: {e}");
        }
    }
}

fn parse_rule(rule: Rule) -> Result<CachedRule, String> {
    let condition =
        Condition::from_document(&rule.condition).map_err(|e| format!("rule {}: {e}", rule.id))?;
    let options =
        RuleOptions::from_document(&rule.options).map_err(|e| format!("rule {}: {e}", rule.id))?;
    let history_sessions = condition.history_sessions();
    let window = match condition {
        Condition::MoveWithin { window_minutes, .. } => {
            Duration::minutes(i64::from(window_minutes))
        }
        _ => Duration::zero(),
    };
    Ok(CachedRule {
        id: rule.id,
        owner: rule.owner,
        symbol: rule.symbol,
        name: rule.name,
        created_at: rule.created_at,
        updated_at: rule.updated_at,
        expires_at: rule.expires_at,
        snoozed_until: rule.snoozed_until,
        condition,
        options,
        history_sessions,
        window,
    })
}

/// Which shards of all a worker holds.
fn shard_mask(shards: &[u32]) -> [bool; crate::domain::SHARDS as usize] {
    let mut mine = [false; crate::domain::SHARDS as usize];
    for shard in shards {
        if let Some(slot) = mine.get_mut(*shard as usize) {
            *slot = true;
        }
    }
    mine
}

/// Rules by symbol (in symbol order, so cycles are reproducible), for symbols in session;
/// expired rules rest.
fn in_session(cache: &Cache, rules: Vec<RuleId>, now: Timestamp) -> BTreeMap<Symbol, Vec<RuleId>> {
    let mut by_symbol: BTreeMap<Symbol, Vec<RuleId>> = BTreeMap::new();
    for id in rules {
        let cached = &cache.rules[&id];
        if cached.expires_at.is_some_and(|at| now >= at) {
            continue;
        }
        by_symbol.entry(cached.symbol.clone()).or_default().push(id);
    }
    by_symbol.retain(|symbol, ids| {
        let extended = ids.iter().any(|id| cache.rules[id].options.extended_hours);
        calendar::is_trading(symbol, now, extended)
    });
    by_symbol
}

/// One step of every rule in `by_symbol` on its symbol's quote (the portfolio's rules on
/// their owner's book), and the symbol's new sample: what changed goes into `write`.
fn evaluate(
    cache: &mut Cache,
    by_symbol: &BTreeMap<Symbol, Vec<RuleId>>,
    quotes: &HashMap<Symbol, Quote>,
    books: &HashMap<UserId, crate::engine::Book>,
    portfolio: Option<&Symbol>,
    now: Timestamp,
    write: &mut CycleWrite,
) {
    let Cache {
        rules,
        states,
        symbols,
        ..
    } = cache;
    for (symbol, ids) in by_symbol {
        let entry = symbols.entry(symbol.clone()).or_default();
        let quote = quotes.get(symbol);
        let previous = entry.samples.last().copied();
        let is_portfolio = Some(symbol) == portfolio;
        let view = quote.map(|quote| MarketView {
            quote,
            previous,
            recent: &entry.samples,
            history: &entry.history,
            book: None,
        });
        for id in ids {
            let cached = &rules[id];
            let book = books.get(&cached.owner);
            // The portfolio is a quote of its own per owner; holdings conditions see the
            // owner's book.
            let own_quote = if is_portfolio {
                book.and_then(|b| b.as_quote(now))
            } else {
                None
            };
            let view = match (&own_quote, view) {
                (Some(quote), _) => Some(MarketView {
                    quote,
                    previous: None,
                    recent: &[],
                    history: &entry.history,
                    book,
                }),
                (None, _) if is_portfolio => None,
                (None, Some(view)) => Some(MarketView { book, ..view }),
                (None, None) => None,
            };
            let quote = own_quote.as_ref().or(quote);
            let state = states.entry(*id).or_default();
            let before = *state;
            let schedule = Schedule {
                // A clock behind the rule's creation replays the past: every sample counts.
                created_at: Some(cached.created_at).filter(|created| *created <= now),
                expires_at: cached.expires_at,
                snoozed_until: cached.snoozed_until,
            };
            let transition = step(
                &cached.condition,
                &cached.options,
                schedule,
                state,
                view.as_ref(),
                now,
            );
            if *state != before {
                write.states.push(state.to_stored(*id, now));
            }
            if let Some(transition) = transition {
                write.alerts.push(alert_for(cached, transition, quote));
                if let Transition::Fired { at, .. } = transition {
                    let once = cached.options.frequency == crate::engine::Frequency::Once;
                    write.fired.push((*id, at, once));
                }
            }
        }
        if let Some(quote) = quote
            && previous.is_none_or(|p| quote.at > p.at)
        {
            let window = ids
                .iter()
                .map(|id| rules[id].window)
                .max()
                .unwrap_or_default();
            entry.samples.push(Sample {
                at: quote.at,
                price: quote.price,
            });
            let keep_from = quote.at - window;
            let drop = entry
                .samples
                .partition_point(|s| s.at < keep_from)
                .min(entry.samples.len() - 1);
            entry.samples.drain(..drop);
            write.samples.push(SymbolSamples {
                symbol: symbol.clone(),
                samples: entry.samples.clone(),
            });
        }
    }
}

fn alert_for(cached: &CachedRule, transition: Transition, quote: Option<&Quote>) -> NewAlert {
    let (kind, episode, price, at) = match transition {
        Transition::Fired { episode, price, at } => (AlertKind::Fired, episode, price, at),
        Transition::Resolved { episode, price, at } => (AlertKind::Resolved, episode, price, at),
    };
    let condition = cached.condition.to_string();
    let change = quote
        .and_then(Quote::change_percent)
        .map(|c| format!("{:+}", c.round_dp(2)))
        .unwrap_or_default();
    let time = at
        .with_timezone(&New_York)
        .format("%Y-%m-%d %H:%M %Z")
        .to_string();
    let price_text = price.to_string();
    let text = format!("{} {condition}", cached.symbol);
    let context = MessageContext {
        symbol: cached.symbol.as_str(),
        price: &price_text,
        condition: &condition,
        change_pct: &change,
        time: &time,
        rule: cached.name.as_deref().unwrap_or(&text),
    };
    let message = match kind {
        AlertKind::Resolved => format!("{text} no longer holds: now {price}"),
        _ => render(
            cached
                .options
                .message
                .as_deref()
                .unwrap_or_else(|| default_template(&cached.condition)),
            &context,
        ),
    };
    NewAlert {
        rule_id: cached.id,
        owner: cached.owner,
        symbol: cached.symbol.clone(),
        episode,
        kind,
        price,
        message,
        fired_at: at,
    }
}
