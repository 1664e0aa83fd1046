//! What a split changes that the engine reads.

use crate::domain::{Bar, CorporateEvent, EventKind, Quote, SplitRatio};
use crate::engine::indicators::exchange_date;

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
    let mut splits: Vec<(chrono::NaiveDate, SplitRatio)> = events
        .iter()
        .filter_map(|e| match e.kind {
            EventKind::Split { ratio } => Some((e.date, ratio)),
            _ => None,
        })
        .collect();
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
            bar.volume = bar.volume.map(|v| {
                rust_decimal::Decimal::from(v)
                    .checked_mul(ratio.new)
                    .and_then(|v| v.checked_div(ratio.old))
                    .and_then(|v| u64::try_from(v.round()).ok())
                    .unwrap_or(v)
            });
        }
        applied += 1;
    }
    applied
}
