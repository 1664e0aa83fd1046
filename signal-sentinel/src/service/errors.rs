//! Why a use case failed, and how the library's errors map onto it.

use thiserror::Error;

use crate::auth::PasswordError;
use crate::market::MarketError;
use crate::notify::channels::ChannelError;
use crate::rules::RuleInputError;
use crate::store::StoreError;

/// Why a use case failed. The `Display` text is safe to show to the user who asked; the
/// [`Internal`](ServiceError::Internal) cause is for logs only.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum ServiceError {
    /// The input cannot be used; `field` names what to change.
    #[error("{field}: {message}")]
    Invalid {
        /// The request field at fault.
        field: String,
        /// What is wrong with it.
        message: String,
    },
    /// No such object for this user.
    #[error("{0} not found")]
    NotFound(&'static str),
    /// The object exists already (e.g. an e-mail address taken).
    #[error("{message}")]
    Conflict {
        /// The request field at fault.
        field: String,
        /// What collides.
        message: String,
    },
    /// Missing, wrong or expired credentials.
    #[error("{0}")]
    Unauthenticated(String),
    /// A per-user cap is reached (rules, API keys).
    #[error("{0}")]
    LimitReached(String),
    /// Too many attempts (wrong passwords on one account): try again after `retry_after`.
    #[error("too many attempts; try again in {} s", retry_after.as_secs().max(1))]
    TooManyAttempts {
        /// How long to wait.
        retry_after: std::time::Duration,
    },
    /// An outside service (market data) failed or is not configured.
    #[error("{0}")]
    Unavailable(String),
    /// Storage or another internal failure. `Display` says only "internal error"; the cause
    /// is its [`source`](std::error::Error::source), for logs and the operator's terminal
    /// (see [`error_chain`](crate::error_chain)).
    #[error("internal error")]
    Internal(#[source] BoxError),
}

/// An internal cause, kept whole with its own sources.
pub type BoxError = Box<dyn std::error::Error + Send + Sync + 'static>;

impl ServiceError {
    /// An internal failure with its cause.
    pub fn internal(cause: impl Into<BoxError>) -> Self {
        Self::Internal(cause.into())
    }

    pub(crate) fn invalid(field: impl Into<String>, message: impl Into<String>) -> Self {
        Self::Invalid {
            field: field.into(),
            message: message.into(),
        }
    }

    /// A stable machine-readable code for the error's kind.
    pub fn code(&self) -> &'static str {
        match self {
            Self::Invalid { .. } => "invalid_input",
            Self::NotFound(_) => "not_found",
            Self::Conflict { .. } => "conflict",
            Self::Unauthenticated(_) => "unauthenticated",
            Self::LimitReached(_) => "limit_reached",
            Self::TooManyAttempts { .. } => "rate_limited",
            Self::Unavailable(_) => "unavailable",
            Self::Internal(_) => "internal",
        }
    }
}

impl From<StoreError> for ServiceError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::NotFound { entity, .. } => Self::NotFound(entity),
            StoreError::Conflict { entity, field } => Self::Conflict {
                field: field.to_owned(),
                message: format!("a {entity} with this {field} already exists"),
            },
            other => Self::Internal(Box::new(other)),
        }
    }
}

impl From<PasswordError> for ServiceError {
    fn from(e: PasswordError) -> Self {
        match e {
            PasswordError::Length => Self::invalid("password", e.to_string()),
            other => Self::Internal(Box::new(other)),
        }
    }
}

impl From<RuleInputError> for ServiceError {
    fn from(e: RuleInputError) -> Self {
        match e {
            RuleInputError::Text(e) => Self::invalid("text", e.to_string()),
            RuleInputError::Options(e) => Self::invalid("options", e.to_string()),
            RuleInputError::Name(message) => Self::invalid("name", message),
        }
    }
}

impl From<ChannelError> for ServiceError {
    fn from(e: ChannelError) -> Self {
        match e {
            ChannelError::Invalid { field, message } => Self::invalid(field, message),
            ChannelError::Store(e) => e.into(),
        }
    }
}

impl From<MarketError> for ServiceError {
    fn from(e: MarketError) -> Self {
        Self::Unavailable(format!("market data: {e}"))
    }
}

/// Result of a use case.
pub type ServiceResult<T> = Result<T, ServiceError>;
