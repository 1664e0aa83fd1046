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
