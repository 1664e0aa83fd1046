use rust_decimal::Decimal;
use serde::Serialize;

use super::{ConnectionId, HoldingId, Symbol, UserId};
use crate::time::Timestamp;

stored_enum! {
    /// Where a holding came from.
    pub enum HoldingSource("holding source") {
        /// Typed in by the user.
        Manual => "manual",
        /// Imported from a CSV file.
        Csv => "csv",
        /// Synchronised from a brokerage through Plaid.
        Plaid => "plaid",
    }
}

/// A position in a user's portfolio.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Holding {
    /// Identifier.
    pub id: HoldingId,
    /// Owner.
    pub owner: UserId,
    /// Account name at the broker (`""` when the user keeps one account).
    pub account: String,
    /// The instrument.
    pub symbol: Symbol,
    /// Units held (fractional shares allowed).
    pub quantity: Decimal,
    /// Average cost per unit, when known.
    pub cost_basis: Option<Decimal>,
    /// Where it came from.
    pub source: HoldingSource,
    /// The brokerage connection that reported it (synchronised holdings only).
    pub connection: Option<ConnectionId>,
    /// When it last changed.
    pub updated_at: Timestamp,
}

/// A position to store; replaces the one with the same owner, account and symbol.
#[derive(Debug, Clone)]
pub struct NewHolding {
    /// Owner.
    pub owner: UserId,
    /// Account name at the broker (`""` for none).
    pub account: String,
    /// The instrument.
    pub symbol: Symbol,
    /// Units held.
    pub quantity: Decimal,
    /// Average cost per unit.
    pub cost_basis: Option<Decimal>,
    /// Where it came from.
    pub source: HoldingSource,
    /// The brokerage connection that reported it (synchronised holdings only).
    pub connection: Option<ConnectionId>,
}
