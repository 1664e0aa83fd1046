//! The rule engine: what a rule's condition means and how it is written.
//!
//! Everything here is pure — no I/O, no clock, no database — so it can be tested exhaustively
//! and run in the monitor's hot loop.
//!
//! - [`Condition`]: the typed condition, stored as versioned JSON in a rule.
//! - [`parse_rule`] / [`RuleText`]: the short text form people type (`AAPL crosses above 200`),
//!   which round-trips through `Display`. The grammar is documented in `docs/rules.md`.
//! - [`evaluate`]: what a condition says about one quote, given the symbol's daily history.
//! - [`step`]: a rule's lifecycle over successive quotes (pending, firing, resolving,
//!   cooldowns, hysteresis, snooze, expiry), driven by [`RuleOptions`].
//! - [`backtest`]: the alerts a rule would have fired over a series of bars.

mod backtest;
pub mod calendar;
mod condition;
mod evaluate;
pub mod indicators;
mod lifecycle;
pub mod split;
pub(crate) use lifecycle::rearm_level;
mod template;
pub(crate) mod text;

pub use crate::domain::Sample;
pub use backtest::{BacktestAlert, backtest, backtest_series, backtest_with_events};
pub use condition::{
    Average, AverageKind, CONDITION_VERSION, Comparison, Condition, ConditionError, Direction,
    Extreme, MAX_DEPTH, MAX_EVENT_DAYS, MAX_OPERANDS, Move, PORTFOLIO,
};
pub use evaluate::{
    AVERAGE_TIE, Book, BookPosition, EvalError, MarketView, Memory, Others, Signal, evaluate,
    event_note, held_operands, intraday_touch,
};
pub use lifecycle::{
    EngineState, Evaluate, Frequency, Gap, GapPolicy, GapReason, OPTIONS_VERSION, OptionsError,
    Pending, Priority, Repeat, RuleOptions, Schedule, Transition, step,
};
pub use template::{
    DEFAULT_TEMPLATE, MessageContext, PLACEHOLDERS, TemplateError, check_template,
    default_template, render,
};
pub use text::{MAX_RULE_TEXT_LEN, ParseError, RuleText, parse_rule};
