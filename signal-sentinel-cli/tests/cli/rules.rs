//! `invest rules …` and `invest auth create-user`/`list-users`.

use super::*;

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
        "error: text: column 13: expected 'above' or 'below', found 'abve' (hint: crosses above 200, crosses below sma(50))"
    );
    let run = invest(
        dir.path(),
        &[],
        &["rules", "backtest", "ABC price > 1", "--csv", csv],
    );
    assert_eq!(run.code, 1);
    assert!(run.stderr.contains("has no bars for ABC"), "{}", run.stderr);
}

/// A backtest takes the options a rule is saved with, and combinations over the symbols of
/// the file; the library's checks answer as they do in the API.
#[test]
fn rules_backtest_takes_options_and_combinations() {
    let dir = tempfile::tempdir().unwrap();
    let csv = xyz_csv(dir.path());
    let csv = csv.to_str().unwrap();
    let run = |args: &[&str]| {
        let mut all = vec!["rules", "backtest"];
        all.extend_from_slice(args);
        invest(dir.path(), &[], &all)
    };
    let plain = run(&["XYZ price > 30", "--csv", csv, "--json"]);
    let plain: serde_json::Value = serde_json::from_str(&plain.stdout).unwrap();
    assert_eq!(plain["alerts"].as_array().unwrap().len(), 5);
    // Three evaluations in a row before firing: later, and not on one-day peaks.
    let pending = run(&["XYZ price > 30", "--csv", csv, "--pending", "3x", "--json"]);
    assert_eq!(pending.code, 0, "{}", pending.stderr);
    let pending: serde_json::Value = serde_json::from_str(&pending.stdout).unwrap();
    let pending = pending["alerts"].as_array().unwrap();
    assert!(pending.len() < 5, "{pending:?}");
    assert!(pending[0]["at"].as_str() > plain["alerts"][0]["at"].as_str());
    let once = run(&[
        "XYZ price > 30",
        "--csv",
        csv,
        "--frequency",
        "once",
        "--json",
    ]);
    let once: serde_json::Value = serde_json::from_str(&once.stdout).unwrap();
    assert_eq!(once["alerts"].as_array().unwrap().len(), 1);
    // Expired before its first firing: no alerts, as a saved rule with that expiry.
    let expired = run(&[
        "XYZ price > 30",
        "--csv",
        csv,
        "--expires",
        "2009-06-01T12:00:00Z",
        "--json",
    ]);
    assert_eq!(expired.code, 0, "{}", expired.stderr);
    let expired: serde_json::Value = serde_json::from_str(&expired.stdout).unwrap();
    assert_eq!(expired["alerts"], serde_json::json!([]));
    let range = run(&[
        "XYZ price > 30",
        "--csv",
        csv,
        "--from",
        "2009-07-01",
        "--to",
        "2009-07-31",
    ]);
    assert!(
        range.stdout.contains("over 22 sessions"),
        "{}",
        range.stdout
    );

    // A combination over two symbols of one file.
    let two = dir.path().join("two.csv");
    std::fs::write(
        &two,
        "time,symbol,open,high,low,close,volume\n\
         2009-06-01,AAA,10,10,10,10,\n2009-06-01,BBB,50,50,50,50,\n\
         2009-06-02,AAA,11,11,11,11,\n2009-06-02,BBB,49,49,49,49,\n\
         2009-06-03,AAA,12,12,12,12,\n2009-06-03,BBB,51,51,51,51,\n",
    )
    .unwrap();
    let two = two.to_str().unwrap();
    let both = run(&["AAA crosses above 10.5 and BBB < 50", "--csv", two]);
    assert_eq!(both.code, 0, "{}", both.stderr);
    assert!(
        both.stdout
            .starts_with("AAA crosses above 10.5 and BBB price < 50 over 3 sessions: 1 alerts"),
        "{}",
        both.stdout
    );
    assert!(both.stdout.contains("2009-06-02"), "{}", both.stdout);
    let bad = run(&["XYZ price > 30", "--csv", csv, "--pending", "0x"]);
    assert_eq!(bad.code, 2, "{}", bad.stderr);
    let bad = run(&["XYZ day change > 1%", "--csv", csv, "--hysteresis", "2"]);
    assert_eq!(bad.code, 1);
    assert!(
        bad.stderr.starts_with("error: options: hysteresis_percent"),
        "{}",
        bad.stderr
    );
    let bad = run(&["XYZ > 1 and trailing stop 5%", "--csv", csv]);
    assert_eq!(bad.code, 1);
    assert!(
        bad.stderr.contains("cannot hold a trailing stop"),
        "{}",
        bad.stderr
    );
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
    create_ann(dir.path(), &env);
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

/// `rules add` takes an expiry and the calendar conditions.
#[test]
fn rules_add_takes_an_expiry_and_calendar_conditions() {
    let dir = tempfile::tempdir().unwrap();
    let env = [("SECRET_KEY", "0123456789abcdef0123456789abcdef")];
    let run = |args: &[&str]| invest(dir.path(), &env, args);
    let created = invest_with_input(
        dir.path(),
        &env,
        &["auth", "create-user", "ann@example.com", "--password-stdin"],
        "a long enough password\n",
    );
    assert_eq!(created.code, 0, "{}", created.stderr);
    let expiring = run(&[
        "rules",
        "add",
        "NVDA earnings within 2d",
        "--expires",
        "2030-01-31T21:00:00Z",
        "--json",
    ]);
    assert_eq!(expiring.code, 0, "{}", expiring.stderr);
    let expiring: serde_json::Value = serde_json::from_str(&expiring.stdout).unwrap();
    assert_eq!(expiring["expires_at"], "2030-01-31T21:00:00Z");
    assert_eq!(expiring["text"], "NVDA earnings within 2d");
    assert_eq!(
        run(&["rules", "add", "NVDA earnings within 2h"]).code,
        1,
        "days, not hours"
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

/// The same rule twice is refused with the first one's id, as in the API, unless asked for.
#[test]
fn rules_add_refuses_a_duplicate_unless_asked() {
    let dir = tempfile::tempdir().unwrap();
    let env = [("SECRET_KEY", "0123456789abcdef0123456789abcdef")];
    let run = |args: &[&str]| invest(dir.path(), &env, args);
    create_ann(dir.path(), &env);
    assert_eq!(
        run(&["rules", "add", "AAPL > 1 and SPY day change > 0%"]).code,
        0
    );
    let again = run(&["rules", "add", "aapl price > 1 AND spy day change > 0%"]);
    assert_eq!(again.code, 1);
    assert_eq!(
        again.stderr,
        "error: rule #1 is this rule already, with the same options (AAPL price > 1 and SPY day change > 0%); add it again with --allow-duplicate (API: \"allow_duplicate\": true)\n"
    );
    let other = run(&[
        "rules",
        "add",
        "AAPL > 1 and SPY day change > 0%",
        "--cooldown",
        "5",
    ]);
    assert_eq!(other.code, 0, "{}", other.stderr);
    let forced = run(&[
        "rules",
        "add",
        "AAPL > 1 and SPY day change > 0%",
        "--allow-duplicate",
    ]);
    assert_eq!(forced.code, 0, "{}", forced.stderr);
}

/// `rules export > rules.txt` and `rules import rules.txt` round-trip, all or nothing, with
/// line numbers in errors and duplicates reported; `-` reads standard input.
#[test]
fn rules_export_and_import_round_trip() {
    let dir = tempfile::tempdir().unwrap();
    let env = [("SECRET_KEY", "0123456789abcdef0123456789abcdef")];
    let run = |args: &[&str]| invest(dir.path(), &env, args);
    create_ann(dir.path(), &env);
    assert_eq!(run(&["rules", "add", "AAPL crosses above 200"]).code, 0);
    let named = run(&[
        "rules",
        "add",
        "TSLA day change <= -5% and SPY day change < 0%",
        "--name",
        "tsla drop",
        "--cooldown",
        "30",
        "--disabled",
    ]);
    assert_eq!(named.code, 0, "{}", named.stderr);
    let exported = run(&["rules", "export"]);
    assert_eq!(exported.code, 0, "{}", exported.stderr);
    let lines: Vec<&str> = exported.stdout.lines().collect();
    assert!(
        lines[0].starts_with("# Signal Sentinel rules, exported "),
        "{}",
        exported.stdout
    );
    assert_eq!(lines[1], "AAPL crosses above 200");
    assert_eq!(
        lines[2],
        r#"TSLA day change <= -5% and SPY day change < 0% {"name":"tsla drop","enabled":false,"options":{"cooldown_minutes":30}}"#
    );
    let file = dir.path().join("rules.txt");
    std::fs::write(&file, format!("{}\nMSFT new 52w high\n", exported.stdout)).unwrap();
    // The same file again: the two rules are there already, MSFT is new.
    let imported = run(&["rules", "import", file.to_str().unwrap()]);
    assert_eq!(imported.code, 0, "{}", imported.stderr);
    assert_eq!(
        imported.stdout,
        "added rule #3: MSFT new 52w high\nskipped line 2: you have it already as rule #1\nskipped line 3: you have it already as rule #2\n1 added, 2 skipped as duplicates\n"
    );
    // One bad line: nothing is added, and every bad line is named.
    std::fs::write(
        &file,
        "IBM > 1\nIBM crosses abve 2\nIBM > 3 {\"colour\": 1}\n",
    )
    .unwrap();
    let bad = run(&["rules", "import", file.to_str().unwrap()]);
    assert_eq!(bad.code, 1);
    assert!(
        bad.stderr
            .starts_with("error: file: line 2: column 13: expected 'above' or 'below'"),
        "{}",
        bad.stderr
    );
    assert!(
        bad.stderr
            .contains("; line 3: the name and options after the rule: unknown field `colour`"),
        "{}",
        bad.stderr
    );
    let listed = run(&["rules", "list", "--json"]);
    let listed: serde_json::Value = serde_json::from_str(&listed.stdout).unwrap();
    assert_eq!(listed.as_array().unwrap().len(), 3);
    let missing = run(&["rules", "import", "no-such-file.txt"]);
    assert_eq!(missing.code, 1);
    assert!(
        missing.stderr.starts_with("error: no-such-file.txt: "),
        "{}",
        missing.stderr
    );
}

/// `--no-data`, `--on-error` and `--evaluate` are stored as the options the API shows.
#[test]
fn rules_add_takes_gap_policies_and_timing() {
    let dir = tempfile::tempdir().unwrap();
    let env = [("SECRET_KEY", "0123456789abcdef0123456789abcdef")];
    let run = |args: &[&str]| invest(dir.path(), &env, args);
    create_ann(dir.path(), &env);
    let added = run(&[
        "rules",
        "add",
        "SPY sma(50) crosses above sma(200)",
        "--no-data",
        "keep-firing-for=1h",
        "--on-error",
        "alert",
        "--evaluate",
        "at-session-close",
        "--json",
    ]);
    assert_eq!(added.code, 0, "{}", added.stderr);
    let rule: serde_json::Value = serde_json::from_str(&added.stdout).unwrap();
    assert_eq!(
        rule["options"]["no_data"],
        serde_json::json!({"keep_firing_for": 60})
    );
    assert_eq!(rule["options"]["on_error"], "alert");
    assert_eq!(rule["options"]["evaluate"], "at_session_close");
    let bad = run(&["rules", "add", "SPY > 1", "--no-data", "forever"]);
    assert_eq!(bad.code, 2);
    assert!(
        bad.stderr
            .contains("use keep-state, resolve, alert or keep-firing-for=30m"),
        "{}",
        bad.stderr
    );
    // A backtest lists the no-data alert of a rule waiting for its history.
    let csv = xyz_csv(dir.path());
    let replayed = run(&[
        "rules",
        "backtest",
        "XYZ crosses above sma(5)",
        "--csv",
        csv.to_str().unwrap(),
        "--no-data",
        "alert",
        "--json",
    ]);
    assert_eq!(replayed.code, 0, "{}", replayed.stderr);
    let replayed: serde_json::Value = serde_json::from_str(&replayed.stdout).unwrap();
    assert_eq!(replayed["alerts"][0]["kind"], "no_data");
}

/// `rules add --say`: the rule read from a sentence is shown, and saved only with `--yes`
/// (no terminal to ask on here); a sentence with no rule is a one-line error.
#[test]
fn rules_add_say_shows_the_rule_and_saves_it_only_when_confirmed() {
    let dir = tempfile::tempdir().unwrap();
    let env = [("SECRET_KEY", "0123456789abcdef0123456789abcdef")];
    let run = |args: &[&str]| invest(dir.path(), &env, args);
    create_ann(dir.path(), &env);
    let asked = run(&["rules", "add", "--say", "tell me if Apple drops 5% today"]);
    assert_eq!(asked.code, 1, "{}", asked.stderr);
    assert!(
        asked
            .stdout
            .starts_with("rule:    AAPL day change <= -5%\n"),
        "{}",
        asked.stdout
    );
    assert!(
        asked.stdout.contains("symbol:  AAPL (Apple Inc.)"),
        "{}",
        asked.stdout
    );
    assert_eq!(
        asked.stderr,
        "error: not saved: add --yes to save the rule read from a sentence without asking\n"
    );
    let listed = run(&["rules", "list", "--json"]);
    assert_eq!(listed.stdout.trim(), "[]", "{}", listed.stdout);

    let saved = run(&[
        "rules",
        "add",
        "--say",
        "ping me when Nvidia is overbought",
        "--yes",
    ]);
    assert_eq!(saved.code, 0, "{}", saved.stderr);
    assert!(
        saved.stdout.contains("NVDA rsi(14) > 70"),
        "{}",
        saved.stdout
    );
    let listed = run(&["rules", "list", "--json"]);
    assert!(
        listed.stdout.contains("NVDA rsi(14) > 70"),
        "{}",
        listed.stdout
    );

    let refused = run(&[
        "rules",
        "add",
        "--say",
        "tell me if Apple drops 5% this week",
        "--yes",
    ]);
    assert_eq!(refused.code, 1);
    assert!(
        refused
            .stderr
            .starts_with("error: could not make a rule from this: "),
        "{}",
        refused.stderr
    );
    assert_eq!(refused.stderr.lines().count(), 1, "{}", refused.stderr);
    let choose = run(&[
        "rules",
        "add",
        "--say",
        "alert me when Alphabet crosses above 200",
    ]);
    assert_eq!(choose.code, 1);
    assert!(
        choose
            .stderr
            .contains("GOOGL (Alphabet Inc. (Class A)) or GOOG"),
        "{}",
        choose.stderr
    );
}
