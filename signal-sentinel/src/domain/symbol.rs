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
