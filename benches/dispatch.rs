//! The notification dispatcher against a local webhook receiver (a mock answering 200):
//!
//! - throughput: 5,000 queued alert deliveries sent by one dispatcher (batches of 100, 8 in
//!   flight), deliveries per second; then 5,000 more by three dispatchers at once, each with
//!   connections of its own as three processes have (they claim with `SKIP LOCKED` on
//!   PostgreSQL; on SQLite their claims take turns);
//! - latency: 500 alerts stored one every 10 ms while the dispatcher runs as `invest serve`
//!   runs it (looking at the outbox every 5 s, and woken by each commit that stores alerts),
//!   the time from an alert being stored to its delivery being sent (median, p99).
//!
//! `BENCH_CHANNEL` picks the channel kind (`webhook` by default; `ntfy`, `discord`, `slack`,
//! `gotify`, `pushover`, `matrix`, `email`): its notifier sends to a local mock answering as
//! that service does (for e-mail, a small SMTP server on loopback: one SMTP conversation per
//! message, login included).
//!
//! ```text
//! cargo bench -p benches --bench dispatch
//! BENCH_CHANNEL=matrix cargo bench -p benches --bench dispatch
//! BENCH_DATABASE_URL=postgres://postgres@127.0.0.1/ss_bench cargo bench -p benches --bench dispatch
//! ```

use std::sync::Arc;
use std::time::{Duration, Instant};

use rust_decimal::Decimal;
use serde_json::json;
use signal_sentinel::Secret;
use signal_sentinel::clock::{Clock, SystemClock};
use signal_sentinel::config::DatabaseUrl;
use signal_sentinel::domain::{
    AlertKind, AlertQuery, ChannelKind, CycleWrite, NewAlert, NewChannel,
};
use signal_sentinel::notify::{
    DiscordNotifier, Dispatcher, DispatcherConfig, GotifyNotifier, MatrixNotifier, Notifier,
    NtfyNotifier, PushoverNotifier, SlackNotifier, WebhookNotifier,
};
use signal_sentinel::rules::{RuleInput, prepare_rule};
use signal_sentinel::store::{ChannelStore, RuleStore, SeaStore, Store};
use wiremock::matchers::any;
use wiremock::{Mock, MockServer, ResponseTemplate};

/// The channel (settings, secret) and its notifier for `kind`, sending to `mock`; what the
/// mock answers, as the service does.
fn channel(
    kind: ChannelKind,
    mock: &str,
    smtp_port: u16,
) -> (
    serde_json::Value,
    &'static str,
    Arc<dyn Notifier>,
    ResponseTemplate,
) {
    let base = url::Url::parse(mock).unwrap();
    let timeout = Duration::from_secs(10);
    let ok = |body: serde_json::Value| ResponseTemplate::new(200).set_body_json(body);
    match kind {
        ChannelKind::Webhook => (
            json!({"url": format!("{mock}/hook")}),
            "whsec-bench-0123456789",
            Arc::new(WebhookNotifier::new(timeout).unwrap()),
            ResponseTemplate::new(200),
        ),
        ChannelKind::Ntfy => (
            json!({"server": mock, "topic": "bench"}),
            "tk_bench",
            Arc::new(NtfyNotifier::new(timeout, None).unwrap()),
            ok(json!({"id": "x", "event": "message", "topic": "bench"})),
        ),
        ChannelKind::Discord => (
            json!({"webhook_id": "123"}),
            "token",
            Arc::new(DiscordNotifier::new(base, timeout, None).unwrap()),
            ok(json!({"id": "1"})),
        ),
        ChannelKind::Slack => (
            json!({"workspace": "T1"}),
            "T1/B2/X3",
            Arc::new(SlackNotifier::new(base, timeout, None).unwrap()),
            ResponseTemplate::new(200).set_body_string("ok"),
        ),
        ChannelKind::Gotify => (
            json!({"server": mock}),
            "AppToken",
            Arc::new(GotifyNotifier::new(timeout, None).unwrap()),
            ok(json!({"id": 1})),
        ),
        ChannelKind::Pushover => (
            json!({}),
            "userkey@apptoken",
            Arc::new(PushoverNotifier::new(base, timeout, None).unwrap()),
            ok(json!({"status": 1, "request": "r"})),
        ),
        ChannelKind::Matrix => (
            json!({"homeserver": mock, "room": "!room:example.org"}),
            "syt_token",
            Arc::new(MatrixNotifier::new(timeout).unwrap()),
            ok(json!({"event_id": "$e"})),
        ),
        ChannelKind::Email => (
            json!({"to": "bench@example.com"}),
            "",
            Arc::new(signal_sentinel::notify::EmailNotifier::new(
                Some(signal_sentinel::notify::SmtpServer {
                    host: "127.0.0.1".into(),
                    port: smtp_port,
                    security: signal_sentinel::notify::SmtpSecurity::None,
                    user: Some("bench".into()),
                    password: Some(Secret::new("bench-password")),
                }),
                Some("Signal Sentinel <alerts@example.com>".into()),
                timeout,
                None,
            )),
            ResponseTemplate::new(200),
        ),
        other => panic!("no bench for {other} channels"),
    }
}

fn main() {
    let runtime = benches::runtime();
    runtime.block_on(async {
        let kind: ChannelKind = std::env::var("BENCH_CHANNEL")
            .unwrap_or_else(|_| "webhook".into())
            .parse()
            .expect("BENCH_CHANNEL names a channel kind");
        let hook = MockServer::start().await;
        let smtp = test_support::smtp::Smtp::start(test_support::smtp::Behaviour::Accept).await;
        let (config, secret, notifier, answer) = channel(kind, &hook.uri(), smtp.port);
        Mock::given(any()).respond_with(answer).mount(&hook).await;
        let dir = tempfile::tempdir().unwrap();
        let url = benches::database_url(dir.path(), "dispatch.db");
        let store = SeaStore::open(&DatabaseUrl::parse(&url).unwrap())
            .await
            .unwrap();
        let user = benches::bench_user(&store, "bench@example.com").await;
        store
            .create_channel(NewChannel {
                owner: user.id,
                name: "bench".into(),
                kind,
                config,
                secret: (!secret.is_empty()).then(|| Secret::new(secret)),
            })
            .await
            .unwrap();
        let rule = store
            .create_rule(
                prepare_rule(
                    user.id,
                    RuleInput {
                        text: "AAPL price > 1".into(),
                        ..RuleInput::default()
                    },
                )
                .unwrap(),
            )
            .await
            .unwrap();
        let store: Arc<dyn Store> = Arc::new(store);
        let clock: Arc<dyn Clock> = Arc::new(SystemClock);
        let notifiers: Vec<Arc<dyn Notifier>> = vec![notifier.clone()];
        let dispatcher = Dispatcher::new(
            store.clone(),
            notifiers,
            clock.clone(),
            DispatcherConfig::default(),
        );
        let alert = |episode: i64| NewAlert {
            rule_id: rule.id,
            owner: user.id,
            symbol: rule.symbol.clone(),
            episode,
            kind: AlertKind::Fired,
            price: Decimal::new(20_150, 2),
            message: "AAPL price > 1: now 201.50".into(),
            fired_at: clock.now(),
            reminder: 0,
        };

        // Throughput: a backlog of 5,000.
        let backlog: Vec<NewAlert> = (1..=5_000).map(alert).collect();
        store
            .commit_cycle(CycleWrite {
                at: Some(clock.now()),
                alerts: backlog,
                ..CycleWrite::default()
            })
            .await
            .unwrap();
        let label = format!(
            "{kind}, {}",
            if url.starts_with("postgres") {
                "PostgreSQL"
            } else {
                "SQLite file"
            }
        );
        let (sent, elapsed) = drain(std::slice::from_ref(&dispatcher)).await;
        println!(
            "throughput, 1 dispatcher: {sent} deliveries in {elapsed:.2?} = {:.0} deliveries/s ({label})",
            sent as f64 / elapsed.as_secs_f64(),
        );
        let mut three = Vec::new();
        for _ in 0..3 {
            let own: Arc<dyn Store> =
                Arc::new(SeaStore::connect(&DatabaseUrl::parse(&url).unwrap()).await.unwrap());
            let notifiers: Vec<Arc<dyn Notifier>> =
                vec![channel(kind, &hook.uri(), smtp.port).2];
            three.push(Dispatcher::new(
                own,
                notifiers,
                clock.clone(),
                DispatcherConfig::default(),
            ));
        }
        store
            .commit_cycle(CycleWrite {
                at: Some(clock.now()),
                alerts: (10_001..=15_000).map(alert).collect(),
                ..CycleWrite::default()
            })
            .await
            .unwrap();
        let (sent, elapsed) = drain(&three).await;
        // Requests (or, for e-mail, messages) the receiver took: resends would show here.
        let requests = match kind {
            ChannelKind::Email => smtp.received().len(),
            _ => hook.received_requests().await.unwrap_or_default().len(),
        };
        println!(
            "throughput, 3 dispatchers: {sent} deliveries in {elapsed:.2?} = {:.0} deliveries/s ({label}); {requests} requests received for 10,000 deliveries",
            sent as f64 / elapsed.as_secs_f64(),
        );

        // Latency: alerts arriving while the dispatcher runs.
        let (stop, stopped) = tokio::sync::watch::channel(());
        let running = tokio::spawn({
            let dispatcher = dispatcher.clone();
            let mut stopped = stopped.clone();
            async move {
                dispatcher
                    .run(Duration::from_secs(5), async move {
                        let _ = stopped.changed().await;
                    })
                    .await
            }
        });
        for episode in 5_001..=5_500 {
            store
                .commit_cycle(CycleWrite {
                    at: Some(clock.now()),
                    alerts: vec![alert(episode)],
                    ..CycleWrite::default()
                })
                .await
                .unwrap();
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
        let _ = stop.send(());
        running.await.unwrap();
        let mut latencies: Vec<i64> = Vec::new();
        let mut before = None;
        loop {
            let page = store
                .list_alerts(&AlertQuery {
                    before,
                    ..AlertQuery::newest(user.id, 500)
                })
                .await
                .unwrap();
            let Some(last) = page.last() else { break };
            before = Some(last.into());
            for a in page.iter().filter(|a| (5_001..=5_500).contains(&a.episode)) {
                for d in store.list_deliveries(a.id).await.unwrap() {
                    if let Some(sent_at) = d.sent_at {
                        latencies.push((sent_at - d.created_at).num_milliseconds());
                    }
                }
            }
            if page.iter().all(|a| a.episode <= 5_000) {
                break;
            }
        }
        latencies.sort_unstable();
        let pct = |p: f64| latencies[((latencies.len() as f64 - 1.0) * p).round() as usize];
        println!(
            "latency (stored → sent), {} alerts: median {} ms, p99 {} ms, max {} ms",
            latencies.len(),
            pct(0.5),
            pct(0.99),
            latencies.last().unwrap()
        );
    });
}

/// Runs `dispatchers` at once, each claiming batches until it finds nothing due; how many
/// they sent together and how long it took.
async fn drain(dispatchers: &[Dispatcher]) -> (usize, Duration) {
    let started = Instant::now();
    let tasks: Vec<_> = dispatchers
        .iter()
        .cloned()
        .map(|d| {
            tokio::spawn(async move {
                let mut sent = 0;
                loop {
                    let report = d.run_once().await.unwrap();
                    if report.claimed == 0 {
                        return sent;
                    }
                    sent += report.sent;
                }
            })
        })
        .collect();
    let mut sent = 0;
    for task in tasks {
        sent += task.await.unwrap();
    }
    (sent, started.elapsed())
}
