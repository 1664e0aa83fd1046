//! What the monitor keeps between cycles: parsed rules, their states, the symbols' samples
//! and daily history.

use std::collections::HashMap;

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
    pub(super) options: RuleOptions,
    /// Completed sessions of daily history its condition needs (0: none).
    pub(super) history_sessions: usize,
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
}

/// How much daily history the rules of a symbol read.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(super) struct HistoryNeed {
    pub(super) sessions: usize,
    pub(super) ranges: bool,
    pub(super) volumes: bool,
}

impl HistoryNeed {
    pub(super) fn of(rule: &CachedRule) -> Self {
        Self {
            sessions: rule.history_sessions,
            ranges: rule.condition.reads_daily_ranges(),
            volumes: rule.condition.reads_daily_volumes(),
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

#[derive(Default)]
pub(super) struct Cache {
    pub(super) rules: HashMap<RuleId, CachedRule>,
    pub(super) states: HashMap<RuleId, EngineState>,
    pub(super) symbols: HashMap<Symbol, SymbolState>,
    /// Rules whose stored condition or options cannot be read, with the edit that broke them:
    /// marked `error` once, read again when edited.
    pub(super) broken: HashMap<RuleId, Timestamp>,
    /// Newly broken rules, to mark in this cycle's write.
    pub(super) newly_broken: Vec<RuleId>,
    /// Rules with no stored state yet: their first evaluation is written even when it changes
    /// nothing, so that a rule a worker watches reads as evaluated (and since when).
    pub(super) unstored: std::collections::HashSet<RuleId>,
}

pub(super) fn parse_rule(rule: Rule) -> Result<CachedRule, String> {
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
