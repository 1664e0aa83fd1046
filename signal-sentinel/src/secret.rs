//! [`Secret`]: a string that never prints.

use std::fmt;

/// A secret value (API key, bot token, signing key, password hash …).
///
/// `Debug` and `Display` print `[redacted]`, so a secret can sit inside any settings or record
/// type that derives `Debug` without ever reaching a log line or an error message. The value is
/// read only through [`Secret::expose`], which makes every use greppable.
///
/// ```
/// use signal_sentinel::Secret;
///
/// let token = Secret::new("123456:ABC-DEF");
/// assert_eq!(format!("{token:?} {token}"), "[redacted] [redacted]");
/// assert_eq!(token.expose(), "123456:ABC-DEF");
/// ```
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    /// Wraps a value.
    pub fn new(value: impl Into<String>) -> Self {
        Self(value.into())
    }

    /// The secret value itself. Call it only where the value is sent to its destination.
    pub fn expose(&self) -> &str {
        &self.0
    }

    /// Length of the value in bytes (safe to report: it says nothing of the content).
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// Whether the value is empty.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("[redacted]")
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("[redacted]")
    }
}

impl From<String> for Secret {
    fn from(value: String) -> Self {
        Self(value)
    }
}
