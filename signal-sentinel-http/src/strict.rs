//! Request value types stricter than poem-openapi's own, so that what the spec says is what
//! the server accepts (schemathesis checks both ways):
//! - [`Text`]: a JSON string only (poem-openapi's `String` also takes numbers and booleans:
//!   `{"name": false}` became `"false"`); `Text<N>` declares `maxLength: N` in the spec and
//!   leaves the refusal of longer text to the library, whose limit is the same constant, so
//!   the API answers what `invest` answers (422 naming the field, not poem's 400);
//! - [`Day`]: `YYYY-MM-DD`, declared as `format: date` with its pattern (poem-openapi's
//!   `NaiveDate` is `format: naive-date`, which tools do not know, so `""` looked valid);
//! - [`Dec`]: a decimal written as a string, declared with its pattern.

use std::borrow::Cow;

use poem_openapi::registry::{MetaSchema, MetaSchemaRef};
use poem_openapi::types::{
    ParseError, ParseFromJSON, ParseFromParameter, ParseResult, ToJSON, Type,
};
use rust_decimal::Decimal;
use serde_json::Value;

/// A JSON string (and only a string); `MAX`, when given, is the spec's `maxLength` (in
/// characters), which the library enforces with its own error.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Text<const MAX: usize = { usize::MAX }>(String);

impl<const MAX: usize> Text<MAX> {
    /// The string.
    pub fn into_inner(self) -> String {
        self.0
    }
}

impl<const MAX: usize> std::ops::Deref for Text<MAX> {
    type Target = str;

    fn deref(&self) -> &str {
        &self.0
    }
}

impl<const MAX: usize> AsRef<str> for Text<MAX> {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

impl<const MAX: usize> From<String> for Text<MAX> {
    fn from(text: String) -> Self {
        Self(text)
    }
}

impl<const MAX: usize> From<Text<MAX>> for String {
    fn from(text: Text<MAX>) -> Self {
        text.0
    }
}

impl<const MAX: usize> Type for Text<MAX> {
    const IS_REQUIRED: bool = true;
    type RawValueType = Self;
    type RawElementValueType = Self;

    fn name() -> Cow<'static, str> {
        "string".into()
    }

    fn schema_ref() -> MetaSchemaRef {
        let mut schema = MetaSchema::new("string");
        if MAX != usize::MAX {
            schema.max_length = Some(MAX);
        }
        MetaSchemaRef::Inline(Box::new(schema))
    }

    fn as_raw_value(&self) -> Option<&Self::RawValueType> {
        Some(self)
    }

    fn raw_element_iter<'a>(
        &'a self,
    ) -> Box<dyn Iterator<Item = &'a Self::RawElementValueType> + 'a> {
        Box::new(self.as_raw_value().into_iter())
    }
}

impl<const MAX: usize> ParseFromJSON for Text<MAX> {
    fn parse_from_json(value: Option<Value>) -> ParseResult<Self> {
        match value.unwrap_or_default() {
            Value::String(s) => Ok(Self(s)),
            other => Err(ParseError::expected_type(other)),
        }
    }
}

impl<const MAX: usize> ParseFromParameter for Text<MAX> {
    fn parse_from_parameter(value: &str) -> ParseResult<Self> {
        Ok(Self(value.to_owned()))
    }
}

impl<const MAX: usize> ToJSON for Text<MAX> {
    fn to_json(&self) -> Option<Value> {
        Some(Value::String(self.0.clone()))
    }
}

macro_rules! scalar_type {
    ($ty:ty, $name:literal, $schema:expr) => {
        impl Type for $ty {
            const IS_REQUIRED: bool = true;
            type RawValueType = Self;
            type RawElementValueType = Self;

            fn name() -> Cow<'static, str> {
                $name.into()
            }

            fn schema_ref() -> MetaSchemaRef {
                MetaSchemaRef::Inline(Box::new($schema))
            }

            fn as_raw_value(&self) -> Option<&Self::RawValueType> {
                Some(self)
            }

            fn raw_element_iter<'a>(
                &'a self,
            ) -> Box<dyn Iterator<Item = &'a Self::RawElementValueType> + 'a> {
                Box::new(self.as_raw_value().into_iter())
            }
        }
    };
}

const DAY_PATTERN: &str = r"^[0-9]{4}-[0-9]{2}-[0-9]{2}$";

/// A calendar day, `YYYY-MM-DD`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Day(pub chrono::NaiveDate);

scalar_type!(
    Day,
    "string_date",
    MetaSchema {
        format: Some("date"),
        pattern: Some(DAY_PATTERN.to_owned()),
        ..MetaSchema::new("string")
    }
);

fn parse_day(text: &str) -> ParseResult<Day> {
    chrono::NaiveDate::parse_from_str(text, "%Y-%m-%d")
        .map(Day)
        .map_err(|_| ParseError::custom(format!("expected a day like 2009-06-01, got {text:?}")))
}

impl ParseFromJSON for Day {
    fn parse_from_json(value: Option<Value>) -> ParseResult<Self> {
        match value.unwrap_or_default() {
            Value::String(s) => parse_day(&s),
            other => Err(ParseError::expected_type(other)),
        }
    }
}

impl ParseFromParameter for Day {
    fn parse_from_parameter(value: &str) -> ParseResult<Self> {
        parse_day(value)
    }
}

impl ToJSON for Day {
    fn to_json(&self) -> Option<Value> {
        Some(Value::String(self.0.format("%Y-%m-%d").to_string()))
    }
}

const DECIMAL_PATTERN: &str = r"^-?[0-9]{1,20}(\.[0-9]{1,20})?$";

/// A decimal number written as a string: `"12.5"`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Dec(pub Decimal);

scalar_type!(
    Dec,
    "string_decimal_text",
    MetaSchema {
        format: Some("decimal"),
        pattern: Some(DECIMAL_PATTERN.to_owned()),
        ..MetaSchema::new("string")
    }
);

impl ParseFromJSON for Dec {
    fn parse_from_json(value: Option<Value>) -> ParseResult<Self> {
        match value.unwrap_or_default() {
            Value::String(s)
                if !s.is_empty()
                    && s.len() <= 42
                    && s.trim_start_matches('-')
                        .chars()
                        .all(|c| c.is_ascii_digit() || c == '.') =>
            {
                s.parse::<Decimal>().map(Dec).map_err(|_| {
                    ParseError::custom(format!("expected a number like \"12.5\", got {s:?}"))
                })
            }
            Value::String(s) => Err(ParseError::custom(format!(
                "expected a number like \"12.5\", got {s:?}"
            ))),
            other => Err(ParseError::expected_type(other)),
        }
    }
}

impl ToJSON for Dec {
    fn to_json(&self) -> Option<Value> {
        Some(Value::String(self.0.to_string()))
    }
}
