//! `invest db …`: migrate, check, backup and restore, copy; processes that migrate together.

use super::*;

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
fn restore_puts_a_backup_back_refusing_bad_files_and_databases_in_use() {
    let dir = tempfile::tempdir().unwrap();
    let env = [("SECRET_KEY", "0123456789abcdef0123456789abcdef")];
    let run = |args: &[&str]| invest(dir.path(), &env, args);
    create_ann(dir.path(), &env);
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

#[test]
fn processes_started_together_migrate_once_on_postgres() {
    with_fresh_postgres("ss_together", migrate_together);
}

/// `invest db copy` from the SQLite file to `target`: the user's rules arrive, ids kept; a
/// second copy into the now full target is refused in one line.
fn copy_into(target: &str) {
    let dir = tempfile::tempdir().unwrap();
    let env = [("SECRET_KEY", "0123456789abcdef0123456789abcdef")];
    create_ann(dir.path(), &env);
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
