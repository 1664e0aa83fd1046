//! docs/operations.md is true: every `invest` command line in it parses, and its maintenance
//! procedures run as written on a real database (migrate, check, stats, vacuum, backup while
//! running, restore, reset, API key rotation, status commands).

use std::path::Path;

use super::{invest, invest_with_input};

const GUIDE: &str = include_str!("../../../docs/operations.md");

/// The `invest …` command lines of the guide's shell blocks (comments and shell syntax cut).
fn guide_commands() -> Vec<Vec<String>> {
    let mut commands = Vec::new();
    let mut in_block = false;
    for line in GUIDE.lines() {
        if line.starts_with("```") {
            in_block = line.trim() == "```sh";
            continue;
        }
        if !in_block {
            continue;
        }
        let line = line.split(" # ").next().unwrap_or("").trim();
        let Some(at) = line.find("invest ") else {
            continue;
        };
        let before = &line[..at];
        if !(before.is_empty() || before.ends_with("/usr/local/bin/") || before.ends_with("* * * "))
        {
            continue;
        }
        let words: Vec<String> = shell_words(&line[at + "invest ".len()..])
            .into_iter()
            .take_while(|w| !w.starts_with('#') && w != "&&" && w != "|")
            .collect();
        commands.push(words);
    }
    commands
}

/// Words as a shell splits them (double quotes group).
fn shell_words(line: &str) -> Vec<String> {
    let mut words = Vec::new();
    let mut word = String::new();
    let mut quoted = false;
    for c in line.chars() {
        match c {
            '"' => quoted = !quoted,
            c if c.is_whitespace() && !quoted => {
                if !word.is_empty() {
                    words.push(std::mem::take(&mut word));
                }
            }
            c => word.push(c),
        }
    }
    if !word.is_empty() {
        words.push(word);
    }
    words
}

#[test]
fn every_invest_command_of_the_operations_guide_parses() {
    let commands = guide_commands();
    assert!(commands.len() >= 20, "found only {commands:?}");
    let dir = tempfile::tempdir().unwrap();
    for words in commands {
        let mut args: Vec<&str> = words.iter().map(String::as_str).collect();
        args.push("--help");
        let run = invest(dir.path(), &[], &args);
        assert_eq!(run.code, 0, "invest {}: {}", words.join(" "), run.stderr);
    }
}

fn ok(dir: &Path, env: &[(&str, &str)], args: &[&str]) -> String {
    let run = invest(dir, env, args);
    assert_eq!(run.code, 0, "invest {}: {}", args.join(" "), run.stderr);
    run.stdout
}

#[test]
fn the_maintenance_procedures_run_as_written() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    // The guide's paths are relative to the working directory: data/signal_sentinel.db.
    let env = [
        ("SECRET_KEY", "operations-guide-secret-key-0123456789"),
        ("YAHOO_BASE_URL", "http://127.0.0.1:9"),
    ];
    ok(d, &env, &["db", "migrate"]);
    let check: serde_json::Value =
        serde_json::from_str(&ok(d, &env, &["db", "check", "--json"])).unwrap();
    assert_eq!(check["healthy"], true, "{check}");
    ok(d, &env, &["db", "check"]);
    let created = invest_with_input(
        d,
        &env,
        &["auth", "create-user", "ops@example.com", "--password-stdin"],
        "correct horse battery\n",
    );
    assert_eq!(created.code, 0, "{}", created.stderr);
    assert!(ok(d, &env, &["db", "stats"]).contains("users"));

    // API key rotation from the terminal.
    let key: serde_json::Value = serde_json::from_str(&ok(
        d,
        &env,
        &["--json", "auth", "create-api-key", "nightly report"],
    ))
    .unwrap();
    assert!(ok(d, &env, &["auth", "list-api-keys"]).contains("nightly report"));
    ok(d, &env, &["auth", "revoke-api-key", &key["id"].to_string()]);

    // Status commands of section 4.
    ok(d, &env, &["notifications", "status"]);
    ok(d, &env, &["portfolio", "link-status"]);
    ok(d, &env, &["alerts", "list", "--limit", "5"]);
    ok(d, &env, &["monitor", "run", "--verbose"]);

    // Backup, vacuum, restore (section 6), then check.
    let backed_up = ok(
        d,
        &env,
        &["db", "backup", "--to", "backups", "--keep-days", "7"],
    );
    assert!(backed_up.contains("integrity check ok"), "{backed_up}");
    ok(d, &env, &["db", "vacuum"]);
    let backup = std::fs::read_dir(d.join("backups"))
        .unwrap()
        .next()
        .unwrap()
        .unwrap()
        .path();
    let restored = ok(d, &env, &["db", "restore", backup.to_str().unwrap()]);
    assert!(restored.contains("integrity check ok"), "{restored}");
    ok(d, &env, &["db", "check"]);
    ok(d, &env, &["alerts", "list", "--limit", "5"]);

    // Reset (section 3): a copy, the file moved aside, an empty schema.
    ok(d, &env, &["db", "backup", "--to", "./backups"]);
    std::fs::rename(
        d.join("data/signal_sentinel.db"),
        d.join("data/signal_sentinel.db.old"),
    )
    .unwrap();
    let _ = std::fs::remove_file(d.join("data/signal_sentinel.db-wal"));
    let _ = std::fs::remove_file(d.join("data/signal_sentinel.db-shm"));
    ok(d, &env, &["db", "migrate"]);
    let stats: serde_json::Value =
        serde_json::from_str(&ok(d, &env, &["--json", "db", "stats"])).unwrap();
    assert_eq!(stats["tables"]["users"], 0, "{stats}");
}
