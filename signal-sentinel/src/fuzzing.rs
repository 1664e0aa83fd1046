//! Entry points for the fuzz targets in `fuzz/` (feature `fuzzing`): each takes arbitrary bytes,
//! runs one parser the outside world feeds, and must never panic.

/// The rule text parser; what parses must print and parse back to the same rule.
pub fn rule_text(bytes: &[u8]) {
    let Ok(text) = std::str::from_utf8(bytes) else {
        return;
    };
    if let Ok(rule) = crate::engine::parse_rule(text) {
        let canonical = rule.to_string();
        let again = crate::engine::parse_rule(&canonical)
            .unwrap_or_else(|e| panic!("{canonical:?} does not parse back: {e}"));
        assert_eq!(again, rule, "{canonical:?}");
    }
}

/// The holdings CSV importer.
pub fn holdings_csv(bytes: &[u8]) {
    if let Ok(text) = std::str::from_utf8(bytes) {
        let _ = crate::portfolio::parse_holdings_csv(text);
    }
}

/// The replay CSV reader (`time,symbol,open,high,low,close,volume`).
pub fn replay_csv(bytes: &[u8]) {
    if let Ok(text) = std::str::from_utf8(bytes) {
        let clock = std::sync::Arc::new(crate::clock::ManualClock::new(crate::time::now()));
        let _ = crate::market::ReplayMarket::from_csv("fuzz.csv", text, clock);
    }
}

/// Yahoo Finance's chart answer.
pub fn yahoo(bytes: &[u8]) {
    crate::market::yahoo::fuzz_answer(bytes);
}

/// Finnhub's quote answer.
pub fn finnhub(bytes: &[u8]) {
    crate::market::finnhub::fuzz_answer(bytes);
}

/// Alpaca's snapshots and bars answers.
pub fn alpaca(bytes: &[u8]) {
    crate::market::alpaca::fuzz_answer(bytes);
}

/// Plaid's `/investments/holdings/get` answer.
pub fn plaid_holdings(bytes: &[u8]) {
    crate::broker::fuzz_answer(bytes);
}
