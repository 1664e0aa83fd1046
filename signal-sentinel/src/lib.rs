//! # Signal Sentinel — your AI-powered market watchdog
//!
//! This crate holds everything Signal Sentinel does; the HTTP server
//! (`signal-sentinel-http`) and the `invest` command line (`signal-sentinel-cli`) only parse
//! input, call into it and present the result. Embedding the library gives a program the same
//! behaviour as the server.
//!
//! ## Why it is built this way
//! - **Validated values, parsed once.** Identifiers are newtypes ([`domain::UserId`],
//!   [`domain::RuleId`] …), a ticker is a [`domain::Symbol`] in canonical form, prices are
//!   exact [`rust_decimal::Decimal`]s. Code past the edge never re-checks them.
//! - **Outside services behind traits.** Storage is a set of small async traits composed by
//!   [`store::Store`]; market data, notifiers and summarizers follow the same pattern, so every
//!   piece can be replaced, and tested against a local mock of the real service.
//! - **Secrets never print.** Keys and tokens are [`Secret`]s whose `Debug` and `Display` say
//!   `[redacted]`.
//! - **One schema, two databases.** SQLite for one person on a small server, PostgreSQL for a
//!   team running several processes; the URL's scheme chooses.
//!
//! ## Architecture
//! ```text
//!   frontends:   signal-sentinel-http (poem)      signal-sentinel-cli (`invest`)
//!                         │                               │
//!                         └───────────────┬───────────────┘
//!                                         ▼
//!   use cases:   service::Services — accounts, keys, rules, alerts, channels, portfolio;
//!                ownership checked once, typed errors
//!                                         │
//!   behaviour:   engine (pure: conditions, lifecycle, backtests) ◄── monitor (cycles)
//!                notify (dispatcher over the outbox)   summary (AI / template)
//!                                         │
//!   edges:       store::Store (SQLite, PostgreSQL)   market::MarketData (Alpaca, Finnhub,
//!                notify::Notifier (Telegram, webhooks)   Yahoo, replay, simulated)
//!                summary::Summarizer (OpenAI-compatible)   broker::BrokerLink (Plaid)
//! ```
//! Every edge is a trait with a real client and a local test double; the engine never
//! touches one (it is pure, and the monitor feeds it).
//!
//! ## The path of data
//! ```text
//! quote (market data) ──► rule (engine decides) ──► alert (stored once per episode)
//!                                                      └──► delivery (outbox → notifier)
//! ```
//!
//! ## The lifecycle of a rule
//! Each cycle, the monitor steps every enabled rule with its symbol's quote
//! ([`engine::step`]); the state it keeps between cycles is stored in the same transaction as
//! the alerts a step produced:
//! ```text
//!                 condition holds              held long enough
//!   armed ──────────────────────► pending ─────────────────────► firing ──► alert "fired"
//!   (or resolved)   (no `pending` option: straight to firing)      │        (episode n + 1)
//!     ▲                                                            │
//!     └──── condition stops holding (past any hysteresis band) ────┘
//!           → state "resolved", and an alert "resolved" with `notify_on_resolve`
//!
//!   snoozed:  the condition holds during a snooze or a cooldown — nothing is sent
//!   no_data:  the quote is missing or stale — never mistaken for a price
//! ```
//! An episode counter makes `(rule, episode, kind)` unique, so a restart or a second worker
//! can never store a firing twice. The options (cooldown, hysteresis, pending, frequency,
//! expiry) are [`engine::RuleOptions`].
//!
//! ## Example
//! Open a database, create a user and a rule, record an alert and read it back:
//! ```
//! use rust_decimal::dec;
//! use signal_sentinel::config::DatabaseUrl;
//! use signal_sentinel::domain::*;
//! use signal_sentinel::store::{AlertStore, RuleStore, SeaStore, UserStore};
//! use signal_sentinel::Secret;
//!
//! # tokio::runtime::Runtime::new().unwrap().block_on(async {
//! let store = SeaStore::open(&DatabaseUrl::parse("sqlite::memory:")?).await?;
//! let user = store
//!     .create_user(NewUser {
//!         email: Email::parse("ann@example.com")?,
//!         password_hash: Secret::new("$argon2id$…"),
//!         display_name: None,
//!     })
//!     .await?;
//! let rule = store
//!     .create_rule(NewRule {
//!         owner: user.id,
//!         symbol: Symbol::parse("aapl")?,
//!         name: Some("AAPL above 200".into()),
//!         condition: JsonDocument::new(1, serde_json::json!({"type": "price_above", "level": "200"}))?,
//!         options: JsonDocument::empty(),
//!         enabled: true,
//!         expires_at: None,
//!     })
//!     .await?;
//! store
//!     .insert_alerts(vec![NewAlert {
//!         rule_id: rule.id,
//!         owner: user.id,
//!         symbol: rule.symbol.clone(),
//!         episode: 1,
//!         kind: AlertKind::Fired,
//!         price: dec!(200.10),
//!         message: "AAPL is above 200 at 200.10".into(),
//!         fired_at: signal_sentinel::time::now(),
//!         reminder: 0,
//!     }])
//!     .await?;
//! let newest = store.list_alerts(&AlertQuery::newest(user.id, 10)).await?;
//! assert_eq!(newest[0].price, dec!(200.10));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! # }).unwrap();
//! ```
#![deny(missing_docs)]

pub mod auth;
pub mod bot;
pub mod broker;
pub mod clock;
pub mod config;
pub(crate) mod csv_text;
pub mod demo;
pub mod domain;
pub mod engine;
#[cfg(feature = "fuzzing")]
#[doc(hidden)]
pub mod fuzzing;
pub mod maintenance;
pub mod market;
pub mod monitor;
pub mod notify;
pub(crate) mod pace;
pub mod portfolio;
pub(crate) mod retry;
pub mod rules;
mod secret;
pub mod service;
pub mod store;
pub mod summary;
pub mod time;
pub mod users;

pub use secret::Secret;

/// The crate's version, as reported by `invest --version` and the health endpoint.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");
/// The product's name.
pub const NAME: &str = "Signal Sentinel";
/// The product's tagline.
pub const TAGLINE: &str = "Your AI-powered market watchdog.";

/// `docs/embedding.md`, the tutorial for embedders: compiled here so that each of its Rust
/// blocks runs as a doctest and cannot drift from the library.
#[cfg(doctest)]
#[doc = include_str!("../../docs/embedding.md")]
pub struct EmbeddingGuide;

/// The crate's `README.md` (its page on the registry), whose example runs as a doctest too.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
pub struct ReadMe;

/// An error and its sources as one line, outermost first: `cannot open the database: unable
/// to open database file: permission denied`. A source whose text its parent already ends
/// with (as `#[error(transparent)]` and `"…: {0}"` wrappers do) is not repeated.
pub fn error_chain(error: &(dyn std::error::Error + 'static)) -> String {
    let mut line = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        let text = cause.to_string();
        if !text.is_empty() && !line.ends_with(&text) {
            line.push_str(": ");
            line.push_str(&text);
        }
        source = cause.source();
    }
    line
}

/// A part of the application that cannot be built from its settings.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum BuildError {
    /// An HTTP client cannot be made (its TLS setup failed).
    #[error("cannot build an HTTP client")]
    HttpClient(#[source] reqwest::Error),
    /// The settings ask for a part this build leaves out.
    #[error(
        "{setting} names {part}, but this build has none (the `{feature}` feature of signal-sentinel)"
    )]
    NotBuilt {
        /// The variable that asks for it.
        setting: &'static str,
        /// What it asks for.
        part: &'static str,
        /// The Cargo feature that builds it.
        feature: &'static str,
    },
    /// A key or another value of the settings cannot be used.
    #[error("{setting}: {message}")]
    Setting {
        /// The variable at fault.
        setting: &'static str,
        /// Why.
        message: String,
    },
}
