use thiserror::Error;

/// What can go wrong in storage.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum StoreError {
    /// Nothing stored under this id (or name).
    #[error("{entity} {id} not found")]
    NotFound {
        /// What was looked for (`user`, `rule`, …).
        entity: &'static str,
        /// The id or name used.
        id: String,
    },
    /// A unique value is already taken.
    #[error("a {entity} with this {field} already exists")]
    Conflict {
        /// The kind of record.
        entity: &'static str,
        /// The field (or fields) the user has to change.
        field: &'static str,
    },
    /// The record refers to a user or rule that does not exist.
    #[error("the {entity} refers to a user or rule that does not exist")]
    MissingReference {
        /// The kind of record being written.
        entity: &'static str,
    },
    /// A stored value no longer passes validation (edited by hand, or a bug).
    #[error("stored {entity} is invalid: {reason}")]
    Corrupt {
        /// The kind of record.
        entity: &'static str,
        /// What failed.
        reason: String,
    },
    /// A monitor worker no longer holds the lease of shards it evaluated (another worker took
    /// them after the lease expired): nothing of its cycle was written.
    #[error("this worker no longer holds shards {shards:?}: another worker evaluates them now")]
    LeaseLost {
        /// The shards lost.
        shards: Vec<u32>,
    },
    /// The database cannot be reached or opened.
    #[error("cannot open the database: {0}")]
    Connection(String),
    /// Bringing the schema up to date failed.
    #[error("database migration failed: {0}")]
    Migration(String),
    /// Any other database failure.
    #[error("database error: {0}")]
    Backend(String),
}

/// Result of storage operations.
pub type Result<T, E = StoreError> = std::result::Result<T, E>;
