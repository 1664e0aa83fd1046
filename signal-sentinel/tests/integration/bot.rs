//! The Telegram bot against a mock Bot API that answers as Telegram does: linking a chat with a
//! one-time code, commands answered as the linked user (and nothing for an unlinked chat),
//! buttons pressed as `callback_query`, long polling from a stored offset under a lease, 429s.

use std::sync::Arc;
use std::time::Duration;

use serde_json::{Value, json};
use signal_sentinel::auth::action_token::{ActionKeys, AlertAction};
use signal_sentinel::bot::{BotConfig, BotError, TelegramBot};
use signal_sentinel::clock::SystemClock;
use signal_sentinel::config::Settings;
use signal_sentinel::domain::ChannelKind;
use signal_sentinel::market::SimulatedMarket;
use signal_sentinel::notify::{NotifyError, TelegramNotifier};
use signal_sentinel::service::{ActionSigner, Principal, Services};
use signal_sentinel::store::{AlertStore, Store};
use wiremock::matchers::{body_partial_json, method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

use crate::helpers::{TestDb, at, new_alert, seed_user};

const TOKEN: &str = "123456:AAHbotTokenForTheBotTests";
const SECRET: &str = "a-test-secret-key-of-forty-characters-xx";
const CHAT: i64 = 555_000_111;
const STRANGER: i64 = 777_000_222;

fn sent_ok() -> ResponseTemplate {
    ResponseTemplate::new(200).set_body_json(json!({"ok": true, "result": {"message_id": 1,
        "date": 1_795_813_200, "chat": {"id": CHAT, "type": "private"}, "text": "…"}}))
}

fn ok_true() -> ResponseTemplate {
    ResponseTemplate::new(200).set_body_json(json!({"ok": true, "result": true}))
}

async fn telegram() -> MockServer {
    let server = MockServer::start().await;
    for (name, answer) in [
        ("sendMessage", sent_ok()),
        ("editMessageText", sent_ok()),
        ("answerCallbackQuery", ok_true()),
        ("setMyCommands", ok_true()),
        ("deleteWebhook", ok_true()),
    ] {
        Mock::given(method("POST"))
            .and(path(format!("/bot{TOKEN}/{name}")))
            .respond_with(answer)
            .mount(&server)
            .await;
    }
    server
}

fn services(db: &TestDb, telegram: &MockServer) -> Services {
    let settings = Settings::from_vars([
        ("DATABASE_URL".to_owned(), "sqlite::memory:".to_owned()),
        ("SECRET_KEY".to_owned(), SECRET.to_owned()),
        ("TELEGRAM_BOT_TOKEN".to_owned(), TOKEN.to_owned()),
        ("TELEGRAM_BASE_URL".to_owned(), telegram.uri()),
    ])
    .unwrap();
    let store: Arc<dyn Store> = Arc::new(db.store.clone());
    let clock = Arc::new(SystemClock);
    let market = Arc::new(SimulatedMarket::new(1, clock.clone()));
    Services::from_settings(&settings, store, clock, market, Vec::new()).unwrap()
}

fn bot(services: &Services, telegram: &MockServer, holder: &str) -> TelegramBot {
    let api = TelegramNotifier::new(
        url::Url::parse(&telegram.uri()).unwrap(),
        signal_sentinel::Secret::new(TOKEN),
        Duration::from_secs(5),
    )
    .unwrap();
    TelegramBot::new(
        services.clone(),
        api,
        BotConfig {
            poll_timeout: Duration::from_secs(1),
            holder: holder.into(),
            ..BotConfig::default()
        },
    )
}

fn message(update_id: i64, chat: i64, text: &str) -> Value {
    json!({"update_id": update_id, "message": {"message_id": update_id, "date": 1_795_813_200,
        "chat": {"id": chat, "type": "private"}, "from": {"id": chat, "is_bot": false,
        "first_name": "Ann", "username": "ann_trades"}, "text": text}})
}

/// The bodies of the requests to one Bot API method, oldest first.
async fn calls(server: &MockServer, name: &str) -> Vec<Value> {
    server
        .received_requests()
        .await
        .unwrap()
        .iter()
        .filter(|r| r.url.path().ends_with(&format!("/{name}")))
        .map(|r| serde_json::from_slice(&r.body).unwrap())
        .collect()
}

/// What the bot answers to `text` sent in `chat`, as sent to `sendMessage`.
async fn say(bot: &TelegramBot, server: &MockServer, chat: i64, text: &str) -> String {
    let before = calls(server, "sendMessage").await.len();
    bot.handle_update(&message(1, chat, text)).await;
    let sent = calls(server, "sendMessage").await;
    assert_eq!(sent.len(), before + 1, "one answer to {text}");
    let last = sent.last().unwrap();
    assert_eq!(last["chat_id"], chat);
    last["text"].as_str().unwrap().to_owned()
}

async fn chats_link_with_a_code_and_act_only_for_their_user(db: &TestDb) {
    let telegram = telegram().await;
    let services = services(db, &telegram);
    let bot = bot(&services, &telegram, "a");
    let ann = seed_user(&db.store, "ann@example.com").await;
    let who = Principal {
        user: ann.id,
        api_key: None,
    };

    // An unlinked chat learns how to link, and nothing else.
    let answer = say(&bot, &telegram, STRANGER, "/rules").await;
    assert!(answer.contains("not linked"), "{answer}");
    let answer = say(&bot, &telegram, STRANGER, "/start WRONGCODE1").await;
    assert!(answer.contains("unknown, used or expired"), "{answer}");

    let code = services.telegram_link_code(who).await.unwrap();
    assert_eq!(code.code.len(), 10);
    let answer = say(&bot, &telegram, CHAT, &format!("/start {}", code.code)).await;
    assert!(answer.contains("Linked to ann@example.com"), "{answer}");
    assert_eq!(services.telegram_chats(who).await.unwrap(), [CHAT]);
    let (channels, _) = services.list_channels(who).await.unwrap();
    assert!(
        channels
            .iter()
            .any(|c| c.kind == ChannelKind::Telegram && c.config["chat_id"] == CHAT),
        "{channels:?}"
    );
    // A code works once.
    let answer = say(&bot, &telegram, STRANGER, &format!("/start {}", code.code)).await;
    assert!(answer.contains("unknown, used or expired"), "{answer}");

    // Commands act as Ann, through the same checks as everywhere.
    let answer = say(&bot, &telegram, CHAT, "/add XYZ crosses above 200").await;
    assert!(answer.starts_with("Added rule #"), "{answer}");
    let answer = say(&bot, &telegram, CHAT, "/add XYZ crosses sideways").await;
    assert!(answer.contains("expected"), "the parser's error: {answer}");
    // Plain words are read and shown, not saved: the user sends the rule's text to save it.
    let answer = say(
        &bot,
        &telegram,
        CHAT,
        "/add tell me if Apple drops 5% today",
    )
    .await;
    assert!(
        answer.starts_with("I read: AAPL day change <= -5%\n"),
        "{answer}"
    );
    assert!(
        answer.ends_with("Send /add AAPL day change <= -5% to save it."),
        "{answer}"
    );
    let rules = services
        .list_rules(who, None, None, None, 10)
        .await
        .unwrap();
    assert_eq!(rules.len(), 1);
    let id = rules[0].id;
    let answer = say(&bot, &telegram, CHAT, "/rules").await;
    assert_eq!(answer, format!("#{id} XYZ crosses above 200"));
    let answer = say(
        &bot,
        &telegram,
        CHAT,
        &format!("/snooze@SentinelBot {id} 2h"),
    )
    .await;
    assert!(
        answer.starts_with(&format!("Snoozed rule #{id}")),
        "{answer}"
    );
    let rule = services.get_rule(who, id).await.unwrap().rule;
    assert!(rule.snoozed_until.is_some());
    let answer = say(&bot, &telegram, CHAT, "/snooze 1 forever").await;
    assert!(answer.contains("unit"), "{answer}");
    let alert = db
        .store
        .insert_alerts(vec![new_alert(&rule, 1, "201", at("2026-12-07T15:00:00Z"))])
        .await
        .unwrap()
        .remove(0);
    let answer = say(&bot, &telegram, CHAT, "/alerts").await;
    assert!(
        answer.starts_with(&format!(
            "#{} 2026-12-07 15:00 UTC — XYZ crossed at 201 (rule {id})",
            alert.id
        )),
        "{answer}"
    );
    let answer = say(&bot, &telegram, CHAT, &format!("/ack {}", alert.id)).await;
    assert!(answer.starts_with("Acknowledged"), "{answer}");
    let answer = say(&bot, &telegram, CHAT, "/ack 999999").await;
    assert_eq!(answer, "alert not found");
    let answer = say(&bot, &telegram, CHAT, "/mute 3h").await;
    assert!(answer.starts_with("Muted until"), "{answer}");
    assert!(
        services
            .notification_prefs(who)
            .await
            .unwrap()
            .muted_until
            .is_some()
    );
    let answer = say(&bot, &telegram, CHAT, "/unmute").await;
    assert_eq!(answer, "Unmuted.");
    let answer = say(&bot, &telegram, CHAT, "/quote xyz, BTC-USD").await;
    let lines: Vec<&str> = answer.lines().collect();
    assert_eq!(lines.len(), 2, "{answer}");
    assert!(
        lines[0].starts_with("XYZ ") && lines[1].starts_with("BTC-USD "),
        "{answer}"
    );
    let answer = say(&bot, &telegram, CHAT, "/quote").await;
    assert!(answer.contains("give one or more symbols"), "{answer}");
    let answer = say(&bot, &telegram, CHAT, "/alerts 500").await;
    assert!(answer.contains("1 to 20"), "{answer}");
    let answer = say(&bot, &telegram, CHAT, "/portfolio").await;
    assert!(answer.starts_with("No holdings yet"), "{answer}");
    let answer = say(&bot, &telegram, CHAT, "/help").await;
    assert!(
        answer.contains("/snooze") && answer.contains("/quote"),
        "{answer}"
    );
    let answer = say(&bot, &telegram, CHAT, "/dance").await;
    assert!(answer.starts_with("Unknown command /dance"), "{answer}");

    // Plain text is not a command: no answer.
    bot.handle_update(&message(2, CHAT, "hello")).await;

    // The chat unlinks itself; it then acts for nobody.
    let answer = say(&bot, &telegram, CHAT, "/stop").await;
    assert!(answer.starts_with("Unlinked"), "{answer}");
    let answer = say(&bot, &telegram, CHAT, "/rules").await;
    assert!(answer.contains("not linked"), "{answer}");
    assert!(services.telegram_chats(who).await.unwrap().is_empty());

    // Commands are registered as Telegram expects.
    bot.register_commands().await.unwrap();
    let registered = calls(&telegram, "setMyCommands").await;
    assert_eq!(
        registered[0]["commands"][0],
        json!({"command": "alerts", "description": "Latest alerts: /alerts [how many]"})
    );
}

async fn buttons_act_as_the_chats_user_and_edit_the_message(db: &TestDb) {
    let telegram = telegram().await;
    let services = services(db, &telegram);
    let bot = bot(&services, &telegram, "a");
    let ann = seed_user(&db.store, "ann@example.com").await;
    let who = Principal {
        user: ann.id,
        api_key: None,
    };
    let code = services.telegram_link_code(who).await.unwrap();
    bot.handle_update(&message(1, CHAT, &format!("/start {}", code.code)))
        .await;
    let rule = crate::helpers::seed_rule(&db.store, &ann, "XYZ").await;
    let alert = db
        .store
        .insert_alerts(vec![new_alert(&rule, 1, "101", at("2026-12-07T15:00:00Z"))])
        .await
        .unwrap()
        .remove(0);
    let signer = ActionSigner::new(Arc::new(ActionKeys::new(SECRET.as_bytes(), None)), None);
    let actions = signer.actions(&alert, Some(&rule), chrono::Utc::now());
    let snooze = actions
        .iter()
        .find(|a| a.action == AlertAction::SnoozeHour)
        .unwrap()
        .token
        .clone();
    let keyboard = json!({"inline_keyboard": [[
        {"text": "Acknowledge", "callback_data": actions[0].token},
        {"text": "Snooze 1 h", "callback_data": snooze},
    ]]});
    let press = |chat: i64, data: &str| {
        json!({"update_id": 5, "callback_query": {"id": "cbq-1", "chat_instance": "x",
            "from": {"id": chat, "is_bot": false, "first_name": "Ann", "username": "ann_trades"},
            "message": {"message_id": 77, "date": 1_795_813_200, "chat": {"id": chat, "type": "private"},
                "text": "XYZ crossed at 101", "reply_markup": keyboard},
            "data": data}})
    };

    // From a chat that is not linked: told so, nothing done.
    bot.handle_update(&press(STRANGER, &snooze)).await;
    let answered = calls(&telegram, "answerCallbackQuery").await;
    assert!(
        answered[0]["text"].as_str().unwrap().contains("not linked"),
        "{answered:?}"
    );
    assert!(
        services
            .get_rule(who, rule.id)
            .await
            .unwrap()
            .rule
            .snoozed_until
            .is_none()
    );
    assert!(calls(&telegram, "editMessageText").await.is_empty());

    // From Ann's chat: snoozed, answered, and the message says so without that button.
    bot.handle_update(&press(CHAT, &snooze)).await;
    let snoozed = services
        .get_rule(who, rule.id)
        .await
        .unwrap()
        .rule
        .snoozed_until;
    assert!(snoozed.is_some());
    let answered = calls(&telegram, "answerCallbackQuery").await;
    assert_eq!(answered[1]["callback_query_id"], "cbq-1");
    assert!(answered[1]["text"].as_str().unwrap().starts_with("Snoozed"));
    let edited = calls(&telegram, "editMessageText").await;
    assert_eq!(edited[0]["chat_id"], CHAT);
    assert_eq!(edited[0]["message_id"], 77);
    let text = edited[0]["text"].as_str().unwrap();
    assert!(
        text.starts_with("XYZ crossed at 101\n\n✓ Snoozed") && text.ends_with("— @ann_trades"),
        "{text}"
    );
    assert_eq!(
        edited[0]["reply_markup"],
        json!({"inline_keyboard": [[{"text": "Acknowledge", "callback_data": actions[0].token}]]})
    );

    // Pressed again: used once, says why, changes nothing.
    bot.handle_update(&press(CHAT, &snooze)).await;
    let answered = calls(&telegram, "answerCallbackQuery").await;
    assert!(
        answered[2]["text"]
            .as_str()
            .unwrap()
            .contains("used already")
    );
    assert_eq!(calls(&telegram, "editMessageText").await.len(), 1);

    // Bob's chat pressing Ann's button: another account's alert, nothing done.
    let bob = seed_user(&db.store, "bob@example.com").await;
    let code = services
        .telegram_link_code(Principal {
            user: bob.id,
            api_key: None,
        })
        .await
        .unwrap();
    bot.handle_update(&message(6, STRANGER, &format!("/start {}", code.code)))
        .await;
    bot.handle_update(&press(STRANGER, &actions[0].token)).await;
    let answered = calls(&telegram, "answerCallbackQuery").await;
    assert!(
        answered[3]["text"]
            .as_str()
            .unwrap()
            .contains("another account")
    );
    assert_eq!(
        services.get_alert(who, alert.id).await.unwrap().0.state,
        signal_sentinel::domain::AlertState::New
    );
}

async fn polling_resumes_from_the_stored_offset_under_one_lease(db: &TestDb) {
    let telegram = telegram().await;
    let services = services(db, &telegram);
    let first = bot(&services, &telegram, "first");
    let second = bot(&services, &telegram, "second");
    Mock::given(method("POST"))
        .and(path(format!("/bot{TOKEN}/getUpdates")))
        .and(body_partial_json(json!({"offset": 0, "timeout": 1})))
        .respond_with(
            ResponseTemplate::new(200).set_body_json(json!({"ok": true, "result": [
                message(40, STRANGER, "/help"),
                message(41, STRANGER, "/rules"),
            ]})),
        )
        .up_to_n_times(1)
        .mount(&telegram)
        .await;
    Mock::given(method("POST"))
        .and(path(format!("/bot{TOKEN}/getUpdates")))
        .and(body_partial_json(json!({"offset": 42})))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"ok": true, "result": []})))
        .mount(&telegram)
        .await;
    assert_eq!(first.poll_once().await.unwrap(), Some(2));
    assert_eq!(calls(&telegram, "sendMessage").await.len(), 2);
    // Another process waits while the lease is held…
    assert_eq!(second.poll_once().await.unwrap(), None);
    // …and the holder goes on from update 42, after a restart too.
    let restarted = bot(&services, &telegram, "first");
    assert_eq!(restarted.poll_once().await.unwrap(), Some(0));
    assert_eq!(
        calls(&telegram, "sendMessage").await.len(),
        2,
        "nothing repeated"
    );

    // Telegram's 429 says how long to wait.
    telegram.reset().await;
    Mock::given(method("POST"))
        .and(path(format!("/bot{TOKEN}/getUpdates")))
        .respond_with(ResponseTemplate::new(429).set_body_json(json!({"ok": false,
            "error_code": 429, "description": "Too Many Requests: retry after 3",
            "parameters": {"retry_after": 3}})))
        .mount(&telegram)
        .await;
    match restarted.poll_once().await {
        Err(BotError::Telegram(NotifyError::Retry { after, message })) => {
            assert_eq!(after, Some(Duration::from_secs(3)));
            assert!(!message.contains(TOKEN), "{message}");
        }
        other => panic!("expected a retry, got {other:?}"),
    }
}

/// `run`: stops any webhook (getUpdates answers nothing while one is set), registers the
/// commands, polls until cancelled, and gives the lease up so another process takes over at
/// once.
async fn the_poller_clears_a_webhook_registers_commands_and_gives_its_lease_up(db: &TestDb) {
    let telegram = telegram().await;
    Mock::given(method("POST"))
        .and(path(format!("/bot{TOKEN}/getUpdates")))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"ok": true, "result": []})))
        .mount(&telegram)
        .await;
    let services = services(db, &telegram);
    let first = bot(&services, &telegram, "first");
    let cancel = tokio_util::sync::CancellationToken::new();
    let running = tokio::spawn({
        let cancel = cancel.clone();
        async move { first.run(cancel).await }
    });
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while calls(&telegram, "getUpdates").await.is_empty() {
        assert!(tokio::time::Instant::now() < deadline, "no poll");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    // While it runs, another process waits.
    let second = bot(&services, &telegram, "second");
    assert_eq!(second.poll_once().await.unwrap(), None);
    cancel.cancel();
    running.await.unwrap();
    assert_eq!(
        calls(&telegram, "deleteWebhook").await,
        [json!({"drop_pending_updates": false})]
    );
    assert_eq!(calls(&telegram, "setMyCommands").await.len(), 1);
    assert_eq!(
        second.poll_once().await.unwrap(),
        Some(0),
        "the lease was given up"
    );
}

backend_tests!(
    the_poller_clears_a_webhook_registers_commands_and_gives_its_lease_up,
    chats_link_with_a_code_and_act_only_for_their_user,
    buttons_act_as_the_chats_user_and_edit_the_message,
    polling_resumes_from_the_stored_offset_under_one_lease,
);
