//! A rule's lifecycle: armed → (pending) → firing → resolved/armed, with the options that shape
//! it (frequency, cooldown, hysteresis, pending duration, snooze, expiry, staleness).

use chrono::Duration;
use chrono_tz::America::New_York;
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use thiserror::Error;

use super::condition::{Comparison, Condition, Direction};
use super::evaluate::{EvalError, MarketView, Memory, Signal, above_by, below_by, evaluate};
use super::template::{TemplateError, check_template};
use crate::domain::{JsonDocument, RuleId, RulePhase, RuleState};
use crate::time::Timestamp;

/// Version of the JSON form of [`RuleOptions`].
pub const OPTIONS_VERSION: u32 = 1;

/// How often a rule may fire.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Frequency {
    /// Once; then the rule disables itself.
    Once,
    /// At most once per exchange day (New York calendar date).
    OncePerDay,
    /// Every time the condition becomes true again (after the cooldown, if any).
    #[default]
    EveryTime,
}

/// How long a condition must hold before the rule fires (like `for:` in alerting systems).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Pending {
    /// For this many minutes of quote time.
    Minutes(u32),
    /// For this many consecutive evaluations.
    Evaluations(u32),
}

/// How a rule fires. Stored as versioned JSON beside the condition; every field has a default,
/// so `{}` is valid.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RuleOptions {
    /// How often it may fire. Default: every time.
    pub frequency: Frequency,
    /// Minutes after firing during which it does not fire again. Default: 0.
    pub cooldown_minutes: u32,
    /// After firing, re-arm only once the price is this many percent back on the other side
    /// of the rule's level (price and cross-a-level conditions only). Default: none.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub hysteresis_percent: Option<Decimal>,
    /// How long the condition must hold before firing. Default: fire at once.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pending: Option<Pending>,
    /// Also send a notice when the condition stops holding. Default: no.
    pub notify_on_resolve: bool,
    /// Evaluate in pre- and after-market sessions too. Default: regular hours only.
    pub extended_hours: bool,
    /// A quote older than this many minutes is treated as missing. Default: 30.
    pub stale_after_minutes: u32,
    /// Message template (see [`DEFAULT_TEMPLATE`](super::DEFAULT_TEMPLATE)). Default: none.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    /// Remind while the condition keeps holding after a firing (Alertmanager's
    /// `repeat_interval`). Default: no reminders.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub repeat: Option<Repeat>,
    /// How urgent its alerts are, for services that rank messages (ntfy, Gotify, Pushover).
    /// Default: each service's level for a firing alert (high).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub priority: Option<Priority>,
    /// Which quotes the rule is evaluated on. Default: every sample.
    #[serde(skip_serializing_if = "Evaluate::is_every_sample")]
    pub evaluate: Evaluate,
    /// What the rule does while it has no data in market hours (no quote, a stale one, too
    /// little history). Default: keep its state.
    #[serde(skip_serializing_if = "GapPolicy::is_keep_state")]
    pub no_data: GapPolicy,
    /// What the rule does while its samples cannot be evaluated (an absurd value). Default:
    /// keep its state.
    #[serde(skip_serializing_if = "GapPolicy::is_keep_state")]
    pub on_error: GapPolicy,
}

/// What a rule does across a gap — no data, or samples it cannot evaluate — in market hours
/// (a closed market is no gap: the rule is not evaluated then). Grafana's no-data states and
/// Prometheus' `keep_firing_for`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum GapPolicy {
    /// A firing rule keeps firing (no "resolved", and no second alert when data returns and
    /// the condition still holds); any other rule shows `no_data` (or `error`).
    #[default]
    KeepState,
    /// A firing rule resolves at once (a notice if it reports recovery) and shows `no_data`.
    Resolve,
    /// Send an alert of its own saying the rule has no data (or cannot be evaluated), once per
    /// gap; the state is kept as with `keep_state`.
    Alert,
    /// A firing rule keeps firing for this many minutes of the gap (1 to 10,080), counted in
    /// market time — the night and the weekend do not count — then resolves.
    KeepFiringFor(u32),
}

impl GapPolicy {
    fn is_keep_state(&self) -> bool {
        *self == Self::KeepState
    }
}

/// Why a rule has no data.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum GapReason {
    /// No quote came for the symbol.
    NoQuote,
    /// The latest quote is older than the rule's staleness limit.
    Stale,
    /// The condition lacks what it needs: history for an average or a 52-week extreme, a
    /// previous close, a volume, a position, an operand's data.
    NotEnoughData,
    /// The sample could not be evaluated (see the rule's error).
    Error,
}

impl GapReason {
    /// In words, for the rule's owner.
    pub fn describe(self) -> &'static str {
        match self {
            Self::NoQuote => "no quote",
            Self::Stale => "the latest quote is stale",
            Self::NotEnoughData => "not enough data for the condition",
            Self::Error => "the sample cannot be evaluated",
        }
    }
}

/// A gap a rule is in: since when, why, and how many minutes of market time it has lasted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Gap {
    /// When it began (the first evaluation without data).
    pub since: Timestamp,
    /// Why.
    pub reason: GapReason,
    /// Minutes of market time so far (kept for `keep_firing_for` only).
    #[serde(default)]
    pub minutes: u32,
    /// The last evaluation in the gap (kept for `keep_firing_for` only).
    #[serde(default)]
    pub last: Option<Timestamp>,
}

/// Which quotes a rule is evaluated on.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Evaluate {
    /// Every fresh quote, the live price standing in for today's close (as a daily chart
    /// shows it intraday).
    #[default]
    EverySample,
    /// Once per session, on the first quote at or after the regular session's close (the
    /// official close; 13:00 New York on early-close days), compared with the previous
    /// session's close: an average or RSI cross seen at 11:00 and gone by 16:00 does not
    /// fire. Quotes before the close leave the rule as it is.
    AtSessionClose,
    /// On closed bars: a rule that reads daily history (averages, RSI, volume averages,
    /// 52-week extremes) on the daily bar, as `at_session_close`; any other on each closed
    /// one-minute bar (its close, when the minute has ended), never on a partial minute, where
    /// the provider gives minute bars (on each quote where it does not).
    AtBarClose,
}

impl Evaluate {
    fn is_every_sample(&self) -> bool {
        *self == Self::EverySample
    }

    /// Whether a rule with `condition` evaluated this way waits for the session's close.
    pub fn at_session_close(self, condition: &Condition) -> bool {
        match self {
            Self::EverySample => false,
            Self::AtSessionClose => true,
            Self::AtBarClose => condition.history_sessions() > 0,
        }
    }

    /// Whether a rule with `condition` evaluated this way reads closed one-minute bars.
    pub fn on_minute_bars(self, condition: &Condition) -> bool {
        self == Self::AtBarClose && condition.history_sessions() == 0
    }
}

/// How urgent a rule's alerts are.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Priority {
    /// No sound where the service can tell (ntfy 2, Gotify 2, Pushover -1).
    Low,
    /// The service's default (ntfy 3, Gotify 5, Pushover 0).
    Normal,
    /// Stands out (ntfy 4, Gotify 8, Pushover 1): what firing alerts get without the option.
    High,
    /// Breaks through (ntfy 5, Gotify 10, Pushover 1).
    Urgent,
}

/// Reminders while a rule keeps firing: every `every_minutes` of quote time while the condition
/// still holds (not while the rule is snoozed), until `until` or after `times` reminders,
/// whichever comes first. A new firing starts the count again.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Repeat {
    /// Minutes between reminders, 1 to 10,080 (a week).
    pub every_minutes: u32,
    /// No reminder at or after this instant.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub until: Option<Timestamp>,
    /// At most this many reminders per firing, 1 to 1,000.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub times: Option<u32>,
}

impl Default for RuleOptions {
    fn default() -> Self {
        Self {
            frequency: Frequency::EveryTime,
            cooldown_minutes: 0,
            hysteresis_percent: None,
            pending: None,
            notify_on_resolve: false,
            extended_hours: false,
            stale_after_minutes: 30,
            message: None,
            repeat: None,
            priority: None,
            evaluate: Evaluate::EverySample,
            no_data: GapPolicy::KeepState,
            on_error: GapPolicy::KeepState,
        }
    }
}

/// Options that cannot be used, or a stored document that is not rule options.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum OptionsError {
    /// A value is out of range or does not fit the condition.
    #[error("{field}: {reason}")]
    Invalid {
        /// The option's name.
        field: &'static str,
        /// What is expected.
        reason: String,
    },
    /// The message template is invalid.
    #[error("message: {0}")]
    Template(#[from] TemplateError),
    /// The stored JSON cannot be read.
    #[error("stored options cannot be read: {0}")]
    Document(String),
}

fn invalid(field: &'static str, reason: impl Into<String>) -> OptionsError {
    OptionsError::Invalid {
        field,
        reason: reason.into(),
    }
}

impl RuleOptions {
    /// Checks the options against the rule's condition.
    ///
    /// # Errors
    /// [`OptionsError`] when hysteresis is not a positive percent below 100 or the condition has
    /// no level for it, a pending count or duration is 0, the staleness limit is 0, or the
    /// template names an unknown placeholder.
    pub fn validate(&self, condition: &Condition) -> Result<(), OptionsError> {
        if let Some(h) = self.hysteresis_percent {
            if h <= Decimal::ZERO || h >= Decimal::ONE_HUNDRED {
                return Err(invalid(
                    "hysteresis_percent",
                    format!("must be between 0 and 100 (exclusive), got {h}"),
                ));
            }
            if rearm_level(condition).is_none() {
                return Err(invalid(
                    "hysteresis_percent",
                    "applies only to price-level conditions (price above/below, crosses a level)",
                ));
            }
        }
        match self.pending {
            Some(Pending::Minutes(0)) => {
                return Err(invalid("pending", "minutes must be at least 1"));
            }
            Some(Pending::Evaluations(0)) => {
                return Err(invalid("pending", "evaluations must be at least 1"));
            }
            _ => {}
        }
        if self.stale_after_minutes == 0 {
            return Err(invalid("stale_after_minutes", "must be at least 1"));
        }
        if let Some(repeat) = self.repeat {
            if !(1..=7 * 24 * 60).contains(&repeat.every_minutes) {
                return Err(invalid(
                    "repeat",
                    "every_minutes must be 1 to 10080 (a week)",
                ));
            }
            if repeat.times.is_some_and(|t| !(1..=1000).contains(&t)) {
                return Err(invalid("repeat", "times must be 1 to 1000"));
            }
            if self.frequency == Frequency::Once {
                return Err(invalid(
                    "repeat",
                    "a rule that fires once is disabled when it fires: there is nothing to repeat",
                ));
            }
        }
        for (field, policy) in [("no_data", self.no_data), ("on_error", self.on_error)] {
            if let GapPolicy::KeepFiringFor(m) = policy
                && !(1..=7 * 24 * 60).contains(&m)
            {
                return Err(invalid(
                    field,
                    "keep_firing_for must be 1 to 10080 minutes (a week)",
                ));
            }
        }
        if let Some(message) = &self.message {
            crate::domain::check_text(message, true)
                .map_err(|e| invalid("message", e.to_string()))?;
            check_template(message)?;
        }
        Ok(())
    }

    /// The stored form.
    pub fn to_document(&self) -> JsonDocument {
        let value = serde_json::to_value(self).unwrap_or(serde_json::Value::Null);
        JsonDocument::new(OPTIONS_VERSION, value).unwrap_or_else(|_| JsonDocument::empty())
    }

    /// Reads stored options (an empty document gives the defaults).
    ///
    /// # Errors
    /// [`OptionsError::Document`] for a newer version or unknown fields.
    pub fn from_document(doc: &JsonDocument) -> Result<Self, OptionsError> {
        if doc.version() != OPTIONS_VERSION {
            return Err(OptionsError::Document(format!(
                "version {} is not supported (this build reads version {OPTIONS_VERSION})",
                doc.version()
            )));
        }
        serde_json::from_value(serde_json::Value::Object(doc.body().clone()))
            .map_err(|e| OptionsError::Document(e.to_string()))
    }
}

/// The level a price-level condition watches and the side it fires on, for hysteresis.
pub(crate) fn rearm_level(condition: &Condition) -> Option<(Decimal, Direction)> {
    match condition {
        Condition::Price { op, level, .. } => Some((
            *level,
            match op {
                Comparison::Above | Comparison::AtOrAbove => Direction::Up,
                Comparison::Below | Comparison::AtOrBelow => Direction::Down,
            },
        )),
        Condition::CrossesLevel {
            direction, level, ..
        } => Some((*level, *direction)),
        _ => None,
    }
}

/// Everything the engine keeps about a rule between samples. It changes only when the rule's
/// lifecycle does (or a trailing stop's high moves), so the monitor writes it back only then.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EngineState {
    /// Lifecycle phase.
    pub phase: RulePhase,
    /// Number of times the rule has fired.
    pub episode: i64,
    /// When the condition started to hold, while pending.
    pub pending_since: Option<Timestamp>,
    /// Consecutive evaluations the condition has held, while pending.
    pub pending_count: u32,
    /// When the rule last fired.
    pub last_fired_at: Option<Timestamp>,
    /// Price at the last firing or resolution.
    pub last_price: Option<Decimal>,
    /// The condition's own memory.
    pub memory: Memory,
    /// Why the last sample could not be evaluated (the phase is then
    /// [`RulePhase::Error`], or [`RulePhase::Firing`] for a rule that was firing). Cleared by
    /// the next sample that evaluates.
    pub error: Option<EvalError>,
    /// The start of the flood guard's current window (see
    /// [`FloodGuard`](crate::monitor::FloodGuard)).
    pub flood_since: Option<Timestamp>,
    /// Firings counted in that window.
    pub flood_count: u32,
    /// Reminders sent since the last firing.
    pub reminders: u32,
    /// When the last reminder was sent.
    pub last_reminded_at: Option<Timestamp>,
    /// The last session close a rule evaluated at the close saw (`evaluate: at_session_close`):
    /// its previous sample, and the session it is done with.
    /// Boxed: few rules are evaluated at the close, and every rule's state is kept in memory.
    pub last_close: Option<Box<crate::domain::Sample>>,
    /// The gap the rule is in, if any.
    pub gap: Option<Gap>,
    /// How many no-data alerts the rule has sent (each gap's alert has its own key).
    pub gap_alerts: u32,
}

impl EngineState {
    /// The state of a rule never evaluated.
    pub fn new() -> Self {
        Self {
            phase: RulePhase::Armed,
            episode: 0,
            pending_since: None,
            pending_count: 0,
            last_fired_at: None,
            last_price: None,
            memory: Memory::default(),
            error: None,
            flood_since: None,
            flood_count: 0,
            reminders: 0,
            last_reminded_at: None,
            last_close: None,
            gap: None,
            gap_alerts: 0,
        }
    }

    /// Armed again from the start (a re-armed rule): not firing, pending or in error, the
    /// flood guard and reminders counting afresh. The episode count goes on (alert keys stay
    /// unique); the condition's memory (a trailing stop's high, the last side of a cross) and
    /// the last firing (for the cooldown) stay.
    pub fn rearm(&mut self) {
        *self = Self {
            episode: self.episode,
            last_fired_at: self.last_fired_at,
            last_price: self.last_price,
            memory: self.memory,
            ..Self::new()
        };
    }

    /// The prices it remembers from before a split put in the terms of after it: a trailing
    /// stop's high, the price at the last firing, the last session close it saw.
    pub fn split_adjust(&mut self, ratio: crate::domain::SplitRatio) {
        let adjust = |p: Decimal| ratio.adjust_price(p).filter(|p| *p > Decimal::ZERO);
        self.memory.highest = self.memory.highest.and_then(adjust);
        self.last_price = self.last_price.and_then(adjust);
        if let Some(close) = &mut self.last_close {
            close.split_adjust(ratio);
        }
    }

    /// Counts a firing at `at` in the flood guard's window, which starts at the first firing
    /// it counts and lasts `window`: the firings in the window so far.
    pub fn count_firing(&mut self, at: Timestamp, window: Duration) -> u32 {
        match self.flood_since {
            Some(since) if at - since < window => {
                self.flood_count = self.flood_count.saturating_add(1);
            }
            _ => {
                self.flood_since = Some(at);
                self.flood_count = 1;
            }
        }
        self.flood_count
    }

    /// Reads the state stored for a rule.
    ///
    /// # Errors
    /// The JSON error when the stored memory is not what this build writes.
    pub fn from_stored(stored: &RuleState) -> Result<Self, serde_json::Error> {
        #[derive(Deserialize, Default)]
        #[serde(default)]
        struct Extra {
            pending_count: u32,
            last_fired_at: Option<Timestamp>,
            condition: Memory,
            error: Option<EvalError>,
            flood_since: Option<Timestamp>,
            flood_count: u32,
            reminders: u32,
            last_reminded_at: Option<Timestamp>,
            last_close: Option<crate::domain::Sample>,
            gap: Option<Gap>,
            gap_alerts: u32,
        }
        let extra: Extra = serde_json::from_value(stored.memory.clone())?;
        Ok(Self {
            phase: stored.phase,
            episode: stored.episode,
            pending_since: stored.pending_since,
            pending_count: extra.pending_count,
            last_fired_at: extra.last_fired_at,
            last_price: stored.last_price,
            memory: extra.condition,
            error: extra.error,
            flood_since: extra.flood_since,
            flood_count: extra.flood_count,
            reminders: extra.reminders,
            last_reminded_at: extra.last_reminded_at,
            last_close: extra.last_close.map(Box::new),
            gap: extra.gap,
            gap_alerts: extra.gap_alerts,
        })
    }

    /// The form stored for `rule`.
    ///
    /// An evaluation error is stored as its code (`error`) and its sentence (`error_reason`,
    /// what [`RuleState::error_reason`] shows).
    pub fn to_stored(&self, rule: RuleId, now: Timestamp) -> RuleState {
        let mut memory = serde_json::json!({
            "pending_count": self.pending_count,
            "last_fired_at": self.last_fired_at,
            "condition": self.memory,
        });
        if let Some(since) = self.flood_since {
            memory["flood_since"] = serde_json::json!(since);
            memory["flood_count"] = serde_json::json!(self.flood_count);
        }
        if let Some(at) = self.last_reminded_at {
            memory["reminders"] = serde_json::json!(self.reminders);
            memory["last_reminded_at"] = serde_json::json!(at);
        }
        if let Some(close) = &self.last_close {
            memory["last_close"] = serde_json::json!(close);
        }
        if let Some(gap) = self.gap {
            memory["gap"] = serde_json::json!(gap);
            memory["gap_reason"] = serde_json::json!(gap.reason.describe());
        }
        if self.gap_alerts > 0 {
            memory["gap_alerts"] = serde_json::json!(self.gap_alerts);
        }
        if let Some(error) = self.error {
            memory["error"] = serde_json::json!(error);
            memory["error_reason"] = serde_json::json!(error.to_string());
        }
        RuleState {
            rule_id: rule,
            phase: self.phase,
            episode: self.episode,
            pending_since: self.pending_since,
            last_price: self.last_price,
            memory,
            updated_at: now,
        }
    }
}

impl Default for EngineState {
    fn default() -> Self {
        Self::new()
    }
}

/// The schedule of a rule: when it began, when it stops, and until when it is quiet.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Schedule {
    /// When the rule was created: samples taken before do not count as its previous sample.
    pub created_at: Option<Timestamp>,
    /// After this instant the rule is not evaluated.
    pub expires_at: Option<Timestamp>,
    /// Until this instant the rule does not fire.
    pub snoozed_until: Option<Timestamp>,
}

/// What a step decided.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Transition {
    /// The rule fired: store one alert for this episode.
    Fired {
        /// The episode (1 for the first firing).
        episode: i64,
        /// The price that fired it.
        price: Decimal,
        /// The quote's time.
        at: Timestamp,
    },
    /// The condition still holds after firing, and a reminder is due (the `repeat` option).
    Reminder {
        /// The episode that goes on.
        episode: i64,
        /// Which reminder of the episode (1 for the first).
        reminder: u32,
        /// The price now.
        price: Decimal,
        /// The quote's time.
        at: Timestamp,
    },
    /// The rule has no data (or cannot be evaluated) in market hours and its policy is to say
    /// so (`alert`): once per gap.
    NoData {
        /// The rule's episode.
        episode: i64,
        /// Which no-data alert of the rule (1 for the first).
        gap: u32,
        /// Why.
        reason: GapReason,
        /// The last price it saw (0 when none).
        price: Decimal,
        /// When the gap began.
        at: Timestamp,
    },
    /// The condition stopped holding after firing, and the rule asks to hear about it.
    Resolved {
        /// The episode that ends.
        episode: i64,
        /// The price at resolution.
        price: Decimal,
        /// The quote's time.
        at: Timestamp,
    },
}

/// Advances a rule by one sample.
///
/// `view` is `None` when the provider had nothing for the symbol. `now` is the evaluation
/// time (the quote's own time in a backtest). A missing or stale quote (older than
/// `stale_after_minutes` at `now`) moves the rule to no-data (unless it is firing) and never
/// fires; a quote not newer than the symbol's previous sample (a duplicate, or out of order)
/// changes nothing. A sample the condition cannot be evaluated on ([`EvalError`]: a value
/// beyond what a decimal holds) moves the rule to error (a firing rule stays firing) with
/// the reason in [`EngineState::error`], and never fires or resolves.
pub fn step(
    condition: &Condition,
    options: &RuleOptions,
    schedule: Schedule,
    state: &mut EngineState,
    view: Option<&MarketView<'_>>,
    now: Timestamp,
) -> Option<Transition> {
    if schedule.expires_at.is_some_and(|at| now >= at) {
        return None;
    }
    let view = match view {
        Some(v)
            if now - v.quote.at <= Duration::minutes(i64::from(options.stale_after_minutes)) =>
        {
            v
        }
        missing => {
            let reason = if missing.is_some() {
                GapReason::Stale
            } else {
                GapReason::NoQuote
            };
            return gap(state, options, options.no_data, reason, now);
        }
    };
    let quote = view.quote;
    // A combination over several symbols is evaluated when any of them has a fresh sample.
    if view.previous.is_some_and(|prev| quote.at <= prev.at)
        && !view.others.is_some_and(|o| o.fresh)
    {
        return None;
    }
    // Evaluated at the close: once per session, on the first quote at or after the close,
    // against the previous session's close.
    let at_close;
    let view = match options.evaluate.at_session_close(condition) {
        // Every sample, or a closed minute bar (the monitor gives the rule those as samples).
        false => view,
        true => {
            let date = super::indicators::exchange_date(quote.at);
            let (_, close) = super::calendar::regular_hours(date)?;
            if quote.at < close
                || state
                    .last_close
                    .as_deref()
                    .is_some_and(|c| super::indicators::exchange_date(c.at) == date)
            {
                return None;
            }
            at_close = MarketView {
                previous: state.last_close.as_deref().copied(),
                ..*view
            };
            state.last_close = Some(Box::new(crate::domain::Sample::new(quote.at, quote.price)));
            &at_close
        }
    };
    let signal = match evaluate(condition, &mut state.memory, view, schedule.created_at) {
        Ok(signal) => signal,
        Err(error) => {
            state.error = Some(error);
            return gap(state, options, options.on_error, GapReason::Error, now);
        }
    };
    state.error = None;
    if signal == Signal::Unknown {
        // Not enough for the condition yet (an average's period, the 52 weeks of a 52-week
        // extreme, an operand's data): no data, not armed.
        return gap(
            state,
            options,
            options.no_data,
            GapReason::NotEnoughData,
            now,
        );
    }
    state.gap = None;

    if state.phase == RulePhase::Firing {
        if options.frequency == Frequency::Once {
            return None;
        }
        // The level a firing rule must clear to re-arm, checked like the condition.
        let cleared = match (options.hysteresis_percent, rearm_level(condition)) {
            (Some(h), Some((level, Direction::Up))) => {
                below_by(level, h).map(|rearm| quote.price < rearm)
            }
            (Some(h), Some((level, Direction::Down))) => {
                above_by(level, h).map(|rearm| quote.price > rearm)
            }
            _ => Some(true),
        };
        let Some(cleared) = cleared else {
            state.error = Some(EvalError::Hysteresis);
            return gap(state, options, options.on_error, GapReason::Error, now);
        };
        let rearmed = signal == Signal::False && cleared;
        if !rearmed {
            return (signal == Signal::True)
                .then(|| reminder(options, schedule, state, quote.price, quote.at, now))
                .flatten();
        }
        state.phase = RulePhase::Resolved;
        state.last_price = Some(quote.price);
        // A trailing stop is armed again from here.
        state.memory.highest = Some(quote.price);
        return options.notify_on_resolve.then_some(Transition::Resolved {
            episode: state.episode,
            price: quote.price,
            at: quote.at,
        });
    }

    if signal != Signal::True {
        state.phase = RulePhase::Armed;
        state.pending_since = None;
        state.pending_count = 0;
        return None;
    }
    let quiet = schedule.snoozed_until.is_some_and(|until| now < until)
        || state.last_fired_at.is_some_and(|last| {
            quote.at - last < Duration::minutes(i64::from(options.cooldown_minutes))
                || (options.frequency == Frequency::OncePerDay && same_exchange_day(last, quote.at))
        });
    if quiet {
        state.phase = RulePhase::Snoozed;
        return None;
    }
    if let Some(pending) = options.pending {
        let since = *state.pending_since.get_or_insert(quote.at);
        state.pending_count += 1;
        let held = match pending {
            Pending::Minutes(m) => quote.at - since >= Duration::minutes(i64::from(m)),
            Pending::Evaluations(n) => state.pending_count >= n,
        };
        if !held {
            state.phase = RulePhase::Pending;
            return None;
        }
    }
    state.episode += 1;
    state.phase = RulePhase::Firing;
    state.last_fired_at = Some(quote.at);
    state.reminders = 0;
    state.last_reminded_at = None;
    state.last_price = Some(quote.price);
    state.pending_since = None;
    state.pending_count = 0;
    Some(Transition::Fired {
        episode: state.episode,
        price: quote.price,
        at: quote.at,
    })
}

/// The reminder due at `at` for a rule still firing, if any: `every_minutes` after the firing
/// or the last reminder, not while snoozed, not at or after `until`, at most `times`.
fn reminder(
    options: &RuleOptions,
    schedule: Schedule,
    state: &mut EngineState,
    price: Decimal,
    at: Timestamp,
    now: Timestamp,
) -> Option<Transition> {
    let repeat = options.repeat?;
    if schedule.snoozed_until.is_some_and(|until| now < until)
        || repeat.until.is_some_and(|until| at >= until)
        || repeat.times.is_some_and(|times| state.reminders >= times)
    {
        return None;
    }
    let since = state.last_reminded_at.or(state.last_fired_at)?;
    if at - since < Duration::minutes(i64::from(repeat.every_minutes)) {
        return None;
    }
    state.reminders = state.reminders.saturating_add(1);
    state.last_reminded_at = Some(at);
    Some(Transition::Reminder {
        episode: state.episode,
        reminder: state.reminders,
        price,
        at,
    })
}

/// A sample the rule cannot be evaluated on: error (a firing rule stays firing), no alert.
/// A rule in a gap (no data, or a sample it cannot evaluate), under its policy: a firing
/// rule keeps firing, resolves at once or after N minutes of market time; any other shows
/// `no_data` (or `error`); `alert` says so once per gap.
fn gap(
    state: &mut EngineState,
    options: &RuleOptions,
    policy: GapPolicy,
    reason: GapReason,
    now: Timestamp,
) -> Option<Transition> {
    let idle = if reason == GapReason::Error {
        RulePhase::Error
    } else {
        RulePhase::NoData
    };
    let started = state.gap.is_none();
    let gap = state.gap.get_or_insert(Gap {
        since: now,
        reason,
        minutes: 0,
        last: None,
    });
    gap.reason = reason;
    if let GapPolicy::KeepFiringFor(_) = policy {
        // Market time: within a day, the minutes between two evaluations (which happen in
        // the rule's hours); across days, the minutes of the regular sessions between them,
        // so a night, a weekend or a holiday do not count and a gap over several sessions
        // of daily evaluations counts them all.
        if let Some(last) = gap.last {
            let more = if same_exchange_day(last, now) {
                u32::try_from((now - last).num_minutes()).unwrap_or(u32::MAX)
            } else {
                super::calendar::market_minutes(last, now)
            };
            gap.minutes = gap.minutes.saturating_add(more);
        }
        gap.last = Some(now);
    }
    let (since, minutes) = (gap.since, gap.minutes);
    let price = state.last_price.unwrap_or_default();
    if state.phase == RulePhase::Firing {
        let resolve = match policy {
            GapPolicy::KeepState | GapPolicy::Alert => false,
            GapPolicy::Resolve => true,
            GapPolicy::KeepFiringFor(m) => minutes >= m,
        };
        if resolve {
            state.phase = idle;
            return options.notify_on_resolve.then_some(Transition::Resolved {
                episode: state.episode,
                price,
                at: now,
            });
        }
    } else {
        state.phase = idle;
        state.pending_since = None;
        state.pending_count = 0;
    }
    (started && policy == GapPolicy::Alert).then(|| {
        state.gap_alerts = state.gap_alerts.saturating_add(1);
        Transition::NoData {
            episode: state.episode,
            gap: state.gap_alerts,
            reason,
            price,
            at: since,
        }
    })
}

fn same_exchange_day(a: Timestamp, b: Timestamp) -> bool {
    a.with_timezone(&New_York).date_naive() == b.with_timezone(&New_York).date_naive()
}
