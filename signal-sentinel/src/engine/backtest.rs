//! Replays a rule over past bars: which alerts would it have sent?

use serde::Serialize;

use super::condition::Condition;
use super::evaluate::MarketView;
use super::indicators::DailyHistory;
use super::lifecycle::{EngineState, RuleOptions, Schedule, Transition, step};
use crate::domain::{AlertKind, Bar, Quote, Sample, Symbol};
use crate::time::Timestamp;
use rust_decimal::Decimal;

/// An alert a rule would have sent.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct BacktestAlert {
    /// Fired or resolved (reminders are not listed).
    pub kind: AlertKind,
    /// The rule's episode.
    pub episode: i64,
    /// The bar's time.
    pub at: Timestamp,
    /// The bar's close.
    pub price: Decimal,
}

/// The alerts a rule would have produced over `bars`, evaluated once per bar at its close
/// (each bar becomes a quote: close as price, the previous bar's close as previous close, its
/// open, range and volume; earlier bars are the daily history). Bars are sorted by time first;
/// a repeated time keeps the first bar given.
///
/// On daily bars this is what the rule would have done watching daily closes; intraday
/// crossings that reversed before the close are not seen.
pub fn backtest(
    symbol: &Symbol,
    condition: &Condition,
    options: &RuleOptions,
    bars: &[Bar],
) -> Vec<BacktestAlert> {
    let mut sorted: Vec<&Bar> = bars.iter().collect();
    sorted.sort_by_key(|b| b.at);
    sorted.dedup_by_key(|b| b.at);

    let mut history = DailyHistory::default();
    let mut state = EngineState::new();
    let mut alerts = Vec::new();
    let mut samples: Vec<Sample> = Vec::with_capacity(sorted.len());
    for bar in sorted {
        let previous = samples.last().copied();
        let quote = bar_quote(symbol, bar, previous.map(|p| p.price));
        let transition = quote.as_ref().and_then(|quote| {
            let view = MarketView {
                quote,
                previous,
                recent: &samples,
                history: &history,
                book: None,
            };
            step(
                condition,
                options,
                Schedule::default(),
                &mut state,
                Some(&view),
                bar.at,
            )
        });
        match transition {
            Some(Transition::Fired { episode, price, at }) => alerts.push(BacktestAlert {
                kind: AlertKind::Fired,
                episode,
                at,
                price,
            }),
            Some(Transition::Resolved { episode, price, at }) => alerts.push(BacktestAlert {
                kind: AlertKind::Resolved,
                episode,
                at,
                price,
            }),
            // A reminder says what the firing said: the backtest lists what changed.
            Some(Transition::Reminder { .. }) | None => {}
        }
        samples.push(Sample {
            at: bar.at,
            price: bar.close,
        });
        history.push(bar.clone());
    }
    alerts
}

fn bar_quote(symbol: &Symbol, bar: &Bar, previous_close: Option<Decimal>) -> Option<Quote> {
    let mut quote = Quote::new(symbol.clone(), bar.close, bar.at, "backtest")
        .ok()?
        .with_open(bar.open)
        .ok()?
        .with_day_range(bar.low, bar.high)
        .ok()?;
    if let Some(prev) = previous_close {
        quote = quote.with_previous_close(prev).ok()?;
    }
    if let Some(volume) = bar.volume {
        quote = quote.with_volume(volume);
    }
    Some(quote)
}
