//! Integration tests of the library, in one binary.
//!
//! Storage tests run on in-memory SQLite, an SQLite file, and PostgreSQL when
//! `SIGNAL_SENTINEL_TEST_POSTGRES_URL` names a server (each test in a database of its own,
//! created and dropped around it). Without that variable the PostgreSQL variants say they were
//! skipped and pass.

#[macro_use]
mod helpers;

mod actions;
mod bot;
mod broker;
mod combined;
mod demo;
mod engine;
mod events;
mod market;
mod monitor;
mod notify;
mod providers;
mod robustness;
mod settings;
mod store;
mod streaming;
mod summary;
mod timing;
mod watch;
mod words;
mod workers;
