//! `invest` as a user runs it: a fresh directory, no configuration but what the test gives.

use std::path::Path;
use std::process::{Command, Output};

mod alerts;
mod auth;
mod basics;
mod brokerage;
mod db;
mod deploy;
mod monitor;
mod notifications;
mod one_path;
mod operations;
mod portfolio;
mod providers;
mod rules;
mod structure;

/// Every migration of the schema, in order.
const MIGRATIONS: [&str; 8] = [
    "m20261128_000001_initial",
    "m20261128_000002_monitor",
    "m20261129_000003_broker_connections",
    "m20261129_000004_monitor_workers",
    "m20261207_000005_alert_actions",
    "m20261207_000006_alert_reminders",
    "m20261207_000007_corporate_events",
    "m20261207_000008_rule_changes",
];

struct Run {
    code: i32,
    stdout: String,
    stderr: String,
}

fn invest(dir: &Path, env: &[(&str, &str)], args: &[&str]) -> Run {
    invest_with_input(dir, env, args, "")
}

/// `invest auth create-user ann@example.com` with the password "correct horse battery".
fn create_ann(dir: &Path, env: &[(&str, &str)]) {
    let created = invest_with_input(
        dir,
        env,
        &["auth", "create-user", "ann@example.com", "--password-stdin"],
        "correct horse battery\n",
    );
    assert_eq!(created.code, 0, "{}", created.stderr);
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

/// Runs `test` against a PostgreSQL database of its own (the shared test-support crate's,
/// dropped afterwards); says it was skipped without `SIGNAL_SENTINEL_TEST_POSTGRES_URL`.
fn with_fresh_postgres(prefix: &str, test: impl FnOnce(&str) + std::panic::UnwindSafe) {
    let Some(database) = test_support::TempPostgres::create_blocking(prefix) else {
        return;
    };
    test(&database.url);
}
