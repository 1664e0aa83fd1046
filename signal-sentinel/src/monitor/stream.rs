//! The monitor on a stream of trades: quotes made from trades, the symbols to subscribe, and
//! how the stream is doing as the monitor reports it.
//!
//! A trade carries a price and a time only; the day's figures a rule may read (the previous
//! close, the session's open, range and volume) come from the symbol's last quote of the same
//! exchange day. A trade of a symbol with no such quote yet (before the day's first polled
//! cycle) waits for it, so a quote made from a trade says nothing a polled quote would not.

use std::collections::{BTreeSet, HashMap};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use tokio::sync::watch;
use tokio_util::sync::CancellationToken;

use rust_decimal::prelude::ToPrimitive;

use crate::domain::{Quote, Symbol};
use crate::engine::indicators::exchange_date;
use crate::market::stream::{MarketStream, Trade, TradeBuffer};

use super::cache::Cache;
use super::sharding::{holds, shard_mask};
use super::{Monitor, StreamSetup};

/// A running stream: its task, the trades it buffers and the subscriptions it follows.
pub(super) struct Streaming {
    setup: StreamSetup,
    trades: Arc<TradeBuffer>,
    subscriptions: watch::Sender<BTreeSet<Symbol>>,
    stop: CancellationToken,
    task: tokio::task::JoinHandle<()>,
    /// The stream's reconnects when last looked at.
    reconnects: AtomicU64,
    /// When the last cycle on trades started.
    last_cycle: std::sync::Mutex<Option<tokio::time::Instant>>,
}

impl Streaming {
    /// Starts the stream with no subscription (the first polled cycle gives them).
    pub(super) fn start(setup: StreamSetup) -> Self {
        let (subscriptions, wanted) = watch::channel(BTreeSet::new());
        let trades = Arc::new(TradeBuffer::default());
        let stop = CancellationToken::new();
        let task = tokio::spawn({
            let stream = setup.stream.clone();
            let trades = trades.clone();
            let stop = stop.clone();
            async move { stream.run(wanted, trades, stop).await }
        });
        Self {
            setup,
            trades,
            subscriptions,
            stop,
            task,
            reconnects: AtomicU64::new(0),
            last_cycle: std::sync::Mutex::new(None),
        }
    }

    /// Closes the connection and waits for the task.
    pub(super) async fn stop(self) {
        self.stop.cancel();
        let _ = self.task.await;
    }
}

/// Completes when trades are waiting (never without a stream).
pub(super) async fn trades_ready(streaming: Option<&Streaming>) {
    match streaming {
        Some(streaming) => streaming.trades.ready().await,
        None => std::future::pending().await,
    }
}

impl Monitor {
    /// A cycle on the trades waiting, at least the stream's spacing after the last one.
    pub(super) async fn on_trades(&self, streaming: &Streaming) {
        let last = *streaming
            .last_cycle
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if let Some(last) = last {
            tokio::time::sleep_until(last + streaming.setup.spacing).await;
        }
        *streaming
            .last_cycle
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = Some(tokio::time::Instant::now());
        // Round after round, so each symbol's trades are evaluated in order.
        for round in streaming.trades.take() {
            let outcome = self.run_on_trades(round).await;
            self.hook(&outcome);
            self.stats.record_trades(&outcome);
        }
        self.stats.update(|s| {
            s.feed.trades_received = streaming.trades.received();
            s.feed.trades_coalesced = streaming.trades.coalesced();
        });
    }

    /// Follows rule changes (between polled cycles) and notes the stream's health; `true`
    /// when the stream is back after a drop, so what traded meanwhile should be polled.
    pub(super) async fn follow_stream(&self, streaming: &Streaming) -> bool {
        {
            let mut cache = self.cache.lock().await;
            if cache.sync.through.is_some() {
                let mine = cache.sync.shards.as_deref().map(shard_mask);
                let is_mine = |symbol: &Symbol| holds(mine.as_ref(), symbol);
                let shards = cache.sync.shards.clone();
                let mut problems = Vec::new();
                if let Err(e) = self
                    .load_rules(
                        &mut cache,
                        shards.as_deref(),
                        self.clock.now(),
                        &is_mine,
                        &mut problems,
                    )
                    .await
                {
                    tracing::warn!("cannot follow rule changes: {e}");
                }
                for problem in problems {
                    tracing::warn!("{problem}");
                }
            }
        }
        let status = streaming.setup.stream.status();
        let feed = self.feed();
        self.stats.update(|s| s.feed = feed);
        let before = streaming
            .reconnects
            .swap(status.reconnects, Ordering::Relaxed);
        status.connected && status.reconnects > before
    }

    /// Subscribes to the symbols of the rules evaluated on trades.
    pub(super) async fn subscribe(&self, streaming: &Streaming) {
        let wanted = subscriptions(&*self.cache.lock().await, &*streaming.setup.stream);
        streaming.subscriptions.send_if_modified(|current| {
            if *current == wanted {
                false
            } else {
                *current = wanted;
                true
            }
        });
    }
}

/// The quotes of a cycle on trades: each traded symbol's latest trade, newer than its last
/// quote and of the same exchange day, with that quote's day figures (the range widened and
/// the volume grown by the trade). Other trades make no quote.
pub(super) fn trade_quotes(cache: &Cache, trades: Vec<Trade>) -> HashMap<Symbol, Quote> {
    trades
        .into_iter()
        .filter_map(|trade| {
            let last = cache.symbols.get(&trade.symbol)?.last_quote.as_ref()?;
            from_trade(&trade, last).map(|quote| (trade.symbol, quote))
        })
        .collect()
}

/// The trades' quotes, and for the other symbols `wanted` (holdings a portfolio rule values)
/// their last quote.
pub(super) fn with_last_quotes(
    cache: &Cache,
    traded: &HashMap<Symbol, Quote>,
    wanted: &[Symbol],
) -> HashMap<Symbol, Quote> {
    let mut quotes = traded.clone();
    for symbol in wanted {
        if !quotes.contains_key(symbol)
            && let Some(last) = cache
                .symbols
                .get(symbol)
                .and_then(|e| e.last_quote.as_ref())
        {
            quotes.insert(symbol.clone(), last.clone());
        }
    }
    quotes
}

/// A quote of `trade` with the day figures of `last`; `None` when the trade is not newer than
/// `last` or of another exchange day.
fn from_trade(trade: &Trade, last: &Quote) -> Option<Quote> {
    if trade.at <= last.at || exchange_date(trade.at) != exchange_date(last.at) {
        return None;
    }
    let price = trade.price;
    let mut quote = Quote {
        price,
        at: trade.at,
        source: format!("{} (trade)", last.source.trim_end_matches(" (trade)")),
        ..last.clone()
    };
    quote.day_high = last.day_high.map(|high| high.max(price));
    quote.day_low = last.day_low.map(|low| low.min(price));
    // Whole shares add to the volume (fractional units of crypto leave it as it was).
    quote.volume = match (last.volume, trade.size) {
        (Some(volume), Some(size)) if size.fract().is_zero() => size
            .to_u64()
            .and_then(|size| volume.checked_add(size))
            .or(Some(volume)),
        (volume, _) => volume,
    };
    Some(quote)
}

/// The symbols worth a subscription: those with rules evaluated on trades that the stream
/// carries, in symbol order.
pub(super) fn subscriptions(cache: &Cache, stream: &dyn MarketStream) -> BTreeSet<Symbol> {
    cache
        .index
        .iter()
        .filter(|(symbol, rules)| rules.iter().any(|r| r.on_trades) && stream.supports(symbol))
        .map(|(symbol, _)| symbol.clone())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(hour: u32, minute: u32) -> crate::time::Timestamp {
        use chrono::TimeZone;
        chrono::Utc
            .with_ymd_and_hms(2026, 11, 30, hour, minute, 0)
            .unwrap()
    }

    fn quote() -> Quote {
        Quote::new(
            Symbol::parse("AAPL").unwrap(),
            "100".parse().unwrap(),
            at(15, 0),
            "finnhub",
        )
        .unwrap()
        .with_previous_close("98".parse().unwrap())
        .unwrap()
        .with_day_range("97".parse().unwrap(), "101".parse().unwrap())
        .unwrap()
        .with_volume(1_000)
    }

    fn trade(price: &str, when: crate::time::Timestamp, size: Option<&str>) -> Trade {
        Trade {
            symbol: Symbol::parse("AAPL").unwrap(),
            price: price.parse().unwrap(),
            at: when,
            size: size.map(|s| s.parse().unwrap()),
        }
    }

    #[test]
    fn a_trade_carries_the_days_figures_of_the_last_quote() {
        let last = quote();
        let made = from_trade(&trade("102.5", at(15, 1), Some("50")), &last).unwrap();
        assert_eq!(made.price.to_string(), "102.5");
        assert_eq!(made.previous_close, last.previous_close);
        assert_eq!(made.day_high.unwrap().to_string(), "102.5");
        assert_eq!(made.day_low.unwrap().to_string(), "97");
        assert_eq!(made.volume, Some(1_050));
        assert_eq!(made.source, "finnhub (trade)");
        // Fractional sizes (crypto) leave the volume as it was; a huge one never wraps.
        let crypto = from_trade(&trade("99", at(15, 1), Some("0.25")), &last).unwrap();
        assert_eq!(crypto.volume, Some(1_000));
        let huge = Quote {
            volume: Some(u64::MAX),
            ..last.clone()
        };
        let made = from_trade(&trade("99", at(15, 1), Some("10")), &huge).unwrap();
        assert_eq!(made.volume, Some(u64::MAX));
    }

    #[test]
    fn old_trades_and_trades_of_another_day_make_no_quote() {
        let last = quote();
        assert!(from_trade(&trade("101", at(14, 59), None), &last).is_none());
        assert!(from_trade(&trade("101", at(15, 0), None), &last).is_none());
        let tomorrow = at(15, 0) + chrono::Duration::days(1);
        assert!(from_trade(&trade("101", tomorrow, None), &last).is_none());
    }
}
