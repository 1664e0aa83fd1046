//! The monitor over a real store and a replayed or simulated market.

use std::sync::Arc;

use chrono::{NaiveDate, TimeZone, Utc};
use signal_sentinel::clock::{Clock, ManualClock};
use signal_sentinel::domain::{
    AlertKind, AlertQuery, Bar, DeliveryStatus, JsonDocument, NewRule, Quote, RuleFilter, Symbol,
};
use signal_sentinel::engine::{Frequency, RuleOptions, backtest, parse_rule};
use signal_sentinel::market::{MarketData, MarketError, ReplayMarket, SimulatedMarket};
use signal_sentinel::monitor::{Monitor, MonitorConfig};
use signal_sentinel::store::{AlertStore, MonitorStore, RuleStateStore, RuleStore, Store};

use crate::helpers::{
    Backend, FixedMarket, TestDb, add_rule, daily_csv, seed_console_channel, seed_user,
};

fn store_of(db: &TestDb) -> Arc<dyn Store> {
    Arc::new(db.store.clone())
}

const RULES: [&str; 4] = [
    "XYZ crosses above 30",
    "XYZ price > 30",
    "XYZ day change <= -5%",
    "XYZ trailing stop 10%",
];

/// Replays the whole series, restarting the monitor (a fresh one, empty memory) before the
/// cycles listed in `restarts`; returns (rule, episode, date, price) of every alert.
async fn replay(db: &TestDb, restarts: &[usize]) -> Vec<(String, i64, String, String)> {
    let store = store_of(db);
    let user = seed_user(&db.store, "ann@example.com").await;
    seed_console_channel(&db.store, &user).await;
    let mut names = std::collections::HashMap::new();
    for text in RULES {
        let rule = add_rule(&db.store, &user, text, RuleOptions::default()).await;
        names.insert(rule.id, text.to_owned());
    }
    let clock = Arc::new(ManualClock::new(
        Utc.with_ymd_and_hms(2009, 5, 29, 12, 0, 0).unwrap(),
    ));
    let market: Arc<dyn MarketData> =
        Arc::new(ReplayMarket::from_csv("xyz.csv", &daily_csv(), clock.clone()).unwrap());
    let timeline = ReplayMarket::from_csv("xyz.csv", &daily_csv(), clock.clone())
        .unwrap()
        .timeline();
    let mut monitor = Monitor::new(
        store.clone(),
        market.clone(),
        clock.clone(),
        MonitorConfig::default(),
    );
    let mut got = Vec::new();
    for (i, at) in timeline.iter().enumerate() {
        if restarts.contains(&i) {
            monitor = Monitor::new(
                store.clone(),
                market.clone(),
                clock.clone(),
                MonitorConfig::default(),
            );
        }
        clock.set(*at);
        let report = monitor.run_once().await.unwrap();
        assert_eq!(report.symbols, 1);
        assert_eq!(report.market_calls, 1);
        for alert in report.alerts {
            assert_eq!(alert.kind, AlertKind::Fired);
            got.push((
                names[&alert.rule_id.unwrap()].clone(),
                alert.episode,
                alert.fired_at.format("%Y-%m-%d").to_string(),
                alert.price.to_string(),
            ));
        }
    }
    // Every alert is stored once and has a pending delivery on the user's channel.
    let stored = db
        .store
        .list_alerts(&AlertQuery::newest(user.id, 1000))
        .await
        .unwrap();
    assert_eq!(stored.len(), got.len());
    for alert in &stored {
        let deliveries = db.store.list_deliveries(alert.id).await.unwrap();
        assert_eq!(deliveries.len(), 1);
        assert_eq!(deliveries[0].status, DeliveryStatus::Pending);
    }
    got.sort();
    got
}

/// What the backtest says the same rules fire on the same series.
fn expected() -> Vec<(String, i64, String, String)> {
    let clock: Arc<dyn Clock> = Arc::new(ManualClock::new(Utc::now()));
    let market = ReplayMarket::from_csv("xyz.csv", &daily_csv(), clock).unwrap();
    let bars = futures_lite_block(market.daily_bars(
        &Symbol::parse("XYZ").unwrap(),
        chrono::NaiveDate::from_ymd_opt(2009, 1, 1).unwrap(),
        chrono::NaiveDate::from_ymd_opt(2009, 12, 31).unwrap(),
    ))
    .unwrap();
    let mut all = Vec::new();
    for text in RULES {
        let rule = parse_rule(text).unwrap();
        for a in backtest(
            &rule.symbol,
            &rule.condition,
            &RuleOptions::default(),
            &bars,
        ) {
            all.push((
                text.to_owned(),
                a.episode,
                a.at.format("%Y-%m-%d").to_string(),
                a.price.to_string(),
            ));
        }
    }
    all.sort();
    all
}

fn futures_lite_block<F: std::future::Future>(f: F) -> F::Output {
    tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap()
        .block_on(f)
}

async fn monitor_matches_the_backtest(db: &TestDb) {
    let expected = tokio::task::spawn_blocking(expected).await.unwrap();
    assert_eq!(expected.len(), 4 + 5 + 4 + 3, "{expected:?}");
    assert_eq!(replay(db, &[]).await, expected);
}

async fn restarts_lose_and_duplicate_nothing(db: &TestDb) {
    let expected = tokio::task::spawn_blocking(expected).await.unwrap();
    // Restart before 06-04 (price > 30 firing since 06-03), 06-16 (trailing stop armed at a
    // new high), 06-24 (day change episode starting) and 06-25 (in it).
    assert_eq!(replay(db, &[3, 11, 17, 18, 30]).await, expected);
}

async fn once_rules_disable_themselves(db: &TestDb) {
    let user = seed_user(&db.store, "ann@example.com").await;
    let once = RuleOptions {
        frequency: Frequency::Once,
        ..RuleOptions::default()
    };
    let rule = add_rule(&db.store, &user, "XYZ price > 30", once).await;
    let clock = Arc::new(ManualClock::new(
        Utc.with_ymd_and_hms(2009, 6, 1, 19, 59, 0).unwrap(),
    ));
    let market = Arc::new(ReplayMarket::from_csv("xyz.csv", &daily_csv(), clock.clone()).unwrap());
    let monitor = Monitor::new(
        store_of(db),
        market,
        clock.clone(),
        MonitorConfig::default(),
    );
    assert_eq!(monitor.run_once().await.unwrap().alerts.len(), 1);
    let stored = db.store.get_rule(rule.id).await.unwrap();
    assert!(!stored.enabled);
    assert_eq!(stored.last_triggered_at, Some(clock.now()));
    let enabled = RuleFilter {
        enabled: Some(true),
        ..RuleFilter::default()
    };
    assert!(db.store.list_rules(&enabled).await.unwrap().is_empty());
}

/// A rule whose condition never holds still reads as evaluated after its first cycle (its
/// state is written once), unlike a rule no worker watches.
async fn an_evaluated_rule_has_a_state_even_when_nothing_changed(db: &TestDb) {
    let user = seed_user(&db.store, "ann@example.com").await;
    let quiet = add_rule(&db.store, &user, "XYZ price > 1000", RuleOptions::default()).await;
    let clock = Arc::new(ManualClock::new(
        Utc.with_ymd_and_hms(2009, 6, 1, 19, 59, 0).unwrap(),
    ));
    let market = Arc::new(ReplayMarket::from_csv("xyz.csv", &daily_csv(), clock.clone()).unwrap());
    let monitor = Monitor::new(
        store_of(db),
        market,
        clock.clone(),
        MonitorConfig::default(),
    );
    assert!(
        db.store.get_rule_state(quiet.id).await.is_err(),
        "not evaluated yet"
    );
    assert!(monitor.run_once().await.unwrap().alerts.is_empty());
    let state = db.store.get_rule_state(quiet.id).await.unwrap();
    assert_eq!(state.phase, signal_sentinel::domain::RulePhase::Armed);
    assert_eq!(state.updated_at, clock.now());
    // Later cycles that change nothing write nothing more.
    clock.set(Utc.with_ymd_and_hms(2009, 6, 2, 19, 59, 0).unwrap());
    monitor.run_once().await.unwrap();
    let again = db.store.get_rule_state(quiet.id).await.unwrap();
    assert_eq!(again.updated_at, state.updated_at);
}

async fn closed_markets_are_not_fetched(db: &TestDb) {
    let user = seed_user(&db.store, "ann@example.com").await;
    add_rule(&db.store, &user, "AAPL price > 1", RuleOptions::default()).await;
    add_rule(
        &db.store,
        &user,
        "BTC/USD price > 1",
        RuleOptions::default(),
    )
    .await;
    // Saturday: crypto trades, equities do not.
    let clock = Arc::new(ManualClock::new(
        Utc.with_ymd_and_hms(2026, 11, 28, 15, 0, 0).unwrap(),
    ));
    let market = Arc::new(SimulatedMarket::new(1, clock.clone()));
    let monitor = Monitor::new(
        store_of(db),
        market.clone(),
        clock.clone(),
        MonitorConfig::default(),
    );
    let report = monitor.run_once().await.unwrap();
    assert_eq!((report.rules, report.evaluated, report.symbols), (2, 1, 1));
    assert_eq!(report.alerts.len(), 1);
    assert_eq!(report.alerts[0].symbol.as_str(), "BTC/USD");
    // Monday 10:00 New York: both.
    clock.set(Utc.with_ymd_and_hms(2026, 11, 30, 15, 0, 0).unwrap());
    let report = monitor.run_once().await.unwrap();
    assert_eq!((report.evaluated, report.symbols), (2, 2));
    assert_eq!(report.alerts.len(), 1, "BTC/USD still firing, AAPL fires");
}

async fn batches_follow_the_providers_size(db: &TestDb) {
    let user = seed_user(&db.store, "ann@example.com").await;
    for i in 0..250 {
        add_rule(
            &db.store,
            &user,
            &format!("S{i} price > 100000"),
            RuleOptions::default(),
        )
        .await;
    }
    let clock = Arc::new(ManualClock::new(
        Utc.with_ymd_and_hms(2026, 11, 30, 15, 0, 0).unwrap(),
    ));
    let market = Arc::new(SimulatedMarket::new(1, clock.clone()).with_max_batch(100));
    let monitor = Monitor::new(
        store_of(db),
        market.clone(),
        clock.clone(),
        MonitorConfig::default(),
    );
    let report = monitor.run_once().await.unwrap();
    assert_eq!(
        (report.symbols, report.quotes, report.market_calls),
        (250, 250, 3)
    );
    assert_eq!(market.calls(), 3);
    assert!(report.alerts.is_empty());
    // A second cycle in the same minute writes no state: nothing changed.
    let again = monitor.run_once().await.unwrap();
    assert_eq!(again.market_calls, 3);
}

async fn extended_hours_and_message_templates(db: &TestDb) {
    let user = seed_user(&db.store, "ann@example.com").await;
    let regular = RuleOptions {
        message: Some("{{rule}}: {{symbol}} at {{price}} ({{change_pct}}%) on {{time}}".into()),
        ..RuleOptions::default()
    };
    let extended = RuleOptions {
        extended_hours: true,
        ..RuleOptions::default()
    };
    add_rule(&db.store, &user, "AAPL price > 1", regular).await;
    add_rule(&db.store, &user, "MSFT price > 1", extended).await;
    // A regular-hours rule on the symbol an extended-hours rule watches keeps its own hours.
    add_rule(&db.store, &user, "MSFT price > 2", RuleOptions::default()).await;
    // Monday 2026-11-30, 08:00 New York: pre-market.
    let clock = Arc::new(ManualClock::new(
        Utc.with_ymd_and_hms(2026, 11, 30, 13, 0, 0).unwrap(),
    ));
    let monitor = Monitor::new(
        store_of(db),
        Arc::new(SimulatedMarket::new(3, clock.clone())),
        clock.clone(),
        MonitorConfig::default(),
    );
    let report = monitor.run_once().await.unwrap();
    assert_eq!(report.evaluated, 1, "only the extended-hours rule");
    assert_eq!(report.alerts[0].symbol.as_str(), "MSFT");
    assert_eq!(
        report.alerts[0].message,
        format!("MSFT price > 1: now {}", report.alerts[0].price)
    );
    // 10:00: both; the template renders every placeholder.
    clock.set(Utc.with_ymd_and_hms(2026, 11, 30, 15, 0, 0).unwrap());
    let report = monitor.run_once().await.unwrap();
    let aapl = report
        .alerts
        .iter()
        .find(|a| a.symbol.as_str() == "AAPL")
        .unwrap();
    assert!(
        aapl.message
            .starts_with(&format!("AAPL price > 1: AAPL at {} (", aapl.price)),
        "{}",
        aapl.message
    );
    assert!(
        aapl.message.ends_with("%) on 2026-11-30 10:00 EST"),
        "{}",
        aapl.message
    );
}

/// A simulated market that records how many sessions of history the monitor asks for.
#[derive(Debug)]
struct HistoryRecorder {
    inner: SimulatedMarket,
    asked: std::sync::Mutex<Vec<(String, usize)>>,
}

#[async_trait::async_trait]
impl MarketData for HistoryRecorder {
    fn name(&self) -> &str {
        self.inner.name()
    }

    fn max_batch(&self) -> usize {
        self.inner.max_batch()
    }

    async fn quotes(&self, symbols: &[Symbol]) -> Result<Vec<Quote>, MarketError> {
        self.inner.quotes(symbols).await
    }

    async fn daily_bars(
        &self,
        symbol: &Symbol,
        from: NaiveDate,
        to: NaiveDate,
    ) -> Result<Vec<Bar>, MarketError> {
        self.inner.daily_bars(symbol, from, to).await
    }

    async fn recent_daily_bars(
        &self,
        symbol: &Symbol,
        sessions: usize,
        before: NaiveDate,
    ) -> Result<Vec<Bar>, MarketError> {
        self.asked
            .lock()
            .unwrap()
            .push((symbol.to_string(), sessions));
        self.inner.recent_daily_bars(symbol, sessions, before).await
    }
}

async fn rules_added_during_the_day_get_the_history_they_need(db: &TestDb) {
    let user = seed_user(&db.store, "ann@example.com").await;
    add_rule(&db.store, &user, "AAPL rsi(14) > 0", RuleOptions::default()).await;
    // Monday 10:00 New York: the history loaded covers RSI(14) (141 sessions).
    let clock = Arc::new(ManualClock::new(
        Utc.with_ymd_and_hms(2026, 11, 30, 15, 0, 0).unwrap(),
    ));
    let market = Arc::new(HistoryRecorder {
        inner: SimulatedMarket::new(5, clock.clone()),
        asked: Default::default(),
    });
    let monitor = Monitor::new(
        store_of(db),
        market.clone(),
        clock.clone(),
        MonitorConfig::default(),
    );
    monitor.run_once().await.unwrap();
    // Later the same day, a 52-week rule (260 sessions, highs): its history is loaded in its
    // first cycle, not the next day (a 52-week high over 141 sessions would be wrong).
    let year = add_rule(
        &db.store,
        &user,
        "AAPL within 99% of 52w high",
        RuleOptions::default(),
    )
    .await;
    clock.set(Utc.with_ymd_and_hms(2026, 11, 30, 15, 5, 0).unwrap());
    let report = monitor.run_once().await.unwrap();
    assert_eq!(report.evaluated, 2);
    assert!(
        report.alerts.iter().any(|a| a.rule_id == Some(year.id)),
        "{report:?}"
    );
    // A volume rule: the same sessions are enough, but the volumes were not kept.
    let volume = add_rule(
        &db.store,
        &user,
        "AAPL volume >= 0.01x avg(20)",
        RuleOptions::default(),
    )
    .await;
    clock.set(Utc.with_ymd_and_hms(2026, 11, 30, 15, 10, 0).unwrap());
    let report = monitor.run_once().await.unwrap();
    assert!(
        report.alerts.iter().any(|a| a.rule_id == Some(volume.id)),
        "{report:?}"
    );
    // Then nothing more that day; the next day, once.
    clock.set(Utc.with_ymd_and_hms(2026, 11, 30, 15, 15, 0).unwrap());
    monitor.run_once().await.unwrap();
    clock.set(Utc.with_ymd_and_hms(2026, 12, 1, 15, 0, 0).unwrap());
    monitor.run_once().await.unwrap();
    let aapl = |n| ("AAPL".to_owned(), n);
    assert_eq!(
        *market.asked.lock().unwrap(),
        [aapl(141), aapl(260), aapl(260), aapl(260)]
    );
}

async fn holdings_conditions_and_the_portfolio(db: &TestDb) {
    use signal_sentinel::domain::{HoldingSource, NewHolding};
    use signal_sentinel::store::HoldingStore;
    let ann = seed_user(&db.store, "ann@example.com").await;
    let bob = seed_user(&db.store, "bob@example.com").await;
    for (owner, account, symbol, quantity, cost) in [
        (&ann, "ira", "AAPL", "10", Some("150")),
        (&ann, "taxable", "AAPL", "10", Some("130")), // average cost 140
        (&ann, "ira", "MSFT", "20", Some("100")),
        (&ann, "ira", "KO", "100", None),
        (&bob, "", "AAPL", "1", Some("50")),
    ] {
        db.store
            .upsert_holding(NewHolding {
                owner: owner.id,
                account: account.into(),
                symbol: Symbol::parse(symbol).unwrap(),
                quantity: quantity.parse().unwrap(),
                cost_basis: cost.map(|c| c.parse().unwrap()),
                source: HoldingSource::Manual,
                connection: None,
            })
            .await
            .unwrap();
    }
    let below = add_rule(
        &db.store,
        &ann,
        "AAPL position 10% below cost",
        RuleOptions::default(),
    )
    .await;
    let moved = add_rule(
        &db.store,
        &ann,
        "MSFT position day move >= 5%",
        RuleOptions::default(),
    )
    .await;
    let weight = add_rule(
        &db.store,
        &ann,
        "AAPL position weight > 50%",
        RuleOptions::default(),
    )
    .await;
    let down = add_rule(
        &db.store,
        &ann,
        "PORTFOLIO day change <= -3%",
        RuleOptions::default(),
    )
    .await;
    // Bob holds AAPL at 50 and has no KO: his rules see his own book.
    let bobs = add_rule(
        &db.store,
        &bob,
        "AAPL position 10% below cost",
        RuleOptions::default(),
    )
    .await;
    let not_held = add_rule(
        &db.store,
        &bob,
        "MSFT position day move >= 5%",
        RuleOptions::default(),
    )
    .await;

    let clock = Arc::new(ManualClock::new(
        Utc.with_ymd_and_hms(2026, 11, 30, 15, 0, 0).unwrap(),
    ));
    let market = Arc::new(FixedMarket::new(clock.clone()));
    // Ann: AAPL 20 × 130 = 2600 (cost 140: 7% below), MSFT 20 × 98 = 1960 (−2%),
    // KO 100 × 60 = 6000; total 10560 against 10840 yesterday (−2.6%).
    market.set("AAPL", "130", "133");
    market.set("MSFT", "98", "100");
    market.set("KO", "60", "61");
    let monitor = Monitor::new(
        store_of(db),
        market.clone(),
        clock.clone(),
        MonitorConfig::default(),
    );
    let report = monitor.run_once().await.unwrap();
    assert!(report.alerts.is_empty(), "{:?}", report.alerts);
    let asked = market.asked.lock().unwrap().clone();
    assert!(
        asked.contains(&"KO".to_owned()),
        "the portfolio's value needs every holding: {asked:?}"
    );
    assert!(
        !asked.contains(&"PORTFOLIO".to_owned()),
        "never asked of a provider"
    );

    // AAPL falls to 120 (14% below Ann's average cost of 140; still above Bob's 50), MSFT
    // drops 6%, and the portfolio loses (2400+1880+6000 = 10280 vs 10840) 5.2%.
    clock.set(Utc.with_ymd_and_hms(2026, 11, 30, 15, 5, 0).unwrap());
    market.set("AAPL", "120", "133");
    market.set("MSFT", "94", "100");
    let report = monitor.run_once().await.unwrap();
    let mut fired: Vec<_> = report
        .alerts
        .iter()
        .map(|a| (a.rule_id, a.price.to_string()))
        .collect();
    fired.sort();
    let mut expected = vec![
        (Some(below.id), "120".to_owned()),
        (Some(moved.id), "94".to_owned()),
        (Some(down.id), "10280".to_owned()),
    ];
    expected.sort();
    assert_eq!(fired, expected);
    let portfolio_alert = report
        .alerts
        .iter()
        .find(|a| a.rule_id == Some(down.id))
        .unwrap();
    assert_eq!(portfolio_alert.owner, ann.id);
    assert!(
        portfolio_alert.message.contains("PORTFOLIO"),
        "{}",
        portfolio_alert.message
    );
    for quiet in [weight.id, bobs.id, not_held.id] {
        assert!(report.alerts.iter().all(|a| a.rule_id != Some(quiet)));
    }

    // KO sold off and AAPL is now more than half of what is left.
    db.store
        .delete_holding(
            db.store
                .list_holdings(ann.id)
                .await
                .unwrap()
                .iter()
                .find(|h| h.symbol.as_str() == "KO")
                .unwrap()
                .id,
        )
        .await
        .unwrap();
    clock.set(Utc.with_ymd_and_hms(2026, 11, 30, 15, 10, 0).unwrap());
    let report = monitor.run_once().await.unwrap();
    assert!(
        report.alerts.iter().any(|a| a.rule_id == Some(weight.id)),
        "{:?}",
        report.alerts
    );
}

/// After its first cycle the monitor reads only the log of rule changes: a cycle with no
/// change loads no rule; edits, disables, deletes and a removed owner made through the store
/// (as another process would) are followed in the next cycle; a log pruned past the monitor
/// makes it read every rule again.
async fn rules_follow_the_log_of_changes(db: &TestDb) {
    use signal_sentinel::domain::RuleUpdate;
    use signal_sentinel::store::UserStore;
    let ann = seed_user(&db.store, "ann@example.com").await;
    let bob = seed_user(&db.store, "bob@example.com").await;
    let above = add_rule(&db.store, &ann, "XYZ price > 30", RuleOptions::default()).await;
    let below = add_rule(&db.store, &ann, "XYZ price < 10", RuleOptions::default()).await;
    let other = add_rule(&db.store, &ann, "ABC price > 1", RuleOptions::default()).await;
    add_rule(&db.store, &bob, "ABC price > 2", RuleOptions::default()).await;
    let clock = Arc::new(ManualClock::new(
        Utc.with_ymd_and_hms(2026, 11, 30, 15, 0, 0).unwrap(),
    ));
    let market = Arc::new(FixedMarket::new(clock.clone()));
    market.set("XYZ", "20", "20");
    market.set("ABC", "5", "5");
    let monitor = Monitor::new(
        store_of(db),
        market.clone(),
        clock.clone(),
        MonitorConfig::default(),
    );
    let minute = chrono::Duration::minutes(1);
    let first = monitor.run_once().await.unwrap();
    assert!(first.rules_rescanned);
    assert_eq!((first.rules, first.rules_loaded), (4, 4));
    assert_eq!(first.alerts.len(), 2, "{first:?}");

    // Nothing changed (the firings the cycle wrote are in the log, with the same edit time).
    clock.advance(minute);
    let quiet = monitor.run_once().await.unwrap();
    assert!(!quiet.rules_rescanned);
    assert_eq!((quiet.rules, quiet.evaluated), (4, 4));

    // Edited: `above` now fires at 15; disabled: `below`; deleted: `other`; bob is removed.
    let edit = |text: &str| RuleUpdate {
        condition: Some(parse_rule(text).unwrap().condition.to_document()),
        ..RuleUpdate::default()
    };
    db.store
        .update_rule(above.id, edit("XYZ price > 15"))
        .await
        .unwrap();
    db.store
        .update_rule(
            below.id,
            RuleUpdate {
                enabled: Some(false),
                ..RuleUpdate::default()
            },
        )
        .await
        .unwrap();
    db.store.delete_rule(other.id).await.unwrap();
    db.store.delete_user(bob.id).await.unwrap();
    clock.advance(minute);
    let followed = monitor.run_once().await.unwrap();
    assert!(!followed.rules_rescanned);
    assert_eq!(
        followed.rules_loaded, 2,
        "only the edited rule and the disabled one are read"
    );
    assert_eq!((followed.rules, followed.evaluated), (1, 1));
    let fired: Vec<_> = followed.alerts.iter().map(|a| a.rule_id).collect();
    assert_eq!(fired, [Some(above.id)]);

    // The log pruned past the monitor (by a worker that read everything): all read again.
    let new = add_rule(&db.store, &ann, "ABC price > 3", RuleOptions::default()).await;
    let latest = db
        .store
        .rule_changes(i64::MAX, 0)
        .await
        .unwrap()
        .latest
        .unwrap();
    db.store.prune_rule_changes(latest).await.unwrap();
    add_rule(&db.store, &ann, "ABC price > 4", RuleOptions::default()).await;
    clock.advance(minute);
    let rescanned = monitor.run_once().await.unwrap();
    assert!(rescanned.rules_rescanned);
    assert_eq!(rescanned.rules, 3);
    assert!(rescanned.alerts.iter().any(|a| a.rule_id == Some(new.id)));

    // An hour on, every rule is read again whatever the log says.
    clock.advance(chrono::Duration::minutes(30));
    assert!(!monitor.run_once().await.unwrap().rules_rescanned);
    clock.advance(chrono::Duration::minutes(31));
    assert!(monitor.run_once().await.unwrap().rules_rescanned);
}

backend_tests!(
    rules_follow_the_log_of_changes,
    an_evaluated_rule_has_a_state_even_when_nothing_changed,
    holdings_conditions_and_the_portfolio,
    rules_added_during_the_day_get_the_history_they_need,
    extended_hours_and_message_templates,
    monitor_matches_the_backtest,
    restarts_lose_and_duplicate_nothing,
    once_rules_disable_themselves,
    closed_markets_are_not_fetched,
    batches_follow_the_providers_size,
);

#[tokio::test]
async fn unreadable_rules_are_reported_and_skipped() {
    let db = TestDb::new(Backend::SqliteMemory).await.unwrap();
    let user = seed_user(&db.store, "ann@example.com").await;
    db.store
        .create_rule(NewRule {
            owner: user.id,
            symbol: Symbol::parse("BTC/USD").unwrap(),
            name: None,
            condition: JsonDocument::new(9, serde_json::json!({"type": "price"})).unwrap(),
            options: JsonDocument::empty(),
            enabled: true,
            expires_at: None,
        })
        .await
        .unwrap();
    let clock = Arc::new(ManualClock::new(
        Utc.with_ymd_and_hms(2026, 11, 28, 15, 0, 0).unwrap(),
    ));
    let monitor = Monitor::new(
        store_of(&db),
        Arc::new(SimulatedMarket::new(1, clock.clone())),
        clock,
        MonitorConfig::default(),
    );
    let report = monitor.run_once().await.unwrap();
    assert_eq!(report.evaluated, 0);
    assert_eq!(report.problems.len(), 1);
    assert!(
        report.problems[0].contains("version 9 is not supported"),
        "{:?}",
        report.problems
    );
    // The rule shows `error`, once; the next cycle does not report it again.
    let rule = db
        .store
        .list_rules(&RuleFilter::default())
        .await
        .unwrap()
        .remove(0);
    let state = db.store.get_rule_state(rule.id).await.unwrap();
    assert_eq!(state.phase, signal_sentinel::domain::RulePhase::Error);
    let again = monitor.run_once().await.unwrap();
    assert!(again.problems.is_empty(), "{:?}", again.problems);
    // Fixed by an edit: evaluated again.
    db.store
        .update_rule(
            rule.id,
            signal_sentinel::domain::RuleUpdate {
                condition: Some(
                    parse_rule("BTC/USD price > 1")
                        .unwrap()
                        .condition
                        .to_document(),
                ),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    let report = monitor.run_once().await.unwrap();
    assert_eq!((report.evaluated, report.alerts.len()), (1, 1));
}
