//! Workspace member that holds the benchmarks (run with `cargo bench -p benches`).

use std::path::Path;

use signal_sentinel::Secret;
use signal_sentinel::domain::{Email, NewRule, NewUser, User};
use signal_sentinel::engine::{RuleOptions, parse_rule};
use signal_sentinel::store::{RuleStore, SeaStore, UserStore};

/// The database a benchmark runs on: `BENCH_DATABASE_URL` when set (a PostgreSQL database of
/// its own), otherwise a fresh SQLite file `file` in `dir`.
pub fn database_url(dir: &Path, file: &str) -> String {
    std::env::var("BENCH_DATABASE_URL")
        .unwrap_or_else(|_| format!("sqlite://{}", dir.join(file).display()))
}

/// Seeds 100 users and `rules_per_symbol` rules on each of `symbols` simulated symbols `S0`…:
/// 6 price levels, 6 crosses of a level, 6 day changes, 1 RSI(14), 1 move within 30 minutes
/// (for 20 per symbol), owned in turn by the users.
///
/// # Panics
/// When the store refuses a write (a benchmark has nothing better to do).
pub async fn seed_rules(store: &SeaStore, symbols: usize, rules_per_symbol: usize) {
    let mut users = Vec::new();
    for u in 0..100 {
        users.push(bench_user(store, &format!("user{u}@example.com")).await.id);
    }
    let mut batch = Vec::with_capacity(10_000);
    for s in 0..symbols {
        for r in 0..rules_per_symbol {
            let level = 10 + (s * 7 + r * 13) % 490;
            let text = match r {
                0..=5 => format!("S{s} price > {level}"),
                6..=11 => format!("S{s} crosses above {level}"),
                12..=17 => format!("S{s} day change >= {}%", 1 + r % 3),
                18 => format!("S{s} rsi(14) > 70"),
                _ => format!("S{s} moves 1% within 30m"),
            };
            let rule = parse_rule(&text).unwrap();
            batch.push(NewRule {
                owner: users[(s * rules_per_symbol + r) % users.len()],
                symbol: rule.symbol,
                name: None,
                condition: rule.condition.to_document(),
                options: RuleOptions::default().to_document(),
                enabled: true,
                expires_at: None,
            });
            if batch.len() == 10_000 {
                store
                    .create_rules(std::mem::take(&mut batch))
                    .await
                    .unwrap();
            }
        }
    }
    store.create_rules(batch).await.unwrap();
}

/// A user with this address (and a password hash no login will match).
///
/// # Panics
/// When the store refuses it.
pub async fn bench_user(store: &SeaStore, email: &str) -> User {
    store
        .create_user(NewUser {
            email: Email::parse(email).unwrap(),
            password_hash: Secret::new("x"),
            display_name: None,
        })
        .await
        .unwrap()
}

/// The multi-threaded Tokio runtime the benchmarks run on.
///
/// # Panics
/// When the runtime cannot start.
pub fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap()
}
