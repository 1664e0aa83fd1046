//! Streamed trades: the [`MarketStream`] trait beside [`MarketData`](super::MarketData), and the
//! [`TradeBuffer`] a stream fills and the monitor empties.
//!
//! A stream never buffers without bound: the buffer holds the latest trade of each symbol, so
//! a consumer that falls behind (a slow database) reads the latest price of every symbol that
//! traded, and the trades it skipped are counted, never kept.

use std::collections::{BTreeSet, HashMap};
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};

use async_trait::async_trait;
use rust_decimal::Decimal;
use tokio::sync::{Notify, watch};
use tokio_util::sync::CancellationToken;

pub use crate::domain::StreamStatus;
use crate::domain::Symbol;
use crate::time::Timestamp;

/// A trade as a stream reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Trade {
    /// The symbol.
    pub symbol: Symbol,
    /// The price.
    pub price: Decimal,
    /// When it traded.
    pub at: Timestamp,
    /// Shares (or units) traded, when reported.
    pub size: Option<Decimal>,
}

/// The latest trade of each symbol, waiting for its consumer. A trade replaces the one of its
/// symbol not taken yet (and is counted as coalesced), so the buffer never holds more than one
/// trade per subscribed symbol.
#[derive(Debug, Default)]
pub struct TradeBuffer {
    latest: Mutex<HashMap<Symbol, Trade>>,
    ready: Notify,
    received: AtomicU64,
    coalesced: AtomicU64,
}

impl TradeBuffer {
    /// Adds a trade; an older trade of the same symbol waiting in the buffer is replaced
    /// (and a later one is kept).
    pub fn push(&self, trade: Trade) {
        self.received.fetch_add(1, Ordering::Relaxed);
        let mut latest = self
            .latest
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        match latest.get_mut(&trade.symbol) {
            Some(waiting) => {
                self.coalesced.fetch_add(1, Ordering::Relaxed);
                if trade.at >= waiting.at {
                    *waiting = trade;
                }
            }
            None => {
                latest.insert(trade.symbol.clone(), trade);
            }
        }
        drop(latest);
        self.ready.notify_one();
    }

    /// Takes every waiting trade, in symbol order.
    pub fn take(&self) -> Vec<Trade> {
        let mut taken: Vec<Trade> = std::mem::take(
            &mut *self
                .latest
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner),
        )
        .into_values()
        .collect();
        taken.sort_by(|a, b| a.symbol.cmp(&b.symbol));
        taken
    }

    /// Waits until a trade is waiting (at once when one is).
    pub async fn ready(&self) {
        if !self.is_empty() {
            return;
        }
        self.ready.notified().await;
    }

    /// Whether no trade is waiting.
    pub fn is_empty(&self) -> bool {
        self.latest
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .is_empty()
    }

    /// Trades received since the start.
    pub fn received(&self) -> u64 {
        self.received.load(Ordering::Relaxed)
    }

    /// Trades replaced by a later one of their symbol before they were taken.
    pub fn coalesced(&self) -> u64 {
        self.coalesced.load(Ordering::Relaxed)
    }
}

/// A source of streamed trades.
#[async_trait]
pub trait MarketStream: Send + Sync + std::fmt::Debug {
    /// Short name (`finnhub`, `alpaca`).
    fn name(&self) -> &str;

    /// Whether the stream carries this symbol.
    fn supports(&self, symbol: &Symbol) -> bool;

    /// Most symbols one connection may subscribe to (the provider's limit); symbols past it
    /// are left to polling.
    fn max_symbols(&self) -> usize;

    /// How the stream is doing.
    fn status(&self) -> StreamStatus;

    /// Streams the trades of the symbols in `subscriptions` into `trades` until `shutdown`:
    /// connects, subscribes, follows every change of `subscriptions`, and reconnects with
    /// backoff and jitter when the connection fails, closes or goes silent.
    async fn run(
        &self,
        subscriptions: watch::Receiver<BTreeSet<Symbol>>,
        trades: std::sync::Arc<TradeBuffer>,
        shutdown: CancellationToken,
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    fn trade(symbol: &str, price: &str, second: i64) -> Trade {
        Trade {
            symbol: Symbol::parse(symbol).unwrap(),
            price: price.parse().unwrap(),
            at: chrono::DateTime::from_timestamp(1_800_000_000 + second, 0).unwrap(),
            size: None,
        }
    }

    #[test]
    fn the_buffer_keeps_the_latest_trade_of_each_symbol() {
        let buffer = TradeBuffer::default();
        for i in 0..1_000 {
            buffer.push(trade("AAPL", &format!("{}", 100 + i), i));
        }
        buffer.push(trade("MSFT", "400", 5));
        // An older trade arriving late does not replace a newer one.
        buffer.push(trade("MSFT", "399", 1));
        assert_eq!((buffer.received(), buffer.coalesced()), (1_002, 1_000));
        let taken = buffer.take();
        let prices: Vec<String> = taken.iter().map(|t| t.price.to_string()).collect();
        assert_eq!(prices, ["1099", "400"]);
        assert!(buffer.is_empty());
    }
}
