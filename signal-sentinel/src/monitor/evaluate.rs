//! The cycle's evaluation: one step of every rule on its quote, into the cycle's write (no
//! I/O, no allocation per rule).

use std::collections::{BTreeMap, HashMap};

use chrono_tz::America::New_York;

use crate::domain::{
    AlertKind, CycleWrite, NewAlert, Quote, RuleId, Sample, Symbol, SymbolSamples, UserId,
};
use chrono::Duration;

use crate::engine::{
    MarketView, MessageContext, Others, Schedule, Transition, default_template, event_note,
    held_operands, intraday_touch, render, step,
};
use crate::time::Timestamp;

use super::cache::{Cache, CachedRule};

/// One step of every rule in `by_symbol` on its symbol's quote (the portfolio's rules on
/// their owner's book), and the symbol's new sample: what changed goes into `write`.
/// What a cycle evaluates its rules on.
pub(super) struct Inputs<'a> {
    /// The quotes, by symbol.
    pub(super) quotes: &'a HashMap<Symbol, Quote>,
    /// The owners' holdings, for holdings conditions and the portfolio.
    pub(super) books: &'a HashMap<UserId, crate::engine::Book>,
    /// The portfolio's symbol, when rules watch it.
    pub(super) portfolio: Option<&'a Symbol>,
    /// The cycle's time.
    pub(super) now: Timestamp,
    /// Pauses rules that fire too often.
    pub(super) flood_guard: super::FloodGuard,
    /// Whether the market gives minute bars (rules on minute bars read them; otherwise they
    /// are evaluated on each quote).
    pub(super) minute_bars: bool,
}

pub(super) fn evaluate(
    cache: &mut Cache,
    by_symbol: &BTreeMap<Symbol, Vec<RuleId>>,
    inputs: &Inputs<'_>,
    write: &mut CycleWrite,
) {
    let Inputs {
        quotes,
        books,
        portfolio,
        now,
        flood_guard,
        minute_bars,
    } = *inputs;
    let Cache {
        rules,
        stated,
        symbols,
        unstored,
        ..
    } = cache;
    // Every symbol read has its entry (the monitor made them); the samples of this cycle are
    // added only once every rule has read the previous ones, so an operand on another
    // symbol sees that symbol's previous sample whatever the order.
    let mut windows: HashMap<Symbol, Duration> = HashMap::new();
    for (symbol, ids) in by_symbol {
        let Some(entry) = symbols.get(symbol) else {
            continue;
        };
        let quote = quotes.get(symbol);
        let previous = entry.samples.last().copied();
        let is_portfolio = Some(symbol) == portfolio;
        for id in ids {
            // Made per rule: a combination's view borrows what only this rule's step sees.
            let view = quote.map(|quote| MarketView {
                quote,
                previous,
                recent: &entry.samples,
                history: &entry.history,
                book: None,
                others: None,
                events: entry.events.as_deref(),
            });
            // The rule and its state, found with one probe; the state is taken out while the
            // rule is read, and put back.
            let Some(slot) = rules.get_mut(id) else {
                continue;
            };
            let had_state = slot.state.is_some();
            let mut state = slot.state.take().unwrap_or_default();
            let cached: &CachedRule = slot;
            for read in &cached.reads {
                // Owned keys (the rules are written to below): a symbol is cloned once a cycle.
                match windows.get_mut(&read.symbol) {
                    Some(window) => *window = (*window).max(read.window),
                    None => {
                        windows.insert(read.symbol.clone(), read.window);
                    }
                }
            }
            let book = books.get(&cached.owner);
            // The portfolio is a quote of its own per owner; holdings conditions see the
            // owner's book.
            let own_quote = if is_portfolio {
                book.and_then(|b| b.as_quote(now))
            } else {
                None
            };
            let stale = Duration::minutes(i64::from(cached.options.stale_after_minutes));
            // A combination's other symbols, at their latest quotes that are not stale.
            let lookup = |s: &Symbol| {
                let quote = quotes.get(s).filter(|q| now - q.at <= stale)?;
                let entry = symbols.get(s)?;
                Some(MarketView {
                    quote,
                    previous: entry.samples.last().copied(),
                    recent: &entry.samples,
                    history: &entry.history,
                    book,
                    others: None,
                    events: entry.events.as_deref(),
                })
            };
            let is_fresh = |s: &Symbol| {
                lookup(s).is_some_and(|v| v.previous.is_none_or(|p| v.quote.at > p.at))
            };
            let view = match (&own_quote, view) {
                (Some(quote), _) => Some(MarketView {
                    quote,
                    previous: None,
                    recent: &[],
                    history: &entry.history,
                    book,
                    others: None,
                    events: None,
                }),
                (None, _) if is_portfolio => None,
                (None, view) if !cached.others.is_empty() => {
                    // The rule's own quote while not stale, else a fresh one of another
                    // symbol it reads.
                    view.filter(|v| now - v.quote.at <= stale)
                        .map(|v| MarketView { book, ..v })
                        .or_else(|| {
                            cached
                                .others
                                .iter()
                                .filter(|s| is_fresh(s))
                                .find_map(lookup)
                        })
                        .map(|v| MarketView {
                            others: Some(Others {
                                own: &cached.symbol,
                                lookup: &lookup,
                                fresh: cached.others.iter().any(is_fresh),
                            }),
                            ..v
                        })
                }
                (None, Some(view)) => Some(MarketView { book, ..view }),
                (None, None) => None,
            };
            let before = state.clone();
            let schedule = Schedule {
                // A clock behind the rule's creation replays the past: every sample counts.
                created_at: Some(cached.created_at).filter(|created| *created <= now),
                expires_at: cached.expires_at,
                snoozed_until: cached.snoozed_until,
            };
            if cached.on_minute_bars && minute_bars {
                // Each minute bar closed since the last cycle, in order, at its close.
                let first = entry.bars.len() - entry.new_bars.min(entry.bars.len());
                for i in first..entry.bars.len() {
                    let bar = entry.bars[i];
                    let start = bar.at - Duration::minutes(1);
                    if !crate::engine::calendar::is_trading(
                        symbol,
                        start,
                        cached.options.extended_hours,
                    ) {
                        continue;
                    }
                    let Some(bar_quote) = bar_quote(symbol, bar, quote) else {
                        continue;
                    };
                    let view = MarketView {
                        quote: &bar_quote,
                        previous: i.checked_sub(1).map(|j| entry.bars[j]),
                        recent: &entry.bars[..i],
                        history: &entry.history,
                        book,
                        others: None,
                        events: entry.events.as_deref(),
                    };
                    settle(
                        *id,
                        cached,
                        &mut state,
                        Some(&view),
                        schedule,
                        now,
                        flood_guard,
                        write,
                    );
                }
            } else {
                settle(
                    *id,
                    cached,
                    &mut state,
                    view.as_ref(),
                    schedule,
                    now,
                    flood_guard,
                    write,
                );
            }
            // What changed, and a rule's first evaluation (it has no stored state yet).
            if state != before || unstored.remove(id) {
                write.states.push(state.to_stored(*id, now));
            }
            slot.state = Some(state);
            *stated += usize::from(!had_state);
        }
    }
    for symbol in by_symbol.keys() {
        let (Some(quote), Some(entry)) = (quotes.get(symbol), symbols.get_mut(symbol)) else {
            continue;
        };
        if entry.samples.last().is_some_and(|p| quote.at <= p.at) {
            // Adjusted for a split without a new quote: stored as they are now.
            if std::mem::take(&mut entry.resave) && !entry.foreign {
                write.samples.push(SymbolSamples {
                    symbol: symbol.clone(),
                    samples: entry.samples.clone(),
                });
            }
            continue;
        }
        entry.resave = false;
        let window = windows.get(symbol).copied().unwrap_or_default();
        entry.samples.push(Sample::of(quote));
        let keep_from = quote.at - window;
        let drop = entry
            .samples
            .partition_point(|s| s.at < keep_from)
            .min(entry.samples.len() - 1);
        entry.samples.drain(..drop);
        // A symbol of another worker's shard, read here by a combination, is that worker's
        // to store.
        if !entry.foreign {
            write.samples.push(SymbolSamples {
                symbol: symbol.clone(),
                samples: entry.samples.clone(),
            });
        }
    }
}

/// One step of a rule on a view (`None`: no quote), and the alert and firing it makes, into
/// the write.
#[allow(clippy::too_many_arguments)]
fn settle(
    id: RuleId,
    cached: &CachedRule,
    state: &mut crate::engine::EngineState,
    view: Option<&MarketView<'_>>,
    schedule: Schedule,
    now: Timestamp,
    flood_guard: super::FloodGuard,
    write: &mut CycleWrite,
) {
    let Some(transition) = step(
        &cached.condition,
        &cached.options,
        schedule,
        state,
        view,
        now,
    ) else {
        return;
    };
    // Too many firings in the guard's window: this one is the last until re-armed.
    let flooded = match transition {
        Transition::Fired { at, .. } => {
            let n = state.count_firing(at, flood_guard.window);
            (n > flood_guard.firings).then_some(n)
        }
        _ => None,
    };
    let (held, touch, due) = match (transition, view) {
        (Transition::Fired { .. }, Some(view)) => (
            held_operands(&cached.condition, view, schedule.created_at),
            intraday_touch(&cached.condition, view, schedule.created_at),
            event_note(&cached.condition, view),
        ),
        _ => (String::new(), None, None),
    };
    let mut alert = alert_for(cached, transition, view.map(|v| v.quote), state.error);
    if !held.is_empty() {
        alert.message.push_str(&format!(" — held: {held}"));
    }
    if let Some(touch) = touch {
        alert.message.push_str(&format!(" — {touch}"));
    }
    if let Some(due) = due {
        alert.message.push_str(&format!(" — {due}"));
    }
    if let Some(n) = flooded {
        alert.message.push_str(&format!(
            " (paused: it fired {n} times within {}; re-arm it to resume)",
            crate::time::describe(flood_guard.window.to_std().unwrap_or_default())
        ));
    }
    write.alerts.push(alert);
    if let Transition::Fired { at, .. } = transition {
        let once = cached.options.frequency == crate::engine::Frequency::Once;
        write.fired.push((id, at, once || flooded.is_some()));
    }
}

/// A closed minute bar as a quote at its close, with the live quote's previous close.
fn bar_quote(symbol: &Symbol, bar: Sample, live: Option<&Quote>) -> Option<Quote> {
    let quote = Quote::new(symbol.clone(), bar.price, bar.at, "minute bar").ok()?;
    Some(match live.and_then(|q| q.previous_close) {
        Some(prev) => quote.clone().with_previous_close(prev).unwrap_or(quote),
        None => quote,
    })
}

fn alert_for(
    cached: &CachedRule,
    transition: Transition,
    quote: Option<&Quote>,
    error: Option<crate::engine::EvalError>,
) -> NewAlert {
    let (kind, episode, price, at, reminder) = match transition {
        Transition::Fired { episode, price, at } => (AlertKind::Fired, episode, price, at, 0),
        Transition::Resolved { episode, price, at } => (AlertKind::Resolved, episode, price, at, 0),
        Transition::Reminder {
            episode,
            reminder,
            price,
            at,
        } => (AlertKind::Reminder, episode, price, at, reminder),
        Transition::NoData {
            episode,
            gap,
            price,
            at,
            ..
        } => (AlertKind::NoData, episode, price, at, gap),
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
        AlertKind::Reminder => format!("{text} still holds: now {price} (reminder {reminder})"),
        AlertKind::NoData => match (transition, error) {
            (
                Transition::NoData {
                    reason: crate::engine::GapReason::Error,
                    ..
                },
                Some(error),
            ) => format!("{text} cannot be evaluated since {time}: {error}"),
            (Transition::NoData { reason, .. }, _) => {
                format!("{text} has no data since {time}: {}", reason.describe())
            }
            _ => format!("{text} has no data since {time}"),
        },
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
        reminder,
    }
}
