//! The deployment files name only what exists: Docker does not run here, so the compose file is
//! parsed and every command, port and volume it names is checked against the CLI and the
//! Dockerfile; the systemd units' commands likewise; `.env.example` lists every variable.

use std::path::{Path, PathBuf};
use std::process::Command;

use serde_yaml_ng::Value;

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn read(path: &str) -> String {
    std::fs::read_to_string(root().join(path)).unwrap_or_else(|e| panic!("{path}: {e}"))
}

/// `invest ARGS --help` parses: the subcommand and every flag exist.
fn assert_invest_accepts(args: &[String]) {
    let dir = tempfile::tempdir().unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_invest"))
        .current_dir(dir.path())
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .args(args)
        .arg("--help")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "invest {} is not a command: {}",
        args.join(" "),
        String::from_utf8_lossy(&out.stderr)
    );
}

fn strings(v: &Value) -> Vec<String> {
    v.as_sequence()
        .unwrap_or_else(|| panic!("expected a list: {v:?}"))
        .iter()
        .map(|s| s.as_str().unwrap().to_owned())
        .collect()
}

#[test]
fn compose_services_name_real_commands_ports_and_volumes() {
    let compose: Value = serde_yaml_ng::from_str(&read("docker-compose.yml")).unwrap();
    let dockerfile = read("Dockerfile");
    let services = &compose["services"];
    for name in ["web", "worker"] {
        let service = &services[name];
        assert!(service.is_mapping(), "service {name}");
        let command = strings(&service["command"]);
        assert_invest_accepts(&command);
        assert_eq!(service["env_file"].as_str(), Some(".env"), "{name}");
        assert_eq!(
            service["restart"].as_str(),
            Some("unless-stopped"),
            "{name}"
        );
        assert_eq!(
            strings(&service["volumes"]),
            ["sentinel-data:/data"],
            "{name} shares the data volume"
        );
        let check = strings(&service["healthcheck"]["test"]);
        assert_eq!(check[0], "CMD", "{name}");
        if check[1] == "invest" {
            assert_invest_accepts(&check[2..]);
        } else {
            assert_eq!(check[1], "curl", "{name}");
            assert!(check.last().unwrap().ends_with("/api/health/ready"));
        }
    }
    assert_eq!(
        strings(&services["web"]["command"])[..2],
        ["serve", "--no-monitor"]
    );
    assert_eq!(
        strings(&services["worker"]["command"])[..2],
        ["monitor", "start"]
    );
    // The published port is the one `serve` listens on and the image exposes.
    let web_command = strings(&services["web"]["command"]);
    let port = &web_command[web_command.iter().position(|a| a == "--port").unwrap() + 1];
    assert_eq!(
        strings(&services["web"]["ports"]),
        [format!("{port}:{port}")]
    );
    assert!(dockerfile.contains(&format!("EXPOSE {port}")));
    assert!(
        compose["volumes"]["sentinel-data"].is_null()
            || compose["volumes"]["sentinel-data"].is_mapping()
    );

    // The image: locked release build, non-root, health check, /data as the volume.
    for needle in [
        "cargo build --release --locked",
        "USER sentinel",
        "HEALTHCHECK",
        "/api/health",
        "VOLUME [\"/data\"]",
        "DATABASE_URL=\"sqlite:///data/",
        "ENTRYPOINT [\"invest\"]",
    ] {
        assert!(dockerfile.contains(needle), "Dockerfile lacks {needle}");
    }
}

#[test]
fn systemd_units_run_real_commands_with_hardening() {
    for unit in [
        "signal-sentinel-web.service",
        "signal-sentinel-worker.service",
        "signal-sentinel-backup.service",
    ] {
        let text = read(&format!("deploy/systemd/{unit}"));
        for line in text.lines().filter(|l| l.starts_with("ExecStart")) {
            let command = line.split_once('=').unwrap().1;
            let mut words = command.split_whitespace();
            assert_eq!(
                words.next(),
                Some("/usr/local/bin/invest"),
                "{unit}: {line}"
            );
            assert_invest_accepts(&words.map(str::to_owned).collect::<Vec<_>>());
        }
        for setting in [
            "User=sentinel",
            "NoNewPrivileges=yes",
            "ProtectSystem=strict",
            "ReadWritePaths=/var/lib/signal-sentinel",
            "EnvironmentFile=/etc/signal-sentinel/env",
        ] {
            assert!(text.contains(setting), "{unit} lacks {setting}");
        }
        if unit != "signal-sentinel-backup.service" {
            assert!(text.contains("Restart=on-failure"), "{unit}");
        }
    }
    let timer = read("deploy/systemd/signal-sentinel-backup.timer");
    assert!(timer.contains("OnCalendar=") && timer.contains("Persistent=true"));
}

#[test]
fn env_example_lists_every_variable_and_loads() {
    let example = read(".env.example");
    for name in signal_sentinel::config::VARIABLES {
        assert!(
            example
                .lines()
                .any(|l| l.starts_with(&format!("{name}=")) || l.starts_with(&format!("# {name}="))),
            ".env.example lacks {name}"
        );
    }
    // As shipped (with a local path for the database) it is a valid configuration.
    let dir = tempfile::tempdir().unwrap();
    let text = example
        .replace(
            "sqlite:///data/",
            &format!("sqlite://{}/", dir.path().display()),
        )
        .replace(
            "SIGNAL_SENTINEL_DATA_DIR=/data",
            &format!("SIGNAL_SENTINEL_DATA_DIR={}", dir.path().display()),
        );
    std::fs::write(dir.path().join(".env"), text).unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_invest"))
        .current_dir(dir.path())
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .args(["db", "migrate", "--json"])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}
