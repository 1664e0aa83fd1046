//! `invest monitor …`: one cycle, and worker processes that share the rules.

use super::*;

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
    // A stream is asked for and no configured provider has one: one line, exit 1.
    let run = invest(
        dir.path(),
        &env,
        &["monitor", "start", "--market", "stream"],
    );
    assert_eq!(run.code, 1);
    assert_eq!(
        run.stderr.trim(),
        "error: --market stream: no configured provider has a stream (set ALPACA_API_KEY and ALPACA_SECRET_KEY, or FINNHUB_API_KEY; Yahoo has none)"
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
