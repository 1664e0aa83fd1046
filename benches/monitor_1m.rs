//! The monitor benchmark at ten times the size: 1,000,000 rules over 50,000 symbols (the code
//! of `monitor.rs`, which reads the size from this binary's name).
//!
//! ```text
//! cargo bench -p benches --bench monitor_1m
//! ```

#[path = "monitor.rs"]
mod monitor;

fn main() {
    monitor::main();
}
