//! Corporate events: earnings reports, dividends and splits, as the providers announce them.

use chrono::NaiveDate;
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

use super::{Symbol, ValidationError};

/// Earliest date an event may have (older ones are not worth keeping, and a provider sending
/// one has sent something odd).
const FIRST_DAY: NaiveDate = match NaiveDate::from_ymd_opt(1970, 1, 1) {
    Some(d) => d,
    None => unreachable!(),
};
/// Latest date an event may have.
const LAST_DAY: NaiveDate = match NaiveDate::from_ymd_opt(2200, 12, 31) {
    Some(d) => d,
    None => unreachable!(),
};

/// A split's shares after and before: 4-for-1 is `new: 4, old: 1`; a 1-for-10 reverse split
/// is `new: 1, old: 10`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct SplitRatio {
    /// Shares after the split.
    pub new: Decimal,
    /// Shares before it.
    pub old: Decimal,
}

/// The most a split may multiply or divide a share (larger ratios are refused as bad data).
const MAX_SPLIT_FACTOR: Decimal = Decimal::from_parts(10_000, 0, 0, false, 0);

impl SplitRatio {
    /// A ratio of `new` shares for `old`, both positive, different, and within a factor of
    /// 10,000 of each other.
    ///
    /// # Errors
    /// [`ValidationError`] for anything else.
    pub fn new(new: Decimal, old: Decimal) -> Result<Self, ValidationError> {
        let bad = |reason: &str| {
            Err(ValidationError::field_error(
                "split ratio",
                format!("{new}-for-{old}: {reason}"),
            ))
        };
        if new <= Decimal::ZERO || old <= Decimal::ZERO {
            return bad("both sides must be positive");
        }
        if new == old {
            return bad("a split changes the number of shares");
        }
        let factor = new.checked_div(old);
        let inverse = old.checked_div(new);
        match (factor, inverse) {
            (Some(f), Some(i)) if f <= MAX_SPLIT_FACTOR && i <= MAX_SPLIT_FACTOR => Ok(Self {
                new: new.normalize(),
                old: old.normalize(),
            }),
            _ => bad("more than a factor of 10,000"),
        }
    }

    /// A price before the split in the terms of after it (`price × old ÷ new`), rounded to
    /// at most eight decimals; `None` when it does not fit.
    pub fn adjust_price(self, price: Decimal) -> Option<Decimal> {
        let adjusted = price.checked_mul(self.old)?.checked_div(self.new)?;
        Some(adjusted.round_dp(8).normalize())
    }

    /// A quantity before the split in the terms of after it (`quantity × new ÷ old`).
    pub fn adjust_quantity(self, quantity: Decimal) -> Option<Decimal> {
        let adjusted = quantity.checked_mul(self.new)?.checked_div(self.old)?;
        Some(adjusted.round_dp(8).normalize())
    }

    /// A volume before the split in the terms of after it (`volume × new ÷ old`, rounded);
    /// `None` when it does not fit.
    pub fn adjust_volume(self, volume: u64) -> Option<u64> {
        u64::try_from(self.adjust_quantity(Decimal::from(volume))?.round()).ok()
    }

    /// Whether `before` (a price from before the split) over `after` (one from after it) is
    /// nearer this ratio than 1: the earlier price was not adjusted for the split.
    pub fn looks_unadjusted(self, before: Decimal, after: Decimal) -> bool {
        use rust_decimal::prelude::ToPrimitive;
        let (Some(b), Some(a), Some(n), Some(o)) = (
            before.to_f64(),
            after.to_f64(),
            self.new.to_f64(),
            self.old.to_f64(),
        ) else {
            return false;
        };
        if b <= 0.0 || a <= 0.0 {
            return false;
        }
        let moved = (b / a).ln();
        (moved - (n / o).ln()).abs() < moved.abs()
    }
}

impl std::fmt::Display for SplitRatio {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}-for-{}", self.new, self.old)
    }
}

impl std::str::FromStr for SplitRatio {
    type Err = ValidationError;

    /// `4-for-1` (as [`Display`](std::fmt::Display) writes it) or `4:1`.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let (new, old) = s
            .split_once("-for-")
            .or_else(|| s.split_once(':'))
            .ok_or_else(|| {
                ValidationError::field_error("split ratio", format!("{s:?} is not like 4-for-1"))
            })?;
        let side = |v: &str| {
            v.trim().parse::<Decimal>().map_err(|_| {
                ValidationError::field_error("split ratio", format!("{s:?} is not like 4-for-1"))
            })
        };
        Self::new(side(new)?, side(old)?)
    }
}

/// When, around the session, a company reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ReportHour {
    /// Before the market opens (Finnhub's `bmo`).
    BeforeOpen,
    /// After the market closes (`amc`).
    AfterClose,
    /// During the session (`dmh`).
    DuringSession,
}

impl ReportHour {
    /// Finnhub's `bmo`, `amc`, `dmh`; anything else (an empty string) is unknown.
    pub fn from_code(code: &str) -> Option<Self> {
        match code.trim().to_ascii_lowercase().as_str() {
            "bmo" => Some(Self::BeforeOpen),
            "amc" => Some(Self::AfterClose),
            "dmh" => Some(Self::DuringSession),
            _ => None,
        }
    }

    /// As written in messages.
    pub fn describe(self) -> &'static str {
        match self {
            Self::BeforeOpen => "before the open",
            Self::AfterClose => "after the close",
            Self::DuringSession => "during the session",
        }
    }
}

/// What happens.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
#[non_exhaustive]
pub enum EventKind {
    /// An earnings report.
    Earnings {
        /// When around the session, if known.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        hour: Option<ReportHour>,
    },
    /// A cash dividend; the event's date is its ex-date.
    Dividend {
        /// Per share, in the listing's currency.
        amount: Decimal,
    },
    /// A split; the event's date is its ex-date, the first session priced after it.
    Split {
        /// Shares after and before.
        ratio: SplitRatio,
    },
}

impl EventKind {
    /// `earnings`, `dividend` or `split`: what the store keys an event by.
    pub fn name(&self) -> &'static str {
        match self {
            Self::Earnings { .. } => "earnings",
            Self::Dividend { .. } => "dividend",
            Self::Split { .. } => "split",
        }
    }
}

/// A corporate event of one symbol on one exchange day.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CorporateEvent {
    /// The symbol.
    pub symbol: Symbol,
    /// The report day, or the ex-date of a dividend or split.
    pub date: NaiveDate,
    /// What happens.
    pub kind: EventKind,
    /// The provider that announced it.
    pub source: String,
}

/// The most a dividend per share may be (more is refused as bad data).
const MAX_DIVIDEND: Decimal = Decimal::from_parts(1_000_000, 0, 0, false, 0);

impl CorporateEvent {
    /// An event, checked: a date between 1970 and 2200, a dividend of at least 0 and at most
    /// 1,000,000 per share.
    ///
    /// # Errors
    /// [`ValidationError`] for anything else.
    pub fn new(
        symbol: Symbol,
        date: NaiveDate,
        kind: EventKind,
        source: impl Into<String>,
    ) -> Result<Self, ValidationError> {
        if !(FIRST_DAY..=LAST_DAY).contains(&date) {
            return Err(ValidationError::field_error(
                "event date",
                format!("{date} is out of range"),
            ));
        }
        if let EventKind::Dividend { amount } = kind
            && (amount < Decimal::ZERO || amount > MAX_DIVIDEND)
        {
            return Err(ValidationError::field_error(
                "dividend",
                format!("{amount} per share is out of range"),
            ));
        }
        Ok(Self {
            symbol,
            date,
            kind,
            source: source.into(),
        })
    }

    /// The split's ex-date and ratio, when the event is a split.
    pub fn split(&self) -> Option<(NaiveDate, SplitRatio)> {
        match self.kind {
            EventKind::Split { ratio } => Some((self.date, ratio)),
            _ => None,
        }
    }

    /// One line about it: `earnings on 2026-12-08 after the close`, `ex-dividend on
    /// 2026-12-09 (0.26 a share)`, `4-for-1 split on 2026-12-10`.
    pub fn describe(&self) -> String {
        match self.kind {
            EventKind::Earnings { hour } => match hour {
                Some(hour) => format!("earnings on {} {}", self.date, hour.describe()),
                None => format!("earnings on {}", self.date),
            },
            EventKind::Dividend { amount } => {
                format!(
                    "ex-dividend on {} ({} a share)",
                    self.date,
                    amount.normalize()
                )
            }
            EventKind::Split { ratio } => format!("{ratio} split on {}", self.date),
        }
    }
}

/// A symbol's calendar as the providers last gave it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SymbolEvents {
    /// The symbol.
    pub symbol: Symbol,
    /// Its events, oldest first.
    pub events: Vec<CorporateEvent>,
    /// The exchange day they were asked for.
    pub refreshed_on: NaiveDate,
}

/// A split the monitor applies in a cycle: the rules on the symbol whose levels it moves
/// (their conditions as they are after the split). Stored once per symbol and ex-date.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AppliedSplit {
    /// The symbol.
    pub symbol: Symbol,
    /// The ex-date.
    pub date: NaiveDate,
    /// Shares after and before.
    pub ratio: SplitRatio,
    /// The start of the ex-date (midnight, New York): what was entered before is in the old
    /// terms (manual and imported holdings are adjusted, see
    /// [`Holding::split_adjusted`](super::Holding::split_adjusted)).
    pub since: crate::time::Timestamp,
    /// The rules whose conditions it changes, with their new conditions.
    pub rules: Vec<(super::RuleId, super::JsonDocument)>,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(s: &str) -> Decimal {
        s.parse().or_else(|_| Decimal::from_scientific(s)).unwrap()
    }

    #[test]
    fn ratios_adjust_prices_and_quantities_and_refuse_nonsense() {
        let four = SplitRatio::new(d("4"), d("1")).unwrap();
        assert_eq!(four.adjust_price(d("500")), Some(d("125")));
        assert_eq!(four.adjust_quantity(d("10")), Some(d("40")));
        assert_eq!(four.adjust_volume(1_001), Some(4_004));
        assert_eq!(
            SplitRatio::new(d("1"), d("3"))
                .unwrap()
                .adjust_volume(1_000),
            Some(333)
        );
        assert_eq!(four.to_string(), "4-for-1");
        assert_eq!("4-for-1".parse::<SplitRatio>(), Ok(four));
        assert_eq!(" 4 : 1 ".parse::<SplitRatio>(), Ok(four));
        assert!("4x1".parse::<SplitRatio>().is_err());
        assert!("0-for-1".parse::<SplitRatio>().is_err());
        let reverse = SplitRatio::new(d("1"), d("10")).unwrap();
        assert_eq!(reverse.adjust_price(d("2.5")), Some(d("25")));
        let three_for_two = SplitRatio::new(d("3"), d("2")).unwrap();
        assert_eq!(three_for_two.adjust_price(d("100")), Some(d("66.66666667")));
        for (new, old) in [
            (d("0"), d("1")),
            (d("-4"), d("1")),
            (d("2"), d("2")),
            (d("100000"), d("1")),
            (d("1"), d("100000")),
        ] {
            assert!(SplitRatio::new(new, old).is_err(), "{new}-for-{old}");
        }
        assert_eq!(
            SplitRatio::new(Decimal::MAX, d("7.9e27")).map(|r| r.adjust_price(Decimal::MAX)),
            Ok(None)
        );
    }

    #[test]
    fn unadjusted_prices_are_recognised() {
        let four = SplitRatio::new(d("4"), d("1")).unwrap();
        assert!(four.looks_unadjusted(d("500"), d("125")));
        assert!(four.looks_unadjusted(d("480"), d("130")));
        assert!(!four.looks_unadjusted(d("125"), d("125")));
        assert!(!four.looks_unadjusted(d("126"), d("120")));
        let reverse = SplitRatio::new(d("1"), d("10")).unwrap();
        assert!(reverse.looks_unadjusted(d("1"), d("10")));
        assert!(!reverse.looks_unadjusted(d("10"), d("10")));
    }

    #[test]
    fn events_are_checked_and_described() {
        let symbol = Symbol::parse("AAPL").unwrap();
        let day = NaiveDate::from_ymd_opt(2026, 12, 8).unwrap();
        let earnings = CorporateEvent::new(
            symbol.clone(),
            day,
            EventKind::Earnings {
                hour: ReportHour::from_code("amc"),
            },
            "finnhub",
        )
        .unwrap();
        assert_eq!(
            earnings.describe(),
            "earnings on 2026-12-08 after the close"
        );
        let dividend = CorporateEvent::new(
            symbol.clone(),
            day,
            EventKind::Dividend { amount: d("0.260") },
            "yahoo",
        )
        .unwrap();
        assert_eq!(
            dividend.describe(),
            "ex-dividend on 2026-12-08 (0.26 a share)"
        );
        for amount in [d("-0.01"), d("1000001")] {
            assert!(
                CorporateEvent::new(symbol.clone(), day, EventKind::Dividend { amount }, "x")
                    .is_err()
            );
        }
        let ancient = NaiveDate::from_ymd_opt(1900, 1, 1).unwrap();
        assert!(
            CorporateEvent::new(symbol, ancient, EventKind::Earnings { hour: None }, "x").is_err()
        );
        let json = serde_json::to_value(dividend.kind).unwrap();
        assert_eq!(
            json,
            serde_json::json!({"type": "dividend", "amount": "0.260"})
        );
    }
}
