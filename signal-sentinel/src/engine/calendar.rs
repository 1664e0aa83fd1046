//! US market hours: the NYSE calendar (America/New_York with daylight saving, holidays, early
//! closes) for equities, and an always-open market for crypto.
//!
//! The calendar is computed from the exchange's rules, so it has no end year: fixed-date
//! holidays move to Friday or Monday when they fall on a weekend (New Year's Day on a Saturday
//! is not observed), the moving ones follow their rule (third Monday of January …, Good
//! Friday from Easter), Juneteenth counts from 2022, and the one-off closures the exchange
//! has announced since 2000 are listed. Early closes (13:00) fall on the day before
//! Independence Day, the day after Thanksgiving and Christmas Eve, when those are trading
//! days.

use chrono::{Datelike, Duration, NaiveDate, NaiveTime, TimeZone, Weekday};
use chrono_tz::America::New_York;
use serde::Serialize;

use crate::domain::Symbol;
use crate::time::Timestamp;

/// Where an instant falls in a trading day.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Session {
    /// Pre-market, 04:00 to 09:30 New York time.
    PreMarket,
    /// The regular session, 09:30 to 16:00 (13:00 on early-close days).
    Regular,
    /// After hours, from the close to 20:00 (17:00 on early-close days).
    AfterHours,
    /// No trading: night, weekend or holiday.
    Closed,
}

/// How a symbol trades.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum AssetClass {
    /// US equities and ETFs: the NYSE calendar.
    UsEquity,
    /// Crypto pairs (`BTC-USD`): always trading.
    Crypto,
}

impl AssetClass {
    /// The class of a symbol: a crypto pair (`BTC-USD`, `BTC/USD`) is crypto; anything else
    /// follows the US equity calendar.
    pub fn of(symbol: &Symbol) -> Self {
        if symbol.is_crypto() {
            Self::Crypto
        } else {
            Self::UsEquity
        }
    }
}

/// Whether `symbol` trades at `at`: crypto always; equities in the regular session, or also
/// pre-market and after hours when `extended_hours` is set.
pub fn is_trading(symbol: &Symbol, at: Timestamp, extended_hours: bool) -> bool {
    trades_in(symbol, session_at(at), extended_hours)
}

/// Whether `symbol` trades while the equity market is in `session` (what [`is_trading`]
/// answers, for callers that ask about many symbols at one instant: the session is worked
/// out once).
pub fn trades_in(symbol: &Symbol, session: Session, extended_hours: bool) -> bool {
    match AssetClass::of(symbol) {
        AssetClass::Crypto => true,
        AssetClass::UsEquity => match session {
            Session::Regular => true,
            Session::PreMarket | Session::AfterHours => extended_hours,
            Session::Closed => false,
        },
    }
}

/// The equity session at an instant.
pub fn session_at(at: Timestamp) -> Session {
    let local = at.with_timezone(&New_York);
    let date = local.date_naive();
    if !is_trading_day(date) {
        return Session::Closed;
    }
    let time = local.time();
    let close = close_time(date);
    let after_end = if close < hm(16, 0) {
        hm(17, 0)
    } else {
        hm(20, 0)
    };
    if time < hm(4, 0) {
        Session::Closed
    } else if time < hm(9, 30) {
        Session::PreMarket
    } else if time < close {
        Session::Regular
    } else if time < after_end {
        Session::AfterHours
    } else {
        Session::Closed
    }
}

/// The start of an exchange day: midnight in New York.
pub fn day_start(date: NaiveDate) -> Timestamp {
    New_York
        .from_local_datetime(&date.and_hms_opt(0, 0, 0).unwrap_or_default())
        .earliest()
        .map_or_else(
            || date.and_hms_opt(5, 0, 0).unwrap_or_default().and_utc(),
            |t| t.with_timezone(&chrono::Utc),
        )
}

/// The minutes of regular sessions between `from` and `to` (the market time that passed:
/// nights, weekends and holidays do not count). At most a year of sessions is counted.
pub fn market_minutes(from: Timestamp, to: Timestamp) -> u32 {
    if to <= from {
        return 0;
    }
    let mut total: i64 = 0;
    let mut day = from.with_timezone(&New_York).date_naive();
    let last = to.with_timezone(&New_York).date_naive();
    for _ in 0..366 {
        if let Some((open, close)) = regular_hours(day) {
            let start = open.max(from);
            let end = close.min(to);
            if end > start {
                total += (end - start).num_minutes();
            }
        }
        if day >= last {
            break;
        }
        let Some(next) = day.succ_opt() else { break };
        day = next;
    }
    u32::try_from(total).unwrap_or(u32::MAX)
}

/// The regular session's open and close on `date`, as instants, or `None` when the exchange
/// is closed that day.
pub fn regular_hours(date: NaiveDate) -> Option<(Timestamp, Timestamp)> {
    if !is_trading_day(date) {
        return None;
    }
    let instant = |time: NaiveTime| {
        New_York
            .from_local_datetime(&date.and_time(time))
            .single()
            .map(|t| t.to_utc())
    };
    Some((instant(hm(9, 30))?, instant(close_time(date))?))
}

/// Whether the NYSE trades on `date` (not a weekend, not a holiday or closure).
pub fn is_trading_day(date: NaiveDate) -> bool {
    !matches!(date.weekday(), Weekday::Sat | Weekday::Sun) && holiday(date).is_none()
}

/// The name of the NYSE holiday or closure on `date`, if any.
pub fn holiday(date: NaiveDate) -> Option<&'static str> {
    let year = date.year();
    let observed = |month, day| observed_date(year, month, day);
    let named = [
        (observed(1, 1), "New Year's Day"),
        (
            nth_weekday(year, 1, Weekday::Mon, 3),
            "Martin Luther King Jr. Day",
        ),
        (
            nth_weekday(year, 2, Weekday::Mon, 3),
            "Washington's Birthday",
        ),
        (easter(year).map(|e| e - Duration::days(2)), "Good Friday"),
        (last_weekday(year, 5, Weekday::Mon), "Memorial Day"),
        (
            if year >= 2022 { observed(6, 19) } else { None },
            "Juneteenth",
        ),
        (observed(7, 4), "Independence Day"),
        (nth_weekday(year, 9, Weekday::Mon, 1), "Labor Day"),
        (nth_weekday(year, 11, Weekday::Thu, 4), "Thanksgiving Day"),
        (observed(12, 25), "Christmas Day"),
    ];
    if let Some((_, name)) = named.iter().find(|(d, _)| *d == Some(date)) {
        return Some(name);
    }
    SPECIAL_CLOSURES
        .iter()
        .find(|(y, m, d, _)| NaiveDate::from_ymd_opt(*y, *m, *d) == Some(date))
        .map(|(_, _, _, name)| *name)
}

/// One-off closures announced by the exchange since 2000.
const SPECIAL_CLOSURES: &[(i32, u32, u32, &str)] = &[
    (2001, 9, 11, "September 11 attacks"),
    (2001, 9, 12, "September 11 attacks"),
    (2001, 9, 13, "September 11 attacks"),
    (2001, 9, 14, "September 11 attacks"),
    (2004, 6, 11, "National Day of Mourning for Ronald Reagan"),
    (2007, 1, 2, "National Day of Mourning for Gerald Ford"),
    (2012, 10, 29, "Hurricane Sandy"),
    (2012, 10, 30, "Hurricane Sandy"),
    (
        2018,
        12,
        5,
        "National Day of Mourning for George H. W. Bush",
    ),
    (2025, 1, 9, "National Day of Mourning for Jimmy Carter"),
];

/// The close of the regular session on a trading day: 13:00 on early-close days, else 16:00.
pub fn close_time(date: NaiveDate) -> NaiveTime {
    let year = date.year();
    let early = [
        // The day before Independence Day (July 3 on a weekday; not when July 4 is a Monday
        // and the 3rd a Sunday).
        NaiveDate::from_ymd_opt(year, 7, 3)
            .filter(|d| is_weekday(*d) && *d != observed_date(year, 7, 4).unwrap_or(*d)),
        // The day after Thanksgiving.
        nth_weekday(year, 11, Weekday::Thu, 4).map(|d| d + Duration::days(1)),
        // Christmas Eve on a weekday (when it is not the observed Christmas holiday).
        NaiveDate::from_ymd_opt(year, 12, 24).filter(|d| is_weekday(*d)),
    ];
    if early.contains(&Some(date)) && is_trading_day(date) {
        hm(13, 0)
    } else {
        hm(16, 0)
    }
}

fn hm(hour: u32, minute: u32) -> NaiveTime {
    NaiveTime::from_hms_opt(hour, minute, 0).unwrap_or(NaiveTime::MIN)
}

fn is_weekday(date: NaiveDate) -> bool {
    !matches!(date.weekday(), Weekday::Sat | Weekday::Sun)
}

/// A fixed-date holiday as observed: Saturday → Friday before, Sunday → Monday after. New
/// Year's Day on a Saturday is not observed at all (the Friday before closes a fiscal year).
fn observed_date(year: i32, month: u32, day: u32) -> Option<NaiveDate> {
    let date = NaiveDate::from_ymd_opt(year, month, day)?;
    match date.weekday() {
        Weekday::Sat if (month, day) == (1, 1) => None,
        Weekday::Sat => Some(date - Duration::days(1)),
        Weekday::Sun => Some(date + Duration::days(1)),
        _ => Some(date),
    }
}

fn nth_weekday(year: i32, month: u32, weekday: Weekday, n: u8) -> Option<NaiveDate> {
    NaiveDate::from_weekday_of_month_opt(year, month, weekday, n)
}

fn last_weekday(year: i32, month: u32, weekday: Weekday) -> Option<NaiveDate> {
    nth_weekday(year, month, weekday, 5).or_else(|| nth_weekday(year, month, weekday, 4))
}

/// Easter Sunday (Gregorian; the anonymous algorithm of Meeus/Jones/Butcher).
fn easter(year: i32) -> Option<NaiveDate> {
    let a = year % 19;
    let b = year / 100;
    let c = year % 100;
    let d = b / 4;
    let e = b % 4;
    let f = (b + 8) / 25;
    let g = (b - f + 1) / 3;
    let h = (19 * a + b - d - g + 15) % 30;
    let i = c / 4;
    let k = c % 4;
    let l = (32 + 2 * e + 2 * i - h - k) % 7;
    let m = (a + 11 * h + 22 * l) / 451;
    let month = (h + l - 7 * m + 114) / 31;
    let day = (h + l - 7 * m + 114) % 31 + 1;
    NaiveDate::from_ymd_opt(year, u32::try_from(month).ok()?, u32::try_from(day).ok()?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn market_minutes_count_only_regular_sessions() {
        let ny = |m: u32, d: u32, h: u32, min: u32| {
            New_York
                .with_ymd_and_hms(2026, m, d, h, min, 0)
                .unwrap()
                .with_timezone(&chrono::Utc)
        };
        // Within a session; over a night; over a weekend; over Thanksgiving (Thursday 26th).
        assert_eq!(market_minutes(ny(11, 30, 10, 0), ny(11, 30, 10, 45)), 45);
        assert_eq!(market_minutes(ny(11, 30, 15, 50), ny(12, 1, 9, 45)), 25);
        assert_eq!(market_minutes(ny(12, 4, 15, 0), ny(12, 7, 10, 0)), 90);
        assert_eq!(market_minutes(ny(11, 25, 15, 0), ny(11, 27, 9, 40)), 70);
        assert_eq!(
            market_minutes(ny(12, 5, 10, 0), ny(12, 6, 10, 0)),
            0,
            "a weekend"
        );
        assert_eq!(
            market_minutes(ny(12, 1, 10, 0), ny(11, 30, 10, 0)),
            0,
            "backwards"
        );
    }
    use chrono::Utc;

    fn date(y: i32, m: u32, d: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, d).unwrap()
    }

    fn utc(y: i32, mo: u32, d: u32, h: u32, mi: u32) -> Timestamp {
        Utc.with_ymd_and_hms(y, mo, d, h, mi, 0).unwrap()
    }

    #[test]
    fn agrees_with_an_independent_calendar_where_it_has_data() {
        use nyse_holiday_cal::HolidayCal;
        let mut day = date(2020, 1, 1);
        while day <= date(2028, 12, 31) {
            // That calendar has the rules but not the one-off closures (2025-01-09).
            let special = SPECIAL_CLOSURES
                .iter()
                .any(|(y, m, d, _)| date(*y, *m, *d) == day);
            assert_eq!(
                is_trading_day(day) || special,
                day.is_busday().unwrap(),
                "{day}"
            );
            day += Duration::days(1);
        }
    }

    #[test]
    fn holidays_and_closures_of_the_fixture_years() {
        assert_eq!(
            holiday(date(2009, 7, 3)),
            Some("Independence Day"),
            "July 4 2009 was a Saturday"
        );
        assert_eq!(holiday(date(2009, 4, 10)), Some("Good Friday"));
        assert_eq!(holiday(date(2001, 9, 12)), Some("September 11 attacks"));
        assert_eq!(
            holiday(date(2010, 12, 31)),
            None,
            "New Year's Day 2011 on a Saturday is not observed"
        );
        assert_eq!(holiday(date(2026, 11, 26)), Some("Thanksgiving Day"));
        assert_eq!(holiday(date(2021, 6, 18)), None, "Juneteenth from 2022");
        assert_eq!(holiday(date(2022, 6, 20)), Some("Juneteenth"));
    }

    #[test]
    fn daylight_saving_moves_the_session_in_utc() {
        // 2026-03-06 (EST): 09:30 New York = 14:30 UTC; 2026-03-09 (EDT): 13:30 UTC.
        assert_eq!(session_at(utc(2026, 3, 6, 14, 29)), Session::PreMarket);
        assert_eq!(session_at(utc(2026, 3, 6, 14, 30)), Session::Regular);
        assert_eq!(session_at(utc(2026, 3, 9, 13, 30)), Session::Regular);
        assert_eq!(session_at(utc(2026, 3, 9, 20, 0)), Session::AfterHours);
        assert_eq!(session_at(utc(2026, 3, 6, 21, 0)), Session::AfterHours);
        assert_eq!(
            regular_hours(date(2026, 3, 9)),
            Some((utc(2026, 3, 9, 13, 30), utc(2026, 3, 9, 20, 0)))
        );
    }

    #[test]
    fn half_days_close_at_one() {
        // The day after Thanksgiving 2026: regular session until 13:00 EST = 18:00 UTC.
        assert_eq!(close_time(date(2026, 11, 27)), hm(13, 0));
        assert_eq!(session_at(utc(2026, 11, 27, 17, 59)), Session::Regular);
        assert_eq!(session_at(utc(2026, 11, 27, 18, 0)), Session::AfterHours);
        assert_eq!(
            session_at(utc(2026, 11, 27, 22, 0)),
            Session::Closed,
            "after hours end at 17:00"
        );
        assert_eq!(close_time(date(2026, 12, 24)), hm(13, 0));
        assert_eq!(
            close_time(date(2026, 7, 2)),
            hm(16, 0),
            "July 3 2026 is the observed holiday"
        );
        assert_eq!(close_time(date(2025, 7, 3)), hm(13, 0));
        assert_eq!(
            session_at(utc(2026, 11, 26, 15, 0)),
            Session::Closed,
            "Thanksgiving"
        );
        assert_eq!(
            session_at(utc(2026, 11, 28, 15, 0)),
            Session::Closed,
            "Saturday"
        );
    }

    #[test]
    fn crypto_always_trades_equities_by_session() {
        let btc = Symbol::parse("BTC/USD").unwrap();
        let aapl = Symbol::parse("AAPL").unwrap();
        let saturday = utc(2026, 11, 28, 15, 0);
        assert!(is_trading(&btc, saturday, false));
        assert!(!is_trading(&aapl, saturday, true));
        let pre = utc(2026, 11, 30, 13, 0); // 08:00 EST Monday
        assert!(!is_trading(&aapl, pre, false));
        assert!(is_trading(&aapl, pre, true));
    }
}
