//! Help, usage, configuration, output and the demo.

use super::*;

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
            .contains("39 alerts from 6 rules over 123 replayed months"),
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
    assert_eq!(alerts.len(), 39);
    assert_eq!(alerts[0]["symbol"], "AAPL");
    assert!(dir.path().join("elsewhere/demo.db").exists());
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
                    || run.stdout.contains("Examples:\n  invest")
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
    create_ann(dir.path(), &env);
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
