//! The replayed and simulated markets.

use std::sync::Arc;

use chrono::{NaiveDate, TimeZone, Utc};
use signal_sentinel::clock::ManualClock;
use signal_sentinel::domain::Symbol;
use signal_sentinel::market::{MarketData, ReplayMarket, SimulatedMarket};

fn sym(s: &str) -> Symbol {
    Symbol::parse(s).unwrap()
}

fn d(s: &str) -> rust_decimal::Decimal {
    s.parse().unwrap()
}

const TWO_SYMBOLS: &str = "\
time,symbol,open,high,low,close,volume
2009-06-01,XYZ,28.7,30.05,28.45,30.04,
2009-06-02 10:00,XYZ,30.04,30.13,29.5,29.9,100
2009-06-02 15:00,XYZ,29.9,30.10,28.3,29.63,250
2009-06-01T19:59:00Z,ABC,10,11,9,10.5,1000
";

#[tokio::test]
async fn replays_the_last_bar_at_or_before_the_clock() {
    let clock = Arc::new(ManualClock::new(
        Utc.with_ymd_and_hms(2009, 6, 1, 13, 0, 0).unwrap(),
    ));
    let market = ReplayMarket::from_csv("two.csv", TWO_SYMBOLS, clock.clone()).unwrap();
    assert_eq!(market.symbols(), [sym("ABC"), sym("XYZ")]);
    // Before any bar: nothing.
    assert!(market.quotes(&[sym("XYZ")]).await.unwrap().is_empty());

    // A date alone is the session's close, stamped 15:59 New York (19:59 UTC in June).
    let close = Utc.with_ymd_and_hms(2009, 6, 1, 19, 59, 0).unwrap();
    assert_eq!(market.timeline()[0], close);
    clock.set(close);
    let quotes = market
        .quotes(&[sym("XYZ"), sym("ABC"), sym("NOPE")])
        .await
        .unwrap();
    assert_eq!(quotes.len(), 2, "unknown symbols are left out");
    assert_eq!(
        (quotes[0].price, quotes[0].previous_close),
        (d("30.04"), None)
    );
    assert_eq!(quotes[1].volume, Some(1000));

    // Next session: running open, range and volume; the previous session's close.
    clock.set(Utc.with_ymd_and_hms(2009, 6, 2, 19, 30, 0).unwrap());
    let q = market.quotes(&[sym("XYZ")]).await.unwrap().remove(0);
    assert_eq!(q.price, d("29.63"));
    assert_eq!(q.previous_close, Some(d("30.04")));
    assert_eq!(q.day_open, Some(d("30.04")));
    assert_eq!((q.day_low, q.day_high), (Some(d("28.3")), Some(d("30.13"))));
    assert_eq!(q.volume, Some(350));
    assert_eq!(q.source, "replay");

    let bars = market
        .daily_bars(
            &sym("XYZ"),
            NaiveDate::from_ymd_opt(2009, 6, 1).unwrap(),
            NaiveDate::from_ymd_opt(2009, 6, 2).unwrap(),
        )
        .await
        .unwrap();
    assert_eq!(bars.len(), 2);
    assert_eq!(
        (bars[1].open, bars[1].high, bars[1].low, bars[1].close),
        (d("30.04"), d("30.13"), d("28.3"), d("29.63"))
    );
    assert_eq!(bars[1].volume, Some(350));
}

#[tokio::test]
async fn bad_rows_name_the_file_and_line() {
    let clock = Arc::new(ManualClock::new(Utc::now()));
    let cases = [
        (
            "time,symbol,open,high,low,close\n2009-06-01,XYZ,1,2,0.5,abc\n",
            "bad.csv:2: close \"abc\" is not a number",
        ),
        (
            "time,symbol,open,high,low,close\n\n2009-07-04,XYZ,1,2,0.5,1\n",
            "bad.csv:3: 2009-07-04 is not a trading day (a weekend); a date alone means that session's close",
        ),
        (
            "time,symbol,open,high,low,close\n2009-07-03,XYZ,1,2,0.5,1\n",
            "bad.csv:2: 2009-07-03 is not a trading day (Independence Day); a date alone means that session's close",
        ),
        (
            "time,symbol,open,high,low,close\nyesterday,XYZ,1,2,0.5,1\n",
            "bad.csv:2: time \"yesterday\" is not RFC 3339, 'YYYY-MM-DD HH:MM' (New York) or 'YYYY-MM-DD'",
        ),
        (
            "time,symbol,open,high,low,close\n2009-06-01,XYZ,1,2,0.5\n",
            "bad.csv:2: expected 6 fields, found 5",
        ),
        (
            "time,symbol,open,high,close\n",
            "bad.csv:1: the header has no 'low' column; expected time,symbol,open,high,low,close,volume",
        ),
        (
            "time,symbol,open,high,low,close\n2009-06-01,XYZ,3,2,0.5,1\n",
            "bad.csv:2: invalid bar: open 3 and close 1 must lie within low 0.5 and high 2",
        ),
        (
            "time,symbol,open,high,low,close\n2009-06-01,X$Z,1,2,0.5,1\n",
            "bad.csv:2: invalid symbol \"X$Z\": character '$' at position 2 is not allowed (use letters, digits and . - ^ / =)",
        ),
        (
            "time,symbol,open,high,low,close,volume\n2009-06-01,XYZ,1,2,0.5,1,-5\n",
            "bad.csv:2: volume \"-5\" is not a whole number",
        ),
        (
            "time,symbol,open,high,low,close\n2009-06-01,XYZ,1,2,0.5,1\n2009-06-02,XYZ,1,2,0.5,1\n2009-06-01,XYZ,1,2,0.5,1.5\n",
            "bad.csv:4: XYZ already has a bar at 2009-06-01 19:59:00 UTC (bad.csv:2)",
        ),
        (
            "",
            "bad.csv:0: the file is empty; expected a header time,symbol,open,high,low,close,volume",
        ),
    ];
    for (text, expected) in cases {
        let err = ReplayMarket::from_csv("bad.csv", text, clock.clone()).unwrap_err();
        assert_eq!(err.to_string(), expected);
    }
}

#[tokio::test]
async fn a_file_per_symbol_takes_the_symbol_from_its_name() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("msft.csv");
    std::fs::write(
        &path,
        "time,open,high,low,close,volume\n2009-06-01,20,21,19,20.5,10\n",
    )
    .unwrap();
    let clock = Arc::new(ManualClock::new(
        Utc.with_ymd_and_hms(2009, 6, 2, 0, 0, 0).unwrap(),
    ));
    let market = ReplayMarket::from_files(&[&path], clock).unwrap();
    assert_eq!(market.symbols(), [sym("MSFT")]);
    assert_eq!(
        market.quotes(&[sym("MSFT")]).await.unwrap()[0].price,
        d("20.5")
    );
    let missing = ReplayMarket::from_files(
        &[dir.path().join("nope.csv")],
        Arc::new(ManualClock::new(Utc::now())),
    );
    assert!(
        missing
            .unwrap_err()
            .to_string()
            .starts_with(&format!("{}:0: ", dir.path().join("nope.csv").display()))
    );
}

/// A directory's `events.csv` is the replay's corporate calendar, checked line by line.
#[tokio::test]
async fn a_directory_may_hold_a_corporate_calendar() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("XYZ.csv"),
        "time,open,high,low,close,volume\n2009-06-01,20,21,19,20.5,10\n",
    )
    .unwrap();
    std::fs::write(
        dir.path().join("events.csv"),
        "symbol,date,type,value\nXYZ,2009-06-15,split,4:1\nXYZ,2009-06-10,earnings,amc\n\
         XYZ,2009-06-11,dividend,0.25\nABC,2009-06-12,earnings,\n",
    )
    .unwrap();
    let clock = Arc::new(ManualClock::new(Utc::now()));
    let market = ReplayMarket::from_path(dir.path(), clock.clone()).unwrap();
    assert!(market.has_events());
    assert_eq!(
        market.symbols(),
        [sym("XYZ")],
        "the calendar is not a symbol"
    );
    let from = NaiveDate::from_ymd_opt(2009, 6, 1).unwrap();
    let to = NaiveDate::from_ymd_opt(2009, 6, 30).unwrap();
    let mut events: Vec<String> = market
        .corporate_events(&sym("XYZ"), from, to)
        .await
        .unwrap()
        .iter()
        .map(signal_sentinel::domain::CorporateEvent::describe)
        .collect();
    events.sort();
    assert_eq!(
        events,
        [
            "4-for-1 split on 2009-06-15",
            "earnings on 2009-06-10 after the close",
            "ex-dividend on 2009-06-11 (0.25 a share)"
        ]
    );
    let without = ReplayMarket::from_csv("x.csv", TWO_SYMBOLS, clock).unwrap();
    assert!(!without.has_events());
    for (text, expected) in [
        (
            "symbol,date,type\n",
            "e.csv:1: the header has no 'value' column",
        ),
        (
            "symbol,date,type,value\nXYZ,2009-06-31,split,4:1\n",
            "e.csv:2: date \"2009-06-31\"",
        ),
        (
            "symbol,date,type,value\nXYZ,2009-06-15,split,4\n",
            "e.csv:2: split \"4\" is not new:old",
        ),
        (
            "symbol,date,type,value\nXYZ,2009-06-15,split,0:1\n",
            "e.csv:2: invalid split ratio",
        ),
        (
            "symbol,date,type,value\nXYZ,2009-06-15,dividend,-1\n",
            "e.csv:2: invalid dividend",
        ),
        (
            "symbol,date,type,value\nXYZ,2009-06-15,merger,\n",
            "e.csv:2: type \"merger\"",
        ),
    ] {
        let err = signal_sentinel::market::parse_events("e.csv", text).unwrap_err();
        assert!(err.to_string().starts_with(expected), "{err}");
    }
}

#[tokio::test]
async fn simulated_walks_are_deterministic_whatever_the_calls() {
    let start = Utc.with_ymd_and_hms(2026, 11, 27, 15, 0, 0).unwrap();
    let a_clock = Arc::new(ManualClock::new(start));
    let b_clock = Arc::new(ManualClock::new(start));
    let a = SimulatedMarket::new(42, a_clock.clone());
    let b = SimulatedMarket::new(42, b_clock.clone());
    let other = SimulatedMarket::new(7, a_clock.clone());
    let symbols: Vec<Symbol> = (0..250).map(|i| sym(&format!("S{i}"))).collect();

    // a sees every minute, b only the last one; both agree at the end.
    for _ in 0..30 {
        a_clock.advance(chrono::Duration::minutes(1));
        a.quotes(&symbols[..10]).await.unwrap();
    }
    b_clock.advance(chrono::Duration::minutes(30));
    let qa = a.quotes(&symbols).await.unwrap();
    let mut qb = b.quotes(&symbols[125..]).await.unwrap();
    qb.splice(0..0, b.quotes(&symbols[..125]).await.unwrap());
    assert_eq!(qa, qb);
    assert_eq!(a.calls(), 31);
    assert_ne!(
        qa,
        other.quotes(&symbols).await.unwrap(),
        "another seed, another walk"
    );
    assert!(
        qa.iter()
            .all(|q| q.price > rust_decimal::Decimal::ZERO && q.previous_close.is_some())
    );
    assert!(
        qa.iter().any(|q| q.price != q.previous_close.unwrap()),
        "prices move"
    );

    let bars = a
        .daily_bars(
            &symbols[0],
            NaiveDate::from_ymd_opt(2020, 1, 1).unwrap(),
            NaiveDate::from_ymd_opt(2026, 11, 26).unwrap(),
        )
        .await
        .unwrap();
    assert_eq!(bars.len(), 300);
    assert!(bars.windows(2).all(|w| w[0].at < w[1].at));
    assert_eq!(
        signal_sentinel::engine::indicators::exchange_date(bars[299].at),
        NaiveDate::from_ymd_opt(2026, 11, 25).unwrap(),
        "last session before the origin (Thanksgiving closed)"
    );
}

#[tokio::test]
async fn replayed_files_are_read_as_real_csv() {
    // A BOM, upper-case headers, CRLF ends, quoted fields and a blank line: the same bars as
    // the plain file.
    let plain = "time,symbol,open,high,low,close,volume\n2009-06-01,XYZ,1,2,0.5,1.5,100\n2009-06-02,XYZ,1.5,2.5,1,2,\n";
    let dressed = "\u{feff}Time,SYMBOL,Open,High,Low,Close,Volume\r\n\"2009-06-01\",\"XYZ\",1,2,0.5,\"1.5\",100\r\n\r\n2009-06-02, XYZ ,1.5,2.5,1,2,\r\n";
    let clock = Arc::new(ManualClock::new(
        Utc.with_ymd_and_hms(2009, 6, 3, 0, 0, 0).unwrap(),
    ));
    let a = ReplayMarket::from_csv("plain.csv", plain, clock.clone()).unwrap();
    let b = ReplayMarket::from_csv("dressed.csv", dressed, clock.clone()).unwrap();
    assert_eq!(a.timeline(), b.timeline());
    assert_eq!(
        a.quotes(&[sym("XYZ")]).await.unwrap(),
        b.quotes(&[sym("XYZ")]).await.unwrap()
    );
    // A quoted comma stays inside its field (and so is not a number), and the line named is
    // the file's, blank lines counted.
    let err = ReplayMarket::from_csv(
        "q.csv",
        "time,symbol,open,high,low,close\r\n\r\n2009-06-01,XYZ,\"1,5\",2,0.5,1\r\n",
        clock.clone(),
    )
    .unwrap_err();
    assert_eq!(err.to_string(), "q.csv:3: open \"1,5\" is not a number");
    // An unclosed quote is not CSV; the error names the line.
    let err = ReplayMarket::from_csv(
        "u.csv",
        "time,symbol,open,high,low,close\n2009-06-01,XYZ,1,2,0.5,1\n2009-06-02,\"XYZ,1,2,0.5,1\n",
        clock,
    )
    .unwrap_err();
    assert_eq!(err.line, 3, "{err}");
}
