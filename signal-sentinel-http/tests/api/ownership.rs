//! A second user tries every endpoint on the first user's objects: each answers exactly as
//! for an object that does not exist.

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::harness::{Backend, Options, TestServer};
use crate::resources::insert_alert;

async fn matrix(server: &TestServer) {
    let ann = server.user("ann@example.com").await;
    let bob = server.user("bob@example.com").await;

    let rule = server
        .post("/api/rules", &ann, json!({"text": "XYZ crosses above 30"}))
        .await;
    assert_eq!(rule.status, StatusCode::CREATED, "{}", rule.text);
    let rule_id = rule.body["id"].as_i64().unwrap();
    let ann_id = server.get("/api/auth/me", &ann).await.body["id"]
        .as_i64()
        .unwrap();
    let alert_id = insert_alert(server, ann_id, rule_id, 0).await;
    let channel = server
        .post(
            "/api/channels",
            &ann,
            json!({"kind": "webhook", "url": "http://127.0.0.1:9/hook"}),
        )
        .await;
    assert_eq!(channel.status, StatusCode::CREATED, "{}", channel.text);
    let channel_id = channel.body["channel"]["id"].as_i64().unwrap();
    let key = server
        .post("/api/auth/api-keys", &ann, json!({"name": "k"}))
        .await;
    let key_id = key.body["id"].as_i64().unwrap();

    let missing = 999_999;
    let patch_rule = json!({"name": "mine now"});
    let snooze = json!({"minutes": 60});
    let patch_channel = json!({"enabled": false});
    let attempts: Vec<(Method, String, Option<Value>)> = vec![
        (Method::GET, "/api/rules/{rule}".into(), None),
        (Method::PATCH, "/api/rules/{rule}".into(), Some(patch_rule)),
        (Method::POST, "/api/rules/{rule}/enable".into(), None),
        (Method::POST, "/api/rules/{rule}/disable".into(), None),
        (
            Method::POST,
            "/api/rules/{rule}/snooze".into(),
            Some(snooze),
        ),
        (Method::DELETE, "/api/rules/{rule}/snooze".into(), None),
        (Method::DELETE, "/api/rules/{rule}".into(), None),
        (Method::GET, "/api/alerts/{alert}".into(), None),
        (Method::POST, "/api/alerts/{alert}/ack".into(), None),
        (Method::GET, "/api/channels/{channel}".into(), None),
        (
            Method::PATCH,
            "/api/channels/{channel}".into(),
            Some(patch_channel),
        ),
        (Method::POST, "/api/channels/{channel}/test".into(), None),
        (Method::DELETE, "/api/channels/{channel}".into(), None),
        (Method::DELETE, "/api/auth/api-keys/{key}".into(), None),
    ];
    for (method, template, body) in attempts {
        let path = |rule: i64, alert: i64, channel: i64, key: i64| {
            template
                .replace("{rule}", &rule.to_string())
                .replace("{alert}", &alert.to_string())
                .replace("{channel}", &channel.to_string())
                .replace("{key}", &key.to_string())
        };
        let theirs = server
            .call(
                method.clone(),
                &path(rule_id, alert_id, channel_id, key_id),
                Some(&bob),
                body.clone(),
            )
            .await;
        let nothing = server
            .call(
                method.clone(),
                &path(missing, missing, missing, missing),
                Some(&bob),
                body,
            )
            .await;
        assert_eq!(
            theirs.status,
            StatusCode::NOT_FOUND,
            "{method} {template}: {}",
            theirs.text
        );
        assert_eq!(
            theirs.body, nothing.body,
            "{method} {template}: another user's object must look missing"
        );
    }

    // Lists and filters show bob nothing of ann's.
    for path in [
        "/api/rules".to_owned(),
        "/api/alerts".to_owned(),
        format!("/api/alerts?rule_id={rule_id}"),
    ] {
        let r = server.get(&path, &bob).await;
        assert_eq!(r.status, StatusCode::OK);
        assert_eq!(r.body["items"], json!([]), "{path}");
    }
    assert_eq!(server.get("/api/channels", &bob).await.body, json!([]));
    assert_eq!(server.get("/api/auth/api-keys", &bob).await.body, json!([]));
    let deleted = server
        .call(
            Method::DELETE,
            "/api/alerts?before=2100-01-01T00:00:00Z",
            Some(&bob),
            None,
        )
        .await;
    assert_eq!(deleted.body, json!({"deleted": 0}));

    // And ann's objects are untouched.
    let rule = server.get(&format!("/api/rules/{rule_id}"), &ann).await;
    assert_eq!(rule.status, StatusCode::OK);
    assert!(rule.body["name"].is_null() && rule.body["enabled"] == true);
    let alert = server.get(&format!("/api/alerts/{alert_id}"), &ann).await;
    assert_eq!(alert.body["state"], "new");
    let channel = server
        .get(&format!("/api/channels/{channel_id}"), &ann)
        .await;
    assert_eq!(channel.body["enabled"], true);
    let keys = server.get("/api/auth/api-keys", &ann).await;
    assert!(keys.body[0]["revoked_at"].is_null());
}

#[tokio::test]
async fn another_users_objects_answer_404_like_missing_ones_on_sqlite() {
    matrix(&TestServer::start().await).await;
}

#[tokio::test]
async fn another_users_objects_answer_404_like_missing_ones_on_postgres() {
    let Some(server) = TestServer::start_with(Options {
        backend: Backend::Postgres,
        ..Options::default()
    })
    .await
    else {
        return;
    };
    matrix(&server).await;
}
