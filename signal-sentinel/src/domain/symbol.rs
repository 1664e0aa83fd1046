use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use super::ValidationError;

/// A ticker symbol in its canonical form: upper case, 1–24 characters among ASCII letters,
/// digits and `. - ^ / =`.
///
/// That set covers the forms users meet across providers: `BRK.B`, `IONQ-WT`, `^GSPC`,
/// `BTC/USD`, `EURUSD=X`. Mapping between a provider's own spelling and this one is the
/// provider's job.
///
/// ```
/// use signal_sentinel::domain::Symbol;
///
/// let s = Symbol::parse(" brk.b ")?;
/// assert_eq!(s.as_str(), "BRK.B");
/// assert!(Symbol::parse("AAPL!").is_err());
/// # Ok::<(), signal_sentinel::domain::ValidationError>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Symbol(String);

impl Symbol {
    /// Longest symbol accepted, in characters.
    pub const MAX_LEN: usize = 24;

    /// Parses and canonicalises a symbol (surrounding white space is ignored, letters are
    /// upper-cased).
    ///
    /// # Errors
    /// [`ValidationError::Symbol`] when the symbol is empty, longer than
    /// [`MAX_LEN`](Self::MAX_LEN) or has a character outside the allowed set; the message
    /// names the character and its position.
    pub fn parse(input: &str) -> Result<Self, ValidationError> {
        let fail = |reason: String| ValidationError::Symbol {
            input: input.to_owned(),
            reason,
        };
        let trimmed = input.trim();
        if trimmed.is_empty() {
            return Err(fail("it is empty".to_owned()));
        }
        let len = trimmed.chars().count();
        if len > Self::MAX_LEN {
            return Err(fail(format!(
                "it has {len} characters, at most {} are allowed",
                Self::MAX_LEN
            )));
        }
        if let Some((pos, c)) = trimmed
            .chars()
            .enumerate()
            .find(|(_, c)| !(c.is_ascii_alphanumeric() || ".-^/=".contains(*c)))
        {
            return Err(fail(format!(
                "character {c:?} at position {} is not allowed (use letters, digits and . - ^ / =)",
                pos + 1
            )));
        }
        Ok(Self(trimmed.to_ascii_uppercase()))
    }

    /// The canonical text.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// What the symbol denotes: a US stock (with its share class), a warrant, an index, a
    /// crypto pair, a foreign listing or a currency pair.
    pub fn kind(&self) -> SymbolKind {
        kind_of(&self.0)
    }

    /// Whether it is a crypto pair (`BTC-USD`, `BTC/USD`), which trades around the clock.
    pub fn is_crypto(&self) -> bool {
        matches!(self.kind(), SymbolKind::Crypto { .. })
    }
}

/// Quote currencies that make `BASE-QUOTE` or `BASE/QUOTE` a crypto pair.
const CRYPTO_QUOTES: &[&str] = &["USD", "USDT", "USDC", "EUR", "GBP", "BTC", "ETH"];

/// Exchange suffixes as Yahoo Finance writes them (London, Toronto, …).
const EXCHANGE_SUFFIXES: &[&str] = &[
    "L", "TO", "V", "CN", "NE", "AX", "NZ", "HK", "T", "KS", "KQ", "TW", "SS", "SZ", "NS", "BO",
    "SI", "JK", "DE", "F", "PA", "AS", "BR", "MI", "MC", "LS", "SW", "VI", "ST", "OL", "CO", "HE",
    "IR", "SA", "MX", "TA",
];

/// What a canonical symbol denotes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SymbolKind {
    /// A US stock or ETF, possibly with a share class (`BRK.B`: root `BRK`, class `B`).
    UsStock {
        /// The root ticker.
        root: String,
        /// The share class, if any.
        class: Option<String>,
    },
    /// A warrant (`IONQ/WS`).
    Warrant {
        /// The underlying's ticker.
        root: String,
    },
    /// An index (`^GSPC`).
    Index,
    /// A crypto pair (`BTC-USD` or `BTC/USD`).
    Crypto {
        /// The asset (`BTC`).
        base: String,
        /// The currency (`USD`).
        quote: String,
    },
    /// A listing on a non-US exchange (`VOD.L`, `ERE.UN.TO`).
    Foreign {
        /// The ticker on its exchange.
        local: String,
        /// The Yahoo-style suffix (`L`, `TO`).
        exchange: String,
    },
    /// A currency pair as Yahoo writes it (`EURUSD=X`).
    Currency,
}

/// What a symbol denotes (see [`Symbol::kind`]).
fn kind_of(s: &str) -> SymbolKind {
    if s.starts_with('^') {
        return SymbolKind::Index;
    }
    if s.ends_with("=X") {
        return SymbolKind::Currency;
    }
    if let Some(root) = s.strip_suffix("/WS").or_else(|| s.strip_suffix(".WS")) {
        return SymbolKind::Warrant {
            root: root.to_owned(),
        };
    }
    if let Some((base, quote)) = s.split_once(['-', '/'])
        && CRYPTO_QUOTES.contains(&quote)
        && !base.is_empty()
        && base.chars().all(|c| c.is_ascii_alphanumeric())
    {
        return SymbolKind::Crypto {
            base: base.to_owned(),
            quote: quote.to_owned(),
        };
    }
    if let Some((local, suffix)) = s.rsplit_once('.')
        && EXCHANGE_SUFFIXES.contains(&suffix)
        && !local.is_empty()
    {
        return SymbolKind::Foreign {
            local: local.to_owned(),
            exchange: suffix.to_owned(),
        };
    }
    match s.split_once(['.', '-']) {
        Some((root, class)) if !root.is_empty() && (1..=2).contains(&class.len()) => {
            SymbolKind::UsStock {
                root: root.to_owned(),
                class: Some(class.to_owned()),
            }
        }
        _ => SymbolKind::UsStock {
            root: s.to_owned(),
            class: None,
        },
    }
}

impl fmt::Display for Symbol {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl FromStr for Symbol {
    type Err = ValidationError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse(s)
    }
}

impl TryFrom<String> for Symbol {
    type Error = ValidationError;

    fn try_from(value: String) -> Result<Self, Self::Error> {
        Self::parse(&value)
    }
}

impl From<Symbol> for String {
    fn from(value: Symbol) -> Self {
        value.0
    }
}

impl AsRef<str> for Symbol {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn canonicalises_the_forms_providers_use() {
        for (input, canonical) in [
            ("aapl", "AAPL"),
            (" msft\t", "MSFT"),
            ("brk.b", "BRK.B"),
            ("ionq-wt", "IONQ-WT"),
            ("^gspc", "^GSPC"),
            ("btc/usd", "BTC/USD"),
            ("eurusd=x", "EURUSD=X"),
            ("A", "A"),
            ("ABCDEFGHIJKLMNOPQRSTUVWX", "ABCDEFGHIJKLMNOPQRSTUVWX"),
        ] {
            assert_eq!(
                Symbol::parse(input).unwrap().as_str(),
                canonical,
                "{input:?}"
            );
        }
    }

    #[test]
    fn explains_what_is_wrong() {
        let msg = |s: &str| Symbol::parse(s).unwrap_err().to_string();
        assert_eq!(msg(""), "invalid symbol \"\": it is empty");
        assert_eq!(msg("   "), "invalid symbol \"   \": it is empty");
        assert_eq!(
            msg("ABCDEFGHIJKLMNOPQRSTUVWXY"),
            "invalid symbol \"ABCDEFGHIJKLMNOPQRSTUVWXY\": it has 25 characters, at most 24 are allowed"
        );
        assert_eq!(
            msg("AA PL"),
            "invalid symbol \"AA PL\": character ' ' at position 3 is not allowed (use letters, digits and . - ^ / =)"
        );
        assert!(msg("ÄPFEL").contains("'Ä' at position 1"));
        assert!(msg("AAPL;DROP").contains("';'"));
    }

    #[test]
    fn serde_validates() {
        let s: Symbol = serde_json::from_str("\"tsla\"").unwrap();
        assert_eq!(s.as_str(), "TSLA");
        assert_eq!(serde_json::to_string(&s).unwrap(), "\"TSLA\"");
        assert!(serde_json::from_str::<Symbol>("\"$$\"").is_err());
    }
}
