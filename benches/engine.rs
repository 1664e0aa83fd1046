//! Rule evaluations per second on one core: one `step` of a rule's lifecycle on a fresh quote,
//! for the simple conditions (price level, cross, percent change), RSI(14) over a year of
//! daily closes, and combinations of three operands (on one symbol, and reading a second).
//!
//! ```text
//! cargo bench -p benches --bench engine
//! ```
//! Throughput is the `evals/s` column; each sample steps 1,000 rules over one quote.

use chrono::{Duration, TimeZone, Utc};
use divan::{Bencher, counter::ItemsCount};
use rust_decimal::Decimal;
use signal_sentinel::domain::{Bar, Quote, Sample, Symbol};
use signal_sentinel::engine::indicators::DailyHistory;
use signal_sentinel::engine::{
    Condition, EngineState, MarketView, Others, RuleOptions, Schedule, parse_rule, step,
};

const RULES: usize = 1_000;

fn main() {
    divan::main();
}

fn history() -> DailyHistory {
    let start = Utc.with_ymd_and_hms(2025, 1, 2, 14, 30, 0).unwrap();
    DailyHistory::new(
        (0..260)
            .map(|i| {
                let close = Decimal::new(10_000 + (i * 37 % 500) - 250, 2);
                Bar::new(
                    start + Duration::days(i),
                    close,
                    close,
                    close,
                    close,
                    Some(1_000_000),
                )
                .unwrap()
            })
            .collect(),
    )
}

fn run(bencher: Bencher<'_, '_>, text: &str) {
    let rule = parse_rule(text).unwrap();
    let conditions: Vec<Condition> = (0..RULES).map(|_| rule.condition.clone()).collect();
    let options = RuleOptions::default();
    let history = history();
    let at = Utc.with_ymd_and_hms(2026, 11, 27, 15, 0, 0).unwrap();
    let symbol = Symbol::parse("AAPL").unwrap();
    let quote = Quote::new(symbol, Decimal::new(10_125, 2), at, "bench")
        .unwrap()
        .with_previous_close(Decimal::new(10_000, 2))
        .unwrap();
    let previous = Sample::new(at - Duration::minutes(1), Decimal::new(9_990, 2));
    let recent = [previous];
    // A second symbol for the combinations that read one: SPY, up 0.5% today.
    let spy = Quote::new(
        Symbol::parse("SPY").unwrap(),
        Decimal::new(50_250, 2),
        at,
        "bench",
    )
    .unwrap()
    .with_previous_close(Decimal::new(50_000, 2))
    .unwrap();
    let lookup = |s: &Symbol| {
        (s == &spy.symbol).then_some(MarketView {
            quote: &spy,
            previous: Some(previous),
            recent: &recent,
            history: &history,
            book: None,
            others: None,
            events: None,
        })
    };
    let view = MarketView {
        quote: &quote,
        previous: Some(previous),
        recent: &recent,
        history: &history,
        book: None,
        others: Some(Others {
            own: &quote.symbol,
            lookup: &lookup,
            fresh: false,
        }),
        events: None,
    };
    let mut states = vec![EngineState::new(); RULES];
    // One step first, as a monitor's cycles would have done.
    for (c, s) in conditions.iter().zip(&mut states) {
        step(c, &options, Schedule::default(), s, Some(&view), at);
    }
    bencher.counter(ItemsCount::new(RULES)).bench_local(|| {
        let mut fired = 0;
        for (c, s) in conditions.iter().zip(&mut states) {
            // A copy of the state: every sample evaluates the same transition.
            let mut state = s.clone();
            if step(
                c,
                &options,
                Schedule::default(),
                &mut state,
                Some(divan::black_box(&view)),
                at,
            )
            .is_some()
            {
                fired += 1;
            }
        }
        fired
    });
}

#[divan::bench]
fn price_level(bencher: Bencher<'_, '_>) {
    run(bencher, "AAPL price > 100");
}

#[divan::bench]
fn crosses_level(bencher: Bencher<'_, '_>) {
    run(bencher, "AAPL crosses above 100");
}

#[divan::bench]
fn day_change(bencher: Bencher<'_, '_>) {
    run(bencher, "AAPL day change >= 1%");
}

#[divan::bench]
fn rsi_14(bencher: Bencher<'_, '_>) {
    run(bencher, "AAPL rsi(14) > 70");
}

/// Three operands that all hold, so each is evaluated: a cross, a day change and a level.
#[divan::bench]
fn combined_three(bencher: Bencher<'_, '_>) {
    run(
        bencher,
        "AAPL crosses above 100 and day change >= 1% and price < 200",
    );
}

/// The same with one operand on another symbol, found through the view's lookup.
#[divan::bench]
fn combined_two_symbols(bencher: Bencher<'_, '_>) {
    run(
        bencher,
        "AAPL crosses above 100 and SPY day change > 0% and price < 200",
    );
}
