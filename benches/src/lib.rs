//! Workspace member that holds the benchmarks (run with `cargo bench -p benches`).

use std::path::Path;

/// The database a benchmark runs on: `BENCH_DATABASE_URL` when set (a PostgreSQL database of
/// its own), otherwise a fresh SQLite file `file` in `dir`.
pub fn database_url(dir: &Path, file: &str) -> String {
    std::env::var("BENCH_DATABASE_URL")
        .unwrap_or_else(|_| format!("sqlite://{}", dir.join(file).display()))
}
