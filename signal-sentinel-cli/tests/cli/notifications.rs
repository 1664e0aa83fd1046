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
        // The demo leaves a user with a console channel and 39 alerts waiting for it.
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
        status.stdout.contains("console") && status.stdout.contains("39 deliveries waiting"),
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
            .contains("0 digest deliveries queued; 39 claimed: 0 sent, 0 to retry, 39 given up"),
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

#[test]
fn link_codes_mute_resolved_notices_and_reminders_from_the_terminal() {
    let dir = tempfile::tempdir().unwrap();
    let env = [
        ("SECRET_KEY", "0123456789abcdef0123456789abcdef"),
        ("DATABASE_URL", "sqlite://./data/n.db?mode=rwc"),
    ];
    super::create_ann(dir.path(), &env);
    let run = |args: &[&str]| invest(dir.path(), &env, args);
    let json = |args: &[&str]| -> serde_json::Value {
        let out = run(args);
        assert_eq!(out.code, 0, "{args:?}: {}", out.stderr);
        serde_json::from_str(&out.stdout).unwrap()
    };

    let code = json(&["notifications", "link-telegram", "--json"]);
    let code = code["code"].as_str().unwrap();
    assert!(
        code.len() == 10
            && code
                .chars()
                .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit()),
        "{code}"
    );
    let plain = run(&["notifications", "link-telegram"]);
    assert!(plain.stdout.contains("/start "), "{}", plain.stdout);
    let unlinked = json(&["notifications", "unlink-telegram", "--json"]);
    assert_eq!(unlinked["unlinked"], 0);

    let muted = json(&["notifications", "mute", "--for", "3h", "--json"]);
    assert!(muted["muted_until"].is_string(), "{muted}");
    let prefs = json(&["notifications", "prefs", "--json"]);
    assert_eq!(prefs["muted_until"], muted["muted_until"]);
    assert_eq!(
        json(&["notifications", "mute", "--off", "--json"])["muted_until"],
        serde_json::Value::Null
    );
    assert_eq!(run(&["notifications", "mute"]).code, 2, "--for or --off");
    assert_eq!(run(&["notifications", "mute", "--for", "0"]).code, 2);

    assert_eq!(
        run(&[
            "notifications",
            "add",
            "ntfys://ntfy.example.com/desk",
            "--name",
            "phone"
        ])
        .code,
        0
    );
    let set = json(&[
        "notifications",
        "set",
        "phone",
        "--resolved",
        "off",
        "--json",
    ]);
    assert_eq!(set["config"]["resolved"], false);
    assert_eq!(set["enabled"], true);
    assert_eq!(
        run(&["notifications", "set", "phone"]).code,
        2,
        "nothing to change"
    );
    let missing = run(&["notifications", "set", "nope", "--resolved", "on"]);
    assert_eq!(missing.code, 1, "{}", missing.stderr);

    let rule = json(&[
        "rules",
        "add",
        "AAPL price > 200",
        "--repeat-every",
        "30m",
        "--repeat-times",
        "3",
        "--priority",
        "urgent",
        "--json",
    ]);
    assert_eq!(
        rule["options"]["repeat"],
        serde_json::json!({"every_minutes": 30, "times": 3})
    );
    assert_eq!(rule["options"]["priority"], "urgent");
    let id = rule["id"].to_string();
    let edited = json(&[
        "rules",
        "edit",
        &id,
        "--repeat-until",
        "2026-12-31T21:00:00Z",
        "--json",
    ]);
    assert_eq!(
        edited["options"]["repeat"],
        serde_json::json!({"every_minutes": 30, "times": 3, "until": "2026-12-31T21:00:00Z"})
    );
    let off = json(&["rules", "edit", &id, "--no-repeat", "--json"]);
    assert!(off["options"].get("repeat").is_none(), "{off}");
    assert_eq!(
        run(&["rules", "add", "AAPL price > 1", "--repeat-every", "90s"]).code,
        2
    );
    let once = run(&[
        "rules",
        "add",
        "AAPL price > 1",
        "--frequency",
        "once",
        "--repeat-every",
        "1h",
    ]);
    assert_eq!(once.code, 1, "the library refuses it: {}", once.stderr);
    assert!(once.stderr.contains("nothing to repeat"), "{}", once.stderr);
}
