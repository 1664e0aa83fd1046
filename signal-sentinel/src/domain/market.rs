use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

use super::{Symbol, ValidationError};
use crate::time::Timestamp;

/// The highest price a quote or bar may carry: 10¹² per unit. Nothing listed trades near it
/// (the dearest share trades below 10⁶); a provider or file sending more sends bad data.
pub const MAX_PRICE: Decimal = Decimal::from_parts(3_567_587_328, 232, 0, false, 0);

/// The lowest price a quote or bar may carry: 10⁻¹² per unit (the smallest crypto assets
/// trade above 10⁻⁹). With [`MAX_PRICE`] it bounds every ratio of two prices by 10²⁴, far
/// inside what a [`Decimal`] holds.
pub const MIN_PRICE: Decimal = Decimal::from_parts(1, 0, 0, false, 12);

/// The latest price of a symbol as a market-data provider reported it.
///
/// Prices are [`Decimal`]: they are stored and compared with users' thresholds, where a binary
/// float would make `200.10 >= 200.1` a coin toss.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Quote {
    /// The symbol, in canonical form.
    pub symbol: Symbol,
    /// Last traded price; always positive.
    pub price: Decimal,
    /// Close of the previous regular session, when the provider gives it.
    pub previous_close: Option<Decimal>,
    /// Opening price of the current session, when known.
    pub day_open: Option<Decimal>,
    /// Highest price of the current session, when known.
    pub day_high: Option<Decimal>,
    /// Lowest price of the current session, when known.
    pub day_low: Option<Decimal>,
    /// Shares (or units) traded in the current session, when known.
    pub volume: Option<u64>,
    /// When the provider says the price was current.
    pub at: Timestamp,
    /// Which provider answered (`yahoo`, `alpaca`, `finnhub`, `replay`, …).
    pub source: String,
}

impl Quote {
    /// Builds a quote with only the required facts; add the rest with the `with_*` methods.
    ///
    /// # Errors
    /// [`ValidationError::Field`] when the price is zero or negative (providers send zeros to
    /// mean "no data": that is never a price), or outside [`MIN_PRICE`]..=[`MAX_PRICE`], or
    /// dated outside the years 1800 to 9999.
    pub fn new(
        symbol: Symbol,
        price: Decimal,
        at: Timestamp,
        source: impl Into<String>,
    ) -> Result<Self, ValidationError> {
        positive("price", price)?;
        plausible_time(at)?;
        Ok(Self {
            symbol,
            price,
            previous_close: None,
            day_open: None,
            day_high: None,
            day_low: None,
            volume: None,
            at,
            source: source.into(),
        })
    }

    /// Sets the previous session's close.
    ///
    /// # Errors
    /// [`ValidationError::Field`] when it is not positive.
    pub fn with_previous_close(mut self, close: Decimal) -> Result<Self, ValidationError> {
        positive("previous close", close)?;
        self.previous_close = Some(close);
        Ok(self)
    }

    /// Sets the session's opening price.
    ///
    /// # Errors
    /// [`ValidationError::Field`] when it is not positive.
    pub fn with_open(mut self, open: Decimal) -> Result<Self, ValidationError> {
        positive("open", open)?;
        self.day_open = Some(open);
        Ok(self)
    }

    /// Sets the session's range.
    ///
    /// # Errors
    /// [`ValidationError::Field`] when a bound is not positive, the low is above the high, or
    /// the range does not contain the price.
    pub fn with_day_range(mut self, low: Decimal, high: Decimal) -> Result<Self, ValidationError> {
        positive("day low", low)?;
        positive("day high", high)?;
        if low > high {
            return Err(ValidationError::field_error(
                "day range",
                format!("low {low} is above high {high}"),
            ));
        }
        if !(low..=high).contains(&self.price) {
            return Err(ValidationError::field_error(
                "day range",
                format!(
                    "low {low} to high {high} does not contain the price {}",
                    self.price
                ),
            ));
        }
        self.day_low = Some(low);
        self.day_high = Some(high);
        Ok(self)
    }

    /// Sets the session's volume.
    pub fn with_volume(mut self, volume: u64) -> Self {
        self.volume = Some(volume);
        self
    }

    /// Change from the previous close in percent, when the previous close is known.
    ///
    /// ```
    /// # use signal_sentinel::domain::{Quote, Symbol};
    /// # use rust_decimal::Decimal;
    /// let q = Quote::new(Symbol::parse("AAPL")?, Decimal::new(105, 0), chrono::Utc::now(), "demo")?
    ///     .with_previous_close(Decimal::new(100, 0))?;
    /// assert_eq!(q.change_percent(), Some(Decimal::new(5, 0)));
    /// # Ok::<(), signal_sentinel::domain::ValidationError>(())
    /// ```
    ///
    /// `None` too when the change is beyond what a [`Decimal`] holds (a price some 10²⁶
    /// times its previous close): it is never computed with wrapping or panicking arithmetic.
    pub fn change_percent(&self) -> Option<Decimal> {
        let prev = self.previous_close?;
        self.price
            .checked_sub(prev)?
            .checked_div(prev)?
            .checked_mul(Decimal::ONE_HUNDRED)
    }
}

/// One price of a symbol at one time, with the session's high and low so far when the
/// provider gave them (so a level touched between two samples can be told).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Sample {
    /// When it was quoted.
    pub at: Timestamp,
    /// The price.
    pub price: Decimal,
    /// The session's high up to this sample.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub high: Option<Decimal>,
    /// The session's low up to this sample.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub low: Option<Decimal>,
}

impl Sample {
    /// A price at a time, without the session's range.
    pub fn new(at: Timestamp, price: Decimal) -> Self {
        Self {
            at,
            price,
            high: None,
            low: None,
        }
    }

    /// The sample in the terms of after a split (prices × old ÷ new); a price that would not
    /// fit stays as it was.
    pub fn split_adjust(&mut self, ratio: super::SplitRatio) {
        fn adjust(ratio: super::SplitRatio, p: Decimal) -> Decimal {
            ratio
                .adjust_price(p)
                .filter(|a| *a >= super::MIN_PRICE)
                .unwrap_or(p)
        }
        self.price = adjust(ratio, self.price);
        self.high = self.high.map(|p| adjust(ratio, p));
        self.low = self.low.map(|p| adjust(ratio, p));
    }

    /// What a quote leaves as a sample: its time, price and the session's range.
    pub fn of(quote: &Quote) -> Self {
        Self {
            at: quote.at,
            price: quote.price,
            high: quote.day_high,
            low: quote.day_low,
        }
    }
}

/// A symbol's latest samples, oldest first, as the monitor keeps them between cycles.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SymbolSamples {
    /// The symbol.
    pub symbol: Symbol,
    /// Its latest samples, oldest first.
    pub samples: Vec<Sample>,
}

/// One bar of price history: open, high, low, close and volume over an interval that starts at
/// [`Bar::at`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Bar {
    /// Start of the interval.
    pub at: Timestamp,
    /// First price of the interval.
    pub open: Decimal,
    /// Highest price of the interval.
    pub high: Decimal,
    /// Lowest price of the interval.
    pub low: Decimal,
    /// Last price of the interval.
    pub close: Decimal,
    /// Volume traded in the interval, when known.
    pub volume: Option<u64>,
}

impl Bar {
    /// Builds a bar, checking that the prices are positive and consistent.
    ///
    /// # Errors
    /// [`ValidationError::Field`] when a price is not positive, or open or close lie outside
    /// `low..=high`.
    pub fn new(
        at: Timestamp,
        open: Decimal,
        high: Decimal,
        low: Decimal,
        close: Decimal,
        volume: Option<u64>,
    ) -> Result<Self, ValidationError> {
        for (field, value) in [
            ("open", open),
            ("high", high),
            ("low", low),
            ("close", close),
        ] {
            positive(field, value)?;
        }
        plausible_time(at)?;
        if low > high || !(low..=high).contains(&open) || !(low..=high).contains(&close) {
            return Err(ValidationError::field_error(
                "bar",
                format!("open {open} and close {close} must lie within low {low} and high {high}"),
            ));
        }
        Ok(Self {
            at,
            open,
            high,
            low,
            close,
            volume,
        })
    }
}

/// Quotes and bars are dated from 1800 to 9999: beyond, a provider or file sends bad data
/// (and date arithmetic on them could leave what a calendar holds).
fn plausible_time(at: Timestamp) -> Result<(), ValidationError> {
    use chrono::Datelike;
    if (1800..=9999).contains(&at.year()) {
        Ok(())
    } else {
        Err(ValidationError::field_error(
            "time",
            format!("{at} is outside the years 1800 to 9999"),
        ))
    }
}

/// A price: positive, and within [`MIN_PRICE`]..=[`MAX_PRICE`].
fn positive(field: &'static str, value: Decimal) -> Result<(), ValidationError> {
    if value <= Decimal::ZERO {
        Err(ValidationError::field_error(
            field,
            format!("must be greater than zero, got {value}"),
        ))
    } else if !(MIN_PRICE..=MAX_PRICE).contains(&value) {
        Err(ValidationError::field_error(
            field,
            format!("{value} is outside what a market quotes ({MIN_PRICE} to {MAX_PRICE})"),
        ))
    } else {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::Utc;
    use rust_decimal::dec;

    fn aapl() -> Symbol {
        Symbol::parse("AAPL").unwrap()
    }

    #[test]
    fn quote_rejects_zero_and_inverted_ranges() {
        let err = Quote::new(aapl(), Decimal::ZERO, Utc::now(), "finnhub").unwrap_err();
        assert_eq!(
            err.to_string(),
            "invalid price: must be greater than zero, got 0"
        );
        let q = Quote::new(aapl(), dec!(10), Utc::now(), "x").unwrap();
        assert!(q.clone().with_day_range(dec!(11), dec!(9)).is_err());
        assert!(q.clone().with_previous_close(dec!(-1)).is_err());
        let q = q.with_day_range(dec!(9), dec!(11)).unwrap().with_volume(5);
        assert_eq!(
            (q.day_low, q.day_high, q.volume),
            (Some(dec!(9)), Some(dec!(11)), Some(5))
        );
        assert_eq!(q.change_percent(), None);
    }

    #[test]
    fn prices_beyond_the_bounds_are_bad_data() {
        assert_eq!(MAX_PRICE, dec!(1_000_000_000_000));
        assert_eq!(MIN_PRICE, dec!(0.000000000001));
        let now = Utc::now();
        assert!(Quote::new(aapl(), MAX_PRICE, now, "x").is_ok());
        assert!(Quote::new(aapl(), MIN_PRICE, now, "x").is_ok());
        let err = Quote::new(aapl(), dec!(7.9e28), now, "x").unwrap_err();
        assert!(
            err.to_string().contains("outside what a market quotes"),
            "{err}"
        );
        assert!(Quote::new(aapl(), dec!(0.0000000000001), now, "x").is_err());
        let q = Quote::new(aapl(), dec!(10), now, "x").unwrap();
        assert!(q.clone().with_previous_close(Decimal::MAX).is_err());
        assert!(q.clone().with_open(dec!(1e13)).is_err());
        let err = q.clone().with_day_range(dec!(11), dec!(12)).unwrap_err();
        assert!(
            err.to_string().contains("does not contain the price"),
            "{err}"
        );
        assert!(Bar::new(now, dec!(1), Decimal::MAX, dec!(1), dec!(1), None).is_err());
        let ancient = chrono::DateTime::<Utc>::MIN_UTC;
        assert!(Quote::new(aapl(), dec!(10), ancient, "x").is_err());
        assert!(Bar::new(ancient, dec!(1), dec!(1), dec!(1), dec!(1), None).is_err());
    }

    #[test]
    fn change_percent_is_exact() {
        let q = Quote::new(aapl(), dec!(200.10), Utc::now(), "x")
            .unwrap()
            .with_previous_close(dec!(200.00))
            .unwrap();
        assert_eq!(q.change_percent(), Some(dec!(0.05)));
    }

    #[test]
    fn bar_checks_consistency() {
        let at = Utc::now();
        assert!(Bar::new(at, dec!(10), dec!(12), dec!(9), dec!(11), None).is_ok());
        let err = Bar::new(at, dec!(13), dec!(12), dec!(9), dec!(11), None).unwrap_err();
        assert!(err.to_string().contains("must lie within"), "{err}");
        assert!(Bar::new(at, dec!(10), dec!(12), dec!(0), dec!(11), None).is_err());
    }
}
