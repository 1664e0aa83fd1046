//! Corporate events in the cycle: each symbol's calendar, refreshed once per exchange day
//! from the providers that have one and kept in the store; and splits, applied once when the
//! first quote after the ex-date comes in.
//!
//! Applying a split of `new`-for-`old` to a symbol:
//! - every enabled rule that reads the symbol's price against a level (`AAPL > 600`,
//!   `AAPL crosses below 150`, in a combination too) and was created before the ex-date gets
//!   its level × old ÷ new, and its owner a notice alert saying the old and new level;
//! - the rules' remembered prices (a trailing stop's high, the last firing's price, the last
//!   close) and the symbol's stored samples before the ex-date are adjusted the same way;
//! - the daily history and the quote's previous close, when the provider gave them
//!   unadjusted (the earlier price is nearer the ratio than 1 times the new one), too;
//!
//! so that no rule fires on the jump itself. All of it is written in the cycle's transaction
//! with a record of the split, once per symbol and ex-date whichever worker applies it.

use std::collections::{BTreeMap, HashMap};

use chrono::{Days, NaiveDate};

use crate::domain::{
    AlertKind, AppliedSplit, CycleWrite, NewAlert, Quote, RuleId, SplitRatio, Symbol,
};
use crate::engine::indicators::exchange_date;
use crate::time::Timestamp;

use super::Monitor;
use super::cache::Cache;

/// Calendars refreshed from the providers per cycle at most (the rest wait for the next
/// cycles, so a worker with thousands of symbols spreads the calls over its first minutes).
const REFRESHES_PER_CYCLE: usize = 25;
/// Days back a refresh asks for (a split reported only once it has gone ex is still seen).
const DAYS_BACK: u64 = 7;
/// Days ahead a refresh asks for.
const DAYS_AHEAD: u64 = 90;
/// How long after a failed refresh the providers are asked again.
const RETRY_AFTER_MINUTES: i64 = 30;

impl Monitor {
    /// Reads the stored calendars of symbols new to this worker, and refreshes from the
    /// providers those not refreshed today (at most [`REFRESHES_PER_CYCLE`]).
    pub(super) async fn corporate_events(
        &self,
        cache: &mut Cache,
        by_symbol: &BTreeMap<Symbol, Vec<RuleId>>,
        now: Timestamp,
        problems: &mut Vec<String>,
    ) -> Result<(), super::MonitorError> {
        if !self.market.has_events() {
            return Ok(());
        }
        let today = exchange_date(now);
        let Cache { rules, symbols, .. } = cache;
        // The symbols the rules read, borrowed: only those to read or refresh are cloned.
        let read: std::collections::BTreeSet<&Symbol> = by_symbol
            .values()
            .flatten()
            .flat_map(|id| rules[id].reads.iter().map(|r| &r.symbol))
            .filter(|s| !s.is_crypto() && s.as_str() != crate::engine::PORTFOLIO)
            .collect();
        let unread: Vec<Symbol> = read
            .iter()
            .filter(|s| !symbols.get(**s).is_some_and(|e| e.events_loaded))
            .map(|s| (*s).clone())
            .collect();
        if !unread.is_empty() {
            let stored = self.store.load_events(&unread).await?;
            let applied = self.store.applied_splits(&unread).await?;
            for symbol in &unread {
                let entry = symbols.entry(symbol.clone()).or_default();
                entry.events_loaded = true;
                if let Some(calendar) = stored.iter().find(|c| &c.symbol == symbol) {
                    entry.events = Some(calendar.events.clone());
                    entry.events_day = Some(calendar.refreshed_on);
                }
                entry.applied_splits = applied
                    .iter()
                    .filter(|(s, _, _)| s == symbol)
                    .map(|(_, day, ratio)| (*day, *ratio))
                    .collect();
            }
        }
        let due: Vec<Symbol> = read
            .into_iter()
            .filter(|s| {
                symbols.get(*s).is_some_and(|e| {
                    e.events_day != Some(today) && e.events_retry_at.is_none_or(|at| now >= at)
                })
            })
            .take(REFRESHES_PER_CYCLE)
            .cloned()
            .collect();
        let from = today
            .checked_sub_days(Days::new(DAYS_BACK))
            .unwrap_or(today);
        let to = today
            .checked_add_days(Days::new(DAYS_AHEAD))
            .unwrap_or(today);
        for symbol in due {
            let answer = self.market.corporate_events(&symbol, from, to).await;
            let entry = symbols.entry(symbol.clone()).or_default();
            match answer {
                Ok(events) => {
                    if let Err(e) = self.store.save_events(&symbol, &events, today).await {
                        problems.push(format!("{symbol}: corporate events not stored: {e}"));
                    }
                    entry.events = Some(events);
                    entry.events_day = Some(today);
                    entry.events_retry_at = None;
                }
                Err(e) => {
                    // The calendar stored earlier stays in use.
                    problems.push(format!("{symbol}: no corporate events: {e}"));
                    entry.events_retry_at =
                        Some(now + chrono::Duration::minutes(RETRY_AFTER_MINUTES));
                }
            }
        }
        Ok(())
    }
}

/// The splits whose ex-date has come for the symbols in `by_symbol` this worker stores,
/// applied to the cache, the quotes and the cycle's write (see the module's documentation).
pub(super) fn apply_splits(
    cache: &mut Cache,
    by_symbol: &BTreeMap<Symbol, Vec<RuleId>>,
    quotes: &mut HashMap<Symbol, Quote>,
    now: Timestamp,
    write: &mut CycleWrite,
) {
    let today = exchange_date(now);
    let oldest = today
        .checked_sub_days(Days::new(DAYS_BACK))
        .unwrap_or(today);
    let stamp = crate::time::to_storage_precision(now);
    for symbol in by_symbol.keys() {
        let Some(quote) = quotes.get(symbol) else {
            continue;
        };
        let Some(entry) = cache.symbols.get_mut(symbol) else {
            continue;
        };
        // History loaded afresh from a provider that gives it unadjusted (Alpaca's raw bars,
        // a replay): the splits applied earlier are put in it again.
        if std::mem::take(&mut entry.history_fresh) {
            for (date, ratio) in &entry.applied_splits {
                entry.history.split_adjust(*date, *ratio, quote.price);
            }
        }
        if entry.foreign {
            continue;
        }
        // Once the first quote of the ex-date (or later) is in: then prices are the new ones.
        let due: Vec<(NaiveDate, SplitRatio)> = entry
            .events
            .iter()
            .flatten()
            .filter_map(crate::domain::CorporateEvent::split)
            .filter(|(date, _)| {
                (oldest..=exchange_date(quote.at)).contains(date)
                    && !entry.applied_splits.iter().any(|(d, _)| d == date)
            })
            .collect();
        for (date, ratio) in due {
            let split = apply_split(cache, symbol, date, ratio, quotes, stamp, write);
            write.splits.push(split);
        }
    }
}

fn apply_split(
    cache: &mut Cache,
    symbol: &Symbol,
    date: NaiveDate,
    ratio: SplitRatio,
    quotes: &mut HashMap<Symbol, Quote>,
    stamp: Timestamp,
    write: &mut CycleWrite,
) -> AppliedSplit {
    let start = crate::engine::calendar::day_start(date);
    let Cache { rules, symbols, .. } = cache;
    let quote = quotes.get_mut(symbol);
    let price_after = quote.as_ref().map(|q| q.price).unwrap_or_default();
    if let Some(entry) = symbols.get_mut(symbol) {
        entry.applied_splits.push((date, ratio));
        // Live samples are as traded: always in the old terms before the ex-date.
        crate::engine::split::adjust_series(
            &mut entry.samples,
            &mut entry.history,
            quote,
            date,
            ratio,
            price_after,
        );
        entry.resave = true;
    }
    let day = u32::try_from((date - NaiveDate::default()).num_days()).unwrap_or(0);
    let mut moved = Vec::new();
    let mut ids: Vec<RuleId> = rules
        .values()
        .filter(|r| r.reads.iter().any(|read| &read.symbol == symbol))
        .map(|r| r.id)
        .collect();
    ids.sort();
    for id in ids {
        let Some(rule) = rules.get_mut(&id) else {
            continue;
        };
        // A rule created since the ex-date has its level in the new terms (a clock behind
        // the rule's creation replays the past: the rule counts as older).
        if rule.created_at >= start && rule.created_at <= stamp {
            continue;
        }
        if &rule.symbol == symbol
            && let Some(state) = &mut rule.state
        {
            let before = state.clone();
            state.split_adjust(ratio);
            if *state != before {
                write.states.push(state.to_stored(id, stamp));
            }
        }
        let Some(condition) = rule.condition.split_adjusted(&rule.symbol, symbol, ratio) else {
            continue;
        };
        let old_text = format!("{} {}", rule.symbol, rule.condition);
        let new_text = format!("{} {condition}", rule.symbol);
        moved.push((id, condition.to_document()));
        write.alerts.push(NewAlert {
            rule_id: id,
            owner: rule.owner,
            symbol: rule.symbol.clone(),
            episode: rule.state.as_ref().map_or(0, |s| s.episode),
            kind: AlertKind::Notice,
            price: price_after,
            message: format!(
                "{symbol} split {ratio} on {date}: the rule's level moves with it, from \
                 '{old_text}' to '{new_text}'"
            ),
            fired_at: stamp,
            reminder: day,
        });
        rule.condition = condition;
        rule.updated_at = stamp;
    }
    AppliedSplit {
        symbol: symbol.clone(),
        date,
        ratio,
        since: start,
        rules: moved,
    }
}

/// The cycle's holdings in the terms of the splits it applies (as the store writes them).
pub(super) fn adjust_holdings(
    holdings: &mut HashMap<crate::domain::UserId, Vec<crate::domain::Holding>>,
    splits: &[AppliedSplit],
    now: Timestamp,
) {
    for split in splits {
        for held in holdings.values_mut().flatten() {
            if held.symbol == split.symbol
                && let Some(adjusted) = held.split_adjusted(split.ratio, split.since, now)
            {
                *held = adjusted;
            }
        }
    }
}
