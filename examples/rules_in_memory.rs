//! Rules evaluated on a stream of quotes in memory — no database, no monitor, no network: the
//! pure engine the monitor runs in its hot loop. Useful inside a trading program that already
//! has its own quotes and wants Signal Sentinel's conditions and alert lifecycle.
//!
//! ```text
//! cargo run -p examples --example rules_in_memory
//! ```
//!
//! The quotes are the real daily closes of one stock in June–July 2009 (the fixture the tests
//! use), replayed one per session.

use chrono::{NaiveDate, TimeZone, Utc};
use rust_decimal::Decimal;
use signal_sentinel::domain::{Quote, Sample};
use signal_sentinel::engine::indicators::DailyHistory;
use signal_sentinel::engine::{
    EngineState, MarketView, RuleOptions, Schedule, Transition, parse_rule, step,
};

/// June–July 2009: date, open, high, low, close.
const BARS: &str = include_str!("../signal-sentinel/fixtures/daily_ohlc_2009.csv");

/// A rule as a program holding it would: what it watches, its options and its state.
struct Watched {
    text: &'static str,
    rule: signal_sentinel::engine::RuleText,
    options: RuleOptions,
    state: EngineState,
}

fn main() -> anyhow::Result<()> {
    // Rules are parsed once from their text form (the grammar of docs/rules.md).
    let mut rules: Vec<Watched> = [
        "XYZ crosses above 28",
        "XYZ crosses below 25",
        "XYZ day change <= -3%",
        "XYZ moves 5% within 3d",
    ]
    .into_iter()
    .map(|text| {
        Ok(Watched {
            text,
            rule: parse_rule(text)?,
            options: RuleOptions::default(),
            state: EngineState::new(),
        })
    })
    .collect::<anyhow::Result<_>>()?;

    let symbol = rules[0].rule.symbol.clone();
    // What the engine may look at besides the quote: the symbol's previous samples and its
    // completed daily sessions (empty here: no rule reads indicators).
    let history = DailyHistory::default();
    let mut samples: Vec<Sample> = Vec::new();
    let mut fired = 0;

    let mut bars = csv::Reader::from_reader(BARS.as_bytes());
    let columns = bars.headers()?.clone();
    let column = |name: &str| {
        columns
            .iter()
            .position(|c| c == name)
            .ok_or_else(|| anyhow::anyhow!("the fixture has no {name} column"))
    };
    let (date_at, close_at) = (column("date")?, column("close")?);
    for record in bars.records() {
        let record = record?;
        let field = |i: usize| record.get(i).unwrap_or_default();
        let day = NaiveDate::parse_from_str(field(date_at), "%Y-%m-%d")?;
        // The session's close, at 16:00 New York.
        let at = Utc.from_utc_datetime(&day.and_hms_opt(20, 0, 0).expect("a valid time"));
        let close: Decimal = field(close_at).parse()?;
        let mut quote = Quote::new(symbol.clone(), close, at, "stream")?;
        if let Some(previous) = samples.last() {
            quote = quote.with_previous_close(previous.price)?;
        }
        let view = MarketView {
            quote: &quote,
            previous: samples.last().copied(),
            recent: &samples,
            history: &history,
            book: None,
            others: None,
            events: None,
        };
        for watched in &mut rules {
            // One step of the rule's lifecycle: armed → firing → resolved …, with the
            // options' cooldowns and confirmation; `None` when nothing happened.
            let transition = step(
                &watched.rule.condition,
                &watched.options,
                Schedule::default(),
                &mut watched.state,
                Some(&view),
                at,
            );
            match transition {
                Some(Transition::Fired { episode, price, .. }) => {
                    fired += 1;
                    println!(
                        "{day}  FIRED     #{episode:<2} {:<26} at {price}",
                        watched.text
                    );
                }
                Some(Transition::Resolved { episode, price, .. }) => {
                    println!(
                        "{day}  resolved  #{episode:<2} {:<26} at {price}",
                        watched.text
                    );
                }
                // Reminders (the `repeat` option, not set here) and what later versions add.
                Some(_) | None => {}
            }
        }
        samples.push(Sample::new(at, close));
    }
    println!(
        "{fired} alerts from {} rules over {} sessions",
        rules.len(),
        samples.len()
    );
    anyhow::ensure!(fired > 0, "the replay should fire alerts");
    Ok(())
}
