//! [`ProviderChain`]: several providers in order, each behind a circuit breaker.

use std::collections::HashSet;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use async_trait::async_trait;
use chrono::NaiveDate;
use serde::Serialize;

use super::{MarketData, MarketError};
use crate::clock::Clock;
use crate::domain::{Bar, CorporateEvent, Quote, Symbol};
use crate::time::Timestamp;

/// A breaker's state.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum BreakerState {
    /// Calls go through.
    Closed,
    /// Too many failures in a row: calls are skipped until the cool-down ends.
    Open,
    /// Cool-down over: the next call is a trial; success closes, failure opens again.
    HalfOpen,
}

/// What the chain knows of one provider.
#[derive(Debug, Clone, Serialize)]
pub struct ProviderStatus {
    /// The provider.
    pub name: String,
    /// Its breaker.
    pub state: BreakerState,
    /// Requests made (quote batches and history).
    pub calls: u64,
    /// Requests that failed.
    pub failures: u64,
    /// Failures in a row.
    pub consecutive_failures: u32,
    /// The last failure, free of keys.
    pub last_error: Option<String>,
    /// When a request last succeeded.
    pub last_ok_at: Option<Timestamp>,
}

#[derive(Debug)]
struct Breaker {
    consecutive: u32,
    /// On the chain's clock, so tests move time instead of sleeping.
    open_until: Option<Timestamp>,
    trial: bool,
}

#[derive(Debug)]
struct Link {
    market: Arc<dyn MarketData>,
    breaker: Mutex<Breaker>,
    status: Mutex<ProviderStatus>,
}

/// Asks providers in order: a symbol that one provider does not serve, has nothing for, or
/// answers only with a stale quote is asked of the next. A provider that fails `threshold`
/// times in a row is skipped for `cool_down`, then given one trial call.
#[derive(Debug)]
pub struct ProviderChain {
    links: Vec<Link>,
    threshold: u32,
    cool_down: Duration,
    max_age: Option<chrono::Duration>,
    clock: Arc<dyn Clock>,
}

impl ProviderChain {
    /// A chain of `providers`, first asked first. By default the breaker opens after 3
    /// failures in a row for 60 seconds, and quotes of any age are accepted.
    pub fn new(providers: Vec<Arc<dyn MarketData>>, clock: Arc<dyn Clock>) -> Self {
        let links = providers
            .into_iter()
            .map(|market| Link {
                status: Mutex::new(ProviderStatus {
                    name: market.name().to_owned(),
                    state: BreakerState::Closed,
                    calls: 0,
                    failures: 0,
                    consecutive_failures: 0,
                    last_error: None,
                    last_ok_at: None,
                }),
                breaker: Mutex::new(Breaker {
                    consecutive: 0,
                    open_until: None,
                    trial: false,
                }),
                market,
            })
            .collect();
        Self {
            links,
            threshold: 3,
            cool_down: Duration::from_secs(60),
            max_age: None,
            clock,
        }
    }

    /// Sets the breaker: open after `threshold` failures in a row, for `cool_down`.
    pub fn with_breaker(mut self, threshold: u32, cool_down: Duration) -> Self {
        self.threshold = threshold.max(1);
        self.cool_down = cool_down;
        self
    }

    /// Treats quotes older than `max_age` as missing (the next provider is asked).
    pub fn with_max_age(mut self, max_age: chrono::Duration) -> Self {
        self.max_age = Some(max_age);
        self
    }

    /// The providers, in order.
    pub fn providers(&self) -> impl Iterator<Item = &Arc<dyn MarketData>> {
        self.links.iter().map(|l| &l.market)
    }

    /// The providers, in order, with their breakers and counters.
    pub fn status(&self) -> Vec<ProviderStatus> {
        self.links
            .iter()
            .map(|l| {
                let mut status = lock(&l.status).clone();
                status.state = l.state(self.clock.now());
                status
            })
            .collect()
    }

    fn fresh(&self, quote: &Quote) -> bool {
        self.max_age
            .is_none_or(|age| self.clock.now() - quote.at <= age)
    }

    fn record(&self, link: &Link, result: Result<(), &MarketError>) {
        let mut status = lock(&link.status);
        let mut breaker = lock(&link.breaker);
        status.calls += 1;
        match result {
            Ok(()) => {
                breaker.consecutive = 0;
                breaker.open_until = None;
                breaker.trial = false;
                status.consecutive_failures = 0;
                status.last_ok_at = Some(self.clock.now());
            }
            Err(e) => {
                breaker.consecutive += 1;
                status.failures += 1;
                status.consecutive_failures = breaker.consecutive;
                status.last_error = Some(e.to_string());
                if breaker.trial || breaker.consecutive >= self.threshold {
                    let now = self.clock.now();
                    let cool_down =
                        chrono::Duration::from_std(self.cool_down).unwrap_or(chrono::Duration::MAX);
                    breaker.open_until = Some(
                        now.checked_add_signed(cool_down)
                            .unwrap_or(chrono::DateTime::<chrono::Utc>::MAX_UTC),
                    );
                    breaker.trial = false;
                    tracing::warn!(provider = link.market.name(), error = %e, "provider circuit opened");
                }
            }
        }
    }
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

impl Link {
    fn state(&self, now: Timestamp) -> BreakerState {
        let breaker = lock(&self.breaker);
        match breaker.open_until {
            Some(until) if now < until => BreakerState::Open,
            Some(_) => BreakerState::HalfOpen,
            None => BreakerState::Closed,
        }
    }

    /// Whether a call may go out now (a half-open breaker lets one trial through).
    fn admit(&self, now: Timestamp) -> bool {
        let mut breaker = lock(&self.breaker);
        match breaker.open_until {
            None => true,
            Some(until) if now < until => false,
            Some(_) if breaker.trial => false,
            Some(_) => {
                breaker.trial = true;
                true
            }
        }
    }
}

#[async_trait]
impl MarketData for ProviderChain {
    fn name(&self) -> &str {
        "chain"
    }

    fn max_batch(&self) -> usize {
        // Each provider splits a batch by its own size.
        1_000
    }

    fn supports(&self, symbol: &Symbol) -> bool {
        self.links.iter().any(|l| l.market.supports(symbol))
    }

    fn provider_status(&self) -> Vec<ProviderStatus> {
        self.status()
    }

    /// The first provider that finds something; failures are skipped (a search is a
    /// suggestion, not data a rule depends on).
    async fn search_symbols(
        &self,
        query: &str,
    ) -> Result<Vec<super::directory::Listing>, MarketError> {
        let mut last_error = None;
        for link in &self.links {
            match link.market.search_symbols(query).await {
                Ok(found) if !found.is_empty() => return Ok(found),
                Ok(_) => {}
                Err(e) => last_error = Some(e),
            }
        }
        last_error.map_or(Ok(Vec::new()), Err)
    }

    async fn quotes(&self, symbols: &[Symbol]) -> Result<Vec<Quote>, MarketError> {
        let mut remaining: Vec<Symbol> = symbols.to_vec();
        let mut quotes = Vec::with_capacity(symbols.len());
        let mut last_error = None;
        for link in &self.links {
            if remaining.is_empty() {
                break;
            }
            let asked: Vec<Symbol> = remaining
                .iter()
                .filter(|s| link.market.supports(s))
                .cloned()
                .collect();
            let mut served = HashSet::new();
            for batch in asked.chunks(link.market.max_batch().max(1)) {
                if !link.admit(self.clock.now()) {
                    break;
                }
                match link.market.quotes(batch).await {
                    Ok(answer) => {
                        self.record(link, Ok(()));
                        for quote in answer.into_iter().filter(|q| self.fresh(q)) {
                            served.insert(quote.symbol.clone());
                            quotes.push(quote);
                        }
                    }
                    Err(e) => {
                        self.record(link, Err(&e));
                        last_error = Some(e);
                        // The rest of this provider's batches go to the next provider.
                        break;
                    }
                }
            }
            remaining.retain(|s| !served.contains(s));
        }
        match last_error {
            Some(e) if quotes.is_empty() && !symbols.is_empty() => Err(e),
            _ => Ok(quotes),
        }
    }

    fn has_minute_bars(&self) -> bool {
        self.links.iter().any(|l| l.market.has_minute_bars())
    }

    /// From the first provider with minute bars that serves the symbol and answers.
    async fn minute_bars(
        &self,
        symbol: &Symbol,
        from: Timestamp,
        to: Timestamp,
    ) -> Result<Vec<Bar>, MarketError> {
        let mut last_error = None;
        for link in self
            .links
            .iter()
            .filter(|l| l.market.has_minute_bars() && l.market.supports(symbol))
        {
            if !link.admit(self.clock.now()) {
                continue;
            }
            match link.market.minute_bars(symbol, from, to).await {
                Ok(bars) => {
                    self.record(link, Ok(()));
                    return Ok(bars);
                }
                Err(e) => {
                    self.record(link, Err(&e));
                    last_error = Some(e);
                }
            }
        }
        last_error.map_or(Ok(Vec::new()), Err)
    }

    fn has_events(&self) -> bool {
        self.links.iter().any(|l| l.market.has_events())
    }

    /// Every provider with events that serves the symbol is asked (one has earnings, another
    /// splits); an event two of them announce is kept once, as the first in the chain has it.
    /// Fails only when every provider asked failed.
    async fn corporate_events(
        &self,
        symbol: &Symbol,
        from: NaiveDate,
        to: NaiveDate,
    ) -> Result<Vec<CorporateEvent>, MarketError> {
        let mut events: Vec<CorporateEvent> = Vec::new();
        let mut answered = false;
        let mut last_error = None;
        for link in self
            .links
            .iter()
            .filter(|l| l.market.has_events() && l.market.supports(symbol))
        {
            if !link.admit(self.clock.now()) {
                continue;
            }
            match link.market.corporate_events(symbol, from, to).await {
                Ok(answer) => {
                    self.record(link, Ok(()));
                    answered = true;
                    for event in answer {
                        let known = events
                            .iter()
                            .any(|e| e.date == event.date && e.kind.name() == event.kind.name());
                        if !known {
                            events.push(event);
                        }
                    }
                }
                Err(e) => {
                    self.record(link, Err(&e));
                    last_error = Some(e);
                }
            }
        }
        match last_error {
            Some(e) if !answered => Err(e),
            _ => Ok(events),
        }
    }

    async fn daily_bars(
        &self,
        symbol: &Symbol,
        from: NaiveDate,
        to: NaiveDate,
    ) -> Result<Vec<Bar>, MarketError> {
        let mut last_error = None;
        for link in self.links.iter().filter(|l| l.market.supports(symbol)) {
            if !link.admit(self.clock.now()) {
                continue;
            }
            match link.market.daily_bars(symbol, from, to).await {
                Ok(bars) => {
                    self.record(link, Ok(()));
                    if !bars.is_empty() {
                        return Ok(bars);
                    }
                }
                Err(e) => {
                    self.record(link, Err(&e));
                    last_error = Some(e);
                }
            }
        }
        last_error.map_or(Ok(Vec::new()), Err)
    }
}
