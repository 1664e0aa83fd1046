//! What the monitor keeps between cycles: parsed rules, their states, the symbols' samples
//! and daily history.

use std::collections::HashMap;
use std::sync::Arc;

use chrono::{Duration, NaiveDate};

use crate::domain::{Rule, RuleId, Sample, Symbol, UserId};
use crate::engine::indicators::DailyHistory;
use crate::engine::{Condition, EngineState, RuleOptions};
use crate::time::Timestamp;

/// What the monitor keeps of a rule: only what evaluating it and writing its alerts need.
pub(super) struct CachedRule {
    pub(super) id: RuleId,
    pub(super) owner: UserId,
    pub(super) symbol: Symbol,
    pub(super) name: Option<String>,
    pub(super) created_at: Timestamp,
    pub(super) updated_at: Timestamp,
    pub(super) expires_at: Option<Timestamp>,
    pub(super) snoozed_until: Option<Timestamp>,
    pub(super) condition: Condition,
    /// Shared by every rule in memory with the same options (most have the defaults): see
    /// [`Cache::insert_rule`].
    pub(super) options: Arc<RuleOptions>,
    /// The other symbols a combination reads, besides its own.
    pub(super) others: Vec<Symbol>,
    /// What it reads of each symbol, its own first.
    pub(super) reads: Vec<Read>,
    /// Evaluated on closed one-minute bars (`evaluate: at_bar_close` on a condition that reads
    /// no daily history, on its own symbol only).
    pub(super) on_minute_bars: bool,
    /// Its state in the lifecycle (`None`: not read from the store yet). Kept in the rule's
    /// own slot: a cycle finds both with one probe of `Cache::rules`, not one per map (each
    /// probe of a large map is a cache miss).
    pub(super) state: Option<EngineState>,
}

/// What a rule reads of one symbol: daily history, and recent samples for moves in a window.
pub(super) struct Read {
    pub(super) symbol: Symbol,
    pub(super) need: HistoryNeed,
    pub(super) window: Duration,
}

#[derive(Default)]
pub(super) struct SymbolState {
    pub(super) samples: Vec<Sample>,
    pub(super) history: DailyHistory,
    /// The exchange day the history was loaded on.
    pub(super) history_day: Option<NaiveDate>,
    /// What was loaded then: a rule saved later that needs more (a longer average, a 52-week
    /// extreme, volumes) has it loaded in its first cycle, not the next day.
    pub(super) history_need: HistoryNeed,
    /// Of a shard another worker holds: read by a combination here, stored by that worker.
    pub(super) foreign: bool,
    /// The corporate calendar (none: never refreshed, or the market has none).
    pub(super) events: Option<Vec<crate::domain::CorporateEvent>>,
    /// The exchange day the calendar was refreshed on.
    pub(super) events_day: Option<NaiveDate>,
    /// Whether the stored calendar and applied splits have been read.
    pub(super) events_loaded: bool,
    /// When to ask the providers again after a failed refresh.
    pub(super) events_retry_at: Option<crate::time::Timestamp>,
    /// The splits applied to the symbol: ex-date and ratio.
    pub(super) applied_splits: Vec<(NaiveDate, crate::domain::SplitRatio)>,
    /// The history was loaded afresh this cycle: the applied splits are put in it (when the
    /// provider gave it unadjusted) once a quote is in.
    pub(super) history_fresh: bool,
    /// Its samples changed without a new quote (a split): stored with this cycle.
    pub(super) resave: bool,
    /// Closed one-minute bars as samples (each at its close), for rules on minute bars: the
    /// window the longest of them reads, and the bars new this cycle at the end.
    pub(super) bars: Vec<Sample>,
    /// How many of `bars` are new this cycle (stepped by the rules on minute bars).
    pub(super) new_bars: usize,
    /// The end of the last minute bar read.
    pub(super) bars_through: Option<crate::time::Timestamp>,
    /// The last quote the rules read: the day's figures of a quote made from a trade.
    pub(super) last_quote: Option<crate::domain::Quote>,
}

/// How much daily history the rules of a symbol read.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(super) struct HistoryNeed {
    pub(super) sessions: usize,
    pub(super) ranges: bool,
    pub(super) volumes: bool,
}

impl HistoryNeed {
    pub(super) fn of(condition: &Condition) -> Self {
        Self {
            sessions: condition.history_sessions(),
            ranges: condition.reads_daily_ranges(),
            volumes: condition.reads_daily_volumes(),
        }
    }

    pub(super) fn union(self, other: Self) -> Self {
        Self {
            sessions: self.sessions.max(other.sessions),
            ranges: self.ranges || other.ranges,
            volumes: self.volumes || other.volumes,
        }
    }

    pub(super) fn covers(self, other: Self) -> bool {
        self.sessions >= other.sessions
            && (self.ranges || !other.ranges)
            && (self.volumes || !other.volumes)
    }
}

/// What deciding whether a rule is evaluated this cycle reads, kept by symbol beside the rule
/// so a cycle does not visit every rule's full form for it.
#[derive(Debug, Clone, Copy)]
pub(super) struct Indexed {
    pub(super) id: RuleId,
    pub(super) expires_at: Option<Timestamp>,
    /// Watched in extended hours.
    pub(super) extended: bool,
    /// Watched after the close too (evaluated at the close, or on minute bars).
    pub(super) after_close: bool,
    /// Evaluated on streamed trades: on every sample, on its own symbol only.
    pub(super) on_trades: bool,
    /// What it reads of its own symbol's daily history.
    pub(super) need: HistoryNeed,
    /// A combination that reads other symbols.
    pub(super) combination: bool,
}

/// The cache's maps: keyed by ids and symbols the monitor reads from its own store, so a
/// fast hasher (every rule is looked up a few times per cycle) and no DoS-resistant one.
pub(super) type FastMap<K, V> = HashMap<K, V, foldhash::fast::RandomState>;

#[derive(Default)]
pub(super) struct Cache {
    /// Only changed through [`Cache::insert_rule`] and [`Cache::forget_rule`], which keep
    /// `index` in step; each with its state. Boxed: a hash map holds up to twice as many slots
    /// as entries (a power of two), and an empty slot of a box is 8 bytes, not a rule's 208
    /// (about 350 MB less at 1,000,000 rules).
    pub(super) rules: FastMap<RuleId, Box<CachedRule>>,
    /// The rules in `rules` by symbol, each symbol's in id order.
    pub(super) index: std::collections::BTreeMap<Symbol, Vec<Indexed>>,
    /// How many rules in `rules` have a state (see [`Cache::set_state`]).
    pub(super) stated: usize,
    pub(super) symbols: FastMap<Symbol, SymbolState>,
    /// Rules whose stored condition or options cannot be read, with the edit that broke them:
    /// marked `error` once, read again when edited.
    pub(super) broken: HashMap<RuleId, Timestamp>,
    /// Newly broken rules, to mark in this cycle's write.
    pub(super) newly_broken: Vec<RuleId>,
    /// Rules with no stored state yet: their first evaluation is written even when it changes
    /// nothing, so that a rule a worker watches reads as evaluated (and since when).
    pub(super) unstored: std::collections::HashSet<RuleId>,
    /// How far the rules in memory follow the store's log of rule changes.
    pub(super) sync: RuleSync,
    /// One copy of each set of options the rules in memory have.
    pub(super) options: std::collections::HashSet<Arc<RuleOptions>, foldhash::fast::RandomState>,
}

/// Where the rules in memory stand against the store's log of rule changes.
#[derive(Default)]
pub(super) struct RuleSync {
    /// The newest change applied; `None`: the rules were never read (or must be read again).
    pub(super) through: Option<i64>,
    /// The changes applied among the last few sequence numbers below `through`: a change
    /// committed late with an older number (concurrent writers on PostgreSQL) is still seen.
    pub(super) recent: std::collections::BTreeSet<i64>,
    /// The shards the rules were read for.
    pub(super) shards: Option<Vec<u32>>,
    /// When every rule was last read.
    pub(super) full_at: Option<Timestamp>,
}

impl Cache {
    /// Lets go of the options no rule in memory has any more.
    pub(super) fn drop_unused_options(&mut self) {
        self.options.retain(|o| Arc::strong_count(o) > 1);
    }

    /// Forgets a rule that was deleted, disabled or moved to another worker's shard.
    pub(super) fn forget_rule(&mut self, id: RuleId) {
        self.unindex(id);
        self.unstored.remove(&id);
        self.broken.remove(&id);
    }

    /// Sets (or, with `None`, forgets) the state of a rule in memory; nothing for another.
    pub(super) fn set_state(&mut self, id: RuleId, state: Option<EngineState>) {
        if let Some(rule) = self.rules.get_mut(&id) {
            self.stated =
                self.stated + usize::from(state.is_some()) - usize::from(rule.state.is_some());
            rule.state = state;
        }
    }

    /// Forgets every rule's state (they are read from the store again).
    pub(super) fn clear_states(&mut self) {
        for rule in self.rules.values_mut() {
            rule.state = None;
        }
        self.stated = 0;
    }

    /// Puts a rule in memory, replacing its earlier form (whose state it keeps). Its options
    /// become the copy of them that other rules share.
    pub(super) fn insert_rule(&mut self, mut rule: CachedRule) {
        match self.options.get(&rule.options) {
            Some(shared) => rule.options = Arc::clone(shared),
            None => {
                self.options.insert(Arc::clone(&rule.options));
            }
        }
        let id = rule.id;
        if let Some(old) = self.unindex(id) {
            rule.state = old.state;
            self.stated += usize::from(rule.state.is_some());
        }
        let indexed = Indexed {
            id,
            expires_at: rule.expires_at,
            extended: rule.options.extended_hours,
            after_close: rule.options.evaluate.at_session_close(&rule.condition)
                || rule.on_minute_bars,
            need: rule.reads[0].need,
            combination: !rule.others.is_empty(),
            on_trades: rule.options.evaluate == crate::engine::Evaluate::EverySample
                && rule.others.is_empty()
                && !rule.on_minute_bars,
        };
        let ids = self.index.entry(rule.symbol.clone()).or_default();
        let at = ids.partition_point(|i| i.id < id);
        ids.insert(at, indexed);
        self.rules.insert(id, Box::new(rule));
    }

    /// Takes a rule, with its state, out of `rules` and `index`.
    pub(super) fn unindex(&mut self, id: RuleId) -> Option<Box<CachedRule>> {
        let old = self.rules.remove(&id)?;
        self.stated -= usize::from(old.state.is_some());
        if let Some(ids) = self.index.get_mut(&old.symbol) {
            ids.retain(|i| i.id != id);
            if ids.is_empty() {
                self.index.remove(&old.symbol);
            }
        }
        Some(old)
    }
}

pub(super) fn parse_rule(rule: Rule) -> Result<CachedRule, String> {
    let condition =
        Condition::from_document(&rule.condition).map_err(|e| format!("rule {}: {e}", rule.id))?;
    let options =
        RuleOptions::from_document(&rule.options).map_err(|e| format!("rule {}: {e}", rule.id))?;
    let mut reads = vec![Read {
        symbol: rule.symbol.clone(),
        need: HistoryNeed::default(),
        window: Duration::zero(),
    }];
    for (symbol, leaf) in condition.leaves() {
        let symbol = symbol.unwrap_or(&rule.symbol);
        let at = match reads.iter().position(|r| &r.symbol == symbol) {
            Some(at) => at,
            None => {
                reads.push(Read {
                    symbol: symbol.clone(),
                    need: HistoryNeed::default(),
                    window: Duration::zero(),
                });
                reads.len() - 1
            }
        };
        let read = &mut reads[at];
        read.need = read.need.union(HistoryNeed::of(leaf));
        if let Condition::MoveWithin { window_minutes, .. } = leaf {
            read.window = read
                .window
                .max(Duration::minutes(i64::from(*window_minutes)));
        }
    }
    let others: Vec<Symbol> = condition.other_symbols().into_iter().cloned().collect();
    let on_minute_bars = options.evaluate.on_minute_bars(&condition) && others.is_empty();
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
        options: Arc::new(options),
        others,
        reads,
        on_minute_bars,
        state: None,
    })
}

#[cfg(test)]
mod tests {
    use super::{Cache, parse_rule};
    use crate::domain::{Rule, RuleId, UserId};
    use crate::engine::RuleOptions;
    use crate::rules::{RuleInput, prepare_rule};
    use std::sync::Arc;

    fn rule(id: i64, text: &str, cooldown_minutes: u32) -> Rule {
        let new = prepare_rule(
            UserId::new(1),
            RuleInput {
                text: text.into(),
                options: RuleOptions {
                    cooldown_minutes,
                    ..RuleOptions::default()
                },
                ..RuleInput::default()
            },
        )
        .unwrap();
        let at = chrono::Utc::now();
        Rule {
            id: RuleId::new(id),
            owner: new.owner,
            symbol: new.symbol,
            name: new.name,
            condition: new.condition,
            options: new.options,
            enabled: true,
            created_at: at,
            updated_at: at,
            last_triggered_at: None,
            expires_at: None,
            snoozed_until: None,
        }
    }

    #[test]
    fn rules_with_the_same_options_share_one_copy() {
        let mut cache = Cache::default();
        cache.insert_rule(parse_rule(rule(1, "AAPL above 200", 0)).unwrap());
        cache.insert_rule(parse_rule(rule(2, "MSFT below 300", 0)).unwrap());
        cache.insert_rule(parse_rule(rule(3, "MSFT below 300", 60)).unwrap());
        let options = |id| Arc::clone(&cache.rules[&RuleId::new(id)].options);
        assert!(Arc::ptr_eq(&options(1), &options(2)));
        assert!(!Arc::ptr_eq(&options(1), &options(3)));
        assert_eq!(options(3).cooldown_minutes, 60);
        assert_eq!(cache.options.len(), 2);

        cache.forget_rule(RuleId::new(3));
        cache.drop_unused_options();
        assert_eq!(cache.options.len(), 1);
        cache.forget_rule(RuleId::new(1));
        cache.forget_rule(RuleId::new(2));
        cache.drop_unused_options();
        assert!(cache.options.is_empty());
    }
}
