//! Replays a rule over past bars: which alerts would it have sent?

use chrono::Duration;
use serde::Serialize;

use super::condition::Condition;
use super::evaluate::{MarketView, Others};
use super::indicators::DailyHistory;
use super::lifecycle::{EngineState, RuleOptions, Schedule, Transition, step};
use crate::domain::{AlertKind, Bar, CorporateEvent, Quote, Sample, Symbol};
use crate::time::Timestamp;
use rust_decimal::Decimal;

/// An alert a rule would have sent.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct BacktestAlert {
    /// Fired, resolved, no data, or a notice (a split moved the rule's level); reminders are
    /// not listed.
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
/// crossings that reversed before the close are not seen. With `evaluate: at_session_close`
/// each daily bar is taken at its session's close, as the live monitor takes the close.
pub fn backtest(
    symbol: &Symbol,
    condition: &Condition,
    options: &RuleOptions,
    bars: &[Bar],
) -> Vec<BacktestAlert> {
    backtest_series(symbol, condition, options, &[(symbol.clone(), bars)])
}

/// One symbol's bars as the replay walks them.
struct Track<'a> {
    symbol: &'a Symbol,
    bars: Vec<Bar>,
    next: usize,
    samples: Vec<Sample>,
    history: DailyHistory,
    quote: Option<Quote>,
    fresh: bool,
    /// The symbol's corporate calendar, when one was given.
    events: Option<Vec<CorporateEvent>>,
    /// The ex-dates of the splits applied so far.
    applied: Vec<chrono::NaiveDate>,
}

/// [`backtest`] of a rule whose combination reads several symbols: `series` holds the bars of
/// each symbol it reads (its own among them). The rule is evaluated at every time any of them
/// has a bar, as the monitor evaluates it whenever any of its symbols has a fresh quote; an
/// operand whose symbol has no bar within the rule's staleness limit has no data.
pub fn backtest_series(
    symbol: &Symbol,
    condition: &Condition,
    options: &RuleOptions,
    series: &[(Symbol, &[Bar])],
) -> Vec<BacktestAlert> {
    backtest_with_events(symbol, condition, options, series, None, None)
}

/// [`backtest_series`] with the symbols' corporate calendar (`None`: no calendar, and
/// calendar conditions have no data). Calendar conditions read it as the monitor does. A
/// split whose earlier bars are given as traded is applied at the first bar of its ex-date as
/// the monitor applies it to a rule saved before it: the rule's levels, its remembered prices
/// and the earlier bars are put in the new terms (a notice is listed), so the jump itself
/// fires nothing. Bars already adjusted (see [`split::adjust_bars`](super::split::adjust_bars))
/// are taken as they are, with the levels as written. A rule with `expires_at` is not
/// evaluated from then on, as the monitor leaves it.
pub fn backtest_with_events(
    symbol: &Symbol,
    condition: &Condition,
    options: &RuleOptions,
    series: &[(Symbol, &[Bar])],
    events: Option<&[CorporateEvent]>,
    expires_at: Option<Timestamp>,
) -> Vec<BacktestAlert> {
    let schedule = Schedule {
        expires_at,
        ..Schedule::default()
    };
    let mut condition = condition.clone();
    let mut tracks: Vec<Track<'_>> = series
        .iter()
        .map(|(symbol, bars)| {
            let mut sorted: Vec<Bar> = bars
                .iter()
                .map(|b| {
                    // A daily bar's close is the session's close: a rule evaluated at the
                    // close sees it then. (Every bar is a closed bar: at its bar's close, a
                    // rule on minute bars sees each at its time.)
                    if options.evaluate.at_session_close(&condition) {
                        Bar {
                            at: session_close(b.at),
                            ..b.clone()
                        }
                    } else {
                        b.clone()
                    }
                })
                .collect();
            sorted.sort_by_key(|b| b.at);
            sorted.dedup_by_key(|b| b.at);
            Track {
                symbol,
                bars: sorted,
                next: 0,
                samples: Vec::new(),
                history: DailyHistory::default(),
                quote: None,
                fresh: false,
                events: events.map(|all| {
                    all.iter()
                        .filter(|e| &e.symbol == symbol)
                        .cloned()
                        .collect()
                }),
                applied: Vec::new(),
            }
        })
        .collect();
    let mut times: Vec<Timestamp> = tracks
        .iter()
        .flat_map(|t| t.bars.iter().map(|b| b.at))
        .collect();
    times.sort_unstable();
    times.dedup();
    let stale = Duration::minutes(i64::from(options.stale_after_minutes));

    let mut state = EngineState::new();
    let mut alerts = Vec::new();
    for at in times {
        for track in &mut tracks {
            track.fresh = track.bars.get(track.next).is_some_and(|b| b.at == at);
            if track.fresh {
                let previous_close = track.samples.last().map(|p| p.price);
                track.quote = bar_quote(track.symbol, &track.bars[track.next], previous_close);
            }
        }
        for track in tracks.iter_mut().filter(|t| t.fresh) {
            for (date, ratio) in track.due_splits() {
                track.applied.push(date);
                let price = track.quote.as_ref().map_or(Decimal::ZERO, |q| q.price);
                let start = super::calendar::day_start(date);
                // Bars already in today's terms (as most providers give them): nothing moves.
                let before = track.samples.iter().rev().find(|s| s.at < start);
                if !before.is_some_and(|b| ratio.looks_unadjusted(b.price, price)) {
                    continue;
                }
                super::split::adjust_series(
                    &mut track.samples,
                    &mut track.history,
                    track.quote.as_mut(),
                    date,
                    ratio,
                    price,
                );
                if track.symbol == symbol {
                    state.split_adjust(ratio);
                }
                if let Some(moved) = condition.split_adjusted(symbol, track.symbol, ratio) {
                    condition = moved;
                    alerts.push(BacktestAlert {
                        kind: AlertKind::Notice,
                        episode: state.episode,
                        at,
                        price,
                    });
                }
            }
        }
        let view_of = |track| view_of(track, at, stale);
        let lookup = |s: &Symbol| tracks.iter().find(|t| t.symbol == s).and_then(view_of);
        let own = tracks.iter().find(|t| t.symbol == symbol);
        // The rule's own quote when it has one; else the fresh quote of another symbol.
        let anchor = own
            .and_then(view_of)
            .or_else(|| tracks.iter().filter(|t| t.fresh).find_map(view_of));
        let fresh_other = tracks.iter().any(|t| t.fresh && t.symbol != symbol);
        let transition = anchor.and_then(|view| {
            let view = MarketView {
                others: Some(Others {
                    own: symbol,
                    lookup: &lookup,
                    fresh: fresh_other,
                }),
                ..view
            };
            (own.is_some_and(|t| t.fresh) || fresh_other)
                .then(|| step(&condition, options, schedule, &mut state, Some(&view), at))?
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
            Some(Transition::NoData {
                episode, price, at, ..
            }) => alerts.push(BacktestAlert {
                kind: AlertKind::NoData,
                episode,
                at,
                price,
            }),
            // A reminder says what the firing said: the backtest lists what changed.
            Some(Transition::Reminder { .. }) | None => {}
        }
        for track in &mut tracks {
            if track.fresh {
                let bar = &track.bars[track.next];
                track.next += 1;
                track.samples.push(Sample {
                    at: bar.at,
                    price: bar.close,
                    high: Some(bar.high),
                    low: Some(bar.low),
                });
                track.history.push(bar.clone());
            }
        }
    }
    alerts
}

/// The close of the session `at` falls in (`at` itself when that is later, or the exchange is
/// closed that day).
fn session_close(at: Timestamp) -> Timestamp {
    super::calendar::regular_hours(super::indicators::exchange_date(at))
        .map_or(at, |(_, close)| close.max(at))
}

/// A symbol's view at `at`: its latest quote, unless stale.
fn view_of<'t>(track: &'t Track<'_>, at: Timestamp, stale: Duration) -> Option<MarketView<'t>> {
    track
        .quote
        .as_ref()
        .filter(|q| at - q.at <= stale)
        .map(|quote| MarketView {
            quote,
            previous: track.samples.last().copied(),
            recent: &track.samples,
            history: &track.history,
            book: None,
            others: None,
            events: track.events.as_deref(),
        })
}

impl Track<'_> {
    /// The splits of the calendar whose ex-date is the current bar's day (or has passed)
    /// and that are not applied yet.
    fn due_splits(&self) -> Vec<(chrono::NaiveDate, crate::domain::SplitRatio)> {
        let Some(bar) = self.bars.get(self.next) else {
            return Vec::new();
        };
        let day = super::indicators::exchange_date(bar.at);
        self.events
            .iter()
            .flatten()
            .filter_map(CorporateEvent::split)
            .filter(|(date, _)| *date <= day && !self.applied.contains(date))
            // Splits before the first bar are already in the prices.
            .filter(|(date, _)| {
                self.bars
                    .first()
                    .is_some_and(|b| super::indicators::exchange_date(b.at) < *date)
            })
            .collect()
    }
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
