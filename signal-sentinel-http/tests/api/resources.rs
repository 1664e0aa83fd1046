//! Rules, alerts (and their stream), channels, market data and monitor status.

use reqwest::{Method, StatusCode};
use rust_decimal::Decimal;
use serde_json::json;
use signal_sentinel::domain::{AlertKind, NewAlert, RuleId, Symbol, UserId};
use signal_sentinel::store::AlertStore;

use crate::harness::{Backend, Options, TestServer, error_code, replay_market};

/// Stores an alert of `rule` for `owner`, `minutes_ago` before now; its id.
pub(crate) async fn insert_alert(
    server: &TestServer,
    owner: i64,
    rule: i64,
    minutes_ago: i64,
) -> i64 {
    let fired_at = chrono::Utc::now() - chrono::Duration::minutes(minutes_ago);
    let alerts = server
        .store
        .insert_alerts(vec![NewAlert {
            rule_id: RuleId::new(rule),
            owner: UserId::new(owner),
            symbol: Symbol::parse("XYZ").unwrap(),
            episode: minutes_ago + 1,
            kind: AlertKind::Fired,
            price: Decimal::new(3012, 2),
            message: format!("XYZ crossed above 30 ({minutes_ago} min ago)"),
            fired_at,
            reminder: 0,
        }])
        .await
        .unwrap();
    alerts[0].id.get()
}

async fn rules_flow(server: &TestServer) {
    let token = server.user("ann@example.com").await;
    let text = server
        .post(
            "/api/rules",
            &token,
            json!({"text": "xyz crosses above 30", "name": "breakout", "options": {"cooldown_minutes": 60}}),
        )
        .await;
    assert_eq!(text.status, StatusCode::CREATED, "{}", text.text);
    assert_eq!(text.body["symbol"], "XYZ");
    assert_eq!(text.body["text"], "XYZ crosses above 30");
    assert_eq!(text.body["options"]["cooldown_minutes"], 60);
    let id = text.body["id"].as_i64().unwrap();

    let as_json = server
        .post(
            "/api/rules",
            &token,
            json!({"symbol": "MSFT", "condition": {"type": "price", "op": "<", "level": "20"}}),
        )
        .await;
    assert_eq!(as_json.status, StatusCode::CREATED, "{}", as_json.text);
    assert_eq!(as_json.body["text"], "MSFT price < 20");

    for (body, field) in [
        (json!({"text": "XYZ crosses abve 30"}), "text"),
        (json!({"symbol": "MSFT"}), "condition"),
        (
            json!({"condition": {"type": "price", "op": "<", "level": "20"}}),
            "symbol",
        ),
        (
            json!({"symbol": "MSFT", "condition": {"type": "nope"}}),
            "condition",
        ),
        (
            json!({"text": "XYZ > 1", "options": {"cooldown_minutes": "soon"}}),
            "options",
        ),
        (
            json!({"text": "XYZ > 1", "options": {"message": "{{prize}}"}}),
            "options",
        ),
        (json!({"text": "XYZ > 1", "name": ""}), "name"),
        (json!({}), "text"),
    ] {
        let r = server.post("/api/rules", &token, body.clone()).await;
        assert_eq!(
            r.status,
            StatusCode::UNPROCESSABLE_ENTITY,
            "{body}: {}",
            r.text
        );
        assert_eq!(
            r.body["error"]["fields"][0]["field"], field,
            "{body}: {}",
            r.text
        );
    }

    // Pagination: 3 rules, pages of 2.
    server
        .post("/api/rules", &token, json!({"text": "AAPL > 1"}))
        .await;
    let page = server.get("/api/rules?limit=2", &token).await;
    assert_eq!(page.body["items"].as_array().unwrap().len(), 2);
    let cursor = page.body["next_cursor"].as_i64().unwrap();
    let next = server
        .get(&format!("/api/rules?limit=2&after={cursor}"), &token)
        .await;
    assert_eq!(next.body["items"].as_array().unwrap().len(), 1);
    assert!(next.body["next_cursor"].is_null());
    let filtered = server.get("/api/rules?symbol=msft", &token).await;
    assert_eq!(filtered.body["items"][0]["symbol"], "MSFT");

    let one = server.get(&format!("/api/rules/{id}"), &token).await;
    assert_eq!(one.status, StatusCode::OK);
    assert_eq!(one.body["name"], "breakout");

    let patched = server
        .call(
            Method::PATCH,
            &format!("/api/rules/{id}"),
            Some(&token),
            Some(json!({"text": "XYZ crosses above 31", "name": null})),
        )
        .await;
    assert_eq!(patched.status, StatusCode::OK, "{}", patched.text);
    assert_eq!(patched.body["text"], "XYZ crosses above 31");
    assert!(patched.body["name"].is_null());
    assert_eq!(
        patched.body["options"]["cooldown_minutes"], 60,
        "options kept"
    );
    let bad = server
        .call(
            Method::PATCH,
            &format!("/api/rules/{id}"),
            Some(&token),
            Some(json!({"text": "XYZ crosses"})),
        )
        .await;
    assert_eq!(bad.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(
        server.get(&format!("/api/rules/{id}"), &token).await.body["text"],
        "XYZ crosses above 31",
        "a refused change changes nothing"
    );

    let off = server
        .post(&format!("/api/rules/{id}/disable"), &token, json!(null))
        .await;
    assert_eq!(off.body["enabled"], false, "{}", off.text);
    let on = server
        .post(&format!("/api/rules/{id}/enable"), &token, json!(null))
        .await;
    assert_eq!(on.body["enabled"], true);

    let snoozed = server
        .post(
            &format!("/api/rules/{id}/snooze"),
            &token,
            json!({"minutes": 90}),
        )
        .await;
    assert_eq!(snoozed.status, StatusCode::OK, "{}", snoozed.text);
    assert!(snoozed.body["snoozed_until"].is_string());
    let past = server
        .post(
            &format!("/api/rules/{id}/snooze"),
            &token,
            json!({"until": "2001-01-01T00:00:00Z"}),
        )
        .await;
    assert_eq!(past.status, StatusCode::UNPROCESSABLE_ENTITY);
    let neither = server
        .post(&format!("/api/rules/{id}/snooze"), &token, json!({}))
        .await;
    assert_eq!(neither.status, StatusCode::UNPROCESSABLE_ENTITY);
    let woke = server
        .call(
            Method::DELETE,
            &format!("/api/rules/{id}/snooze"),
            Some(&token),
            None,
        )
        .await;
    assert!(woke.body["snoozed_until"].is_null());

    let gone = server
        .call(
            Method::DELETE,
            &format!("/api/rules/{id}"),
            Some(&token),
            None,
        )
        .await;
    assert_eq!(gone.status, StatusCode::NO_CONTENT);
    let r = server.get(&format!("/api/rules/{id}"), &token).await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    assert_eq!(error_code(&r), "not_found");
}

#[tokio::test]
async fn rules_crud_on_sqlite() {
    rules_flow(&TestServer::start().await).await;
}

#[tokio::test]
async fn rules_crud_on_postgres() {
    let Some(server) = TestServer::start_with(Options {
        backend: Backend::Postgres,
        ..Options::default()
    })
    .await
    else {
        return;
    };
    rules_flow(&server).await;
}

#[tokio::test]
async fn rules_per_user_are_capped() {
    let server = TestServer::start_with(Options {
        vars: vec![("MAX_RULES_PER_USER", "2".into())],
        ..Options::default()
    })
    .await
    .unwrap();
    let token = server.user("ann@example.com").await;
    for level in [1, 2] {
        let r = server
            .post(
                "/api/rules",
                &token,
                json!({"text": format!("AAPL > {level}")}),
            )
            .await;
        assert_eq!(r.status, StatusCode::CREATED);
    }
    let r = server
        .post("/api/rules", &token, json!({"text": "AAPL > 3"}))
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN, "{}", r.text);
    assert_eq!(error_code(&r), "limit_reached");
    let other = server.user("bob@example.com").await;
    let r = server
        .post("/api/rules", &other, json!({"text": "AAPL > 3"}))
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "the cap is per user");
}

#[tokio::test]
async fn backtest_replays_real_bars() {
    let server = TestServer::start_with(Options {
        market: Some(replay_market()),
        ..Options::default()
    })
    .await
    .unwrap();
    let token = server.user("ann@example.com").await;
    let r = server
        .post(
            "/api/rules/backtest",
            &token,
            json!({"text": "XYZ crosses above 30", "from": "2009-06-01", "to": "2009-07-31"}),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(r.body["symbol"], "XYZ");
    let sessions = r.body["sessions"].as_u64().unwrap();
    assert!((40..=44).contains(&sessions), "{sessions}");
    let alerts = r.body["alerts"].as_array().unwrap();
    assert!(!alerts.is_empty());
    assert!(
        alerts
            .iter()
            .all(|a| a["kind"] == "fired" || a["kind"] == "resolved")
    );
    let backwards = server
        .post(
            "/api/rules/backtest",
            &token,
            json!({"text": "XYZ > 30", "from": "2009-07-31", "to": "2009-06-01"}),
        )
        .await;
    assert_eq!(backwards.status, StatusCode::UNPROCESSABLE_ENTITY);

    // A combination, with options: the same library call as `invest rules backtest`.
    let combined = server
        .post(
            "/api/rules/backtest",
            &token,
            json!({"text": "XYZ crosses above 30 and day change > 1%", "from": "2009-06-01",
                   "to": "2009-07-31", "options": {"frequency": "once"}}),
        )
        .await;
    assert_eq!(combined.status, StatusCode::OK, "{}", combined.text);
    assert_eq!(combined.body["alerts"].as_array().unwrap().len(), 1);
    // An expiry before the first cross: nothing, as the saved rule would do.
    let expired = server
        .post(
            "/api/rules/backtest",
            &token,
            json!({"text": "XYZ crosses above 30", "from": "2009-06-01", "to": "2009-07-31",
                   "expires_at": "2009-06-01T12:00:00Z"}),
        )
        .await;
    assert_eq!(expired.status, StatusCode::OK, "{}", expired.text);
    assert_eq!(expired.body["alerts"], json!([]));
    // A calendar condition where the market has no calendar: no data, never a firing.
    let blind = server
        .post(
            "/api/rules/backtest",
            &token,
            json!({"text": "XYZ earnings within 2d", "from": "2009-06-01", "to": "2009-07-31"}),
        )
        .await;
    assert_eq!(blind.status, StatusCode::OK, "{}", blind.text);
    assert!(
        blind.body["alerts"]
            .as_array()
            .unwrap()
            .iter()
            .all(|a| a["kind"] != "fired"),
        "{}",
        blind.text
    );
    let capped = server
        .post(
            "/api/rules/backtest",
            &token,
            json!({"text": "XYZ > 1 and > 2 and > 3 and > 4 and > 5 and > 6 and > 7 and > 8 and > 9",
                   "from": "2009-06-01", "to": "2009-07-31"}),
        )
        .await;
    assert_eq!(capped.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        capped.text.contains("at most 8 conditions"),
        "{}",
        capped.text
    );
}

#[tokio::test]
async fn combined_rules_are_saved_as_written_and_read_back_canonically() {
    let server = TestServer::start().await;
    let token = server.user("ann@example.com").await;
    let r = server
        .post(
            "/api/rules",
            &token,
            json!({"text": "aapl crosses above 200 AND (spy day change > 0% or ^vix < 20)"}),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    assert_eq!(
        r.body["text"],
        "AAPL crosses above 200 and (SPY day change > 0% or ^VIX price < 20)"
    );
    assert_eq!(r.body["condition"]["version"], 2);
    assert_eq!(r.body["condition"]["type"], "and");
    // The JSON form is accepted as well, and a version-1 combination is refused.
    let condition = r.body["condition"].clone();
    let again = server
        .post(
            "/api/rules",
            &token,
            json!({"symbol": "AAPL", "condition": condition}),
        )
        .await;
    // The same rule, written another way, with the same options: refused with its id …
    assert_eq!(again.status, StatusCode::CONFLICT, "{}", again.text);
    let id = r.body["id"].as_i64().unwrap();
    assert!(
        again.body["error"]["message"]
            .as_str()
            .unwrap()
            .starts_with(&format!("rule #{id} is this rule already")),
        "{}",
        again.text
    );
    // … unless asked for, or with other options, or for another user.
    let again = server
        .post(
            "/api/rules",
            &token,
            json!({"symbol": "AAPL", "condition": condition, "allow_duplicate": true}),
        )
        .await;
    assert_eq!(again.status, StatusCode::CREATED, "{}", again.text);
    assert_eq!(again.body["text"], r.body["text"]);
    let other = server
        .post(
            "/api/rules",
            &token,
            json!({"text": r.body["text"], "options": {"cooldown_minutes": 60}}),
        )
        .await;
    assert_eq!(other.status, StatusCode::CREATED, "{}", other.text);
    let bob = server.user("bob@example.com").await;
    let theirs = server
        .post("/api/rules", &bob, json!({"text": r.body["text"]}))
        .await;
    assert_eq!(theirs.status, StatusCode::CREATED, "{}", theirs.text);
    let mut old = r.body["condition"].clone();
    old["version"] = json!(1);
    let refused = server
        .post(
            "/api/rules",
            &token,
            json!({"symbol": "AAPL", "condition": old}),
        )
        .await;
    assert_eq!(
        refused.status,
        StatusCode::UNPROCESSABLE_ENTITY,
        "{}",
        refused.text
    );
}

#[tokio::test]
async fn alerts_filter_page_show_deliveries_ack_and_delete() {
    let server = TestServer::start().await;
    let token = server.user("ann@example.com").await;
    let me = server.get("/api/auth/me", &token).await.body["id"]
        .as_i64()
        .unwrap();
    let rule = server
        .post("/api/rules", &token, json!({"text": "XYZ > 30"}))
        .await
        .body["id"]
        .as_i64()
        .unwrap();
    let other_rule = server
        .post("/api/rules", &token, json!({"text": "XYZ > 40"}))
        .await
        .body["id"]
        .as_i64()
        .unwrap();
    let mut ids = Vec::new();
    for minutes_ago in [50, 40, 30, 20, 10] {
        ids.push(insert_alert(&server, me, rule, minutes_ago).await);
    }
    insert_alert(&server, me, other_rule, 5).await;

    // Cursor pagination, newest first, no row twice or missed.
    let mut seen = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let path = match &cursor {
            Some(c) => format!("/api/alerts?rule_id={rule}&limit=2&before={c}"),
            None => format!("/api/alerts?rule_id={rule}&limit=2"),
        };
        let page = server.get(&path, &token).await;
        assert_eq!(page.status, StatusCode::OK, "{}", page.text);
        for a in page.body["items"].as_array().unwrap() {
            seen.push(a["id"].as_i64().unwrap());
        }
        match page.body["next_cursor"].as_str() {
            Some(c) => cursor = Some(c.to_owned()),
            None => break,
        }
    }
    let mut newest_first = ids.clone();
    newest_first.reverse();
    assert_eq!(seen, newest_first);

    let since = (chrono::Utc::now() - chrono::Duration::minutes(25)).to_rfc3339();
    let recent = server
        .get(
            &format!("/api/alerts?since={}", since.replace('+', "%2B")),
            &token,
        )
        .await;
    assert_eq!(
        recent.body["items"].as_array().unwrap().len(),
        3,
        "{}",
        recent.text
    );
    let by_symbol = server.get("/api/alerts?symbol=AAPL", &token).await;
    assert_eq!(by_symbol.body["items"], json!([]));
    let bad_state = server.get("/api/alerts?state=maybe", &token).await;
    assert_eq!(bad_state.status, StatusCode::UNPROCESSABLE_ENTITY);
    let bad_cursor = server.get("/api/alerts?before=zzz", &token).await;
    assert_eq!(bad_cursor.status, StatusCode::UNPROCESSABLE_ENTITY);

    let one = server.get(&format!("/api/alerts/{}", ids[0]), &token).await;
    assert_eq!(one.status, StatusCode::OK);
    assert_eq!(one.body["deliveries"], json!([]));
    assert_eq!(one.body["price"], "30.12");

    let acked = server
        .post(&format!("/api/alerts/{}/ack", ids[0]), &token, json!(null))
        .await;
    assert_eq!(acked.body["state"], "acknowledged", "{}", acked.text);
    let new_only = server.get("/api/alerts?state=new", &token).await;
    assert_eq!(new_only.body["items"].as_array().unwrap().len(), 5);

    let cut = (chrono::Utc::now() - chrono::Duration::minutes(35)).to_rfc3339();
    let deleted = server
        .call(
            Method::DELETE,
            &format!("/api/alerts?before={}", cut.replace('+', "%2B")),
            Some(&token),
            None,
        )
        .await;
    assert_eq!(deleted.body, json!({"deleted": 2}), "{}", deleted.text);
    let missing_before = server
        .call(Method::DELETE, "/api/alerts", Some(&token), None)
        .await;
    assert_eq!(missing_before.status, StatusCode::BAD_REQUEST);
}

/// How often the stream would poll in these tests: never within them, so only the store's
/// signal of a commit can bring an alert.
const NO_POLL: std::time::Duration = std::time::Duration::from_secs(3600);

#[tokio::test]
async fn the_stream_sends_new_alerts_as_server_sent_events() {
    let server = TestServer::start_with(Options {
        stream_poll: Some(NO_POLL),
        ..Options::default()
    })
    .await
    .unwrap();
    stream_flow(&server, &server).await;
}

/// Two replicas on one PostgreSQL database: a browser connected to `b` gets the alert `a`'s
/// process commits, through LISTEN/NOTIFY.
#[tokio::test]
async fn the_stream_on_one_replica_hears_alerts_committed_through_another_on_postgres() {
    let Some(a) = TestServer::start_with(Options {
        backend: Backend::Postgres,
        stream_poll: Some(NO_POLL),
        ..Options::default()
    })
    .await
    else {
        return;
    };
    let b = TestServer::start_with(Options {
        database: Some(a.database.clone()),
        stream_poll: Some(NO_POLL),
        ..Options::default()
    })
    .await
    .unwrap();
    stream_flow(&a, &b).await;
}

/// Alerts written through `writer`'s store reach a stream opened on `reader`: the user's new
/// ones, not older ones nor another user's.
async fn stream_flow(writer: &TestServer, reader: &TestServer) {
    let server = writer;
    let token = server.user("ann@example.com").await;
    let bob = server.user("bob@example.com").await;
    let me = server.get("/api/auth/me", &token).await.body["id"]
        .as_i64()
        .unwrap();
    let bob_id = server.get("/api/auth/me", &bob).await.body["id"]
        .as_i64()
        .unwrap();
    let rule = server
        .post("/api/rules", &token, json!({"text": "XYZ > 30"}))
        .await
        .body["id"]
        .as_i64()
        .unwrap();
    let bob_rule = server
        .post("/api/rules", &bob, json!({"text": "XYZ > 30"}))
        .await
        .body["id"]
        .as_i64()
        .unwrap();
    insert_alert(server, me, rule, 60).await; // before the stream: not sent

    let mut resp = reader
        .http
        .get(format!("{}/api/alerts/stream", reader.base))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    assert!(
        resp.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/event-stream")
    );
    insert_alert(server, bob_id, bob_rule, 0).await; // someone else's: not sent
    let fresh = insert_alert(server, me, rule, 0).await;
    let alert = next_event(&mut resp).await;
    assert_eq!(alert["id"].as_i64(), Some(fresh));
    assert_eq!(alert["symbol"], "XYZ");
    // The stream's feed is surely listening by now (an event came): this one can only
    // arrive through the signal of its commit.
    let second = insert_alert(server, me, rule, 1).await;
    assert_eq!(next_event(&mut resp).await["id"].as_i64(), Some(second));
}

/// The next event of a server-sent event stream, as JSON.
async fn next_event(resp: &mut reqwest::Response) -> serde_json::Value {
    let mut received = String::new();
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(10);
    while !received.contains("\n\n") {
        let chunk = tokio::time::timeout_at(deadline, resp.chunk())
            .await
            .expect("an event within 10 s")
            .unwrap()
            .expect("the stream stays open");
        received.push_str(&String::from_utf8_lossy(&chunk));
    }
    let data = received
        .lines()
        .find_map(|l| l.strip_prefix("data:"))
        .unwrap_or_else(|| panic!("no data line in {received:?}"));
    serde_json::from_str(data.trim()).unwrap()
}

#[tokio::test]
async fn channels_are_created_tested_switched_and_removed() {
    let hook = wiremock::MockServer::start().await;
    wiremock::Mock::given(wiremock::matchers::method("POST"))
        .respond_with(wiremock::ResponseTemplate::new(200))
        .expect(1)
        .mount(&hook)
        .await;
    let server = TestServer::start().await;
    let token = server.user("ann@example.com").await;
    let created = server
        .post(
            "/api/channels",
            &token,
            json!({"kind": "webhook", "url": format!("{}/hook", hook.uri()), "name": "ops"}),
        )
        .await;
    assert_eq!(created.status, StatusCode::CREATED, "{}", created.text);
    let secret = created.body["secret"].as_str().unwrap().to_owned();
    assert!(secret.len() >= 16);
    let id = created.body["channel"]["id"].as_i64().unwrap();

    let telegram = server
        .post(
            "/api/channels",
            &token,
            json!({"kind": "telegram", "chat_id": "@alerts_room"}),
        )
        .await;
    assert_eq!(telegram.status, StatusCode::CREATED, "{}", telegram.text);
    assert!(telegram.body.get("secret").is_none());

    for (body, field) in [
        (json!({"kind": "webhook", "url": "ftp://x"}), "url"),
        (json!({"kind": "webhook"}), "url"),
        (
            json!({"kind": "telegram", "chat_id": "not a chat"}),
            "chat_id",
        ),
        (
            json!({"kind": "webhook", "url": "https://x.example", "secret": "short"}),
            "secret",
        ),
    ] {
        let r = server.post("/api/channels", &token, body.clone()).await;
        assert_eq!(
            r.status,
            StatusCode::UNPROCESSABLE_ENTITY,
            "{body}: {}",
            r.text
        );
        assert_eq!(r.body["error"]["fields"][0]["field"], field, "{body}");
    }
    let bad_kind = server
        .post("/api/channels", &token, json!({"kind": "pigeon"}))
        .await;
    assert_eq!(bad_kind.status, StatusCode::BAD_REQUEST);
    let dup = server
        .post(
            "/api/channels",
            &token,
            json!({"kind": "webhook", "url": "https://x.example", "name": "ops"}),
        )
        .await;
    assert_eq!(dup.status, StatusCode::CONFLICT, "{}", dup.text);

    let tested = server
        .post(&format!("/api/channels/{id}/test"), &token, json!(null))
        .await;
    assert_eq!(tested.status, StatusCode::OK, "{}", tested.text);
    assert_eq!(tested.body["ok"], true, "{}", tested.text);
    let status = server.get("/api/channels/status", &token).await;
    assert_eq!(status.body["pending_deliveries"], 0);
    let ops = status.body["channels"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["id"] == id)
        .unwrap()
        .clone();
    assert!(ops["last_ok_at"].is_string());

    let off = server
        .call(
            Method::PATCH,
            &format!("/api/channels/{id}"),
            Some(&token),
            Some(json!({"enabled": false})),
        )
        .await;
    assert_eq!(off.body["enabled"], false);
    let gone = server
        .call(
            Method::DELETE,
            &format!("/api/channels/{id}"),
            Some(&token),
            None,
        )
        .await;
    assert_eq!(gone.status, StatusCode::NO_CONTENT);
    assert_eq!(
        server
            .get("/api/channels", &token)
            .await
            .body
            .as_array()
            .unwrap()
            .len(),
        1
    );
}

#[tokio::test]
async fn quotes_and_bars_come_from_the_market() {
    let server = TestServer::start_with(Options {
        market: Some(replay_market()),
        ..Options::default()
    })
    .await
    .unwrap();
    let token = server.user("ann@example.com").await;
    let quotes = server.get("/api/quotes?symbols=xyz", &token).await;
    assert_eq!(quotes.status, StatusCode::OK, "{}", quotes.text);
    assert_eq!(quotes.body[0]["symbol"], "XYZ");
    assert!(quotes.body[0]["price"].is_string());
    let bars = server
        .get("/api/bars/XYZ?from=2009-06-01&to=2009-06-30", &token)
        .await;
    assert_eq!(bars.status, StatusCode::OK, "{}", bars.text);
    assert_eq!(bars.body.as_array().unwrap().len(), 22);
    assert_eq!(bars.body[0]["open"], "28.7");

    let bad = server.get("/api/quotes?symbols=no%20way", &token).await;
    assert_eq!(bad.status, StatusCode::UNPROCESSABLE_ENTITY);
    let many: Vec<String> = (0..51).map(|i| format!("S{i}")).collect();
    let too_many = server
        .get(&format!("/api/quotes?symbols={}", many.join(",")), &token)
        .await;
    assert_eq!(too_many.status, StatusCode::UNPROCESSABLE_ENTITY);
    let long_range = server
        .get("/api/bars/XYZ?from=1990-01-01&to=2009-06-30", &token)
        .await;
    assert_eq!(long_range.status, StatusCode::UNPROCESSABLE_ENTITY);
}

#[tokio::test]
async fn a_failing_provider_answers_503_without_its_details() {
    let yahoo = wiremock::MockServer::start().await;
    wiremock::Mock::given(wiremock::matchers::any())
        .respond_with(wiremock::ResponseTemplate::new(429).set_body_string("Too Many Requests"))
        .mount(&yahoo)
        .await;
    let server = TestServer::start_with(Options {
        vars: vec![("YAHOO_BASE_URL", yahoo.uri())],
        ..Options::default()
    })
    .await
    .unwrap();
    let token = server.user("ann@example.com").await;
    let r = server.get("/api/quotes?symbols=AAPL", &token).await;
    assert_eq!(r.status, StatusCode::SERVICE_UNAVAILABLE, "{}", r.text);
    assert_eq!(error_code(&r), "unavailable");
}

#[tokio::test]
async fn monitor_status_lists_the_workers_of_other_processes() {
    let server = TestServer::start().await;
    let token = server.user("ann@example.com").await;
    let r = server.get("/api/monitor/status", &token).await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(r.body["running"], false);
    assert_eq!(r.body["cycles"], 0);
    assert_eq!(r.body["workers"], json!([]));
    assert_eq!(r.body["shards"], 64);

    // A worker in another process, as `invest monitor start` records itself.
    use signal_sentinel::domain::{WorkerCycle, WorkerIdentity};
    use signal_sentinel::store::WorkerStore;
    let worker = WorkerIdentity {
        id: "db1-4242-abcd".into(),
        host: "db1".into(),
        pid: 4242,
        interval_seconds: 15,
    };
    let now = chrono::Utc::now();
    let held = server
        .store
        .rebalance_shards(&worker, now, chrono::Duration::seconds(15))
        .await
        .unwrap();
    assert_eq!(held.len(), 64);
    server
        .store
        .record_worker_cycle(
            &worker.id,
            &WorkerCycle {
                at: Some(now),
                duration_ms: 120,
                rules: 3,
                alerts: 1,
                error: None,
                feed: Some(signal_sentinel::domain::MarketFeed {
                    mode: "stream".into(),
                    stream: Some(signal_sentinel::domain::StreamStatus {
                        provider: "alpaca".into(),
                        connected: false,
                        last_error: Some("406 connection limit exceeded".into()),
                        ..Default::default()
                    }),
                    ..Default::default()
                }),
            },
        )
        .await
        .unwrap();
    let r = server.get("/api/monitor/status", &token).await;
    let workers = r.body["workers"].as_array().unwrap();
    assert_eq!(workers.len(), 1, "{}", r.text);
    assert_eq!(workers[0]["id"], "db1-4242-abcd");
    assert_eq!(workers[0]["pid"], 4242);
    assert_eq!(workers[0]["shards"].as_array().unwrap().len(), 64);
    assert_eq!(workers[0]["last_cycle_rules"], 3);
    assert_eq!(workers[0]["last_cycle_alerts"], 1);
    let feed = &workers[0]["feed"];
    assert_eq!(feed["mode"], "stream");
    assert_eq!(feed["stream"]["provider"], "alpaca");
    assert_eq!(feed["stream"]["connected"], false);
    assert_eq!(
        feed["stream"]["last_error"],
        "406 connection limit exceeded"
    );
}

#[tokio::test]
async fn holdings_import_all_or_nothing_and_are_valued_at_quotes() {
    let server = TestServer::start_with(Options {
        market: Some(replay_market()),
        ..Options::default()
    })
    .await
    .unwrap();
    let token = server.user("ann@example.com").await;
    let empty = server.get("/api/portfolio", &token).await;
    assert_eq!(empty.status, StatusCode::OK, "{}", empty.text);
    assert_eq!(empty.body["positions"], json!([]));

    let bad = server
        .post(
            "/api/portfolio/import",
            &token,
            json!({"csv": "symbol,quantity,cost_basis,account\nXYZ,10,20,ira\nXYZ,-1,,\nno way,3,1,\n"}),
        )
        .await;
    assert_eq!(bad.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", bad.text);
    assert_eq!(bad.body["error"]["fields"][0]["field"], "csv");
    let message = bad.body["error"]["message"].as_str().unwrap();
    assert!(
        message.contains("line 3") && message.contains("line 4"),
        "{message}"
    );
    assert!(!message.contains("line 2"), "{message}");
    assert_eq!(
        server.get("/api/portfolio", &token).await.body["positions"],
        json!([]),
        "nothing imported"
    );

    let good = server
        .post(
            "/api/portfolio/import",
            &token,
            json!({"csv": "symbol,quantity,cost_basis,account\nXYZ,10,20,ira\nXYZ,5,,taxable\n"}),
        )
        .await;
    assert_eq!(good.status, StatusCode::OK, "{}", good.text);
    let positions = good.body["positions"].as_array().unwrap();
    assert_eq!(positions.len(), 2);
    // The replay's last close is 25.92 (2009-07-31), the one before 25.40. (Decimals come
    // normalised: "259.2", not "259.20".)
    assert_eq!(positions[0]["account"], "ira");
    assert_eq!(positions[0]["price"], "25.92");
    assert_eq!(positions[0]["market_value"], "259.2");
    assert_eq!(positions[0]["gain"], "59.2");
    assert_eq!(positions[0]["gain_percent"], "29.6");
    assert!(positions[1]["gain"].is_null(), "no cost basis, no gain");
    assert_eq!(good.body["market_value"], "388.8");
    assert_eq!(good.body["day_change"], "7.8");
}

#[tokio::test]
async fn channels_are_added_by_url_and_their_secrets_never_come_back() {
    let ntfy = wiremock::MockServer::start().await;
    wiremock::Mock::given(wiremock::matchers::method("POST"))
        .and(wiremock::matchers::header(
            "authorization",
            "Bearer tk_topsecret",
        ))
        .and(wiremock::matchers::body_partial_json(
            json!({"topic": "desk"}),
        ))
        .respond_with(wiremock::ResponseTemplate::new(200).set_body_json(json!({"id": "m1"})))
        .expect(1)
        .mount(&ntfy)
        .await;
    let server = TestServer::start().await;
    let token = server.user("ann@example.com").await;
    let host = ntfy.uri().trim_start_matches("http://").to_owned();
    let created = server
        .post(
            "/api/channels",
            &token,
            json!({"kind": "url", "url": format!("ntfy://tk_topsecret@{host}/desk"), "name": "phone"}),
        )
        .await;
    assert_eq!(created.status, StatusCode::CREATED, "{}", created.text);
    assert!(!created.text.contains("tk_topsecret"), "{}", created.text);
    assert_eq!(created.body["channel"]["kind"], "ntfy");
    assert_eq!(
        created.body["channel"]["config"],
        json!({"server": ntfy.uri(), "topic": "desk"})
    );
    assert!(created.body.get("secret").is_none());
    let id = created.body["channel"]["id"].as_i64().unwrap();
    let tested = server
        .post(&format!("/api/channels/{id}/test"), &token, json!(null))
        .await;
    assert_eq!(tested.body["ok"], true, "{}", tested.text);
    let listed = server.get("/api/channels", &token).await;
    assert!(!listed.text.contains("tk_topsecret"), "{}", listed.text);

    // A webhook by URL gets its signing secret, shown once.
    let hook = server
        .post(
            "/api/channels",
            &token,
            json!({"kind": "url", "url": "https://hooks.example.com/in"}),
        )
        .await;
    assert_eq!(hook.status, StatusCode::CREATED, "{}", hook.text);
    assert_eq!(hook.body["channel"]["kind"], "webhook");
    assert!(hook.body["secret"].as_str().unwrap().len() >= 16);

    for url in [
        "discord://not-a-number/tk_topsecret",
        "pigeon://tk_topsecret",
        "slack://only/two",
        "mailto://u:tk_topsecret@smtp.example.com",
    ] {
        let r = server
            .post("/api/channels", &token, json!({"kind": "url", "url": url}))
            .await;
        assert_eq!(
            r.status,
            StatusCode::UNPROCESSABLE_ENTITY,
            "{url}: {}",
            r.text
        );
        assert_eq!(r.body["error"]["fields"][0]["field"], "url", "{url}");
        assert!(!r.text.contains("tk_topsecret"), "{url}: {}", r.text);
    }
    let no_url = server
        .post("/api/channels", &token, json!({"kind": "url"}))
        .await;
    assert_eq!(
        no_url.status,
        StatusCode::UNPROCESSABLE_ENTITY,
        "{}",
        no_url.text
    );
    assert_eq!(no_url.body["error"]["fields"][0]["field"], "url");
}

#[tokio::test]
async fn rules_export_and_import_as_text() {
    let server = TestServer::start().await;
    let token = server.user("ann@example.com").await;
    for body in [
        json!({"text": "AAPL crosses above 200"}),
        json!({"text": "XYZ > 30 and SPY day change > 0%", "name": "both", "options": {"cooldown_minutes": 15}}),
    ] {
        assert_eq!(
            server.post("/api/rules", &token, body).await.status,
            StatusCode::CREATED
        );
    }
    let file = server.get("/api/rules/export", &token).await;
    assert_eq!(file.status, StatusCode::OK);
    assert!(
        file.headers["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/plain"),
        "{:?}",
        file.headers
    );
    let lines: Vec<&str> = file.text.lines().skip(1).collect();
    assert_eq!(
        lines,
        [
            "AAPL crosses above 200",
            r#"XYZ price > 30 and SPY day change > 0% {"name":"both","options":{"cooldown_minutes":15}}"#
        ]
    );
    // Into another account: both added; the same file again: both reported, none added.
    let bob = server.user("bob@example.com").await;
    let first = server
        .post("/api/rules/import", &bob, json!({"text": file.text}))
        .await;
    assert_eq!(first.status, StatusCode::OK, "{}", first.text);
    assert_eq!(first.body["added"].as_array().unwrap().len(), 2);
    assert_eq!(first.body["added"][1]["name"], "both");
    let id = first.body["added"][0]["id"].as_i64().unwrap();
    let again = server
        .post("/api/rules/import", &bob, json!({"text": file.text}))
        .await;
    assert_eq!(again.status, StatusCode::OK, "{}", again.text);
    assert_eq!(again.body["added"], json!([]));
    assert_eq!(
        again.body["duplicates"][0],
        json!({"line": 2, "rule_id": id})
    );
    // A bad line: 422 naming it, and nothing added.
    let bad = server
        .post(
            "/api/rules/import",
            &bob,
            json!({"text": "MSFT > 1\nMSFT crosses abve 2\n"}),
        )
        .await;
    assert_eq!(bad.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", bad.text);
    assert!(bad.text.contains("line 2: column 14"), "{}", bad.text);
    let listed = server.get("/api/rules", &bob).await;
    assert_eq!(listed.body["items"].as_array().unwrap().len(), 2);
}

/// A rule in a gap shows since when and why, beside its phase.
#[tokio::test]
async fn a_rule_without_data_says_since_when_and_why() {
    use signal_sentinel::domain::RuleId;
    use signal_sentinel::engine::{EngineState, Gap, GapReason};
    use signal_sentinel::store::RuleStateStore;
    let server = TestServer::start().await;
    let token = server.user("ann@example.com").await;
    let id = server
        .post(
            "/api/rules",
            &token,
            json!({"text": "XYZ > 30", "options": {"no_data": {"keep_firing_for": 30}}}),
        )
        .await
        .body["id"]
        .as_i64()
        .unwrap();
    let since = chrono::DateTime::parse_from_rfc3339("2026-11-30T15:40:00Z")
        .unwrap()
        .to_utc();
    let state = EngineState {
        phase: signal_sentinel::domain::RulePhase::NoData,
        gap: Some(Gap {
            since,
            reason: GapReason::Stale,
            minutes: 0,
            last: None,
        }),
        ..EngineState::new()
    };
    server
        .store
        .save_rule_states(&[state.to_stored(RuleId::new(id), since)])
        .await
        .unwrap();
    let r = server.get(&format!("/api/rules/{id}"), &token).await;
    assert_eq!(r.body["options"]["no_data"], json!({"keep_firing_for": 30}));
    assert_eq!(r.body["state"]["phase"], "no_data");
    assert_eq!(
        r.body["state"]["no_data_since"],
        "2026-11-30T15:40:00+00:00"
    );
    assert_eq!(
        r.body["state"]["no_data_reason"],
        "the latest quote is stale"
    );
    let bad = server
        .post(
            "/api/rules",
            &token,
            json!({"text": "XYZ > 31", "options": {"no_data": {"keep_firing_for": 0}}}),
        )
        .await;
    assert_eq!(bad.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", bad.text);
}

#[tokio::test]
async fn a_sentence_is_read_as_a_proposal_and_saved_only_when_created() {
    let server = TestServer::start().await;
    let token = server.user("words@example.com").await;
    let read = server
        .post(
            "/api/rules/parse",
            &token,
            json!({"sentence": "tell me if Apple drops 5% today"}),
        )
        .await;
    assert_eq!(read.status, StatusCode::OK, "{}", read.text);
    assert_eq!(read.body["outcome"], "rule");
    let proposal = &read.body["proposal"];
    assert_eq!(proposal["text"], "AAPL day change <= -5%");
    assert_eq!(proposal["symbols"][0]["name"], "Apple Inc.");
    assert_eq!(proposal["source"], "phrases");
    assert!(
        proposal["explanation"]
            .as_str()
            .unwrap()
            .contains("previous session's close")
    );
    // Nothing is saved by reading.
    let rules = server.get("/api/rules", &token).await;
    assert_eq!(
        rules.body["items"].as_array().map(Vec::len),
        Some(0),
        "{}",
        rules.text
    );
    let created = server
        .post("/api/rules", &token, json!({"text": proposal["text"]}))
        .await;
    assert_eq!(created.status, StatusCode::CREATED, "{}", created.text);

    let choose = server
        .post(
            "/api/rules/parse",
            &token,
            json!({"sentence": "alert me when Alphabet crosses above 200"}),
        )
        .await;
    assert_eq!(choose.body["outcome"], "choose", "{}", choose.text);
    assert_eq!(choose.body["choices"].as_array().map(Vec::len), Some(2));

    let refused = server
        .post(
            "/api/rules/parse",
            &token,
            json!({"sentence": "tell me if Apple drops 5% this week"}),
        )
        .await;
    assert_eq!(refused.status, StatusCode::OK);
    assert_eq!(refused.body["outcome"], "refused", "{}", refused.text);
    assert!(refused.body["reason"].as_str().unwrap().contains("within"));

    let too_long = server
        .post(
            "/api/rules/parse",
            &token,
            json!({"sentence": "a".repeat(301)}),
        )
        .await;
    assert_eq!(
        too_long.status,
        StatusCode::UNPROCESSABLE_ENTITY,
        "{}",
        too_long.text
    );
    assert_eq!(error_code(&too_long), "invalid_input");
    let anonymous = server
        .post(
            "/api/rules/parse",
            "",
            json!({"sentence": "apple above 200"}),
        )
        .await;
    assert_eq!(anonymous.status, StatusCode::UNAUTHORIZED);
}
