//! When a rule is evaluated: `evaluate: every_sample` against `at_session_close` on a day
//! whose intraday cross is gone by the close, live and in the backtest.

use std::sync::Arc;

use chrono::{NaiveDate, TimeZone, Utc};
use signal_sentinel::clock::ManualClock;
use signal_sentinel::domain::Symbol;
use signal_sentinel::engine::{Evaluate, RuleOptions, backtest, parse_rule};
use signal_sentinel::market::{MarketData, ReplayMarket};
use signal_sentinel::monitor::{Monitor, MonitorConfig};
use signal_sentinel::store::Store;

use crate::helpers::{TestDb, add_rule, monitor_on, seed_user};

/// Monday: up through 100 at noon, back to 99.50 by the close. Tuesday: through 100 at 15:00,
/// closing at 100.50 (New York times).
const DAYS: &str = "time,symbol,open,high,low,close,volume
2026-11-30 10:00,XYZ,99,99,99,99,
2026-11-30 12:00,XYZ,101,101,101,101,
2026-11-30 16:00,XYZ,99.5,99.5,99.5,99.5,
2026-12-01 12:00,XYZ,99,99,99,99,
2026-12-01 15:00,XYZ,100.2,100.2,100.2,100.2,
2026-12-01 16:00,XYZ,100.5,100.5,100.5,100.5,
";

fn at_close() -> RuleOptions {
    RuleOptions {
        evaluate: Evaluate::AtSessionClose,
        ..RuleOptions::default()
    }
}

/// (episode, New York time, price) of each alert.
fn seen(alerts: impl IntoIterator<Item = (i64, chrono::DateTime<Utc>, String)>) -> Vec<String> {
    alerts
        .into_iter()
        .map(|(episode, at, price)| {
            format!(
                "{episode} {} {price}",
                at.with_timezone(&chrono_tz::America::New_York)
                    .format("%m-%d %H:%M")
            )
        })
        .collect()
}

async fn at_the_close_an_intraday_cross_gone_by_the_close_does_not_fire(db: &TestDb) {
    let user = seed_user(&db.store, "ann@example.com").await;
    let every = add_rule(
        &db.store,
        &user,
        "XYZ crosses above 100",
        RuleOptions::default(),
    )
    .await;
    let close = add_rule(&db.store, &user, "XYZ crosses above 100", at_close()).await;
    let clock = Arc::new(ManualClock::new(
        Utc.with_ymd_and_hms(2026, 11, 30, 14, 0, 0).unwrap(),
    ));
    let market = Arc::new(ReplayMarket::from_csv("days.csv", DAYS, clock.clone()).unwrap());
    let monitor = monitor_on(db, market.clone(), clock.clone());
    let (mut every_alerts, mut close_alerts) = (Vec::new(), Vec::new());
    for at in market.timeline() {
        clock.set(at);
        for alert in monitor.run_once().await.unwrap().alerts {
            let row = (alert.episode, alert.fired_at, alert.price.to_string());
            if alert.rule_id == Some(every.id) {
                every_alerts.push(row);
            } else {
                assert_eq!(alert.rule_id, Some(close.id));
                close_alerts.push(row);
            }
        }
    }
    // Every sample: Monday's noon cross, and Tuesday's at 15:00 (the 16:00 print comes after
    // the regular session, which this rule does not watch).
    assert_eq!(
        seen(every_alerts),
        ["1 11-30 12:00 101", "2 12-01 15:00 100.2"]
    );
    // At the close: Monday closes below 100; Tuesday's close crosses Monday's.
    let live = seen(close_alerts);
    assert_eq!(live, ["1 12-01 16:00 100.5"]);

    // The backtest over the daily bars gives the live monitor's alerts.
    let bars = market
        .daily_bars(
            &Symbol::parse("XYZ").unwrap(),
            NaiveDate::from_ymd_opt(2026, 11, 1).unwrap(),
            NaiveDate::from_ymd_opt(2026, 12, 31).unwrap(),
        )
        .await
        .unwrap();
    let rule = parse_rule("XYZ crosses above 100").unwrap();
    let replayed = backtest(&rule.symbol, &rule.condition, &at_close(), &bars);
    assert_eq!(
        seen(
            replayed
                .into_iter()
                .map(|a| (a.episode, a.at, a.price.to_string()))
        ),
        live
    );
}

/// A rule whose policy is `alert` sends one no-data alert when its quotes go stale in market
/// hours, shows since when and why, and picks up again when data returns.
async fn a_stale_quote_in_market_hours_raises_one_no_data_alert(db: &TestDb) {
    use signal_sentinel::domain::{AlertKind, RulePhase};
    use signal_sentinel::engine::GapPolicy;
    use signal_sentinel::store::RuleStateStore;
    let user = seed_user(&db.store, "ann@example.com").await;
    let options = RuleOptions {
        no_data: GapPolicy::Alert,
        ..RuleOptions::default()
    };
    let rule = add_rule(&db.store, &user, "XYZ price > 30", options).await;
    let csv = "time,symbol,open,high,low,close,volume
2026-11-30 10:00,XYZ,31,31,31,31,
2026-11-30 12:00,XYZ,32,32,32,32,
";
    let ny = |h: u32, m: u32| {
        chrono_tz::America::New_York
            .with_ymd_and_hms(2026, 11, 30, h, m, 0)
            .unwrap()
            .to_utc()
    };
    let clock = Arc::new(ManualClock::new(ny(10, 0)));
    let market = Arc::new(ReplayMarket::from_csv("gap.csv", csv, clock.clone()).unwrap());
    let store: Arc<dyn Store> = Arc::new(db.store.clone());
    let monitor = Monitor::new(store, market, clock.clone(), MonitorConfig::default());
    let mut kinds = Vec::new();
    // 10:00 fires; 10:20 the 10:00 quote is still fresh; 10:40 and 11:00 it is stale; 12:00
    // data again.
    for (h, m) in [(10, 0), (10, 20), (10, 40), (11, 0), (12, 0)] {
        clock.set(ny(h, m));
        for alert in monitor.run_once().await.unwrap().alerts {
            kinds.push((alert.kind, alert.message));
        }
        if (h, m) == (11, 0) {
            let state = &db.store.load_rule_states(&[rule.id]).await.unwrap()[0];
            assert_eq!(state.phase, RulePhase::Firing, "the state is kept");
            assert_eq!(state.gap(), Some((ny(10, 40), "the latest quote is stale")));
        }
    }
    assert_eq!(
        kinds,
        [
            (AlertKind::Fired, "XYZ price > 30: now 31".to_owned()),
            (
                AlertKind::NoData,
                "XYZ price > 30 has no data since 2026-11-30 10:40 EST: the latest quote is stale"
                    .to_owned()
            ),
        ]
    );
    let state = &db.store.load_rule_states(&[rule.id]).await.unwrap()[0];
    assert_eq!(state.gap(), None, "data returned");
    assert_eq!(state.phase, RulePhase::Firing);
}

/// A level touched between two polls fires once with `intraday`, not again for the same
/// touch (the session's high has not moved), and again for a new one; without `intraday` it
/// is missed.
async fn a_spike_between_polls_is_caught_once(db: &TestDb) {
    let user = seed_user(&db.store, "ann@example.com").await;
    let touch = add_rule(
        &db.store,
        &user,
        "XYZ crosses above 100 intraday",
        RuleOptions::default(),
    )
    .await;
    add_rule(
        &db.store,
        &user,
        "XYZ crosses above 100",
        RuleOptions::default(),
    )
    .await;
    // Polls every five minutes; between 10:00 and 10:05 the price spiked to 101 and fell
    // back; between 10:10 and 10:15 it went to 101.5.
    let csv = "time,symbol,open,high,low,close,volume
2026-11-30 10:00,XYZ,99,99,99,99,
2026-11-30 10:05,XYZ,99,101,99,99.5,
2026-11-30 10:10,XYZ,99.5,99.8,99.5,99.6,
2026-11-30 10:15,XYZ,99.6,101.5,99.6,99.7,
2026-11-30 10:20,XYZ,99.7,99.9,99.7,99.8,
";
    let clock = Arc::new(ManualClock::new(
        Utc.with_ymd_and_hms(2026, 11, 30, 15, 0, 0).unwrap(),
    ));
    let market = Arc::new(ReplayMarket::from_csv("spike.csv", csv, clock.clone()).unwrap());
    let monitor = monitor_on(db, market.clone(), clock.clone());
    let mut alerts = Vec::new();
    for at in market.timeline() {
        clock.set(at);
        alerts.extend(monitor.run_once().await.unwrap().alerts);
    }
    assert!(
        alerts.iter().all(|a| a.rule_id == Some(touch.id)),
        "the plain cross sees no cross"
    );
    let got: Vec<(i64, String)> = alerts
        .iter()
        .map(|a| {
            (
                a.episode,
                a.fired_at
                    .with_timezone(&chrono_tz::America::New_York)
                    .format("%H:%M")
                    .to_string(),
            )
        })
        .collect();
    assert_eq!(got, [(1, "10:05".to_owned()), (2, "10:15".to_owned())]);
    assert_eq!(
        alerts[0].message,
        "XYZ crosses above 100 intraday: now 99.5 — touched intraday (high 101)"
    );
}

/// `at_bar_close` on an intraday rule reads every closed minute bar: a 3% rise that comes
/// and goes between two polls five minutes apart fires at the bar that closed it (seen in the
/// next cycle), where `every_sample` sees only the polls; the backtest over the same minute
/// bars gives the live alerts. A daily-indicator rule at bar close waits for the session's
/// close.
async fn at_bar_close_reads_closed_minute_bars(db: &TestDb) {
    let user = seed_user(&db.store, "ann@example.com").await;
    let on_bars = RuleOptions {
        evaluate: Evaluate::AtBarClose,
        ..RuleOptions::default()
    };
    let polled = add_rule(
        &db.store,
        &user,
        "XYZ moves up 3% within 5m",
        RuleOptions::default(),
    )
    .await;
    let moves = add_rule(
        &db.store,
        &user,
        "XYZ moves up 3% within 5m",
        on_bars.clone(),
    )
    .await;
    let cross = add_rule(&db.store, &user, "XYZ crosses above 103", on_bars.clone()).await;
    // Minute bars stamped at their close, New York time.
    let csv = "time,symbol,open,high,low,close,volume
2026-11-30 10:00,XYZ,100,100,100,100,
2026-11-30 10:01,XYZ,100,100,100,100,
2026-11-30 10:02,XYZ,100,100,100,100,
2026-11-30 10:03,XYZ,100,101.5,100,101.5,
2026-11-30 10:04,XYZ,101.5,103.2,101.5,103.2,
2026-11-30 10:05,XYZ,103.2,103.2,100.5,100.5,
2026-11-30 10:06,XYZ,100.5,100.5,100.4,100.4,
2026-11-30 10:10,XYZ,100.4,100.4,100.3,100.3,
";
    let ny = |h: u32, m: u32, s: u32| {
        chrono_tz::America::New_York
            .with_ymd_and_hms(2026, 11, 30, h, m, s)
            .unwrap()
            .to_utc()
    };
    let clock = Arc::new(ManualClock::new(ny(10, 0, 30)));
    let market = Arc::new(ReplayMarket::from_csv("minutes.csv", csv, clock.clone()).unwrap());
    let monitor = monitor_on(db, market.clone(), clock.clone());
    let mut seen = Vec::new();
    for (h, m, s) in [(10, 0, 30), (10, 5, 30), (10, 10, 30)] {
        clock.set(ny(h, m, s));
        for alert in monitor.run_once().await.unwrap().alerts {
            assert_ne!(alert.rule_id, Some(polled.id), "the polls see no 3% move");
            let which = if alert.rule_id == Some(moves.id) {
                "moves"
            } else {
                assert_eq!(alert.rule_id, Some(cross.id));
                "cross"
            };
            seen.push(format!(
                "{which} {} {}",
                alert
                    .fired_at
                    .with_timezone(&chrono_tz::America::New_York)
                    .format("%H:%M"),
                alert.price
            ));
        }
    }
    assert_eq!(seen, ["moves 10:04 103.2", "cross 10:04 103.2"]);

    // The backtest over the minute bars gives the same alerts.
    let bars = market
        .minute_bars(&Symbol::parse("XYZ").unwrap(), ny(9, 30, 0), ny(10, 10, 0))
        .await
        .unwrap();
    assert_eq!(bars.len(), 8);
    let mut replayed = Vec::new();
    for (which, text) in [
        ("moves", "XYZ moves up 3% within 5m"),
        ("cross", "XYZ crosses above 103"),
    ] {
        let rule = parse_rule(text).unwrap();
        for a in backtest(&rule.symbol, &rule.condition, &on_bars, &bars) {
            replayed.push(format!(
                "{which} {} {}",
                a.at.with_timezone(&chrono_tz::America::New_York)
                    .format("%H:%M"),
                a.price
            ));
        }
    }
    assert_eq!(replayed, seen);

    // A daily indicator rule at bar close is a rule at the session's close.
    assert!(
        Evaluate::AtBarClose.at_session_close(&parse_rule("XYZ rsi(14) > 70").unwrap().condition)
    );
    assert!(!Evaluate::AtBarClose.at_session_close(&parse_rule("XYZ > 1").unwrap().condition));
}

/// A gap in market hours under each policy, live and in the backtest: `XYZ price > 20 and ABC
/// price > 5` holds throughout, but ABC has no bars from July 13th to 17th, so the
/// combination has no data then. Every policy gives the same alerts live and backtested.
async fn gap_policies_live_equal_backtest(db: &TestDb) {
    use signal_sentinel::engine::{GapPolicy, backtest_series};
    let user = seed_user(&db.store, "ann@example.com").await;
    let policies = [
        GapPolicy::KeepState,
        GapPolicy::Resolve,
        GapPolicy::Alert,
        // Two sessions of market minutes: the gap of five outlasts it.
        GapPolicy::KeepFiringFor(2 * 390),
    ];
    let text = "XYZ price > 20 and ABC price > 5";
    let mut rules = Vec::new();
    for policy in policies {
        let options = RuleOptions {
            no_data: policy,
            notify_on_resolve: true,
            ..RuleOptions::default()
        };
        rules.push((
            add_rule(&db.store, &user, text, options.clone()).await,
            options,
        ));
    }
    let mut csv = crate::helpers::daily_csv();
    let abc: Vec<String> = csv
        .lines()
        .skip(1)
        .filter(|l| !("2009-07-13".."2009-07-18").contains(&&l[..10]))
        .map(|l| format!("{},ABC,10,10,10,10,\n", &l[..10]))
        .collect();
    csv.push_str(&abc.concat());
    let clock = Arc::new(ManualClock::new(
        Utc.with_ymd_and_hms(2009, 6, 1, 12, 0, 0).unwrap(),
    ));
    let market = Arc::new(ReplayMarket::from_csv("gap.csv", &csv, clock.clone()).unwrap());
    let monitor = monitor_on(db, market.clone(), clock.clone());
    let mut live = vec![Vec::new(); rules.len()];
    for at in market.timeline() {
        clock.set(at);
        for alert in monitor.run_once().await.unwrap().alerts {
            let i = rules
                .iter()
                .position(|(r, _)| Some(r.id) == alert.rule_id)
                .unwrap();
            live[i].push(format!(
                "{} {} {}",
                alert.kind,
                alert.episode,
                alert.fired_at.format("%m-%d")
            ));
        }
    }
    let (from, to) = (
        NaiveDate::from_ymd_opt(2009, 6, 1).unwrap(),
        NaiveDate::from_ymd_opt(2009, 7, 31).unwrap(),
    );
    let xyz = market
        .daily_bars(&Symbol::parse("XYZ").unwrap(), from, to)
        .await
        .unwrap();
    let abc = market
        .daily_bars(&Symbol::parse("ABC").unwrap(), from, to)
        .await
        .unwrap();
    let rule = parse_rule(text).unwrap();
    for ((_, options), live) in rules.iter().zip(&live) {
        let replayed: Vec<String> = backtest_series(
            &rule.symbol,
            &rule.condition,
            options,
            &[
                (Symbol::parse("XYZ").unwrap(), &xyz),
                (Symbol::parse("ABC").unwrap(), &abc),
            ],
        )
        .into_iter()
        .map(|a| format!("{} {} {}", a.kind, a.episode, a.at.format("%m-%d")))
        .collect();
        assert_eq!(&replayed, live, "{:?}", options.no_data);
    }
    assert_eq!(
        live[0],
        ["fired 1 06-01"],
        "keep_state: firing across the gap"
    );
    assert_eq!(
        live[1],
        ["fired 1 06-01", "resolved 1 07-13", "fired 2 07-20"],
        "resolve"
    );
    assert_eq!(live[2], ["fired 1 06-01", "no_data 1 07-13"], "alert");
    assert_eq!(
        live[3],
        ["fired 1 06-01", "resolved 1 07-15", "fired 2 07-20"],
        "keep_firing_for"
    );
}

backend_tests!(
    gap_policies_live_equal_backtest,
    at_bar_close_reads_closed_minute_bars,
    a_spike_between_polls_is_caught_once,
    at_the_close_an_intraday_cross_gone_by_the_close_does_not_fire,
    a_stale_quote_in_market_hours_raises_one_no_data_alert,
);
