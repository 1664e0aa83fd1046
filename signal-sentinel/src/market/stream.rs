//! Streamed trades: the [`MarketStream`] trait beside [`MarketData`](super::MarketData), and the
//! [`TradeBuffer`] a stream fills and the monitor empties.
//!
//! A stream never buffers without bound: the buffer holds at most [`TRADES_PER_SYMBOL`] trades
//! of each symbol, in time order, so a consumer that keeps up sees every trade (every crossing
//! of a level), and one that falls behind (a slow database) reads each symbol's latest price,
//! the trades it skipped counted, never kept.

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

/// Trades kept per symbol while waiting for the consumer; past it a symbol's newest waiting
/// trade is replaced by the next (and counted as coalesced).
pub const TRADES_PER_SYMBOL: usize = 32;

/// The trades of each symbol waiting for their consumer, in time order, at most
/// [`TRADES_PER_SYMBOL`] per symbol: the buffer never holds more than that many trades per
/// subscribed symbol.
#[derive(Debug, Default)]
pub struct TradeBuffer {
    waiting: Mutex<HashMap<Symbol, Vec<Trade>>>,
    ready: Notify,
    received: AtomicU64,
    coalesced: AtomicU64,
}

impl TradeBuffer {
    /// Adds a trade after the symbol's waiting ones. A trade older than the symbol's newest
    /// waiting trade is dropped; past [`TRADES_PER_SYMBOL`] it replaces the newest. Both are
    /// counted as coalesced.
    pub fn push(&self, trade: Trade) {
        self.received.fetch_add(1, Ordering::Relaxed);
        let mut waiting = self
            .waiting
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        match waiting.get_mut(&trade.symbol) {
            Some(trades) => {
                let full = trades.len() >= TRADES_PER_SYMBOL;
                match trades.last_mut() {
                    Some(last) if trade.at < last.at => {
                        self.coalesced.fetch_add(1, Ordering::Relaxed);
                    }
                    Some(last) if full => {
                        self.coalesced.fetch_add(1, Ordering::Relaxed);
                        *last = trade;
                    }
                    _ => trades.push(trade),
                }
            }
            None => {
                waiting.insert(trade.symbol.clone(), vec![trade]);
            }
        }
        drop(waiting);
        self.ready.notify_one();
    }

    /// Takes every waiting trade: in rounds, the first holding each symbol's oldest waiting
    /// trade, the next each symbol's second, and so on; each round in symbol order. A
    /// consumer evaluating round after round sees each symbol's trades in order.
    pub fn take(&self) -> Vec<Vec<Trade>> {
        let waiting: HashMap<Symbol, Vec<Trade>> = std::mem::take(
            &mut *self
                .waiting
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner),
        );
        let mut symbols: Vec<Vec<Trade>> = waiting.into_values().collect();
        symbols.sort_by(|a, b| a[0].symbol.cmp(&b[0].symbol));
        let depth = symbols.iter().map(Vec::len).max().unwrap_or(0);
        let mut rounds: Vec<Vec<Trade>> = vec![Vec::new(); depth];
        for trades in symbols {
            for (round, trade) in rounds.iter_mut().zip(trades) {
                round.push(trade);
            }
        }
        rounds
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
        self.waiting
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .is_empty()
    }

    /// Trades received since the start.
    pub fn received(&self) -> u64 {
        self.received.load(Ordering::Relaxed)
    }

    /// Trades dropped or replaced before they were taken (older than one waiting, or past
    /// [`TRADES_PER_SYMBOL`]).
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
    fn the_buffer_keeps_each_symbols_trades_in_order_within_its_bound() {
        let buffer = TradeBuffer::default();
        for i in 0..1_000 {
            buffer.push(trade("AAPL", &format!("{}", 100 + i), i));
        }
        buffer.push(trade("MSFT", "400", 5));
        buffer.push(trade("MSFT", "401", 6));
        // An older trade arriving late is dropped.
        buffer.push(trade("MSFT", "399", 1));
        assert_eq!(buffer.received(), 1_003);
        assert_eq!(buffer.coalesced(), 1_000 - TRADES_PER_SYMBOL as u64 + 1);
        let rounds = buffer.take();
        assert_eq!(rounds.len(), TRADES_PER_SYMBOL);
        let prices = |round: &Vec<Trade>| -> Vec<String> {
            round.iter().map(|t| t.price.to_string()).collect()
        };
        assert_eq!(prices(&rounds[0]), ["100", "400"]);
        assert_eq!(prices(&rounds[1]), ["101", "401"]);
        assert_eq!(prices(&rounds[30]), ["130"]);
        // The last kept is the newest.
        assert_eq!(prices(&rounds[31]), ["1099"]);
        assert!(buffer.is_empty());
        assert!(buffer.take().is_empty());
    }
}
