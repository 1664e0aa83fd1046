//! The cycle's first step: the enabled rules (parsing only new or edited ones), their states,
//! the symbols in session and their daily history.

use std::collections::{BTreeMap, HashMap, HashSet};

use crate::domain::{RuleFilter, RuleId, Symbol};
use crate::engine::indicators::{DailyHistory, exchange_date};
use crate::engine::{EngineState, calendar};
use crate::time::Timestamp;

use super::cache::{Cache, HistoryNeed, parse_rule};

use super::{Monitor, MonitorError};

/// Rule stamps read per query.
const RULE_PAGE: u64 = 10_000;
/// Rule changes read per query.
const CHANGE_PAGE: u64 = 10_000;
/// Sequence numbers read again below the newest applied one, for changes committed late.
const CHANGE_OVERLAP: i64 = 256;
/// More changed rules than this at once are read as a whole instead.
const MAX_FOLLOWED: usize = 50_000;
/// Changes kept in the log for workers that fall behind.
const CHANGES_KEPT: i64 = 100_000;
/// Every rule is read again at least this often, whatever the log says.
const RESYNC: chrono::Duration = chrono::Duration::hours(1);
/// New or edited rules loaded per query.
const RULE_LOAD_CHUNK: usize = 2_000;

impl Monitor {
    /// The `error` states of rules found unreadable since the last cycle, shown until the
    /// owner edits the rule; the episode count is kept.
    pub(super) async fn broken_states(
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

    /// Brings the rules in memory up to date with the store: after a restart, a change of
    /// shards, a gap in the log of changes or an hour, by reading every enabled rule's stamp
    /// (and loading only new or edited rules); otherwise by reading the log of rule changes
    /// since the last cycle and loading only the rules it names.
    pub(super) async fn load_rules(
        &self,
        cache: &mut Cache,
        shards: Option<&[u32]>,
        now: Timestamp,
        is_mine: &impl Fn(&Symbol) -> bool,
        problems: &mut Vec<String>,
    ) -> Result<RulesRead, MonitorError> {
        let shards = shards.map(<[u32]>::to_vec);
        let fresh = cache.sync.through.is_some()
            && cache.sync.shards == shards
            && cache
                .sync
                .full_at
                .is_some_and(|at| now >= at && now - at < RESYNC);
        let mut read = RulesRead::default();
        if !(fresh
            && self
                .follow_changes(cache, is_mine, &mut read, problems)
                .await?)
        {
            read = RulesRead {
                rescanned: true,
                ..RulesRead::default()
            };
            self.read_all_rules(cache, shards.as_deref(), now, is_mine, &mut read, problems)
                .await?;
            cache.sync.shards = shards;
        }
        read.enabled = cache.rules.len();
        Ok(read)
    }

    /// Applies the changes logged since the last cycle; `false` when they cannot be followed
    /// (pruned past this worker, or so many that reading every stamp is cheaper).
    async fn follow_changes(
        &self,
        cache: &mut Cache,
        is_mine: &impl Fn(&Symbol) -> bool,
        read: &mut RulesRead,
        problems: &mut Vec<String>,
    ) -> Result<bool, MonitorError> {
        let Some(through) = cache.sync.through else {
            return Ok(false);
        };
        let mut after = through.saturating_sub(CHANGE_OVERLAP);
        let mut changed = Vec::new();
        let mut newest = through;
        loop {
            let page = self.store.rule_changes(after, CHANGE_PAGE).await?;
            if page
                .oldest
                .is_some_and(|oldest| oldest > through.saturating_add(1))
            {
                // Changes this worker has not seen may have been pruned.
                return Ok(false);
            }
            let Some(&(last, _)) = page.changes.last() else {
                break;
            };
            for (seq, id) in &page.changes {
                if *seq > through || !cache.sync.recent.contains(seq) {
                    changed.push(*id);
                    cache.sync.recent.insert(*seq);
                }
                newest = newest.max(*seq);
            }
            if changed.len() > MAX_FOLLOWED {
                return Ok(false);
            }
            if (page.changes.len() as u64) < CHANGE_PAGE {
                break;
            }
            after = last;
        }
        cache.sync.through = Some(newest);
        let horizon = newest.saturating_sub(CHANGE_OVERLAP);
        cache.sync.recent = cache.sync.recent.split_off(&horizon);
        if changed.is_empty() {
            return Ok(true);
        }
        changed.sort_unstable();
        changed.dedup();
        for slice in changed.chunks(RULE_LOAD_CHUNK) {
            let found = self.store.get_rules(slice).await?;
            read.loaded += found.len();
            let mut found = found.into_iter().peekable();
            for id in slice {
                // Both in id order: a rule not found was deleted.
                let rule = found.next_if(|r| r.id == *id);
                match rule {
                    Some(rule) if rule.enabled && is_mine(&rule.symbol) => {
                        let known = cache.rules.get(id).map(|c| c.updated_at);
                        let broken = cache.broken.get(id).copied();
                        // A firing or another change the monitor itself wrote leaves the edit
                        // time as it was: nothing to read again.
                        if known.or(broken) != Some(rule.updated_at) {
                            absorb(cache, rule, problems);
                        }
                    }
                    _ => cache.forget_rule(*id),
                }
            }
        }
        Ok(true)
    }

    /// Reads every enabled rule's stamp, loading and parsing only new or edited rules, and
    /// notes where the log of changes stands.
    async fn read_all_rules(
        &self,
        cache: &mut Cache,
        shards: Option<&[u32]>,
        now: Timestamp,
        is_mine: &impl Fn(&Symbol) -> bool,
        read: &mut RulesRead,
        problems: &mut Vec<String>,
    ) -> Result<(), MonitorError> {
        // Where the log stands before the read: a change made during it is read again next
        // cycle, never missed.
        let log = self.store.rule_changes(i64::MAX, 0).await?;
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
        let gone: Vec<RuleId> = cache
            .rules
            .keys()
            .filter(|id| !enabled.contains(id))
            .copied()
            .collect();
        for id in gone {
            cache.unindex(id);
        }
        cache.unstored.retain(|id| enabled.contains(id));
        cache.broken.retain(|id, _| enabled.contains(id));

        // In slices, so a cold start does not hold every rule's stored form at once.
        for slice in stale.chunks(RULE_LOAD_CHUNK) {
            let found = self.store.get_rules(slice).await?;
            read.loaded += found.len();
            for rule in found {
                absorb(cache, rule, problems);
            }
        }
        cache.drop_unused_options();
        let through = log.latest.unwrap_or(0);
        cache.sync.through = Some(through);
        cache.sync.recent.clear();
        cache.sync.full_at = Some(now);
        // The log is kept short: whoever reads everything prunes what nobody needs.
        if let (Some(oldest), Some(latest)) = (log.oldest, log.latest)
            && latest - oldest > 2 * CHANGES_KEPT
        {
            match self.store.prune_rule_changes(latest - CHANGES_KEPT).await {
                Ok(pruned) => tracing::debug!(pruned, "rule changes pruned"),
                Err(e) => problems.push(format!("cannot prune the log of rule changes: {e}")),
            }
        }
        Ok(())
    }

    /// Reads the stored states of rules not yet in memory, and the samples of new symbols.
    pub(super) async fn load_states(
        &self,
        cache: &mut Cache,
        by_symbol: &BTreeMap<Symbol, Vec<RuleId>>,
        problems: &mut Vec<String>,
    ) -> Result<(), MonitorError> {
        // The states in memory are of rules in memory only: as many of them as rules means
        // none is missing, without looking at every rule.
        let missing: Vec<RuleId> = if cache.stated == cache.rules.len() {
            Vec::new()
        } else {
            by_symbol
                .values()
                .flatten()
                .filter(|id| cache.rules.get(*id).is_some_and(|r| r.state.is_none()))
                .copied()
                .collect()
        };
        if !missing.is_empty() {
            cache.unstored.extend(missing.iter().copied());
            for stored in self.store.load_rule_states(&missing).await? {
                cache.unstored.remove(&stored.rule_id);
                match EngineState::from_stored(&stored) {
                    Ok(state) => cache.set_state(stored.rule_id, Some(state)),
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
    pub(super) async fn warm_up(
        &self,
        cache: &mut Cache,
        by_symbol: &BTreeMap<Symbol, Vec<RuleId>>,
        now: Timestamp,
        problems: &mut Vec<String>,
    ) {
        let today = exchange_date(now);
        // What every rule reads of each symbol: its own, and a combination's others; kept
        // only where the history in memory does not cover it (in symbol order, so cycles are
        // reproducible).
        let mut needs: HashMap<&Symbol, HistoryNeed> = HashMap::new();
        for (symbol, ids) in by_symbol {
            let Some(indexed) = cache.index.get(symbol) else {
                continue;
            };
            // Both in id order.
            let mut ids = ids.iter().peekable();
            for rule in indexed {
                if ids.next_if_eq(&&rule.id).is_none() {
                    continue;
                }
                let need = needs.entry(symbol).or_default();
                *need = need.union(rule.need);
                if rule.combination {
                    for read in &cache.rules[&rule.id].reads[1..] {
                        let need = needs.entry(&read.symbol).or_default();
                        *need = need.union(read.need);
                    }
                }
            }
        }
        let mut wanted: Vec<(Symbol, HistoryNeed)> = needs
            .into_iter()
            .filter(|(symbol, need)| {
                need.sessions > 0
                    && !cache.symbols.get(*symbol).is_some_and(|entry| {
                        entry.history_day == Some(today) && entry.history_need.covers(*need)
                    })
            })
            .map(|(symbol, need)| (symbol.clone(), need))
            .collect();
        wanted.sort_by(|a, b| a.0.cmp(&b.0));
        for (symbol, need) in wanted {
            let entry = cache.symbols.entry(symbol.clone()).or_default();
            match self
                .market
                .recent_daily_bars(&symbol, need.sessions, today)
                .await
            {
                Ok(bars) => {
                    let mut history = DailyHistory::new(bars);
                    // Only the columns the rules read stay in memory.
                    history.keep_columns(need.ranges, need.volumes);
                    entry.history = history;
                    entry.history_fresh = true;
                    entry.history_day = Some(today);
                    entry.history_need = need;
                }
                Err(e) => problems.push(format!("{symbol}: no daily history: {e}")),
            }
        }
    }
}

/// What bringing the rules up to date read.
#[derive(Debug, Default, Clone, Copy)]
pub(super) struct RulesRead {
    /// Enabled rules in memory.
    pub(super) enabled: usize,
    /// Rules loaded from the store (new or edited ones).
    pub(super) loaded: usize,
    /// Whether every rule's stamp was read (otherwise only the log of changes).
    pub(super) rescanned: bool,
}

/// Puts a new or edited rule in memory (or marks it unreadable).
fn absorb(cache: &mut Cache, rule: crate::domain::Rule, problems: &mut Vec<String>) {
    let id = rule.id;
    let updated_at = rule.updated_at;
    match parse_rule(rule) {
        Ok(parsed) => {
            cache.broken.remove(&id);
            // An edited condition starts a new lifecycle; the episode count goes on so alert
            // keys stay unique.
            if let Some(old) = cache.rules.get_mut(&id) {
                if old.condition != parsed.condition || old.symbol != parsed.symbol {
                    if let Some(state) = &mut old.state {
                        *state = EngineState {
                            episode: state.episode,
                            ..EngineState::new()
                        };
                    }
                } else {
                    // An edit may come with a lifecycle reset in the store (a re-armed rule):
                    // read the stored state again.
                    cache.set_state(id, None);
                }
            }
            cache.insert_rule(parsed);
        }
        Err(problem) => {
            // Its stored state is read again when it is readable again.
            cache.unindex(id);
            cache.broken.insert(id, updated_at);
            cache.newly_broken.push(id);
            problems.push(problem);
        }
    }
}

/// Rules by symbol (in symbol order, so cycles are reproducible), for symbols in session;
/// expired rules rest.
/// With `traded`, only the rules evaluated on trades of the symbols that traded.
pub(super) fn in_session<T>(
    cache: &Cache,
    now: Timestamp,
    traded: Option<&HashMap<Symbol, T>>,
) -> BTreeMap<Symbol, Vec<RuleId>> {
    let session = calendar::session_at(now);
    let after_hours = session == calendar::Session::AfterHours;
    let mut by_symbol: BTreeMap<Symbol, Vec<RuleId>> = BTreeMap::new();
    let mut others: Vec<&Symbol> = Vec::new();
    let symbols: Box<dyn Iterator<Item = (&Symbol, &Vec<super::cache::Indexed>)>> = match traded {
        None => Box::new(cache.index.iter()),
        Some(traded) => Box::new(
            traded
                .keys()
                .filter_map(|symbol| cache.index.get_key_value(symbol)),
        ),
    };
    let on_trades = traded.is_some();
    for (symbol, rules) in symbols {
        // Each rule in its own hours: the regular session, extended hours when it asks for
        // them, and for a rule evaluated at the close the hours after it (the close's quote
        // comes then).
        let regular = calendar::trades_in(symbol, session, false);
        let extended = calendar::trades_in(symbol, session, true);
        let ids: Vec<RuleId> = rules
            .iter()
            .filter(|rule| {
                (rule.on_trades || !on_trades)
                    && rule.expires_at.is_none_or(|at| now < at)
                    && (if rule.extended { extended } else { regular }
                        || (rule.after_close && after_hours))
            })
            .map(|rule| {
                if rule.combination {
                    others.extend(&cache.rules[&rule.id].others);
                }
                rule.id
            })
            .collect();
        if !ids.is_empty() {
            by_symbol.insert(symbol.clone(), ids);
        }
    }
    // The other symbols combinations read are quoted too, with no rules of their own here.
    for symbol in others {
        if !by_symbol.contains_key(symbol) {
            by_symbol.insert(symbol.clone(), Vec::new());
        }
    }
    by_symbol
}
