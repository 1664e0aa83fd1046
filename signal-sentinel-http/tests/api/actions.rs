//! Acting on an alert from its message: the confirmation page behind a link (a GET changes
//! nothing, its button POSTs), the endpoint ntfy's buttons POST to, and the signed-in
//! `POST /api/alerts/{id}/actions/{action}`.

use std::sync::Arc;

use reqwest::{Method, StatusCode};
use serde_json::json;
use signal_sentinel::auth::action_token::{ActionKeys, AlertAction};
use signal_sentinel::domain::{AlertId, AlertKind, NewAlert, RuleId, UserId};
use signal_sentinel::service::{ActionSigner, MessageAction};
use signal_sentinel::store::{AlertStore, RuleStore};

use crate::harness::{SECRET_KEY, TestServer, error_code};

fn token(actions: &[MessageAction], action: AlertAction) -> String {
    actions
        .iter()
        .find(|a| a.action == action)
        .unwrap()
        .token
        .clone()
}

#[tokio::test]
async fn a_link_asks_first_acts_once_and_says_why_it_will_not() {
    let server = TestServer::start().await;
    let ann = server.user("ann@example.com").await;
    let bob = server.user("bob@example.com").await;
    let me = server.get("/api/auth/me", &ann).await;
    let ann_id = UserId::new(me.body["id"].as_i64().unwrap());
    let created = server
        .post("/api/rules", &ann, json!({"text": "XYZ crosses above 200"}))
        .await;
    assert_eq!(created.status, StatusCode::CREATED, "{}", created.text);
    let rule_id = RuleId::new(created.body["id"].as_i64().unwrap());
    let alert = server
        .store
        .insert_alerts(vec![NewAlert {
            rule_id,
            owner: ann_id,
            symbol: "XYZ".parse().unwrap(),
            episode: 1,
            kind: AlertKind::Fired,
            price: "201".parse().unwrap(),
            message: "XYZ crosses above 200: now 201".into(),
            fired_at: chrono::Utc::now(),
            reminder: 0,
        }])
        .await
        .unwrap()
        .remove(0);
    let rule = server.store.get_rule(rule_id).await.unwrap();
    let signer = ActionSigner::new(Arc::new(ActionKeys::new(SECRET_KEY.as_bytes(), None)), None);
    let actions = signer.actions(&alert, Some(&rule), chrono::Utc::now());
    let snooze = token(&actions, AlertAction::SnoozeHour);

    // The page says what the link will do, and does nothing.
    let page = server
        .call(Method::GET, &format!("/actions/{snooze}"), None, None)
        .await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.text);
    assert!(
        page.headers["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/html")
    );
    assert!(
        page.text
            .contains("Snooze the rule &quot;XYZ crosses above 200&quot; for 1 hour?"),
        "{}",
        page.text
    );
    assert!(page.text.contains(&format!("action=\"/actions/{snooze}\"")));
    assert!(page.headers.contains_key("content-security-policy"));
    let shown = server.get(&format!("/api/rules/{rule_id}"), &ann).await;
    assert!(shown.body["snoozed_until"].is_null(), "{}", shown.text);

    // Its button acts, once.
    let done = server
        .call(Method::POST, &format!("/actions/{snooze}"), None, None)
        .await;
    assert_eq!(done.status, StatusCode::OK, "{}", done.text);
    assert!(done.text.contains("Snoozed"), "{}", done.text);
    let shown = server.get(&format!("/api/rules/{rule_id}"), &ann).await;
    assert!(shown.body["snoozed_until"].is_string(), "{}", shown.text);
    let again = server
        .call(Method::POST, &format!("/actions/{snooze}"), None, None)
        .await;
    assert_eq!(again.status, StatusCode::CONFLICT, "{}", again.text);
    assert!(again.text.contains("used already"), "{}", again.text);

    // The endpoint ntfy's buttons POST to answers JSON.
    let ack = token(&actions, AlertAction::Acknowledge);
    let r = server
        .call(Method::POST, &format!("/api/actions/{ack}"), None, None)
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(r.body["action"], "acknowledge");
    assert_eq!(r.body["alert"]["state"], "acknowledged");
    let again = server
        .call(Method::POST, &format!("/api/actions/{ack}"), None, None)
        .await;
    assert_eq!(again.status, StatusCode::CONFLICT);
    assert_eq!(error_code(&again), "conflict");

    // A forged or cut token changes nothing and says why, as a page and as JSON.
    let mut forged = token(&actions, AlertAction::DisableRule);
    forged.replace_range(50..51, if &forged[50..51] == "A" { "B" } else { "A" });
    let r = server
        .call(Method::POST, &format!("/api/actions/{forged}"), None, None)
        .await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED, "{}", r.text);
    assert!(
        r.body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("not issued by this server")
    );
    let page = server
        .call(Method::GET, "/actions/not-a-token", None, None)
        .await;
    assert_eq!(page.status, StatusCode::UNAUTHORIZED);
    assert!(page.text.contains("Nothing was changed"), "{}", page.text);
    assert!(
        server
            .get(&format!("/api/rules/{rule_id}"), &ann)
            .await
            .body["enabled"]
            == true
    );

    // Signed in: the same actions by name; another user's alert is not found.
    let path = format!("/api/alerts/{}/actions/disable_rule", alert.id);
    let r = server.call(Method::POST, &path, Some(&bob), None).await;
    assert_eq!(r.status, StatusCode::NOT_FOUND, "{}", r.text);
    let r = server.call(Method::POST, &path, Some(&ann), None).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(r.body["rule_enabled"], false);
    let r = server
        .call(
            Method::POST,
            &format!("/api/alerts/{}/actions/explode", alert.id),
            Some(&ann),
            None,
        )
        .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.text);
    assert!(r.text.contains("snooze_1h"), "{}", r.text);
    let missing = server
        .call(
            Method::POST,
            &format!(
                "/api/alerts/{}/actions/acknowledge",
                AlertId::new(alert.id.get() + 99)
            ),
            Some(&ann),
            None,
        )
        .await;
    assert_eq!(missing.status, StatusCode::NOT_FOUND);
}

/// Bars of the daily fixture re-stamped as the last minutes of a crypto pair (which always
/// trades), so the monitor evaluates them now.
fn recent_csv(now: chrono::DateTime<chrono::Utc>) -> String {
    let mut csv = String::from("time,symbol,open,high,low,close,volume\n");
    for (minutes_ago, bar) in [(3, "25.4,25.76,24.85,25.01"), (1, "25.4,26.22,24.93,25.61")] {
        let at = now - chrono::Duration::minutes(minutes_ago);
        csv.push_str(&format!("{},BTC-USD,{bar},\n", at.to_rfc3339()));
    }
    csv
}

/// The Bot API's answers the test needs.
async fn telegram_mock() -> wiremock::MockServer {
    use wiremock::matchers::{method, path_regex};
    use wiremock::{Mock, ResponseTemplate};
    let server = wiremock::MockServer::start().await;
    let sent = ResponseTemplate::new(200).set_body_json(json!({"ok": true, "result": {
        "message_id": 9, "date": 1_795_813_200, "chat": {"id": 555, "type": "private"}, "text": "…"}}));
    Mock::given(method("POST"))
        .and(path_regex("/sendMessage$|/editMessageText$"))
        .respond_with(sent)
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path_regex(
            "/answerCallbackQuery$|/setMyCommands$|/deleteWebhook$",
        ))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"ok": true, "result": true})))
        .mount(&server)
        .await;
    server
}

/// Answers the next `getUpdates` with `updates`, once.
async fn next_updates(telegram: &wiremock::MockServer, updates: serde_json::Value) {
    use wiremock::matchers::{method, path_regex};
    use wiremock::{Mock, ResponseTemplate};
    Mock::given(method("POST"))
        .and(path_regex("/getUpdates$"))
        .respond_with(
            ResponseTemplate::new(200).set_body_json(json!({"ok": true, "result": updates})),
        )
        .up_to_n_times(1)
        .with_priority(1)
        .mount(telegram)
        .await;
}

async fn bodies(server: &wiremock::MockServer, suffix: &str) -> Vec<serde_json::Value> {
    server
        .received_requests()
        .await
        .unwrap()
        .iter()
        .filter(|r| r.url.path().ends_with(suffix))
        .map(|r| serde_json::from_slice(&r.body).unwrap())
        .collect()
}

/// The path of a link in a message, on this test's server (messages link to PUBLIC_URL).
fn on_server(server: &TestServer, link: &str) -> String {
    let path = link
        .strip_prefix("https://alerts.example.com")
        .unwrap_or_else(|| panic!("{link} is not under PUBLIC_URL"));
    format!("{}{path}", server.base)
}

/// The end-to-end check: an alert fired on a replayed market reaches Telegram, ntfy
/// and e-mail with its actions, and each acts: Telegram's "Snooze 1 h" button through the
/// Bot API mock, ntfy's "Acknowledge" button as ntfy POSTs it, the e-mail's "Disable rule"
/// link through its confirmation page — each seen in the API.
#[tokio::test]
async fn an_alert_on_a_replayed_market_is_acted_on_from_telegram_ntfy_and_email() {
    use signal_sentinel::clock::{Clock, SystemClock};
    use signal_sentinel::market::{MarketData, ReplayMarket};
    use test_support::smtp::{Behaviour, Smtp};

    let telegram = telegram_mock().await;
    let ntfy = wiremock::MockServer::start().await;
    wiremock::Mock::given(wiremock::matchers::method("POST"))
        .respond_with(wiremock::ResponseTemplate::new(200).set_body_json(json!({"id": "n1"})))
        .mount(&ntfy)
        .await;
    let smtp = Smtp::start(Behaviour::Accept).await;
    let clock: Arc<dyn Clock> = Arc::new(SystemClock);
    let market: Arc<dyn MarketData> = Arc::new(
        ReplayMarket::from_csv("btc.csv", &recent_csv(clock.now()), clock.clone()).unwrap(),
    );
    let server = TestServer::start_with(crate::harness::Options {
        market: Some(market.clone()),
        vars: vec![
            ("TELEGRAM_BOT_TOKEN", "123456:AAHendToEndBotToken".into()),
            ("TELEGRAM_BASE_URL", telegram.uri()),
            ("PUBLIC_URL", "https://alerts.example.com".into()),
            (
                "SMTP_URL",
                format!("smtp://127.0.0.1:{}?tls=none", smtp.port),
            ),
            ("SMTP_FROM", "alerts@example.com".into()),
        ],
        ..crate::harness::Options::default()
    })
    .await
    .unwrap();
    let ann = server.user("ann@example.com").await;
    let rule = server
        .post("/api/rules", &ann, json!({"text": "BTC-USD price > 25.5"}))
        .await;
    assert_eq!(rule.status, StatusCode::CREATED, "{}", rule.text);
    let rule_id = rule.body["id"].as_i64().unwrap();

    // Telegram: the chat links itself with a code, through the bot's long polling.
    let code = server
        .post("/api/channels/telegram/link", &ann, json!({}))
        .await;
    assert_eq!(code.status, StatusCode::OK, "{}", code.text);
    let bot = server.services.telegram_bot().unwrap();
    let from = json!({"id": 555, "is_bot": false, "first_name": "Ann", "username": "ann_trades"});
    next_updates(
        &telegram,
        json!([{"update_id": 1, "message": {"message_id": 1, "date": 1_795_813_200,
            "chat": {"id": 555, "type": "private"}, "from": from,
            "text": code.body["command"]}}]),
    )
    .await;
    assert_eq!(bot.poll_once().await.unwrap(), Some(1));
    // ntfy and e-mail, by URL.
    for url in [
        format!("ntfy://127.0.0.1:{}/alerts", ntfy.address().port()),
        "mailto://ann@example.com".to_owned(),
    ] {
        let r = server
            .post("/api/channels", &ann, json!({"kind": "url", "url": url}))
            .await;
        assert_eq!(r.status, StatusCode::CREATED, "{url}: {}", r.text);
    }

    // The market moves, the rule fires, the alert goes out to all three.
    let monitor = server.services.monitor(
        market,
        clock,
        signal_sentinel::monitor::MonitorConfig::default(),
    );
    let report = monitor.run_once().await.unwrap();
    assert_eq!(report.alerts.len(), 1, "{report:?}");
    let alert_id = report.alerts[0].id;
    let (_, dispatched) = server.services.dispatch_once().await.unwrap();
    assert_eq!(dispatched.sent, 3, "{dispatched:?}");

    // Telegram: press "Snooze 1 h" under the alert.
    let sent = bodies(&telegram, "/sendMessage").await;
    let alert_message = sent
        .iter()
        .find(|m| m.get("reply_markup").is_some())
        .expect("the alert, with buttons");
    let snooze = alert_message["reply_markup"]["inline_keyboard"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|row| row.as_array().unwrap())
        .find(|b| b["text"] == "Snooze 1 h")
        .unwrap()["callback_data"]
        .clone();
    next_updates(
        &telegram,
        json!([{"update_id": 2, "callback_query": {"id": "q1", "chat_instance": "c", "from": from,
            "message": {"message_id": 9, "date": 1_795_813_200, "chat": {"id": 555, "type": "private"},
                "text": "BTC-USD alert", "reply_markup": alert_message["reply_markup"]},
            "data": snooze}}]),
    )
    .await;
    assert_eq!(bot.poll_once().await.unwrap(), Some(1));
    let shown = server.get(&format!("/api/rules/{rule_id}"), &ann).await;
    let until: chrono::DateTime<chrono::Utc> =
        serde_json::from_value(shown.body["snoozed_until"].clone()).unwrap();
    let ahead = until - chrono::Utc::now();
    assert!(
        ahead > chrono::Duration::minutes(55) && ahead <= chrono::Duration::hours(1),
        "{ahead}"
    );
    let edited = bodies(&telegram, "/editMessageText").await;
    assert!(edited[0]["text"].as_str().unwrap().contains("✓ Snoozed"));

    // ntfy: its "Acknowledge" button POSTs the token back.
    let published = bodies(&ntfy, "/").await;
    let ack = published[0]["actions"]
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["label"] == "Acknowledge")
        .unwrap()["url"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_eq!(published[0]["actions"][0]["method"], "POST");
    let pressed = server
        .http
        .post(on_server(&server, &ack))
        .send()
        .await
        .unwrap();
    assert_eq!(pressed.status(), StatusCode::OK);
    let alert = server.get(&format!("/api/alerts/{alert_id}"), &ann).await;
    assert_eq!(alert.body["state"], "acknowledged", "{}", alert.text);

    // E-mail: the "Disable rule" link opens a page that asks; its button disables the rule.
    let mails = smtp.received();
    assert_eq!(mails.len(), 1);
    let mail = mails[0].data.replace("=\n", "");
    let link = mail
        .lines()
        .find_map(|l| l.strip_prefix("Disable rule: "))
        .unwrap_or_else(|| panic!("no link in {mail}"))
        .trim()
        .to_owned();
    let page = server
        .http
        .get(on_server(&server, &link))
        .send()
        .await
        .unwrap();
    assert_eq!(page.status(), StatusCode::OK);
    let shown = server.get(&format!("/api/rules/{rule_id}"), &ann).await;
    assert_eq!(
        shown.body["enabled"], true,
        "opening the link changes nothing"
    );
    let done = server
        .http
        .post(on_server(&server, &link))
        .send()
        .await
        .unwrap();
    assert_eq!(done.status(), StatusCode::OK);
    let shown = server.get(&format!("/api/rules/{rule_id}"), &ann).await;
    assert_eq!(shown.body["enabled"], false);
}

#[tokio::test]
async fn a_channel_can_stop_resolved_notices_and_mute_holds_for_a_while() {
    let server = TestServer::start().await;
    let ann = server.user("ann@example.com").await;
    let created = server
        .post(
            "/api/channels",
            &ann,
            json!({"kind": "url", "url": "ntfys://ntfy.example.com/desk"}),
        )
        .await;
    assert_eq!(created.status, StatusCode::CREATED, "{}", created.text);
    let id = created.body["channel"]["id"].as_i64().unwrap();
    let path = format!("/api/channels/{id}");
    let r = server
        .call(
            Method::PATCH,
            &path,
            Some(&ann),
            Some(json!({"resolved": false})),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(r.body["config"]["resolved"], false);
    assert_eq!(r.body["enabled"], true);
    let r = server
        .call(Method::PATCH, &path, Some(&ann), Some(json!({})))
        .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.text);

    // Mute: shown in the preferences, kept when they are saved, ended by DELETE.
    let r = server
        .post("/api/channels/mute", &ann, json!({"minutes": 90}))
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    let until = r.body["muted_until"].clone();
    let prefs = server.get("/api/channels/prefs", &ann).await;
    assert_eq!(prefs.body["muted_until"], until);
    let saved = server
        .call(
            Method::PUT,
            "/api/channels/prefs",
            Some(&ann),
            Some(prefs.body.clone()),
        )
        .await;
    assert_eq!(saved.status, StatusCode::OK, "{}", saved.text);
    assert_eq!(saved.body["muted_until"], until);
    let r = server
        .post("/api/channels/mute", &ann, json!({"minutes": 0}))
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST, "{}", r.text);
    assert_eq!(error_code(&r), "bad_request");
    let r = server
        .call(Method::DELETE, "/api/channels/mute", Some(&ann), None)
        .await;
    assert_eq!(r.status, StatusCode::NO_CONTENT);
    let prefs = server.get("/api/channels/prefs", &ann).await;
    assert!(prefs.body["muted_until"].is_null(), "{}", prefs.text);
}

/// With TELEGRAM_WEBHOOK_URL, the server gives Telegram the webhook and its secret token, and
/// takes updates only with that token; a chat linked through it can be unlinked from the API.
#[tokio::test]
async fn telegram_updates_by_webhook_need_the_secret_token() {
    let telegram = telegram_mock().await;
    wiremock::Mock::given(wiremock::matchers::path_regex("/setWebhook$"))
        .respond_with(
            wiremock::ResponseTemplate::new(200).set_body_json(
                json!({"ok": true, "result": true, "description": "Webhook was set"}),
            ),
        )
        .mount(&telegram)
        .await;
    let server = TestServer::start_with(crate::harness::Options {
        vars: vec![
            ("TELEGRAM_BOT_TOKEN", "123456:AAHwebhookBotToken".into()),
            ("TELEGRAM_BASE_URL", telegram.uri()),
            (
                "TELEGRAM_WEBHOOK_URL",
                "https://alerts.example.com/telegram/webhook".into(),
            ),
        ],
        ..crate::harness::Options::default()
    })
    .await
    .unwrap();
    assert!(server.services.start_telegram_webhook().await.unwrap());
    let set = bodies(&telegram, "/setWebhook").await;
    assert_eq!(set[0]["url"], "https://alerts.example.com/telegram/webhook");
    assert_eq!(
        set[0]["allowed_updates"],
        json!(["message", "callback_query"])
    );
    assert_eq!(set[0]["max_connections"], 1);
    let secret = set[0]["secret_token"].as_str().unwrap().to_owned();
    assert_eq!(secret.len(), 64);
    assert_eq!(bodies(&telegram, "/setMyCommands").await.len(), 1);

    let ann = server.user("ann@example.com").await;
    let code = server
        .post("/api/channels/telegram/link", &ann, json!({}))
        .await;
    let update = json!({"update_id": 7, "message": {"message_id": 1, "date": 1_795_813_200,
        "chat": {"id": 4242, "type": "private"}, "text": code.body["command"]}});
    let url = format!("{}/telegram/webhook", server.base);
    for wrong in [None, Some("nope"), Some(&secret[..63])] {
        let mut request = server.http.post(&url).json(&update);
        if let Some(wrong) = wrong {
            request = request.header("x-telegram-bot-api-secret-token", wrong);
        }
        let r = request.send().await.unwrap();
        assert_eq!(r.status(), StatusCode::UNAUTHORIZED, "{wrong:?}");
    }
    let chats = server.get("/api/channels/telegram/chats", &ann).await;
    assert_eq!(
        chats.body["chats"],
        json!([]),
        "nothing read without the token"
    );
    let r = server
        .http
        .post(&url)
        .header("x-telegram-bot-api-secret-token", &secret)
        .json(&update)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    let chats = server.get("/api/channels/telegram/chats", &ann).await;
    assert_eq!(chats.body["chats"], json!([4242]));
    let answers = bodies(&telegram, "/sendMessage").await;
    assert!(
        answers[0]["text"]
            .as_str()
            .unwrap()
            .starts_with("Linked to ann@example.com")
    );
    // Sent again (Telegram saw no answer in time): answered 200, not handled twice.
    let again = server
        .http
        .post(&url)
        .header("x-telegram-bot-api-secret-token", &secret)
        .json(&update)
        .send()
        .await
        .unwrap();
    assert_eq!(again.status(), StatusCode::OK);
    assert_eq!(bodies(&telegram, "/sendMessage").await.len(), 1);

    // Unlinked from the account's side.
    let r = server
        .call(
            Method::DELETE,
            "/api/channels/telegram/chats/4242",
            Some(&ann),
            None,
        )
        .await;
    assert_eq!(r.status, StatusCode::NO_CONTENT, "{}", r.text);
    let r = server
        .call(
            Method::DELETE,
            "/api/channels/telegram/chats/4242",
            Some(&ann),
            None,
        )
        .await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    let chats = server.get("/api/channels/telegram/chats", &ann).await;
    assert_eq!(chats.body["chats"], json!([]));
}
