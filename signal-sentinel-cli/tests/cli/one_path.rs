//! The same operation through the API and through `invest` gives the same answer: a table of
//! operations, each sent to a running `invest serve` and run as a command on the same
//! database, whose outcomes are compared (success, or the library's message for the field).

use std::path::Path;
use std::process::{Child, Command, Stdio};

use super::{Run, create_ann, invest, invest_with_input};

/// One HTTP/1.1 request with a JSON body; the status and the body of the answer.
fn http(
    port: u16,
    method: &str,
    path: &str,
    token: Option<&str>,
    body: Option<&str>,
) -> (u16, String) {
    use std::io::{Read, Write};
    let mut stream = std::net::TcpStream::connect(("127.0.0.1", port)).expect("connect");
    stream
        .set_read_timeout(Some(std::time::Duration::from_secs(20)))
        .unwrap();
    let mut request =
        format!("{method} {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n");
    if let Some(token) = token {
        request.push_str(&format!("Authorization: Bearer {token}\r\n"));
    }
    let body = body.unwrap_or_default();
    if !body.is_empty() {
        request.push_str("Content-Type: application/json\r\n");
    }
    request.push_str(&format!("Content-Length: {}\r\n\r\n{body}", body.len()));
    stream.write_all(request.as_bytes()).unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).unwrap();
    let status = response[9..12].parse().unwrap();
    let body = response.split_once("\r\n\r\n").unwrap().1.to_owned();
    (status, body)
}

/// The library's message in an API error: the field's message for invalid input, else the
/// error's message.
fn api_message(body: &str) -> String {
    let value: serde_json::Value = serde_json::from_str(body).unwrap_or_else(|_| panic!("{body}"));
    let error = &value["error"];
    error["fields"][0]["message"]
        .as_str()
        .or(error["message"].as_str())
        .unwrap_or_else(|| panic!("{body}"))
        .to_owned()
}

struct Server(Child);

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn serve(dir: &Path, env: &[(&str, &str)]) -> (Server, u16) {
    serve_market(dir, env, "simulated")
}

/// `invest serve --no-monitor --market MARKET`, once it answers; its log goes to
/// `serve.log` in `dir`.
fn serve_market(dir: &Path, env: &[(&str, &str)], market: &str) -> (Server, u16) {
    let log = std::fs::File::create(dir.join("serve.log")).unwrap();
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let child = Command::new(env!("CARGO_BIN_EXE_invest"))
        .current_dir(dir)
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .envs(env.iter().copied())
        .args(["serve", "--host", "127.0.0.1", "--port", &port.to_string()])
        .args(["--no-monitor", "--market", market])
        .stdout(Stdio::null())
        .stderr(log)
        .spawn()
        .unwrap();
    let server = Server(child);
    for _ in 0..200 {
        if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
            return (server, port);
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    panic!("the server does not answer");
}

/// A session token for the user.
fn login(port: u16, email: &str, password: &str) -> String {
    let body = serde_json::json!({"email": email, "password": password}).to_string();
    let (status, body) = http(port, "POST", "/api/auth/login", None, Some(&body));
    assert_eq!(status, 200, "{body}");
    let login: serde_json::Value = serde_json::from_str(&body).unwrap();
    login["token"]
        .as_str()
        .or(login["access_token"].as_str())
        .unwrap_or_else(|| panic!("{body}"))
        .to_owned()
}

/// The command failed with exit code `code` and printed the API's message.
#[track_caller]
fn same_refusal(cli: &Run, code: i32, api: &(u16, String), status: u16) {
    assert_eq!(api.0, status, "API: {}", api.1);
    let message = api_message(&api.1);
    assert_eq!(cli.code, code, "CLI: {}", cli.stderr);
    assert!(
        cli.stderr.contains(&message),
        "the CLI says\n  {}\nthe API says\n  {message}",
        cli.stderr.trim()
    );
}

/// Both answer "not found" (the terminal adds where to look).
#[track_caller]
fn same_not_found(cli: &Run, api: &(u16, String)) {
    assert_eq!(api.0, 404, "API: {}", api.1);
    assert!(api_message(&api.1).ends_with("not found"), "{}", api.1);
    assert_eq!(cli.code, 1, "CLI: {}", cli.stderr);
    assert!(cli.stderr.contains(" not found"), "{}", cli.stderr);
}

#[test]
fn the_api_and_the_terminal_give_the_same_answers() {
    let dir = tempfile::tempdir().unwrap();
    let env = [
        ("SECRET_KEY", "0123456789abcdef0123456789abcdef"),
        ("DATABASE_URL", "sqlite://one-path.db"),
        ("MAX_RULES_PER_USER", "201"),
        ("LOG_LEVEL", "warn"),
    ];
    let env = &env[..];
    create_ann(dir.path(), env);
    let (_server, port) = serve(dir.path(), env);
    let token = login(port, "ann@example.com", "correct horse battery");
    let api =
        |method: &str, path: &str, body: Option<&str>| http(port, method, path, Some(&token), body);

    // A display name of 300 characters; terminal escapes and bidi overrides in names.
    let register = |email: &str, name: &str| {
        let cli = invest_with_input(
            dir.path(),
            env,
            &[
                "auth",
                "create-user",
                email,
                "--name",
                name,
                "--password-stdin",
            ],
            "correct horse battery\n",
        );
        let body = serde_json::json!({
            "email": email,
            "password": "correct horse battery",
            "display_name": name,
        });
        let answer = http(
            port,
            "POST",
            "/api/auth/register",
            None,
            Some(&body.to_string()),
        );
        (cli, answer)
    };
    let (cli, answer) = register("bob@example.com", &"N".repeat(300));
    same_refusal(&cli, 1, &answer, 422);
    let (cli, answer) = register("eve@example.com", "Eve\u{202E}gnp.exe");
    same_refusal(&cli, 1, &answer, 422);
    assert!(api_message(&answer.1).contains("U+202E"), "{}", answer.1);

    // A quote of 60 symbols.
    let symbols: Vec<String> = (0..60).map(|i| format!("S{i}")).collect();
    let mut args = vec!["quote"];
    args.extend(symbols.iter().map(String::as_str));
    let cli = invest(dir.path(), env, &args);
    let answer = api(
        "GET",
        &format!("/api/quotes?symbols={}", symbols.join(",")),
        None,
    );
    same_refusal(&cli, 1, &answer, 422);

    // The per-user cap: 201 rules, then one more.
    let cli = invest(dir.path(), env, &["rules", "add", "AAPL crosses above 200"]);
    assert_eq!(cli.code, 0, "{}", cli.stderr);
    for i in 1..201 {
        let (status, body) = api(
            "POST",
            "/api/rules",
            Some(&format!(r#"{{"text":"AAPL crosses above {}"}}"#, 200 + i)),
        );
        assert_eq!(status, 201, "{body}");
    }
    let cli = invest(dir.path(), env, &["rules", "add", "MSFT crosses above 500"]);
    let answer = api(
        "POST",
        "/api/rules",
        Some(r#"{"text":"MSFT crosses above 500"}"#),
    );
    same_refusal(&cli, 1, &answer, 403);

    // A page of 10,000 is refused by both (at most 200; nothing is silently cut); 200 is
    // what both give.
    let cli = invest(dir.path(), env, &["rules", "list", "--limit", "10000"]);
    assert_eq!(cli.code, 2, "{}", cli.stderr);
    assert!(cli.stderr.contains("1..=200"), "{}", cli.stderr);
    let (status, body) = api("GET", "/api/rules?limit=10000", None);
    assert_eq!(status, 400, "{body}");
    assert!(body.contains("maximum(200"), "{body}");
    let cli = invest(
        dir.path(),
        env,
        &["rules", "list", "--limit", "200", "--json"],
    );
    assert_eq!(cli.code, 0, "{}", cli.stderr);
    let listed: serde_json::Value = serde_json::from_str(&cli.stdout).unwrap();
    let (status, body) = api("GET", "/api/rules?limit=200", None);
    assert_eq!(status, 200, "{body}");
    let served: serde_json::Value = serde_json::from_str(&body).unwrap();
    let count = |v: &serde_json::Value| {
        v.as_array()
            .or(v["rules"].as_array())
            .or(v["items"].as_array())
            .map(Vec::len)
    };
    assert_eq!(count(&listed), Some(200), "{}", cli.stdout);
    assert_eq!(count(&served), Some(200), "{body}");

    // A rule name with a terminal escape.
    let cli = invest(
        dir.path(),
        env,
        &["rules", "edit", "1", "--name", "\u{1b}[31mred"],
    );
    let answer = api("PATCH", "/api/rules/1", Some(r#"{"name":"\u001b[31mred"}"#));
    same_refusal(&cli, 1, &answer, 422);

    // Over the spec's maxLength: the library's 422 and text from both, not poem's 400.
    let key_name = "k".repeat(65);
    let cli = invest(dir.path(), env, &["auth", "create-api-key", &key_name]);
    let body = serde_json::json!({ "name": key_name }).to_string();
    let answer = api("POST", "/api/auth/api-keys", Some(&body));
    same_refusal(&cli, 1, &answer, 422);
    let text = format!("AAPL crosses above 1{}", "0".repeat(500));
    let cli = invest(dir.path(), env, &["rules", "edit", "1", "--rule", &text]);
    let body = serde_json::json!({ "text": text }).to_string();
    let answer = api("PATCH", "/api/rules/1", Some(&body));
    same_refusal(&cli, 1, &answer, 422);

    // Editing a rule into one that cannot be read.
    let cli = invest(
        dir.path(),
        env,
        &["rules", "edit", "1", "--rule", "AAPL crosses sideways 3"],
    );
    let answer = api(
        "PATCH",
        "/api/rules/1",
        Some(r#"{"text":"AAPL crosses sideways 3"}"#),
    );
    same_refusal(&cli, 1, &answer, 422);

    // Enabling, snoozing and removing a rule that is not there.
    let cli = invest(dir.path(), env, &["rules", "enable", "99999"]);
    let answer = api("POST", "/api/rules/99999/enable", None);
    same_not_found(&cli, &answer);
    let cli = invest(dir.path(), env, &["rules", "rm", "99999"]);
    let answer = api("DELETE", "/api/rules/99999", None);
    same_not_found(&cli, &answer);
    // A snooze the API's range refuses is refused by the terminal as bad usage.
    let cli = invest(
        dir.path(),
        env,
        &["rules", "snooze", "1", "--for", "2000000000000h"],
    );
    assert_eq!(cli.code, 2, "{}", cli.stderr);
    let (status, body) = api("POST", "/api/rules/1/snooze", Some(r#"{"minutes":525601}"#));
    assert!(matches!(status, 400 | 422), "{status} {body}");
    // A year is the longest for both.
    let cli = invest(dir.path(), env, &["rules", "snooze", "1", "--for", "365d"]);
    assert_eq!(cli.code, 0, "{}", cli.stderr);
    let (status, body) = api("POST", "/api/rules/1/snooze", Some(r#"{"minutes":525600}"#));
    assert_eq!(status, 200, "{body}");

    // Channels: a URL that is not http(s), and removing a channel.
    let cli = invest(
        dir.path(),
        env,
        &["notifications", "add-webhook", "ftp://example.com/x"],
    );
    let answer = api(
        "POST",
        "/api/channels",
        Some(r#"{"kind":"webhook","url":"ftp://example.com/x"}"#),
    );
    same_refusal(&cli, 1, &answer, 422);
    let cli = invest(
        dir.path(),
        env,
        &[
            "notifications",
            "add-webhook",
            "https://example.com/hook",
            "--name",
            "hook",
        ],
    );
    assert_eq!(cli.code, 0, "{}", cli.stderr);
    let answer = api(
        "POST",
        "/api/channels",
        Some(r#"{"kind":"webhook","url":"https://example.com/hook","name":"hook"}"#),
    );
    assert_eq!(answer.0, 409, "{}", answer.1);
    let cli = invest(
        dir.path(),
        env,
        &[
            "notifications",
            "add-webhook",
            "https://example.com/hook",
            "--name",
            "hook",
        ],
    );
    same_refusal(&cli, 1, &answer, 409);
    let cli = invest(dir.path(), env, &["notifications", "rm", "hook"]);
    assert_eq!(cli.code, 0, "{}", cli.stderr);
    let (status, body) = api("GET", "/api/channels", None);
    assert_eq!(status, 200, "{body}");
    assert!(!body.contains("\"hook\""), "{body}");

    // API keys: a blank name, and revoking one that is not there.
    let name = "   ";
    let cli = invest(dir.path(), env, &["auth", "create-api-key", name]);
    let answer = api("POST", "/api/auth/api-keys", Some(r#"{"name":"   "}"#));
    same_refusal(&cli, 1, &answer, 422);
    let cli = invest(dir.path(), env, &["auth", "create-api-key", "nightly"]);
    assert_eq!(cli.code, 0, "{}", cli.stderr);
    let cli = invest(dir.path(), env, &["auth", "revoke-api-key", "99999"]);
    let answer = api("DELETE", "/api/auth/api-keys/99999", None);
    same_not_found(&cli, &answer);

    // Holdings: a bad line imports nothing, with the same message.
    let csv =
        "symbol,quantity,cost_basis,account\nAAPL,10,150,\"Smith, John IRA\"\nMSFT,ten,300,\n";
    std::fs::write(dir.path().join("holdings.csv"), csv).unwrap();
    let cli = invest(dir.path(), env, &["portfolio", "import", "holdings.csv"]);
    let answer = api(
        "POST",
        "/api/portfolio/import",
        Some(&serde_json::json!({ "csv": csv }).to_string()),
    );
    assert_eq!(answer.0, 422, "{}", answer.1);
    assert_eq!(cli.code, 1, "{}", cli.stderr);
    assert!(cli.stderr.contains("line 3"), "{}", cli.stderr);
    assert!(api_message(&answer.1).contains("line 3"), "{}", answer.1);
    let good = "symbol,quantity,cost_basis,account\nAAPL,10,150,\"Smith, John IRA\"\n";
    std::fs::write(dir.path().join("holdings.csv"), good).unwrap();
    let cli = invest(dir.path(), env, &["portfolio", "import", "holdings.csv"]);
    assert_eq!(cli.code, 0, "{}", cli.stderr);
    let (status, body) = api("GET", "/api/portfolio", None);
    assert_eq!(status, 200, "{body}");
    assert!(body.contains("Smith, John IRA"), "{body}");
}

/// On a weekend the providers' last quote is days old: the monitor does not act on it, but
/// `GET /api/quotes` and `invest quote` both show it as the last price (the server's API once
/// answered "missing" there, through the monitor's 30-minute age limit).
#[tokio::test(flavor = "multi_thread")]
async fn an_old_quote_is_the_last_price_in_both_frontends() {
    use wiremock::matchers::path;
    use wiremock::{Mock, MockServer, ResponseTemplate};

    let yahoo = MockServer::start().await;
    let friday = chrono::Utc::now().timestamp() - 3 * 24 * 3600;
    let chart = serde_json::json!({"chart": {"result": [{
        "meta": {"regularMarketPrice": 187.25, "chartPreviousClose": 185.0, "regularMarketTime": friday},
        "timestamp": [friday],
        "indicators": {"quote": [{"open": [186.0], "high": [188.0], "low": [185.5], "close": [187.25], "volume": [1000]}]}
    }], "error": null}});
    Mock::given(path("/v8/finance/chart/AAPL"))
        .respond_with(ResponseTemplate::new(200).set_body_json(chart))
        .mount(&yahoo)
        .await;
    let uri = yahoo.uri();
    tokio::task::spawn_blocking(move || {
        let dir = tempfile::tempdir().unwrap();
        let env = [
            ("SECRET_KEY", "0123456789abcdef0123456789abcdef"),
            ("DATABASE_URL", "sqlite://quotes.db"),
            ("YAHOO_BASE_URL", uri.as_str()),
            ("LOG_LEVEL", "warn"),
        ];
        let made = invest_with_input(
            dir.path(),
            &env,
            &["auth", "create-user", "ann@example.com", "--password-stdin"],
            "correct horse battery\n",
        );
        assert_eq!(made.code, 0, "{}", made.stderr);
        let cli = invest(dir.path(), &env, &["quote", "AAPL", "--json"]);
        assert_eq!(cli.code, 0, "{}", cli.stderr);
        let cli: serde_json::Value = serde_json::from_str(&cli.stdout).unwrap();

        let (_server, port) = serve_market(dir.path(), &env, "providers");
        let token = login(port, "ann@example.com", "correct horse battery");
        let (status, body) = http(port, "GET", "/api/quotes?symbols=AAPL", Some(&token), None);
        assert_eq!(status, 200, "{body}");
        let api: serde_json::Value = serde_json::from_str(&body).unwrap();
        assert_eq!(cli["quotes"][0]["price"], "187.25", "{cli}");
        assert_eq!(api[0]["price"], cli["quotes"][0]["price"], "{body}");
        let at = |v: &serde_json::Value| {
            chrono::DateTime::parse_from_rfc3339(v.as_str().unwrap_or_default()).ok()
        };
        assert_eq!(at(&api[0]["at"]), at(&cli["quotes"][0]["at"]), "{body}");
        assert!(at(&api[0]["at"]).is_some(), "{body}");
    })
    .await
    .unwrap();
}

/// A database that cannot be written: both frontends fail the write, and both keep its cause —
/// the terminal prints it on its one error line, the server logs it at error level while its
/// answer says only "internal error".
#[test]
fn a_read_only_database_keeps_the_cause_in_both_frontends() {
    let dir = tempfile::tempdir().unwrap();
    let writable = [
        ("SECRET_KEY", "0123456789abcdef0123456789abcdef"),
        ("DATABASE_URL", "sqlite://ro.db?mode=rwc"),
    ];
    let made = invest_with_input(
        dir.path(),
        &writable,
        &["auth", "create-user", "ann@example.com", "--password-stdin"],
        "correct horse battery\n",
    );
    assert_eq!(made.code, 0, "{}", made.stderr);
    let env = [
        ("SECRET_KEY", "0123456789abcdef0123456789abcdef"),
        ("DATABASE_URL", "sqlite://ro.db?mode=ro"),
        ("LOG_LEVEL", "error"),
    ];
    let cause = "attempt to write a readonly database";

    let cli = invest(dir.path(), &env, &["auth", "create-api-key", "laptop"]);
    assert_eq!(cli.code, 1, "{}", cli.stderr);
    let last = cli.stderr.lines().last().unwrap_or_default();
    assert!(
        last.starts_with("error: ") && last.contains(cause),
        "{}",
        cli.stderr
    );

    let (server, port) = serve_market(dir.path(), &env, "simulated");
    let token = login(port, "ann@example.com", "correct horse battery");
    let (status, body) = http(
        port,
        "POST",
        "/api/auth/api-keys",
        Some(&token),
        Some(r#"{"name":"laptop"}"#),
    );
    assert_eq!(status, 500, "{body}");
    assert!(
        !body.contains("readonly"),
        "the answer holds no cause: {body}"
    );
    assert_eq!(api_message(&body), "internal error");
    drop(server);
    let log = std::fs::read_to_string(dir.path().join("serve.log")).unwrap();
    assert!(
        log.lines()
            .any(|l| l.contains("ERROR") && l.contains(cause)),
        "{log}"
    );
    // Nothing was written by either.
    let keys = invest(dir.path(), &env, &["auth", "list-api-keys", "--json"]);
    assert_eq!(keys.stdout.trim(), "[]", "{}", keys.stderr);
}
