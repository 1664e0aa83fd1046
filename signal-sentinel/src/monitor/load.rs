//! The cycle's first step: the enabled rules (parsing only new or edited ones), their states,
//! the symbols in session and their daily history.

use std::collections::{BTreeMap, HashSet};

use crate::domain::{RuleFilter, RuleId, Symbol};
use crate::engine::indicators::{DailyHistory, exchange_date};
use crate::engine::{EngineState, calendar};
use crate::time::Timestamp;

use super::cache::{Cache, HistoryNeed, parse_rule};

use super::{Monitor, MonitorError};

/// Rule stamps read per query.
const RULE_PAGE: u64 = 10_000;
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

    /// Reads the enabled rules' stamps, loading and parsing only new or edited rules; returns
    /// the ids of the enabled rules.
    pub(super) async fn load_rules(
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
        cache.unstored.retain(|id| enabled.contains(id));
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
                        if let Some(old) = cache.rules.get(&id) {
                            if old.condition != parsed.condition || old.symbol != parsed.symbol {
                                if let Some(state) = cache.states.get_mut(&id) {
                                    *state = EngineState {
                                        episode: state.episode,
                                        ..EngineState::new()
                                    };
                                }
                            } else {
                                // An edit may come with a lifecycle reset in the store (a
                                // re-armed rule): read the stored state again.
                                cache.states.remove(&id);
                            }
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
    pub(super) async fn load_states(
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
            cache.unstored.extend(missing.iter().copied());
            for stored in self.store.load_rule_states(&missing).await? {
                cache.unstored.remove(&stored.rule_id);
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
    pub(super) async fn warm_up(
        &self,
        cache: &mut Cache,
        by_symbol: &BTreeMap<Symbol, Vec<RuleId>>,
        now: Timestamp,
        problems: &mut Vec<String>,
    ) {
        let today = exchange_date(now);
        // What every rule reads of each symbol: its own, and a combination's others.
        let mut needs: BTreeMap<Symbol, HistoryNeed> = BTreeMap::new();
        for read in by_symbol
            .values()
            .flatten()
            .flat_map(|id| &cache.rules[id].reads)
        {
            let need = needs.entry(read.symbol.clone()).or_default();
            *need = need.union(read.need);
        }
        for (symbol, need) in needs {
            if need.sessions == 0 {
                continue;
            }
            let entry = cache.symbols.entry(symbol.clone()).or_default();
            if entry.history_day == Some(today) && entry.history_need.covers(need) {
                continue;
            }
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

/// Whether a rule with `options` on `symbol` is evaluated at `now`.
pub(super) fn in_hours(symbol: &Symbol, rule: &super::cache::CachedRule, now: Timestamp) -> bool {
    let options = &rule.options;
    // A rule waiting for the close, or for the session's last minute bars, is watched after
    // the close too.
    calendar::is_trading(symbol, now, options.extended_hours)
        || ((options.evaluate.at_session_close(&rule.condition) || rule.on_minute_bars)
            && calendar::session_at(now) == calendar::Session::AfterHours)
}

/// Rules by symbol (in symbol order, so cycles are reproducible), for symbols in session;
/// expired rules rest.
pub(super) fn in_session(
    cache: &Cache,
    rules: Vec<RuleId>,
    now: Timestamp,
) -> BTreeMap<Symbol, Vec<RuleId>> {
    let mut by_symbol: BTreeMap<Symbol, Vec<RuleId>> = BTreeMap::new();
    for id in rules {
        let cached = &cache.rules[&id];
        if cached.expires_at.is_some_and(|at| now >= at) {
            continue;
        }
        by_symbol.entry(cached.symbol.clone()).or_default().push(id);
    }
    // Each rule in its own hours: the regular session, extended hours when it asks for them,
    // and for a rule evaluated at the close the hours after it (the close's quote comes then).
    by_symbol.retain(|symbol, ids| {
        ids.retain(|id| in_hours(symbol, &cache.rules[id], now));
        !ids.is_empty()
    });
    // The other symbols combinations read are quoted too, with no rules of their own here.
    let others: Vec<Symbol> = by_symbol
        .values()
        .flatten()
        .flat_map(|id| cache.rules[id].others.iter().cloned())
        .collect();
    for symbol in others {
        by_symbol.entry(symbol).or_default();
    }
    by_symbol
}
