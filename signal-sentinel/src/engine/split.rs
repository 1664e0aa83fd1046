//! What a split changes that the engine reads.

use crate::domain::{Bar, CorporateEvent, Quote, Sample, SplitRatio};
use crate::engine::indicators::{DailyHistory, exchange_date};

/// What a split changes of a symbol's data in memory, on its ex-date: the samples taken before
/// the ex-date began, the daily history (when given as traded) and the quote's previous close
/// (when from before the split), all put in the new terms against `price_after`, the first
/// price after it.
pub fn adjust_series(
    samples: &mut [Sample],
    history: &mut DailyHistory,
    quote: Option<&mut Quote>,
    ex_date: chrono::NaiveDate,
    ratio: SplitRatio,
    price_after: rust_decimal::Decimal,
) {
    let start = super::calendar::day_start(ex_date);
    for sample in samples.iter_mut().filter(|s| s.at < start) {
        sample.split_adjust(ratio);
    }
    history.split_adjust(ex_date, ratio, price_after);
    if let Some(quote) = quote {
        adjust_previous_close(quote, ex_date, ratio);
    }
}

/// On the ex-date, a previous close the provider gave from before the split (nearer the
/// ratio than 1 times the price) is put in the new terms.
pub fn adjust_previous_close(quote: &mut Quote, ex_date: chrono::NaiveDate, ratio: SplitRatio) {
    if exchange_date(quote.at) != ex_date {
        return;
    }
    if let Some(prev) = quote.previous_close
        && ratio.looks_unadjusted(prev, quote.price)
        && let Some(adjusted) = ratio.adjust_price(prev)
        && let Ok(fixed) = quote.clone().with_previous_close(adjusted)
    {
        *quote = fixed;
    }
}

/// Puts bars in today's terms: for each split in `events` whose earlier bars are as traded
/// (the last close before the ex-date is nearer the ratio than 1 times the first price after
/// it), the bars before the ex-date get prices × old ÷ new and volumes × new ÷ old. Bars a
/// provider already adjusted are left as they are. Returns how many splits were applied.
pub fn adjust_bars(bars: &mut [Bar], events: &[CorporateEvent]) -> usize {
    let mut splits: Vec<(chrono::NaiveDate, SplitRatio)> =
        events.iter().filter_map(CorporateEvent::split).collect();
    // The latest first: an earlier split is then judged on bars in the same terms.
    splits.sort_by_key(|s| std::cmp::Reverse(s.0));
    let mut applied = 0;
    for (date, ratio) in splits {
        let at = bars.partition_point(|b| exchange_date(b.at) < date);
        let (Some(before), Some(after)) = (at.checked_sub(1).map(|i| &bars[i]), bars.get(at))
        else {
            continue;
        };
        if !ratio.looks_unadjusted(before.close, after.open) {
            continue;
        }
        for bar in &mut bars[..at] {
            let price = |p| ratio.adjust_price(p).unwrap_or(p);
            bar.open = price(bar.open);
            bar.high = price(bar.high);
            bar.low = price(bar.low);
            bar.close = price(bar.close);
            bar.volume = bar.volume.map(|v| ratio.adjust_volume(v).unwrap_or(v));
        }
        applied += 1;
    }
    applied
}
