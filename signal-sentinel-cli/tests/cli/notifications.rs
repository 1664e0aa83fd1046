//! `invest notifications …`: channels, tests and preferences.

use wiremock::matchers::path;
use wiremock::{Mock, MockServer, ResponseTemplate};

use super::invest;

#[tokio::test(flavor = "multi_thread")]
async fn channels_test_status_prefs_and_dispatch() {
    let hook = MockServer::start().await;
    Mock::given(path("/hook"))
        .respond_with(ResponseTemplate::new(200))
        .mount(&hook)
        .await;
    let url = format!("{}/hook", hook.uri());
    let out = tokio::task::spawn_blocking(move || {
        let dir = tempfile::tempdir().unwrap();
        let env = [
            ("SECRET_KEY", "0123456789abcdef0123456789abcdef"),
            ("DATABASE_URL", "sqlite://./data/demo.db"),
        ];
        // The demo leaves a user with a console channel and 41 alerts waiting for it.
        assert_eq!(invest(dir.path(), &env, &["demo", "--pace", "0"]).code, 0);
        let run = |args: &[&str]| invest(dir.path(), &env, args);
        let status = run(&["notifications", "status"]);
        let added = run(&["notifications", "add-webhook", &url, "--name", "ops"]);
        let bad = run(&["notifications", "add-telegram", "not a chat"]);
        let test = run(&["notifications", "test"]);
        let prefs = run(&[
            "notifications",
            "prefs",
            "--quiet-hours",
            "22:00-07:00",
            "--quiet-mode",
            "hold",
            "--tz",
            "Europe/Berlin",
            "--digest-at",
            "18:00",
            "--json",
        ]);
        let bad_prefs = run(&["notifications", "prefs", "--fired", "loud"]);
        // Back to no quiet hours and no digest, so the dispatch does not depend on the hour.
        assert_eq!(
            run(&[
                "notifications",
                "prefs",
                "--quiet-hours",
                "off",
                "--digest-at",
                "off"
            ])
            .code,
            0
        );
        let dispatch = run(&["notifications", "dispatch"]);
        let after = run(&["notifications", "status", "--json"]);
        let unknown = run(&["notifications", "status", "--user", "nobody@example.com"]);
        (
            status, added, bad, test, prefs, bad_prefs, dispatch, after, unknown,
        )
    })
    .await
    .unwrap();
    let (status, added, bad, test, prefs, bad_prefs, dispatch, after, unknown) = out;
    assert_eq!(status.code, 0, "{}", status.stderr);
    assert!(
        status.stdout.contains("console") && status.stdout.contains("41 deliveries waiting"),
        "{}",
        status.stdout
    );
    assert_eq!(added.code, 0, "{}", added.stderr);
    let secret = added
        .stdout
        .lines()
        .find_map(|l| {
            l.strip_prefix("signing secret (shown once; see docs/notifications.md to verify): ")
        })
        .unwrap();
    assert_eq!(secret.len(), 64);
    assert_eq!(bad.code, 1);
    assert!(
        bad.stderr.starts_with("error: chat_id: expected a number"),
        "{}",
        bad.stderr
    );
    assert_eq!(test.code, 0, "{}", test.stderr);
    assert!(
        test.stdout.contains("console")
            && test.stdout.contains("ops")
            && !test.stdout.contains("FAILED"),
        "{}",
        test.stdout
    );
    assert_eq!(
        hook.received_requests().await.unwrap().len(),
        1,
        "the test message"
    );
    let prefs: serde_json::Value = serde_json::from_str(&prefs.stdout).unwrap();
    assert_eq!(prefs["quiet_hours"]["behavior"], "hold");
    assert_eq!(prefs["digest_at"], "18:00:00");
    assert_eq!(bad_prefs.code, 1);
    assert_eq!(
        bad_prefs.stderr.trim(),
        "error: --fired: expected on, silent or off"
    );
    assert_eq!(dispatch.code, 0, "{}", dispatch.stderr);
    // The demo's alerts were raised in replayed time (2000–2010): far older than a day, they
    // are given up rather than sent years late.
    assert!(
        dispatch
            .stdout
            .contains("0 digest deliveries queued; 41 claimed: 0 sent, 0 to retry, 41 given up"),
        "{}",
        dispatch.stdout
    );
    let after: serde_json::Value = serde_json::from_str(&after.stdout).unwrap();
    assert_eq!(after["pending_deliveries"], 0);
    assert!(
        !after.to_string().contains(secret),
        "the secret is shown once only"
    );
    assert_eq!(unknown.code, 1);
    assert_eq!(
        unknown.stderr.trim(),
        "error: no user has the e-mail address nobody@example.com"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn channels_are_added_by_url_with_their_secret_kept() {
    let gotify = MockServer::start().await;
    Mock::given(path("/message"))
        .and(wiremock::matchers::header("x-gotify-key", "AppTokSecret1"))
        .respond_with(ResponseTemplate::new(200).set_body_json(serde_json::json!({"id": 1})))
        .expect(1)
        .mount(&gotify)
        .await;
    let url = format!(
        "gotify://{}/AppTokSecret1",
        gotify.uri().trim_start_matches("http://")
    );
    let (added, test, listed, bad, help) = tokio::task::spawn_blocking(move || {
        let dir = tempfile::tempdir().unwrap();
        let env = [
            ("SECRET_KEY", "0123456789abcdef0123456789abcdef"),
            ("DATABASE_URL", "sqlite://./data/n.db?mode=rwc"),
        ];
        super::create_ann(dir.path(), &env);
        let run = |args: &[&str]| invest(dir.path(), &env, args);
        (
            run(&["notifications", "add", &url, "--name", "home"]),
            run(&["notifications", "test"]),
            run(&["notifications", "status", "--json"]),
            run(&["notifications", "add", "discord://abc/AppTokSecret1"]),
            run(&["notifications", "add", "--help"]),
        )
    })
    .await
    .unwrap();
    assert_eq!(added.code, 0, "{}", added.stderr);
    assert!(
        added.stdout.contains("added gotify channel \"home\""),
        "{}",
        added.stdout
    );
    assert_eq!(test.code, 0, "{}", test.stderr);
    assert!(!test.stdout.contains("AppTokSecret1"));
    assert!(
        listed.stdout.contains(r#""kind":"gotify""#),
        "{}",
        listed.stdout
    );
    assert!(
        !listed.stdout.contains("AppTokSecret1"),
        "{}",
        listed.stdout
    );
    assert_ne!(bad.code, 0);
    assert!(bad.stderr.starts_with("error: url: "), "{}", bad.stderr);
    assert!(!bad.stderr.contains("AppTokSecret1"), "{}", bad.stderr);
    for form in [
        "ntfy://",
        "discord://",
        "slack://",
        "gotify://",
        "pover://",
        "matrix://",
        "tgram://",
        "mailto://",
    ] {
        assert!(help.stdout.contains(form), "{form}: {}", help.stdout);
    }
}
