//! Untrusted numbers never panic the engine, the backtest or a monitor cycle: arbitrary
//! decimals (zero, negative, the largest and smallest a `Decimal` holds, 28 decimal places)
//! through every condition type, and an alert only where the documented meaning says so.
//!
//! Quotes and bars are built as struct literals here, bypassing the checks of `Quote::new`
//! and `Bar::new`, as an embedder's own `MarketData` could.

use std::sync::{Arc, Mutex};

use chrono::{Duration, NaiveDate, TimeZone, Utc};
use proptest::prelude::*;
use rust_decimal::Decimal;
use signal_sentinel::clock::{Clock, ManualClock};
use signal_sentinel::domain::{
    Bar, Holding, HoldingId, HoldingSource, NewRule, Quote, RulePhase, Symbol, UserId,
};
use signal_sentinel::engine::{
    Book, Comparison, Condition, EngineState, Frequency, MarketView, RuleOptions, Schedule,
    Transition, backtest, indicators::DailyHistory, parse_rule, step,
};
use signal_sentinel::market::{MarketData, MarketError};
use signal_sentinel::monitor::{Monitor, MonitorConfig};
use signal_sentinel::store::{RuleStateStore, RuleStore, Store};

use crate::helpers::{Backend, TestDb, seed_user};

/// One rule of every condition type (and both sides of the directional ones).
const RULES: &[&str] = &[
    "XYZ price > 100",
    "XYZ price <= 100",
    "XYZ crosses above 100",
    "XYZ crosses below 100",
    "XYZ crosses above sma(3)",
    "XYZ crosses below ema(2)",
    "XYZ sma(2) crosses above sma(3)",
    "XYZ day change <= -5%",
    "XYZ day change >= 5%",
    "XYZ moves 3% within 30m",
    "XYZ moves up 3% within 2d",
    "XYZ volume >= 2.5x avg(2)",
    "XYZ new 52w high",
    "XYZ new 52w low",
    "XYZ within 5% of 52w high",
    "XYZ within 5% of 52w low",
    "XYZ rsi(2) > 70",
    "XYZ trailing stop 10%",
    "XYZ gap up >= 2%",
    "XYZ gap down >= 2%",
    "XYZ position 10% below cost",
    "XYZ position day move >= 5%",
    "XYZ position weight > 25%",
];

/// Decimals from the whole range: the edges, tiny and huge values, every scale, and ordinary
/// prices.
fn decimal() -> impl Strategy<Value = Decimal> {
    prop_oneof![
        Just(Decimal::ZERO),
        Just(Decimal::MAX),
        Just(Decimal::MIN),
        Just(Decimal::new(1, 28)),
        Just(Decimal::new(-1, 28)),
        Just(Decimal::ONE_HUNDRED),
        (any::<i64>(), 0_u32..=28).prop_map(|(m, s)| Decimal::new(m, s)),
        (
            any::<u32>(),
            any::<u32>(),
            any::<u32>(),
            any::<bool>(),
            0_u32..=28
        )
            .prop_map(|(lo, mid, hi, neg, scale)| Decimal::from_parts(lo, mid, hi, neg, scale)),
        (1_i64..200_000, 0_u32..4).prop_map(|(m, s)| Decimal::new(m, s)),
    ]
}

#[derive(Debug, Clone)]
struct Sample {
    price: Decimal,
    previous_close: Option<Decimal>,
    open: Option<Decimal>,
    high: Decimal,
    low: Decimal,
    volume: Option<u64>,
    quantity: Decimal,
    cost: Option<Decimal>,
}

fn sample() -> impl Strategy<Value = Sample> {
    (
        decimal(),
        proptest::option::of(decimal()),
        proptest::option::of(decimal()),
        decimal(),
        decimal(),
        proptest::option::of(any::<u64>()),
        decimal(),
        proptest::option::of(decimal()),
    )
        .prop_map(
            |(price, previous_close, open, high, low, volume, quantity, cost)| Sample {
                price,
                previous_close,
                open,
                high,
                low,
                volume,
                quantity,
                cost,
            },
        )
}

fn xyz() -> Symbol {
    Symbol::parse("XYZ").unwrap()
}

fn quote_of(s: &Sample, at: chrono::DateTime<Utc>) -> Quote {
    Quote {
        symbol: xyz(),
        price: s.price,
        previous_close: s.previous_close,
        day_open: s.open,
        day_high: Some(s.high),
        day_low: Some(s.low),
        volume: s.volume,
        at,
        source: "arbitrary".into(),
    }
}

fn bar_of(s: &Sample, at: chrono::DateTime<Utc>) -> Bar {
    Bar {
        at,
        open: s.open.unwrap_or(s.price),
        high: s.high,
        low: s.low,
        close: s.price,
        volume: s.volume,
    }
}

fn holding_of(s: &Sample) -> Holding {
    Holding {
        id: HoldingId::new(1),
        owner: UserId::new(1),
        account: "main".into(),
        symbol: xyz(),
        quantity: s.quantity,
        cost_basis: s.cost,
        source: HoldingSource::Csv,
        connection: None,
        updated_at: start(),
    }
}

fn start() -> chrono::DateTime<Utc> {
    Utc.with_ymd_and_hms(2009, 6, 1, 20, 0, 0).unwrap()
}

/// What a state condition compared exactly: `Some(holds)` where the documented meaning can be
/// computed without overflow, `None` where it cannot (or the condition is not one of these).
fn oracle(condition: &Condition, s: &Sample) -> Option<bool> {
    let hundred = Decimal::ONE_HUNDRED;
    match condition {
        Condition::Price {
            op,
            level,
            intraday: false,
        } => Some(op.holds(s.price, *level)),
        Condition::DayChange { op, percent } => {
            let prev = s.previous_close?;
            let change = s
                .price
                .checked_sub(prev)?
                .checked_div(prev)?
                .checked_mul(hundred)?;
            Some(op.holds(change, *percent))
        }
        Condition::Gap { direction, percent } => {
            let (open, prev) = (s.open?, s.previous_close?);
            let gap = open
                .checked_sub(prev)?
                .checked_div(prev)?
                .checked_mul(hundred)?;
            Some(match direction {
                signal_sentinel::engine::Direction::Up => gap >= *percent,
                signal_sentinel::engine::Direction::Down => -gap >= *percent,
            })
        }
        _ => None,
    }
}

proptest! {
    #![proptest_config(ProptestConfig {
        cases: std::env::var("PROPTEST_CASES").ok().and_then(|c| c.parse().ok()).unwrap_or(64),
        ..ProptestConfig::default()
    })]

    /// Every condition over a sequence of arbitrary samples: no panic; a fired alert only on a
    /// sample where the condition holds by its documented meaning; an error, never an alert,
    /// where it cannot be computed.
    #[test]
    fn arbitrary_samples_never_panic_and_fire_only_where_meant(
        samples in proptest::collection::vec(sample(), 1..12),
    ) {
        for text in RULES {
            let rule = parse_rule(text).unwrap();
            let options = RuleOptions {
                frequency: Frequency::EveryTime,
                ..RuleOptions::default()
            };
            let mut state = EngineState::new();
            let mut history = DailyHistory::default();
            let mut recent: Vec<signal_sentinel::engine::Sample> = Vec::new();
            for (i, s) in samples.iter().enumerate() {
                let at = start() + Duration::days(i as i64);
                let quote = quote_of(s, at);
                let held = [holding_of(s)];
                let book = Book::new(&held, &[&quote]);
                let view = MarketView {
                    quote: &quote,
                    previous: recent.last().copied(),
                    recent: &recent,
                    history: &history,
                    book: Some(&book),
                    others: None,
                    events: None,
                };
                let was_firing = state.phase == RulePhase::Firing;
                let transition = step(
                    &rule.condition,
                    &options,
                    Schedule::default(),
                    &mut state,
                    Some(&view),
                    at,
                );
                if let Some(Transition::Fired { price, .. }) = transition {
                    prop_assert!(!was_firing, "{text}: fired while firing");
                    prop_assert_eq!(price, s.price);
                    prop_assert!(state.error.is_none(), "{text}: fired on an error");
                    if let Some(holds) = oracle(&rule.condition, s) {
                        prop_assert!(holds, "{text}: fired where it does not hold: {s:?}");
                    }
                }
                if state.error.is_some() {
                    prop_assert!(transition.is_none(), "{text}: an alert on an error");
                    prop_assert!(matches!(state.phase, RulePhase::Error | RulePhase::Firing));
                }
                // A state condition that holds by its meaning, on a rule that is armed, fires.
                if !was_firing
                    && oracle(&rule.condition, s) == Some(true)
                    && state.error.is_none()
                {
                    prop_assert!(
                        matches!(transition, Some(Transition::Fired { .. })),
                        "{text}: holds but did not fire: {s:?}"
                    );
                }
                recent.push(signal_sentinel::engine::Sample::new(at, s.price));
                history.push(bar_of(s, at));
            }
        }
    }

    /// The backtest over arbitrary bars: no panic, and every alert of a price rule at a bar
    /// whose close is beyond the level.
    #[test]
    fn backtests_of_arbitrary_bars_never_panic(
        samples in proptest::collection::vec(sample(), 0..16),
    ) {
        let bars: Vec<Bar> = samples
            .iter()
            .enumerate()
            .map(|(i, s)| bar_of(s, start() + Duration::days(i as i64)))
            .collect();
        for text in RULES.iter().filter(|t| !t.contains("position")) {
            let rule = parse_rule(text).unwrap();
            let alerts = backtest(&rule.symbol, &rule.condition, &RuleOptions::default(), &bars);
            if let Condition::Price { op, level, intraday: false } = &rule.condition {
                for alert in alerts.iter().filter(|a| a.kind == signal_sentinel::domain::AlertKind::Fired) {
                    prop_assert!(op.holds(alert.price, *level), "{text}: {alert:?}");
                }
            }
        }
    }
}

#[test]
fn comparisons_are_what_the_oracle_assumes() {
    // The oracle leans on `Comparison::holds` being the documented operator.
    assert!(Comparison::Above.holds(Decimal::TWO, Decimal::ONE));
    assert!(!Comparison::Above.holds(Decimal::ONE, Decimal::ONE));
    assert!(Comparison::AtOrBelow.holds(Decimal::ONE, Decimal::ONE));
}

/// Quotes as struct literals, one symbol absurd and one ordinary.
#[derive(Debug)]
struct LiteralMarket {
    clock: Arc<ManualClock>,
    absurd: Mutex<Decimal>,
}

#[async_trait::async_trait]
impl MarketData for LiteralMarket {
    fn name(&self) -> &str {
        "literal"
    }

    fn max_batch(&self) -> usize {
        50
    }

    async fn quotes(&self, symbols: &[Symbol]) -> Result<Vec<Quote>, MarketError> {
        let at = self.clock.now();
        Ok(symbols
            .iter()
            .map(|s| {
                let (price, previous_close) = if s.as_str() == "BAD" {
                    (*self.absurd.lock().unwrap(), Some(Decimal::new(1, 27)))
                } else {
                    (Decimal::new(120, 0), Some(Decimal::new(100, 0)))
                };
                Quote {
                    symbol: s.clone(),
                    price,
                    previous_close,
                    day_open: Some(price),
                    day_high: Some(price),
                    day_low: Some(price),
                    volume: None,
                    at,
                    source: "literal".into(),
                }
            })
            .collect())
    }

    async fn daily_bars(
        &self,
        _symbol: &Symbol,
        _from: NaiveDate,
        _to: NaiveDate,
    ) -> Result<Vec<Bar>, MarketError> {
        Ok(Vec::new())
    }
}

/// One monitor cycle over a store: the rules on the absurd symbol go into their error state
/// with the reason, the cycle goes on, and the rules on the other symbol fire.
#[tokio::test]
async fn an_absurd_quote_puts_its_rules_in_error_and_the_cycle_goes_on() {
    let db = TestDb::new(Backend::SqliteMemory).await.unwrap();
    let user = seed_user(&db.store, "ann@example.com").await;
    let mut ids = Vec::new();
    for text in [
        "BAD day change >= 5%",
        "BAD gap up >= 2%",
        "BAD trailing stop 10%",
        "GOOD day change >= 5%",
        "GOOD price > 100",
    ] {
        let parsed = parse_rule(text).unwrap();
        let rule = db
            .store
            .create_rule(NewRule {
                owner: user.id,
                symbol: parsed.symbol,
                name: None,
                condition: parsed.condition.to_document(),
                options: RuleOptions::default().to_document(),
                enabled: true,
                expires_at: None,
            })
            .await
            .unwrap();
        ids.push((text, rule.id));
    }
    // A Wednesday in session, after the rules were created.
    let clock = Arc::new(ManualClock::new(next_session_noon(Utc::now())));
    let market = Arc::new(LiteralMarket {
        clock: clock.clone(),
        absurd: Mutex::new(Decimal::MAX),
    });
    let store: Arc<dyn Store> = Arc::new(db.store.clone());
    let monitor = Monitor::new(
        store,
        market.clone(),
        clock.clone(),
        MonitorConfig::default(),
    );
    let report = monitor.run_once().await.expect("the cycle goes on");
    let fired: Vec<_> = report.alerts.iter().map(|a| a.symbol.to_string()).collect();
    assert_eq!(fired, ["GOOD", "GOOD"], "{report:?}");
    let states = db
        .store
        .load_rule_states(&ids.iter().map(|(_, id)| *id).collect::<Vec<_>>())
        .await
        .unwrap();
    for (text, id) in &ids {
        let state = states.iter().find(|s| s.rule_id == *id).unwrap();
        if text.starts_with("BAD") {
            assert_eq!(state.phase, RulePhase::Error, "{text}");
            assert!(
                state
                    .error_reason()
                    .is_some_and(|r| r.contains("out of range")),
                "{text}: {state:?}"
            );
        } else {
            assert_eq!(state.phase, RulePhase::Firing, "{text}");
            assert_eq!(state.error_reason(), None);
        }
    }
    // An ordinary quote next: the error clears.
    *market.absurd.lock().unwrap() = Decimal::new(1, 27);
    clock.advance(Duration::minutes(1));
    monitor.run_once().await.unwrap();
    let state = db.store.get_rule_state(ids[0].1).await.unwrap();
    assert_ne!(state.phase, RulePhase::Error, "{state:?}");
    assert_eq!(state.error_reason(), None);
}

/// Noon in New York on the next trading day after `at`.
fn next_session_noon(at: chrono::DateTime<Utc>) -> chrono::DateTime<Utc> {
    let mut day = at.with_timezone(&chrono_tz::America::New_York).date_naive() + Duration::days(1);
    while !signal_sentinel::engine::calendar::is_trading_day(day) {
        day += Duration::days(1);
    }
    chrono_tz::America::New_York
        .from_local_datetime(&day.and_hms_opt(12, 0, 0).unwrap())
        .unwrap()
        .to_utc()
}
