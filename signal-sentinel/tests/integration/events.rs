//! Corporate events: calendar conditions live and in the backtest, and a replayed 4-for-1
//! split that moves the rules' levels once and fires nothing on the jump.

use std::sync::Arc;

use chrono::{NaiveDate, TimeZone, Utc};
use signal_sentinel::clock::ManualClock;
use signal_sentinel::domain::{
    AlertKind, CorporateEvent, EventKind, HoldingSource, NewHolding, ReportHour, SplitRatio, Symbol,
};
use signal_sentinel::engine::{RuleOptions, backtest_with_events, parse_rule};
use signal_sentinel::market::{MarketData, ReplayMarket};
use signal_sentinel::monitor::{Monitor, MonitorConfig};
use signal_sentinel::store::{EventStore, HoldingStore, RuleStore, Store};

use crate::helpers::{TestDb, add_rule, dec, monitor_on, seed_user};

fn sym(s: &str) -> Symbol {
    Symbol::parse(s).unwrap()
}

fn day(s: &str) -> NaiveDate {
    s.parse().unwrap()
}

/// The daily fixture as XYZ traded around a 4-for-1 split on 2009-07-01: June's prices four
/// times what the adjusted series says, July's as they are.
fn split_csv() -> String {
    let mut csv = String::from("time,symbol,open,high,low,close,volume\n");
    for line in include_str!("../../fixtures/daily_ohlc_2009.csv")
        .lines()
        .skip(1)
    {
        let fields: Vec<&str> = line.split(',').collect();
        let factor = if fields[0] < "2009-07-01" { 4 } else { 1 };
        let price = |s: &str| (dec(s) * rust_decimal::Decimal::from(factor)).to_string();
        csv.push_str(&format!(
            "{},XYZ,{},{},{},{},\n",
            fields[0],
            price(fields[1]),
            price(fields[2]),
            price(fields[3]),
            price(fields[4])
        ));
    }
    csv
}

fn split_event() -> CorporateEvent {
    CorporateEvent::new(
        sym("XYZ"),
        day("2009-07-01"),
        EventKind::Split {
            ratio: SplitRatio::new(dec("4"), dec("1")).unwrap(),
        },
        "replay",
    )
    .unwrap()
}

/// (kind, New York day, price) of an alert.
fn row(kind: AlertKind, at: chrono::DateTime<Utc>, price: rust_decimal::Decimal) -> String {
    format!(
        "{kind} {} {price}",
        at.with_timezone(&chrono_tz::America::New_York)
            .format("%m-%d")
    )
}

const RULES: [&str; 5] = [
    "XYZ crosses below 100",
    "XYZ day change <= -10%",
    "XYZ trailing stop 10%",
    "XYZ price > 110",
    "XYZ crosses above sma(10)",
];

async fn a_replayed_split_moves_levels_once_and_fires_nothing_on_the_jump(db: &TestDb) {
    let user = seed_user(&db.store, "ann@example.com").await;
    let mut rules = Vec::new();
    for text in RULES {
        rules.push(add_rule(&db.store, &user, text, RuleOptions::default()).await);
    }
    // A position typed in before the split: 10 shares at 110 (in June's prices), watched
    // 10% below cost.
    let below_cost = add_rule(
        &db.store,
        &user,
        "XYZ position 10% below cost",
        RuleOptions::default(),
    )
    .await;
    db.store
        .upsert_holding(NewHolding {
            owner: user.id,
            account: String::new(),
            symbol: sym("XYZ"),
            quantity: dec("10"),
            cost_basis: Some(dec("110")),
            source: HoldingSource::Manual,
            connection: None,
        })
        .await
        .unwrap();
    let clock = Arc::new(ManualClock::new(
        Utc.with_ymd_and_hms(2009, 6, 1, 12, 0, 0).unwrap(),
    ));
    let market = Arc::new(
        ReplayMarket::from_csv("split.csv", &split_csv(), clock.clone())
            .unwrap()
            .with_events(vec![split_event()]),
    );
    let store: Arc<dyn Store> = Arc::new(db.store.clone());
    let monitor = Monitor::new(
        store.clone(),
        market.clone() as Arc<dyn MarketData>,
        clock.clone(),
        MonitorConfig::default(),
    );
    let mut live: Vec<Vec<String>> = vec![Vec::new(); RULES.len()];
    let mut notices = Vec::new();
    let mut position_alerts = Vec::new();
    for at in market.timeline() {
        clock.set(at);
        let report = monitor.run_once().await.unwrap();
        assert!(report.problems.is_empty(), "{:?}", report.problems);
        for alert in report.alerts {
            if alert.rule_id == Some(below_cost.id) {
                position_alerts.push(row(alert.kind, alert.fired_at, alert.price));
                continue;
            }
            let i = rules
                .iter()
                .position(|r| Some(r.id) == alert.rule_id)
                .unwrap();
            if alert.kind == AlertKind::Notice {
                notices.push(alert.message.clone());
            }
            live[i].push(row(alert.kind, alert.fired_at, alert.price));
        }
        // A second cycle at the same moment applies nothing again.
        let again = monitor.run_once().await.unwrap();
        assert!(again.alerts.is_empty(), "{:?}", again.alerts);
    }

    // Nothing fired on the ex-date's jump (June's 105.40 to July's 26.22).
    for (text, alerts) in RULES.iter().zip(&live) {
        assert!(
            !alerts
                .iter()
                .any(|a| a.starts_with("fired 07-01") || a.starts_with("resolved 07-01")),
            "{text}: {alerts:?}"
        );
    }
    // The levels moved, their owner was told once, with the old and new level.
    assert_eq!(
        notices,
        [
            "XYZ split 4-for-1 on 2009-07-01: the rule's level moves with it, from \
             'XYZ crosses below 100' to 'XYZ crosses below 25'",
            "XYZ split 4-for-1 on 2009-07-01: the rule's level moves with it, from \
             'XYZ price > 110' to 'XYZ price > 27.5'",
        ]
    );
    let stored = db.store.get_rule(rules[0].id).await.unwrap();
    assert_eq!(
        signal_sentinel::engine::Condition::from_document(&stored.condition)
            .unwrap()
            .to_string(),
        "crosses below 25"
    );
    // The genuine cross below 25 after the split (07-17, 24.34) fires.
    assert!(
        live[0].contains(&"fired 07-17 24.34".to_owned()),
        "{:?}",
        live[0]
    );
    assert_eq!(
        db.store.applied_splits(&[sym("XYZ")]).await.unwrap(),
        [(sym("XYZ"), day("2009-07-01"), split_event_ratio())]
    );

    // The typed-in position is in the new terms, 40 shares at 27.5: 26.22 on the ex-date is
    // not 10% below its cost; 24.34 on 07-17 is.
    let held = db.store.list_holdings(user.id).await.unwrap();
    let figures: Vec<_> = held.iter().map(|h| (h.quantity, h.cost_basis)).collect();
    assert_eq!(figures, [(dec("40"), Some(dec("27.5")))]);
    assert_eq!(position_alerts, ["fired 07-17 24.34"]);
    // A restarted monitor reads the split as applied: nothing moves twice.
    clock.set(Utc.with_ymd_and_hms(2009, 7, 31, 20, 30, 0).unwrap());
    let fresh = Monitor::new(
        store,
        market.clone() as Arc<dyn MarketData>,
        clock.clone(),
        MonitorConfig::default(),
    );
    let report = fresh.run_once().await.unwrap();
    assert!(
        report.alerts.iter().all(|a| a.kind != AlertKind::Notice),
        "{:?}",
        report.alerts
    );

    // The backtest over the same bars, with the same calendar, gives the same alerts.
    let bars = market
        .daily_bars(&sym("XYZ"), day("2009-06-01"), day("2009-07-31"))
        .await
        .unwrap();
    for (text, alerts) in RULES.iter().zip(&live) {
        let rule = parse_rule(text).unwrap();
        let replayed = backtest_with_events(
            &rule.symbol,
            &rule.condition,
            &RuleOptions::default(),
            &[(rule.symbol.clone(), &bars)],
            Some(&[split_event()]),
            None,
        );
        let replayed: Vec<String> = replayed
            .into_iter()
            .map(|a| row(a.kind, a.at, a.price))
            .collect();
        assert_eq!(&replayed, alerts, "{text}");
    }
    // Without the calendar the jump is a fall through 100 and a -75% day.
    for text in &RULES[..2] {
        let rule = parse_rule(text).unwrap();
        let blind: Vec<String> = backtest_with_events(
            &rule.symbol,
            &rule.condition,
            &RuleOptions::default(),
            &[(rule.symbol.clone(), &bars)],
            None,
            None,
        )
        .into_iter()
        .map(|a| row(a.kind, a.at, a.price))
        .collect();
        assert!(
            blind.contains(&"fired 07-01 26.22".to_owned()),
            "{text}: {blind:?}"
        );
    }
}

/// A backtest as the API and `invest rules backtest` run it reads levels in today's prices:
/// bars given as traded are adjusted first, bars a provider adjusted are taken as they are;
/// either way the jump fires nothing and the same genuine cross does.
#[tokio::test]
async fn service_backtests_read_levels_in_todays_prices() {
    let clock = Arc::new(ManualClock::new(Utc::now()));
    let as_traded = ReplayMarket::from_csv("split.csv", &split_csv(), clock.clone())
        .unwrap()
        .with_events(vec![split_event()]);
    let adjusted = ReplayMarket::from_csv("adj.csv", &crate::helpers::daily_csv(), clock)
        .unwrap()
        .with_events(vec![split_event()]);
    for market in [&as_traded, &adjusted] {
        for (text, expected) in [
            ("XYZ crosses below 25", vec!["fired 07-17 24.34"]),
            ("XYZ day change <= -10%", vec![]),
        ] {
            let (_, sessions, alerts) = signal_sentinel::service::backtest_on(
                market,
                text,
                &RuleOptions::default(),
                day("2009-06-01"),
                day("2009-07-31"),
                None,
            )
            .await
            .unwrap();
            assert_eq!(sessions, 44);
            let alerts: Vec<String> = alerts
                .into_iter()
                .map(|a| row(a.kind, a.at, a.price))
                .collect();
            assert_eq!(alerts, expected, "{text}");
        }
    }
    // Expired before the cross: nothing, as a saved rule with that expiry.
    let (_, _, expired) = signal_sentinel::service::backtest_on(
        &as_traded,
        "XYZ crosses below 25",
        &RuleOptions::default(),
        day("2009-06-01"),
        day("2009-07-31"),
        Some(Utc.with_ymd_and_hms(2009, 7, 10, 0, 0, 0).unwrap()),
    )
    .await
    .unwrap();
    assert!(expired.is_empty(), "{expired:?}");
    let mut bars = as_traded
        .daily_bars(&sym("XYZ"), day("2009-06-01"), day("2009-07-31"))
        .await
        .unwrap();
    assert_eq!(
        signal_sentinel::engine::split::adjust_bars(&mut bars, &[split_event()]),
        1
    );
    assert_eq!(bars[0].close, dec("30.04"), "June in July's terms");
    assert_eq!(
        signal_sentinel::engine::split::adjust_bars(&mut bars, &[split_event()]),
        0,
        "once"
    );
}

fn split_event_ratio() -> SplitRatio {
    SplitRatio::new(dec("4"), dec("1")).unwrap()
}

/// `earnings within 2d` holds from two days before the report through its day (and is
/// armed again after it: a rule's resolution is not an alert by default); a symbol without a
/// calendar has no data.
async fn calendar_conditions_fire_before_the_event(db: &TestDb) {
    let user = seed_user(&db.store, "ann@example.com").await;
    let earnings = add_rule(
        &db.store,
        &user,
        "XYZ earnings within 2d",
        RuleOptions::default(),
    )
    .await;
    let dividend = add_rule(
        &db.store,
        &user,
        "XYZ ex-dividend within 1d",
        RuleOptions::default(),
    )
    .await;
    let split = add_rule(
        &db.store,
        &user,
        "XYZ split announced",
        RuleOptions::default(),
    )
    .await;
    let calendar = vec![
        CorporateEvent::new(
            sym("XYZ"),
            day("2009-06-10"),
            EventKind::Earnings {
                hour: Some(ReportHour::AfterClose),
            },
            "replay",
        )
        .unwrap(),
        CorporateEvent::new(
            sym("XYZ"),
            day("2009-06-17"),
            EventKind::Dividend {
                amount: dec("0.25"),
            },
            "replay",
        )
        .unwrap(),
        CorporateEvent::new(
            sym("XYZ"),
            day("2009-06-24"),
            EventKind::Split {
                ratio: SplitRatio::new(dec("1.0001"), dec("1")).unwrap(),
            },
            "replay",
        )
        .unwrap(),
    ];
    let csv: String = crate::helpers::daily_csv()
        .lines()
        .filter(|l| !l.starts_with("2009-07"))
        .map(|l| format!("{l}\n"))
        .collect();
    let clock = Arc::new(ManualClock::new(
        Utc.with_ymd_and_hms(2009, 6, 1, 12, 0, 0).unwrap(),
    ));
    let market = Arc::new(
        ReplayMarket::from_csv("june.csv", &csv, clock.clone())
            .unwrap()
            .with_events(calendar.clone()),
    );
    let monitor = monitor_on(db, market.clone(), clock.clone());
    let mut seen = Vec::new();
    for at in market.timeline() {
        clock.set(at);
        for alert in monitor.run_once().await.unwrap().alerts {
            let name = if alert.rule_id == Some(earnings.id) {
                "earnings"
            } else if alert.rule_id == Some(dividend.id) {
                "dividend"
            } else {
                assert_eq!(alert.rule_id, Some(split.id));
                "split"
            };
            seen.push(format!(
                "{name} {} {}",
                row(alert.kind, alert.fired_at, alert.price),
                alert.message
            ));
        }
    }
    assert_eq!(
        seen,
        [
            "split fired 06-01 30.04 XYZ has a split announced: now 30.04 — 1.0001-for-1 split on \
             2009-06-24",
            "earnings fired 06-08 29.77 XYZ reports earnings soon (earnings within 2d): now 29.77 \
             — earnings on 2009-06-10 after the close",
            "dividend fired 06-16 32.68 XYZ goes ex-dividend soon (ex-dividend within 1d): now \
             32.68 — ex-dividend on 2009-06-17 (0.25 a share)",
        ]
    );
    let stored = db.store.load_events(&[sym("XYZ")]).await.unwrap();
    // Refreshed each exchange day, from a week back: on June 30th only the split is left.
    assert_eq!(stored[0].refreshed_on, day("2009-06-30"));
    assert_eq!(stored[0].events, calendar[2..]);

    // The backtest reads the same calendar.
    let bars = market
        .daily_bars(&sym("XYZ"), day("2009-06-01"), day("2009-06-30"))
        .await
        .unwrap();
    let rule = parse_rule("XYZ earnings within 2d").unwrap();
    let replayed: Vec<String> = backtest_with_events(
        &rule.symbol,
        &rule.condition,
        &RuleOptions::default(),
        &[(rule.symbol.clone(), &bars)],
        Some(&calendar),
        None,
    )
    .into_iter()
    .map(|a| row(a.kind, a.at, a.price))
    .collect();
    assert_eq!(replayed, ["fired 06-08 29.77"]);
    // Without a calendar there is nothing to go on: no data, never a firing.
    let blind = backtest_with_events(
        &rule.symbol,
        &rule.condition,
        &RuleOptions::default(),
        &[(rule.symbol.clone(), &bars)],
        None,
        None,
    );
    assert!(
        blind.iter().all(|a| a.kind != AlertKind::Fired),
        "{blind:?}"
    );
}

backend_tests!(
    a_replayed_split_moves_levels_once_and_fires_nothing_on_the_jump,
    calendar_conditions_fire_before_the_event
);
