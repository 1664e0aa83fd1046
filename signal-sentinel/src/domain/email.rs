use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use super::ValidationError;

/// An e-mail address, used as the login name. Stored lower-cased, so `Ann@Example.com` and
/// `ann@example.com` are the same account.
///
/// Validation is deliberately shallow (one `@`, a non-empty local part, a domain with a dot, no
/// white space, at most 254 characters): the only proof that an address works is a mail that
/// arrives.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Email(String);

impl Email {
    /// The longest address, in characters.
    pub const MAX_LEN: usize = 254;

    /// Parses and lower-cases an address.
    ///
    /// # Errors
    /// [`ValidationError::Email`] when the address does not have the shape above.
    pub fn parse(input: &str) -> Result<Self, ValidationError> {
        let fail = |reason| ValidationError::Email {
            input: input.to_owned(),
            reason,
        };
        let trimmed = input.trim();
        if trimmed.is_empty() {
            return Err(fail("it is empty"));
        }
        if trimmed.chars().count() > Self::MAX_LEN {
            return Err(fail("it is longer than 254 characters"));
        }
        if trimmed.chars().any(|c| c.is_whitespace() || c.is_control()) {
            return Err(fail("it contains white space"));
        }
        let Some((local, domain)) = trimmed.split_once('@') else {
            return Err(fail("it has no '@'"));
        };
        if local.is_empty() {
            return Err(fail("nothing stands before the '@'"));
        }
        if domain.contains('@') {
            return Err(fail("it has more than one '@'"));
        }
        if !domain.contains('.') || domain.starts_with('.') || domain.ends_with('.') {
            return Err(fail("the part after '@' is not a domain like example.com"));
        }
        Ok(Self(trimmed.to_lowercase()))
    }

    /// The address, lower-cased.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Email {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl FromStr for Email {
    type Err = ValidationError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse(s)
    }
}

impl TryFrom<String> for Email {
    type Error = ValidationError;

    fn try_from(value: String) -> Result<Self, Self::Error> {
        Self::parse(&value)
    }
}

impl From<Email> for String {
    fn from(value: Email) -> Self {
        value.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lower_cases_and_rejects_bad_shapes() {
        assert_eq!(
            Email::parse(" Ann@Example.COM ").unwrap().as_str(),
            "ann@example.com"
        );
        for (bad, why) in [
            ("", "it is empty"),
            ("ann", "it has no '@'"),
            ("@example.com", "nothing stands before the '@'"),
            ("ann@localhost", "not a domain"),
            ("a@b@c.com", "more than one '@'"),
            ("ann smith@example.com", "white space"),
        ] {
            let err = Email::parse(bad).unwrap_err().to_string();
            assert!(err.contains(why), "{bad:?}: {err}");
        }
    }
}
