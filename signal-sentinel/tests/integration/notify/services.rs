//! ntfy, Discord, Slack, Gotify, Pushover and Matrix against mock servers answering as the
//! real ones do: the request each sends, and what their refusals mean for the outbox.

use std::time::Duration;

use serde_json::{Value, json};
use signal_sentinel::Secret;
use signal_sentinel::domain::{
    Alert, AlertId, AlertKind, AlertState, ChannelId, ChannelKind, DeliveryEvent, DeliveryId,
    NotificationChannel, RuleId, UserId,
};
use signal_sentinel::notify::{
    DiscordNotifier, GotifyNotifier, MatrixNotifier, Notifier, NotifyError, NtfyNotifier,
    OutgoingMessage, PushoverNotifier, SlackNotifier,
};
use wiremock::matchers::{body_partial_json, body_string_contains, header, method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

const TIMEOUT: Duration = Duration::from_secs(2);

fn public() -> Option<url::Url> {
    Some(url::Url::parse("https://alerts.example.com").unwrap())
}

fn channel(kind: ChannelKind, config: Value, secret: Option<&str>) -> NotificationChannel {
    NotificationChannel {
        id: ChannelId::new(3),
        owner: UserId::new(1),
        name: kind.to_string(),
        kind,
        config,
        secret: secret.map(Secret::new),
        enabled: true,
        created_at: chrono::Utc::now(),
        updated_at: chrono::Utc::now(),
        last_ok_at: None,
        last_error: None,
    }
}

fn fired() -> OutgoingMessage {
    OutgoingMessage {
        delivery_id: DeliveryId::new(42),
        event: DeliveryEvent::Fired,
        text: "AAPL crosses above 200: now 201.50 <b>".into(),
        alert: Some(Alert {
            id: AlertId::new(9),
            rule_id: Some(RuleId::new(5)),
            owner: UserId::new(1),
            symbol: "AAPL".parse().unwrap(),
            episode: 1,
            kind: AlertKind::Fired,
            price: "201.50".parse().unwrap(),
            message: "AAPL crosses above 200: now 201.50".into(),
            summary: None,
            state: AlertState::New,
            fired_at: chrono::Utc::now(),
            acknowledged_at: None,
            reminder: 0,
        }),
        silent: false,
        actions: Vec::new(),
        priority: None,
    }
}

fn base(server: &MockServer) -> url::Url {
    url::Url::parse(&server.uri()).unwrap()
}

async fn body(server: &MockServer) -> Value {
    let requests = server.received_requests().await.unwrap();
    serde_json::from_slice(&requests.last().unwrap().body).unwrap()
}

#[track_caller]
fn retry_after(error: NotifyError) -> Option<Duration> {
    match error {
        NotifyError::Retry { after, .. } => after,
        other => panic!("expected a retry, got {other:?}"),
    }
}

#[track_caller]
fn permanent(error: NotifyError, secret: &str) -> String {
    match error {
        NotifyError::Permanent(message) => {
            assert!(!message.contains(secret), "{message}");
            message
        }
        other => panic!("expected a permanent failure, got {other:?}"),
    }
}

#[tokio::test]
async fn ntfy_publishes_json_with_title_priority_click_and_token() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/"))
        .and(header("authorization", "Bearer tk_secret123"))
        .respond_with(
            ResponseTemplate::new(200).set_body_json(json!({"id": "abc", "event": "message"})),
        )
        .mount(&server)
        .await;
    let ntfy = NtfyNotifier::new(TIMEOUT, public()).unwrap();
    let ch = channel(
        ChannelKind::Ntfy,
        json!({"server": server.uri(), "topic": "alerts"}),
        Some("tk_secret123"),
    );
    ntfy.send(&ch, &fired()).await.unwrap();
    assert_eq!(
        body(&server).await,
        json!({
            "topic": "alerts",
            "title": "AAPL alert",
            "message": "AAPL crosses above 200: now 201.50 <b>",
            "priority": 4,
            "tags": ["rotating_light"],
            "click": "https://alerts.example.com/#/alerts?symbol=AAPL",
        })
    );
    // Rate limited, then a token it refuses.
    server.reset().await;
    Mock::given(method("POST"))
        .respond_with(
            ResponseTemplate::new(429)
                .insert_header("retry-after", "7")
                .set_body_json(json!({"code": 42901, "http": 429, "error": "limit reached: too many requests"})),
        )
        .up_to_n_times(1)
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .respond_with(
            ResponseTemplate::new(403)
                .set_body_json(json!({"code": 40301, "http": 403, "error": "forbidden"})),
        )
        .mount(&server)
        .await;
    let e = ntfy.send(&ch, &fired()).await.unwrap_err();
    assert_eq!(retry_after(e), Some(Duration::from_secs(7)));
    let e = ntfy.send(&ch, &fired()).await.unwrap_err();
    assert!(permanent(e, "tk_secret123").contains("403: forbidden"));
}

/// A fired alert's message with its actions, as the dispatcher signs them.
fn with_actions() -> OutgoingMessage {
    use signal_sentinel::auth::action_token::ActionKeys;
    use signal_sentinel::service::ActionSigner;
    let mut message = fired();
    let signer = ActionSigner::new(
        std::sync::Arc::new(ActionKeys::new(
            b"a-test-secret-key-of-forty-characters-xx",
            None,
        )),
        Some("https://alerts.example.com".into()),
    );
    let alert = message.alert.clone().unwrap();
    // Without the rule: acknowledging only; a rule is needed for the others, so build one.
    let rule = signal_sentinel::domain::Rule {
        id: RuleId::new(5),
        owner: UserId::new(1),
        symbol: "AAPL".parse().unwrap(),
        name: None,
        condition: signal_sentinel::engine::parse_rule("AAPL crosses above 200")
            .unwrap()
            .condition
            .to_document(),
        options: signal_sentinel::domain::JsonDocument::empty(),
        enabled: true,
        created_at: chrono::Utc::now(),
        updated_at: chrono::Utc::now(),
        last_triggered_at: None,
        expires_at: None,
        snoozed_until: None,
    };
    message.actions = signer.actions(&alert, Some(&rule), chrono::Utc::now());
    message
}

#[tokio::test]
async fn actions_become_buttons_and_links_in_each_service() {
    let message = with_actions();
    let labels: Vec<&str> = message.actions.iter().map(|a| a.label).collect();
    assert_eq!(
        labels,
        [
            "Acknowledge",
            "Snooze 1 h",
            "Snooze until open",
            "Re-arm 5% further",
            "Disable rule"
        ]
    );
    let page = |i: usize| message.actions[i].url.clone().unwrap();
    let post = |i: usize| message.actions[i].post_url.clone().unwrap();
    assert!(page(0).starts_with("https://alerts.example.com/actions/"));
    assert!(post(0).starts_with("https://alerts.example.com/api/actions/"));

    // ntfy: its three buttons POST the first three tokens back.
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"id": "abc"})))
        .mount(&server)
        .await;
    let ntfy = NtfyNotifier::new(TIMEOUT, public()).unwrap();
    let ch = channel(
        ChannelKind::Ntfy,
        json!({"server": server.uri(), "topic": "alerts"}),
        None,
    );
    ntfy.send(&ch, &message).await.unwrap();
    assert_eq!(
        body(&server).await["actions"],
        json!([
            {"action": "http", "label": "Acknowledge", "url": post(0), "method": "POST", "clear": true},
            {"action": "http", "label": "Snooze 1 h", "url": post(1), "method": "POST", "clear": true},
            {"action": "http", "label": "Snooze until open", "url": post(2), "method": "POST", "clear": true},
        ])
    );

    // Slack: link buttons to the confirmation pages, then the dashboard.
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(200).set_body_string("ok"))
        .mount(&server)
        .await;
    let slack = SlackNotifier::new(base(&server), TIMEOUT, public()).unwrap();
    let ch = channel(ChannelKind::Slack, json!({}), Some("T000/B000/XXXX"));
    slack.send(&ch, &message).await.unwrap();
    let blocks = body(&server).await["blocks"].clone();
    let buttons = blocks.as_array().unwrap().last().unwrap()["elements"].clone();
    assert_eq!(buttons.as_array().unwrap().len(), 6);
    assert_eq!(buttons[1]["text"]["text"], "Snooze 1 h");
    assert_eq!(buttons[1]["url"], page(1));
    assert_eq!(buttons[5]["text"]["text"], "Open in Signal Sentinel");

    // Discord: Markdown links in a field of the embed.
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"id": "1"})))
        .mount(&server)
        .await;
    let discord = DiscordNotifier::new(base(&server), TIMEOUT, public()).unwrap();
    let ch = channel(
        ChannelKind::Discord,
        json!({"webhook_id": "123"}),
        Some("tok"),
    );
    discord.send(&ch, &message).await.unwrap();
    let field = body(&server).await["embeds"][0]["fields"][0].clone();
    assert_eq!(field["name"], "Act on it");
    let value = field["value"].as_str().unwrap();
    assert!(
        value.starts_with(&format!(
            "[Acknowledge]({}) · [Snooze 1 h]({})",
            page(0),
            page(1)
        )),
        "{value}"
    );

    // Gotify: the links in Markdown, and the message marked as Markdown.
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/message"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"id": 1})))
        .mount(&server)
        .await;
    let gotify = GotifyNotifier::new(TIMEOUT, public()).unwrap();
    let ch = channel(
        ChannelKind::Gotify,
        json!({"server": server.uri()}),
        Some("AppToken"),
    );
    gotify.send(&ch, &message).await.unwrap();
    let sent = body(&server).await;
    assert!(
        sent["message"]
            .as_str()
            .unwrap()
            .ends_with(&format!("[Acknowledge]({}) · [Snooze 1 h]({}) · [Snooze until open]({}) · [Re-arm 5% further]({}) · [Disable rule]({})", page(0), page(1), page(2), page(3), page(4))),
        "{sent}"
    );
    assert_eq!(
        sent["extras"]["client::display"],
        json!({"contentType": "text/markdown"})
    );

    // Matrix: the links in the plain and the HTML body, escaped.
    let server = MockServer::start().await;
    Mock::given(method("PUT"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"event_id": "$e"})))
        .mount(&server)
        .await;
    let matrix = MatrixNotifier::new(TIMEOUT).unwrap();
    let ch = channel(
        ChannelKind::Matrix,
        json!({"homeserver": server.uri(), "room": "!abc:example.org"}),
        Some("syt_secret"),
    );
    matrix.send(&ch, &message).await.unwrap();
    let sent = body(&server).await;
    assert!(
        sent["body"]
            .as_str()
            .unwrap()
            .contains(&format!("\nSnooze 1 h: {}\n", page(1))),
        "{sent}"
    );
    assert!(
        sent["formatted_body"]
            .as_str()
            .unwrap()
            .contains(&format!("<a href=\"{}\">Snooze 1 h</a>", page(1))),
        "{sent}"
    );
}

#[tokio::test]
async fn discord_posts_an_embed_and_waits_as_asked() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/api/webhooks/123456/tok-en_1"))
        .respond_with(ResponseTemplate::new(429).set_body_json(json!({
            "message": "You are being rate limited.", "retry_after": 1.5, "global": false
        })))
        .up_to_n_times(1)
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path("/api/webhooks/123456/tok-en_1"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"id": "1"})))
        .mount(&server)
        .await;
    let discord = DiscordNotifier::new(base(&server), TIMEOUT, public()).unwrap();
    let ch = channel(
        ChannelKind::Discord,
        json!({"webhook_id": "123456"}),
        Some("tok-en_1"),
    );
    let e = discord.send(&ch, &fired()).await.unwrap_err();
    assert_eq!(retry_after(e), Some(Duration::from_millis(1500)));
    discord.send(&ch, &fired()).await.unwrap();
    let sent = body(&server).await;
    assert_eq!(sent["allowed_mentions"], json!({"parse": []}));
    assert_eq!(sent["embeds"][0]["title"], "AAPL alert");
    assert_eq!(
        sent["embeds"][0]["description"],
        "AAPL crosses above 200: now 201.50 <b>"
    );
    assert_eq!(
        sent["embeds"][0]["url"],
        "https://alerts.example.com/#/alerts?symbol=AAPL"
    );
    let requests = server.received_requests().await.unwrap();
    assert_eq!(requests[1].url.query(), Some("wait=true"));
    // A deleted webhook.
    server.reset().await;
    Mock::given(method("POST"))
        .respond_with(
            ResponseTemplate::new(404)
                .set_body_json(json!({"message": "Unknown Webhook", "code": 10015})),
        )
        .mount(&server)
        .await;
    let e = discord.send(&ch, &fired()).await.unwrap_err();
    assert!(permanent(e, "tok-en_1").contains("Unknown Webhook"));
}

#[tokio::test]
async fn slack_posts_blocks_and_reads_its_plain_text_errors() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/services/T01/B02/Xsecret"))
        .respond_with(ResponseTemplate::new(200).set_body_string("ok"))
        .up_to_n_times(1)
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(429).insert_header("retry-after", "30"))
        .up_to_n_times(1)
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(403).set_body_string("invalid_token"))
        .mount(&server)
        .await;
    let slack = SlackNotifier::new(base(&server), TIMEOUT, public()).unwrap();
    let ch = channel(
        ChannelKind::Slack,
        json!({"workspace": "T01"}),
        Some("T01/B02/Xsecret"),
    );
    slack.send(&ch, &fired()).await.unwrap();
    let sent = body(&server).await;
    assert_eq!(sent["blocks"][0]["text"]["text"], "AAPL alert");
    assert_eq!(
        sent["blocks"][1]["text"]["text"], "AAPL crosses above 200: now 201.50 &lt;b&gt;",
        "mrkdwn is escaped"
    );
    assert_eq!(
        sent["blocks"][2]["elements"][0]["url"],
        "https://alerts.example.com/#/alerts?symbol=AAPL"
    );
    let e = slack.send(&ch, &fired()).await.unwrap_err();
    assert_eq!(retry_after(e), Some(Duration::from_secs(30)));
    let e = slack.send(&ch, &fired()).await.unwrap_err();
    assert!(permanent(e, "Xsecret").contains("invalid_token"));
}

#[tokio::test]
async fn gotify_sends_with_its_application_key() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/gotify/message"))
        .and(header("x-gotify-key", "AppTok123"))
        .and(body_partial_json(json!({
            "title": "AAPL alert",
            "priority": 8,
            "extras": {"client::notification": {"click": {"url": "https://alerts.example.com/#/alerts?symbol=AAPL"}}}
        })))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"id": 1})))
        .up_to_n_times(1)
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(401).set_body_json(json!({
            "error": "Unauthorized", "errorCode": 401,
            "errorDescription": "you need to provide a valid access token or user credentials to access this api"
        })))
        .mount(&server)
        .await;
    let gotify = GotifyNotifier::new(TIMEOUT, public()).unwrap();
    let ch = channel(
        ChannelKind::Gotify,
        json!({"server": format!("{}/gotify", server.uri())}),
        Some("AppTok123"),
    );
    gotify.send(&ch, &fired()).await.unwrap();
    let e = gotify.send(&ch, &fired()).await.unwrap_err();
    assert!(permanent(e, "AppTok123").contains("valid access token"));
}

#[tokio::test]
async fn pushover_posts_a_form_and_keeps_its_keys_out_of_errors() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/1/messages.json"))
        .and(header("content-type", "application/x-www-form-urlencoded"))
        .and(body_string_contains("token=appTOKEN1"))
        .and(body_string_contains("user=userKEY1"))
        .and(body_string_contains("priority=1"))
        .respond_with(
            ResponseTemplate::new(200).set_body_json(json!({"status": 1, "request": "r1"})),
        )
        .up_to_n_times(1)
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(400).set_body_json(json!({
            "user": "invalid", "errors": ["user identifier is invalid: userKEY1"],
            "status": 0, "request": "r2"
        })))
        .up_to_n_times(1)
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(500))
        .mount(&server)
        .await;
    let pushover = PushoverNotifier::new(base(&server), TIMEOUT, public()).unwrap();
    let ch = channel(ChannelKind::Pushover, json!({}), Some("userKEY1@appTOKEN1"));
    pushover.send(&ch, &fired()).await.unwrap();
    let e = pushover.send(&ch, &fired()).await.unwrap_err();
    let message = permanent(e, "userKEY1");
    assert!(message.contains("user identifier is invalid"), "{message}");
    let e = pushover.send(&ch, &fired()).await.unwrap_err();
    assert_eq!(retry_after(e), None, "a 5xx is retried on our own backoff");
}

#[tokio::test]
async fn matrix_sends_once_per_delivery_and_resolves_aliases() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path(
            "/_matrix/client/v3/directory/room/%23alerts:example.org",
        ))
        .and(header("authorization", "Bearer syt_secret"))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_json(json!({"room_id": "!abc:example.org", "servers": ["example.org"]})),
        )
        .mount(&server)
        .await;
    Mock::given(method("PUT"))
        .and(path(
            "/_matrix/client/v3/rooms/!abc:example.org/send/m.room.message/ss-42",
        ))
        .respond_with(ResponseTemplate::new(429).set_body_json(json!({
            "errcode": "M_LIMIT_EXCEEDED", "error": "Too many requests", "retry_after_ms": 2500
        })))
        .up_to_n_times(1)
        .mount(&server)
        .await;
    Mock::given(method("PUT"))
        .and(path(
            "/_matrix/client/v3/rooms/!abc:example.org/send/m.room.message/ss-42",
        ))
        .and(body_partial_json(json!({
            "msgtype": "m.text",
            "format": "org.matrix.custom.html",
            "formatted_body": "<b>AAPL alert</b><br>AAPL crosses above 200: now 201.50 &lt;b&gt;",
        })))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"event_id": "$e1"})))
        .mount(&server)
        .await;
    let matrix = MatrixNotifier::new(TIMEOUT).unwrap();
    let ch = channel(
        ChannelKind::Matrix,
        json!({"homeserver": server.uri(), "room": "#alerts:example.org"}),
        Some("syt_secret"),
    );
    let e = matrix.send(&ch, &fired()).await.unwrap_err();
    assert_eq!(retry_after(e), Some(Duration::from_millis(2500)));
    // The retry is the same transaction: the homeserver keeps one event.
    matrix.send(&ch, &fired()).await.unwrap();
    // A token the homeserver does not know.
    server.reset().await;
    Mock::given(method("PUT"))
        .respond_with(ResponseTemplate::new(401).set_body_json(
            json!({"errcode": "M_UNKNOWN_TOKEN", "error": "Invalid access token passed."}),
        ))
        .mount(&server)
        .await;
    let direct = channel(
        ChannelKind::Matrix,
        json!({"homeserver": server.uri(), "room": "!abc:example.org"}),
        Some("syt_secret"),
    );
    let e = matrix.send(&direct, &fired()).await.unwrap_err();
    assert!(permanent(e, "syt_secret").contains("M_UNKNOWN_TOKEN"));
}

mod through_services {
    use serde_json::json;
    use signal_sentinel::Secret;
    use signal_sentinel::config::Settings;
    use signal_sentinel::domain::{ChannelKind, DeliveryEvent, NewChannel, NewDelivery};
    use signal_sentinel::service::{Principal, ServiceError, Services};
    use signal_sentinel::store::{ChannelStore, OutboxStore, SeaStore};
    use wiremock::matchers::{header, method, path};
    use wiremock::{Mock, MockServer, ResponseTemplate};

    const KEY: &str = "channel-test-secret-key-0123456789abcdef";

    async fn services(dir: &std::path::Path, discord: &MockServer) -> (Services, SeaStore) {
        let url = format!("sqlite://{}/c.db?mode=rwc", dir.display());
        let settings = Settings::from_vars([
            ("DATABASE_URL", url.as_str()),
            ("SECRET_KEY", KEY),
            ("DISCORD_BASE_URL", discord.uri().as_str()),
            ("SIGNAL_SENTINEL_DATA_DIR", &dir.display().to_string()),
        ])
        .unwrap();
        let services = Services::open(&settings).await.unwrap();
        let store = SeaStore::open(&settings.database_url).await.unwrap();
        (services, store)
    }

    async fn ann(services: &Services) -> Principal {
        let user = services
            .register(
                "ann@example.com",
                Secret::new("correct horse battery"),
                None,
            )
            .await
            .unwrap();
        Principal {
            user: user.id,
            api_key: None,
        }
    }

    #[tokio::test]
    async fn a_channel_url_is_sealed_at_rest_and_opened_only_to_send() {
        let dir = tempfile::tempdir().unwrap();
        let discord = MockServer::start().await;
        Mock::given(method("POST"))
            .and(path("/api/webhooks/998877/Sup3r-secret_token"))
            .respond_with(ResponseTemplate::new(204))
            .mount(&discord)
            .await;
        let (services, store) = services(dir.path(), &discord).await;
        let ann = ann(&services).await;
        let (channel, shown) = services
            .add_channel_url(ann, "discord://998877/Sup3r-secret_token", None)
            .await
            .unwrap();
        assert!(shown.is_none(), "nothing secret is shown back");
        assert_eq!(channel.kind, ChannelKind::Discord);
        assert_eq!(channel.name, "discord");
        assert_eq!(channel.config, json!({"webhook_id": "998877"}));
        let debug = format!("{channel:?} {}", serde_json::to_string(&channel).unwrap());
        assert!(!debug.contains("Sup3r-secret_token"), "{debug}");
        // At rest: sealed.
        let stored = store.get_channel(channel.id).await.unwrap();
        let at_rest = stored.secret.unwrap().expose().to_owned();
        assert!(
            at_rest.starts_with("v1.") && !at_rest.contains("Sup3r"),
            "{at_rest}"
        );

        // The test message and a queued delivery both reach Discord with the opened token.
        let test = services.test_channel(ann, channel.id).await.unwrap();
        assert!(test.ok, "{:?}", test.error);
        store
            .enqueue_deliveries(
                vec![NewDelivery {
                    channel_id: channel.id,
                    user_id: ann.user,
                    event: DeliveryEvent::System,
                    body: "a notice".into(),
                }],
                chrono::Utc::now(),
            )
            .await
            .unwrap();
        let (_, report) = services.dispatch_once().await.unwrap();
        assert_eq!(report.sent, 1, "{report:?}");
        assert_eq!(discord.received_requests().await.unwrap().len(), 2);

        // A bad URL names the field and never quotes the token.
        let e = services
            .add_channel_url(ann, "discord://not-a-number/Sup3r-secret_token", None)
            .await
            .unwrap_err();
        assert!(matches!(&e, ServiceError::Invalid { field, .. } if field == "url"));
        assert!(!e.to_string().contains("Sup3r"), "{e}");
    }

    #[tokio::test]
    async fn secrets_stored_before_sealing_still_send_and_are_sealed_at_start() {
        let dir = tempfile::tempdir().unwrap();
        let discord = MockServer::start().await;
        let (services, store) = services(dir.path(), &discord).await;
        let ann = ann(&services).await;
        let ntfy = MockServer::start().await;
        Mock::given(method("POST"))
            .and(header("authorization", "Bearer tk_legacy"))
            .respond_with(ResponseTemplate::new(200).set_body_json(json!({"id": "x"})))
            .expect(2)
            .mount(&ntfy)
            .await;
        // As an earlier version stored it: in the clear.
        let legacy = store
            .create_channel(NewChannel {
                owner: ann.user,
                name: "old".into(),
                kind: ChannelKind::Ntfy,
                config: json!({"server": ntfy.uri(), "topic": "t"}),
                secret: Some(Secret::new("tk_legacy")),
            })
            .await
            .unwrap();
        assert!(services.test_channel(ann, legacy.id).await.unwrap().ok);
        let report = services.reseal_channel_secrets().await.unwrap();
        assert_eq!((report.resealed, report.unreadable), (1, 0));
        let at_rest = store.get_channel(legacy.id).await.unwrap().secret.unwrap();
        assert!(at_rest.expose().starts_with("v1."));
        assert_eq!(services.reseal_channel_secrets().await.unwrap().resealed, 0);
        assert!(services.test_channel(ann, legacy.id).await.unwrap().ok);
    }
}

#[tokio::test]
async fn a_rules_priority_ranks_its_alerts_where_services_rank_them() {
    use signal_sentinel::engine::Priority;
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"id": 1})))
        .mount(&server)
        .await;
    let ntfy = NtfyNotifier::new(TIMEOUT, public()).unwrap();
    let gotify = GotifyNotifier::new(TIMEOUT, public()).unwrap();
    let ntfy_channel = channel(
        ChannelKind::Ntfy,
        json!({"server": server.uri(), "topic": "alerts"}),
        None,
    );
    let gotify_channel = channel(
        ChannelKind::Gotify,
        json!({"server": server.uri()}),
        Some("app-token"),
    );
    for (priority, ntfy_level, gotify_level) in [
        (None, 4, 8),
        (Some(Priority::Low), 2, 2),
        (Some(Priority::Normal), 3, 5),
        (Some(Priority::High), 4, 8),
        (Some(Priority::Urgent), 5, 10),
    ] {
        let mut message = fired();
        message.priority = priority;
        ntfy.send(&ntfy_channel, &message).await.unwrap();
        assert_eq!(body(&server).await["priority"], ntfy_level, "{priority:?}");
        gotify.send(&gotify_channel, &message).await.unwrap();
        assert_eq!(
            body(&server).await["priority"],
            gotify_level,
            "{priority:?}"
        );
    }
}
