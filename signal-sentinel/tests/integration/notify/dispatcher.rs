use std::collections::HashSet;
use std::sync::Arc;
use std::time::Duration;

use chrono::{TimeZone, Utc};
use serde_json::json;
use signal_sentinel::Secret;
use signal_sentinel::clock::{Clock, ManualClock};
use signal_sentinel::domain::{CycleWrite, DeliveryEvent, DeliveryStatus, NewDelivery, User};
use signal_sentinel::notify::{
    DispatchReport, Dispatcher, DispatcherConfig, EventMode, NotificationPrefs, Notifier,
    QuietBehavior, QuietHours, TelegramNotifier, WebhookNotifier, send_due_digests,
};
use signal_sentinel::store::{ChannelStore, MonitorStore, OutboxStore, SeaStore};
use wiremock::matchers::{body_partial_json, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

use super::{TOKEN, WEBHOOK_SECRET, telegram_channel, webhook_channel};
use crate::helpers::{TestDb, new_alert, seed_rule, seed_user};
use crate::providers::Logs;

fn clock() -> Arc<ManualClock> {
    // Saturday 2026-11-28 15:00 UTC.
    Arc::new(ManualClock::new(
        Utc.with_ymd_and_hms(2026, 11, 28, 15, 0, 0).unwrap(),
    ))
}

fn dispatcher(
    db: &TestDb,
    clock: &Arc<ManualClock>,
    telegram: Option<&MockServer>,
    worker: &str,
) -> Dispatcher {
    dispatcher_on(
        &db.store,
        clock,
        telegram,
        worker,
        DispatcherConfig::default().batch,
    )
}

fn dispatcher_on(
    store: &SeaStore,
    clock: &Arc<ManualClock>,
    telegram: Option<&MockServer>,
    worker: &str,
    batch: u64,
) -> Dispatcher {
    let mut notifiers: Vec<Arc<dyn Notifier>> = vec![Arc::new(
        WebhookNotifier::new(Duration::from_secs(2)).unwrap(),
    )];
    if let Some(server) = telegram {
        notifiers.push(Arc::new(
            TelegramNotifier::new(
                url::Url::parse(&server.uri()).unwrap(),
                Secret::new(TOKEN),
                Duration::from_secs(2),
            )
            .unwrap(),
        ));
    }
    Dispatcher::new(
        Arc::new(store.clone()),
        notifiers,
        clock.clone(),
        DispatcherConfig {
            worker: worker.into(),
            base_backoff: Duration::from_secs(60),
            batch,
            ..DispatcherConfig::default()
        },
    )
}

async fn queue(
    store: &SeaStore,
    user: &User,
    channel: signal_sentinel::domain::ChannelId,
    n: usize,
    clock: &ManualClock,
) -> Vec<signal_sentinel::domain::Delivery> {
    store
        .enqueue_deliveries(
            (0..n)
                .map(|i| NewDelivery {
                    channel_id: channel,
                    user_id: user.id,
                    event: DeliveryEvent::System,
                    body: format!("notice {i}"),
                })
                .collect(),
            clock.now(),
        )
        .await
        .unwrap()
}

fn ok() -> ResponseTemplate {
    ResponseTemplate::new(200).set_body_json(json!({"ok": true, "result": {"message_id": 1}}))
}

async fn alerts_reach_telegram_and_webhook_once(db: &TestDb) {
    let clock = clock();
    let (logs, _guard) = Logs::capture();
    let (tg, wh) = (MockServer::start().await, MockServer::start().await);
    Mock::given(path(format!("/bot{TOKEN}/sendMessage")))
        .respond_with(ok())
        .expect(1)
        .mount(&tg)
        .await;
    Mock::given(path("/hook"))
        .respond_with(ResponseTemplate::new(200))
        .expect(1)
        .mount(&wh)
        .await;
    let user = seed_user(&db.store, "ann@example.com").await;
    telegram_channel(&db.store, user.id, 42).await;
    webhook_channel(&db.store, user.id, &format!("{}/hook", wh.uri())).await;
    let rule = seed_rule(&db.store, &user, "AAPL").await;
    // The monitor's transaction: the alert and one delivery per channel.
    let stored = db
        .store
        .commit_cycle(CycleWrite {
            at: Some(clock.now()),
            alerts: vec![new_alert(&rule, 1, "101.5", clock.now())],
            ..CycleWrite::default()
        })
        .await
        .unwrap();
    let deliveries = db.store.list_deliveries(stored[0].id).await.unwrap();
    assert_eq!(deliveries.len(), 2);
    let report = dispatcher(db, &clock, Some(&tg), "a")
        .run_once()
        .await
        .unwrap();
    assert_eq!(
        report,
        DispatchReport {
            claimed: 2,
            sent: 2,
            ..DispatchReport::default()
        }
    );
    for d in db.store.list_deliveries(stored[0].id).await.unwrap() {
        assert_eq!((d.status, d.attempts), (DeliveryStatus::Sent, 1));
    }
    let body: serde_json::Value =
        serde_json::from_slice(&wh.received_requests().await.unwrap()[0].body).unwrap();
    assert_eq!(body["alert"]["symbol"], "AAPL");
    assert_eq!(body["text"], "AAPL crossed at 101.5");
    // Nothing left.
    assert_eq!(
        dispatcher(db, &clock, Some(&tg), "a")
            .run_once()
            .await
            .unwrap()
            .claimed,
        0
    );
    let text = logs.text();
    assert!(
        !text.contains(TOKEN) && !text.contains(WEBHOOK_SECRET),
        "{text}"
    );
}

/// The commit that stores alerts wakes a running dispatcher: with an interval of an hour, the
/// second alert is delivered only because its commit signalled it (in this process, and on
/// PostgreSQL through `NOTIFY`).
async fn a_commit_of_alerts_wakes_the_dispatcher(db: &TestDb) {
    let clock = clock();
    let wh = MockServer::start().await;
    Mock::given(path("/hook"))
        .respond_with(ResponseTemplate::new(200))
        .expect(2)
        .mount(&wh)
        .await;
    let user = seed_user(&db.store, "ann@example.com").await;
    webhook_channel(&db.store, user.id, &format!("{}/hook", wh.uri())).await;
    let rule = seed_rule(&db.store, &user, "AAPL").await;
    let commit = |episode: i64| {
        let store = db.store.clone();
        let alert = new_alert(&rule, episode, "101.5", clock.now());
        let at = clock.now();
        async move {
            store
                .commit_cycle(CycleWrite {
                    at: Some(at),
                    alerts: vec![alert],
                    ..CycleWrite::default()
                })
                .await
                .unwrap();
        }
    };
    let received = |n: usize| {
        let wh = &wh;
        async move {
            // A safety limit, not a timing: the hour-long interval cannot deliver it.
            for _ in 0..500 {
                if wh.received_requests().await.unwrap().len() >= n {
                    return true;
                }
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
            false
        }
    };
    commit(1).await;
    let running = dispatcher(db, &clock, None, "a");
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let task = tokio::spawn(async move {
        running
            .run(Duration::from_secs(3600), async {
                let _ = stopped.await;
            })
            .await;
    });
    assert!(received(1).await, "the first round sends what is waiting");
    commit(2).await;
    assert!(received(2).await, "the commit woke the dispatcher");
    let _ = stop.send(());
    task.await.unwrap();
}

/// A channel with resolved notices turned off gets the firing, not the resolution; the other
/// channel gets both.
async fn resolved_notices_go_only_where_they_are_wanted(db: &TestDb) {
    let clock = clock();
    let (quiet, chatty) = (MockServer::start().await, MockServer::start().await);
    for server in [&quiet, &chatty] {
        Mock::given(path("/hook"))
            .respond_with(ResponseTemplate::new(200))
            .mount(server)
            .await;
    }
    let user = seed_user(&db.store, "ann@example.com").await;
    let off = webhook_channel(&db.store, user.id, &format!("{}/hook", quiet.uri())).await;
    db.store
        .create_channel(signal_sentinel::domain::NewChannel {
            name: "chatty".into(),
            config: json!({"url": format!("{}/hook", chatty.uri())}),
            owner: user.id,
            kind: off.kind,
            secret: Some(Secret::new(WEBHOOK_SECRET)),
        })
        .await
        .unwrap();
    let mut config = off.config.clone();
    config["resolved"] = json!(false);
    db.store.set_channel_config(off.id, config).await.unwrap();
    let rule = seed_rule(&db.store, &user, "AAPL").await;
    let mut resolved = new_alert(&rule, 1, "99", clock.now());
    resolved.kind = signal_sentinel::domain::AlertKind::Resolved;
    db.store
        .commit_cycle(CycleWrite {
            at: Some(clock.now()),
            alerts: vec![new_alert(&rule, 1, "101.5", clock.now()), resolved],
            ..CycleWrite::default()
        })
        .await
        .unwrap();
    let report = dispatcher(db, &clock, None, "a").run_once().await.unwrap();
    assert_eq!((report.sent, report.skipped), (3, 1), "{report:?}");
    async fn events(server: &MockServer) -> Vec<serde_json::Value> {
        server
            .received_requests()
            .await
            .unwrap()
            .iter()
            .map(|r| serde_json::from_slice::<serde_json::Value>(&r.body).unwrap()["event"].clone())
            .collect()
    }
    assert_eq!(events(&quiet).await, [json!("alert.fired")]);
    let mut both = events(&chatty).await;
    both.sort_by_key(ToString::to_string);
    assert_eq!(both, [json!("alert.fired"), json!("alert.resolved")]);
}

async fn failures_retry_with_backoff_then_succeed_or_give_up(db: &TestDb) {
    let clock = clock();
    let (tg, wh) = (MockServer::start().await, MockServer::start().await);
    Mock::given(path("/hook"))
        .respond_with(ResponseTemplate::new(500))
        .up_to_n_times(1)
        .with_priority(1)
        .mount(&wh)
        .await;
    Mock::given(path("/hook"))
        .respond_with(ResponseTemplate::new(200))
        .mount(&wh)
        .await;
    Mock::given(path(format!("/bot{TOKEN}/sendMessage")))
        .and(body_partial_json(json!({"chat_id": 403})))
        .respond_with(ResponseTemplate::new(403).set_body_json(json!({"ok": false, "error_code": 403, "description": "Forbidden: bot was blocked by the user"})))
        .mount(&tg)
        .await;
    Mock::given(path(format!("/bot{TOKEN}/sendMessage")))
        .and(body_partial_json(json!({"chat_id": 429})))
        .respond_with(ResponseTemplate::new(429).set_body_json(json!({"ok": false, "error_code": 429, "description": "Too Many Requests: retry after 7", "parameters": {"retry_after": 7}})))
        .mount(&tg)
        .await;
    let user = seed_user(&db.store, "ann@example.com").await;
    let hook = webhook_channel(&db.store, user.id, &format!("{}/hook", wh.uri())).await;
    let blocked = telegram_channel(&db.store, user.id, 403).await;
    let limited = telegram_channel(&db.store, user.id, 429).await;
    let h = queue(&db.store, &user, hook.id, 1, &clock).await.remove(0);
    let b = queue(&db.store, &user, blocked.id, 1, &clock)
        .await
        .remove(0);
    let l = queue(&db.store, &user, limited.id, 1, &clock)
        .await
        .remove(0);
    let d = dispatcher(db, &clock, Some(&tg), "a");
    let report = d.run_once().await.unwrap();
    assert_eq!((report.retried, report.given_up), (2, 1));
    let h1 = db.store.get_delivery(h.id).await.unwrap();
    assert_eq!(
        (h1.status, h1.attempts, h1.last_error.as_deref()),
        (
            DeliveryStatus::Pending,
            1,
            Some("the webhook answered HTTP 500")
        )
    );
    let wait = h1.next_attempt_at - clock.now();
    assert!(
        wait >= chrono::Duration::seconds(47) && wait <= chrono::Duration::seconds(73),
        "backoff 60 s ± 20%: {wait}"
    );
    let l1 = db.store.get_delivery(l.id).await.unwrap();
    assert_eq!(
        l1.next_attempt_at - clock.now(),
        chrono::Duration::seconds(7),
        "Telegram's retry_after"
    );
    let b1 = db.store.get_delivery(b.id).await.unwrap();
    assert_eq!(b1.status, DeliveryStatus::GivenUp);
    let channel = db.store.get_channel(blocked.id).await.unwrap();
    assert_eq!(
        channel.last_error.as_deref(),
        Some("Telegram: Forbidden: bot was blocked by the user"),
        "shown to the user"
    );
    // Not due yet: nothing. After the backoff: the webhook succeeds.
    assert_eq!(d.run_once().await.unwrap().claimed, 0);
    clock.advance(chrono::Duration::seconds(80));
    let report = d.run_once().await.unwrap();
    assert_eq!(report.sent, 1);
    assert_eq!(db.store.get_delivery(h.id).await.unwrap().attempts, 2);
    assert!(
        db.store
            .get_channel(hook.id)
            .await
            .unwrap()
            .last_ok_at
            .is_some()
    );
    // The rate-limited one keeps failing until it is too old.
    clock.advance(chrono::Duration::hours(25));
    let report = d.run_once().await.unwrap();
    assert_eq!(report.given_up, 1);
    let l2 = db.store.get_delivery(l.id).await.unwrap();
    assert_eq!(l2.status, DeliveryStatus::GivenUp);
    assert!(
        l2.last_error
            .unwrap()
            .starts_with("not delivered within 24 hours")
    );
}

async fn a_crash_between_send_and_mark_resends_never_loses(db: &TestDb) {
    let clock = clock();
    let wh = MockServer::start().await;
    Mock::given(path("/hook"))
        .respond_with(ResponseTemplate::new(200))
        .mount(&wh)
        .await;
    let user = seed_user(&db.store, "ann@example.com").await;
    let hook = webhook_channel(&db.store, user.id, &format!("{}/hook", wh.uri())).await;
    let d = queue(&db.store, &user, hook.id, 1, &clock).await.remove(0);
    // A dispatcher claims and sends, then dies before recording.
    let claimed = db
        .store
        .claim_deliveries("dead", clock.now(), chrono::Duration::minutes(2), 10)
        .await
        .unwrap();
    assert_eq!(claimed.len(), 1);
    let channel = db.store.get_channel(hook.id).await.unwrap();
    WebhookNotifier::new(Duration::from_secs(2))
        .unwrap()
        .send(
            &channel,
            &signal_sentinel::notify::OutgoingMessage {
                delivery_id: d.id,
                event: d.event,
                text: "notice 0".into(),
                alert: None,
                silent: false,
                actions: Vec::new(),
                priority: None,
            },
        )
        .await
        .unwrap();
    // Another dispatcher leaves it alone while the claim lasts, then sends it again.
    let live = dispatcher(db, &clock, None, "live");
    assert_eq!(live.run_once().await.unwrap().claimed, 0);
    clock.advance(chrono::Duration::minutes(3));
    assert_eq!(live.run_once().await.unwrap().sent, 1);
    let keys: Vec<String> = wh
        .received_requests()
        .await
        .unwrap()
        .iter()
        .map(|r| {
            r.headers
                .get("Idempotency-Key")
                .unwrap()
                .to_str()
                .unwrap()
                .to_owned()
        })
        .collect();
    assert_eq!(
        keys,
        [d.id.to_string(), d.id.to_string()],
        "at least once, with the same key for the receiver"
    );
    assert_eq!(
        db.store.get_delivery(d.id).await.unwrap().status,
        DeliveryStatus::Sent
    );
}

/// A send slower than the claim's lease keeps its claim (the dispatcher renews it while it
/// sends): another dispatcher does not take the delivery and send it a second time. The lease
/// is short, so a dispatcher that dies mid-send is replaced within seconds.
async fn a_slow_send_keeps_its_claim(db: &TestDb) {
    let clock = clock();
    let wh = MockServer::start().await;
    Mock::given(path("/hook"))
        .respond_with(ResponseTemplate::new(200).set_delay(Duration::from_millis(1_500)))
        .expect(1)
        .mount(&wh)
        .await;
    let user = seed_user(&db.store, "ann@example.com").await;
    let hook = webhook_channel(&db.store, user.id, &format!("{}/hook", wh.uri())).await;
    queue(&db.store, &user, hook.id, 1, &clock).await;
    let config = |worker: &str| DispatcherConfig {
        worker: worker.into(),
        lease: chrono::Duration::milliseconds(300),
        ..DispatcherConfig::default()
    };
    let notifiers = || -> Vec<Arc<dyn Notifier>> {
        vec![Arc::new(
            WebhookNotifier::new(Duration::from_secs(5)).unwrap(),
        )]
    };
    let store: Arc<SeaStore> = Arc::new(db.store.clone());
    let slow = Dispatcher::new(store.clone(), notifiers(), clock.clone(), config("slow"));
    let sending = tokio::spawn(async move { slow.run_once().await.unwrap() });
    // Once the request is in flight, the lease it was claimed with runs out …
    let deadline = std::time::Instant::now() + Duration::from_secs(5);
    while wh.received_requests().await.unwrap().is_empty() {
        assert!(
            std::time::Instant::now() < deadline,
            "the send never started"
        );
        tokio::task::yield_now().await;
    }
    clock.advance(chrono::Duration::seconds(1));
    // … and the renewal timer (every 100 ms of real time) extends it from the new now.
    tokio::time::sleep(Duration::from_millis(400)).await;
    let other = Dispatcher::new(store, notifiers(), clock.clone(), config("other"));
    assert_eq!(other.run_once().await.unwrap().claimed, 0);
    assert_eq!(sending.await.unwrap().sent, 1);
}

/// Three dispatchers, each with connections of its own as three processes have, drain one
/// outbox together: every delivery is sent exactly once (their claims skip each other's locked
/// rows instead of waiting or taking them twice).
async fn three_dispatchers_send_each_delivery_once(db: &TestDb) {
    const N: usize = 150;
    let clock = clock();
    let wh = MockServer::start().await;
    Mock::given(path("/hook"))
        .respond_with(ResponseTemplate::new(200).set_delay(Duration::from_millis(5)))
        .mount(&wh)
        .await;
    let user = seed_user(&db.store, "ann@example.com").await;
    let hook = webhook_channel(&db.store, user.id, &format!("{}/hook", wh.uri())).await;
    let queued = queue(&db.store, &user, hook.id, N, &clock).await;
    let mut dispatchers = Vec::new();
    for name in ["a", "b", "c"] {
        let store = db.another_process().await;
        dispatchers.push(dispatcher_on(&store, &clock, None, name, 20));
    }
    let mut sent = [0; 3];
    let mut rounds = 0;
    loop {
        let reports =
            futures_util::future::join_all(dispatchers.iter().map(|d| d.run_once())).await;
        let mut claimed = 0;
        for (i, report) in reports.into_iter().enumerate() {
            let report = report.unwrap();
            claimed += report.claimed;
            sent[i] += report.sent;
        }
        rounds += 1;
        if claimed == 0 {
            break;
        }
        assert!(rounds < 50, "the outbox does not drain");
    }
    assert_eq!(sent.iter().sum::<usize>(), N, "{sent:?}");
    assert!(
        sent.iter().all(|&s| s > 0),
        "each dispatcher took a share: {sent:?}"
    );
    let keys: Vec<String> = wh
        .received_requests()
        .await
        .unwrap()
        .iter()
        .map(|r| {
            r.headers
                .get("Idempotency-Key")
                .unwrap()
                .to_str()
                .unwrap()
                .to_owned()
        })
        .collect();
    assert_eq!(keys.len(), N, "one request per delivery");
    assert_eq!(
        keys.iter().collect::<HashSet<_>>().len(),
        N,
        "no delivery twice"
    );
    for d in queued {
        assert_eq!(
            db.store.get_delivery(d.id).await.unwrap().status,
            DeliveryStatus::Sent
        );
    }
}

async fn preferences_skip_silence_and_hold(db: &TestDb) {
    let clock = clock(); // 16:00 in Berlin
    let tg = MockServer::start().await;
    Mock::given(path(format!("/bot{TOKEN}/sendMessage")))
        .respond_with(ok())
        .mount(&tg)
        .await;
    let user = seed_user(&db.store, "ann@example.com").await;
    let chat = telegram_channel(&db.store, user.id, 42).await;
    let mut prefs = NotificationPrefs {
        time_zone: "Europe/Berlin".into(),
        quiet_hours: Some(QuietHours {
            start: chrono::NaiveTime::from_hms_opt(22, 0, 0).unwrap(),
            end: chrono::NaiveTime::from_hms_opt(7, 0, 0).unwrap(),
            behavior: QuietBehavior::Hold,
        }),
        ..NotificationPrefs::default()
    };
    prefs.events.system = EventMode::Silent;
    prefs.events.digest = EventMode::Off;
    db.store
        .set_notification_prefs(user.id, prefs.to_document())
        .await
        .unwrap();
    let system = queue(&db.store, &user, chat.id, 1, &clock).await.remove(0);
    let digest = db
        .store
        .enqueue_deliveries(
            vec![NewDelivery {
                channel_id: chat.id,
                user_id: user.id,
                event: DeliveryEvent::Digest,
                body: "d".into(),
            }],
            clock.now(),
        )
        .await
        .unwrap()
        .remove(0);
    let report = dispatcher(db, &clock, Some(&tg), "a")
        .run_once()
        .await
        .unwrap();
    assert_eq!((report.sent, report.skipped), (1, 1));
    assert_eq!(
        db.store.get_delivery(digest.id).await.unwrap().status,
        DeliveryStatus::Skipped
    );
    let request: serde_json::Value =
        serde_json::from_slice(&tg.received_requests().await.unwrap()[0].body).unwrap();
    assert_eq!(
        request["disable_notification"], true,
        "system notices are silent"
    );
    assert_eq!(
        db.store.get_delivery(system.id).await.unwrap().status,
        DeliveryStatus::Sent
    );
    // At 23:30 Berlin a new notice is held until 07:00.
    clock.set(Utc.with_ymd_and_hms(2026, 11, 28, 22, 30, 0).unwrap());
    let held = queue(&db.store, &user, chat.id, 1, &clock).await.remove(0);
    let report = dispatcher(db, &clock, Some(&tg), "a")
        .run_once()
        .await
        .unwrap();
    assert_eq!(report.held, 1);
    let h = db.store.get_delivery(held.id).await.unwrap();
    assert_eq!((h.status, h.attempts), (DeliveryStatus::Pending, 0));
    assert_eq!(
        h.next_attempt_at,
        Utc.with_ymd_and_hms(2026, 11, 29, 6, 0, 0).unwrap()
    );
}

async fn daily_digests_once_a_day(db: &TestDb) {
    let clock = clock(); // 10:00 New York
    let user = seed_user(&db.store, "ann@example.com").await;
    let chat = telegram_channel(&db.store, user.id, 42).await;
    let rule = seed_rule(&db.store, &user, "AAPL").await;
    db.store
        .commit_cycle(CycleWrite {
            at: Some(clock.now()),
            alerts: vec![new_alert(
                &rule,
                1,
                "101.5",
                clock.now() - chrono::Duration::hours(1),
            )],
            ..CycleWrite::default()
        })
        .await
        .unwrap();
    let prefs = NotificationPrefs {
        digest_at: Some(chrono::NaiveTime::from_hms_opt(16, 30, 0).unwrap()),
        ..NotificationPrefs::default()
    };
    db.store
        .set_notification_prefs(user.id, prefs.to_document())
        .await
        .unwrap();
    // Holdings with earnings in the coming week get a line of their own.
    {
        use signal_sentinel::domain::{
            CorporateEvent, EventKind, HoldingSource, NewHolding, ReportHour,
        };
        use signal_sentinel::store::{EventStore, HoldingStore};
        for held in ["AAPL", "MSFT"] {
            db.store
                .upsert_holding(NewHolding {
                    owner: user.id,
                    account: String::new(),
                    symbol: crate::helpers::symbol(held),
                    quantity: crate::helpers::dec("3"),
                    cost_basis: None,
                    source: HoldingSource::Manual,
                    connection: None,
                })
                .await
                .unwrap();
        }
        let event = |s: &str, date: &str, kind| {
            CorporateEvent::new(
                crate::helpers::symbol(s),
                date.parse().unwrap(),
                kind,
                "test",
            )
            .unwrap()
        };
        let earnings = EventKind::Earnings {
            hour: Some(ReportHour::AfterClose),
        };
        let dividend = EventKind::Dividend {
            amount: crate::helpers::dec("0.26"),
        };
        let day: chrono::NaiveDate = "2026-11-28".parse().unwrap();
        db.store
            .save_events(
                &crate::helpers::symbol("AAPL"),
                &[
                    event("AAPL", "2026-12-01", earnings),
                    event("AAPL", "2026-11-30", dividend),
                ],
                day,
            )
            .await
            .unwrap();
        db.store
            .save_events(
                &crate::helpers::symbol("MSFT"),
                &[event(
                    "MSFT",
                    "2026-12-10",
                    EventKind::Earnings { hour: None },
                )],
                day,
            )
            .await
            .unwrap();
        db.store
            .save_events(
                &crate::helpers::symbol("NVDA"),
                &[event(
                    "NVDA",
                    "2026-11-30",
                    EventKind::Earnings { hour: None },
                )],
                day,
            )
            .await
            .unwrap();
    }
    assert!(
        send_due_digests(&db.store, clock.as_ref(), None)
            .await
            .unwrap()
            .users
            .is_empty(),
        "not 16:30 yet"
    );
    clock.set(Utc.with_ymd_and_hms(2026, 11, 28, 21, 45, 0).unwrap()); // 16:45 New York
    let report = send_due_digests(&db.store, clock.as_ref(), None)
        .await
        .unwrap();
    assert_eq!((report.users, report.deliveries), (vec![user.id], 1));
    assert!(
        send_due_digests(&db.store, clock.as_ref(), None)
            .await
            .unwrap()
            .users
            .is_empty(),
        "once a day"
    );
    let claimed = db
        .store
        .claim_deliveries("t", clock.now(), chrono::Duration::minutes(1), 10)
        .await
        .unwrap();
    let digest = claimed
        .iter()
        .find(|d| d.event == DeliveryEvent::Digest)
        .unwrap();
    assert_eq!(digest.channel_id, chat.id);
    assert_eq!(
        digest.body.as_deref(),
        Some(
            "Daily digest, Saturday 28 November 2026: 1 alert\n• 09:00 — AAPL crossed at 101.5\n\
             Earnings this week: AAPL Tue 1 Dec after the close"
        )
    );
}

async fn summaries_end_the_telegram_message_unless_turned_off(db: &TestDb) {
    use signal_sentinel::store::AlertStore;
    let clock = clock();
    let tg = MockServer::start().await;
    Mock::given(path(format!("/bot{TOKEN}/sendMessage")))
        .respond_with(ok())
        .mount(&tg)
        .await;
    let user = seed_user(&db.store, "ann@example.com").await;
    telegram_channel(&db.store, user.id, 42).await;
    let rule = seed_rule(&db.store, &user, "AAPL").await;
    let mut texts = Vec::new();
    for (episode, summaries) in [(1, true), (2, false)] {
        let prefs = NotificationPrefs {
            summaries,
            ..NotificationPrefs::default()
        };
        db.store
            .set_notification_prefs(user.id, prefs.to_document())
            .await
            .unwrap();
        let stored = db
            .store
            .commit_cycle(CycleWrite {
                at: Some(clock.now()),
                alerts: vec![new_alert(&rule, episode, "101.5", clock.now())],
                ..CycleWrite::default()
            })
            .await
            .unwrap();
        db.store
            .set_alert_summary(stored[0].id, "AAPL rose 2% today.".into())
            .await
            .unwrap();
        dispatcher(db, &clock, Some(&tg), "a")
            .run_once()
            .await
            .unwrap();
        let requests = tg.received_requests().await.unwrap();
        let body: serde_json::Value =
            serde_json::from_slice(&requests.last().unwrap().body).unwrap();
        texts.push(body["text"].as_str().unwrap().to_owned());
    }
    assert!(
        texts[0].ends_with("\n\nAAPL rose 2% today."),
        "{}",
        texts[0]
    );
    assert!(!texts[1].contains("AAPL rose 2% today."), "{}", texts[1]);
}

backend_tests!(
    a_commit_of_alerts_wakes_the_dispatcher,
    summaries_end_the_telegram_message_unless_turned_off,
    alerts_reach_telegram_and_webhook_once,
    resolved_notices_go_only_where_they_are_wanted,
    failures_retry_with_backoff_then_succeed_or_give_up,
    a_crash_between_send_and_mark_resends_never_loses,
    a_slow_send_keeps_its_claim,
    three_dispatchers_send_each_delivery_once,
    preferences_skip_silence_and_hold,
    daily_digests_once_a_day,
);
