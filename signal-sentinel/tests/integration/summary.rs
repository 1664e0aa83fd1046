//! The chat-completions client against a mock server answering like the real one, and the
//! template fallback.

use std::time::Duration;

use chrono::NaiveDate;
use rust_decimal::dec;
use serde_json::json;
use signal_sentinel::Secret;
use signal_sentinel::domain::UserId;
use signal_sentinel::summary::{
    AlertFacts, DailyBudget, OpenAiConfig, OpenAiSummarizer, Summarizer, SummaryError,
    SummarySource, TemplateSummarizer, summarize_or_template,
};
use wiremock::matchers::{body_partial_json, header, method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

const KEY: &str = "sk-test-0123456789";

fn facts() -> AlertFacts {
    AlertFacts {
        symbol: "AAPL".into(),
        rule: "AAPL crosses above 200".into(),
        kind: "fired".into(),
        price: dec!(201.50),
        previous_close: Some(dec!(196.00)),
        recent_closes: vec![dec!(190), dec!(193), dec!(196)],
        position: Some((dec!(10), dec!(150))),
    }
}

fn completion(text: &str) -> serde_json::Value {
    json!({
        "id": "chatcmpl-123",
        "object": "chat.completion",
        "created": 1_764_000_000,
        "model": "gpt-4o-mini-2024-07-18",
        "choices": [{
            "index": 0,
            "message": {"role": "assistant", "content": text, "refusal": null},
            "logprobs": null,
            "finish_reason": "stop"
        }],
        "usage": {"prompt_tokens": 80, "completion_tokens": 20, "total_tokens": 100}
    })
}

fn client(server: &MockServer, timeout: Duration) -> OpenAiSummarizer {
    let mut config = OpenAiConfig::new(
        format!("{}/v1", server.uri()).parse().unwrap(),
        Secret::new(KEY),
        "gpt-4o-mini",
    );
    config.timeout = timeout;
    config.max_chars = 80;
    OpenAiSummarizer::new(config).unwrap()
}

#[tokio::test]
async fn a_completion_becomes_the_summary_and_the_prompt_holds_our_facts() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/v1/chat/completions"))
        .and(header("authorization", format!("Bearer {KEY}").as_str()))
        .and(body_partial_json(
            json!({"model": "gpt-4o-mini", "max_tokens": 120}),
        ))
        .respond_with(ResponseTemplate::new(200).set_body_json(completion(
            "  AAPL rose 2.8% to 201.50, crossing 200; your position is up 34%.  ",
        )))
        .expect(1)
        .mount(&server)
        .await;
    let text = client(&server, Duration::from_secs(5))
        .summarize(&facts())
        .await
        .unwrap();
    assert_eq!(
        text,
        "AAPL rose 2.8% to 201.50, crossing 200; your position is up 34%."
    );
    let request = &server.received_requests().await.unwrap()[0];
    let body: serde_json::Value = serde_json::from_slice(&request.body).unwrap();
    let prompt = body["messages"][1]["content"].as_str().unwrap();
    assert!(prompt.contains("Price: 201.50"), "{prompt}");
    assert!(
        prompt.contains("Change from previous close: 2.81%"),
        "{prompt}"
    );
    assert!(prompt.contains("10 shares at cost 150"), "{prompt}");
}

#[tokio::test]
async fn long_answers_are_capped() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(200).set_body_json(completion(&"word ".repeat(100))))
        .mount(&server)
        .await;
    let text = client(&server, Duration::from_secs(5))
        .summarize(&facts())
        .await
        .unwrap();
    assert_eq!(text.chars().count(), 81, "{text}");
    assert!(text.ends_with('…'));
}

#[tokio::test]
async fn errors_in_openais_shape_are_reported_without_the_key() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(401).set_body_json(json!({
            "error": {
                "message": "Incorrect API key provided: sk-test-***6789.",
                "type": "invalid_request_error", "param": null, "code": "invalid_api_key"
            }
        })))
        .expect(1)
        .mount(&server)
        .await;
    let err = client(&server, Duration::from_secs(5))
        .summarize(&facts())
        .await
        .unwrap_err();
    assert!(matches!(err, SummaryError::Refused(_)), "{err:?}");
    let text = err.to_string();
    assert!(
        text.contains("HTTP 401") && text.contains("Incorrect API key"),
        "{text}"
    );
    assert!(
        !text.contains(KEY) && !text.contains(&server.uri()),
        "{text}"
    );
}

#[tokio::test]
async fn a_429_is_retried_after_its_retry_after() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(
            ResponseTemplate::new(429)
                .insert_header("retry-after", "1")
                .set_body_json(json!({"error": {"message": "Rate limit reached", "type": "requests", "code": "rate_limit_exceeded"}})),
        )
        .up_to_n_times(1)
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(200).set_body_json(completion("After the wait.")))
        .expect(1)
        .mount(&server)
        .await;
    let started = std::time::Instant::now();
    let text = client(&server, Duration::from_secs(5))
        .summarize(&facts())
        .await
        .unwrap();
    assert_eq!(text, "After the wait.");
    assert!(
        started.elapsed() >= Duration::from_millis(900),
        "Retry-After was honoured"
    );
}

#[tokio::test]
async fn timeouts_and_malformed_answers_are_errors() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/v1/chat/completions"))
        .respond_with(
            ResponseTemplate::new(200)
                .set_delay(Duration::from_secs(3))
                .set_body_json(completion("too late")),
        )
        .mount(&server)
        .await;
    let mut config = OpenAiConfig::new(
        format!("{}/v1", server.uri()).parse().unwrap(),
        Secret::new(KEY),
        "m",
    );
    config.timeout = Duration::from_millis(300);
    config.retries = 0;
    let err = OpenAiSummarizer::new(config)
        .unwrap()
        .summarize(&facts())
        .await
        .unwrap_err();
    assert!(
        matches!(err, SummaryError::Unavailable(ref m) if m.contains("timed out")),
        "{err:?}"
    );

    for body in [
        ResponseTemplate::new(200).set_body_string("<html>gateway</html>"),
        ResponseTemplate::new(200).set_body_json(json!({"choices": []})),
        ResponseTemplate::new(200).set_body_json(completion("   ")),
    ] {
        let server = MockServer::start().await;
        Mock::given(method("POST"))
            .respond_with(body)
            .mount(&server)
            .await;
        let err = client(&server, Duration::from_secs(5))
            .summarize(&facts())
            .await
            .unwrap_err();
        assert!(matches!(err, SummaryError::Malformed(_)), "{err:?}");
    }
}

#[tokio::test]
async fn the_template_answers_without_a_model_over_budget_and_on_failure() {
    let day = NaiveDate::from_ymd_opt(2026, 11, 28).unwrap();
    let user = UserId::new(1);
    let template = TemplateSummarizer::text(&facts());
    assert_eq!(
        template,
        "AAPL met \"AAPL crosses above 200\" at 201.50. That is +2.81% from the previous close. \
         Over the last 3 sessions it moved 3.2%. Your 10 shares are 34.3% against their cost of 150."
    );
    let budget = DailyBudget::new(1);
    assert_eq!(
        summarize_or_template(None, &budget, user, day, &facts()).await,
        (template.clone(), SummarySource::Template)
    );

    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(200).set_body_json(completion("From the model.")))
        .expect(1)
        .mount(&server)
        .await;
    let model = client(&server, Duration::from_secs(5));
    let first = summarize_or_template(Some(&model), &budget, user, day, &facts()).await;
    assert_eq!(first, ("From the model.".to_owned(), SummarySource::Model));
    let second = summarize_or_template(Some(&model), &budget, user, day, &facts()).await;
    assert_eq!(
        second.1,
        SummarySource::Template,
        "the budget of 1 call is spent"
    );
    let other_user = summarize_or_template(
        Some(&model),
        &DailyBudget::new(0),
        UserId::new(2),
        day,
        &facts(),
    )
    .await;
    assert_eq!(other_user.1, SummarySource::Template);

    let failing = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(
            ResponseTemplate::new(400).set_body_json(json!({"error": {"message": "bad"}})),
        )
        .mount(&failing)
        .await;
    let model = client(&failing, Duration::from_secs(5));
    let fallback =
        summarize_or_template(Some(&model), &DailyBudget::new(5), user, day, &facts()).await;
    assert_eq!(fallback, (template, SummarySource::Template));
}

#[tokio::test]
async fn a_stored_alert_gets_its_summary_from_its_facts() {
    use std::sync::Arc;

    use signal_sentinel::clock::ManualClock;
    use signal_sentinel::domain::{HoldingSource, NewHolding};
    use signal_sentinel::market::ReplayMarket;
    use signal_sentinel::store::{AlertStore, HoldingStore};
    use signal_sentinel::summary::AlertSummaries;

    use crate::helpers::{Backend, TestDb, at, dec, new_alert, seed_rule, seed_user, symbol};

    let db = TestDb::new(Backend::SqliteMemory).await.unwrap();
    let store = Arc::new(db.store.clone());
    let user = seed_user(&store, "ann@example.com").await;
    let rule = seed_rule(&store, &user, "XYZ").await;
    store
        .upsert_holding(NewHolding {
            owner: user.id,
            account: "ira".into(),
            symbol: symbol("XYZ"),
            quantity: dec("10"),
            cost_basis: Some(dec("25")),
            source: HoldingSource::Manual,
            connection: None,
        })
        .await
        .unwrap();
    let alert = store
        .insert_alerts(vec![new_alert(
            &rule,
            1,
            "31.02",
            at("2009-06-03T19:59:00Z"),
        )])
        .await
        .unwrap()
        .remove(0);
    let csv = crate::helpers::daily_csv();
    let clock = Arc::new(ManualClock::new(at("2009-07-31T21:00:00Z")));
    let market = Arc::new(ReplayMarket::from_csv("xyz.csv", &csv, clock).unwrap());
    let summaries = AlertSummaries::new(store.clone(), market, None, 10);

    let facts = summaries.facts(&alert).await.unwrap();
    assert_eq!(
        facts.previous_close,
        Some(dec("29.63")),
        "the close of 2009-06-02"
    );
    assert_eq!(facts.recent_closes, vec![dec("30.04"), dec("29.63")]);
    assert_eq!(facts.position, Some((dec("10"), dec("25"))));

    let (text, source) = summaries.summarize(&alert).await.unwrap();
    assert_eq!(source, SummarySource::Template);
    assert!(text.contains("+4.69% from the previous close"), "{text}");
    assert!(
        text.contains("Your 10 shares are 24.1% against their cost of 25"),
        "{text}"
    );
    assert_eq!(
        store.get_alert(alert.id).await.unwrap().summary.as_deref(),
        Some(text.as_str())
    );
}

#[tokio::test]
async fn the_digest_summarises_the_day_and_the_portfolio_without_waiting_long() {
    use std::sync::Arc;

    use signal_sentinel::clock::{Clock, ManualClock};
    use signal_sentinel::domain::{CycleWrite, DeliveryEvent, HoldingSource, NewHolding};
    use signal_sentinel::market::ReplayMarket;
    use signal_sentinel::notify::{NotificationPrefs, send_due_digests};
    use signal_sentinel::store::{ChannelStore, HoldingStore, MonitorStore, OutboxStore};
    use signal_sentinel::summary::{AlertSummaries, Facts};

    use crate::helpers::{Backend, TestDb, at, dec, new_alert, seed_rule, seed_user, symbol};

    let db = TestDb::new(Backend::SqliteMemory).await.unwrap();
    let store = Arc::new(db.store.clone());
    let user = seed_user(&store, "ann@example.com").await;
    let rule = seed_rule(&store, &user, "XYZ").await;
    store
        .upsert_holding(NewHolding {
            owner: user.id,
            account: "ira".into(),
            symbol: symbol("XYZ"),
            quantity: dec("10"),
            cost_basis: Some(dec("25")),
            source: HoldingSource::Manual,
            connection: None,
        })
        .await
        .unwrap();
    let csv = crate::helpers::daily_csv();
    // 16:45 New York on the last day of the replay: XYZ closed at 25.92, 25.40 the day before.
    let clock = Arc::new(ManualClock::new(at("2009-07-31T20:45:00Z")));
    let market = Arc::new(ReplayMarket::from_csv("xyz.csv", &csv, clock.clone()).unwrap());
    store
        .commit_cycle(CycleWrite {
            at: Some(clock.now()),
            alerts: vec![new_alert(&rule, 1, "25.9", at("2009-07-31T19:00:00Z"))],
            ..CycleWrite::default()
        })
        .await
        .unwrap();

    let template = AlertSummaries::new(store.clone(), market.clone(), None, 10);
    let day = NaiveDate::from_ymd_opt(2009, 7, 31).unwrap();
    let facts = template
        .digest_facts(user.id, day, vec!["15:00 XYZ above 25".into()])
        .await
        .unwrap();
    assert_eq!(
        facts.portfolio,
        Some((dec("259.20"), dec("5.20"), Some(dec("2.05"))))
    );
    assert_eq!(
        facts.template(),
        "One alert fired today. Your portfolio is worth 259.20, up 5.20 (2.05%) since the previous close."
    );
    let prompt = facts.to_prompt();
    assert!(
        prompt.contains("Alerts (1):\n- 15:00 XYZ above 25"),
        "{prompt}"
    );
    assert!(
        prompt.contains("Portfolio: value 259.20, change since the previous close 5.20 (2.05%)"),
        "{prompt}"
    );

    // The model's words when it answers in time …
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/v1/chat/completions"))
        .and(body_partial_json(
            json!({"messages": [{"role": "system"}, {"role": "user", "content": prompt}]}),
        ))
        .respond_with(ResponseTemplate::new(200).set_body_json(completion(
            "A quiet day: XYZ crossed 25 and the portfolio rose 2%.",
        )))
        .mount(&server)
        .await;
    let model: Arc<dyn Summarizer> = Arc::new(client(&server, Duration::from_secs(5)));
    let with_model = AlertSummaries::new(store.clone(), market.clone(), Some(model), 10);
    assert_eq!(
        with_model.summarize_digest(user.id, &facts).await,
        "A quiet day: XYZ crossed 25 and the portfolio rose 2%."
    );
    // … the template's when it does not.
    let slow = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(
            ResponseTemplate::new(200)
                .set_delay(Duration::from_secs(3))
                .set_body_json(completion("late")),
        )
        .mount(&slow)
        .await;
    let model: Arc<dyn Summarizer> = Arc::new(client(&slow, Duration::from_secs(5)));
    let impatient = AlertSummaries::new(store.clone(), market.clone(), Some(model), 10)
        .with_digest_wait(Duration::from_millis(200));
    assert_eq!(
        impatient.summarize_digest(user.id, &facts).await,
        facts.template()
    );

    // In the digest itself, unless the user turned summaries off.
    let prefs = NotificationPrefs {
        digest_at: Some(chrono::NaiveTime::from_hms_opt(16, 30, 0).unwrap()),
        ..NotificationPrefs::default()
    };
    store
        .set_notification_prefs(user.id, prefs.to_document())
        .await
        .unwrap();
    let channel = store
        .create_channel(signal_sentinel::domain::NewChannel {
            owner: user.id,
            kind: signal_sentinel::domain::ChannelKind::Console,
            name: "console".into(),
            config: json!({}),
            secret: None,
        })
        .await;
    assert!(channel.is_ok(), "{channel:?}");
    send_due_digests(store.as_ref(), clock.as_ref(), Some(&template))
        .await
        .unwrap();
    let claimed = store
        .claim_deliveries("t", clock.now(), chrono::Duration::minutes(1), 10)
        .await
        .unwrap();
    let digest = claimed
        .iter()
        .find(|d| d.event == DeliveryEvent::Digest)
        .unwrap();
    let body = digest.body.as_deref().unwrap();
    assert!(
        body.contains("Your portfolio is worth 259.20, up 5.20"),
        "{body}"
    );
}
