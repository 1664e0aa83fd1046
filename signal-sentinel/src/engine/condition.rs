use std::fmt;

use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use thiserror::Error;

use crate::domain::JsonDocument;

/// Version of the JSON form written by [`Condition::to_document`] for a combination (`and`,
/// `or`, `not`). A single condition is still written as version 1, the form every earlier
/// release wrote and reads; both versions are read.
pub const CONDITION_VERSION: u32 = 2;

/// Most conditions (operands) in one combination.
pub const MAX_OPERANDS: usize = 8;
/// Deepest nesting of `and`, `or` and `not` in one combination (`a and (b or not c)` is 3).
pub const MAX_DEPTH: usize = 4;

/// How a value compares with a threshold.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Comparison {
    /// `>`
    #[serde(rename = ">")]
    Above,
    /// `>=`
    #[serde(rename = ">=")]
    AtOrAbove,
    /// `<`
    #[serde(rename = "<")]
    Below,
    /// `<=`
    #[serde(rename = "<=")]
    AtOrBelow,
}

impl Comparison {
    /// The operator as written (`>`, `>=`, `<`, `<=`).
    pub fn symbol(self) -> &'static str {
        match self {
            Self::Above => ">",
            Self::AtOrAbove => ">=",
            Self::Below => "<",
            Self::AtOrBelow => "<=",
        }
    }

    /// Whether `value` compares with `threshold` this way.
    pub fn holds<T: PartialOrd>(self, value: T, threshold: T) -> bool {
        match self {
            Self::Above => value > threshold,
            Self::AtOrAbove => value >= threshold,
            Self::Below => value < threshold,
            Self::AtOrBelow => value <= threshold,
        }
    }
}

/// Up or down.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Direction {
    /// Upwards.
    Up,
    /// Downwards.
    Down,
}

/// Which way a percent move within a window counts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Move {
    /// A rise.
    Up,
    /// A fall.
    Down,
    /// Either.
    Either,
}

/// The 52-week high or low.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Extreme {
    /// Highest high of the last 52 weeks.
    High,
    /// Lowest low of the last 52 weeks.
    Low,
}

/// Simple or exponential moving average.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AverageKind {
    /// Arithmetic mean of the last `period` daily closes.
    Sma,
    /// Exponential average with smoothing 2 / (period + 1), seeded with the SMA.
    Ema,
}

/// A moving average of daily closes (the current price standing in for today's close).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Average {
    /// SMA or EMA.
    pub kind: AverageKind,
    /// Number of daily closes.
    pub period: u32,
}

impl fmt::Display for Average {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let kind = match self.kind {
            AverageKind::Sma => "sma",
            AverageKind::Ema => "ema",
        };
        write!(f, "{kind}({})", self.period)
    }
}

/// When a rule fires: a typed, serde-tagged condition.
///
/// Stored in a rule as a versioned JSON document (`{"version": 1, "type": "price", …}`,
/// see [`Condition::to_document`]); written by people in the text form of
/// [`parse_rule`](super::parse_rule). Thresholds are exact decimals; percentages are in percent
/// (`5` means 5 %).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
#[non_exhaustive]
pub enum Condition {
    /// Level-triggered: the price compares with a level (`AAPL price > 200`).
    Price {
        /// The comparison.
        op: Comparison,
        /// The level.
        level: Decimal,
        /// Also when the session's high (low) since the previous sample reached it: a level
        /// touched between two polls (`AAPL price > 200 intraday`).
        #[serde(default, skip_serializing_if = "std::ops::Not::not")]
        intraday: bool,
    },
    /// Edge-triggered: the price crosses a level. Needs a previous sample on the other side
    /// (at or below the level for an upward cross), so it never fires on its first sample.
    CrossesLevel {
        /// Up through the level, or down through it.
        direction: Direction,
        /// The level.
        level: Decimal,
        /// Also when the session's high (low) since the previous sample went through it
        /// (`AAPL crosses above 200 intraday`).
        #[serde(default, skip_serializing_if = "std::ops::Not::not")]
        intraday: bool,
    },
    /// Edge-triggered: the price crosses a moving average.
    CrossesAverage {
        /// Up through the average, or down through it.
        direction: Direction,
        /// The average.
        average: Average,
    },
    /// Edge-triggered: a fast average crosses a slow one (golden / death cross).
    AverageCrossesAverage {
        /// The average that crosses.
        fast: Average,
        /// Up through the other, or down through it.
        direction: Direction,
        /// The average crossed.
        slow: Average,
    },
    /// Change from the previous session's close, in percent (`TSLA day change <= -5%`).
    DayChange {
        /// The comparison.
        op: Comparison,
        /// Percent, signed.
        percent: Decimal,
    },
    /// A move of at least `percent` within the last `window_minutes` minutes.
    MoveWithin {
        /// Up, down or either way.
        direction: Move,
        /// Size of the move in percent (positive).
        percent: Decimal,
        /// Length of the window.
        window_minutes: u32,
    },
    /// Today's volume is at least `multiple` times the average daily volume of the last `days`
    /// sessions.
    VolumeSpike {
        /// How many times the average (e.g. 2.5).
        multiple: Decimal,
        /// Sessions in the average.
        days: u32,
    },
    /// The price makes a new 52-week high (above every high) or low.
    NewExtreme {
        /// High or low.
        extreme: Extreme,
    },
    /// The price is within `percent` of the 52-week high or low.
    NearExtreme {
        /// High or low.
        extreme: Extreme,
        /// Distance in percent of the extreme.
        percent: Decimal,
    },
    /// The relative strength index (Wilder's, over daily closes) compares with a level.
    Rsi {
        /// Number of daily changes (14 is usual).
        period: u32,
        /// The comparison.
        op: Comparison,
        /// The level, 0–100.
        level: Decimal,
    },
    /// The price falls `percent` below the highest price seen since the rule was armed.
    TrailingStop {
        /// Distance below the high, in percent.
        percent: Decimal,
    },
    /// The session opens at least `percent` above (gap up) or below (gap down) the previous
    /// close.
    Gap {
        /// Up or down.
        direction: Direction,
        /// Size of the gap in percent (positive).
        percent: Decimal,
    },
    /// Holdings: the price is at least `percent` below the owner's cost basis in the symbol
    /// (averaged over accounts). Unknown without a position with a cost basis.
    PositionBelowCost {
        /// Distance below the cost, in percent.
        percent: Decimal,
    },
    /// Holdings: the owner holds the symbol and it moved at least `percent` (either way)
    /// since the previous close.
    PositionDayMove {
        /// Size of the move in percent (positive).
        percent: Decimal,
    },
    /// Holdings: the owner's position in the symbol is more than `percent` of the value of
    /// the whole portfolio (every holding priced at its current quote).
    PositionWeight {
        /// Share of the portfolio, in percent.
        percent: Decimal,
    },
    /// Corporate calendar: an earnings report on one of the next `days` calendar days, today
    /// included (`AAPL earnings within 2d`). Unknown while no provider gives the symbol a
    /// calendar.
    Earnings {
        /// Calendar days ahead, 1 to 90.
        days: u32,
    },
    /// Corporate calendar: an ex-dividend date on one of the next `days` calendar days, today
    /// included (`AAPL ex-dividend within 1d`).
    ExDividend {
        /// Calendar days ahead, 1 to 90.
        days: u32,
    },
    /// Corporate calendar: a split is announced, its ex-date today or later
    /// (`AAPL split announced`).
    SplitAnnounced,
    /// Every operand holds (`a and b`).
    #[serde(rename = "and")]
    All {
        /// Two or more operands.
        of: Vec<Condition>,
    },
    /// At least one operand holds (`a or b`).
    #[serde(rename = "or")]
    Any {
        /// Two or more operands.
        of: Vec<Condition>,
    },
    /// The operand does not hold (`not a`).
    Not {
        /// The operand.
        of: Box<Condition>,
    },
    /// An operand of a combination that reads another symbol than the rule's
    /// (`AAPL crosses above 200 and SPY day change > 0%`).
    On {
        /// The symbol it reads.
        symbol: crate::domain::Symbol,
        /// A single condition (not a combination).
        condition: Box<Condition>,
    },
}

/// The pseudo-symbol of a user's whole portfolio: rules on it (`PORTFOLIO day change <= -3%`,
/// `PORTFOLIO price < 100000`) see the portfolio's market value as the price and its value at
/// the previous closes as the previous close.
pub const PORTFOLIO: &str = "PORTFOLIO";

/// A condition whose values are out of range, or a stored document that is not a condition.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum ConditionError {
    /// A value is out of its range.
    #[error("{field} {reason}")]
    OutOfRange {
        /// The value's name (`level`, `period` …).
        field: &'static str,
        /// What is expected.
        reason: String,
    },
    /// The stored JSON is not a condition this version understands.
    #[error("stored condition cannot be read: {0}")]
    Document(String),
}

/// Longest average or RSI period accepted (a year of sessions and then some).
pub(crate) const MAX_PERIOD: u32 = 400;
/// Furthest ahead a corporate-calendar condition looks, in days.
pub const MAX_EVENT_DAYS: u32 = 90;
/// Longest move window accepted: one week.
pub(crate) const MAX_WINDOW_MINUTES: u32 = 7 * 24 * 60;

fn out_of_range(field: &'static str, reason: impl Into<String>) -> ConditionError {
    ConditionError::OutOfRange {
        field,
        reason: reason.into(),
    }
}

fn positive(field: &'static str, value: Decimal) -> Result<(), ConditionError> {
    if value > Decimal::ZERO {
        Ok(())
    } else {
        Err(out_of_range(
            field,
            format!("must be greater than 0, got {value}"),
        ))
    }
}

fn period(field: &'static str, value: u32, min: u32) -> Result<(), ConditionError> {
    if (min..=MAX_PERIOD).contains(&value) {
        Ok(())
    } else {
        Err(out_of_range(
            field,
            format!("must be between {min} and {MAX_PERIOD}, got {value}"),
        ))
    }
}

impl Condition {
    /// Checks that every value is in range: levels, percents and multiples positive (a day
    /// change may be negative but not zero), periods 1–400 (RSI 2–400), an RSI level within
    /// 0–100, a window of 1 minute to a week, two different averages in a cross. A
    /// combination: a day change of 0% is accepted as an operand; two or more operands to `and` and `or`, at most [`MAX_OPERANDS`] single
    /// conditions nested at most [`MAX_DEPTH`] deep, no trailing stop, a symbol only on a single
    /// condition and never the portfolio.
    ///
    /// # Errors
    /// [`ConditionError::OutOfRange`] naming the first value that is not.
    pub fn validate(&self) -> Result<(), ConditionError> {
        if self.is_combination() {
            return self.validate_combination();
        }
        if matches!(self, Self::On { .. }) {
            return Err(out_of_range(
                "symbol",
                "of another operand belongs in a combination (and, or, not)",
            ));
        }
        self.validate_single()
    }

    fn validate_combination(&self) -> Result<(), ConditionError> {
        let leaves = self.leaves();
        if leaves.len() > MAX_OPERANDS {
            return Err(out_of_range(
                "combination",
                format!(
                    "has at most {MAX_OPERANDS} conditions, this one has {}",
                    leaves.len()
                ),
            ));
        }
        if self.depth() > MAX_DEPTH {
            return Err(out_of_range(
                "combination",
                format!("nests and, or and not at most {MAX_DEPTH} deep"),
            ));
        }
        self.validate_operands()
    }

    fn validate_operands(&self) -> Result<(), ConditionError> {
        match self {
            Self::All { of } | Self::Any { of } => {
                if of.len() < 2 {
                    return Err(out_of_range(
                        "combination",
                        "needs two or more conditions joined by and / or",
                    ));
                }
                of.iter().try_for_each(Self::validate_operands)
            }
            Self::Not { of } => of.validate_operands(),
            Self::On { symbol, condition } => {
                if symbol.as_str() == PORTFOLIO {
                    return Err(out_of_range(
                        "symbol",
                        "PORTFOLIO cannot be an operand of a combination",
                    ));
                }
                if condition.is_combination() || matches!(**condition, Self::On { .. }) {
                    return Err(out_of_range(
                        "symbol",
                        "names a single condition, not a combination",
                    ));
                }
                condition.validate_operands()
            }
            Self::TrailingStop { .. } => Err(out_of_range(
                "combination",
                "cannot hold a trailing stop (it remembers its own high)",
            )),
            // "SPY day change > 0%" (up today) qualifies another condition; alone it would
            // fire nearly every day.
            Self::DayChange { percent, .. } if percent.is_zero() => Ok(()),
            single => single.validate_single(),
        }
    }

    fn validate_single(&self) -> Result<(), ConditionError> {
        match self {
            Self::All { .. } | Self::Any { .. } | Self::Not { .. } | Self::On { .. } => {
                self.validate_operands()
            }
            Self::Price { level, .. } | Self::CrossesLevel { level, .. } => {
                positive("level", *level)
            }
            Self::CrossesAverage { average, .. } => period("period", average.period, 1),
            Self::AverageCrossesAverage { fast, slow, .. } => {
                period("period", fast.period, 1)?;
                period("period", slow.period, 1)?;
                if fast == slow {
                    return Err(out_of_range(
                        "averages",
                        "must differ: an average cannot cross itself",
                    ));
                }
                Ok(())
            }
            Self::DayChange { percent, .. } => {
                if percent.is_zero() {
                    Err(out_of_range("percent", "must not be 0"))
                } else {
                    Ok(())
                }
            }
            Self::MoveWithin {
                percent,
                window_minutes,
                ..
            } => {
                positive("percent", *percent)?;
                if (1..=MAX_WINDOW_MINUTES).contains(window_minutes) {
                    Ok(())
                } else {
                    Err(out_of_range(
                        "window",
                        format!(
                            "must be between 1 minute and 7 days, got {window_minutes} minutes"
                        ),
                    ))
                }
            }
            Self::VolumeSpike { multiple, days } => {
                positive("multiple", *multiple)?;
                period("days", *days, 1)
            }
            Self::NewExtreme { .. } | Self::SplitAnnounced => Ok(()),
            Self::Earnings { days } | Self::ExDividend { days } => {
                if (1..=MAX_EVENT_DAYS).contains(days) {
                    Ok(())
                } else {
                    Err(out_of_range(
                        "days",
                        format!("must be between 1 and {MAX_EVENT_DAYS}, got {days}"),
                    ))
                }
            }
            Self::PositionDayMove { percent } => positive("percent", *percent),
            Self::NearExtreme { percent, .. }
            | Self::TrailingStop { percent }
            | Self::PositionBelowCost { percent }
            | Self::PositionWeight { percent }
            | Self::Gap { percent, .. } => {
                positive("percent", *percent)?;
                if *percent >= Decimal::ONE_HUNDRED {
                    return Err(out_of_range(
                        "percent",
                        format!("must be below 100, got {percent}"),
                    ));
                }
                Ok(())
            }
            Self::Rsi {
                period: p, level, ..
            } => {
                period("period", *p, 2)?;
                if *level < Decimal::ZERO || *level > Decimal::ONE_HUNDRED {
                    return Err(out_of_range(
                        "level",
                        format!("must be between 0 and 100, got {level}"),
                    ));
                }
                Ok(())
            }
        }
    }

    /// How many completed sessions of daily history the condition needs: the period of an
    /// average (four times it for an EMA, which converges from its seed), ten times an RSI's
    /// period (Wilder's smoothing remembers), a year for 52-week extremes, the days of a
    /// volume average; 0 when it needs none.
    pub fn history_sessions(&self) -> usize {
        if self.is_combination() || matches!(self, Self::On { .. }) {
            return self
                .leaves()
                .iter()
                .map(|(_, c)| c.history_sessions())
                .max()
                .unwrap_or(0);
        }
        let average = |a: &Average| match a.kind {
            AverageKind::Sma => a.period as usize,
            AverageKind::Ema => 4 * a.period as usize,
        };
        match self {
            Self::CrossesAverage { average: a, .. } => average(a),
            Self::AverageCrossesAverage { fast, slow, .. } => average(fast).max(average(slow)),
            Self::Rsi { period, .. } => 10 * *period as usize + 1,
            Self::NewExtreme { .. } | Self::NearExtreme { .. } => 260,
            Self::VolumeSpike { days, .. } => *days as usize,
            _ => 0,
        }
    }

    /// Whether the condition reads the daily highs and lows of its history (52-week extremes).
    pub fn reads_daily_ranges(&self) -> bool {
        self.any_leaf(|c| matches!(c, Self::NewExtreme { .. } | Self::NearExtreme { .. }))
    }

    /// Whether the condition reads the daily volumes of its history (volume spikes).
    pub fn reads_daily_volumes(&self) -> bool {
        self.any_leaf(|c| matches!(c, Self::VolumeSpike { .. }))
    }

    /// Whether the condition reads the owner's holdings (a position's cost, size or share).
    pub fn reads_holdings(&self) -> bool {
        self.any_leaf(|c| {
            matches!(
                c,
                Self::PositionBelowCost { .. }
                    | Self::PositionDayMove { .. }
                    | Self::PositionWeight { .. }
            )
        })
    }

    /// Whether the condition reads the symbol's corporate calendar (earnings, dividends,
    /// splits).
    pub fn reads_events(&self) -> bool {
        self.any_leaf(|c| {
            matches!(
                c,
                Self::Earnings { .. } | Self::ExDividend { .. } | Self::SplitAnnounced
            )
        })
    }

    /// The condition with its price levels moved by a split of `split_symbol` (`level × old
    /// ÷ new`), for a rule on `own`: the levels of operands that read `split_symbol`. `None`
    /// when it has no such level (or one would not fit).
    pub fn split_adjusted(
        &self,
        own: &crate::domain::Symbol,
        split_symbol: &crate::domain::Symbol,
        ratio: crate::domain::SplitRatio,
    ) -> Option<Self> {
        let reads = |s: Option<&crate::domain::Symbol>| s.unwrap_or(own) == split_symbol;
        self.adjusted(None, &reads, ratio)
    }

    fn adjusted(
        &self,
        on: Option<&crate::domain::Symbol>,
        reads: &impl Fn(Option<&crate::domain::Symbol>) -> bool,
        ratio: crate::domain::SplitRatio,
    ) -> Option<Self> {
        let many = |of: &[Self]| -> Option<Vec<Self>> {
            let moved: Vec<Option<Self>> =
                of.iter().map(|c| c.adjusted(None, reads, ratio)).collect();
            moved.iter().any(Option::is_some).then(|| {
                moved
                    .into_iter()
                    .zip(of)
                    .map(|(m, c)| m.unwrap_or_else(|| c.clone()))
                    .collect()
            })
        };
        match self {
            Self::All { of } => many(of).map(|of| Self::All { of }),
            Self::Any { of } => many(of).map(|of| Self::Any { of }),
            Self::Not { of } => of
                .adjusted(None, reads, ratio)
                .map(|c| Self::Not { of: Box::new(c) }),
            Self::On { symbol, condition } => {
                condition
                    .adjusted(Some(symbol), reads, ratio)
                    .map(|c| Self::On {
                        symbol: symbol.clone(),
                        condition: Box::new(c),
                    })
            }
            Self::Price {
                op,
                level,
                intraday,
            } if reads(on) => Some(Self::Price {
                op: *op,
                level: ratio.adjust_price(*level).filter(|l| *l > Decimal::ZERO)?,
                intraday: *intraday,
            }),
            Self::CrossesLevel {
                direction,
                level,
                intraday,
            } if reads(on) => Some(Self::CrossesLevel {
                direction: *direction,
                level: ratio.adjust_price(*level).filter(|l| *l > Decimal::ZERO)?,
                intraday: *intraday,
            }),
            _ => None,
        }
    }

    /// Whether the condition needs every holding of the owner priced (a share of the whole).
    pub fn reads_portfolio_value(&self) -> bool {
        self.any_leaf(|c| matches!(c, Self::PositionWeight { .. }))
    }

    /// Whether this is a combination of conditions (`and`, `or`, `not`).
    pub fn is_combination(&self) -> bool {
        matches!(self, Self::All { .. } | Self::Any { .. } | Self::Not { .. })
    }

    /// The single conditions of a combination, in the order written, each with the symbol it
    /// names (`None`: the rule's own symbol); a single condition is its own only leaf.
    pub fn leaves(&self) -> Vec<(Option<&crate::domain::Symbol>, &Condition)> {
        let mut out = Vec::new();
        self.collect_leaves(None, &mut out);
        out
    }

    fn collect_leaves<'a>(
        &'a self,
        symbol: Option<&'a crate::domain::Symbol>,
        out: &mut Vec<(Option<&'a crate::domain::Symbol>, &'a Condition)>,
    ) {
        match self {
            Self::All { of } | Self::Any { of } => {
                for c in of {
                    c.collect_leaves(symbol, out);
                }
            }
            Self::Not { of } => of.collect_leaves(symbol, out),
            Self::On { symbol, condition } => condition.collect_leaves(Some(symbol), out),
            leaf => out.push((symbol, leaf)),
        }
    }

    /// The other symbols a combination reads besides the rule's own, each once, in the order
    /// written.
    pub fn other_symbols(&self) -> Vec<&crate::domain::Symbol> {
        let mut out: Vec<&crate::domain::Symbol> = Vec::new();
        for (symbol, _) in self.leaves() {
            if let Some(s) = symbol
                && !out.contains(&s)
            {
                out.push(s);
            }
        }
        out
    }

    fn any_leaf(&self, f: impl Fn(&Condition) -> bool) -> bool {
        self.leaves().into_iter().any(|(_, c)| f(c))
    }

    /// Nesting depth of `and`, `or` and `not` (0 for a single condition).
    pub fn depth(&self) -> usize {
        match self {
            Self::All { of } | Self::Any { of } => {
                1 + of.iter().map(Self::depth).max().unwrap_or(0)
            }
            Self::Not { of } => 1 + of.depth(),
            Self::On { condition, .. } => condition.depth(),
            _ => 0,
        }
    }

    /// The combination with every operand naming `own` written bare (its canonical form: a
    /// bare operand reads the rule's own symbol).
    pub fn normalized(self, own: &crate::domain::Symbol) -> Self {
        match self {
            Self::All { of } => Self::All {
                of: of.into_iter().map(|c| c.normalized(own)).collect(),
            },
            Self::Any { of } => Self::Any {
                of: of.into_iter().map(|c| c.normalized(own)).collect(),
            },
            Self::Not { of } => Self::Not {
                of: Box::new(of.normalized(own)),
            },
            Self::On { symbol, condition } if &symbol == own => *condition,
            other => other,
        }
    }

    /// Whether the condition can be used on the [`PORTFOLIO`] pseudo-symbol: its value
    /// compared with a level, or its change since the previous close.
    pub fn suits_portfolio(&self) -> bool {
        matches!(self, Self::Price { .. } | Self::DayChange { .. })
    }

    /// Whether the condition fires on a change between two samples rather than on a state.
    pub fn is_edge_triggered(&self) -> bool {
        if self.is_combination() || matches!(self, Self::On { .. }) {
            return self.any_leaf(Self::is_edge_triggered);
        }
        matches!(
            self,
            Self::CrossesLevel { .. }
                | Self::CrossesAverage { .. }
                | Self::AverageCrossesAverage { .. }
        )
    }

    /// The stored form: a [`JsonDocument`] of version 1 for a single condition (as every
    /// release wrote it), of version [`CONDITION_VERSION`] for a combination.
    pub fn to_document(&self) -> JsonDocument {
        let value = serde_json::to_value(self).unwrap_or(serde_json::Value::Null);
        let version = if self.is_combination() {
            CONDITION_VERSION
        } else {
            1
        };
        // A `Condition` always serializes to an object with a `type`.
        JsonDocument::new(version, value).unwrap_or_else(|_| JsonDocument::empty())
    }

    /// Reads a stored condition and validates it.
    ///
    /// # Errors
    /// [`ConditionError::Document`] when the document was written by a newer version or is not a
    /// condition; [`ConditionError::OutOfRange`] when a value is out of range.
    pub fn from_document(doc: &JsonDocument) -> Result<Self, ConditionError> {
        if !(1..=CONDITION_VERSION).contains(&doc.version()) {
            return Err(ConditionError::Document(format!(
                "version {} is not supported (this build reads versions 1 to {CONDITION_VERSION})",
                doc.version()
            )));
        }
        let condition: Self = serde_json::from_value(serde_json::Value::Object(doc.body().clone()))
            .map_err(|e| ConditionError::Document(e.to_string()))?;
        if doc.version() == 1 && condition.is_combination() {
            return Err(ConditionError::Document(format!(
                "a combination (and, or, not) is a version {CONDITION_VERSION} document"
            )));
        }
        condition.validate()?;
        Ok(condition)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rust_decimal::dec;
    use serde_json::json;

    #[test]
    fn json_form_is_tagged_and_versioned() {
        let c = Condition::CrossesLevel {
            direction: Direction::Up,
            level: dec!(200.50),
            intraday: false,
        };
        let doc = c.to_document();
        assert_eq!(
            serde_json::to_value(&doc).unwrap(),
            json!({"version": 1, "type": "crosses_level", "direction": "up", "level": "200.50"})
        );
        assert_eq!(Condition::from_document(&doc).unwrap(), c);
        let rsi = Condition::Rsi {
            period: 14,
            op: Comparison::Above,
            level: dec!(70),
        };
        assert_eq!(
            serde_json::to_value(rsi.to_document()).unwrap(),
            json!({"version": 1, "type": "rsi", "period": 14, "op": ">", "level": "70"})
        );
    }

    #[test]
    fn unknown_versions_and_shapes_are_refused() {
        let newer =
            JsonDocument::new(3, json!({"type": "price", "op": ">", "level": "1"})).unwrap();
        let err = Condition::from_document(&newer).unwrap_err().to_string();
        assert!(err.contains("version 3 is not supported"), "{err}");
        let unknown = JsonDocument::new(1, json!({"type": "moon_phase"})).unwrap();
        assert!(Condition::from_document(&unknown).is_err());
        let bad = JsonDocument::new(1, json!({"type": "price", "op": ">", "level": "-3"})).unwrap();
        assert_eq!(
            Condition::from_document(&bad).unwrap_err().to_string(),
            "level must be greater than 0, got -3"
        );
    }

    #[test]
    fn validation_ranges() {
        let sma = |period| Average {
            kind: AverageKind::Sma,
            period,
        };
        let bad = [
            Condition::Rsi {
                period: 1,
                op: Comparison::Above,
                level: dec!(70),
            },
            Condition::Rsi {
                period: 14,
                op: Comparison::Above,
                level: dec!(101),
            },
            Condition::DayChange {
                op: Comparison::AtOrBelow,
                percent: dec!(0),
            },
            Condition::MoveWithin {
                direction: Move::Either,
                percent: dec!(3),
                window_minutes: 0,
            },
            Condition::TrailingStop { percent: dec!(100) },
            Condition::AverageCrossesAverage {
                fast: sma(50),
                direction: Direction::Up,
                slow: sma(50),
            },
            Condition::CrossesAverage {
                direction: Direction::Up,
                average: sma(401),
            },
            Condition::VolumeSpike {
                multiple: dec!(0),
                days: 20,
            },
        ];
        for c in bad {
            assert!(c.validate().is_err(), "{c:?}");
        }
        assert!(
            Condition::DayChange {
                op: Comparison::AtOrBelow,
                percent: dec!(-5)
            }
            .validate()
            .is_ok()
        );
    }

    #[test]
    fn comparisons() {
        assert!(Comparison::AtOrAbove.holds(dec!(200.0), dec!(200)));
        assert!(!Comparison::Above.holds(dec!(200.0), dec!(200)));
        assert!(Comparison::Below.holds(1, 2));
        assert!(Comparison::AtOrBelow.holds(2, 2));
    }
}
