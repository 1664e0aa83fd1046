//! What a condition says about one quote: true, false, or unknown (not enough data).

use std::collections::VecDeque;

use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

use super::condition::{Average, AverageKind, Condition, Direction, Extreme, Move};
use super::indicators::{self, DailyHistory, to_f64};
use crate::domain::Quote;
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

impl From<bool> for Signal {
    fn from(value: bool) -> Self {
        if value { Self::True } else { Self::False }
    }
}

/// What a rule's condition remembers between samples. Kept in the rule's stored state, so it
/// survives restarts.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Memory {
    /// Price of the previous sample (crosses of a level).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_price: Option<Decimal>,
    /// Previous difference price − average, or fast − slow (crosses of averages).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_spread: Option<f64>,
    /// Highest price since the rule was armed (trailing stop).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub highest: Option<Decimal>,
    /// Samples inside the move window, oldest first (moves within a window).
    #[serde(default, skip_serializing_if = "VecDeque::is_empty")]
    pub window: VecDeque<(Timestamp, Decimal)>,
}

/// Evaluates `condition` on `quote`, given the symbol's completed daily `history`, and updates
/// the condition's `memory` for the next sample.
///
/// Samples must come in time order: the rule lifecycle drops duplicate and out-of-order
/// quotes before they get here.
pub fn evaluate(
    condition: &Condition,
    memory: &mut Memory,
    quote: &Quote,
    history: &DailyHistory,
) -> Signal {
    let price = quote.price;
    match condition {
        Condition::Price { op, level } => op.holds(price, *level).into(),
        Condition::CrossesLevel { direction, level } => {
            let previous = memory.last_price.replace(price);
            match previous {
                None => Signal::Unknown,
                Some(prev) => {
                    crossed(*direction, prev <= *level, prev >= *level, price, *level).into()
                }
            }
        }
        Condition::CrossesAverage { direction, average } => {
            let spread = average_value(*average, history, price).map(|avg| to_f64(price) - avg);
            spread_cross(memory, *direction, spread)
        }
        Condition::AverageCrossesAverage {
            fast,
            direction,
            slow,
        } => {
            let spread = average_value(*fast, history, price)
                .zip(average_value(*slow, history, price))
                .map(|(f, s)| f - s);
            spread_cross(memory, *direction, spread)
        }
        Condition::DayChange { op, percent } => match quote.change_percent() {
            Some(change) => op.holds(change, *percent).into(),
            None => Signal::Unknown,
        },
        Condition::MoveWithin {
            direction,
            percent,
            window_minutes,
        } => {
            let from = quote.at - chrono::Duration::minutes(i64::from(*window_minutes));
            while memory.window.front().is_some_and(|(at, _)| *at < from) {
                memory.window.pop_front();
            }
            let (low, high) = memory.window.iter().fold((None, None), |(lo, hi), (_, p)| {
                (
                    Some(lo.map_or(*p, |l: Decimal| l.min(*p))),
                    Some(hi.map_or(*p, |h: Decimal| h.max(*p))),
                )
            });
            memory.window.push_back((quote.at, price));
            let (Some(low), Some(high)) = (low, high) else {
                return Signal::Unknown;
            };
            let rise = (price - low) / low * Decimal::ONE_HUNDRED;
            let fall = (high - price) / high * Decimal::ONE_HUNDRED;
            match direction {
                Move::Up => rise >= *percent,
                Move::Down => fall >= *percent,
                Move::Either => rise >= *percent || fall >= *percent,
            }
            .into()
        }
        Condition::VolumeSpike { multiple, days } => {
            let bars = history.bars();
            let days = *days as usize;
            let (Some(volume), true) = (quote.volume, bars.len() >= days) else {
                return Signal::Unknown;
            };
            let recent = &bars[bars.len() - days..];
            let Some(total) = recent
                .iter()
                .try_fold(0_u128, |sum, b| b.volume.map(|v| sum + u128::from(v)))
            else {
                return Signal::Unknown;
            };
            // volume ≥ multiple × total / days  ⇔  volume × days ≥ multiple × total
            let lhs = Decimal::from(volume) * Decimal::from(days as u64);
            match Decimal::from_i128_with_scale(total as i128, 0).checked_mul(*multiple) {
                Some(rhs) => (lhs >= rhs && total > 0).into(),
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
                    let distance = bound * *percent / Decimal::ONE_HUNDRED;
                    match extreme {
                        Extreme::High => price >= bound - distance,
                        Extreme::Low => price <= bound + distance,
                    }
                    .into()
                }
                None => Signal::Unknown,
            }
        }
        Condition::Rsi { period, op, level } => {
            match indicators::rsi(history.closes(), *period as usize, to_f64(price)) {
                Some(value) => op.holds(value, to_f64(*level)).into(),
                None => Signal::Unknown,
            }
        }
        Condition::TrailingStop { percent } => {
            let highest = memory.highest.map_or(price, |h| h.max(price));
            memory.highest = Some(highest);
            (price <= highest * (Decimal::ONE_HUNDRED - *percent) / Decimal::ONE_HUNDRED).into()
        }
        Condition::Gap { direction, percent } => match (quote.day_open, quote.previous_close) {
            (Some(open), Some(prev)) => {
                let gap = (open - prev) / prev * Decimal::ONE_HUNDRED;
                match direction {
                    Direction::Up => gap >= *percent,
                    Direction::Down => -gap >= *percent,
                }
                .into()
            }
            _ => Signal::Unknown,
        },
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

fn spread_cross(memory: &mut Memory, direction: Direction, spread: Option<f64>) -> Signal {
    let Some(spread) = spread else {
        return Signal::Unknown;
    };
    match memory.last_spread.replace(spread) {
        None => Signal::Unknown,
        Some(prev) => crossed(direction, prev <= 0.0, prev >= 0.0, spread, 0.0).into(),
    }
}

fn average_value(average: Average, history: &DailyHistory, price: Decimal) -> Option<f64> {
    let period = average.period as usize;
    match average.kind {
        AverageKind::Sma => indicators::sma(history.closes(), period, to_f64(price)),
        AverageKind::Ema => indicators::ema(history.closes(), period, to_f64(price)),
    }
}

fn extreme_of(history: &DailyHistory, at: Timestamp, extreme: Extreme) -> Option<Decimal> {
    let bars = history.last_52_weeks(at);
    match extreme {
        Extreme::High => bars.iter().map(|b| b.high).max(),
        Extreme::Low => bars.iter().map(|b| b.low).min(),
    }
}
