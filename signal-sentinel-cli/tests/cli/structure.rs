//! The structure check of `docs/architecture.md`: "a handler or a command → the database
//! directly: never". The frontends call `Services` (and `Maintenance` for `db …`); this test
//! fails when a source file of either frontend names the store.

use std::path::{Path, PathBuf};

/// What only the library may name.
const FORBIDDEN: &[&str] = &[
    "signal_sentinel::store",
    "SeaStore",
    "StoreError",
    "dyn Store",
    "UserStore",
    "RuleStore",
    "AlertStore",
    "ChannelStore",
    "OutboxStore",
    "MonitorStore",
    "WorkerStore",
    ".store()",
];

fn sources(dir: &Path, into: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap().map(Result::unwrap) {
        let path = entry.path();
        if path.is_dir() {
            sources(&path, into);
        } else if path.extension().is_some_and(|e| e == "rs") {
            into.push(path);
        }
    }
}

#[test]
fn no_frontend_names_the_store() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let mut files = Vec::new();
    for frontend in ["signal-sentinel-cli/src", "signal-sentinel-http/src"] {
        sources(&root.join(frontend), &mut files);
    }
    assert!(files.len() > 20, "found only {} source files", files.len());
    let mut found = Vec::new();
    for file in &files {
        let text = std::fs::read_to_string(file).unwrap();
        for (n, line) in text.lines().enumerate() {
            let code = line.split("//").next().unwrap_or_default();
            for word in FORBIDDEN {
                if code.contains(word) {
                    found.push(format!("{}:{}: {}", file.display(), n + 1, line.trim()));
                }
            }
        }
    }
    assert!(
        found.is_empty(),
        "a frontend names the store; call Services (or Maintenance) instead:\n{}",
        found.join("\n")
    );
}
