//! One canonical symbol for users, each provider's own spelling of it.
//!
//! | canonical | kind | Yahoo | Finnhub | Alpaca |
//! |---|---|---|---|---|
//! | `AAPL` | US stock | `AAPL` | `AAPL` | `AAPL` |
//! | `BRK.B` | share class | `BRK-B` | `BRK-B` | `BRK.B` |
//! | `IONQ/WS` | warrant | `IONQ-WT` | — | — |
//! | `^GSPC` | index | `^GSPC` (URL-encoded) | — | — |
//! | `BTC-USD`, `BTC/USD` | crypto pair | `BTC-USD` | — | `BTC/USD` (crypto API) |
//! | `VOD.L`, `SHOP.TO` | exchange suffix | `VOD.L` | `VOD.L` | — |
//! | `EURUSD=X` | currency | `EURUSD=X` | — | — |
//!
//! "—": the provider does not serve it, and a chain of providers asks the next one.

use crate::domain::{Symbol, SymbolKind};

fn kind(symbol: &Symbol) -> SymbolKind {
    symbol.kind()
}

/// Yahoo Finance's spelling (every kind is served).
pub fn yahoo(symbol: &Symbol) -> Option<String> {
    Some(match kind(symbol) {
        SymbolKind::UsStock {
            root,
            class: Some(class),
        } => format!("{root}-{class}"),
        SymbolKind::UsStock { root, class: None } => root,
        SymbolKind::Warrant { root } => format!("{root}-WT"),
        SymbolKind::Crypto { base, quote } => format!("{base}-{quote}"),
        SymbolKind::Foreign { local, exchange } => {
            format!("{}.{exchange}", local.replace('.', "-"))
        }
        SymbolKind::Index | SymbolKind::Currency => symbol.as_str().to_owned(),
    })
}

/// Finnhub's spelling: stocks (US share classes with a dash) and foreign listings.
pub fn finnhub(symbol: &Symbol) -> Option<String> {
    match kind(symbol) {
        SymbolKind::UsStock {
            root,
            class: Some(class),
        } => Some(format!("{root}-{class}")),
        SymbolKind::UsStock { root, class: None } => Some(root),
        SymbolKind::Foreign { .. } => Some(symbol.as_str().to_owned()),
        _ => None,
    }
}

/// Alpaca's spelling: US stocks (its stock API) and crypto pairs (its crypto API).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AlpacaSymbol {
    /// For `/v2/stocks/…`.
    Stock(String),
    /// For `/v1beta3/crypto/us/…`.
    Crypto(String),
}

/// Alpaca's spelling, when it serves the symbol.
pub fn alpaca(symbol: &Symbol) -> Option<AlpacaSymbol> {
    match kind(symbol) {
        SymbolKind::UsStock {
            root,
            class: Some(class),
        } => Some(AlpacaSymbol::Stock(format!("{root}.{class}"))),
        SymbolKind::UsStock { root, class: None } => Some(AlpacaSymbol::Stock(root)),
        SymbolKind::Crypto { base, quote } => Some(AlpacaSymbol::Crypto(format!("{base}/{quote}"))),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// canonical, Yahoo, Finnhub, Alpaca
    type Row = (
        &'static str,
        Option<String>,
        Option<String>,
        Option<AlpacaSymbol>,
    );

    #[test]
    fn every_mapping() {
        let stock = |s: &str| Some(AlpacaSymbol::Stock(s.into()));
        let crypto = |s: &str| Some(AlpacaSymbol::Crypto(s.into()));
        let some = |s: &str| Some(s.to_owned());
        #[rustfmt::skip]
        let table: &[Row] = &[
            // canonical    Yahoo              Finnhub          Alpaca
            ("AAPL",        some("AAPL"),      some("AAPL"),    stock("AAPL")),
            ("BRK.B",       some("BRK-B"),     some("BRK-B"),   stock("BRK.B")),
            ("BRK-B",       some("BRK-B"),     some("BRK-B"),   stock("BRK.B")),
            ("BF.A",        some("BF-A"),      some("BF-A"),    stock("BF.A")),
            ("IONQ/WS",     some("IONQ-WT"),   None,            None),
            ("^GSPC",       some("^GSPC"),     None,            None),
            ("BTC-USD",     some("BTC-USD"),   None,            crypto("BTC/USD")),
            ("BTC/USD",     some("BTC-USD"),   None,            crypto("BTC/USD")),
            ("ETH-USDT",    some("ETH-USDT"),  None,            crypto("ETH/USDT")),
            ("VOD.L",       some("VOD.L"),     some("VOD.L"),   None),
            ("SHOP.TO",     some("SHOP.TO"),   some("SHOP.TO"), None),
            ("ERE.UN.TO",   some("ERE-UN.TO"), some("ERE.UN.TO"), None),
            ("EURUSD=X",    some("EURUSD=X"),  None,            None),
        ];
        for (canonical, y, f, a) in table {
            let s = Symbol::parse(canonical).unwrap();
            assert_eq!(&yahoo(&s), y, "yahoo {canonical}");
            assert_eq!(&finnhub(&s), f, "finnhub {canonical}");
            assert_eq!(&alpaca(&s), a, "alpaca {canonical}");
        }
        assert!(Symbol::parse("BTC-USD").unwrap().is_crypto());
        assert!(!Symbol::parse("BRK-B").unwrap().is_crypto());
    }
}
