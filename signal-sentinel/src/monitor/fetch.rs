//! The cycle's quotes: the symbols in session and the holdings rules read, in batches.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::Arc;

use tokio::sync::Semaphore;

use crate::domain::{Quote, RuleId, Symbol, UserId};

use super::Monitor;
use super::cache::Cache;

impl Monitor {
    /// The owners whose rules read holdings, their holdings, and the symbols to quote: those
    /// with rules in session, and the held symbols no rule asked for when a rule needs the
    /// whole portfolio's value.
    pub(super) async fn holdings(
        &self,
        cache: &Cache,
        by_symbol: &BTreeMap<Symbol, Vec<RuleId>>,
        portfolio: Option<&Symbol>,
        problems: &mut Vec<String>,
    ) -> (Vec<Symbol>, HashMap<UserId, Vec<crate::domain::Holding>>) {
        let mut book_owners: BTreeMap<UserId, bool> = BTreeMap::new();
        for (symbol, ids) in by_symbol {
            for id in ids {
                let cached = &cache.rules[id];
                let whole = Some(symbol) == portfolio || cached.condition.reads_portfolio_value();
                if whole || cached.condition.reads_holdings() {
                    *book_owners.entry(cached.owner).or_default() |= whole;
                }
            }
        }
        let mut holdings = HashMap::new();
        let mut wanted: BTreeSet<Symbol> = by_symbol
            .keys()
            .filter(|s| Some(*s) != portfolio)
            .cloned()
            .collect();
        for (owner, whole) in &book_owners {
            match self.store.list_holdings(*owner).await {
                Ok(held) => {
                    if *whole {
                        wanted.extend(held.iter().map(|h| h.symbol.clone()));
                    }
                    holdings.insert(*owner, held);
                }
                Err(e) => problems.push(format!("holdings of user {owner}: {e}")),
            }
        }
        (wanted.into_iter().collect(), holdings)
    }

    /// Quotes for every symbol, in batches of the provider's size, a few batches at a time.
    pub(super) async fn fetch(
        &self,
        symbols: Vec<Symbol>,
        problems: &mut Vec<String>,
    ) -> (HashMap<Symbol, Quote>, usize) {
        let batches: Vec<Vec<Symbol>> = symbols
            .chunks(self.market.max_batch().max(1))
            .map(<[Symbol]>::to_vec)
            .collect();
        let calls = batches.len();
        let permits = Arc::new(Semaphore::new(self.config.concurrency.max(1)));
        let mut tasks = tokio::task::JoinSet::new();
        for batch in batches {
            let market = Arc::clone(&self.market);
            let permits = Arc::clone(&permits);
            tasks.spawn(async move {
                let _permit = permits.acquire_owned().await;
                (batch.len(), market.quotes(&batch).await)
            });
        }
        let mut quotes = HashMap::with_capacity(symbols.len());
        while let Some(done) = tasks.join_next().await {
            match done {
                Ok((_, Ok(batch))) => {
                    for quote in batch {
                        quotes.insert(quote.symbol.clone(), quote);
                    }
                }
                Ok((size, Err(e))) => {
                    problems.push(format!("a batch of {size} symbols got no quotes: {e}"))
                }
                Err(e) => problems.push(format!("a quote request stopped: {e}")),
            }
        }
        (quotes, calls)
    }
}

/// Extra minutes of bars read on a cold start, besides the longest window.
const BAR_SLACK_MINUTES: i64 = 2;

impl Monitor {
    /// Reads the one-minute bars closed since the last cycle for the symbols with rules on
    /// minute bars, keeping the window the longest of them reads. On a symbol's first cycle
    /// only its last closed bar is new (as a rule's first sample): the earlier ones are the
    /// window it looks back on.
    pub(super) async fn minute_bars(
        &self,
        cache: &mut Cache,
        by_symbol: &BTreeMap<Symbol, Vec<RuleId>>,
        now: crate::time::Timestamp,
        problems: &mut Vec<String>,
    ) {
        let has_bars = self.market.has_minute_bars();
        for (symbol, ids) in by_symbol {
            let window = ids
                .iter()
                .map(|id| &cache.rules[id])
                .filter(|r| r.on_minute_bars)
                .map(|r| r.reads[0].window)
                .max();
            // Every symbol in session has its entry (the cycle made them).
            let Some(entry) = cache.symbols.get_mut(symbol) else {
                continue;
            };
            entry.new_bars = 0;
            let Some(window) = window.filter(|_| has_bars) else {
                if entry.bars_through.take().is_some() {
                    entry.bars.clear();
                }
                continue;
            };
            let keep = window + chrono::Duration::minutes(BAR_SLACK_MINUTES);
            let from = entry
                .bars_through
                .map_or(now - keep, |t| t + chrono::Duration::seconds(1));
            match self.market.minute_bars(symbol, from, now).await {
                Ok(bars) => {
                    let cold = entry.bars_through.is_none();
                    let through = entry.bars_through;
                    let fresh: Vec<crate::domain::Sample> = bars
                        .into_iter()
                        .filter(|b| through.is_none_or(|t| b.at > t) && b.at <= now)
                        .map(|b| crate::domain::Sample::new(b.at, b.close))
                        .collect();
                    let n = fresh.len();
                    if let Some(last) = fresh.last() {
                        entry.bars_through = Some(last.at);
                    }
                    entry.bars.extend(fresh);
                    entry.new_bars = if cold { n.min(1) } else { n };
                    // The window before the newest bars, and those.
                    let oldest = entry.bars.len().saturating_sub(entry.new_bars);
                    let keep_from = entry
                        .bars
                        .get(oldest)
                        .map_or(now, |b| b.at)
                        .checked_sub_signed(keep)
                        .unwrap_or(now);
                    let drop = entry.bars[..oldest].partition_point(|b| b.at < keep_from);
                    entry.bars.drain(..drop);
                }
                Err(e) => problems.push(format!("{symbol}: no minute bars: {e}")),
            }
        }
    }
}
