//! Alert message templates: text with `{{placeholder}}`s, checked when a rule is saved.

use std::cell::RefCell;

use thiserror::Error;

/// The placeholders a template may use.
pub const PLACEHOLDERS: &[&str] = &["symbol", "price", "condition", "change_pct", "time", "rule"];

/// The message used when a rule has no template of its own (and its condition no default of
/// its own, see [`default_template`]).
pub const DEFAULT_TEMPLATE: &str = "{{symbol}} {{condition}}: now {{price}}";

/// The default message of a condition type: the generic one reads well for levels, crosses
/// and extremes ("AAPL crosses above 200: now 201.50"); moves from the close, volume, RSI, stops
/// and gaps say what happened first.
pub fn default_template(condition: &super::Condition) -> &'static str {
    use super::Condition;
    match condition {
        Condition::DayChange { .. } => {
            "{{symbol}} {{change_pct}}% today: now {{price}} ({{condition}})"
        }
        Condition::VolumeSpike { .. } => "{{symbol}} volume spike ({{condition}}): now {{price}}",
        Condition::Rsi { .. } => "{{symbol}} {{condition}}, price {{price}}",
        Condition::TrailingStop { .. } => {
            "{{symbol}} fell through its trailing stop ({{condition}}): now {{price}}"
        }
        Condition::Gap { .. } => "{{symbol}} opened with a {{condition}}: now {{price}}",
        Condition::PositionBelowCost { .. } => "Your {{symbol}} is {{condition}}: now {{price}}",
        Condition::PositionDayMove { .. } => {
            "Your {{symbol}} moved {{change_pct}}% today: now {{price}}"
        }
        Condition::PositionWeight { .. } => {
            "{{symbol}} grew to more than its share ({{condition}}): now {{price}}"
        }
        Condition::Earnings { .. } => {
            "{{symbol}} reports earnings soon ({{condition}}): now {{price}}"
        }
        Condition::ExDividend { .. } => {
            "{{symbol}} goes ex-dividend soon ({{condition}}): now {{price}}"
        }
        Condition::SplitAnnounced => "{{symbol}} has a split announced: now {{price}}",
        _ => DEFAULT_TEMPLATE,
    }
}

/// A template that names an unknown placeholder or leaves one open.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum TemplateError {
    /// `{{name}}` is not one of [`PLACEHOLDERS`].
    #[error("unknown placeholder {{{{{name}}}}} at character {position}; use one of: {}", PLACEHOLDERS.iter().map(|p| format!("{{{{{p}}}}}")).collect::<Vec<_>>().join(", "))]
    UnknownPlaceholder {
        /// The name used.
        name: String,
        /// Its 1-based character position.
        position: usize,
    },
    /// `{{` without a closing `}}`.
    #[error("placeholder opened at character {position} is not closed with }}}}")]
    Unclosed {
        /// 1-based character position of the `{{`.
        position: usize,
    },
}

/// Values for the placeholders.
#[derive(Debug, Clone, Copy)]
pub struct MessageContext<'a> {
    /// `{{symbol}}`
    pub symbol: &'a str,
    /// `{{price}}`
    pub price: &'a str,
    /// `{{condition}}`
    pub condition: &'a str,
    /// `{{change_pct}}` (empty when unknown)
    pub change_pct: &'a str,
    /// `{{time}}`
    pub time: &'a str,
    /// `{{rule}}` (the rule's name, or its text)
    pub rule: &'a str,
}

impl MessageContext<'_> {
    fn get(&self, name: &str) -> &str {
        match name {
            "symbol" => self.symbol,
            "price" => self.price,
            "condition" => self.condition,
            "change_pct" => self.change_pct,
            "time" => self.time,
            "rule" => self.rule,
            _ => "",
        }
    }
}

/// Checks a template: every `{{…}}` is closed and names a known placeholder.
///
/// # Errors
/// [`TemplateError`] for the first problem found.
pub fn check_template(template: &str) -> Result<(), TemplateError> {
    walk(template, |_| {}, |_| {})
}

/// Renders a template. A template that does not pass [`check_template`] (stored before a
/// check existed, say) is returned as it is rather than half-rendered.
pub fn render(template: &str, context: &MessageContext<'_>) -> String {
    let out = RefCell::new(String::with_capacity(template.len() + 32));
    match walk(
        template,
        |text| out.borrow_mut().push_str(text),
        |name| out.borrow_mut().push_str(context.get(name)),
    ) {
        Ok(()) => out.into_inner(),
        Err(_) => template.to_owned(),
    }
}

fn walk(
    template: &str,
    mut on_text: impl FnMut(&str),
    mut on_placeholder: impl FnMut(&str),
) -> Result<(), TemplateError> {
    let mut rest = template;
    let mut consumed = 0;
    while let Some(open) = rest.find("{{") {
        on_text(&rest[..open]);
        let position = template[..consumed + open].chars().count() + 1;
        let after = &rest[open + 2..];
        let Some(close) = after.find("}}") else {
            return Err(TemplateError::Unclosed { position });
        };
        let name = after[..close].trim();
        if !PLACEHOLDERS.contains(&name) {
            return Err(TemplateError::UnknownPlaceholder {
                name: name.to_owned(),
                position,
            });
        }
        on_placeholder(name);
        let advance = open + 2 + close + 2;
        consumed += advance;
        rest = &rest[advance..];
    }
    on_text(rest);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    const CTX: MessageContext<'static> = MessageContext {
        symbol: "AAPL",
        price: "201.50",
        condition: "crosses above 200",
        change_pct: "+1.25",
        time: "2026-11-27 10:31 EST",
        rule: "AAPL breakout",
    };

    #[test]
    fn renders_every_placeholder() {
        assert_eq!(
            render(DEFAULT_TEMPLATE, &CTX),
            "AAPL crosses above 200: now 201.50"
        );
        assert_eq!(
            render("{{rule}}: {{ symbol }} {{change_pct}}% at {{time}}", &CTX),
            "AAPL breakout: AAPL +1.25% at 2026-11-27 10:31 EST"
        );
        assert_eq!(render("no placeholders", &CTX), "no placeholders");
        assert_eq!(render("", &CTX), "");
        assert_eq!(render("bad {{x}}", &CTX), "bad {{x}}");
    }

    #[test]
    fn refuses_unknown_and_unclosed_placeholders() {
        assert!(check_template(DEFAULT_TEMPLATE).is_ok());
        let err = check_template("Price {{prise}}!").unwrap_err();
        assert_eq!(
            err.to_string(),
            "unknown placeholder {{prise}} at character 7; use one of: {{symbol}}, {{price}}, {{condition}}, {{change_pct}}, {{time}}, {{rule}}"
        );
        assert_eq!(
            check_template("é {{price").unwrap_err(),
            TemplateError::Unclosed { position: 3 }
        );
    }
}
