//! `invest alerts …`.

use super::*;

#[test]
fn alerts_list_show_ack_and_clean() {
    let dir = tempfile::tempdir().unwrap();
    let env = [
        ("SECRET_KEY", "0123456789abcdef0123456789abcdef"),
        ("DATABASE_URL", "sqlite://./data/demo.db"),
    ];
    let run = |args: &[&str]| invest(dir.path(), &env, args);
    let json = |args: &[&str]| -> serde_json::Value {
        let out = run(args);
        assert_eq!(out.code, 0, "{args:?}: {}", out.stderr);
        serde_json::from_str(&out.stdout).unwrap()
    };
    // The demo leaves one user, 39 alerts and a console channel they wait for.
    assert_eq!(run(&["demo", "--pace", "0"]).code, 0);

    let newest = json(&["alerts", "list", "--limit", "3", "--json"]);
    let ids: Vec<_> = newest
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["id"].clone())
        .collect();
    assert_eq!(ids, [39, 38, 37]);
    let table = run(&["alerts", "list", "--limit", "1"]);
    assert!(
        table
            .stdout
            .contains("GOOG crosses below sma(6): now 529.94"),
        "{}",
        table.stdout
    );

    let shown = json(&["alerts", "show", "39", "--json"]);
    assert_eq!(shown["symbol"], "GOOG");
    assert_eq!(shown["deliveries"][0]["channel"], "console");
    assert_eq!(shown["deliveries"][0]["status"], "pending");
    let text = run(&["alerts", "show", "#39"]);
    assert!(text.stdout.contains("console"), "{}", text.stdout);

    let acked = json(&["alerts", "ack", "39", "--json"]);
    assert_eq!(acked["state"], "acknowledged");
    let fresh = json(&["alerts", "list", "--state", "new", "--limit", "1", "--json"]);
    assert_eq!(fresh[0]["id"], 38);
    let ibm = json(&[
        "alerts",
        "list",
        "--symbol",
        "ibm",
        "--since",
        "2009-08-01",
        "--json",
    ]);
    assert_eq!(ibm.as_array().unwrap().len(), 1, "{ibm}");

    let stats = json(&["db", "stats", "--json"]);
    assert_eq!(
        (
            stats["tables"]["users"].clone(),
            stats["tables"]["rules"].clone(),
            stats["tables"]["alerts"].clone()
        ),
        (1.into(), 6.into(), 39.into())
    );
    assert!(stats["size_bytes"].as_u64().unwrap() > 0);
    let text = run(&["db", "stats"]);
    assert!(
        text.stdout.contains("alerts") && text.stdout.contains("39"),
        "{}",
        text.stdout
    );

    let cleaned = json(&["alerts", "clean", "--older-than", "2005-01-01", "--json"]);
    assert_eq!(cleaned["deleted"], 16);
    let gone = run(&["alerts", "show", "1"]);
    assert_eq!(
        (gone.code, gone.stderr.as_str()),
        (
            1,
            "error: alert #1 not found; `invest alerts list` shows yours\n"
        )
    );
    assert_eq!(run(&["alerts", "clean", "--older-than", "30"]).code, 2);
    let backup = json(&["db", "backup", "--to", "copies", "--json"]);
    let file = backup["file"].as_str().unwrap();
    assert!(
        file.starts_with("copies/signal_sentinel_") && file.ends_with(".db.gz"),
        "{backup}"
    );
    assert!(dir.path().join(file).is_file());
    assert_eq!(backup["removed"], serde_json::json!([]));
    let pg = invest(
        dir.path(),
        &[
            ("SECRET_KEY", "0123456789abcdef0123456789abcdef"),
            ("DATABASE_URL", "postgres://ann:hunter2@db.invalid/ss"),
        ],
        &["db", "backup"],
    );
    assert_eq!(pg.code, 1);
    assert!(
        pg.stderr.contains("pg_dump --format=custom"),
        "{}",
        pg.stderr
    );
    assert!(!pg.stderr.contains("hunter2"), "{}", pg.stderr);
    let vacuum = json(&["db", "vacuum", "--json"]);
    assert!(vacuum["size_after"].as_u64().unwrap() > 0, "{vacuum}");
    assert_eq!(
        json(&["db", "stats", "--json"])["tables"]["alerts"],
        23,
        "39 - 16, vacuum lost nothing"
    );
    let missing = invest(
        dir.path(),
        &[
            ("SECRET_KEY", "0123456789abcdef0123456789abcdef"),
            ("DATABASE_URL", "sqlite://./none.db"),
        ],
        &["db", "stats"],
    );
    assert_eq!(missing.code, 1);
    assert!(
        missing.stderr.contains("none.db does not exist"),
        "{}",
        missing.stderr
    );
    assert!(
        !dir.path().join("none.db").exists(),
        "stats creates no database"
    );
    assert_eq!(run(&["alerts", "list", "--state", "old"]).code, 2);

    // Another user sees none of them.
    let bob = invest_with_input(
        dir.path(),
        &env,
        &["auth", "create-user", "bob@example.com", "--password-stdin"],
        "bob's long password\n",
    );
    assert_eq!(bob.code, 0, "{}", bob.stderr);
    let other = run(&["alerts", "ack", "40", "--user", "bob@example.com"]);
    assert_eq!(
        other.stderr,
        "error: alert #40 not found; `invest alerts list` shows yours\n"
    );
    let none = json(&["alerts", "list", "--user", "bob@example.com", "--json"]);
    assert_eq!(none, serde_json::json!([]));
}
