//! Acting on alerts with the tokens of their messages (`Services::act_on_alert`): each token
//! does its one action on its one alert as its one user, once, until it expires; a re-armed
//! rule that fires once fires again on the replayed market.

use std::sync::Arc;

use chrono::{TimeZone, Utc};
use signal_sentinel::auth::action_token::{ActionKeys, AlertAction};
use signal_sentinel::clock::{Clock, ManualClock};
use signal_sentinel::config::Settings;
use signal_sentinel::domain::{Alert, AlertKind, AlertQuery, AlertState, RulePhase};
use signal_sentinel::engine::{Frequency, RuleOptions};
use signal_sentinel::market::ReplayMarket;
use signal_sentinel::monitor::{Monitor, MonitorConfig};
use signal_sentinel::service::{
    ActionSigner, MessageAction, Principal, RuleSpec, ServiceError, Services,
};
use signal_sentinel::store::{RuleStateStore, Store};

use crate::helpers::{TestDb, daily_csv, seed_user};

const SECRET: &str = "a-test-secret-key-of-forty-characters-xx";

struct World {
    services: Services,
    monitor: Monitor,
    clock: Arc<ManualClock>,
    signer: ActionSigner,
}

fn world(db: &TestDb) -> World {
    let settings = Settings::from_vars([
        ("DATABASE_URL".to_owned(), "sqlite::memory:".to_owned()),
        ("SECRET_KEY".to_owned(), SECRET.to_owned()),
    ])
    .unwrap();
    let store: Arc<dyn Store> = Arc::new(db.store.clone());
    // The close of 2009-06-01 (XYZ 30.04); later sessions are set by the test.
    let clock = Arc::new(ManualClock::new(
        Utc.with_ymd_and_hms(2009, 6, 1, 19, 59, 0).unwrap(),
    ));
    let market = Arc::new(ReplayMarket::from_csv("xyz.csv", &daily_csv(), clock.clone()).unwrap());
    let services = Services::from_settings(
        &settings,
        store.clone(),
        clock.clone(),
        market.clone(),
        Vec::new(),
    )
    .unwrap();
    let monitor = Monitor::new(store, market, clock.clone(), MonitorConfig::default());
    World {
        services,
        monitor,
        clock,
        signer: ActionSigner::new(
            Arc::new(ActionKeys::new(SECRET.as_bytes(), None)),
            Some("https://alerts.example.com/".into()),
        ),
    }
}

fn token(actions: &[MessageAction], action: AlertAction) -> String {
    actions
        .iter()
        .find(|a| a.action == action)
        .unwrap_or_else(|| panic!("{action} offered in {actions:?}"))
        .token
        .clone()
}

async fn add_rule(
    services: &Services,
    who: Principal,
    text: &str,
    options: RuleOptions,
) -> Result<signal_sentinel::domain::Rule, ServiceError> {
    let spec = RuleSpec {
        text: Some(text.into()),
        ..RuleSpec::default()
    };
    services
        .create_rule(who, spec, None, options, true, None)
        .await
}

/// Services and a monitor over `db` with a market replaying `csv` on a clock at `start`.
fn replayed(
    db: &TestDb,
    csv: &str,
    start: chrono::DateTime<Utc>,
    vars: &[(&str, &str)],
) -> (Services, Monitor, Arc<ManualClock>) {
    let mut all = vec![
        ("DATABASE_URL".to_owned(), "sqlite::memory:".to_owned()),
        ("SECRET_KEY".to_owned(), SECRET.to_owned()),
    ];
    all.extend(vars.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())));
    let settings = Settings::from_vars(all).unwrap();
    let clock = Arc::new(ManualClock::new(start));
    let market = Arc::new(ReplayMarket::from_csv("replay.csv", csv, clock.clone()).unwrap());
    let store: Arc<dyn Store> = Arc::new(db.store.clone());
    let services =
        Services::from_settings(&settings, store, clock.clone(), market.clone(), Vec::new())
            .unwrap();
    let monitor = services.monitor(market, clock.clone(), MonitorConfig::default());
    (services, monitor, clock)
}

async fn alerts(w: &World, who: Principal) -> Vec<Alert> {
    w.services
        .list_alerts(who, AlertQuery::newest(who.user, 50))
        .await
        .unwrap()
}

async fn tokens_act_once_for_their_user(db: &TestDb) {
    let w = world(db);
    let ann = seed_user(&db.store, "ann@example.com").await;
    let bob = seed_user(&db.store, "bob@example.com").await;
    let who = Principal {
        user: ann.id,
        api_key: None,
    };
    let once = RuleOptions {
        frequency: Frequency::Once,
        ..RuleOptions::default()
    };
    let rule = add_rule(&w.services, who, "XYZ price > 30", once)
        .await
        .unwrap();
    assert_eq!(w.monitor.run_once().await.unwrap().alerts.len(), 1);
    let alert = alerts(&w, who).await.remove(0);
    let rule_now = w.services.get_rule(who, rule.id).await.unwrap().rule;
    assert!(!rule_now.enabled, "a rule that fires once disabled itself");

    // What the message offers: a rule that fires once is re-armed, not disabled.
    let actions = w.signer.actions(&alert, Some(&rule_now), w.clock.now());
    let offered: Vec<AlertAction> = actions.iter().map(|a| a.action).collect();
    assert_eq!(
        offered,
        [
            AlertAction::Acknowledge,
            AlertAction::SnoozeHour,
            AlertAction::SnoozeUntilOpen,
            AlertAction::Rearm,
            AlertAction::RearmFurther,
        ]
    );
    let link = actions[0].url.as_deref().unwrap();
    assert!(
        link.starts_with("https://alerts.example.com/actions/"),
        "{link}"
    );

    // Bob's chat pressing Ann's button changes nothing.
    let rearm = token(&actions, AlertAction::Rearm);
    let refused = w
        .services
        .act_on_alert_as(bob.id, &rearm)
        .await
        .unwrap_err();
    assert!(
        matches!(refused, ServiceError::Unauthenticated(_)),
        "{refused:?}"
    );
    // The preview says what it will do and does nothing.
    let preview = w.services.preview_action(&rearm).await.unwrap();
    assert!(
        preview.question.contains("Arm the rule"),
        "{}",
        preview.question
    );
    assert!(
        !w.services
            .get_rule(who, rule.id)
            .await
            .unwrap()
            .rule
            .enabled
    );

    // Re-armed: enabled, its lifecycle back to armed, and it fires again the next session.
    let done = w.services.act_on_alert_as(ann.id, &rearm).await.unwrap();
    assert!(done.done.contains("again"), "{}", done.done);
    let view = w.services.get_rule(who, rule.id).await.unwrap();
    assert!(view.rule.enabled);
    assert_eq!(view.state.unwrap().phase, RulePhase::Armed);
    // 2009-06-03 closes at 31.02 (the 2nd, at 29.63, is under the level).
    w.clock
        .set(Utc.with_ymd_and_hms(2009, 6, 3, 19, 59, 0).unwrap());
    let report = w.monitor.run_once().await.unwrap();
    assert_eq!(report.alerts.len(), 1, "{report:?}");
    assert_eq!(report.alerts[0].episode, 2);

    // Used once: the same token again changes nothing and says why.
    let again = w.services.act_on_alert(&rearm).await.unwrap_err();
    assert!(matches!(again, ServiceError::Conflict { .. }), "{again:?}");

    // Acknowledge and snooze with the first alert's other tokens.
    let acked = w
        .services
        .act_on_alert(&token(&actions, AlertAction::Acknowledge))
        .await
        .unwrap();
    assert_eq!(acked.alert.state, AlertState::Acknowledged);
    let snoozed = w
        .services
        .act_on_alert(&token(&actions, AlertAction::SnoozeHour))
        .await
        .unwrap();
    assert_eq!(
        snoozed.rule.unwrap().snoozed_until,
        Some(w.clock.now() + chrono::Duration::hours(1))
    );
    let open = w
        .services
        .act_on_alert(&token(&actions, AlertAction::SnoozeUntilOpen))
        .await
        .unwrap();
    // 2009-06-03 15:59 New York -> the next morning's open, 09:30 New York.
    assert_eq!(
        open.rule.unwrap().snoozed_until,
        Some(Utc.with_ymd_and_hms(2009, 6, 4, 13, 30, 0).unwrap())
    );

    // The ladder: 30 -> 31.5, armed again.
    let further = w
        .services
        .act_on_alert(&token(&actions, AlertAction::RearmFurther))
        .await
        .unwrap();
    assert!(further.done.contains("from 30 to 31.5"), "{}", further.done);
    let view = w.services.get_rule(who, rule.id).await.unwrap();
    assert_eq!(
        signal_sentinel::service::rule_text(&view.rule),
        "XYZ price > 31.5"
    );
    assert!(view.rule.enabled);
    assert_eq!(
        db.store.get_rule_state(rule.id).await.unwrap().phase,
        RulePhase::Armed
    );

    // A forged token, and one whose week ran out, change nothing.
    let forged = ActionSigner::new(
        Arc::new(ActionKeys::new(
            b"another-secret-key-of-forty-characters-x",
            None,
        )),
        None,
    )
    .actions(&alert, Some(&view.rule), w.clock.now());
    let error = w
        .services
        .act_on_alert(&token(&forged, AlertAction::Acknowledge))
        .await
        .unwrap_err();
    assert!(
        error.to_string().contains("not issued by this server"),
        "{error}"
    );
    let late = w.signer.actions(&alert, Some(&view.rule), w.clock.now());
    w.clock.advance(chrono::Duration::days(8));
    let error = w
        .services
        .act_on_alert(&token(&late, AlertAction::SnoozeHour))
        .await
        .unwrap_err();
    assert!(error.to_string().contains("expired"), "{error}");
    assert!(
        w.services
            .get_rule(who, rule.id)
            .await
            .unwrap()
            .rule
            .snoozed_until
            < Some(w.clock.now())
    );
    // Tokens grant actions: their Debug form does not show them.
    assert!(!format!("{late:?}").contains(&late[0].token));

    // The resolved notice of an alert offers only acknowledging.
    let mut resolved = alert.clone();
    resolved.kind = AlertKind::Resolved;
    let offered: Vec<AlertAction> = w
        .signer
        .actions(&resolved, Some(&view.rule), w.clock.now())
        .iter()
        .map(|a| a.action)
        .collect();
    assert_eq!(offered, [AlertAction::Acknowledge]);
}

/// A rule flapping across its level: the flood guard pauses it at the firing past its limit,
/// that alert says so and offers to re-arm, and re-arming counts afresh.
async fn the_flood_guard_pauses_a_flapping_rule_until_re_armed(db: &TestDb) {
    use signal_sentinel::monitor::FloodGuard;
    let start = Utc.with_ymd_and_hms(2026, 12, 5, 12, 0, 0).unwrap();
    let flapping: Vec<&str> = (0..12)
        .map(|minute| if minute % 2 == 0 { "99" } else { "101" })
        .collect();
    let (services, monitor, clock) = replayed(
        db,
        &minute_bars(start, &flapping),
        start,
        &[("FLOOD_GUARD_FIRINGS", "2"), ("FLOOD_GUARD_MINUTES", "10")],
    );
    let settings = Settings::from_vars([
        ("SECRET_KEY".to_owned(), SECRET.to_owned()),
        ("FLOOD_GUARD_FIRINGS".to_owned(), "2".to_owned()),
        ("FLOOD_GUARD_MINUTES".to_owned(), "10".to_owned()),
    ])
    .unwrap();
    assert_eq!(
        settings.api.flood_guard,
        FloodGuard {
            firings: 2,
            window: chrono::Duration::minutes(10)
        }
    );
    let ann = seed_user(&db.store, "ann@example.com").await;
    let who = Principal {
        user: ann.id,
        api_key: None,
    };
    let rule = add_rule(
        &services,
        who,
        "BTC-USD price > 100",
        RuleOptions::default(),
    )
    .await
    .unwrap();
    let mut fired = Vec::new();
    for minute in 0..8 {
        clock.set(start + chrono::Duration::minutes(minute) + chrono::Duration::seconds(30));
        fired.extend(monitor.run_once().await.unwrap().alerts);
    }
    // Firings at minutes 1, 3 and 5; the third is past the limit of two in ten minutes.
    assert_eq!(fired.len(), 3, "{fired:?}");
    assert!(!fired[1].message.contains("paused"));
    assert!(
        fired[2]
            .message
            .ends_with("(paused: it fired 3 times within 10 minutes; re-arm it to resume)"),
        "{}",
        fired[2].message
    );
    let paused = services.get_rule(who, rule.id).await.unwrap().rule;
    assert!(!paused.enabled);
    let offered = signal_sentinel::service::applicable_actions(&fired[2], Some(&paused));
    assert!(offered.contains(&AlertAction::Rearm), "{offered:?}");

    // Re-armed: it fires again, counted afresh.
    services
        .perform_alert_action(who, fired[2].id, AlertAction::Rearm)
        .await
        .unwrap();
    let mut again = Vec::new();
    for minute in 8..12 {
        clock.set(start + chrono::Duration::minutes(minute) + chrono::Duration::seconds(30));
        again.extend(monitor.run_once().await.unwrap().alerts);
    }
    assert_eq!(again.len(), 2, "{again:?}");
    assert!(again.iter().all(|a| !a.message.contains("paused")));
    assert!(services.get_rule(who, rule.id).await.unwrap().rule.enabled);
}

/// A replayed crypto pair (always trading) at `prices`, one a minute from `start`.
fn minute_bars(start: chrono::DateTime<Utc>, prices: &[&str]) -> String {
    let mut csv = String::from("time,symbol,open,high,low,close,volume\n");
    for (minute, price) in prices.iter().enumerate() {
        let at = start + chrono::Duration::minutes(minute as i64);
        csv.push_str(&format!(
            "{},BTC-USD,{price},{price},{price},{price},\n",
            at.to_rfc3339()
        ));
    }
    csv
}

/// Reminders while the condition holds: every N minutes, at most K, none while snoozed, and
/// a new firing counts again.
async fn reminders_repeat_while_firing_until_their_end(db: &TestDb) {
    use signal_sentinel::engine::Repeat;
    let start = Utc.with_ymd_and_hms(2026, 12, 5, 12, 0, 0).unwrap();
    let prices = [
        "101", "101", "101", "101", "101", "101", "101", "99", "101", "101", "101", "101", "101",
        "101",
    ];
    let (services, monitor, clock) = replayed(db, &minute_bars(start, &prices), start, &[]);
    let ann = seed_user(&db.store, "ann@example.com").await;
    let who = Principal {
        user: ann.id,
        api_key: None,
    };
    crate::helpers::seed_console_channel(&db.store, &ann).await;
    let repeat = RuleOptions {
        repeat: Some(Repeat {
            every_minutes: 2,
            until: None,
            times: Some(2),
        }),
        ..RuleOptions::default()
    };
    let rule = add_rule(&services, who, "BTC-USD price > 100", repeat)
        .await
        .unwrap();
    let mut alerts = Vec::new();
    for minute in 0..prices.len() as i64 {
        clock.set(start + chrono::Duration::minutes(minute) + chrono::Duration::seconds(30));
        if minute == 9 {
            // Snoozed for the rest of the series' second firing: no reminder meanwhile.
            services
                .snooze_rule_for(who, rule.id, std::time::Duration::from_secs(180))
                .await
                .unwrap();
        }
        alerts.extend(
            monitor
                .run_once()
                .await
                .unwrap()
                .alerts
                .into_iter()
                .map(|a| (minute, a)),
        );
    }
    let seen: Vec<(i64, AlertKind, i64, u32)> = alerts
        .iter()
        .map(|(minute, a)| (*minute, a.kind, a.episode, a.reminder))
        .collect();
    assert_eq!(
        seen,
        [
            (0, AlertKind::Fired, 1, 0),
            (2, AlertKind::Reminder, 1, 1),
            (4, AlertKind::Reminder, 1, 2),
            // Two reminders at most; then the price dips (minute 7) and fires again at 8.
            (8, AlertKind::Fired, 2, 0),
            // Snoozed from minute 9 to 12: the reminder due at 10 waits until 12.
            (12, AlertKind::Reminder, 2, 1),
        ]
    );
    let (_, first) = &alerts[1];
    assert_eq!(
        first.message,
        "BTC-USD price > 100 still holds: now 101 (reminder 1)"
    );
    // A reminder's message offers the same actions as the firing's.
    let offered = signal_sentinel::service::applicable_actions(first, Some(&rule));
    assert!(offered.contains(&AlertAction::SnoozeHour), "{offered:?}");
    // Reminders go out as firings (the owner's "fired" preference applies).
    let deliveries = signal_sentinel::store::MonitorStore::list_deliveries(&db.store, first.id)
        .await
        .unwrap();
    assert_eq!(deliveries.len(), 1);
    assert_eq!(
        deliveries[0].event,
        signal_sentinel::domain::DeliveryEvent::Fired
    );

    // Options are checked: no reminders for a rule that fires once, no zero interval.
    let once = RuleOptions {
        frequency: Frequency::Once,
        repeat: Some(Repeat {
            every_minutes: 5,
            until: None,
            times: None,
        }),
        ..RuleOptions::default()
    };
    let refused = add_rule(&services, who, "BTC-USD price > 100", once)
        .await
        .unwrap_err();
    assert!(
        refused.to_string().contains("nothing to repeat"),
        "{refused}"
    );
}

backend_tests!(
    tokens_act_once_for_their_user,
    the_flood_guard_pauses_a_flapping_rule_until_re_armed,
    reminders_repeat_while_firing_until_their_end,
);
