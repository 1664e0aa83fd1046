//! The rule engine against expectations worked out by hand on the real series in
//! `fixtures/`: 44 daily bars of June–July 2009 (called XYZ here) and the 2000–2010 monthly
//! closes. Each expected list names the bars that fire and why.

use chrono::{NaiveDate, TimeZone, Utc};
use rust_decimal::Decimal;
use signal_sentinel::domain::{AlertKind, Bar, Quote, RulePhase, Symbol};
use signal_sentinel::engine::{
    BacktestAlert, EngineState, Frequency, MarketView, Pending, RuleOptions, Sample, Schedule,
    Transition, backtest, indicators::DailyHistory, parse_rule, step,
};

const DAILY: &str = include_str!("../../fixtures/daily_ohlc_2009.csv");
const MONTHLY: &str = include_str!("../../fixtures/monthly_prices_2000_2010.csv");

fn d(s: &str) -> Decimal {
    s.parse().unwrap()
}

/// A fixture's rows after its header.
fn records(text: &str) -> Vec<csv::StringRecord> {
    csv::Reader::from_reader(text.as_bytes())
        .records()
        .collect::<Result<_, _>>()
        .unwrap()
}

/// The daily bars, stamped at 21:00 UTC (the close) of their date.
fn daily_bars() -> Vec<Bar> {
    records(DAILY)
        .into_iter()
        .map(|f| {
            let date = NaiveDate::parse_from_str(&f[0], "%Y-%m-%d").unwrap();
            let at = Utc.from_utc_datetime(&date.and_hms_opt(21, 0, 0).unwrap());
            Bar::new(at, d(&f[1]), d(&f[2]), d(&f[3]), d(&f[4]), None).unwrap()
        })
        .collect()
}

/// One symbol's monthly closes as bars (open = high = low = close).
fn monthly_bars(symbol: &str) -> Vec<Bar> {
    records(MONTHLY)
        .into_iter()
        .filter(|f| &f[0] == symbol)
        .map(|f| {
            let date = NaiveDate::parse_from_str(&f[1], "%b %d %Y").unwrap();
            let at = Utc.from_utc_datetime(&date.and_hms_opt(21, 0, 0).unwrap());
            let p = d(&f[2]);
            Bar::new(at, p, p, p, p, None).unwrap()
        })
        .collect()
}

fn run(text: &str, options: RuleOptions) -> Vec<(AlertKind, String, Decimal)> {
    run_on(text, options, &daily_bars())
}

fn run_on(text: &str, options: RuleOptions, bars: &[Bar]) -> Vec<(AlertKind, String, Decimal)> {
    let rule = parse_rule(text).unwrap();
    options.validate(&rule.condition).unwrap();
    backtest(&rule.symbol, &rule.condition, &options, bars)
        .into_iter()
        .map(
            |BacktestAlert {
                 kind, at, price, ..
             }| (kind, at.format("%Y-%m-%d").to_string(), price),
        )
        .collect()
}

fn fired(list: &[(&str, &str)]) -> Vec<(AlertKind, String, Decimal)> {
    list.iter()
        .map(|(date, price)| (AlertKind::Fired, (*date).to_owned(), d(price)))
        .collect()
}

#[test]
fn fixture_bars_are_consistent() {
    assert_eq!(daily_bars().len(), 44);
    assert_eq!(monthly_bars("AAPL").len(), 123);
    assert_eq!(monthly_bars("GOOG").len(), 68);
}

#[test]
fn crosses_above_a_level() {
    // Closes around 30: 30.04 (first sample: never fires), 29.63, 31.02 ↑, 30.18, 29.62 …
    // 28.15, 30.81 ↑, … 27.99, 31.17 ↑, … 29.00, 30.85 ↑, then below 30 to the end.
    assert_eq!(
        run("XYZ crosses above 30", RuleOptions::default()),
        fired(&[
            ("2009-06-03", "31.02"),
            ("2009-06-15", "30.81"),
            ("2009-06-22", "31.17"),
            ("2009-07-07", "30.85")
        ])
    );
}

#[test]
fn crosses_below_a_level_touching_it_is_not_a_cross() {
    // 30.04 → 29.63 crosses (06-02); 31.02 → 30.18 stays above 30; 30.18 → 29.62 crosses
    // (06-05); 30.03 → 27.99 (06-19); 30.58 → 29.05 (06-24); 31.30 → 29.78 (07-09).
    assert_eq!(
        run("XYZ crosses below 30", RuleOptions::default()),
        fired(&[
            ("2009-06-02", "29.63"),
            ("2009-06-05", "29.62"),
            ("2009-06-19", "27.99"),
            ("2009-06-24", "29.05"),
            ("2009-07-09", "29.78"),
        ])
    );
    // A level equal to a close: 28.15 then 30.81 crosses 28.15 upward only once the price is
    // above it; 28.11 → 28.15 (equal) is not a cross.
    let touches = run("XYZ crosses above 28.15", RuleOptions::default());
    assert_eq!(
        touches[0],
        (AlertKind::Fired, "2009-06-15".to_owned(), d("30.81"))
    );
}

#[test]
fn hysteresis_re_arms_only_beyond_the_band() {
    // 10%: after firing at 31.02 the rule re-arms only below 27.00. 28.11 (06-11) and 27.99
    // (06-19) are not low enough, so the crosses of 06-15 and 06-22 are swallowed; 26.36
    // (06-25) re-arms, and 07-07 fires again.
    let options = RuleOptions {
        hysteresis_percent: Some(d("10")),
        ..RuleOptions::default()
    };
    assert_eq!(
        run("XYZ crosses above 30", options),
        fired(&[("2009-06-03", "31.02"), ("2009-07-07", "30.85")])
    );
}

#[test]
fn level_triggered_fires_on_the_first_sample_and_once_per_episode() {
    // Above 30 on 06-01, 06-03/04, 06-15…18, 06-22/23, 07-07/08.
    let expected = fired(&[
        ("2009-06-01", "30.04"),
        ("2009-06-03", "31.02"),
        ("2009-06-15", "30.81"),
        ("2009-06-22", "31.17"),
        ("2009-07-07", "30.85"),
    ]);
    assert_eq!(run("XYZ price > 30", RuleOptions::default()), expected);
    // With resolve notices: the first close at or below 30 after each episode.
    let with_resolve = run(
        "XYZ price > 30",
        RuleOptions {
            notify_on_resolve: true,
            ..RuleOptions::default()
        },
    );
    let resolved: Vec<_> = with_resolve
        .iter()
        .filter(|(k, _, _)| *k == AlertKind::Resolved)
        .map(|(_, date, _)| date.as_str())
        .collect();
    assert_eq!(
        resolved,
        [
            "2009-06-02",
            "2009-06-05",
            "2009-06-19",
            "2009-06-24",
            "2009-07-09"
        ]
    );
}

#[test]
fn frequency_cooldown_and_pending() {
    let once = RuleOptions {
        frequency: Frequency::Once,
        ..RuleOptions::default()
    };
    assert_eq!(
        run("XYZ price > 30", once),
        fired(&[("2009-06-01", "30.04")])
    );

    // 20 days: 06-03 and 06-15 fall inside the cooldown after 06-01; 06-22 is 21 days later;
    // 07-07/08 are inside the cooldown after 06-22.
    let cooldown = RuleOptions {
        cooldown_minutes: 20 * 24 * 60,
        ..RuleOptions::default()
    };
    assert_eq!(
        run("XYZ price > 30", cooldown),
        fired(&[("2009-06-01", "30.04"), ("2009-06-22", "31.17")])
    );

    // Two consecutive evaluations above 30: 06-04, 06-16, 06-23, 07-08.
    let pending = RuleOptions {
        pending: Some(Pending::Evaluations(2)),
        ..RuleOptions::default()
    };
    assert_eq!(
        run("XYZ price > 30", pending),
        fired(&[
            ("2009-06-04", "30.18"),
            ("2009-06-16", "32.68"),
            ("2009-06-23", "30.58"),
            ("2009-07-08", "31.30")
        ])
    );
    // Held for 3 days of quote time: only the 06-15…18 run lasts that long.
    let held = RuleOptions {
        pending: Some(Pending::Minutes(3 * 24 * 60)),
        ..RuleOptions::default()
    };
    assert_eq!(
        run("XYZ price > 30", held),
        fired(&[("2009-06-18", "30.03")])
    );
}

#[test]
fn day_change_from_the_previous_close() {
    // -5.04% (28.27 vs 29.77), -6.79%, -5.003% (29.05 vs 30.58, then -9.26% the next day in
    // the same episode), -9.34%.
    assert_eq!(
        run("XYZ day change <= -5%", RuleOptions::default()),
        fired(&[
            ("2009-06-09", "28.27"),
            ("2009-06-19", "27.99"),
            ("2009-06-24", "29.05"),
            ("2009-07-13", "26.31")
        ])
    );
}

#[test]
fn gap_up_at_the_open() {
    // Opens at least 2% above the previous close: +4.12%, +5.51%, +8.61%, +2.77%, +8.48%,
    // +2.96%, +4.20%.
    assert_eq!(
        run("XYZ gap up >= 2%", RuleOptions::default()),
        fired(&[
            ("2009-06-08", "29.77"),
            ("2009-06-15", "30.81"),
            ("2009-06-22", "31.17"),
            ("2009-06-26", "25.93"),
            ("2009-07-06", "29.00"),
            ("2009-07-20", "24.40"),
            ("2009-07-27", "24.28"),
        ])
    );
}

#[test]
fn trailing_stop_from_the_highest_close_since_armed() {
    // High 32.68 (06-16) → stop 29.412: 27.99 fires (06-19). Recovers above it on 06-22
    // (31.17), re-armed from there → stop 28.053: 26.36 fires (06-25). Recovers on 07-06
    // (29.00), high 31.30 (07-08) → stop 28.17: 26.31 fires (07-13).
    assert_eq!(
        run("XYZ trailing stop 10%", RuleOptions::default()),
        fired(&[
            ("2009-06-19", "27.99"),
            ("2009-06-25", "26.36"),
            ("2009-07-13", "26.31")
        ])
    );
}

#[test]
fn price_crosses_its_moving_average() {
    // sma(5) including today's close: spread price − sma turns positive on these days.
    assert_eq!(
        run("XYZ crosses above sma(5)", RuleOptions::default()),
        fired(&[
            ("2009-06-15", "30.81"),
            ("2009-06-22", "31.17"),
            ("2009-07-01", "26.22"),
            ("2009-07-27", "24.28")
        ])
    );
}

#[test]
fn price_crosses_its_exponential_average() {
    // ema(3) (smoothing 0.5, seeded with the mean of the first three closes, today's close
    // standing in for today): the spread close − ema turns positive on these days.
    let closes: Vec<f64> = daily_bars()
        .iter()
        .map(|b| b.close.to_string().parse().unwrap())
        .collect();
    let mut expected = Vec::new();
    let mut last: Option<f64> = None;
    for i in 3..closes.len() {
        let mut ema = closes[..3].iter().sum::<f64>() / 3.0;
        for c in &closes[3..i] {
            ema += 0.5 * (c - ema);
        }
        let today = ema + 0.5 * (closes[i] - ema);
        let spread = closes[i] - today;
        if last.is_some_and(|l| l <= 0.0) && spread > 0.0 {
            expected.push(i);
        }
        last = Some(spread);
    }
    let got = run("XYZ crosses above ema(3)", RuleOptions::default());
    let bars = daily_bars();
    let want: Vec<_> = expected
        .iter()
        .map(|i| {
            (
                AlertKind::Fired,
                bars[*i].at.format("%Y-%m-%d").to_string(),
                bars[*i].close,
            )
        })
        .collect();
    assert!(!want.is_empty());
    assert_eq!(got, want);
}

#[test]
fn rsi_below_a_level() {
    // Wilder's RSI(14), first defined on the 15th close (06-19): below 40 on 06-26/29,
    // 07-14, 07-17…24.
    assert_eq!(
        run("XYZ rsi(14) < 40", RuleOptions::default()),
        fired(&[
            ("2009-06-26", "25.93"),
            ("2009-07-14", "25.02"),
            ("2009-07-17", "24.34")
        ])
    );
}

#[test]
fn moves_within_a_window() {
    // Down 8% within 3 days (72 hours back, inclusive), from the highest close in the window:
    // 32.68 (06-16) → 30.03 (06-18) is -8.1% (and 27.99 on 06-19 continues the episode);
    // 31.17 (06-22) → 26.36 (06-25) is -15.4%; 29.02 (07-10, exactly 3 days before) → 26.31
    // (07-13) is -9.3%. On 07-14 the window holds only 26.31: -4.9%, the episode resolves.
    assert_eq!(
        run("XYZ moves down 8% within 3d", RuleOptions::default()),
        fired(&[
            ("2009-06-18", "30.03"),
            ("2009-06-25", "26.36"),
            ("2009-07-13", "26.31")
        ])
    );
}

#[test]
fn new_52_week_high_on_monthly_closes() {
    // AAPL monthly closes beyond every close of the previous 364 days; each run of new highs
    // is one episode. The series starts in January 2000: until its history covers a whole 52
    // weeks there is no 52-week high (February 2000's 28.66, two months in, is not one).
    assert_eq!(
        run_on(
            "AAPL new 52w high",
            RuleOptions::default(),
            &monthly_bars("AAPL")
        ),
        fired(&[
            ("2003-05-01", "8.98"),
            ("2003-10-01", "11.44"),
            ("2004-02-01", "11.96"),
            ("2004-05-01", "14.03"),
            ("2004-08-01", "17.25"),
            ("2005-01-01", "38.45"),
            ("2005-08-01", "46.89"),
            ("2006-09-01", "76.98"),
            ("2007-03-01", "92.91"),
            ("2007-12-01", "198.08"),
            ("2009-08-01", "168.21"),
            ("2010-03-01", "223.02"),
        ])
    );
}

#[test]
fn fast_average_crosses_slow_average_on_monthly_closes() {
    assert_eq!(
        run_on(
            "MSFT sma(3) crosses above sma(6)",
            RuleOptions::default(),
            &monthly_bars("MSFT")
        ),
        fired(&[
            ("2001-03-01", "22.25"),
            ("2001-12-01", "26.95"),
            ("2002-11-01", "23.46"),
            ("2003-05-01", "20.09"),
            ("2004-01-01", "22.69"),
            ("2004-06-01", "23.44"),
            ("2004-11-01", "24.6"),
            ("2005-06-01", "22.93"),
            ("2006-09-01", "25.68"),
            ("2007-06-01", "27.95"),
            ("2007-10-01", "35.03"),
            ("2009-05-01", "20.59"),
        ])
    );
}

fn quote(price: &str, at: chrono::DateTime<Utc>) -> Quote {
    Quote::new(Symbol::parse("XYZ").unwrap(), d(price), at, "test").unwrap()
}

/// Steps a rule through quotes of one symbol the way the monitor does: each quote sees the
/// previous one as the symbol's previous sample.
struct Feed {
    rule: signal_sentinel::engine::RuleText,
    options: RuleOptions,
    state: EngineState,
    history: DailyHistory,
    samples: Vec<Sample>,
}

impl Feed {
    fn new(text: &str, options: RuleOptions) -> Self {
        Self {
            rule: parse_rule(text).unwrap(),
            options,
            state: EngineState::new(),
            history: DailyHistory::default(),
            samples: Vec::new(),
        }
    }

    fn at(
        &mut self,
        quote: Option<&Quote>,
        schedule: Schedule,
        now: chrono::DateTime<Utc>,
    ) -> Option<Transition> {
        let previous = self.samples.last().copied();
        let view = quote.map(|quote| MarketView {
            quote,
            previous,
            recent: &self.samples,
            history: &self.history,
            book: None,
            others: None,
            events: None,
        });
        let t = step(
            &self.rule.condition,
            &self.options,
            schedule,
            &mut self.state,
            view.as_ref(),
            now,
        );
        if let Some(q) = quote
            && previous.is_none_or(|p| q.at > p.at)
        {
            self.samples.push(Sample::of(q));
        }
        t
    }

    fn price(
        &mut self,
        price: &str,
        at: chrono::DateTime<Utc>,
        now: chrono::DateTime<Utc>,
    ) -> Option<Transition> {
        self.at(Some(&quote(price, at)), Schedule::default(), now)
    }
}

#[test]
fn stale_duplicate_and_out_of_order_quotes_never_fire() {
    let mut feed = Feed::new("XYZ crosses above 30", RuleOptions::default());
    let t0 = Utc.with_ymd_and_hms(2026, 11, 27, 15, 0, 0).unwrap();
    let m = chrono::Duration::minutes;
    assert_eq!(feed.price("29", t0, t0), None);
    // Stale: 31 minutes old at evaluation time.
    assert_eq!(feed.price("31", t0 + m(1), t0 + m(32)), None);
    // Out of order: older than the symbol's last sample.
    assert_eq!(feed.price("31", t0 - m(1), t0), None);
    // Duplicate of the last sample.
    assert_eq!(feed.price("31", t0, t0), None);
    // The stale quote still counts as the symbol's last sample: the cross it showed is not
    // reported late, a fresh cross is.
    assert_eq!(feed.price("31", t0 + m(15), t0 + m(15)), None);
    assert_eq!(feed.price("29.99", t0 + m(30), t0 + m(30)), None);
    assert!(matches!(
        feed.price("30.01", t0 + m(45), t0 + m(45)),
        Some(Transition::Fired { episode: 1, .. })
    ));
    // A rule created while the price is already above the level does not fire on its first
    // sample, even though the symbol's previous sample was below.
    let mut late = Feed::new("XYZ crosses above 30", RuleOptions::default());
    late.samples.push(Sample::new(t0, d("29")));
    let created = Schedule {
        created_at: Some(t0 + m(5)),
        ..Schedule::default()
    };
    assert_eq!(
        late.at(Some(&quote("31", t0 + m(15))), created, t0 + m(15)),
        None
    );
    assert!(
        late.at(Some(&quote("29.5", t0 + m(30))), created, t0 + m(30))
            .is_none()
    );
    assert!(
        late.at(Some(&quote("30.5", t0 + m(45))), created, t0 + m(45))
            .is_some()
    );
    // Without the creation time the sample before counts, and the cross fires.
    let mut early = Feed::new("XYZ crosses above 30", RuleOptions::default());
    early.samples.push(Sample::new(t0, d("29")));
    assert!(early.price("31", t0 + m(15), t0 + m(15)).is_some());
}

#[test]
fn missing_quotes_mean_no_data_and_snooze_and_expiry_hold_fire() {
    let mut feed = Feed::new("XYZ price > 30", RuleOptions::default());
    let t0 = Utc.with_ymd_and_hms(2026, 11, 27, 15, 0, 0).unwrap();
    assert_eq!(feed.at(None, Schedule::default(), t0), None);
    assert_eq!(feed.state.phase, RulePhase::NoData);

    let snoozed = Schedule {
        snoozed_until: Some(t0 + chrono::Duration::hours(1)),
        ..Schedule::default()
    };
    assert_eq!(feed.at(Some(&quote("31", t0)), snoozed, t0), None);
    assert_eq!(feed.state.phase, RulePhase::Snoozed);
    let t1 = t0 + chrono::Duration::hours(2);
    assert!(matches!(
        feed.at(Some(&quote("31", t1)), snoozed, t1),
        Some(Transition::Fired { episode: 1, .. })
    ));

    let expired = Schedule {
        expires_at: Some(t0),
        ..Schedule::default()
    };
    let mut fresh = Feed::new("XYZ price > 30", RuleOptions::default());
    let t2 = t1 + chrono::Duration::minutes(5);
    assert_eq!(fresh.at(Some(&quote("31", t2)), expired, t2), None);
    assert_eq!(fresh.state.episode, 0);
}

#[test]
fn state_survives_a_restart_mid_pending_and_mid_firing() {
    // Evaluate part of the series, store the state, read it back (a restart), go on: the
    // alerts are exactly those of an uninterrupted run.
    let options = RuleOptions {
        pending: Some(Pending::Evaluations(2)),
        ..RuleOptions::default()
    };
    let bars = daily_bars();
    let rule = parse_rule("XYZ price > 30").unwrap();
    let uninterrupted: Vec<_> = backtest(&rule.symbol, &rule.condition, &options, &bars)
        .into_iter()
        .map(|a| (a.episode, a.at, a.price))
        .collect();
    assert_eq!(uninterrupted.len(), 4);

    // Before bar 3 the rule is pending (06-03 held once), before 15 firing (06-16 fired),
    // before 16 still firing.
    for cut in [3, 15, 16] {
        let mut feed = Feed::new("XYZ price > 30", options.clone());
        let mut alerts = Vec::new();
        for (i, bar) in bars.iter().enumerate() {
            if i == cut {
                let stored = feed
                    .state
                    .to_stored(signal_sentinel::domain::RuleId::new(1), bar.at);
                feed.state = EngineState::from_stored(&stored).unwrap();
            }
            if let Some(Transition::Fired { episode, at, price }) =
                feed.price(&bar.close.to_string(), bar.at, bar.at)
            {
                alerts.push((episode, at, price));
            }
            feed.history.push(bar.clone());
        }
        assert_eq!(alerts, uninterrupted, "restart before bar {cut}");
    }
}

#[test]
fn options_are_validated_against_the_condition() {
    let rsi = parse_rule("XYZ rsi(14) > 70").unwrap().condition;
    let err = RuleOptions {
        hysteresis_percent: Some(d("5")),
        ..RuleOptions::default()
    }
    .validate(&rsi)
    .unwrap_err();
    assert_eq!(
        err.to_string(),
        "hysteresis_percent: applies only to price-level conditions (price above/below, crosses a level)"
    );
    let err = RuleOptions {
        message: Some("{{symbol}} at {{prize}}".into()),
        ..RuleOptions::default()
    }
    .validate(&rsi)
    .unwrap_err();
    assert!(
        err.to_string()
            .starts_with("message: unknown placeholder {{prize}}"),
        "{err}"
    );
    let err = RuleOptions {
        pending: Some(Pending::Evaluations(0)),
        ..RuleOptions::default()
    }
    .validate(&rsi)
    .unwrap_err();
    assert_eq!(err.to_string(), "pending: evaluations must be at least 1");
    // The stored form round-trips, and {} means the defaults.
    let options = RuleOptions {
        frequency: Frequency::OncePerDay,
        cooldown_minutes: 60,
        ..RuleOptions::default()
    };
    assert_eq!(
        RuleOptions::from_document(&options.to_document()).unwrap(),
        options
    );
    let empty = signal_sentinel::domain::JsonDocument::empty();
    assert_eq!(
        RuleOptions::from_document(&empty).unwrap(),
        RuleOptions::default()
    );
    let unknown =
        signal_sentinel::domain::JsonDocument::new(1, serde_json::json!({"cooldown": 5})).unwrap();
    assert!(RuleOptions::from_document(&unknown).is_err());
}

#[test]
fn once_per_exchange_day_uses_the_new_york_date() {
    // 23:30 New York on Nov 27 is already Nov 28 in UTC: still the same exchange day.
    let options = RuleOptions {
        frequency: Frequency::OncePerDay,
        ..RuleOptions::default()
    };
    let mut feed = Feed::new("XYZ price > 30", options);
    let t = |h, m| Utc.with_ymd_and_hms(2026, 11, 27, h, m, 0).unwrap();
    assert!(feed.price("31", t(15, 0), t(15, 0)).is_some());
    assert!(feed.price("29", t(16, 0), t(16, 0)).is_none());
    assert!(feed.price("31", t(17, 0), t(17, 0)).is_none(), "same day");
    let late = Utc.with_ymd_and_hms(2026, 11, 28, 4, 30, 0).unwrap(); // 23:30 EST Nov 27
    assert!(
        feed.price(
            "29",
            late - chrono::Duration::minutes(1),
            late - chrono::Duration::minutes(1)
        )
        .is_none()
    );
    assert!(
        feed.price("31", late, late).is_none(),
        "still Nov 27 in New York"
    );
    let next = Utc.with_ymd_and_hms(2026, 11, 28, 14, 45, 0).unwrap();
    assert!(feed.price("31", next, next).is_some());
}

#[test]
fn volume_spike_against_the_average_of_previous_sessions() {
    // The fixture has no volume: give every session 1,000,000 shares, 07-06 2,500,000 and
    // 07-07 1,999,999 (just under 2× the 20-session average of 1,000,000 + the spike).
    let bars: Vec<Bar> = daily_bars()
        .into_iter()
        .map(|b| {
            let day = b.at.format("%m-%d").to_string();
            let volume = match day.as_str() {
                "07-06" => 2_500_000,
                "07-07" => 2_000_000,
                _ => 1_000_000,
            };
            Bar {
                volume: Some(volume),
                ..b
            }
        })
        .collect();
    // 07-07: average of the 20 sessions before it is (19 × 1,000,000 + 2,500,000) / 20 =
    // 1,075,000; 2,000,000 < 2 × 1,075,000, so only 07-06 fires.
    assert_eq!(
        run_on("XYZ volume >= 2x avg(20)", RuleOptions::default(), &bars),
        fired(&[("2009-07-06", "29.00")])
    );
    // Without volume the rule cannot tell, and never fires.
    assert!(run("XYZ volume >= 2x avg(20)", RuleOptions::default()).is_empty());
}

#[test]
fn within_a_percent_of_the_52_week_low() {
    // The lowest low before 06-25 is 26.41 (06-08), so "within 2%" means a close at or below
    // 26.41 × 1.02 = 26.9382. No close reaches that until 26.36 on 06-25 (28.11 on 06-11 and
    // 27.99 on 06-19 stay above it).
    // Two months of bars are no 52 weeks: no 52-week low, so no alert.
    assert!(run("XYZ within 2% of 52w low", RuleOptions::default()).is_empty());
    // With one bar of June 2008 before them (older than the 52 weeks, so outside the window:
    // it only shows the history reaches that far), the window is the 2009 sessions.
    let mut bars = daily_bars();
    let june_2008 = Utc.with_ymd_and_hms(2008, 6, 2, 21, 0, 0).unwrap();
    bars.insert(
        0,
        Bar::new(june_2008, d("1"), d("1"), d("1"), d("1"), None).unwrap(),
    );
    let got = run_on("XYZ within 2% of 52w low", RuleOptions::default(), &bars);
    assert_eq!(
        got[0],
        (AlertKind::Fired, "2009-06-25".to_owned(), d("26.36"))
    );
}

/// Every rule in a `rule` block of docs/rules.md parses, and prints back to text that parses
/// to the same rule.
#[test]
fn the_examples_in_the_rules_guide_parse() {
    let guide = include_str!("../../../docs/rules.md");
    let mut in_block = false;
    let mut examples = 0;
    for line in guide.lines() {
        match line.trim() {
            "```rule" => in_block = true,
            "```" => in_block = false,
            text if in_block => {
                let rule = parse_rule(text).unwrap_or_else(|e| panic!("{text}: {e}"));
                assert_eq!(parse_rule(&rule.to_string()).unwrap(), rule, "{text}");
                examples += 1;
            }
            _ => {}
        }
    }
    assert!(examples >= 9, "{examples}");
}

/// An exact tie between the price and its average is not a cross, though binary floating
/// point puts the average a hair below the price: sma(3) of 0.1, 0.7 and 0.4 is 0.4 exactly,
/// 0.39999999999999997 in f64.
#[test]
fn touching_an_average_is_not_yet_a_cross() {
    let f64_sma = (0.1_f64 + 0.7 + 0.4) / 3.0;
    assert!(0.4 - f64_sma > 0.0, "the f64 artefact this test is about");
    let mut feed = Feed::new("XYZ crosses above sma(3)", RuleOptions::default());
    let day = |d: u32| Utc.with_ymd_and_hms(2026, 11, d, 21, 0, 0).unwrap();
    for (date, close) in [(2, "0.1"), (3, "0.7")] {
        let p = d(close);
        feed.history
            .push(Bar::new(day(date), p, p, p, p, None).unwrap());
    }
    let t = |h: u32| Utc.with_ymd_and_hms(2026, 11, 4, h, 0, 0).unwrap();
    // Below the average (sma 0.3667 at 0.3), then exactly on it: no cross yet …
    assert_eq!(feed.price("0.3", t(15), t(15)), None);
    assert_eq!(feed.price("0.4", t(16), t(16)), None);
    // … and through it: the cross, from the tie.
    assert!(matches!(
        feed.price("0.41", t(17), t(17)),
        Some(Transition::Fired { .. })
    ));
}

/// A gap in data in market hours under each policy: `XYZ price > 30` fires at 31, the quotes
/// stop (`None`: no quote) at the times of `gap`, and come back still above 30 five minutes
/// after its last. New York times on Monday 2026-11-30 (and Tuesday for the gap over the
/// close).
fn gap_run(policy: signal_sentinel::engine::GapPolicy, gap: &[(u32, u32, u32)]) -> Vec<String> {
    let options = RuleOptions {
        no_data: policy,
        notify_on_resolve: true,
        ..RuleOptions::default()
    };
    let mut feed = Feed::new("XYZ price > 30", options);
    // Day 30 is Monday 30 November, day 1 Tuesday 1 December.
    let ny = |d: u32, h: u32, m: u32| {
        chrono_tz::America::New_York
            .with_ymd_and_hms(2026, if d == 1 { 12 } else { 11 }, d, h, m, 0)
            .unwrap()
            .to_utc()
    };
    let mut seen = Vec::new();
    let mut note = |t: Option<Transition>| {
        if let Some(t) = t {
            seen.push(match t {
                Transition::Fired { episode, at, .. } => {
                    format!("fired {episode} {}", at.format("%d %H:%M"))
                }
                Transition::Resolved { episode, at, .. } => {
                    format!("resolved {episode} {}", at.format("%d %H:%M"))
                }
                Transition::NoData {
                    gap, reason, at, ..
                } => {
                    format!("no data {gap} {reason:?} {}", at.format("%d %H:%M"))
                }
                _ => "other".to_owned(),
            });
        }
    };
    let t0 = ny(30, 10, 0);
    note(feed.price("31", t0, t0));
    for (d, h, m) in gap {
        note(feed.at(None, Schedule::default(), ny(*d, *h, *m)));
    }
    let (d, h, m) = *gap.last().unwrap();
    let back = ny(d, h, m) + chrono::Duration::minutes(5);
    note(feed.price("32", back, back));
    seen
}

#[test]
fn a_gap_in_market_hours_under_each_policy() {
    use signal_sentinel::engine::GapPolicy;
    // (UTC times in the output: New York + 5 h.)
    let short = [(30, 10, 5), (30, 10, 10), (30, 10, 15), (30, 10, 20)];
    let long = [(30, 10, 5), (30, 10, 20), (30, 10, 35), (30, 10, 50)];
    assert_eq!(gap_run(GapPolicy::KeepState, &long), ["fired 1 30 15:00"]);
    assert_eq!(
        gap_run(GapPolicy::Resolve, &short),
        [
            "fired 1 30 15:00",
            "resolved 1 30 15:05",
            "fired 2 30 15:25"
        ]
    );
    assert_eq!(
        gap_run(GapPolicy::Alert, &long),
        ["fired 1 30 15:00", "no data 1 NoQuote 30 15:05"]
    );
    // Keep firing for 30 minutes: a 15-minute gap passes unnoticed …
    assert_eq!(
        gap_run(GapPolicy::KeepFiringFor(30), &short),
        ["fired 1 30 15:00"]
    );
    // … a 45-minute one resolves at 30 minutes, and the return fires again.
    assert_eq!(
        gap_run(GapPolicy::KeepFiringFor(30), &long),
        [
            "fired 1 30 15:00",
            "resolved 1 30 15:35",
            "fired 2 30 15:55"
        ]
    );
    // Over the close: 15:50 on Monday to 09:45 on Tuesday is 25 minutes of market time (10
    // before Monday's close, 15 after Tuesday's open), not the 18 hours between: still
    // firing; at 09:55 it is 35, and the rule resolves.
    let overnight = [(30, 15, 50), (30, 15, 55), (1, 9, 35), (1, 9, 45)];
    assert_eq!(
        gap_run(GapPolicy::KeepFiringFor(30), &overnight),
        ["fired 1 30 15:00"]
    );
    let longer = [
        (30, 15, 50),
        (30, 15, 55),
        (1, 9, 35),
        (1, 9, 45),
        (1, 9, 55),
    ];
    assert_eq!(
        gap_run(GapPolicy::KeepFiringFor(30), &longer),
        [
            "fired 1 30 15:00",
            "resolved 1 01 14:55",
            "fired 2 01 15:00"
        ]
    );
}
