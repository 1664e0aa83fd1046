use thiserror::Error;

/// A value that failed validation when it was built.
///
/// Messages name the offending value and say what is expected, so they can be shown to the user
/// as they are.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum ValidationError {
    /// A ticker symbol that is empty, too long or has a character outside the allowed set.
    #[error("invalid symbol {input:?}: {reason}")]
    Symbol {
        /// What was given.
        input: String,
        /// What is wrong with it.
        reason: String,
    },
    /// An e-mail address without the `local@domain` shape.
    #[error("invalid e-mail address {input:?}: {reason}")]
    Email {
        /// What was given.
        input: String,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// Any other field whose value is out of range or inconsistent.
    #[error("invalid {field}: {reason}")]
    Field {
        /// The field's name as the user knows it.
        field: &'static str,
        /// What is wrong with it.
        reason: String,
    },
}

impl ValidationError {
    /// The name of the field that failed (`symbol`, `email`, or the field's own name).
    pub fn field(&self) -> &str {
        match self {
            Self::Symbol { .. } => "symbol",
            Self::Email { .. } => "email",
            Self::Field { field, .. } => field,
        }
    }

    pub(crate) fn field_error(field: &'static str, reason: impl Into<String>) -> Self {
        Self::Field {
            field,
            reason: reason.into(),
        }
    }
}
