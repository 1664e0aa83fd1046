use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

use super::{RuleId, Symbol, UserId, ValidationError};
use crate::time::Timestamp;

/// A versioned JSON document: how a rule's condition and options are stored.
///
/// Stored as `{"version": N, "type": "...", ...}`. Keeping conditions as data means a new
/// condition type is a new `type` value, not a table change; the version lets a later release
/// read documents an earlier one wrote.
///
/// ```
/// use signal_sentinel::domain::JsonDocument;
///
/// let doc = JsonDocument::new(1, serde_json::json!({"type": "price_above", "level": "200"}))?;
/// assert_eq!(doc.kind(), Some("price_above"));
/// # Ok::<(), signal_sentinel::domain::ValidationError>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "serde_json::Value", into = "serde_json::Value")]
pub struct JsonDocument {
    version: u32,
    body: serde_json::Map<String, serde_json::Value>,
}

impl JsonDocument {
    /// Builds a document of `version` from a JSON object.
    ///
    /// # Errors
    /// [`ValidationError::Field`] when `body` is not a JSON object, or the version is 0.
    pub fn new(version: u32, body: serde_json::Value) -> Result<Self, ValidationError> {
        if version == 0 {
            return Err(ValidationError::field_error(
                "document version",
                "must be 1 or more",
            ));
        }
        match body {
            serde_json::Value::Object(mut body) => {
                body.remove("version");
                Ok(Self { version, body })
            }
            other => Err(ValidationError::field_error(
                "document",
                format!("expected a JSON object, got {}", json_kind(&other)),
            )),
        }
    }

    /// An empty document of version 1 (rules without options).
    pub fn empty() -> Self {
        Self {
            version: 1,
            body: serde_json::Map::new(),
        }
    }

    /// The schema version the document was written with.
    pub fn version(&self) -> u32 {
        self.version
    }

    /// The `type` field, when there is one.
    pub fn kind(&self) -> Option<&str> {
        self.body.get("type").and_then(serde_json::Value::as_str)
    }

    /// The fields other than `version`.
    pub fn body(&self) -> &serde_json::Map<String, serde_json::Value> {
        &self.body
    }
}

impl TryFrom<serde_json::Value> for JsonDocument {
    type Error = ValidationError;

    fn try_from(value: serde_json::Value) -> Result<Self, Self::Error> {
        let version = match value.get("version") {
            Some(v) => v
                .as_u64()
                .and_then(|v| u32::try_from(v).ok())
                .ok_or_else(|| {
                    ValidationError::field_error("document version", "must be a whole number")
                })?,
            None => {
                return Err(ValidationError::field_error(
                    "document version",
                    "the document has no \"version\" field",
                ));
            }
        };
        Self::new(version, value)
    }
}

impl From<JsonDocument> for serde_json::Value {
    fn from(doc: JsonDocument) -> Self {
        let mut body = doc.body;
        body.insert("version".to_owned(), doc.version.into());
        serde_json::Value::Object(body)
    }
}

fn json_kind(v: &serde_json::Value) -> &'static str {
    match v {
        serde_json::Value::Null => "null",
        serde_json::Value::Bool(_) => "a boolean",
        serde_json::Value::Number(_) => "a number",
        serde_json::Value::String(_) => "a string",
        serde_json::Value::Array(_) => "an array",
        serde_json::Value::Object(_) => "an object",
    }
}

/// A user's alert rule on one symbol.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Rule {
    /// Identifier.
    pub id: RuleId,
    /// Owner.
    pub owner: UserId,
    /// The symbol watched.
    pub symbol: Symbol,
    /// The owner's name for the rule.
    pub name: Option<String>,
    /// When the rule fires (versioned JSON; see [`JsonDocument`]).
    pub condition: JsonDocument,
    /// How it fires: cooldown, confirmation, channels … (versioned JSON).
    pub options: JsonDocument,
    /// Whether the monitor evaluates it.
    pub enabled: bool,
    /// When it was created.
    pub created_at: Timestamp,
    /// When it last changed.
    pub updated_at: Timestamp,
    /// When it last fired.
    pub last_triggered_at: Option<Timestamp>,
    /// After this instant the rule is no longer evaluated.
    pub expires_at: Option<Timestamp>,
    /// Until this instant the rule does not fire.
    pub snoozed_until: Option<Timestamp>,
}

/// A rule's id and the time of its last edit.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RuleStamp {
    /// The rule.
    pub id: RuleId,
    /// When it last changed.
    pub updated_at: Timestamp,
    /// Its symbol (which decides the worker shard it falls in).
    pub symbol: Symbol,
}

/// What the log of rule changes holds after a point: each change is a rule inserted, edited
/// (its condition, options, state of being enabled, snooze, last firing …) or deleted, written
/// in the same transaction as the change by whichever process made it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RuleChanges {
    /// `(sequence number, rule)` after the point asked for, oldest first.
    pub changes: Vec<(i64, RuleId)>,
    /// The oldest sequence number still in the log (older ones were pruned); `None` when the
    /// log is empty.
    pub oldest: Option<i64>,
    /// The newest sequence number in the log.
    pub latest: Option<i64>,
}

/// What it takes to create a [`Rule`].
#[derive(Debug, Clone)]
pub struct NewRule {
    /// Owner.
    pub owner: UserId,
    /// The symbol watched.
    pub symbol: Symbol,
    /// The owner's name for the rule.
    pub name: Option<String>,
    /// When the rule fires.
    pub condition: JsonDocument,
    /// How it fires.
    pub options: JsonDocument,
    /// Whether the monitor evaluates it.
    pub enabled: bool,
    /// After this instant the rule is no longer evaluated.
    pub expires_at: Option<Timestamp>,
}

/// Changes to a [`Rule`]; `None` leaves a field as it is, `Some(None)` clears an optional one.
#[derive(Debug, Clone, Default)]
pub struct RuleUpdate {
    /// New symbol.
    pub symbol: Option<Symbol>,
    /// New name.
    pub name: Option<Option<String>>,
    /// New condition.
    pub condition: Option<JsonDocument>,
    /// New options.
    pub options: Option<JsonDocument>,
    /// Enable or disable.
    pub enabled: Option<bool>,
    /// New expiry.
    pub expires_at: Option<Option<Timestamp>>,
    /// Snooze until, or wake.
    pub snoozed_until: Option<Option<Timestamp>>,
    /// Record that the rule fired.
    pub last_triggered_at: Option<Option<Timestamp>>,
}

/// Which rules to list. Rules come back in id order; page with `after` and `limit`.
#[derive(Debug, Clone, Default)]
pub struct RuleFilter {
    /// Only this owner's rules.
    pub owner: Option<UserId>,
    /// Only rules on this symbol.
    pub symbol: Option<Symbol>,
    /// Only enabled (or only disabled) rules.
    pub enabled: Option<bool>,
    /// Only rules with an id above this one.
    pub after: Option<RuleId>,
    /// At most this many rules.
    pub limit: Option<u64>,
    /// Only rules whose symbol falls in one of these shards (see
    /// [`shard_of`](crate::domain::shard_of)).
    pub shards: Option<Vec<u32>>,
}

stored_enum! {
    /// Where a rule stands in its alert lifecycle.
    pub enum RulePhase("rule phase") {
        /// Watching; the condition is not met.
        Armed => "armed",
        /// The condition is met but must hold a while longer before the rule fires.
        Pending => "pending",
        /// Fired; waiting for the condition to clear.
        Firing => "firing",
        /// The condition holds but the user snoozed the rule (or a cooldown runs).
        Snoozed => "snoozed",
        /// Fired, then the condition stopped holding; watching again.
        Resolved => "resolved",
        /// The quote is missing, stale or unusable; the rule neither fires nor resolves.
        NoData => "no_data",
        /// The rule cannot be evaluated (its stored condition is unreadable).
        Error => "error",
    }
}

/// What the monitor remembers about a rule between cycles.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RuleState {
    /// The rule.
    pub rule_id: RuleId,
    /// Lifecycle phase.
    pub phase: RulePhase,
    /// Counts the times the rule has fired; an alert is unique per rule and episode.
    pub episode: i64,
    /// When the condition started to hold, while pending.
    pub pending_since: Option<Timestamp>,
    /// The price at the last firing or resolution.
    pub last_price: Option<Decimal>,
    /// Condition-specific memory, e.g. indicator windows or the high of a trailing stop.
    pub memory: serde_json::Value,
    /// When the state last changed.
    pub updated_at: Timestamp,
}

impl RuleState {
    /// Why the rule's last sample could not be evaluated (phase `error`, or `firing` for a
    /// rule that was firing), in words for its owner.
    pub fn error_reason(&self) -> Option<&str> {
        self.memory.get("error_reason")?.as_str()
    }

    /// The gap the rule is in — no data, or samples it cannot evaluate, in market hours —
    /// since when and why in words (`the latest quote is stale` …).
    pub fn gap(&self) -> Option<(Timestamp, &str)> {
        let gap = self.memory.get("gap")?;
        let since = serde_json::from_value(gap.get("since")?.clone()).ok()?;
        Some((since, self.memory.get("gap_reason")?.as_str()?))
    }

    /// The state of a rule that has never been evaluated.
    pub fn initial(rule_id: RuleId, at: Timestamp) -> Self {
        Self {
            rule_id,
            phase: RulePhase::Armed,
            episode: 0,
            pending_since: None,
            last_price: None,
            memory: serde_json::Value::Object(serde_json::Map::new()),
            updated_at: at,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn document_round_trips_with_its_version() {
        let doc = JsonDocument::new(2, json!({"type": "rsi_above", "period": 14})).unwrap();
        let value = serde_json::to_value(&doc).unwrap();
        assert_eq!(
            value,
            json!({"version": 2, "type": "rsi_above", "period": 14})
        );
        let back: JsonDocument = serde_json::from_value(value).unwrap();
        assert_eq!(back, doc);
        assert_eq!(back.version(), 2);
    }

    #[test]
    fn document_rejects_non_objects_and_missing_versions() {
        assert_eq!(
            JsonDocument::new(1, json!([1])).unwrap_err().to_string(),
            "invalid document: expected a JSON object, got an array"
        );
        assert!(serde_json::from_value::<JsonDocument>(json!({"type": "x"})).is_err());
        assert!(serde_json::from_value::<JsonDocument>(json!({"version": "one"})).is_err());
    }

    #[test]
    fn phases_round_trip() {
        for p in RulePhase::ALL {
            assert_eq!(p.as_str().parse::<RulePhase>().unwrap(), *p);
            assert_eq!(serde_json::to_value(p).unwrap(), json!(p.as_str()));
        }
        assert_eq!(
            "sleeping".parse::<RulePhase>().unwrap_err().to_string(),
            "invalid rule phase: unknown value \"sleeping\"; expected one of: armed, pending, firing, snoozed, resolved, no_data, error"
        );
    }
}
