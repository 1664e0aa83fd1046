//! `invest auth` API keys, against a running server.

use super::*;

#[test]
fn api_keys_from_the_terminal_work_against_the_server_until_revoked() {
    let dir = tempfile::tempdir().unwrap();
    let env = [("SECRET_KEY", "0123456789abcdef0123456789abcdef")];
    create_ann(dir.path(), &env);
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
