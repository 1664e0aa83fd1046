//! The rule engine: what a rule's condition means and how it is written.
//!
//! Everything here is pure — no I/O, no clock, no database — so it can be tested exhaustively
//! and run in the monitor's hot loop.
//!
//! - [`Condition`]: the typed condition, stored as versioned JSON in a rule.
//! - [`parse_rule`] / [`RuleText`]: the short text form people type (`AAPL crosses above 200`),
//!   which round-trips through `Display`. The grammar is documented in `docs/rules.md`.

mod condition;
mod text;

pub use condition::{
    Average, AverageKind, CONDITION_VERSION, Comparison, Condition, ConditionError, Direction,
    Extreme, Move,
};
pub use text::{ParseError, RuleText, parse_rule};
