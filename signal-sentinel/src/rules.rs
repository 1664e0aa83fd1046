//! Rules as users write them: text and options in, a validated rule out.

use thiserror::Error;

pub mod file;
pub mod words;

use crate::domain::{NewRule, UserId};
use crate::engine::{OptionsError, ParseError, RuleOptions, parse_rule};
use crate::time::Timestamp;

/// Longest rule name accepted, in characters.
pub const MAX_NAME_LEN: usize = 100;

/// A rule as a user submits it.
#[derive(Debug, Clone, Default)]
pub struct RuleInput {
    /// The rule in the text form, e.g. `AAPL crosses above 200` (see `docs/rules.md`).
    pub text: String,
    /// A name for it.
    pub name: Option<String>,
    /// How it fires.
    pub options: RuleOptions,
    /// Whether the monitor evaluates it (rules start disabled only when asked).
    pub disabled: bool,
    /// After this instant it is no longer evaluated.
    pub expires_at: Option<Timestamp>,
}

/// Why a submitted rule is refused.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum RuleInputError {
    /// The text is not a rule (with the column and a hint).
    #[error("rule: {0}")]
    Text(#[from] ParseError),
    /// The options do not fit the condition, or the message template names an unknown
    /// placeholder.
    #[error("options: {0}")]
    Options(#[from] OptionsError),
    /// The name is empty or too long.
    #[error("name: {0}")]
    Name(String),
}

/// Checks a submitted rule and turns it into one to store: the text parses, its values are in
/// range, the options fit the condition and the message template uses only known placeholders.
///
/// ```
/// use signal_sentinel::domain::UserId;
/// use signal_sentinel::rules::{RuleInput, prepare_rule};
///
/// let rule = prepare_rule(UserId::new(1), RuleInput { text: "nvda rsi(14) > 70".into(), ..RuleInput::default() })?;
/// assert_eq!(rule.symbol.as_str(), "NVDA");
/// assert!(rule.enabled);
/// # Ok::<(), signal_sentinel::rules::RuleInputError>(())
/// ```
///
/// # Errors
/// [`RuleInputError`] saying what to change.
pub fn prepare_rule(owner: UserId, input: RuleInput) -> Result<NewRule, RuleInputError> {
    let rule = parse_rule(&input.text)?;
    input.options.validate(&rule.condition)?;
    let name = match input.name.map(|n| n.trim().to_owned()) {
        Some(n) if n.is_empty() => return Err(RuleInputError::Name("must not be empty".into())),
        Some(n) if n.chars().count() > MAX_NAME_LEN => {
            return Err(RuleInputError::Name(format!(
                "must be at most {MAX_NAME_LEN} characters"
            )));
        }
        Some(n) => {
            crate::domain::check_text(&n, false)
                .map_err(|e| RuleInputError::Name(e.to_string()))?;
            Some(n)
        }
        None => None,
    };
    Ok(NewRule {
        owner,
        symbol: rule.symbol,
        name,
        condition: rule.condition.to_document(),
        options: input.options.to_document(),
        enabled: !input.disabled,
        expires_at: input.expires_at,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::Condition;

    fn input(text: &str) -> RuleInput {
        RuleInput {
            text: text.into(),
            ..RuleInput::default()
        }
    }

    #[test]
    fn refuses_what_cannot_work() {
        let owner = UserId::new(1);
        let err = prepare_rule(owner, input("AAPL crosses abve 200")).unwrap_err();
        assert!(err.to_string().starts_with("rule: column 14:"), "{err}");
        let mut bad_template = input("AAPL > 200");
        bad_template.options.message = Some("{{symbol}} {{prize}}".into());
        let err = prepare_rule(owner, bad_template).unwrap_err();
        assert!(
            err.to_string()
                .starts_with("options: message: unknown placeholder {{prize}}"),
            "{err}"
        );
        let mut nameless = input("AAPL > 200");
        nameless.name = Some("  ".into());
        assert_eq!(
            prepare_rule(owner, nameless).unwrap_err().to_string(),
            "name: must not be empty"
        );
    }

    #[test]
    fn stores_the_condition_as_versioned_json() {
        let rule = prepare_rule(UserId::new(1), input("TSLA day change <= -5%")).unwrap();
        let condition = Condition::from_document(&rule.condition).unwrap();
        assert_eq!(condition.to_string(), "day change <= -5%");
        assert_eq!(rule.condition.version(), 1);
        assert_eq!(
            RuleOptions::from_document(&rule.options).unwrap(),
            RuleOptions::default()
        );
    }
}
