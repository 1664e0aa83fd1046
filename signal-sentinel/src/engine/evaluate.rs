//! What a condition says about one quote: true, false, or unknown (not enough data).

use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

use super::condition::{Average, AverageKind, Comparison, Condition, Direction, Extreme, Move};
use super::indicators::{DailyHistory, to_f64};
use crate::domain::{Quote, Sample};
use crate::time::Timestamp;

/// What a condition says about a quote.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Signal {
    /// The condition holds (or, for an event, happened at this sample).
    True,
    /// It does not.
    False,
    /// It cannot be told yet: indicators still warming up, no previous close, no volume …
    Unknown,
}

/// Why a condition could not be evaluated on a sample: a value it computes from the quote, the
/// history or the holdings is beyond what a [`Decimal`] can hold (an absurd quote, such as a
/// price 10²⁷ times its previous close). The rule goes into its error state for that sample;
/// every other rule is evaluated as usual.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, thiserror::Error)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum EvalError {
    /// The change from the previous close (day change, position day move).
    #[error("the change from the previous close is out of range")]
    DayChange,
    /// The move within the window.
    #[error("the move within the window is out of range")]
    Move,
    /// The opening gap.
    #[error("the gap from the previous close is out of range")]
    Gap,
    /// The trailing stop's level.
    #[error("the trailing stop's level is out of range")]
    TrailingStop,
    /// The distance to the 52-week extreme.
    #[error("the distance to the 52-week extreme is out of range")]
    Extreme,
    /// The volume compared with the average.
    #[error("the volume compared with its average is out of range")]
    Volume,
    /// The position's cost, value or weight.
    #[error("the position's cost, value or weight is out of range")]
    Position,
    /// The level at which a firing rule re-arms (hysteresis).
    #[error("the re-arm level (hysteresis) is out of range")]
    Hysteresis,
    /// The stored condition cannot be read by this version; the owner edits the rule.
    #[error("the stored condition cannot be read; edit the rule")]
    Unreadable,
}

impl From<bool> for Signal {
    fn from(value: bool) -> Self {
        if value { Self::True } else { Self::False }
    }
}

/// What the engine sees of a symbol at one quote. Built once per symbol and cycle and shared
/// by every rule on the symbol: the previous sample and the recent ones belong to the symbol,
/// not to a rule, so a rule's own state changes only when its lifecycle does.
#[derive(Debug, Clone, Copy)]
pub struct MarketView<'a> {
    /// The quote being evaluated.
    pub quote: &'a Quote,
    /// The symbol's previous sample (before `quote`), if any. For a rule, a sample taken
    /// before the rule existed does not count (see [`evaluate`]).
    pub previous: Option<Sample>,
    /// The symbol's recent samples before `quote`, oldest first (for moves within a window;
    /// older ones than the longest window in use may be dropped).
    pub recent: &'a [Sample],
    /// Completed daily sessions before the quote's session.
    pub history: &'a DailyHistory,
    /// The rule owner's holdings, for conditions that read them (none: they are unknown).
    pub book: Option<&'a Book>,
    /// For a combination: the rule's own symbol and the views of the other symbols it reads
    /// (none: every operand reads this view's symbol).
    pub others: Option<Others<'a>>,
    /// The symbol's corporate calendar (none: no provider gives it one, and the conditions
    /// that read it are unknown).
    pub events: Option<&'a [crate::domain::CorporateEvent]>,
}

/// What a combination over several symbols reads besides the view it is evaluated at: the
/// rule's own symbol (which a bare operand reads) and a view of any symbol, given while its
/// latest quote is not stale.
#[derive(Clone, Copy)]
pub struct Others<'a> {
    /// The rule's symbol.
    pub own: &'a crate::domain::Symbol,
    /// The view of a symbol, when it has a quote that is not stale.
    pub lookup: &'a dyn Fn(&crate::domain::Symbol) -> Option<MarketView<'a>>,
    /// Whether another symbol it reads has a fresh sample: the combination is evaluated
    /// then even when the view's own quote is not new.
    pub fresh: bool,
}

impl std::fmt::Debug for Others<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Others")
            .field("own", self.own)
            .finish_non_exhaustive()
    }
}

impl<'a> MarketView<'a> {
    /// The view an operand on `symbol` reads (`None`: the rule's own symbol), if its quote is
    /// there and not stale.
    pub fn of(&self, symbol: Option<&crate::domain::Symbol>) -> Option<MarketView<'a>> {
        let own = self.others.map_or(&self.quote.symbol, |o| o.own);
        let symbol = symbol.unwrap_or(own);
        if *symbol == self.quote.symbol {
            Some(*self)
        } else {
            self.others.and_then(|o| (o.lookup)(symbol))
        }
    }
}

/// A position as the engine sees it: the total over the owner's accounts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BookPosition {
    /// Units held.
    pub quantity: Decimal,
    /// Average cost per unit, when every account holding it gave one.
    pub cost_basis: Option<Decimal>,
}

/// One user's holdings at one cycle: positions by symbol and, when every holding has a quote,
/// the portfolio's value now and at the previous closes.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Book {
    positions: std::collections::HashMap<crate::domain::Symbol, BookPosition>,
    value: Option<Decimal>,
    previous_value: Option<Decimal>,
}

impl Book {
    /// The book of `holdings`, valued at `quotes` (the value stays unknown when a holding has
    /// no quote, or no previous close for the previous value).
    pub fn new(holdings: &[crate::domain::Holding], quotes: &[&Quote]) -> Self {
        let mut positions: std::collections::HashMap<crate::domain::Symbol, BookPosition> =
            std::collections::HashMap::new();
        for h in holdings {
            let entry = positions.entry(h.symbol.clone()).or_insert(BookPosition {
                quantity: Decimal::ZERO,
                cost_basis: Some(Decimal::ZERO),
            });
            // A total beyond what a decimal holds leaves the cost (or quantity) unknown.
            entry.cost_basis = match (entry.cost_basis, h.cost_basis) {
                (Some(total), Some(cost)) => cost
                    .checked_mul(h.quantity)
                    .and_then(|c| total.checked_add(c)),
                _ => None,
            };
            match entry.quantity.checked_add(h.quantity) {
                Some(q) => entry.quantity = q,
                None => {
                    entry.quantity = Decimal::ZERO;
                    entry.cost_basis = None;
                }
            }
        }
        for p in positions.values_mut() {
            p.cost_basis = p
                .cost_basis
                .filter(|_| !p.quantity.is_zero())
                .and_then(|total| total.checked_div(p.quantity));
        }
        let mut value = Some(Decimal::ZERO);
        let mut previous_value = Some(Decimal::ZERO);
        for (symbol, p) in &positions {
            let quote = quotes.iter().find(|q| &q.symbol == symbol);
            value = value
                .zip(quote)
                .and_then(|(v, q)| v.checked_add(q.price.checked_mul(p.quantity)?));
            previous_value = previous_value
                .zip(quote.and_then(|q| q.previous_close))
                .and_then(|(v, prev)| v.checked_add(prev.checked_mul(p.quantity)?));
        }
        let priced = !positions.is_empty();
        Self {
            positions,
            value: value.filter(|_| priced),
            previous_value: previous_value.filter(|_| priced),
        }
    }

    /// The position in `symbol`, if held.
    pub fn position(&self, symbol: &crate::domain::Symbol) -> Option<BookPosition> {
        self.positions.get(symbol).copied()
    }

    /// The symbols held.
    pub fn symbols(&self) -> impl Iterator<Item = &crate::domain::Symbol> {
        self.positions.keys()
    }

    /// The portfolio's market value, when every holding is priced.
    pub fn value(&self) -> Option<Decimal> {
        self.value
    }

    /// The portfolio as a quote of the [`PORTFOLIO`](super::PORTFOLIO) pseudo-symbol: its
    /// value as the price, its value at the previous closes as the previous close.
    pub fn as_quote(&self, at: Timestamp) -> Option<Quote> {
        let symbol = crate::domain::Symbol::parse(super::PORTFOLIO).ok()?;
        let quote = Quote::new(symbol, self.value?, at, "portfolio").ok()?;
        Some(match self.previous_value {
            Some(prev) => quote.clone().with_previous_close(prev).unwrap_or(quote),
            None => quote,
        })
    }
}

/// What a rule's condition remembers itself. Small and `Copy`: the monitor compares it before
/// and after a step to know whether the rule's stored state must be written.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Memory {
    /// Highest price since the rule was armed (trailing stop).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub highest: Option<Decimal>,
}

/// Evaluates `condition` on the view's quote and updates the rule's `memory`.
///
/// `created_at` is when the rule was created: edge-triggered conditions compare with the
/// symbol's previous sample only when that sample is not older, so a rule never fires on its
/// first sample. Samples must come in time order: the rule lifecycle drops duplicate and
/// out-of-order quotes before they get here.
///
/// All arithmetic on prices, quantities and percentages is checked.
///
/// # Errors
/// [`EvalError`] when a value the condition computes is beyond what a [`Decimal`] holds; the
/// memory is then left as it was.
pub fn evaluate(
    condition: &Condition,
    memory: &mut Memory,
    view: &MarketView<'_>,
    created_at: Option<Timestamp>,
) -> Result<Signal, EvalError> {
    let previous = view
        .previous
        .filter(|p| created_at.is_none_or(|created| p.at >= created));
    let quote = view.quote;
    let price = quote.price;
    let history = view.history;
    Ok(match condition {
        Condition::All { of } => {
            // False decides; otherwise an operand without data leaves it unknown.
            let mut all = Signal::True;
            for c in of {
                match operand(c, memory, view, created_at)? {
                    Signal::False => return Ok(Signal::False),
                    Signal::Unknown => all = Signal::Unknown,
                    Signal::True => {}
                }
            }
            all
        }
        Condition::Any { of } => {
            // True decides; otherwise an operand without data leaves it unknown.
            let mut any = Signal::False;
            for c in of {
                match operand(c, memory, view, created_at)? {
                    Signal::True => return Ok(Signal::True),
                    Signal::Unknown => any = Signal::Unknown,
                    Signal::False => {}
                }
            }
            any
        }
        Condition::Not { of } => match operand(of, memory, view, created_at)? {
            Signal::True => Signal::False,
            Signal::False => Signal::True,
            Signal::Unknown => Signal::Unknown,
        },
        Condition::On { .. } => operand(condition, memory, view, created_at)?,
        Condition::Price {
            op,
            level,
            intraday,
        } => {
            // The extreme since the previous sample on the side the comparison looks at.
            let reached = match (intraday, op) {
                (true, Comparison::Above | Comparison::AtOrAbove) => {
                    high_since(view.previous, quote)
                }
                (true, Comparison::Below | Comparison::AtOrBelow) => {
                    low_since(view.previous, quote)
                }
                (false, _) => price,
            };
            (op.holds(price, *level) || op.holds(reached, *level)).into()
        }
        Condition::CrossesLevel {
            direction,
            level,
            intraday,
        } => match previous {
            Some(prev) => {
                let now = match (intraday, direction) {
                    (true, Direction::Up) => high_since(Some(prev), quote),
                    (true, Direction::Down) => low_since(Some(prev), quote),
                    (false, _) => price,
                };
                crossed(
                    *direction,
                    prev.price <= *level,
                    prev.price >= *level,
                    now,
                    *level,
                )
                .into()
            }
            _ => Signal::Unknown,
        },
        Condition::CrossesAverage { direction, average } => {
            let spread_at = |at: Timestamp, p: Decimal| {
                average_value(*average, history, at, p).map(|avg| to_f64(p) - avg)
            };
            spread_cross(*direction, previous, quote, spread_at)
        }
        Condition::AverageCrossesAverage {
            fast,
            direction,
            slow,
        } => {
            let spread_at = |at: Timestamp, p: Decimal| {
                average_value(*fast, history, at, p)
                    .zip(average_value(*slow, history, at, p))
                    .map(|(f, s)| f - s)
            };
            spread_cross(*direction, previous, quote, spread_at)
        }
        Condition::DayChange { op, percent } => match day_change(quote)? {
            Some(change) => op.holds(change, *percent).into(),
            None => Signal::Unknown,
        },
        Condition::MoveWithin {
            direction,
            percent,
            window_minutes,
        } => {
            // A quote at the very start of time has no window before it.
            let start = match quote
                .at
                .checked_sub_signed(chrono::Duration::minutes(i64::from(*window_minutes)))
            {
                Some(from) => view.recent.partition_point(|s| s.at < from),
                None => 0,
            };
            let window = &view.recent[start..];
            let Some(low) = window.iter().map(|s| s.price).min() else {
                return Ok(Signal::Unknown);
            };
            let high = window.iter().map(|s| s.price).max().unwrap_or(low);
            let rise = percent_of(price.checked_sub(low), low).ok_or(EvalError::Move)?;
            let fall = percent_of(high.checked_sub(price), high).ok_or(EvalError::Move)?;
            match direction {
                Move::Up => rise >= *percent,
                Move::Down => fall >= *percent,
                Move::Either => rise >= *percent || fall >= *percent,
            }
            .into()
        }
        Condition::VolumeSpike { multiple, days } => {
            let volumes = history
                .volumes()
                .get(..history.sessions_before(quote.at))
                .unwrap_or_default();
            let days = *days as usize;
            let (Some(volume), true) = (quote.volume, volumes.len() >= days) else {
                return Ok(Signal::Unknown);
            };
            let recent = &volumes[volumes.len() - days..];
            let Some(total) = recent
                .iter()
                .try_fold(0_u64, |sum, v| v.and_then(|v| sum.checked_add(v)))
            else {
                return Ok(Signal::Unknown);
            };
            // volume ≥ multiple × total / days  ⇔  volume × days ≥ multiple × total
            let lhs = Decimal::from(volume)
                .checked_mul(Decimal::from(days as u64))
                .ok_or(EvalError::Volume)?;
            let rhs = Decimal::from(total)
                .checked_mul(*multiple)
                .ok_or(EvalError::Volume)?;
            (total > 0 && lhs >= rhs).into()
        }
        Condition::Earnings { .. } | Condition::ExDividend { .. } | Condition::SplitAnnounced => {
            match view.events {
                Some(events) => (!events_due(condition, events, quote.at).is_empty()).into(),
                None => Signal::Unknown,
            }
        }
        Condition::NewExtreme { extreme } => match extreme_of(history, quote.at, *extreme) {
            Some(bound) => match extreme {
                Extreme::High => price > bound,
                Extreme::Low => price < bound,
            }
            .into(),
            None => Signal::Unknown,
        },
        Condition::NearExtreme { extreme, percent } => {
            match extreme_of(history, quote.at, *extreme) {
                Some(bound) => {
                    let distance = bound
                        .checked_mul(*percent)
                        .map(|d| d / Decimal::ONE_HUNDRED)
                        .ok_or(EvalError::Extreme)?;
                    match extreme {
                        Extreme::High => {
                            price >= bound.checked_sub(distance).ok_or(EvalError::Extreme)?
                        }
                        Extreme::Low => {
                            price <= bound.checked_add(distance).ok_or(EvalError::Extreme)?
                        }
                    }
                    .into()
                }
                None => Signal::Unknown,
            }
        }
        Condition::Rsi { period, op, level } => {
            let n = history.sessions_before(quote.at);
            match history.rsi_at(n, *period as usize, to_f64(price)) {
                Some(value) => op.holds(value, to_f64(*level)).into(),
                None => Signal::Unknown,
            }
        }
        Condition::TrailingStop { percent } => {
            let highest = memory.highest.map_or(price, |h| h.max(price));
            let stop = below_by(highest, *percent).ok_or(EvalError::TrailingStop)?;
            memory.highest = Some(highest);
            (price <= stop).into()
        }
        Condition::PositionBelowCost { percent } => {
            match view
                .book
                .and_then(|b| b.position(&quote.symbol))
                .and_then(|p| p.cost_basis)
            {
                Some(cost) if cost > Decimal::ZERO => {
                    (price <= below_by(cost, *percent).ok_or(EvalError::Position)?).into()
                }
                _ => Signal::Unknown,
            }
        }
        Condition::PositionDayMove { percent } => {
            match (
                view.book.and_then(|b| b.position(&quote.symbol)),
                day_change(quote).map_err(|_| EvalError::Position)?,
            ) {
                (Some(_), Some(change)) => (change.abs() >= *percent).into(),
                _ => Signal::Unknown,
            }
        }
        Condition::PositionWeight { percent } => {
            let book = view.book;
            match (
                book.and_then(|b| b.position(&quote.symbol)),
                book.and_then(Book::value),
            ) {
                (Some(p), Some(total)) if total > Decimal::ZERO => {
                    let weight = p
                        .quantity
                        .checked_mul(price)
                        .and_then(|v| v.checked_mul(Decimal::ONE_HUNDRED));
                    let bound = percent.checked_mul(total);
                    match weight.zip(bound) {
                        Some((weight, bound)) => (weight > bound).into(),
                        None => return Err(EvalError::Position),
                    }
                }
                _ => Signal::Unknown,
            }
        }
        Condition::Gap { direction, percent } => match (quote.day_open, quote.previous_close) {
            (Some(open), Some(prev)) => {
                let gap = percent_of(open.checked_sub(prev), prev).ok_or(EvalError::Gap)?;
                match direction {
                    Direction::Up => gap >= *percent,
                    Direction::Down => -gap >= *percent,
                }
                .into()
            }
            _ => Signal::Unknown,
        },
    })
}

/// An operand of a combination, on the view of the symbol it reads (unknown when that
/// symbol has no quote, or only a stale one).
fn operand(
    condition: &Condition,
    memory: &mut Memory,
    view: &MarketView<'_>,
    created_at: Option<Timestamp>,
) -> Result<Signal, EvalError> {
    let (symbol, leaf) = match condition {
        Condition::All { .. } | Condition::Any { .. } | Condition::Not { .. } => {
            return evaluate(condition, memory, view, created_at);
        }
        Condition::On { symbol, condition } => (Some(symbol), &**condition),
        leaf => (None, leaf),
    };
    match view.of(symbol) {
        Some(v) => evaluate(leaf, memory, &v, created_at),
        None => Ok(Signal::Unknown),
    }
}

/// The operands of a combination that held when it fired, each with its symbol and the value
/// it read: `AAPL crosses above 200 (201.3), AAPL volume >= 2x avg(20) (2.41x)`. An operand
/// under `not` is listed when it did not hold (`not SPY day change > 0% (-0.8%)`). Empty for a
/// single condition.
pub fn held_operands(
    condition: &Condition,
    view: &MarketView<'_>,
    created_at: Option<Timestamp>,
) -> String {
    if !condition.is_combination() {
        return String::new();
    }
    let mut held = Vec::new();
    collect_held(condition, false, view, created_at, &mut held);
    held.join(", ")
}

fn collect_held(
    condition: &Condition,
    negated: bool,
    view: &MarketView<'_>,
    created_at: Option<Timestamp>,
    out: &mut Vec<String>,
) {
    let (symbol, leaf) = match condition {
        Condition::All { of } | Condition::Any { of } => {
            for c in of {
                collect_held(c, negated, view, created_at, out);
            }
            return;
        }
        Condition::Not { of } => return collect_held(of, !negated, view, created_at, out),
        Condition::On { symbol, condition } => (Some(symbol), &**condition),
        leaf => (None, leaf),
    };
    let Some(v) = view.of(symbol) else { return };
    let mut scratch = Memory::default();
    let want = if negated { Signal::False } else { Signal::True };
    if evaluate(leaf, &mut scratch, &v, created_at) == Ok(want) {
        let not = if negated { "not " } else { "" };
        let value = operand_value(leaf, &v)
            .map(|value| format!(" ({value})"))
            .unwrap_or_default();
        out.push(format!("{not}{} {leaf}{value}", v.quote.symbol));
    }
}

/// What a single condition reads from its view, as the message shows it: the change for a
/// day change, the RSI, the volume's multiple of its average, the averages of a cross; the
/// price otherwise.
fn operand_value(condition: &Condition, view: &MarketView<'_>) -> Option<String> {
    let quote = view.quote;
    let history = view.history;
    let n = history.sessions_before(quote.at);
    Some(match condition {
        Condition::DayChange { .. } | Condition::PositionDayMove { .. } => {
            format!("{:+}%", day_change(quote).ok()??.round_dp(2))
        }
        Condition::Rsi { period, .. } => format!(
            "rsi {:.1}",
            history.rsi_at(n, *period as usize, to_f64(quote.price))?
        ),
        Condition::VolumeSpike { days, .. } => {
            let volumes = history.volumes().get(..n)?;
            let days = *days as usize;
            let recent = volumes.get(volumes.len().checked_sub(days)?..)?;
            let total: u64 = recent
                .iter()
                .try_fold(0_u64, |sum, v| sum.checked_add((*v)?))?;
            let ratio = Decimal::from(quote.volume?)
                .checked_mul(Decimal::from(days as u64))?
                .checked_div(Decimal::from(total))?;
            format!("{}x", ratio.round_dp(2))
        }
        Condition::CrossesAverage { average, .. } => format!(
            "{} vs {average} {:.2}",
            quote.price,
            average_value(*average, history, quote.at, quote.price)?
        ),
        Condition::AverageCrossesAverage { fast, slow, .. } => format!(
            "{fast} {:.2} vs {slow} {:.2}",
            average_value(*fast, history, quote.at, quote.price)?,
            average_value(*slow, history, quote.at, quote.price)?
        ),
        _ => quote.price.to_string(),
    })
}

/// For an alert of a corporate-calendar condition, the events that make it hold, as the
/// message says them: `earnings on 2026-12-08 after the close`.
pub fn event_note(condition: &Condition, view: &MarketView<'_>) -> Option<String> {
    let events = view.events?;
    let due: Vec<String> = condition
        .leaves()
        .into_iter()
        .filter(|(symbol, _)| symbol.is_none_or(|s| *s == view.quote.symbol))
        .flat_map(|(_, leaf)| events_due(leaf, events, view.quote.at))
        .map(crate::domain::CorporateEvent::describe)
        .collect();
    (!due.is_empty()).then(|| due.join("; "))
}

/// The events that make a calendar condition hold at `at`: within its days of the exchange
/// day (today included), or a split whose ex-date is today or later.
fn events_due<'e>(
    condition: &Condition,
    events: &'e [crate::domain::CorporateEvent],
    at: Timestamp,
) -> Vec<&'e crate::domain::CorporateEvent> {
    use crate::domain::EventKind;
    let today = super::indicators::exchange_date(at);
    let until = |days: u32| {
        today
            .checked_add_days(chrono::Days::new(u64::from(days)))
            .unwrap_or(chrono::NaiveDate::MAX)
    };
    events
        .iter()
        .filter(|e| match (condition, e.kind) {
            (Condition::Earnings { days }, EventKind::Earnings { .. })
            | (Condition::ExDividend { days }, EventKind::Dividend { .. }) => {
                (today..=until(*days)).contains(&e.date)
            }
            (Condition::SplitAnnounced, EventKind::Split { .. }) => e.date >= today,
            _ => false,
        })
        .collect()
}

/// When a level condition read with `intraday` holds only through the session's high or low
/// since the previous sample — the price itself is back on the other side — what the message
/// says: `touched intraday (high 201.3)`.
pub fn intraday_touch(
    condition: &Condition,
    view: &MarketView<'_>,
    created_at: Option<Timestamp>,
) -> Option<String> {
    let plain = match *condition {
        Condition::Price {
            op,
            level,
            intraday: true,
        } => Condition::Price {
            op,
            level,
            intraday: false,
        },
        Condition::CrossesLevel {
            direction,
            level,
            intraday: true,
        } => Condition::CrossesLevel {
            direction,
            level,
            intraday: false,
        },
        _ => return None,
    };
    let mut scratch = Memory::default();
    if evaluate(&plain, &mut scratch, view, created_at) == Ok(Signal::True) {
        return None;
    }
    let upward = matches!(
        condition,
        Condition::Price {
            op: Comparison::Above | Comparison::AtOrAbove,
            ..
        } | Condition::CrossesLevel {
            direction: Direction::Up,
            ..
        }
    );
    Some(if upward {
        format!(
            "touched intraday (high {})",
            high_since(view.previous, view.quote)
        )
    } else {
        format!(
            "touched intraday (low {})",
            low_since(view.previous, view.quote)
        )
    })
}

/// The highest price since the previous sample: the session's high when it rose since then
/// (or the whole session's when the previous sample is of an earlier session), else the price
/// — a high that has not moved is a touch already counted.
pub(crate) fn high_since(previous: Option<Sample>, quote: &Quote) -> Decimal {
    range_since(previous, quote, quote.day_high, |p| p.high, |a, b| a > b)
        .map_or(quote.price, |h| h.max(quote.price))
}

/// The lowest price since the previous sample (see [`high_since`]).
pub(crate) fn low_since(previous: Option<Sample>, quote: &Quote) -> Decimal {
    range_since(previous, quote, quote.day_low, |p| p.low, |a, b| a < b)
        .map_or(quote.price, |l| l.min(quote.price))
}

fn range_since(
    previous: Option<Sample>,
    quote: &Quote,
    now: Option<Decimal>,
    then: impl Fn(&Sample) -> Option<Decimal>,
    beyond: impl Fn(Decimal, Decimal) -> bool,
) -> Option<Decimal> {
    let now = now?;
    let Some(prev) = previous else {
        return Some(now);
    };
    let same_session =
        super::indicators::exchange_date(prev.at) == super::indicators::exchange_date(quote.at);
    match then(&prev) {
        _ if !same_session => Some(now),
        Some(then) if beyond(now, then) => Some(now),
        _ => None,
    }
}

/// `part / whole × 100`, checked (`None` on overflow or a zero `whole`).
pub(crate) fn percent_of(part: Option<Decimal>, whole: Decimal) -> Option<Decimal> {
    part?.checked_div(whole)?.checked_mul(Decimal::ONE_HUNDRED)
}

/// `value × (100 − percent) / 100`, checked.
pub(crate) fn below_by(value: Decimal, percent: Decimal) -> Option<Decimal> {
    Some(value.checked_mul(Decimal::ONE_HUNDRED.checked_sub(percent)?)? / Decimal::ONE_HUNDRED)
}

/// `value × (100 + percent) / 100`, checked.
pub(crate) fn above_by(value: Decimal, percent: Decimal) -> Option<Decimal> {
    Some(value.checked_mul(Decimal::ONE_HUNDRED.checked_add(percent)?)? / Decimal::ONE_HUNDRED)
}

/// The change from the previous close in percent: `None` without a previous close, an error
/// when it is beyond what a decimal holds.
fn day_change(quote: &Quote) -> Result<Option<Decimal>, EvalError> {
    match quote.previous_close {
        Some(prev) => percent_of(quote.price.checked_sub(prev), prev)
            .map(Some)
            .ok_or(EvalError::DayChange),
        None => Ok(None),
    }
}

fn crossed<T: PartialOrd>(
    direction: Direction,
    was_at_or_below: bool,
    was_at_or_above: bool,
    now: T,
    level: T,
) -> bool {
    match direction {
        Direction::Up => was_at_or_below && now > level,
        Direction::Down => was_at_or_above && now < level,
    }
}

/// Relative tolerance under which an average and the price (or two averages) are equal:
/// one part in a billion of the price. Averages are computed in binary floating point, so an
/// exact decimal tie can come out ±1e-15 apart; within the tolerance it is a tie, and
/// touching is not yet a cross. No listed price moves in steps that small.
pub const AVERAGE_TIE: f64 = 1e-9;

/// A cross of zero by `spread(at, price)` between the previous sample and the quote; a
/// spread within [`AVERAGE_TIE`] of the price is zero.
fn spread_cross(
    direction: Direction,
    previous: Option<Sample>,
    quote: &Quote,
    spread: impl Fn(Timestamp, Decimal) -> Option<f64>,
) -> Signal {
    let Some(prev) = previous else {
        return Signal::Unknown;
    };
    let tied = |spread: Option<f64>, price: Decimal| {
        spread.map(|s| {
            if s.abs() <= AVERAGE_TIE * to_f64(price).abs() {
                0.0
            } else {
                s
            }
        })
    };
    match (
        tied(spread(prev.at, prev.price), prev.price),
        tied(spread(quote.at, quote.price), quote.price),
    ) {
        (Some(before), Some(now)) => {
            crossed(direction, before <= 0.0, before >= 0.0, now, 0.0).into()
        }
        _ => Signal::Unknown,
    }
}

fn average_value(
    average: Average,
    history: &DailyHistory,
    at: Timestamp,
    price: Decimal,
) -> Option<f64> {
    let period = average.period as usize;
    let n = history.sessions_before(at);
    match average.kind {
        AverageKind::Sma => history.sma_at(n, period, to_f64(price)),
        AverageKind::Ema => history.ema_at(n, period, to_f64(price)),
    }
}

/// The highest high (or lowest low) of the 52 weeks before `at`; `None` until the history
/// covers them all (a symbol with a shorter history has no 52-week extreme yet).
fn extreme_of(history: &DailyHistory, at: Timestamp, extreme: Extreme) -> Option<Decimal> {
    if !history.covers_52_weeks(at) {
        return None;
    }
    let sessions = history.last_52_weeks(at);
    match extreme {
        Extreme::High => history.highs().get(sessions)?.iter().max().copied(),
        Extreme::Low => history.lows().get(sessions)?.iter().min().copied(),
    }
}
