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

/// A duration a person typed that cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum DurationError {
    /// Not a number with a unit.
    #[error("{0:?} is not a duration; use minutes (30) or a unit: 30s, 45m, 2h, 7d, 2w")]
    Malformed(String),
    /// A unit this parser does not know.
    #[error("unknown unit {0:?}; use s, m, h, d or w")]
    Unit(String),
    /// Zero, or longer than allowed (or than any clock holds).
    #[error("{text:?} is out of range (at most {max})")]
    OutOfRange {
        /// What was typed.
        text: String,
        /// The longest allowed, in words.
        max: String,
    },
}

/// Parses `30` (minutes), `30s`, `45m`/`45min`, `2h`, `7d`, `2w` with checked arithmetic; the
/// result is longer than zero and at most `max`.
///
/// # Errors
/// [`DurationError`] for text that is not such a duration, zero, or longer than `max`.
pub fn parse_duration(
    text: &str,
    max: std::time::Duration,
) -> Result<std::time::Duration, DurationError> {
    let text = text.trim();
    let split = text
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(text.len());
    let (number, unit) = text.split_at(split);
    let out_of_range = || DurationError::OutOfRange {
        text: text.to_owned(),
        max: describe(max),
    };
    if number.is_empty() {
        return Err(DurationError::Malformed(text.to_owned()));
    }
    // Digits only: a parse failure is a number too large for u64.
    let n: u64 = number.parse().map_err(|_| out_of_range())?;
    let unit_seconds: u64 = match unit.trim() {
        "" | "m" | "min" => 60,
        "s" => 1,
        "h" => 3_600,
        "d" => 86_400,
        "w" => 604_800,
        other => return Err(DurationError::Unit(other.to_owned())),
    };
    let seconds = n.checked_mul(unit_seconds).ok_or_else(out_of_range)?;
    let duration = std::time::Duration::from_secs(seconds);
    if seconds == 0 || duration > max {
        return Err(out_of_range());
    }
    Ok(duration)
}

/// `365 days`, `2 hours`, `90 seconds`: the largest whole unit.
pub fn describe(d: std::time::Duration) -> String {
    let s = d.as_secs();
    let (n, unit) = if s.is_multiple_of(86_400) && s > 0 {
        (s / 86_400, "day")
    } else if s.is_multiple_of(3_600) && s > 0 {
        (s / 3_600, "hour")
    } else if s.is_multiple_of(60) && s > 0 {
        (s / 60, "minute")
    } else {
        (s, "second")
    };
    format!("{n} {unit}{}", if n == 1 { "" } else { "s" })
}

/// Cuts a timestamp to the microsecond precision that storage keeps.
pub fn to_storage_precision(at: Timestamp) -> Timestamp {
    at.trunc_subsecs(6)
}

/// An instant for people, to the minute: `2026-12-08 14:30 UTC`.
pub fn format_utc(at: Timestamp) -> String {
    at.format("%Y-%m-%d %H:%M UTC").to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    const YEAR: Duration = Duration::from_secs(365 * 86_400);

    #[test]
    fn durations_parse_with_checked_arithmetic_and_bounds() {
        assert_eq!(parse_duration("15", YEAR), Ok(Duration::from_secs(900)));
        assert_eq!(parse_duration("30s", YEAR), Ok(Duration::from_secs(30)));
        assert_eq!(parse_duration("2h", YEAR), Ok(Duration::from_secs(7_200)));
        assert_eq!(
            parse_duration("2w", YEAR),
            Ok(Duration::from_secs(1_209_600))
        );
        assert_eq!(parse_duration("365d", YEAR), Ok(YEAR));
        for text in [
            "0",
            "366d",
            "2000000000000h",
            "307445734561825861m",
            "99999999999999999999999",
        ] {
            let err = parse_duration(text, YEAR).unwrap_err();
            assert!(
                err.to_string().contains("at most 365 days"),
                "{text}: {err}"
            );
        }
        assert!(matches!(
            parse_duration("5y", YEAR),
            Err(DurationError::Unit(_))
        ));
        assert!(matches!(
            parse_duration("soon", YEAR),
            Err(DurationError::Malformed(_))
        ));
        assert!(matches!(
            parse_duration("-5m", YEAR),
            Err(DurationError::Malformed(_))
        ));
    }
}
