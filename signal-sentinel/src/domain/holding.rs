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

impl Holding {
    /// The position in the terms of after a split of `ratio` whose ex-date starts at `since`,
    /// applied at `now`: quantity × new ÷ old, cost per unit × old ÷ new. `None` when it is
    /// not to change: a brokerage's (its next sync brings the broker's figures), one entered
    /// since the ex-date (in the new terms already; a clock behind its entry replays the past,
    /// and it counts as older), or one whose figures would not fit.
    pub fn split_adjusted(
        &self,
        ratio: super::SplitRatio,
        since: Timestamp,
        now: Timestamp,
    ) -> Option<Self> {
        let entered_since = self.updated_at >= since && self.updated_at <= now;
        if self.source == HoldingSource::Plaid || entered_since {
            return None;
        }
        let cost_basis = match self.cost_basis {
            Some(cost) => Some(ratio.adjust_price(cost)?),
            None => None,
        };
        Some(Self {
            quantity: ratio.adjust_quantity(self.quantity)?,
            cost_basis,
            ..self.clone()
        })
    }
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_adjust_typed_in_positions_only() {
        let d = |s: &str| s.parse::<Decimal>().unwrap();
        let at = |s: &str| s.parse::<Timestamp>().unwrap();
        let held = Holding {
            id: HoldingId::new(1),
            owner: UserId::new(1),
            account: String::new(),
            symbol: Symbol::parse("AAPL").unwrap(),
            quantity: d("3"),
            cost_basis: Some(d("500")),
            source: HoldingSource::Manual,
            connection: None,
            updated_at: at("2026-12-01T15:00:00Z"),
        };
        let ratio = crate::domain::SplitRatio::new(d("4"), d("1")).unwrap();
        let (since, now) = (at("2026-12-08T05:00:00Z"), at("2026-12-08T14:31:00Z"));
        let adjusted = held.split_adjusted(ratio, since, now).unwrap();
        assert_eq!(
            (adjusted.quantity, adjusted.cost_basis),
            (d("12"), Some(d("125")))
        );
        let from_broker = Holding {
            source: HoldingSource::Plaid,
            ..held.clone()
        };
        assert_eq!(from_broker.split_adjusted(ratio, since, now), None);
        let entered_since = Holding {
            updated_at: at("2026-12-08T14:00:00Z"),
            ..held.clone()
        };
        assert_eq!(entered_since.split_adjusted(ratio, since, now), None);
        let no_cost = Holding {
            cost_basis: None,
            ..held
        };
        assert_eq!(
            no_cost
                .split_adjusted(ratio, since, now)
                .map(|h| h.quantity),
            Some(d("12"))
        );
    }
}
