//! Combined conditions (`and`, `or`, `not`, operands on other symbols) on real series: the
//! live monitor, the backtest and an oracle written here from the documented meaning give the
//! same alerts, alert for alert.

use std::collections::HashMap;
use std::sync::Arc;

use chrono::NaiveDate;
use rust_decimal::Decimal;
use signal_sentinel::clock::{Clock, ManualClock};
use signal_sentinel::domain::{AlertKind, Bar, RulePhase, Symbol};
use signal_sentinel::engine::{RuleOptions, backtest_series, parse_rule};
use signal_sentinel::market::{MarketData, ReplayMarket};
use signal_sentinel::monitor::{Monitor, MonitorConfig};
use signal_sentinel::store::{RuleStateStore, Store};

use crate::helpers::{TestDb, add_rule, seed_user};

/// (rule, kind, episode, date, price) of an alert.
type Seen = (String, String, i64, String, String);

fn kind(kind: AlertKind) -> String {
    format!("{kind:?}")
}

/// The daily fixture (XYZ) with volumes made up for the test: 3 million on every third
/// session, 1 million on the others (the fixture has prices only).
fn daily_with_volumes() -> String {
    let mut csv = String::from("time,symbol,open,high,low,close,volume\n");
    for (i, line) in include_str!("../../fixtures/daily_ohlc_2009.csv")
        .lines()
        .skip(1)
        .enumerate()
    {
        let (date, rest) = line.split_once(',').unwrap();
        let volume = if i % 3 == 0 { 3_000_000 } else { 1_000_000 };
        csv.push_str(&format!("{date},XYZ,{rest},{volume}\n"));
    }
    csv
}

/// The monthly closes of 2000–2010 (MSFT, AAPL, AMZN, IBM; GOOG from its 2004 listing).
fn monthly() -> String {
    include_str!("../../fixtures/demo_monthly_2000_2010.csv").to_owned()
}

fn market(csv: &str, clock: Arc<ManualClock>) -> ReplayMarket {
    ReplayMarket::from_csv("series.csv", csv, clock).unwrap()
}

async fn bars_of(market: &ReplayMarket, symbol: &Symbol) -> Vec<Bar> {
    market
        .daily_bars(
            symbol,
            NaiveDate::from_ymd_opt(1990, 1, 1).unwrap(),
            NaiveDate::from_ymd_opt(2030, 1, 1).unwrap(),
        )
        .await
        .unwrap()
}

/// What the backtest gives for each rule, over the bars of every symbol it reads.
async fn backtested(csv: &str, rules: &[&str]) -> Vec<Seen> {
    let clock = Arc::new(ManualClock::new(chrono::Utc::now()));
    let market = market(csv, clock);
    let mut seen = Vec::new();
    for text in rules {
        let rule = parse_rule(text).unwrap();
        let mut symbols = vec![rule.symbol.clone()];
        symbols.extend(rule.condition.other_symbols().into_iter().cloned());
        let mut bars: Vec<(Symbol, Vec<Bar>)> = Vec::new();
        for s in symbols {
            let b = bars_of(&market, &s).await;
            bars.push((s, b));
        }
        let series: Vec<(Symbol, &[Bar])> = bars
            .iter()
            .map(|(s, b)| (s.clone(), b.as_slice()))
            .collect();
        for a in backtest_series(
            &rule.symbol,
            &rule.condition,
            &RuleOptions::default(),
            &series,
        ) {
            seen.push((
                (*text).to_owned(),
                kind(a.kind),
                a.episode,
                a.at.format("%Y-%m-%d").to_string(),
                a.price.to_string(),
            ));
        }
    }
    seen.sort();
    seen
}

/// What the monitor stores replaying the series cycle by cycle, with every alert's message.
async fn live(db: &TestDb, csv: &str, rules: &[&str]) -> (Vec<Seen>, Vec<String>) {
    let store: Arc<dyn Store> = Arc::new(db.store.clone());
    let user = seed_user(&db.store, "ann@example.com").await;
    let mut names = HashMap::new();
    for text in rules {
        let rule = add_rule(&db.store, &user, text, RuleOptions::default()).await;
        names.insert(rule.id, (*text).to_owned());
    }
    let clock = Arc::new(ManualClock::new(chrono::Utc::now()));
    let timeline = market(csv, clock.clone()).timeline();
    clock.set(timeline[0] - chrono::Duration::days(1));
    let market: Arc<dyn MarketData> = Arc::new(market(csv, clock.clone()));
    let monitor = Monitor::new(store, market, clock.clone(), MonitorConfig::default());
    let (mut seen, mut messages) = (Vec::new(), Vec::new());
    for at in timeline {
        clock.set(at);
        let report = monitor.run_once().await.unwrap();
        assert!(report.problems.is_empty(), "{:?}", report.problems);
        for alert in report.alerts {
            seen.push((
                names[&alert.rule_id.unwrap()].clone(),
                kind(alert.kind),
                alert.episode,
                alert.fired_at.format("%Y-%m-%d").to_string(),
                alert.price.to_string(),
            ));
            messages.push(alert.message);
        }
    }
    seen.sort();
    (seen, messages)
}

fn dec(s: &str) -> Decimal {
    s.parse().unwrap()
}

/// `XYZ crosses above 30 and volume >= 1.5x avg(5)` on the real daily bars: fires exactly at
/// the crosses made on heavy volume (the oracle below), in the backtest and live.
async fn a_cross_and_a_volume_condition(db: &TestDb) {
    const RULE: &str = "XYZ crosses above 30 and volume >= 1.5x avg(5)";
    let csv = daily_with_volumes();
    // The oracle, from the documented meaning: a cross is true at its sample; the volume
    // condition compares the session's volume with the average of the five sessions before.
    let rows: Vec<(String, Decimal, u64)> = csv
        .lines()
        .skip(1)
        .map(|l| {
            let f: Vec<&str> = l.split(',').collect();
            (f[0].to_owned(), dec(f[5]), f[6].parse().unwrap())
        })
        .collect();
    let level = dec("30");
    let mut crosses = 0;
    let mut oracle = Vec::new();
    for i in 1..rows.len() {
        let cross = rows[i - 1].1 <= level && rows[i].1 > level;
        crosses += usize::from(cross);
        let heavy = i >= 5 && {
            let total: u64 = rows[i - 5..i].iter().map(|r| r.2).sum();
            Decimal::from(rows[i].2 * 5) >= dec("1.5") * Decimal::from(total)
        };
        if cross && heavy {
            oracle.push((rows[i].0.clone(), rows[i].1.to_string()));
        }
    }
    assert!(
        !oracle.is_empty() && oracle.len() < crosses,
        "the volume must matter: {oracle:?} of {crosses} crosses"
    );
    let expected: Vec<Seen> = oracle
        .iter()
        .enumerate()
        .map(|(n, (date, price))| {
            (
                RULE.to_owned(),
                kind(AlertKind::Fired),
                n as i64 + 1,
                date.clone(),
                price.clone(),
            )
        })
        .collect();
    assert_eq!(backtested(&csv, &[RULE]).await, expected);
    let (seen, messages) = live(db, &csv, &[RULE]).await;
    assert_eq!(seen, expected);
    // The message names the operands that held, with what they read.
    // As docs/rules.md shows it.
    assert_eq!(
        messages[0],
        "XYZ crosses above 30 and volume >= 1.5x avg(5): now 31.17 — held: XYZ crosses above 30 (31.17), XYZ volume >= 1.5x avg(5) (2.14x)"
    );
    for message in &messages {
        assert!(
            message.contains("— held: XYZ crosses above 30 (3") && message.contains("x)"),
            "{message}"
        );
    }
}

/// `MSFT day change <= -10% or GOOG day change <= -10%` on the monthly closes: before GOOG's
/// listing its operand has no data, so only a MSFT drop decides (and a month without one
/// leaves a firing rule firing: no data is not "no longer holds").
async fn an_or_over_two_symbols(db: &TestDb) {
    const RULE: &str = "MSFT day change <= -10% or GOOG day change <= -10%";
    let csv = monthly();
    let mut closes: HashMap<&str, Vec<(String, Decimal)>> = HashMap::new();
    for line in csv.lines().skip(1) {
        let f: Vec<&str> = line.split(',').collect();
        let symbol = if f[1] == "MSFT" {
            "MSFT"
        } else if f[1] == "GOOG" {
            "GOOG"
        } else {
            continue;
        };
        closes
            .entry(symbol)
            .or_default()
            .push((f[0].to_owned(), dec(f[5])));
    }
    // Three-valued: Some(true), Some(false), None (no data).
    let change = |symbol: &str, date: &str| -> Option<bool> {
        let series = &closes[symbol];
        let i = series.iter().position(|(d, _)| d == date)?;
        let prev = series.get(i.checked_sub(1)?)?.1;
        let change = (series[i].1 - prev) / prev * Decimal::ONE_HUNDRED;
        Some(change <= dec("-10"))
    };
    let mut firing = false;
    let mut expected = Vec::new();
    let mut episode = 0;
    let mut held_before_goog = 0;
    for (date, close) in &closes["MSFT"] {
        let signal = match (change("MSFT", date), change("GOOG", date)) {
            (Some(true), _) | (_, Some(true)) => Some(true),
            (Some(false), Some(false)) => Some(false),
            _ => None,
        };
        if firing {
            firing = signal != Some(false);
        } else if signal == Some(true) {
            firing = true;
            episode += 1;
            if change("GOOG", date).is_none() {
                held_before_goog += 1;
            }
            expected.push((
                RULE.to_owned(),
                kind(AlertKind::Fired),
                episode,
                date.clone(),
                close.to_string(),
            ));
        }
    }
    assert!(held_before_goog > 0 && expected.len() > held_before_goog);
    assert_eq!(backtested(&csv, &[RULE]).await, expected);
    let (seen, messages) = live(db, &csv, &[RULE]).await;
    assert_eq!(seen, expected);
    assert!(
        messages
            .iter()
            .any(|m| m.contains("held: GOOG day change <= -10% (")),
        "{messages:?}"
    );
}

/// An `and` whose other operand has no data reports `no_data`, not `armed`; `not` of an
/// operand without data has none either.
async fn an_operand_without_data_leaves_the_rule_without_data(db: &TestDb) {
    let store: Arc<dyn Store> = Arc::new(db.store.clone());
    let user = seed_user(&db.store, "ann@example.com").await;
    let mut ids = Vec::new();
    for text in [
        "MSFT price > 1 and GOOG price > 1",
        "MSFT price > 1 or GOOG price > 1",
        "MSFT not GOOG price > 1",
    ] {
        let rule = add_rule(&db.store, &user, text, RuleOptions::default()).await;
        ids.push(rule.id);
    }
    let clock = Arc::new(ManualClock::new(chrono::Utc::now()));
    let csv = monthly();
    let timeline = market(&csv, clock.clone()).timeline();
    // A month of 2003: MSFT trades, GOOG is not listed yet.
    let at = *timeline
        .iter()
        .find(|t| t.format("%Y-%m").to_string() == "2003-03")
        .unwrap();
    clock.set(at);
    let monitor = Monitor::new(
        store,
        Arc::new(market(&csv, clock.clone())),
        clock.clone() as Arc<dyn Clock>,
        MonitorConfig::default(),
    );
    let report = monitor.run_once().await.unwrap();
    assert_eq!(report.alerts.len(), 1, "{:?}", report.alerts);
    assert_eq!(report.alerts[0].rule_id, Some(ids[1]));
    let states = db.store.load_rule_states(&ids).await.unwrap();
    let phase = |id| states.iter().find(|s| s.rule_id == id).unwrap().phase;
    assert_eq!(phase(ids[0]), RulePhase::NoData);
    assert_eq!(phase(ids[1]), RulePhase::Firing);
    assert_eq!(phase(ids[2]), RulePhase::NoData);
}

/// `XYZ crosses above 30 intraday` on the real daily bars: fires at each session whose high
/// went through 30 from a close at or below it (the oracle), live and in the backtest, and the
/// message says when only the high touched it.
async fn an_intraday_touch_on_real_daily_bars(db: &TestDb) {
    const RULE: &str = "XYZ crosses above 30 intraday";
    let csv = daily_with_volumes();
    let rows: Vec<(String, Decimal, Decimal)> = csv
        .lines()
        .skip(1)
        .map(|l| {
            let f: Vec<&str> = l.split(',').collect();
            (f[0].to_owned(), dec(f[3]), dec(f[5]))
        })
        .collect();
    let level = dec("30");
    let mut expected = Vec::new();
    let mut touches = 0;
    // As every condition: it fires when it becomes true, so a cross at two samples in a row
    // (a close below after an intraday touch, then a close above) is one episode.
    let crossed = |i: usize| i >= 1 && rows[i - 1].2 <= level && rows[i].1 > level;
    for (i, (date, _, close)) in rows.iter().enumerate() {
        if crossed(i) && !crossed(i - 1) {
            touches += usize::from(*close <= level);
            expected.push((
                RULE.to_owned(),
                kind(AlertKind::Fired),
                expected.len() as i64 + 1,
                date.clone(),
                close.to_string(),
            ));
        }
    }
    let plain = backtested(&csv, &["XYZ crosses above 30"]).await.len();
    assert!(touches > 0 && expected.len() > plain, "{expected:?}");
    assert_eq!(backtested(&csv, &[RULE]).await, expected);
    let (seen, messages) = live(db, &csv, &[RULE]).await;
    assert_eq!(seen, expected);
    let touched: Vec<&String> = messages
        .iter()
        .filter(|m| m.contains("touched intraday (high "))
        .collect();
    assert_eq!(touched.len(), touches, "{messages:?}");
}

backend_tests!(
    an_intraday_touch_on_real_daily_bars,
    a_cross_and_a_volume_condition,
    an_or_over_two_symbols,
    an_operand_without_data_leaves_the_rule_without_data,
);
