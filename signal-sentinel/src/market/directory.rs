//! Symbols by name: an offline table shipped with the library (the S&P 500 and Nasdaq-100
//! companies, the main ETFs, indices in Yahoo's spelling and the 50 largest crypto assets),
//! so that "apple" reads as `AAPL` and "bitcoin" as `BTC-USD` with no key and no network.
//!
//! ```
//! use signal_sentinel::market::directory::SymbolDirectory;
//!
//! let directory = SymbolDirectory::shipped();
//! let apple = directory.by_name("Apple");
//! assert_eq!(apple[0].symbol.as_str(), "AAPL");
//! assert_eq!(directory.by_name("alphabet").len(), 2); // GOOGL and GOOG: a choice
//! assert_eq!(directory.get_str("BTC-USD").unwrap().name, "Bitcoin");
//! ```

use std::collections::HashMap;
use std::sync::{Arc, OnceLock};

use serde::Serialize;

use crate::domain::Symbol;

/// The shipped table: `symbol,name,kind,aliases` (aliases separated by `|`). The S&P 500
/// part is derived from the "S&P 500 companies" dataset (Open Data Commons PDDL).
const TABLE: &str = include_str!("../../data/symbols.csv");

/// The most listings a provider's symbol search gives back.
pub const MAX_SEARCH_RESULTS: usize = 5;

/// The longest name, in words, looked up in a sentence.
pub const MAX_NAME_WORDS: usize = 6;

/// What a listed symbol is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ListingKind {
    /// A company's shares.
    Stock,
    /// An exchange-traded fund.
    Etf,
    /// A market index (`^GSPC`).
    Index,
    /// A crypto asset against the US dollar (`BTC-USD`).
    Crypto,
}

/// A symbol and what it is called.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Listing {
    /// The canonical symbol.
    pub symbol: Symbol,
    /// The name, e.g. `Apple Inc.`.
    pub name: String,
    /// Stock, ETF, index or crypto.
    pub kind: ListingKind,
}

impl Listing {
    /// A symbol the table does not list, taken as the user wrote it (`$ZZZQ`): its name is
    /// the symbol.
    pub fn unlisted(symbol: Symbol) -> Self {
        Self {
            name: symbol.to_string(),
            symbol,
            kind: ListingKind::Stock,
        }
    }
}

impl ListingKind {
    /// `stock`, `etf`, `index` or `crypto`, as the API writes it.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Stock => "stock",
            Self::Etf => "etf",
            Self::Index => "index",
            Self::Crypto => "crypto",
        }
    }
}

/// Names that are also common words: they name a company only when written with a capital
/// letter ("Target", not "my target").
const COMMON_WORDS: &[&str] = &[
    "target",
    "block",
    "ball",
    "match",
    "strategy",
    "progressive",
    "southern",
    "visa",
    "gap",
    "sea",
    "sui",
    "maker",
    "stacks",
    "render",
    "optimism",
    "immutable",
    "cosmos",
    "stellar",
    "near",
    "dash",
    "arm",
    "on",
    "u",
    "ge",
    "f",
    "c",
    "t",
    "v",
    "low",
    "now",
    "all",
    "key",
    "well",
    "amp",
    "ready",
    "snow",
    "spot",
    "coin",
    "hood",
    "team",
    "app",
    "op",
    "link",
    "dot",
    "atom",
    "ton",
    "graph",
    "the graph",
    "cardinal",
    "fox",
    "news",
    "lilly",
    "wells",
    "booking",
    "chase",
    "intuit",
    "oracle",
];

/// The table, indexed by symbol and by lower-case name and alias.
#[derive(Debug)]
pub struct SymbolDirectory {
    listings: Vec<Listing>,
    by_symbol: HashMap<String, usize>,
    by_name: HashMap<String, Vec<usize>>,
}

impl SymbolDirectory {
    /// The table shipped with the library, read once.
    ///
    /// # Panics
    /// Never for the shipped table (a test reads every row).
    pub fn shipped() -> Arc<Self> {
        static SHIPPED: OnceLock<Arc<SymbolDirectory>> = OnceLock::new();
        SHIPPED
            .get_or_init(|| Arc::new(Self::from_csv(TABLE).expect("the shipped symbol table")))
            .clone()
    }

    /// A table in the shipped format.
    ///
    /// # Errors
    /// The line and what is wrong with it.
    pub fn from_csv(text: &str) -> Result<Self, String> {
        let mut reader = csv::ReaderBuilder::new().from_reader(text.as_bytes());
        let mut directory = Self {
            listings: Vec::new(),
            by_symbol: HashMap::new(),
            by_name: HashMap::new(),
        };
        for (i, record) in reader.records().enumerate() {
            let line = i + 2;
            let record = record.map_err(|e| format!("line {line}: {e}"))?;
            let field = |n: usize| record.get(n).unwrap_or("").trim();
            let symbol = Symbol::parse(field(0)).map_err(|e| format!("line {line}: {e}"))?;
            let kind = match field(2) {
                "stock" => ListingKind::Stock,
                "etf" => ListingKind::Etf,
                "index" => ListingKind::Index,
                "crypto" => ListingKind::Crypto,
                other => return Err(format!("line {line}: unknown kind {other:?}")),
            };
            let name = field(1).to_owned();
            if name.is_empty() {
                return Err(format!("line {line}: no name"));
            }
            let index = directory.listings.len();
            if directory
                .by_symbol
                .insert(symbol.as_str().to_owned(), index)
                .is_some()
            {
                return Err(format!("line {line}: {symbol} is listed twice"));
            }
            let mut keys = vec![normalize_name(&name)];
            keys.extend(field(3).split('|').map(normalize_name));
            if kind == ListingKind::Crypto
                && let Some((base, _)) = symbol.as_str().split_once('-')
            {
                keys.push(base.to_lowercase());
            }
            keys.retain(|k| !k.is_empty());
            keys.sort();
            keys.dedup();
            for key in keys {
                directory.by_name.entry(key).or_default().push(index);
            }
            directory.listings.push(Listing { symbol, name, kind });
        }
        Ok(directory)
    }

    /// Every listing, in the table's order.
    pub fn listings(&self) -> &[Listing] {
        &self.listings
    }

    /// The listing of a symbol.
    pub fn get(&self, symbol: &Symbol) -> Option<&Listing> {
        self.get_str(symbol.as_str())
    }

    /// The listing of a symbol written canonically (`BRK.B`, `^GSPC`, `BTC-USD`).
    pub fn get_str(&self, symbol: &str) -> Option<&Listing> {
        self.by_symbol.get(symbol).map(|&i| &self.listings[i])
    }

    /// The listings a name or alias stands for, in any case: none, one, or several to choose
    /// from ("alphabet": `GOOGL` and `GOOG`).
    pub fn by_name(&self, name: &str) -> Vec<&Listing> {
        self.by_name
            .get(&normalize_name(name))
            .map(|v| v.iter().map(|&i| &self.listings[i]).collect())
            .unwrap_or_default()
    }

    /// Whether a name needs a capital letter to stand for a company ("Target" but not
    /// "my target").
    pub fn is_common_word(name: &str) -> bool {
        COMMON_WORDS.contains(&normalize_name(name).as_str())
    }

    /// Listings whose symbol or name is close to `text`: suggestions for a symbol nobody
    /// knows (at most `n`, closest first).
    pub fn suggest(&self, text: &str, n: usize) -> Vec<&Listing> {
        let wanted = text.to_lowercase();
        let mut scored: Vec<(usize, &Listing)> = self
            .listings
            .iter()
            .filter_map(|l| {
                let symbol = strsim::levenshtein(&wanted, &l.symbol.as_str().to_lowercase());
                let name = strsim::levenshtein(&wanted, &normalize_name(&l.name));
                let best = symbol.min(name);
                (best <= 2.max(wanted.chars().count() / 4)).then_some((best, l))
            })
            .collect();
        scored.sort_by_key(|(d, _)| *d);
        scored.into_iter().take(n).map(|(_, l)| l).collect()
    }
}

/// A name as looked up: lower case, `&` as `and`, punctuation as spaces, without the legal
/// form and share class (`Alphabet Inc. (Class A)` → `alphabet`).
pub fn normalize_name(name: &str) -> String {
    let without_class = match name.find('(') {
        Some(i) => &name[..i],
        None => name,
    };
    let lowered = without_class
        .to_lowercase()
        .replace('&', " and ")
        .replace('’', "'");
    let cleaned: String = lowered
        .chars()
        .map(|c| {
            if c.is_alphanumeric() || c == '\'' || c == '^' {
                c
            } else {
                ' '
            }
        })
        .collect();
    let mut words: Vec<&str> = cleaned
        .split_whitespace()
        .map(|w| w.trim_matches('\''))
        .filter(|w| !w.is_empty())
        .collect();
    while words.len() > 1
        && matches!(
            words.last().copied(),
            Some(
                "inc"
                    | "incorporated"
                    | "corp"
                    | "corporation"
                    | "co"
                    | "company"
                    | "plc"
                    | "ltd"
                    | "limited"
                    | "holdings"
                    | "holding"
                    | "group"
                    | "platforms"
                    | "systems"
                    | "technologies"
                    | "sa"
                    | "nv"
                    | "ag"
            )
        )
    {
        words.pop();
    }
    if words.len() > 1 && words[0] == "the" {
        words.remove(0);
    }
    words.join(" ")
}

/// The answers of the providers' symbol searches, kept a day per query (at most
/// [`SearchCache::CAPACITY`] queries; the oldest go first).
#[derive(Debug, Default)]
pub struct SearchCache {
    entries: std::sync::Mutex<HashMap<String, (crate::time::Timestamp, Vec<Listing>)>>,
}

impl SearchCache {
    /// Queries kept.
    pub const CAPACITY: usize = 1_000;

    /// The listings found for `query` less than a day before `now`.
    pub fn get(&self, query: &str, now: crate::time::Timestamp) -> Option<Vec<Listing>> {
        let entries = self
            .entries
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        entries
            .get(&query.to_lowercase())
            .filter(|(at, _)| now - *at < chrono::Duration::days(1))
            .map(|(_, found)| found.clone())
    }

    /// Keeps what `query` found at `now`.
    pub fn put(&self, query: &str, now: crate::time::Timestamp, found: Vec<Listing>) {
        let mut entries = self
            .entries
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if entries.len() >= Self::CAPACITY
            && let Some(oldest) = entries
                .iter()
                .min_by_key(|(_, (at, _))| *at)
                .map(|(k, _)| k.clone())
        {
            entries.remove(&oldest);
        }
        entries.insert(query.to_lowercase(), (now, found));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_shipped_table_reads_and_covers_what_it_promises() {
        let d = SymbolDirectory::shipped();
        let count = |k: ListingKind| d.listings().iter().filter(|l| l.kind == k).count();
        assert!(
            count(ListingKind::Stock) >= 500,
            "{}",
            count(ListingKind::Stock)
        );
        assert!(count(ListingKind::Crypto) >= 50);
        assert!(count(ListingKind::Index) >= 8);
        assert!(count(ListingKind::Etf) >= 30);
        for (name, symbol) in [
            ("Apple", "AAPL"),
            ("nvidia", "NVDA"),
            ("Tesla", "TSLA"),
            ("bitcoin", "BTC-USD"),
            ("ether", "ETH-USD"),
            ("S&P 500", "^GSPC"),
            ("Berkshire Hathaway", "BRK.B"),
            ("coca-cola", "KO"),
            ("JPMorgan Chase", "JPM"),
            ("Nasdaq 100", "^NDX"),
        ] {
            let found = d.by_name(name);
            assert_eq!(found.len(), 1, "{name}: {found:?}");
            assert_eq!(found[0].symbol.as_str(), symbol, "{name}");
        }
        let alphabet: Vec<_> = d
            .by_name("Alphabet")
            .iter()
            .map(|l| l.symbol.to_string())
            .collect();
        assert_eq!(alphabet, ["GOOGL", "GOOG"]);
        assert!(d.by_name("notacompany").is_empty());
    }

    #[test]
    fn names_lose_legal_forms_and_classes() {
        assert_eq!(normalize_name("Alphabet Inc. (Class A)"), "alphabet");
        assert_eq!(normalize_name("Procter & Gamble"), "procter and gamble");
        assert_eq!(normalize_name("  Meta Platforms, Inc. "), "meta");
        assert_eq!(normalize_name("The Trade Desk"), "trade desk");
        assert_eq!(normalize_name("McDonald's"), "mcdonald's");
    }

    #[test]
    fn unknown_symbols_get_close_suggestions() {
        let d = SymbolDirectory::shipped();
        let s: Vec<_> = d
            .suggest("APPL", 3)
            .iter()
            .map(|l| l.symbol.to_string())
            .collect();
        assert!(s.contains(&"AAPL".to_owned()), "{s:?}");
        assert!(d.suggest("qqqqqqqqqqqq", 3).is_empty());
    }

    #[test]
    fn a_bad_table_names_its_line() {
        let e =
            SymbolDirectory::from_csv("symbol,name,kind,aliases\nAAPL,Apple,fruit,\n").unwrap_err();
        assert!(e.starts_with("line 2:"), "{e}");
        let e =
            SymbolDirectory::from_csv("symbol,name,kind,aliases\nAAPL,A,stock,\nAAPL,B,stock,\n")
                .unwrap_err();
        assert!(e.contains("twice"), "{e}");
    }
}
