//! Rules as a text file, one rule per line: what `invest rules export` writes and
//! `invest rules import` reads (and `GET /api/rules/export`, `POST /api/rules/import`).
//!
//! ```text
//! # Signal Sentinel rules
//! AAPL crosses above 200
//! TSLA day change <= -5% {"name":"tsla drop","options":{"frequency":"once_per_day"}}
//! ```
//!
//! A line is the rule's canonical text, then — when anything differs from the defaults — a
//! JSON object from the first `{` to the end of the line: `name`, `enabled` (written only when
//! `false`), `expires_at`, and `options` (the stored options, as `RuleOut.options` in the API).
//! Blank lines and lines starting with `#` are skipped.

use serde::{Deserialize, Serialize};

use super::RuleInput;
use crate::domain::Rule;
use crate::engine::{Condition, RuleOptions};
use crate::time::Timestamp;

/// Most lines a rules file may have (comments and blank lines included).
pub const MAX_LINES: usize = 10_000;
/// Most errors reported for one file; the count of the others is given.
const MAX_REPORTED: usize = 20;

/// What a line holds besides the rule's text.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct Extras {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    enabled: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    expires_at: Option<Timestamp>,
    /// The options that differ from the defaults (read with the defaults filled in).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    options: Option<serde_json::Value>,
}

/// The line of a stored rule: its canonical text and what differs from the defaults. A rule
/// whose stored condition or options this version cannot read is written as a comment, so an
/// import of the file skips it rather than changing it.
pub fn export_line(rule: &Rule) -> String {
    let (Ok(condition), Ok(options)) = (
        Condition::from_document(&rule.condition),
        RuleOptions::from_document(&rule.options),
    ) else {
        return format!(
            "# rule #{} on {} cannot be read by this version",
            rule.id, rule.symbol
        );
    };
    let extras = Extras {
        name: rule.name.clone(),
        enabled: (!rule.enabled).then_some(false),
        expires_at: rule.expires_at,
        options: changed_options(&options),
    };
    let text = format!("{} {condition}", rule.symbol);
    if extras == Extras::default() {
        text
    } else {
        // Serializing these plain fields cannot fail.
        format!(
            "{text} {}",
            serde_json::to_string(&extras).unwrap_or_default()
        )
    }
}

/// The options that differ from the defaults, as JSON (`None` when none does).
fn changed_options(options: &RuleOptions) -> Option<serde_json::Value> {
    let defaults = serde_json::to_value(RuleOptions::default()).ok()?;
    let mut value = serde_json::to_value(options).ok()?;
    let object = value.as_object_mut()?;
    object.retain(|key, v| defaults.get(key) != Some(v));
    (!object.is_empty()).then_some(value)
}

/// The whole file for `rules`, with a header comment.
pub fn export(rules: &[Rule], at: Timestamp) -> String {
    let mut out = format!(
        "# Signal Sentinel rules, exported {} — one per line: the rule, then its name and options as JSON\n",
        at.format("%Y-%m-%dT%H:%M:%SZ")
    );
    for rule in rules {
        out.push_str(&export_line(rule));
        out.push('\n');
    }
    out
}

/// A line of a rules file that cannot be read: its number (from 1) and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LineError {
    /// The line, counted from 1.
    pub line: usize,
    /// What is wrong.
    pub message: String,
}

/// Reads a rules file: each rule line with its number, or every line that cannot be read (at
/// most 20 listed, then how many more). Nothing is partly read: a file with an error gives
/// no rules.
///
/// # Errors
/// The lines that cannot be read, in order; a file of more than [`MAX_LINES`] lines is one
/// error on the first line past the limit.
pub fn parse(text: &str) -> Result<Vec<(usize, RuleInput)>, Vec<LineError>> {
    let mut rules = Vec::new();
    let mut errors = Vec::new();
    for (i, line) in text.lines().enumerate() {
        let number = i + 1;
        if number > MAX_LINES {
            return Err(vec![LineError {
                line: number,
                message: format!("a rules file has at most {MAX_LINES} lines"),
            }]);
        }
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        match parse_line(line) {
            Ok(input) => rules.push((number, input)),
            Err(message) => errors.push(LineError {
                line: number,
                message,
            }),
        }
    }
    if errors.is_empty() {
        Ok(rules)
    } else {
        let more = errors.len().saturating_sub(MAX_REPORTED);
        errors.truncate(MAX_REPORTED);
        if more > 0 {
            errors.push(LineError {
                line: 0,
                message: format!("and {more} more lines with errors"),
            });
        }
        Err(errors)
    }
}

fn parse_line(line: &str) -> Result<RuleInput, String> {
    let (text, extras) = match line.find('{') {
        Some(at) => {
            let extras: Extras = serde_json::from_str(&line[at..])
                .map_err(|e| format!("the name and options after the rule: {e}"))?;
            (line[..at].trim_end(), extras)
        }
        None => (line, Extras::default()),
    };
    // The rule's own checks (text, options against the condition, name) come with the
    // import, as for a rule added by hand.
    crate::engine::parse_rule(text).map_err(|e| e.to_string())?;
    let options = match extras.options {
        Some(value) => serde_json::from_value::<RuleOptions>(value)
            .map_err(|e| format!("the options after the rule: {e}"))?,
        None => RuleOptions::default(),
    };
    Ok(RuleInput {
        text: text.to_owned(),
        name: extras.name,
        options,
        disabled: extras.enabled == Some(false),
        expires_at: extras.expires_at,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::{RuleId, UserId};
    use crate::rules::prepare_rule;

    fn stored(input: RuleInput) -> Rule {
        let new = prepare_rule(UserId::new(1), input).unwrap();
        let at = chrono::DateTime::parse_from_rfc3339("2026-12-07T12:00:00Z")
            .unwrap()
            .to_utc();
        Rule {
            id: RuleId::new(7),
            owner: new.owner,
            symbol: new.symbol,
            name: new.name,
            condition: new.condition,
            options: new.options,
            enabled: new.enabled,
            created_at: at,
            updated_at: at,
            last_triggered_at: None,
            expires_at: new.expires_at,
            snoozed_until: None,
        }
    }

    #[test]
    fn lines_round_trip() {
        let plain = stored(RuleInput {
            text: "aapl crosses above 200".into(),
            ..RuleInput::default()
        });
        assert_eq!(export_line(&plain), "AAPL crosses above 200");
        let full = stored(RuleInput {
            text: "TSLA day change <= -5% and SPY day change < 0%".into(),
            name: Some("tsla \"drop\" {x}".into()),
            options: RuleOptions {
                cooldown_minutes: 30,
                ..RuleOptions::default()
            },
            disabled: true,
            expires_at: None,
        });
        let line = export_line(&full);
        assert!(
            line.starts_with("TSLA day change <= -5% and SPY day change < 0% {\"name\":"),
            "{line}"
        );
        let file = export(&[plain.clone(), full.clone()], full.created_at);
        let parsed = parse(&file).unwrap();
        assert_eq!(parsed.len(), 2);
        assert_eq!(parsed[0].0, 2);
        let again = stored(parsed[1].1.clone());
        assert_eq!(
            (&again.condition, &again.options, &again.name, again.enabled),
            (&full.condition, &full.options, &full.name, full.enabled)
        );
    }

    #[test]
    fn errors_name_their_lines_and_nothing_is_read() {
        let file = "# mine\n\nAAPL > 1\nAAPL crosses abve 2\nAAPL > 3 {\"colour\": 1}\nAAPL > 4 {\"options\": {\"cooldown_minutes\": -1}}\n";
        let errors = parse(file).unwrap_err();
        let lines: Vec<usize> = errors.iter().map(|e| e.line).collect();
        assert_eq!(lines, [4, 5, 6]);
        assert!(errors[0].message.starts_with("column 14: expected 'above'"));
        assert!(
            errors[1].message.contains("unknown field `colour`"),
            "{}",
            errors[1].message
        );
        let many: String = (0..30).map(|_| "AAPL >\n").collect();
        let errors = parse(&many).unwrap_err();
        assert_eq!(errors.len(), 21);
        assert_eq!(errors[20].message, "and 10 more lines with errors");
        let long: String = (0..=MAX_LINES).map(|_| "\n").collect();
        assert_eq!(parse(&long).unwrap_err()[0].line, MAX_LINES + 1);
    }
}
