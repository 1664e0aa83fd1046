//! The demo, end to end.

use std::time::Duration;

use signal_sentinel::demo::{DEMO_RULES, run_demo};

#[tokio::test]
async fn demo_replays_the_decade_and_fires_the_expected_alerts() {
    let dir = tempfile::tempdir().unwrap();
    let mut seen = Vec::new();
    let mut messages = Vec::new();
    let report = run_demo(dir.path(), Duration::ZERO, |a| {
        seen.push(format!(
            "{} {} {}",
            a.fired_at.format("%Y-%m"),
            a.symbol,
            a.price
        ));
        messages.push(a.message.clone());
    })
    .await
    .unwrap();
    // Hand-checked against the monthly closes: AAPL 99.80 → 121.19 (May 2007) and 89.31 →
    // 105.12 (Mar 2009) cross 100; MSFT 23.34 → 17.65 crosses 20 (Dec 2000); AAPL 31.01 → 21.00
    // is -32% (May 2000).
    for expected in [
        "2007-05 AAPL 121.19",
        "2009-03 AAPL 105.12",
        "2000-12 MSFT 17.65",
        "2000-05 AAPL 21",
    ] {
        assert!(
            seen.iter().any(|s| s == expected),
            "{expected} missing from {seen:#?}"
        );
    }
    // IBM's new 52-week highs of 2000 are not among them: the series starts in January 2000,
    // and there is no 52-week high before the history covers 52 weeks.
    assert_eq!(seen.len(), 39);
    // Each condition type's default message.
    for expected in [
        "AAPL crosses above 100: now 121.19",
        "AAPL -32.28% today: now 21 (day change <= -15%)",
        "AMZN fell through its trailing stop (trailing stop 30%): now 36.31",
        "IBM new 52w high: now 104.5",
    ] {
        assert!(
            messages.iter().any(|m| m == expected),
            "{expected} missing from {messages:#?}"
        );
    }
    assert_eq!(report.rules, DEMO_RULES.len());
    assert_eq!(report.cycles, 123);
    assert_eq!(report.alerts, seen.len());
    assert!(report.database.exists());
    // Run again: the demo database is replaced, the same alerts come out.
    let mut again = Vec::new();
    run_demo(dir.path(), Duration::ZERO, |a| {
        again.push(format!(
            "{} {} {}",
            a.fired_at.format("%Y-%m"),
            a.symbol,
            a.price
        ));
    })
    .await
    .unwrap();
    assert_eq!(again, seen);
}
