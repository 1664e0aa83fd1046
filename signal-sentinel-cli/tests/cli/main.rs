//! `invest` as a user runs it: a fresh directory, no configuration but what the test gives.

use std::path::Path;
use std::process::{Command, Output};

mod deploy;
mod one_path;
mod operations;
mod structure;

/// Every migration of the schema, in order.
const MIGRATIONS: [&str; 4] = [
    "m20261128_000001_initial",
    "m20261128_000002_monitor",
    "m20261129_000003_broker_connections",
    "m20261129_000004_monitor_workers",
];

struct Run {
    code: i32,
    stdout: String,
    stderr: String,
}

fn invest(dir: &Path, env: &[(&str, &str)], args: &[&str]) -> Run {
    invest_with_input(dir, env, args, "")
}

/// `invest` with `input` on its standard input.
fn invest_with_input(dir: &Path, env: &[(&str, &str)], args: &[&str], input: &str) -> Run {
    use std::io::Write;
    use std::process::Stdio;
    let mut child = Command::new(env!("CARGO_BIN_EXE_invest"))
        .current_dir(dir)
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("NO_COLOR", "1")
        .envs(env.iter().copied())
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run invest");
    child
        .stdin
        .take()
        .unwrap()
        .write_all(input.as_bytes())
        .unwrap();
    let Output {
        status,
        stdout,
        stderr,
    } = child.wait_with_output().expect("run invest");
    Run {
        code: status.code().expect("exit code"),
        stdout: String::from_utf8(stdout).unwrap(),
        stderr: String::from_utf8(stderr).unwrap(),
    }
}

#[test]
fn version_and_help() {
    let dir = tempfile::tempdir().unwrap();
    let run = invest(dir.path(), &[], &["--version"]);
    assert_eq!(run.code, 0);
    assert_eq!(
        run.stdout.trim(),
        format!("invest {}", env!("CARGO_PKG_VERSION"))
    );
    let run = invest(dir.path(), &[], &["--help"]);
    assert_eq!(run.code, 0);
    assert!(
        run.stdout.contains("Database maintenance"),
        "{}",
        run.stdout
    );
    let run = invest(dir.path(), &[], &["db", "--help"]);
    assert!(run.stdout.contains("migrate") && run.stdout.contains("check"));
}

#[test]
fn bad_usage_exits_2() {
    let dir = tempfile::tempdir().unwrap();
    let run = invest(dir.path(), &[], &["db", "frobnicate"]);
    assert_eq!(run.code, 2);
    assert!(
        run.stderr.contains("unrecognized subcommand"),
        "{}",
        run.stderr
    );
}

#[test]
fn migrate_then_check_on_the_default_sqlite_file() {
    let dir = tempfile::tempdir().unwrap();
    let key = [("SECRET_KEY", "0123456789abcdef0123456789abcdef")];

    let run = invest(dir.path(), &key, &["db", "check"]);
    assert_eq!(run.code, 1, "no database yet");
    assert_eq!(run.stderr.lines().count(), 1, "one line: {}", run.stderr);
    assert!(run.stderr.starts_with("error: ") && run.stderr.contains("does not exist"));
    assert!(
        !dir.path().join("data/signal_sentinel.db").exists(),
        "check creates nothing"
    );

    let run = invest(dir.path(), &key, &["db", "migrate", "--json"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let out: serde_json::Value = serde_json::from_str(&run.stdout).unwrap();
    assert_eq!(out["applied"], serde_json::json!(MIGRATIONS));
    assert!(dir.path().join("data/signal_sentinel.db").exists());

    let run = invest(dir.path(), &key, &["db", "migrate"]);
    assert_eq!(run.code, 0);
    assert!(
        run.stdout.contains("schema is up to date"),
        "{}",
        run.stdout
    );

    let run = invest(dir.path(), &key, &["db", "check"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(
        run.stdout.contains("healthy (integrity check: ok)"),
        "{}",
        run.stdout
    );
    let run = invest(dir.path(), &key, &["db", "check", "--json"]);
    let out: serde_json::Value = serde_json::from_str(&run.stdout).unwrap();
    assert_eq!(out["healthy"], true);
    assert_eq!(out["backend"], "sqlite");
    assert_eq!(out["pending_migrations"], serde_json::json!([]));
}

#[test]
fn dotenv_in_the_working_directory_is_read() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join(".env"),
        "DATABASE_URL=sqlite:///./state/from_dotenv.db\nSECRET_KEY=0123456789abcdef0123456789abcdef\n",
    )
    .unwrap();
    let run = invest(dir.path(), &[], &["db", "migrate"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(dir.path().join("state/from_dotenv.db").exists());
}

#[test]
fn a_file_that_is_not_a_database_fails_the_check() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join("data")).unwrap();
    std::fs::write(dir.path().join("data/signal_sentinel.db"), vec![0x42; 8192]).unwrap();
    let run = invest(
        dir.path(),
        &[("SECRET_KEY", "0123456789abcdef0123456789abcdef")],
        &["db", "check"],
    );
    assert_eq!(run.code, 1);
    assert_eq!(run.stderr.lines().count(), 1, "{}", run.stderr);
    assert!(run.stderr.starts_with("error: "), "{}", run.stderr);
}

#[test]
fn invalid_configuration_is_one_line_naming_the_variable() {
    let dir = tempfile::tempdir().unwrap();
    for (name, value, expected) in [
        ("LOG_LEVEL", "loud", "error: LOG_LEVEL: expected trace"),
        (
            "SECRET_KEY",
            "too-short-secret",
            "error: SECRET_KEY: must be at least 32 bytes",
        ),
        (
            "DATABASE_URL",
            "mysql://root:pw-secret@db/ss",
            "error: DATABASE_URL: expected sqlite://",
        ),
    ] {
        let run = invest(dir.path(), &[(name, value)], &["db", "check"]);
        assert_eq!(run.code, 1, "{name}");
        assert_eq!(run.stderr.lines().count(), 1, "{}", run.stderr);
        assert!(run.stderr.starts_with(expected), "{}", run.stderr);
        assert!(!run.stderr.contains("pw-secret") && !run.stderr.contains("too-short-secret"));
    }
}

#[test]
fn generated_secret_key_is_announced_once_on_stderr() {
    let dir = tempfile::tempdir().unwrap();
    let run = invest(dir.path(), &[], &["db", "migrate", "--json"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(
        run.stderr.contains("SECRET_KEY is not set"),
        "{}",
        run.stderr
    );
    serde_json::from_str::<serde_json::Value>(&run.stdout).expect("stdout stays clean JSON");
    let run = invest(dir.path(), &[], &["db", "migrate"]);
    assert!(
        !run.stderr.contains("SECRET_KEY is not set"),
        "{}",
        run.stderr
    );
}

#[test]
fn postgres_check_and_migrate_when_a_server_is_configured() {
    let Ok(url) = std::env::var("SIGNAL_SENTINEL_TEST_POSTGRES_URL") else {
        eprintln!(
            "skipped: SIGNAL_SENTINEL_TEST_POSTGRES_URL is not set, so this PostgreSQL test did not run"
        );
        return;
    };
    // The server's own database may hold other schemas: only check connectivity there.
    let dir = tempfile::tempdir().unwrap();
    let env = [
        ("DATABASE_URL", url.as_str()),
        ("SECRET_KEY", "0123456789abcdef0123456789abcdef"),
    ];
    let run = invest(dir.path(), &env, &["db", "check", "--json"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let out: serde_json::Value = serde_json::from_str(&run.stdout).unwrap();
    assert_eq!(out["backend"], "postgres");
    assert_eq!(out["healthy"], true);
    let unreachable = [
        ("DATABASE_URL", "postgres://ss:pg-secret-pw@127.0.0.1:1/ss"),
        ("SECRET_KEY", "0123456789abcdef0123456789abcdef"),
    ];
    let run = invest(dir.path(), &unreachable, &["db", "check"]);
    assert_eq!(run.code, 1);
    assert!(!run.stderr.contains("pg-secret-pw"), "{}", run.stderr);
}

#[test]
fn demo_prints_the_alerts_of_a_decade() {
    let dir = tempfile::tempdir().unwrap();
    let run = invest(dir.path(), &[], &["demo", "--pace", "0"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(
        run.stdout
            .contains("2007-05-01  AAPL   121.19  AAPL crosses above 100: now 121.19"),
        "{}",
        run.stdout
    );
    assert!(
        run.stdout
            .contains("41 alerts from 6 rules over 123 replayed months"),
        "{}",
        run.stdout
    );
    assert!(dir.path().join("data/demo.db").exists());

    let run = invest(
        dir.path(),
        &[],
        &["demo", "--pace", "0", "--json", "--data", "elsewhere"],
    );
    assert_eq!(run.code, 0, "{}", run.stderr);
    let alerts: Vec<serde_json::Value> = run
        .stdout
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(alerts.len(), 41);
    assert_eq!(alerts[0]["symbol"], "IBM");
    assert!(dir.path().join("elsewhere/demo.db").exists());
}

fn xyz_csv(dir: &Path) -> std::path::PathBuf {
    let mut csv = String::from("time,symbol,open,high,low,close,volume\n");
    for line in include_str!("../../../signal-sentinel/fixtures/daily_ohlc_2009.csv")
        .lines()
        .skip(1)
    {
        let (date, rest) = line.split_once(',').unwrap();
        csv.push_str(&format!("{date},XYZ,{rest},\n"));
    }
    let path = dir.join("xyz.csv");
    std::fs::write(&path, csv).unwrap();
    path
}

#[test]
fn rules_backtest_prints_a_table_or_json() {
    let dir = tempfile::tempdir().unwrap();
    let csv = xyz_csv(dir.path());
    let csv = csv.to_str().unwrap();
    let run = invest(
        dir.path(),
        &[],
        &["rules", "backtest", "xyz crosses above 30", "--csv", csv],
    );
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(
        run.stdout
            .starts_with("XYZ crosses above 30 over 44 sessions: 4 alerts\n"),
        "{}",
        run.stdout
    );
    assert!(
        run.stdout.contains("fired        1  2009-06-03  31.02"),
        "{}",
        run.stdout
    );

    let run = invest(
        dir.path(),
        &[],
        &[
            "rules",
            "backtest",
            "XYZ trailing stop 10%",
            "--csv",
            csv,
            "--json",
        ],
    );
    let out: serde_json::Value = serde_json::from_str(&run.stdout).unwrap();
    assert_eq!(out["alerts"].as_array().unwrap().len(), 3);
    assert_eq!(out["alerts"][0]["price"], "27.99");

    let run = invest(
        dir.path(),
        &[],
        &["rules", "backtest", "XYZ crosses abve 30", "--csv", csv],
    );
    assert_eq!(run.code, 1);
    assert_eq!(
        run.stderr.trim(),
        "error: rule: column 13: expected 'above' or 'below', found 'abve' (hint: crosses above 200, crosses below sma(50))"
    );
    let run = invest(
        dir.path(),
        &[],
        &["rules", "backtest", "ABC price > 1", "--csv", csv],
    );
    assert_eq!(run.code, 1);
    assert!(run.stderr.contains("has no bars for ABC"), "{}", run.stderr);
}

/// The rows of issue 17's table that `invest rules` gave differently from the API: the same
/// library call now gives the API's answer (cap, list clamp, snooze bounds), and no duration
/// panics or wraps.
#[test]
fn rules_from_the_terminal_give_the_apis_answers() {
    let dir = tempfile::tempdir().unwrap();
    let env = [
        ("SECRET_KEY", "0123456789abcdef0123456789abcdef"),
        ("MAX_RULES_PER_USER", "1"),
    ];
    let run = |args: &[&str]| invest(dir.path(), &env, args);
    let made = invest_with_input(
        dir.path(),
        &env,
        &["auth", "create-user", "ann@example.com", "--password-stdin"],
        "correct horse battery\n",
    );
    assert_eq!(made.code, 0, "{}", made.stderr);
    assert_eq!(run(&["rules", "add", "AAPL price > 1"]).code, 0);
    let second = run(&["rules", "add", "AAPL price > 2"]);
    assert_eq!(second.code, 1);
    assert_eq!(
        second.stderr,
        "error: you have 1 rules, the most this server allows; delete some first\n"
    );
    let listed = run(&["rules", "list", "--json"]);
    let listed: serde_json::Value = serde_json::from_str(&listed.stdout).unwrap();
    assert_eq!(listed.as_array().unwrap().len(), 1);
    for huge in ["2000000000000h", "307445734561825861m", "366d"] {
        let snoozed = run(&["rules", "snooze", "1", "--for", huge]);
        assert_eq!(snoozed.code, 2, "{huge}: {}", snoozed.stderr);
        assert!(
            snoozed.stderr.contains("out of range (at most 365 days)"),
            "{huge}: {}",
            snoozed.stderr
        );
    }
    let snoozed = run(&["rules", "snooze", "1", "--for", "365d", "--json"]);
    assert_eq!(snoozed.code, 0, "{}", snoozed.stderr);
    let missing = run(&["rules", "snooze", "7", "--for", "1h"]);
    assert_eq!(
        missing.stderr,
        "error: rule #7 not found; `invest rules list` shows yours\n"
    );
}

#[test]
fn users_and_rules_from_the_terminal() {
    let dir = tempfile::tempdir().unwrap();
    let env = [("SECRET_KEY", "0123456789abcdef0123456789abcdef")];
    let run = |args: &[&str]| invest(dir.path(), &env, args);
    let create = |email: &str, password: &str| {
        invest_with_input(
            dir.path(),
            &env,
            &["auth", "create-user", email, "--password-stdin"],
            &format!("{password}\n"),
        )
    };

    let none = run(&["rules", "list"]);
    assert_eq!(none.code, 1);
    assert!(
        none.stderr
            .contains("error: there is no user yet; create one with `invest auth create-user"),
        "{}",
        none.stderr
    );
    let short = create("ann@example.com", "short");
    assert_eq!(short.code, 1);
    assert!(
        short.stderr.contains("8 to 1024 characters"),
        "{}",
        short.stderr
    );
    let ann = create("Ann@Example.com", "correct horse battery");
    assert_eq!(ann.code, 0, "{}", ann.stderr);
    assert_eq!(ann.stdout, "created user ann@example.com (#1)\n");
    let again = create("ann@example.com", "another password");
    assert_eq!(again.code, 1);
    assert!(again.stderr.contains("already exists"), "{}", again.stderr);
    let users = run(&["auth", "list-users", "--json"]);
    let users: serde_json::Value = serde_json::from_str(&users.stdout).unwrap();
    assert_eq!(users[0]["email"], "ann@example.com");
    assert!(users[0].get("password_hash").is_none(), "{users}");

    let added = run(&[
        "rules",
        "add",
        "aapl crosses above 200",
        "--frequency",
        "once",
        "--name",
        "breakout",
    ]);
    assert_eq!(added.code, 0, "{}", added.stderr);
    assert_eq!(added.stdout, "added rule #1: AAPL crosses above 200\n");
    let bad = run(&["rules", "add", "AAPL crosses abve 200"]);
    assert_eq!(bad.code, 1);
    assert!(
        bad.stderr
            .starts_with("error: text: column 14: expected 'above' or 'below'"),
        "{}",
        bad.stderr
    );
    let template = run(&["rules", "add", "AAPL price > 1", "--message", "{{prize}}"]);
    assert_eq!(template.code, 1);
    assert!(template.stderr.contains("prize"), "{}", template.stderr);
    assert_eq!(
        run(&["rules", "add", "MSFT rsi(14) > 70", "--disabled"]).code,
        0
    );

    let table = run(&["rules", "list"]);
    assert_eq!(table.code, 0);
    assert!(
        table.stdout.contains("AAPL crosses above 200"),
        "{}",
        table.stdout
    );
    assert!(table.stdout.contains("breakout"));
    // Columns as wide as their widest cell: a name longer than any fixed width keeps the
    // column after it in line on every row.
    let long = "a name longer than sixteen characters";
    assert_eq!(
        run(&[
            "rules",
            "add",
            "IBM price < 50",
            "--name",
            long,
            "--disabled"
        ])
        .code,
        0
    );
    let table = run(&["rules", "list"]);
    let lines: Vec<&str> = table.stdout.lines().collect();
    assert_eq!(lines.len(), 4, "{}", table.stdout);
    let last_fired = lines[0].find("LAST FIRED").unwrap();
    for line in &lines[1..] {
        assert_eq!(
            line.char_indices().nth(last_fired).map(|(_, c)| c),
            Some('-'),
            "{}",
            table.stdout
        );
    }
    assert!(lines[3].contains(long), "{}", table.stdout);
    assert_eq!(run(&["rules", "rm", "3"]).code, 0);
    let enabled = run(&["rules", "list", "--enabled", "--json"]);
    let enabled: serde_json::Value = serde_json::from_str(&enabled.stdout).unwrap();
    assert_eq!(enabled.as_array().unwrap().len(), 1);
    assert_eq!(enabled[0]["text"], "AAPL crosses above 200");
    assert_eq!(enabled[0]["options"]["frequency"], "once");
    let msft = run(&["rules", "list", "--symbol", "msft", "--json"]);
    let msft: serde_json::Value = serde_json::from_str(&msft.stdout).unwrap();
    assert_eq!(
        (msft[0]["id"].clone(), msft[0]["enabled"].clone()),
        (2.into(), false.into())
    );

    let show = run(&["rules", "show", "1", "--json"]);
    let show: serde_json::Value = serde_json::from_str(&show.stdout).unwrap();
    assert_eq!(
        (show["name"].clone(), show["state"].clone()),
        ("breakout".into(), serde_json::Value::Null)
    );
    let snoozed = run(&["rules", "snooze", "1", "--for", "2h", "--json"]);
    let snoozed: serde_json::Value = serde_json::from_str(&snoozed.stdout).unwrap();
    assert!(snoozed["snoozed_until"].is_string(), "{snoozed}");
    let woke = run(&["rules", "snooze", "#1", "--off", "--json"]);
    let woke: serde_json::Value = serde_json::from_str(&woke.stdout).unwrap();
    assert!(woke["snoozed_until"].is_null(), "{woke}");
    assert_eq!(
        run(&["rules", "snooze", "1"]).code,
        2,
        "a duration or --off"
    );
    assert_eq!(
        run(&["rules", "disable", "1"]).stdout,
        "disabled rule #1: AAPL crosses above 200\n"
    );
    assert_eq!(
        run(&["rules", "enable", "1"]).stdout,
        "enabled rule #1: AAPL crosses above 200\n"
    );
    let missing = run(&["rules", "show", "9"]);
    assert_eq!(missing.code, 1);
    assert_eq!(
        missing.stderr,
        "error: rule #9 not found; `invest rules list` shows yours\n"
    );
    assert_eq!(run(&["rules", "show", "abc"]).code, 2);

    let edited = run(&[
        "rules",
        "edit",
        "1",
        "--rule",
        "aapl crosses above 210",
        "--cooldown",
        "30",
        "--json",
    ]);
    assert_eq!(edited.code, 0, "{}", edited.stderr);
    let edited: serde_json::Value = serde_json::from_str(&edited.stdout).unwrap();
    assert_eq!(edited["text"], "AAPL crosses above 210");
    assert_eq!(edited["options"]["cooldown_minutes"], 30);
    assert_eq!(edited["options"]["frequency"], "once", "kept");
    assert_eq!(edited["name"], "breakout", "kept");
    let refused = run(&["rules", "edit", "1", "--message", "{{prize}}"]);
    assert_eq!(refused.code, 1);
    assert!(
        refused.stderr.starts_with("error: options:"),
        "{}",
        refused.stderr
    );
    let bad = run(&["rules", "edit", "1", "--rule", "AAPL rsi(1) > 70"]);
    assert_eq!(bad.code, 1, "{}", bad.stdout);
    let unchanged = run(&["rules", "show", "1", "--json"]);
    let unchanged: serde_json::Value = serde_json::from_str(&unchanged.stdout).unwrap();
    assert_eq!(unchanged["text"], "AAPL crosses above 210");
    assert!(unchanged["options"].get("message").is_none(), "{unchanged}");

    // A second user: the first user's rules answer exactly as missing ones.
    assert_eq!(create("bob@example.com", "bob's long password").code, 0);
    let ambiguous = run(&["rules", "list"]);
    assert_eq!(ambiguous.code, 1);
    assert!(
        ambiguous.stderr.contains("--user EMAIL"),
        "{}",
        ambiguous.stderr
    );
    for args in [
        ["rules", "show", "1"],
        ["rules", "rm", "1"],
        ["rules", "disable", "1"],
        ["rules", "edit", "1"],
    ] {
        let mut args = args.to_vec();
        args.extend(["--user", "bob@example.com"]);
        let other = run(&args);
        assert_eq!(other.code, 1, "{args:?}");
        assert_eq!(
            other.stderr,
            "error: rule #1 not found; `invest rules list` shows yours\n"
        );
    }
    let bobs = run(&["rules", "list", "--user", "bob@example.com", "--json"]);
    assert_eq!(bobs.stdout.trim(), "[]");

    let rm = run(&["rules", "rm", "2", "--user", "ann@example.com"]);
    assert_eq!(rm.stdout, "deleted rule #2; its alerts are kept\n");
    let left = run(&["rules", "list", "--user", "ann@example.com", "--json"]);
    let left: serde_json::Value = serde_json::from_str(&left.stdout).unwrap();
    assert_eq!(left.as_array().unwrap().len(), 1);
    assert_eq!(left[0]["enabled"], true);
}

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
    // The demo leaves one user, 41 alerts and a console channel they wait for.
    assert_eq!(run(&["demo", "--pace", "0"]).code, 0);

    let newest = json(&["alerts", "list", "--limit", "3", "--json"]);
    let ids: Vec<_> = newest
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["id"].clone())
        .collect();
    assert_eq!(ids, [41, 40, 39]);
    let table = run(&["alerts", "list", "--limit", "1"]);
    assert!(
        table
            .stdout
            .contains("GOOG crosses below sma(6): now 529.94"),
        "{}",
        table.stdout
    );

    let shown = json(&["alerts", "show", "41", "--json"]);
    assert_eq!(shown["symbol"], "GOOG");
    assert_eq!(shown["deliveries"][0]["channel"], "console");
    assert_eq!(shown["deliveries"][0]["status"], "pending");
    let text = run(&["alerts", "show", "#41"]);
    assert!(text.stdout.contains("console"), "{}", text.stdout);

    let acked = json(&["alerts", "ack", "41", "--json"]);
    assert_eq!(acked["state"], "acknowledged");
    let fresh = json(&["alerts", "list", "--state", "new", "--limit", "1", "--json"]);
    assert_eq!(fresh[0]["id"], 40);
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
        (1.into(), 6.into(), 41.into())
    );
    assert!(stats["size_bytes"].as_u64().unwrap() > 0);
    let text = run(&["db", "stats"]);
    assert!(
        text.stdout.contains("alerts") && text.stdout.contains("41"),
        "{}",
        text.stdout
    );

    let cleaned = json(&["alerts", "clean", "--older-than", "2005-01-01", "--json"]);
    assert_eq!(cleaned["deleted"], 18);
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
        "41 - 18, vacuum lost nothing"
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

#[test]
fn a_closed_pipe_ends_output_quietly() {
    use std::process::Stdio;
    let dir = tempfile::tempdir().unwrap();
    // Like `invest demo | head -0`: the reader is gone before the first line.
    let mut child = Command::new(env!("CARGO_BIN_EXE_invest"))
        .current_dir(dir.path())
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("SECRET_KEY", "0123456789abcdef0123456789abcdef")
        .args(["demo", "--pace", "0"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    drop(child.stdout.take());
    let out = child.wait_with_output().unwrap();
    let stderr = String::from_utf8(out.stderr).unwrap();
    assert!(!stderr.contains("panicked"), "{stderr}");
    assert_eq!(out.status.code(), Some(0), "{stderr}");
}

#[test]
fn openapi_and_completions_need_no_configuration() {
    let dir = tempfile::tempdir().unwrap();
    let spec = invest(dir.path(), &[], &["openapi"]);
    assert_eq!(spec.code, 0, "{}", spec.stderr);
    let spec: serde_json::Value = serde_json::from_str(&spec.stdout).unwrap();
    assert_eq!(spec["info"]["title"], "Signal Sentinel");
    assert_eq!(spec["info"]["version"], env!("CARGO_PKG_VERSION"));
    assert!(spec["paths"]["/api/health"]["get"].is_object(), "{spec}");
    for (shell, marker) in [
        ("bash", "_invest()"),
        ("zsh", "#compdef invest"),
        ("fish", "complete -c invest"),
    ] {
        let script = invest(dir.path(), &[], &["completions", shell]);
        assert_eq!(script.code, 0, "{}", script.stderr);
        assert!(script.stdout.contains(marker), "{shell}");
        assert!(
            script.stdout.contains("alerts") && script.stdout.contains("snooze"),
            "{shell}"
        );
    }
    assert_eq!(invest(dir.path(), &[], &["completions", "tcsh"]).code, 2);
    // Neither wrote a key file or a database.
    assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0);
}

#[test]
fn monitor_run_reports_one_cycle() {
    let dir = tempfile::tempdir().unwrap();
    let csv = xyz_csv(dir.path());
    let market = format!("replay:{}", csv.display());
    let env = [("SECRET_KEY", "0123456789abcdef0123456789abcdef")];
    let run = invest(
        dir.path(),
        &env,
        &["monitor", "run", "--market", &market, "--json"],
    );
    assert_eq!(run.code, 0, "{}", run.stderr);
    let report: serde_json::Value = serde_json::from_str(&run.stdout).unwrap();
    assert_eq!(report["rules"], 0);
    assert_eq!(report["at"], "2009-07-31T19:59:00Z");
    let run = invest(dir.path(), &env, &["monitor", "run", "--market", "nope"]);
    assert_eq!(run.code, 1);
    assert!(
        run.stderr.starts_with("error: unknown market \"nope\""),
        "{}",
        run.stderr
    );
    let run = invest(
        dir.path(),
        &env,
        &[
            "monitor",
            "start",
            "--market",
            "simulated",
            "--interval",
            "5d",
        ],
    );
    assert_eq!(run.code, 2, "bad usage");
}

mod providers {
    use serde_json::json;
    use wiremock::matchers::{path, query_param};
    use wiremock::{Mock, MockServer, ResponseTemplate};

    use super::invest;

    fn chart(price: f64) -> serde_json::Value {
        let now = chrono_now();
        json!({"chart": {"result": [{"meta": {"regularMarketPrice": price, "chartPreviousClose": 100.0, "regularMarketTime": now},
            "timestamp": [now], "indicators": {"quote": [{"open": [100.0], "high": [price], "low": [99.0], "close": [price], "volume": [1000]}]}}], "error": null}})
    }

    fn chrono_now() -> i64 {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_secs() as i64
    }

    async fn run(env: Vec<(String, String)>, args: Vec<&'static str>) -> super::Run {
        let dir = tempfile::tempdir().unwrap();
        tokio::task::spawn_blocking(move || {
            let env: Vec<(&str, &str)> =
                env.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
            invest(dir.path(), &env, &args)
        })
        .await
        .unwrap()
    }

    #[tokio::test(flavor = "multi_thread")]
    async fn quote_prints_each_symbol_and_its_provider() {
        let yahoo = MockServer::start().await;
        Mock::given(path("/v8/finance/chart/AAPL"))
            .respond_with(ResponseTemplate::new(200).set_body_json(chart(101.5)))
            .mount(&yahoo)
            .await;
        Mock::given(path("/v8/finance/chart/BRK-B"))
            .respond_with(ResponseTemplate::new(200).set_body_json(chart(99.0)))
            .mount(&yahoo)
            .await;
        Mock::given(path("/v8/finance/chart/NOPE"))
            .respond_with(ResponseTemplate::new(404).set_body_json(json!({"chart": {"result": null, "error": {"code": "Not Found", "description": "No data found, symbol may be delisted"}}})))
            .mount(&yahoo)
            .await;
        let env = vec![
            ("YAHOO_BASE_URL".to_owned(), yahoo.uri()),
            (
                "SECRET_KEY".to_owned(),
                "0123456789abcdef0123456789abcdef".to_owned(),
            ),
        ];
        let out = run(env.clone(), vec!["quote", "AAPL", "brk.b", "NOPE"]).await;
        assert_eq!(out.code, 0, "{}", out.stderr);
        let lines: Vec<&str> = out.stdout.lines().collect();
        assert!(
            lines[1].starts_with("AAPL")
                && lines[1].contains("101.5")
                && lines[1].contains("+1.50%")
                && lines[1].ends_with("yahoo"),
            "{}",
            out.stdout
        );
        assert!(
            lines[2].starts_with("BRK.B") && lines[2].contains("-1.00%"),
            "{}",
            out.stdout
        );
        assert!(
            lines[3].starts_with("NOPE") && lines[3].ends_with("no data"),
            "{}",
            out.stdout
        );

        let out = run(env, vec!["quote", "AAPL", "--json"]).await;
        let body: serde_json::Value = serde_json::from_str(&out.stdout).unwrap();
        assert_eq!(body["quotes"][0]["source"], "yahoo");
        assert_eq!(body["quotes"][0]["price"], "101.5");

        let key = vec![(
            "SECRET_KEY".to_owned(),
            "0123456789abcdef0123456789abcdef".to_owned(),
        )];
        let out = run(key, vec!["quote", "AA$PL"]).await;
        assert_eq!(out.code, 1);
        assert!(
            out.stderr
                .contains("error: symbols: invalid symbol \"AA$PL\""),
            "{}",
            out.stderr
        );
    }

    #[tokio::test(flavor = "multi_thread")]
    async fn providers_status_asks_each_provider_and_shows_no_key() {
        let (finnhub, yahoo) = (MockServer::start().await, MockServer::start().await);
        Mock::given(path("/quote"))
            .and(query_param("symbol", "AAPL"))
            .respond_with(
                ResponseTemplate::new(401).set_body_json(json!({"error": "Invalid API key."})),
            )
            .mount(&finnhub)
            .await;
        Mock::given(path("/v8/finance/chart/AAPL"))
            .respond_with(ResponseTemplate::new(200).set_body_json(chart(101.5)))
            .mount(&yahoo)
            .await;
        let key = "finnhub-secret-token-42";
        let env = vec![
            ("FINNHUB_API_KEY".to_owned(), key.to_owned()),
            ("FINNHUB_BASE_URL".to_owned(), finnhub.uri()),
            ("YAHOO_BASE_URL".to_owned(), yahoo.uri()),
            (
                "SECRET_KEY".to_owned(),
                "0123456789abcdef0123456789abcdef".to_owned(),
            ),
            ("LOG_LEVEL".to_owned(), "trace".to_owned()),
        ];
        let out = run(env, vec!["providers", "status"]).await;
        assert_eq!(out.code, 0, "{}", out.stderr);
        let lines: Vec<&str> = out.stdout.lines().collect();
        assert!(
            lines[1].starts_with("finnhub   FAIL")
                && lines[1].contains("the API key was refused (HTTP 401)"),
            "{}",
            out.stdout
        );
        assert!(
            lines[2].starts_with("yahoo     ok") && lines[2].contains("AAPL 101.5"),
            "{}",
            out.stdout
        );
        assert!(
            !out.stdout.contains(key) && !out.stderr.contains(key),
            "the key leaked:\n{}\n{}",
            out.stdout,
            out.stderr
        );
    }
}

mod notifications {
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
            dispatch.stdout.contains(
                "0 digest deliveries queued; 41 claimed: 0 sent, 0 to retry, 41 given up"
            ),
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
}

/// A plain HTTP/1.1 GET on loopback: (status, body).
fn http_get(port: u16, path: &str, headers: &[(&str, &str)]) -> Option<(u16, String)> {
    use std::io::{Read, Write};
    let mut stream = std::net::TcpStream::connect(("127.0.0.1", port)).ok()?;
    stream
        .set_read_timeout(Some(std::time::Duration::from_secs(10)))
        .ok()?;
    let mut request = format!("GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n");
    for (name, value) in headers {
        request.push_str(&format!("{name}: {value}\r\n"));
    }
    request.push_str("\r\n");
    stream.write_all(request.as_bytes()).ok()?;
    let mut response = String::new();
    stream.read_to_string(&mut response).ok()?;
    let status = response.get(9..12)?.parse().ok()?;
    let body = response.split_once("\r\n\r\n")?.1.to_owned();
    Some((status, body))
}

#[test]
fn api_keys_from_the_terminal_work_against_the_server_until_revoked() {
    let dir = tempfile::tempdir().unwrap();
    let env = [("SECRET_KEY", "0123456789abcdef0123456789abcdef")];
    let created = invest_with_input(
        dir.path(),
        &env,
        &["auth", "create-user", "ann@example.com", "--password-stdin"],
        "correct horse battery\n",
    );
    assert_eq!(created.code, 0, "{}", created.stderr);
    let made = invest(
        dir.path(),
        &env,
        &["--json", "auth", "create-api-key", "nightly report"],
    );
    assert_eq!(made.code, 0, "{}", made.stderr);
    let made: serde_json::Value = serde_json::from_str(&made.stdout).unwrap();
    let key = made["key"].as_str().unwrap().to_owned();
    assert!(key.starts_with("ss_"), "{key}");
    let id = made["id"].to_string();

    let listed = invest(dir.path(), &env, &["auth", "list-api-keys"]);
    assert_eq!(listed.code, 0, "{}", listed.stderr);
    assert!(listed.stdout.contains("nightly report") && listed.stdout.contains("active"));
    assert!(
        !listed.stdout.contains(&key),
        "the list never shows the key"
    );

    // The server accepts it …
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let server = Command::new(env!("CARGO_BIN_EXE_invest"))
        .current_dir(dir.path())
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .envs(env.iter().copied())
        .args(["serve", "--host", "127.0.0.1", "--port", &port.to_string()])
        .args(["--market", "simulated", "--interval", "1s"])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut health = None;
    for _ in 0..100 {
        health = http_get(port, "/api/health", &[]);
        if health.is_some() {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    let (status, body) = health.expect("the server answers");
    assert_eq!(status, 200, "{body}");
    assert!(body.contains("Your AI-powered market watchdog."));
    let (status, body) = http_get(port, "/api/auth/me", &[("X-API-Key", &key)]).unwrap();
    assert_eq!(status, 200, "{body}");
    assert!(body.contains("ann@example.com"));
    std::thread::sleep(std::time::Duration::from_millis(1500));
    let (_, status_body) = http_get(port, "/api/monitor/status", &[("X-API-Key", &key)]).unwrap();
    let monitor: serde_json::Value = serde_json::from_str(&status_body).unwrap();
    assert_eq!(monitor["running"], true, "{status_body}");
    assert!(monitor["cycles"].as_u64().unwrap() >= 1, "{status_body}");
    // `invest monitor status` in another process sees the server's monitor as a worker.
    let workers = invest(dir.path(), &env, &["monitor", "status"]);
    assert_eq!(workers.code, 0, "{}", workers.stderr);
    assert!(
        workers
            .stdout
            .contains(&format!("pid {}, every 1 s", server.id()))
            && workers.stdout.contains(": 64 shards "),
        "{}",
        workers.stdout
    );

    // … until it is revoked, from the next request on.
    let revoked = invest(dir.path(), &env, &["auth", "revoke-api-key", &id, "--json"]);
    assert_eq!(revoked.code, 0, "{}", revoked.stderr);
    let revoked: serde_json::Value = serde_json::from_str(&revoked.stdout).unwrap();
    assert!(revoked["revoked_at"].is_string(), "{revoked}");
    let (status, _) = http_get(port, "/api/auth/me", &[("X-API-Key", &key)]).unwrap();
    assert_eq!(status, 401);
    let again = invest(dir.path(), &env, &["auth", "revoke-api-key", &id]);
    assert_eq!(again.code, 1);
    assert!(again.stderr.contains("not found"), "{}", again.stderr);

    // SIGTERM stops it gracefully.
    let killed = Command::new("kill")
        .args(["-TERM", &server.id().to_string()])
        .status()
        .unwrap();
    assert!(killed.success());
    let output = server.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "{stderr}");
    assert!(
        stderr.contains("shutting down") && stderr.contains("monitor stopped"),
        "{stderr}"
    );
    assert!(!stderr.contains(&key), "the key never reaches the log");
    // It left: no live worker, which `monitor status` reports as a failure.
    let none = invest(dir.path(), &env, &["monitor", "status", "--json"]);
    assert_eq!(none.code, 1);
    let report: serde_json::Value = serde_json::from_str(&none.stdout).unwrap();
    assert_eq!(report["workers"], serde_json::json!([]));
    assert_eq!(report["unassigned_shards"], 64);
    assert!(
        none.stderr.contains("no live monitor worker"),
        "{}",
        none.stderr
    );
}

#[test]
fn restore_puts_a_backup_back_refusing_bad_files_and_databases_in_use() {
    let dir = tempfile::tempdir().unwrap();
    let env = [("SECRET_KEY", "0123456789abcdef0123456789abcdef")];
    let run = |args: &[&str]| invest(dir.path(), &env, args);
    let created = invest_with_input(
        dir.path(),
        &env,
        &["auth", "create-user", "ann@example.com", "--password-stdin"],
        "correct horse battery\n",
    );
    assert_eq!(created.code, 0, "{}", created.stderr);
    assert_eq!(run(&["rules", "add", "AAPL crosses above 200"]).code, 0);
    let backup = run(&["--json", "db", "backup", "--to", "backups"]);
    assert_eq!(backup.code, 0, "{}", backup.stderr);
    let file: serde_json::Value = serde_json::from_str(&backup.stdout).unwrap();
    let file = file["file"].as_str().unwrap().to_owned();
    assert_eq!(run(&["rules", "add", "MSFT crosses above 500"]).code, 0);

    // Bad files are refused and nothing changes.
    std::fs::write(dir.path().join("junk.db.gz"), b"\x1f\x8bnot gzip at all").unwrap();
    std::fs::write(dir.path().join("text.db"), b"just text").unwrap();
    for bad in ["junk.db.gz", "text.db", "missing.db.gz"] {
        let r = run(&["db", "restore", bad]);
        assert_eq!(r.code, 1, "{bad}: {}", r.stdout);
        assert_eq!(r.stderr.lines().count(), 1, "{bad}: {}", r.stderr);
        assert!(r.stderr.contains(bad), "{bad}: {}", r.stderr);
    }
    let listed = run(&["--json", "rules", "list"]);
    assert_eq!(
        serde_json::from_str::<serde_json::Value>(&listed.stdout)
            .unwrap()
            .as_array()
            .unwrap()
            .len(),
        2
    );

    // In use by a running server: refused unless forced.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let mut server = Command::new(env!("CARGO_BIN_EXE_invest"))
        .current_dir(dir.path())
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .envs(env.iter().copied())
        .args([
            "serve",
            "--no-monitor",
            "--host",
            "127.0.0.1",
            "--port",
            &port.to_string(),
        ])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    for _ in 0..100 {
        if http_get(port, "/api/health/ready", &[]).is_some() {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    let busy = run(&["db", "restore", &file]);
    let _ = server.kill();
    let _ = server.wait();
    assert_eq!(busy.code, 1, "{}", busy.stdout);
    assert!(busy.stderr.contains("in use"), "{}", busy.stderr);

    // Not in use: restored, the replaced file kept.
    let restored = run(&["--json", "db", "restore", &file]);
    assert_eq!(restored.code, 0, "{}", restored.stderr);
    let report: serde_json::Value = serde_json::from_str(&restored.stdout).unwrap();
    let kept = report["replaced_kept_as"].as_str().unwrap();
    assert!(dir.path().join(kept).exists(), "{kept}");
    let listed = run(&["--json", "rules", "list"]);
    let rules: serde_json::Value = serde_json::from_str(&listed.stdout).unwrap();
    assert_eq!(rules.as_array().unwrap().len(), 1, "{rules}");
    assert_eq!(rules[0]["symbol"], "AAPL");
    assert_eq!(run(&["db", "check"]).code, 0);
}

/// Every command's `--help`, snapshot-tested: a change to a help text shows in review.
/// After an intended change: `INSTA_UPDATE=always cargo test -p signal-sentinel-cli help_texts`.
#[test]
fn help_texts() {
    let dir = tempfile::tempdir().unwrap();
    let commands: &[&[&str]] = &[
        &[],
        &["demo"],
        &["serve"],
        &["quote"],
        &["providers", "status"],
        &["monitor", "run"],
        &["monitor", "start"],
        &["monitor", "status"],
        &["rules", "add"],
        &["rules", "list"],
        &["rules", "show"],
        &["rules", "edit"],
        &["rules", "rm"],
        &["rules", "enable"],
        &["rules", "disable"],
        &["rules", "snooze"],
        &["rules", "backtest"],
        &["alerts", "list"],
        &["alerts", "show"],
        &["alerts", "ack"],
        &["alerts", "clean"],
        &["auth", "create-user"],
        &["auth", "list-users"],
        &["auth", "create-api-key"],
        &["auth", "list-api-keys"],
        &["auth", "revoke-api-key"],
        &["notifications", "add-telegram"],
        &["notifications", "add-webhook"],
        &["notifications", "rm"],
        &["notifications", "test"],
        &["notifications", "status"],
        &["notifications", "prefs"],
        &["notifications", "dispatch"],
        &["portfolio", "show"],
        &["portfolio", "import"],
        &["portfolio", "sync"],
        &["portfolio", "link-status"],
        &["portfolio", "unlink"],
        &["portfolio", "watch"],
        &["db", "migrate"],
        &["db", "check"],
        &["db", "stats"],
        &["db", "backup"],
        &["db", "restore"],
        &["db", "copy"],
        &["db", "vacuum"],
        &["openapi"],
        &["completions"],
    ];
    for command in commands {
        let mut args = command.to_vec();
        args.push("--help");
        let run = invest(dir.path(), &[], &args);
        assert_eq!(run.code, 0, "{args:?}: {}", run.stderr);
        if !command.is_empty() {
            assert!(
                run.stdout.contains("Example:\n  invest")
                    || run.stdout.contains("Example:\n  echo"),
                "{args:?} has no example line"
            );
        }
        let name = if command.is_empty() {
            "invest".to_owned()
        } else {
            format!("invest_{}", command.join("_"))
        };
        insta::assert_snapshot!(name, run.stdout);
    }
}

#[test]
fn no_colour_codes_when_output_is_not_a_terminal() {
    let dir = tempfile::tempdir().unwrap();
    let env = [("SECRET_KEY", "0123456789abcdef0123456789abcdef")];
    let created = invest_with_input(
        dir.path(),
        &env,
        &["auth", "create-user", "ann@example.com", "--password-stdin"],
        "correct horse battery\n",
    );
    assert_eq!(created.code, 0, "{}", created.stderr);
    assert_eq!(
        invest(dir.path(), &env, &["rules", "add", "AAPL > 1"]).code,
        0
    );
    // A pipe gets no colour unless CLICOLOR_FORCE asks for it, and NO_COLOR wins over that.
    let with = |extra: &[(&'static str, &'static str)], args: &[&str]| {
        let vars: Vec<(&str, &str)> = env.iter().chain(extra).copied().collect();
        invest(dir.path(), &vars, args)
    };
    let listed = with(&[("NO_COLOR", "")], &["rules", "list"]);
    assert!(listed.stdout.contains("yes"), "{}", listed.stdout);
    let forced = with(
        &[("NO_COLOR", ""), ("CLICOLOR_FORCE", "1")],
        &["rules", "list"],
    );
    assert!(forced.stdout.contains('\x1b'), "{:?}", forced.stdout);
    let refused = with(
        &[("NO_COLOR", "1"), ("CLICOLOR_FORCE", "1")],
        &["rules", "list"],
    );
    assert!(!refused.stdout.contains('\x1b'), "{:?}", refused.stdout);
    let failed = with(&[("NO_COLOR", "")], &["rules", "show", "99"]);
    assert_eq!(failed.code, 1);
    for text in [&listed.stdout, &listed.stderr, &failed.stderr] {
        assert!(!text.contains('\x1b'), "escape codes in {text:?}");
    }
    assert!(
        failed.stderr.starts_with("error: rule #99 not found"),
        "{}",
        failed.stderr
    );
}

#[test]
fn portfolio_import_reports_every_bad_line_and_imports_nothing() {
    let dir = tempfile::tempdir().unwrap();
    // Quotes are asked of a closed local port: the portfolio shows without prices.
    let env = [
        ("SECRET_KEY", "0123456789abcdef0123456789abcdef"),
        ("YAHOO_BASE_URL", "http://127.0.0.1:9"),
    ];
    let created = invest_with_input(
        dir.path(),
        &env,
        &["auth", "create-user", "ann@example.com", "--password-stdin"],
        "correct horse battery\n",
    );
    assert_eq!(created.code, 0, "{}", created.stderr);
    std::fs::write(
        dir.path().join("bad.csv"),
        "symbol,quantity,cost_basis,account\nAAPL,10,150,ira\nMSFT,zero,,\n,5,1,\n",
    )
    .unwrap();
    let bad = invest(dir.path(), &env, &["portfolio", "import", "bad.csv"]);
    assert_eq!(bad.code, 1);
    assert_eq!(bad.stderr.lines().count(), 1, "{}", bad.stderr);
    assert!(
        bad.stderr.contains("bad.csv")
            && bad.stderr.contains("line 3")
            && bad.stderr.contains("line 4"),
        "{}",
        bad.stderr
    );
    let none = invest(dir.path(), &env, &["portfolio", "show"]);
    assert!(none.stdout.contains("no holdings"), "{}", none.stdout);

    std::fs::write(
        dir.path().join("good.csv"),
        "symbol,quantity,cost_basis,account\nAAPL,10,150,ira\nmsft,5,,\n",
    )
    .unwrap();
    let good = invest(dir.path(), &env, &["portfolio", "import", "good.csv"]);
    assert_eq!(good.code, 0, "{}", good.stderr);
    assert!(
        good.stdout.contains("imported 2 holdings"),
        "{}",
        good.stdout
    );
    let shown = invest(dir.path(), &env, &["--json", "portfolio", "show"]);
    assert_eq!(shown.code, 0, "{}", shown.stderr);
    let portfolio: serde_json::Value = serde_json::from_str(&shown.stdout).unwrap();
    assert_eq!(portfolio["positions"].as_array().unwrap().len(), 2);
    assert_eq!(portfolio["positions"][1]["holding"]["account"], "default");
    assert_eq!(portfolio["unpriced"], serde_json::json!(["AAPL", "MSFT"]));
    let table = invest(dir.path(), &env, &["portfolio", "show"]);
    assert!(
        table.stdout.contains("no quote now for: AAPL, MSFT"),
        "{}",
        table.stdout
    );
    // Watch my holdings: a 10% fall below cost and a 5% day move by default, never twice.
    let watch = invest(dir.path(), &env, &["portfolio", "watch"]);
    assert_eq!(watch.code, 0, "{}", watch.stderr);
    assert!(
        watch
            .stdout
            .contains("created: AAPL position 10% below cost")
            && watch
                .stdout
                .contains("created: MSFT position day move >= 5%")
            && watch.stdout.contains("3 rules created, 0 existed already"),
        "{}",
        watch.stdout
    );
    let again = invest(dir.path(), &env, &["portfolio", "watch"]);
    assert!(
        again.stdout.contains("0 rules created, 3 existed already"),
        "{}",
        again.stdout
    );
    let bad = invest(dir.path(), &env, &["portfolio", "watch", "--weight", "0"]);
    assert_eq!(bad.code, 1);
    assert_eq!(bad.stderr.lines().count(), 1, "{}", bad.stderr);
}

mod brokerage {
    //! `invest portfolio sync|link-status|unlink` against a mock Plaid; the link itself is made
    //! through the library, as the dashboard's Link flow makes it through the API.

    use std::sync::Arc;

    use serde_json::json;
    use signal_sentinel::Secret;
    use signal_sentinel::clock::SystemClock;
    use signal_sentinel::config::Settings;
    use signal_sentinel::market::SimulatedMarket;
    use signal_sentinel::service::{Principal, Services};
    use signal_sentinel::store::{SeaStore, Store};
    use wiremock::matchers::path;
    use wiremock::{Mock, MockServer, ResponseTemplate};

    const HOLDINGS: &str =
        include_str!("../../../signal-sentinel/tests/fixtures/plaid/holdings.json");
    const ITEM_LOGIN_REQUIRED: &str =
        include_str!("../../../signal-sentinel/tests/fixtures/plaid/item_login_required.json");
    const ACCESS: &str = "access-sandbox-0000-cli";

    async fn cli(
        dir: &std::path::Path,
        env: &[(String, String)],
        args: &[&'static str],
    ) -> super::Run {
        let (dir, env, args) = (dir.to_owned(), env.to_vec(), args.to_vec());
        tokio::task::spawn_blocking(move || {
            let env: Vec<(&str, &str)> =
                env.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
            super::invest(&dir, &env, &args)
        })
        .await
        .unwrap()
    }

    async fn create_ann(dir: &std::path::Path, env: &[(String, String)]) {
        let (dir, env) = (dir.to_owned(), env.to_vec());
        let created = tokio::task::spawn_blocking(move || {
            let env: Vec<(&str, &str)> =
                env.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
            super::invest_with_input(
                &dir,
                &env,
                &["auth", "create-user", "ann@example.com", "--password-stdin"],
                "correct horse battery\n",
            )
        })
        .await
        .unwrap();
        assert_eq!(created.code, 0, "{}", created.stderr);
    }

    #[tokio::test(flavor = "multi_thread")]
    async fn sync_and_link_status_show_health_and_what_to_do() {
        let dir = tempfile::tempdir().unwrap();
        let plaid = MockServer::start().await;
        Mock::given(path("/item/public_token/exchange"))
            .respond_with(ResponseTemplate::new(200).set_body_json(json!({
                "access_token": ACCESS, "item_id": "item-cli", "request_id": "r"
            })))
            .mount(&plaid)
            .await;
        Mock::given(path("/investments/holdings/get"))
            .respond_with(ResponseTemplate::new(200).set_body_string(HOLDINGS))
            .up_to_n_times(2)
            .mount(&plaid)
            .await;
        let env: Vec<(String, String)> = [
            ("SECRET_KEY", "0123456789abcdef0123456789abcdef".to_owned()),
            (
                "DATABASE_URL",
                format!("sqlite://{}/ss.db?mode=rwc", dir.path().display()),
            ),
            ("PLAID_CLIENT_ID", "client".to_owned()),
            ("PLAID_SECRET", "plaid-secret-cli".to_owned()),
            ("PLAID_BASE_URL", plaid.uri()),
            ("YAHOO_BASE_URL", "http://127.0.0.1:9".to_owned()),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v))
        .collect();

        create_ann(dir.path(), &env).await;
        let none = cli(dir.path(), &env, &["portfolio", "link-status"]).await;
        assert_eq!(none.code, 0, "{}", none.stderr);
        assert!(
            none.stdout.contains("no linked brokerage"),
            "{}",
            none.stdout
        );

        let settings = Settings::from_vars(env.clone()).unwrap();
        let store: Arc<dyn Store> = Arc::new(SeaStore::open(&settings.database_url).await.unwrap());
        let clock = Arc::new(SystemClock);
        let services = Services::from_settings(
            &settings,
            store,
            clock.clone(),
            Arc::new(SimulatedMarket::new(1, clock)),
            Vec::new(),
        )
        .unwrap();
        let ann = services
            .login("ann@example.com", Secret::new("correct horse battery"))
            .await
            .unwrap();
        let ann = Principal {
            user: ann.0.id,
            api_key: None,
        };
        services
            .link_brokerage(ann, "public-sandbox-cli", Some("Houndstooth Bank"))
            .await
            .unwrap();

        let synced = cli(dir.path(), &env, &["portfolio", "sync"]).await;
        assert_eq!(synced.code, 0, "{}", synced.stderr);
        assert!(
            synced
                .stdout
                .contains("(Houndstooth Bank): 4 positions, cash 12345.67, 3 holdings left out"),
            "{}",
            synced.stdout
        );
        assert!(
            synced.stdout.contains("left out: SAP SE"),
            "{}",
            synced.stdout
        );

        let status = cli(dir.path(), &env, &["portfolio", "link-status"]).await;
        assert_eq!(status.code, 0, "{}", status.stderr);
        assert!(
            status.stdout.contains("Houndstooth Bank") && status.stdout.contains("active"),
            "{}",
            status.stdout
        );

        Mock::given(path("/investments/holdings/get"))
            .respond_with(ResponseTemplate::new(400).set_body_string(ITEM_LOGIN_REQUIRED))
            .mount(&plaid)
            .await;
        let failed = cli(dir.path(), &env, &["portfolio", "sync"]).await;
        assert_eq!(failed.code, 1, "a link needs its user: {}", failed.stdout);
        assert!(
            failed.stdout.contains("ITEM_LOGIN_REQUIRED"),
            "{}",
            failed.stdout
        );
        assert!(
            failed.stdout.contains("what to do: Choose Reconnect"),
            "{}",
            failed.stdout
        );
        let status = cli(dir.path(), &env, &["--json", "portfolio", "link-status"]).await;
        assert_eq!(status.code, 1);
        let links: serde_json::Value = serde_json::from_str(&status.stdout).unwrap();
        assert_eq!(links[0]["status"], "needs_attention");
        assert_eq!(links[0]["positions"], 4);
        let shown = cli(dir.path(), &env, &["--json", "portfolio", "show"]).await;
        let portfolio: serde_json::Value = serde_json::from_str(&shown.stdout).unwrap();
        assert_eq!(portfolio["positions"].as_array().unwrap().len(), 4, "kept");
        for run in [&synced, &failed, &status, &shown] {
            assert!(!run.stdout.contains(ACCESS) && !run.stderr.contains(ACCESS));
            assert!(!run.stderr.contains("plaid-secret-cli"));
        }

        let id = links[0]["id"].to_string();
        let id: &'static str = Box::leak(id.into_boxed_str());
        let removed = cli(dir.path(), &env, &["portfolio", "unlink", id]).await;
        assert_eq!(removed.code, 0, "{}", removed.stderr);
        let again = cli(dir.path(), &env, &["portfolio", "unlink", id]).await;
        assert_eq!(again.code, 1);
        assert_eq!(again.stderr.lines().count(), 1, "{}", again.stderr);
        assert!(again.stderr.contains("not found"), "{}", again.stderr);
    }

    #[tokio::test(flavor = "multi_thread")]
    async fn sync_without_plaid_is_one_line_naming_the_variables() {
        let dir = tempfile::tempdir().unwrap();
        let env = vec![(
            "SECRET_KEY".to_owned(),
            "0123456789abcdef0123456789abcdef".to_owned(),
        )];
        create_ann(dir.path(), &env).await;
        let sync = cli(dir.path(), &env, &["portfolio", "sync"]).await;
        assert_eq!(sync.code, 1);
        assert_eq!(sync.stderr.lines().count(), 1, "{}", sync.stderr);
        assert!(sync.stderr.contains("PLAID_CLIENT_ID"), "{}", sync.stderr);
    }
}

/// Several processes migrating one database at once (a compose file's web and worker, or
/// replicas starting together): every one succeeds and each migration is applied exactly once.
fn migrate_together(url: &str) {
    let dir = tempfile::tempdir().unwrap();
    let children: Vec<_> = (0..4)
        .map(|_| {
            Command::new(env!("CARGO_BIN_EXE_invest"))
                .current_dir(dir.path())
                .env_clear()
                .env("PATH", std::env::var_os("PATH").unwrap_or_default())
                .env("DATABASE_URL", url)
                .env("SECRET_KEY", "0123456789abcdef0123456789abcdef")
                .args(["db", "migrate", "--json"])
                .stdout(std::process::Stdio::piped())
                .stderr(std::process::Stdio::piped())
                .spawn()
                .unwrap()
        })
        .collect();
    let mut applied: Vec<String> = Vec::new();
    for child in children {
        let out = child.wait_with_output().unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        applied.extend(
            json["applied"]
                .as_array()
                .unwrap()
                .iter()
                .map(|m| m.as_str().unwrap().to_owned()),
        );
    }
    applied.sort();
    assert_eq!(
        applied, MIGRATIONS,
        "each migration applied by exactly one process"
    );
    let check = invest(
        dir.path(),
        &[
            ("DATABASE_URL", url),
            ("SECRET_KEY", "0123456789abcdef0123456789abcdef"),
        ],
        &["db", "check", "--json"],
    );
    assert_eq!(check.code, 0, "{}", check.stderr);
}

/// Two `invest monitor start` processes on one database share the shards; when one is killed
/// (no chance to leave) the other holds them all within a few intervals; `monitor status`
/// follows.
fn worker_processes_share_and_take_over(url: &str) {
    let dir = tempfile::tempdir().unwrap();
    let env = [
        ("DATABASE_URL", url),
        ("SECRET_KEY", "0123456789abcdef0123456789abcdef"),
    ];
    assert_eq!(invest(dir.path(), &env, &["db", "migrate"]).code, 0);
    let start = || {
        Command::new(env!("CARGO_BIN_EXE_invest"))
            .current_dir(dir.path())
            .env_clear()
            .env("PATH", std::env::var_os("PATH").unwrap_or_default())
            .envs(env.iter().copied())
            .args([
                "monitor",
                "start",
                "--market",
                "simulated",
                "--interval",
                "1s",
            ])
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap()
    };
    let (mut a, mut b) = (start(), start());
    // The workers' shares, by pid, once they are what `want` says (30 s at most).
    // (pid, shards held) of each live worker.
    type Shares = [(u64, usize)];
    let shares_when = |want: &dyn Fn(&Shares) -> bool| {
        let mut last = String::new();
        for _ in 0..150 {
            let status = invest(dir.path(), &env, &["monitor", "status", "--json"]);
            if let Ok(report) = serde_json::from_str::<serde_json::Value>(&status.stdout) {
                let mut shares: Vec<(u64, usize)> = report["workers"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|w| {
                        (
                            w["pid"].as_u64().unwrap(),
                            w["shards"].as_array().unwrap().len(),
                        )
                    })
                    .collect();
                shares.sort_unstable();
                if want(&shares) && report["unassigned_shards"] == 0 {
                    return shares;
                }
            }
            last = status.stdout;
            std::thread::sleep(std::time::Duration::from_millis(200));
        }
        panic!("the workers never got there; last status: {last}");
    };
    let shares = shares_when(&|s| s.len() == 2 && s.iter().all(|(_, n)| *n == 32));
    assert_eq!(shares.len(), 2);
    // `a` dies without leaving: its shards move once its leases expire.
    a.kill().unwrap();
    a.wait().unwrap();
    let b_pid = u64::from(b.id());
    let shares = shares_when(&|s| s == [(b_pid, 64)]);
    assert_eq!(shares, [(b_pid, 64)]);
    b.kill().unwrap();
    b.wait().unwrap();
}

#[test]
fn worker_processes_share_the_rules_and_take_over_on_postgres() {
    with_fresh_postgres("ss_workers", worker_processes_share_and_take_over);
}

#[test]
fn worker_processes_share_the_rules_and_take_over_on_an_sqlite_file() {
    let dir = tempfile::tempdir().unwrap();
    worker_processes_share_and_take_over(&format!("sqlite://{}/w.db", dir.path().display()));
}

#[test]
fn processes_started_together_migrate_once_on_postgres() {
    with_fresh_postgres("ss_together", migrate_together);
}

/// `invest db copy` from the SQLite file to `target`: the user's rules arrive, ids kept; a
/// second copy into the now full target is refused in one line.
fn copy_into(target: &str) {
    let dir = tempfile::tempdir().unwrap();
    let env = [("SECRET_KEY", "0123456789abcdef0123456789abcdef")];
    let created = invest_with_input(
        dir.path(),
        &env,
        &["auth", "create-user", "ann@example.com", "--password-stdin"],
        "correct horse battery\n",
    );
    assert_eq!(created.code, 0, "{}", created.stderr);
    let added = invest(
        dir.path(),
        &env,
        &["rules", "add", "AAPL crosses above 200"],
    );
    assert_eq!(added.code, 0, "{}", added.stderr);
    let copied = invest(dir.path(), &env, &["--json", "db", "copy", "--to", target]);
    assert_eq!(copied.code, 0, "{}", copied.stderr);
    let report: serde_json::Value = serde_json::from_str(&copied.stdout).unwrap();
    assert_eq!(report["tables"]["users"], 1);
    assert_eq!(report["tables"]["rules"], 1);
    let listed = invest(
        dir.path(),
        &env,
        &["--database-url", target, "--json", "rules", "list"],
    );
    assert_eq!(listed.code, 0, "{}", listed.stderr);
    assert!(
        listed.stdout.contains("AAPL crosses above 200"),
        "{}",
        listed.stdout
    );
    let again = invest(dir.path(), &env, &["db", "copy", "--to", target]);
    assert_eq!(again.code, 1);
    assert_eq!(
        again
            .stderr
            .lines()
            .last()
            .map(|l| l.contains("the target must be empty")),
        Some(true),
        "{}",
        again.stderr
    );
}

#[test]
fn db_copy_moves_an_sqlite_database_into_an_empty_one() {
    let dir = tempfile::tempdir().unwrap();
    copy_into(&format!("sqlite://{}/copy.db", dir.path().display()));
}

#[test]
fn db_copy_moves_an_sqlite_database_to_postgres() {
    with_fresh_postgres("ss_copy", copy_into);
}

/// Runs `test` against a PostgreSQL database of its own (created with psql next to
/// `SIGNAL_SENTINEL_TEST_POSTGRES_URL`, dropped afterwards); says it was skipped without one.
fn with_fresh_postgres(prefix: &str, test: impl FnOnce(&str) + std::panic::UnwindSafe) {
    let Ok(admin) = std::env::var("SIGNAL_SENTINEL_TEST_POSTGRES_URL") else {
        eprintln!("skipped: SIGNAL_SENTINEL_TEST_POSTGRES_URL is not set");
        return;
    };
    let name = format!("{prefix}_{}", std::process::id());
    let psql = |sql: &str| {
        Command::new("psql")
            .args([admin.as_str(), "-q", "-c", sql])
            .output()
    };
    match psql(&format!("CREATE DATABASE {name}")) {
        Ok(out) if out.status.success() => {}
        other => {
            eprintln!("skipped: cannot create a database with psql: {other:?}");
            return;
        }
    }
    let mut url = url::Url::parse(&admin).unwrap();
    url.set_path(&name);
    let result = std::panic::catch_unwind(|| test(url.as_str()));
    let _ = psql(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"));
    if let Err(panic) = result {
        std::panic::resume_unwind(panic);
    }
}
