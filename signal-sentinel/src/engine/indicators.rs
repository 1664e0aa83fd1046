//! Moving averages and RSI over daily closes, with the current price standing in for today's
//! close (as a daily chart shows them during the session).
//!
//! They compute in `f64`: they are statistics, not prices, and are only ever compared with
//! each other or with an RSI level converted to `f64` the same way every time. Each function
//! reads a slice and allocates nothing.

use std::sync::{Mutex, PoisonError};

use rust_decimal::Decimal;

use crate::domain::Bar;
use crate::time::Timestamp;

/// Completed daily sessions of one symbol, oldest first, kept column by column: the closes as
/// `f64` for the indicators, the highs and lows as exact decimals for 52-week extremes, the
/// volumes, and each session's exchange day.
///
/// History does not change during a session, so what the indicators need from it (the sum
/// behind an SMA, the previous EMA, Wilder's averages behind an RSI) is computed once per
/// indicator and kept: each evaluation then costs a few arithmetic operations, however long the
/// history.
#[derive(Debug, Default)]
pub struct DailyHistory {
    days: Vec<chrono::NaiveDate>,
    closes: Vec<f64>,
    highs: Vec<Decimal>,
    lows: Vec<Decimal>,
    volumes: Vec<Option<u64>>,
    last_at: Option<Timestamp>,
    memo: Mutex<Vec<(MemoKey, Option<Base>)>>,
}

/// (indicator, period, number of closes it was computed over).
type MemoKey = (u8, usize, usize);

/// What an indicator keeps of the history: SMA (sum of the last period − 1 closes), EMA
/// (previous value), RSI (average gain, average loss, last close, whether the averages are
/// still partial sums of the first period).
#[derive(Debug, Clone, Copy, PartialEq)]
enum Base {
    Sum(f64),
    Previous(f64),
    Wilder {
        gain: f64,
        loss: f64,
        last: f64,
        partial: bool,
    },
}

const SMA: u8 = 0;
const EMA: u8 = 1;
const RSI: u8 = 2;

impl Clone for DailyHistory {
    fn clone(&self) -> Self {
        Self {
            days: self.days.clone(),
            closes: self.closes.clone(),
            highs: self.highs.clone(),
            lows: self.lows.clone(),
            volumes: self.volumes.clone(),
            last_at: self.last_at,
            memo: Mutex::default(),
        }
    }
}

impl PartialEq for DailyHistory {
    fn eq(&self, other: &Self) -> bool {
        self.days == other.days
            && self.closes == other.closes
            && self.highs == other.highs
            && self.lows == other.lows
            && self.volumes == other.volumes
    }
}

impl DailyHistory {
    /// Builds the history from completed daily bars (sorted by time here; duplicates of a
    /// time keep the last one given).
    pub fn new(mut bars: Vec<Bar>) -> Self {
        bars.sort_by_key(|b| b.at);
        bars.dedup_by(|later, earlier| {
            if later.at == earlier.at {
                std::mem::swap(later, earlier);
                true
            } else {
                false
            }
        });
        let mut history = Self {
            days: Vec::with_capacity(bars.len()),
            closes: Vec::with_capacity(bars.len()),
            highs: Vec::with_capacity(bars.len()),
            lows: Vec::with_capacity(bars.len()),
            volumes: Vec::with_capacity(bars.len()),
            ..Self::default()
        };
        for bar in bars {
            history.push(bar);
        }
        history
    }

    /// Appends a completed session. A bar not newer than the last one is ignored (the
    /// history stays sorted and free of duplicates); returns whether it was added.
    pub fn push(&mut self, bar: Bar) -> bool {
        if self.last_at.is_some_and(|last| bar.at <= last) {
            return false;
        }
        self.last_at = Some(bar.at);
        self.days.push(exchange_date(bar.at));
        self.closes.push(to_f64(bar.close));
        self.highs.push(bar.high);
        self.lows.push(bar.low);
        self.volumes.push(bar.volume);
        true
    }

    /// Puts the sessions before `ex_date` in the terms of after a split of `ratio` (prices ×
    /// old ÷ new, volumes × new ÷ old), when they are not already: when the last close before
    /// the ex-date looks unadjusted against `price_after` (see
    /// [`SplitRatio::looks_unadjusted`](crate::domain::SplitRatio::looks_unadjusted)).
    /// Returns whether it changed anything.
    pub fn split_adjust(
        &mut self,
        ex_date: chrono::NaiveDate,
        ratio: crate::domain::SplitRatio,
        price_after: Decimal,
    ) -> bool {
        let before = self.days.partition_point(|d| *d < ex_date);
        let Some(last) = before.checked_sub(1) else {
            return false;
        };
        let last_close = Decimal::from_f64_retain(self.closes[last]).unwrap_or_default();
        if !ratio.looks_unadjusted(last_close, price_after) {
            return false;
        }
        let factor = to_f64(ratio.old) / to_f64(ratio.new);
        for close in self.closes.iter_mut().take(before) {
            *close *= factor;
        }
        for price in self
            .highs
            .iter_mut()
            .take(before)
            .chain(self.lows.iter_mut().take(before))
        {
            *price = ratio.adjust_price(*price).unwrap_or(*price);
        }
        for volume in self.volumes.iter_mut().take(before).flatten() {
            *volume = ratio.adjust_volume(*volume).unwrap_or(*volume);
        }
        self.memo
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clear();
        true
    }

    /// Number of sessions.
    pub fn len(&self) -> usize {
        self.days.len()
    }

    /// Whether there is no history.
    pub fn is_empty(&self) -> bool {
        self.days.is_empty()
    }

    /// The closes as `f64`, oldest first.
    pub fn closes(&self) -> &[f64] {
        &self.closes
    }

    /// The sessions' highs, oldest first.
    pub fn highs(&self) -> &[Decimal] {
        &self.highs
    }

    /// The sessions' lows, oldest first.
    pub fn lows(&self) -> &[Decimal] {
        &self.lows
    }

    /// The sessions' volumes, oldest first.
    pub fn volumes(&self) -> &[Option<u64>] {
        &self.volumes
    }

    /// Drops the columns nothing will read: the highs and lows unless `ranges` (52-week
    /// extremes), the volumes unless `volumes` (volume spikes). A symbol watched for its price
    /// and RSI then keeps 12 bytes a session instead of 60. A dropped column reads as empty,
    /// and a condition that needs it as unknown.
    pub fn keep_columns(&mut self, ranges: bool, volumes: bool) {
        if !ranges {
            self.highs = Vec::new();
            self.lows = Vec::new();
        }
        if !volumes {
            self.volumes = Vec::new();
        }
    }

    /// Closes of the sessions before the exchange day of `at` (New York date).
    pub fn closes_before(&self, at: Timestamp) -> &[f64] {
        &self.closes[..self.sessions_before(at)]
    }

    /// Number of sessions before the exchange day of `at`.
    pub fn sessions_before(&self, at: Timestamp) -> usize {
        let day = exchange_date(at);
        self.days.partition_point(|d| *d < day)
    }

    /// Whether the history reaches back past the 52 weeks (364 days) before the exchange day
    /// of `at`: only then is an extreme over them the 52-week extreme.
    pub fn covers_52_weeks(&self, at: Timestamp) -> bool {
        let from = exchange_date(at) - chrono::Duration::days(364);
        self.days.first().is_some_and(|first| *first < from)
    }

    /// Indices of the sessions in the 52 weeks (364 days) before the exchange day of `at`.
    pub fn last_52_weeks(&self, at: Timestamp) -> std::ops::Range<usize> {
        let from = exchange_date(at) - chrono::Duration::days(364);
        let start = self.days.partition_point(|d| *d < from);
        let end = self.sessions_before(at);
        start.min(end)..end
    }

    /// SMA(`period`) over the first `n` closes and `current`.
    pub fn sma_at(&self, n: usize, period: usize, current: f64) -> Option<f64> {
        match self.base((SMA, period, n)) {
            Some(Base::Sum(sum)) => Some((sum + current) / period as f64),
            _ => None,
        }
    }

    /// EMA(`period`) over the first `n` closes and `current`.
    pub fn ema_at(&self, n: usize, period: usize, current: f64) -> Option<f64> {
        match self.base((EMA, period, n)) {
            Some(Base::Previous(previous)) => {
                Some(previous + 2.0 / (period as f64 + 1.0) * (current - previous))
            }
            _ => None,
        }
    }

    /// RSI(`period`) over the first `n` closes and `current`.
    pub fn rsi_at(&self, n: usize, period: usize, current: f64) -> Option<f64> {
        let Some(Base::Wilder {
            gain,
            loss,
            last,
            partial,
        }) = self.base((RSI, period, n))
        else {
            return None;
        };
        let p = period as f64;
        let change = current - last;
        let (g, l) = (change.max(0.0), (-change).max(0.0));
        let (gain, loss) = if partial {
            (gain + g / p, loss + l / p)
        } else {
            ((gain * (p - 1.0) + g) / p, (loss * (p - 1.0) + l) / p)
        };
        Some(rsi_value(gain, loss))
    }

    fn base(&self, key: MemoKey) -> Option<Base> {
        let mut memo = self.memo.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some((_, base)) = memo.iter().find(|(k, _)| *k == key) {
            return *base;
        }
        let (kind, period, n) = key;
        let closes = &self.closes[..n.min(self.closes.len())];
        let base = match kind {
            SMA => sma_base(closes, period),
            EMA => ema_base(closes, period),
            _ => rsi_base(closes, period),
        };
        memo.push((key, base));
        base
    }
}

/// The exchange day of an instant: its calendar date in New York.
pub fn exchange_date(at: Timestamp) -> chrono::NaiveDate {
    at.with_timezone(&chrono_tz::America::New_York).date_naive()
}

/// Converts a decimal to `f64` (exact enough for statistics; never used for a price compared
/// with a user's level).
pub fn to_f64(value: Decimal) -> f64 {
    rust_decimal::prelude::ToPrimitive::to_f64(&value).unwrap_or(f64::NAN)
}

fn sma_base(closes: &[f64], period: usize) -> Option<Base> {
    if period == 0 || closes.len() + 1 < period {
        return None;
    }
    Some(Base::Sum(closes[closes.len() + 1 - period..].iter().sum()))
}

fn ema_base(closes: &[f64], period: usize) -> Option<Base> {
    if period == 0 || closes.len() < period {
        return None;
    }
    let alpha = 2.0 / (period as f64 + 1.0);
    let seed = closes[..period].iter().sum::<f64>() / period as f64;
    Some(Base::Previous(
        closes[period..]
            .iter()
            .fold(seed, |ema, close| ema + alpha * (close - ema)),
    ))
}

fn rsi_base(closes: &[f64], period: usize) -> Option<Base> {
    let last = *closes.last()?;
    if period == 0 || closes.len() < period {
        return None;
    }
    let p = period as f64;
    let (mut gain, mut loss) = (0.0, 0.0);
    for (i, pair) in closes.windows(2).enumerate() {
        let change = pair[1] - pair[0];
        let (g, l) = (change.max(0.0), (-change).max(0.0));
        if i < period {
            gain += g / p;
            loss += l / p;
        } else {
            gain = (gain * (p - 1.0) + g) / p;
            loss = (loss * (p - 1.0) + l) / p;
        }
    }
    // With `period` closes there are `period − 1` changes: the averages are still partial
    // sums, completed by the current price's change.
    Some(Base::Wilder {
        gain,
        loss,
        last,
        partial: closes.len() == period,
    })
}

fn rsi_value(gain: f64, loss: f64) -> f64 {
    if loss == 0.0 {
        if gain == 0.0 { 50.0 } else { 100.0 }
    } else {
        100.0 - 100.0 / (1.0 + gain / loss)
    }
}

/// Simple moving average of the last `period − 1` closes and `current`. `None` until there are
/// `period − 1` closes.
pub fn sma(closes: &[f64], period: usize, current: f64) -> Option<f64> {
    if period == 0 || closes.len() + 1 < period {
        return None;
    }
    let prior = &closes[closes.len() + 1 - period..];
    Some((prior.iter().sum::<f64>() + current) / period as f64)
}

/// Exponential moving average with smoothing `2 / (period + 1)`, seeded with the mean of the
/// first `period` closes, advanced through the rest and then `current`. `None` until there are
/// `period` closes.
pub fn ema(closes: &[f64], period: usize, current: f64) -> Option<f64> {
    if period == 0 || closes.len() < period {
        return None;
    }
    let alpha = 2.0 / (period as f64 + 1.0);
    let seed = closes[..period].iter().sum::<f64>() / period as f64;
    let previous = closes[period..]
        .iter()
        .fold(seed, |ema, close| ema + alpha * (close - ema));
    Some(previous + alpha * (current - previous))
}

/// Wilder's relative strength index over the closes followed by `current`: average gain and
/// loss of the first `period` changes, then smoothed `(avg × (period − 1) + change) / period`.
/// `None` until there are `period` closes (so `period` changes with `current`). 100 when there
/// was no loss at all, 50 when there was no change at all.
pub fn rsi(closes: &[f64], period: usize, current: f64) -> Option<f64> {
    if period == 0 || closes.len() < period {
        return None;
    }
    let n = period as f64;
    let prices = closes.iter().copied().chain(std::iter::once(current));
    let changes = prices.clone().zip(prices.skip(1)).map(|(a, b)| b - a);
    let (mut gain, mut loss) = (0.0, 0.0);
    for (i, change) in changes.enumerate() {
        let (g, l) = (change.max(0.0), (-change).max(0.0));
        if i < period {
            gain += g / n;
            loss += l / n;
        } else {
            gain = (gain * (n - 1.0) + g) / n;
            loss = (loss * (n - 1.0) + l) / n;
        }
    }
    Some(rsi_value(gain, loss))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// MSFT monthly closes, Jan–Dec 2000 (fixtures/monthly_prices_2000_2010.csv).
    const MSFT_2000: [f64; 12] = [
        39.81, 36.35, 43.22, 28.37, 25.45, 32.54, 28.4, 28.4, 24.53, 28.02, 23.34, 17.65,
    ];

    fn close(a: f64, b: f64) -> bool {
        (a - b).abs() < 1e-9
    }

    #[test]
    fn dropped_columns_read_as_empty_and_closes_stay() {
        let at = |i: i64| chrono::DateTime::UNIX_EPOCH + chrono::Duration::days(i);
        let bars: Vec<Bar> = (0..30)
            .map(|i| {
                let c = Decimal::new(1_000 + i, 1);
                Bar::new(at(i), c, c + Decimal::ONE, c - Decimal::ONE, c, Some(500)).unwrap()
            })
            .collect();
        let full = DailyHistory::new(bars);
        let mut ranges = full.clone();
        ranges.keep_columns(true, false);
        assert_eq!(ranges.highs(), full.highs());
        assert_eq!(ranges.lows(), full.lows());
        assert!(ranges.volumes().is_empty());
        let mut lean = full.clone();
        lean.keep_columns(false, false);
        assert!(lean.highs().is_empty() && lean.lows().is_empty() && lean.volumes().is_empty());
        assert_eq!((lean.len(), lean.closes()), (30, full.closes()));
        assert_eq!(lean.sma_at(30, 20, 103.0), full.sma_at(30, 20, 103.0));
        assert_eq!(lean.rsi_at(30, 14, 103.0), full.rsi_at(30, 14, 103.0));
    }

    #[test]
    fn memoised_indicators_equal_the_direct_ones() {
        let at = |i: i64| chrono::DateTime::UNIX_EPOCH + chrono::Duration::days(i);
        let bars: Vec<Bar> = (0..60)
            .map(|i| {
                let c = Decimal::new(1_000 + (i * 7919 % 200), 1);
                Bar::new(at(i), c, c, c, c, None).unwrap()
            })
            .collect();
        let history = DailyHistory::new(bars);
        let closes = history.closes().to_vec();
        for n in [0, 1, 13, 14, 15, 30, 60] {
            for period in [1, 2, 5, 14, 20] {
                for current in [95.0, 100.0, 110.5] {
                    let c = &closes[..n];
                    let same = |a: Option<f64>, b: Option<f64>| match (a, b) {
                        (Some(a), Some(b)) => close(a, b),
                        (None, None) => true,
                        _ => false,
                    };
                    assert!(
                        same(history.sma_at(n, period, current), sma(c, period, current)),
                        "sma n={n} p={period}"
                    );
                    assert!(
                        same(history.ema_at(n, period, current), ema(c, period, current)),
                        "ema n={n} p={period}"
                    );
                    assert!(
                        same(history.rsi_at(n, period, current), rsi(c, period, current)),
                        "rsi n={n} p={period}"
                    );
                }
            }
        }
    }

    #[test]
    fn sma_by_hand() {
        // sma(3) at the December close: (28.02 + 23.34 + 17.65) / 3 = 23.003333…
        let v = sma(&MSFT_2000[..11], 3, 17.65).unwrap();
        assert!(close(v, 69.01 / 3.0), "{v}");
        assert_eq!(
            sma(&MSFT_2000[..1], 3, 1.0),
            None,
            "needs period - 1 closes"
        );
        assert!(close(sma(&[], 1, 5.0).unwrap(), 5.0));
    }

    #[test]
    fn ema_by_hand() {
        // ema(3), alpha 0.5, seeded with mean(39.81, 36.35, 43.22) = 39.793333…
        // then 28.37 → 34.0816667, 25.45 → 29.7658333, current 32.54 → 31.1529167
        let v = ema(&MSFT_2000[..5], 3, 32.54).unwrap();
        assert!(close(v, 31.152_916_666_666_67), "{v}");
        assert_eq!(ema(&MSFT_2000[..2], 3, 1.0), None);
    }

    #[test]
    fn rsi_by_hand() {
        // rsi(3) over 39.81, 36.35, 43.22, current 28.37:
        // changes -3.46, +6.87, -14.85 → gain 6.87/3 = 2.29, loss 18.31/3 = 6.103333…
        // RS = 0.375204…, RSI = 100 − 100/1.375204… = 27.2835…
        let v = rsi(&MSFT_2000[..3], 3, 28.37).unwrap();
        assert!(
            close(v, 100.0 - 100.0 / (1.0 + 2.29 / (18.31 / 3.0))),
            "{v}"
        );
        // One more close: smoothing. Next change 25.45 - 28.37 = -2.92:
        // gain (2.29*2 + 0)/3, loss (6.103333*2 + 2.92)/3
        let v = rsi(&MSFT_2000[..4], 3, 25.45).unwrap();
        let (g, l) = (2.29 * 2.0 / 3.0, (18.31 / 3.0 * 2.0 + 2.92) / 3.0);
        assert!(close(v, 100.0 - 100.0 / (1.0 + g / l)), "{v}");
        assert_eq!(rsi(&[1.0, 2.0], 3, 3.0), None);
        assert_eq!(rsi(&[1.0, 2.0, 3.0], 3, 4.0), Some(100.0));
        assert_eq!(rsi(&[2.0, 2.0, 2.0], 3, 2.0), Some(50.0));
    }
}
