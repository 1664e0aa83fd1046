//! Accounts, session tokens, API keys, rate limits and secrets.

use std::sync::{Arc, Mutex};

use jsonwebtoken::{Algorithm, EncodingKey, Header};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::harness::{Options, PASSWORD, SECRET_KEY, TestServer, error_code};

/// URL-safe base64 without padding, as JWTs are written.
fn b64(bytes: &[u8]) -> String {
    use base64::Engine;
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

fn sign(claims: &Value, key: &str, alg: Algorithm) -> String {
    let _ = jsonwebtoken::crypto::rust_crypto::DEFAULT_PROVIDER.install_default();
    jsonwebtoken::encode(
        &Header::new(alg),
        claims,
        &EncodingKey::from_secret(key.as_bytes()).unwrap(),
    )
    .unwrap()
}

fn claims(sub: &str, exp_from_now: i64, aud: &str) -> Value {
    let now = chrono::Utc::now().timestamp();
    json!({"sub": sub, "iat": now, "exp": now + exp_from_now, "iss": "signal-sentinel", "aud": aud})
}

#[tokio::test]
async fn register_login_me_and_change_password() {
    let server = TestServer::start().await;
    let register = |body: Value| server.call(Method::POST, "/api/auth/register", None, Some(body));
    let r =
        register(json!({"email": "Ann@Example.com", "password": PASSWORD, "display_name": "Ann"}))
            .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    assert_eq!(r.body["email"], "ann@example.com");
    assert!(r.body.get("password_hash").is_none());

    let r = register(json!({"email": "ann@example.com", "password": PASSWORD})).await;
    assert_eq!(r.status, StatusCode::CONFLICT);
    assert_eq!(error_code(&r), "conflict");
    assert_eq!(r.body["error"]["fields"][0]["field"], "email");

    let r = register(json!({"email": "not-an-address", "password": PASSWORD})).await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(r.body["error"]["fields"][0]["field"], "email");
    let r = register(json!({"email": "bob@example.com", "password": "short"})).await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(r.body["error"]["fields"][0]["field"], "password");
    let r = register(json!({"email": "bob@example.com"})).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert_eq!(error_code(&r), "bad_request");

    let token = server.login("ann@example.com", PASSWORD).await;
    let login = |email: &'static str, password: &'static str| {
        server.call(
            Method::POST,
            "/api/auth/login",
            None,
            Some(json!({"email": email, "password": password})),
        )
    };
    let wrong_password = login("ann@example.com", "wrong password").await;
    let unknown = login("nobody@example.com", "wrong password").await;
    assert_eq!(wrong_password.status, StatusCode::UNAUTHORIZED);
    assert_eq!(unknown.status, StatusCode::UNAUTHORIZED);
    assert_eq!(
        wrong_password.body, unknown.body,
        "an unknown address must not be told apart"
    );

    let me = server.get("/api/auth/me", &token).await;
    assert_eq!(me.status, StatusCode::OK);
    assert_eq!(me.body["display_name"], "Ann");

    let change = |current: &'static str, new: &'static str| {
        server.post(
            "/api/auth/password",
            &token,
            json!({"current_password": current, "new_password": new}),
        )
    };
    let r = change("not it at all", "a new password").await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(r.body["error"]["fields"][0]["field"], "current_password");
    let r = change(PASSWORD, "short").await;
    assert_eq!(r.body["error"]["fields"][0]["field"], "new_password");
    let r = change(PASSWORD, "a new password").await;
    assert_eq!(r.status, StatusCode::NO_CONTENT, "{}", r.text);
    assert_eq!(
        login("ann@example.com", PASSWORD).await.status,
        StatusCode::UNAUTHORIZED
    );
    server.login("ann@example.com", "a new password").await;
}

#[tokio::test]
async fn tampered_expired_and_foreign_tokens_are_refused() {
    let server = TestServer::start().await;
    let token = server.user("ann@example.com").await;
    let me = server.get("/api/auth/me", &token).await;
    let id = me.body["id"].to_string();
    assert_eq!(
        server.get("/api/auth/me", &token).await.status,
        StatusCode::OK
    );

    // A token we would have signed ourselves is accepted (the control).
    let ours = sign(
        &claims(&id, 600, "signal-sentinel-api"),
        SECRET_KEY,
        Algorithm::HS256,
    );
    assert_eq!(
        server.get("/api/auth/me", &ours).await.status,
        StatusCode::OK
    );

    let refused = [
        ("alg none", {
            let c = claims(&id, 600, "signal-sentinel-api").to_string();
            format!(
                "{}.{}.",
                b64(br#"{"alg":"none","typ":"JWT"}"#),
                b64(c.as_bytes())
            )
        }),
        (
            "HS512",
            sign(
                &claims(&id, 600, "signal-sentinel-api"),
                SECRET_KEY,
                Algorithm::HS512,
            ),
        ),
        (
            "expired",
            sign(
                &claims(&id, -3600, "signal-sentinel-api"),
                SECRET_KEY,
                Algorithm::HS256,
            ),
        ),
        (
            "wrong audience",
            sign(
                &claims(&id, 600, "another-app"),
                SECRET_KEY,
                Algorithm::HS256,
            ),
        ),
        (
            "wrong key",
            sign(
                &claims(&id, 600, "signal-sentinel-api"),
                "another key, 32 bytes or more....",
                Algorithm::HS256,
            ),
        ),
        ("payload swapped", {
            let mut parts: Vec<String> = token.split('.').map(str::to_owned).collect();
            parts[1] = b64(claims("999", 600, "signal-sentinel-api")
                .to_string()
                .as_bytes());
            parts.join(".")
        }),
        ("garbage", "not-a-token".to_owned()),
    ];
    for (what, bad) in refused {
        let r = server.get("/api/auth/me", &bad).await;
        assert_eq!(r.status, StatusCode::UNAUTHORIZED, "{what}: {}", r.text);
        assert_eq!(error_code(&r), "unauthenticated", "{what}");
    }
    let expired = sign(
        &claims(&id, -3600, "signal-sentinel-api"),
        SECRET_KEY,
        Algorithm::HS256,
    );
    let r = server.get("/api/auth/me", &expired).await;
    assert!(
        r.body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("expired")
    );
    let r = server.call(Method::GET, "/api/auth/me", None, None).await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
    assert_eq!(error_code(&r), "unauthenticated");
}

#[tokio::test]
async fn the_previous_secret_key_verifies_during_a_rotation() {
    let old_key = "the-old-secret-key-0123456789abcdef0123";
    let server = TestServer::start_with(Options {
        vars: vec![("SECRET_KEY_PREVIOUS", old_key.into())],
        ..Options::default()
    })
    .await
    .unwrap();
    let token = server.user("ann@example.com").await;
    let id = server.get("/api/auth/me", &token).await.body["id"].to_string();
    let from_before = sign(
        &claims(&id, 600, "signal-sentinel-api"),
        old_key,
        Algorithm::HS256,
    );
    assert_eq!(
        server.get("/api/auth/me", &from_before).await.status,
        StatusCode::OK
    );
}

#[tokio::test]
async fn api_keys_are_shown_once_work_in_both_headers_and_revoke_at_once() {
    let server = TestServer::start().await;
    let token = server.user("ann@example.com").await;
    let r = server
        .post("/api/auth/api-keys", &token, json!({"name": "cron"}))
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    let key = r.body["key"].as_str().unwrap().to_owned();
    let key_id = r.body["id"].as_i64().unwrap();
    assert!(key.starts_with("ss_") && key.len() >= 3 + 40, "{key}");
    assert!(key.starts_with(r.body["prefix"].as_str().unwrap()));

    let list = server.get("/api/auth/api-keys", &token).await;
    assert_eq!(list.status, StatusCode::OK);
    assert_eq!(list.body[0]["name"], "cron");
    assert!(
        !list.text.contains(&key),
        "the list must never hold the key"
    );
    assert!(list.body[0].get("key").is_none() && list.body[0].get("key_hash").is_none());

    let header = server.get("/api/auth/me", &format!("key:{key}")).await;
    assert_eq!(header.status, StatusCode::OK, "{}", header.text);
    let bearer = server.get("/api/auth/me", &key).await;
    assert_eq!(bearer.status, StatusCode::OK);

    // Last use is recorded (off the request path).
    let mut used = Value::Null;
    for _ in 0..50 {
        used = server.get("/api/auth/api-keys", &token).await.body[0]["last_used_at"].clone();
        if !used.is_null() {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    assert!(used.is_string(), "last_used_at never set");

    // A typo fails the checksum; an unknown well-formed key is refused the same way.
    let mut typo = key.clone();
    typo.replace_range(10..11, if &key[10..11] == "0" { "1" } else { "0" });
    for bad in [typo.as_str(), "ss_nothing", "sk-live-123"] {
        let r = server.get("/api/auth/me", &format!("key:{bad}")).await;
        assert_eq!(r.status, StatusCode::UNAUTHORIZED, "{bad}");
        assert!(!r.text.contains(bad), "the error must not echo the key");
    }

    let r = server
        .call(
            Method::DELETE,
            &format!("/api/auth/api-keys/{key_id}"),
            Some(&token),
            None,
        )
        .await;
    assert_eq!(r.status, StatusCode::NO_CONTENT);
    let r = server.get("/api/auth/me", &format!("key:{key}")).await;
    assert_eq!(
        r.status,
        StatusCode::UNAUTHORIZED,
        "revocation takes effect at once"
    );
    let again = server
        .call(
            Method::DELETE,
            &format!("/api/auth/api-keys/{key_id}"),
            Some(&token),
            None,
        )
        .await;
    assert_eq!(again.status, StatusCode::NOT_FOUND);

    let r = server
        .post("/api/auth/api-keys", &token, json!({"name": "  "}))
        .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
}

#[tokio::test]
async fn login_and_register_are_rate_limited_with_retry_after() {
    let server = TestServer::start_with(Options {
        vars: vec![("AUTH_RATE_LIMIT_PER_MINUTE", "3".into())],
        ..Options::default()
    })
    .await
    .unwrap();
    let mut statuses = Vec::new();
    let mut last = None;
    for _ in 0..4 {
        let r = server
            .call(
                Method::POST,
                "/api/auth/login",
                None,
                Some(json!({"email": "x@example.com", "password": "whatever1"})),
            )
            .await;
        statuses.push(r.status.as_u16());
        last = Some(r);
    }
    assert_eq!(statuses, [401, 401, 401, 429]);
    let last = last.unwrap();
    assert_eq!(error_code(&last), "rate_limited");
    let retry: u64 = last.headers["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=60).contains(&retry), "{retry}");
    let r = server
        .call(
            Method::POST,
            "/api/auth/register",
            None,
            Some(json!({"email": "y@example.com", "password": PASSWORD})),
        )
        .await;
    assert_eq!(
        r.status,
        StatusCode::TOO_MANY_REQUESTS,
        "same address, same budget"
    );
}

/// A client whose requests come from 127.0.0.`last` (loopback answers from any 127.x).
fn client_from(last: u8) -> reqwest::Client {
    reqwest::Client::builder()
        .local_address(std::net::IpAddr::from([127, 0, 0, last]))
        .no_proxy()
        .build()
        .unwrap()
}

#[tokio::test]
async fn a_guesser_elsewhere_cannot_lock_the_owner_out() {
    let server = TestServer::start_with(Options {
        vars: vec![("AUTH_RATE_LIMIT_PER_MINUTE", "3".into())],
        ..Options::default()
    })
    .await
    .unwrap();
    server.user("owner@example.com").await;
    // Loopback answers from any 127.x address: one client is the attacker, one the owner.
    let from = client_from;
    let login = |client: &reqwest::Client, password: &str| {
        client
            .post(format!("{}/api/auth/login", server.base))
            .json(&json!({"email": "owner@example.com", "password": password}))
            .send()
    };
    let attacker = from(2);
    let mut statuses = Vec::new();
    for _ in 0..4 {
        statuses.push(
            login(&attacker, "wrong guess 1")
                .await
                .unwrap()
                .status()
                .as_u16(),
        );
    }
    assert_eq!(statuses, [401, 401, 401, 429], "the guesser is limited");
    // Even the right password is refused to the limited address …
    let r = login(&attacker, PASSWORD).await.unwrap();
    assert_eq!(r.status(), StatusCode::TOO_MANY_REQUESTS);
    // … while the owner, elsewhere, still signs in.
    let r = login(&from(3), PASSWORD).await.unwrap();
    assert_eq!(r.status(), StatusCode::OK);
}

#[tokio::test]
async fn many_addresses_guessing_one_account_are_slowed_while_the_owner_signs_in() {
    use signal_sentinel::auth::throttle::ThrottleConfig;
    let server = TestServer::start_with(Options {
        login_throttle: Some(ThrottleConfig {
            free_failures: 3,
            spacing: std::time::Duration::from_secs(1),
            max_wait: std::time::Duration::from_secs(2),
            ..ThrottleConfig::default()
        }),
        ..Options::default()
    })
    .await
    .unwrap();
    server.user("owner@example.com").await;
    let from = client_from;
    let login = |client: reqwest::Client, password: &'static str| {
        let url = format!("{}/api/auth/login", server.base);
        async move {
            client
                .post(url)
                .json(&json!({"email": "owner@example.com", "password": password}))
                .send()
                .await
                .unwrap()
        }
    };
    // The owner signs in from home: that address is remembered.
    assert_eq!(login(from(3), PASSWORD).await.status(), StatusCode::OK);
    // Three guesses from three addresses are answered at full speed …
    for last in 10..13 {
        let r = login(from(last), "wrong guess 1").await;
        assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    }
    // … then a botnet's burst takes turns: a few wait for a slot, the rest are refused at
    // once with the time to come back, and none of them is told more than that.
    let burst =
        futures_util::future::join_all((20..32).map(|last| login(from(last), "guess"))).await;
    let refused: Vec<_> = burst
        .iter()
        .filter(|r| r.status() == StatusCode::TOO_MANY_REQUESTS)
        .collect();
    assert!(
        burst.iter().all(
            |r| [StatusCode::UNAUTHORIZED, StatusCode::TOO_MANY_REQUESTS].contains(&r.status())
        ),
        "{:?}",
        burst
            .iter()
            .map(reqwest::Response::status)
            .collect::<Vec<_>>()
    );
    assert!(
        refused.len() >= 6,
        "most of the burst is refused: {}",
        refused.len()
    );
    for r in &refused {
        let wait: u64 = r.headers()["retry-after"]
            .to_str()
            .unwrap()
            .parse()
            .unwrap();
        assert!(wait >= 1);
    }
    // The owner at home skips the queue: the account is slowed, never locked.
    assert_eq!(login(from(3), PASSWORD).await.status(), StatusCode::OK);
}

#[tokio::test]
async fn authenticated_requests_are_limited_per_user() {
    let server = TestServer::start_with(Options {
        vars: vec![("RATE_LIMIT_PER_MINUTE", "5".into())],
        ..Options::default()
    })
    .await
    .unwrap();
    let ann = server.user("ann@example.com").await;
    let bob = server.user("bob@example.com").await;
    for _ in 0..5 {
        assert_eq!(server.get("/api/rules", &ann).await.status, StatusCode::OK);
    }
    let r = server.get("/api/rules", &ann).await;
    assert_eq!(r.status, StatusCode::TOO_MANY_REQUESTS);
    assert!(r.headers.contains_key("retry-after"));
    assert_eq!(
        server.get("/api/rules", &bob).await.status,
        StatusCode::OK,
        "bob has his own budget"
    );
}

/// Collects what the server logs.
#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl std::io::Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[tokio::test(flavor = "current_thread")]
async fn secrets_never_reach_logs_or_responses() {
    let captured = Captured::default();
    let writer = captured.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_max_level(tracing::Level::TRACE)
        .with_writer(move || writer.clone())
        .finish();
    let _guard = tracing::subscriber::set_default(subscriber);
    // Other tests run in parallel threads without this subscriber: make every callsite ask
    // again whether it is wanted.
    tracing::callsite::rebuild_interest_cache();

    // A Plaid that links, then answers an item error: both paths log.
    let plaid = wiremock::MockServer::start().await;
    wiremock::Mock::given(wiremock::matchers::path("/item/public_token/exchange"))
        .respond_with(wiremock::ResponseTemplate::new(200).set_body_json(json!({
            "access_token": "access-sandbox-never-logged-0001", "item_id": "item-1", "request_id": "r"
        })))
        .mount(&plaid)
        .await;
    wiremock::Mock::given(wiremock::matchers::path("/investments/holdings/get"))
        .respond_with(wiremock::ResponseTemplate::new(400).set_body_json(json!({
            "error_type": "ITEM_ERROR", "error_code": "ITEM_LOGIN_REQUIRED",
            "error_message": "the login details of this item have changed", "display_message": null,
            "request_id": "r"
        })))
        .mount(&plaid)
        .await;
    let server = TestServer::start_with(crate::harness::Options {
        vars: vec![
            ("PLAID_CLIENT_ID", "plaid-client-id-never-logged".into()),
            ("PLAID_SECRET", "plaid-secret-never-logged".into()),
            ("PLAID_BASE_URL", plaid.uri()),
        ],
        ..crate::harness::Options::default()
    })
    .await
    .unwrap();
    let token = server.user("ann@example.com").await;
    let linked = server
        .post(
            "/api/portfolio/connections",
            &token,
            json!({"public_token": "public-sandbox-never-logged"}),
        )
        .await;
    assert_eq!(linked.status, StatusCode::OK, "{}", linked.text);
    assert_eq!(linked.body["connection"]["status"], "needs_attention");
    assert!(!linked.text.contains("access-sandbox-never-logged-0001"));
    let created = server
        .post("/api/auth/api-keys", &token, json!({"name": "ci"}))
        .await;
    let key = created.body["key"].as_str().unwrap().to_owned();
    server.get("/api/auth/me", &format!("key:{key}")).await;
    let hook = server
        .post(
            "/api/channels",
            &token,
            json!({"kind": "webhook", "url": "http://127.0.0.1:9/hook", "secret": "webhook-secret-value-1234"}),
        )
        .await;
    assert_eq!(hook.status, StatusCode::CREATED, "{}", hook.text);
    let wrong = server
        .call(
            Method::POST,
            "/api/auth/login",
            None,
            Some(json!({"email": "ann@example.com", "password": "my-wrong-password"})),
        )
        .await;
    assert!(!wrong.text.contains("my-wrong-password"));
    let channels = server.get("/api/channels", &token).await;
    assert!(!channels.text.contains("webhook-secret-value-1234"));
    let me = server.get("/api/auth/me", &token).await;
    assert!(!me.text.contains("argon2"));

    let logs = String::from_utf8(captured.0.lock().unwrap().clone()).unwrap();
    // The capture sees the server's own task (its start-up line at least).
    assert!(logs.contains("server started"), "the capture works: {logs}");
    assert!(
        logs.contains("brokerage sync failed"),
        "the Plaid error was logged: {logs}"
    );
    for secret in [
        PASSWORD,
        token.as_str(),
        key.as_str(),
        "my-wrong-password",
        "webhook-secret-value-1234",
        SECRET_KEY,
        "access-sandbox-never-logged-0001",
        "plaid-secret-never-logged",
        "plaid-client-id-never-logged",
        "public-sandbox-never-logged",
    ] {
        assert!(!logs.contains(secret), "a secret reached the logs");
    }
}
