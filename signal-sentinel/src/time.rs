//! Time as the library stores it.

use chrono::{DateTime, SubsecRound, Utc};

/// A point in time, in UTC.
pub type Timestamp = DateTime<Utc>;

/// The current time, cut to whole microseconds.
///
/// Both backends keep microseconds (PostgreSQL's `timestamptz` cannot hold more), so a value
/// cut here reads back equal to what was written, whichever backend stores it.
pub fn now() -> Timestamp {
    to_storage_precision(Utc::now())
}

/// Cuts a timestamp to the microsecond precision that storage keeps.
pub fn to_storage_precision(at: Timestamp) -> Timestamp {
    at.trunc_subsecs(6)
}
