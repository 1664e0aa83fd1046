//! Workspace member that holds the benchmarks (run with `cargo bench -p benches`).
