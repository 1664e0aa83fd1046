//! The text form of a rule: `SYMBOL condition`, e.g. `AAPL crosses above 200`.
//!
//! The grammar (keywords in any case; documented with examples in `docs/rules.md`):
//!
//! ```text
//! rule      = SYMBOL expr
//! expr      = term {"or" term}                          or: at least one holds
//! term      = factor {"and" factor}                     and: every one holds (binds tighter)
//! factor    = "not" factor | "(" expr ")" | [SYMBOL] condition
//! condition = ["price"] OP NUMBER ["intraday"]          level-triggered price
//!           | ["price"] ("above" | "below") NUMBER ["intraday"]  same, with > and <
//!           | ["price"] "crosses" DIR (NUMBER ["intraday"] | average)  a level / an average
//!           | average "crosses" DIR average              fast average crosses slow average
//!           | ["day"] "change" OP PERCENT                change from the previous close
//!           | "moves" ["up" | "down"] PERCENT "within" DURATION
//!           | "volume" ">=" MULTIPLE "avg" "(" DAYS ")"  volume spike
//!           | "new" "52w" ("high" | "low")
//!           | "within" PERCENT "of" "52w" ("high" | "low")
//!           | "rsi" "(" PERIOD ")" OP NUMBER
//!           | "trailing" "stop" PERCENT
//!           | ("gap" | "gaps") DIR [">="] PERCENT
//!           | ("earnings" | "ex-dividend") "within" DAYS       corporate calendar
//!           | "split" "announced"
//! average   = ("sma" | "ema") "(" PERIOD ")"
//! DIR       = "above" | "below" | "up" | "down"
//! OP        = ">" | ">=" | "<" | "<="
//! PERCENT   = NUMBER "%"       MULTIPLE = NUMBER "x"       DURATION = NUMBER ("m" | "h" | "d")
//! DAYS      = NUMBER "d"
//! ```

use std::fmt;

use rust_decimal::Decimal;
use thiserror::Error;

use super::condition::{
    Average, AverageKind, Comparison, Condition, ConditionError, Direction, Extreme, Move,
};
use crate::domain::Symbol;

/// A rule as text: a symbol and a condition. `Display` writes the canonical text, which
/// parses back to the same value.
///
/// ```
/// use signal_sentinel::engine::parse_rule;
///
/// let rule = parse_rule("spy SMA(50) crosses above sma(200)")?;
/// assert_eq!(rule.to_string(), "SPY sma(50) crosses above sma(200)");
/// assert_eq!(parse_rule(&rule.to_string())?, rule);
/// # Ok::<(), signal_sentinel::engine::ParseError>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RuleText {
    /// The symbol watched.
    pub symbol: Symbol,
    /// The condition.
    pub condition: Condition,
}

/// Why a rule's text cannot be read: where (1-based column, in characters), what, and a hint
/// showing what would be accepted.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[error("column {column}: {message}{}", hint.map(|h| format!(" (hint: {h})")).unwrap_or_default())]
pub struct ParseError {
    /// Column of the offending token, counted from 1.
    pub column: usize,
    /// What is wrong.
    pub message: String,
    /// An example of what is accepted there.
    pub hint: Option<&'static str>,
}

/// The longest rule text, in characters.
pub const MAX_RULE_TEXT_LEN: usize = 500;

/// Parses `SYMBOL condition`.
///
/// # Errors
/// [`ParseError`] with the column of the first token that does not fit the grammar, or of
/// the value that is out of range; for text longer than [`MAX_RULE_TEXT_LEN`] characters.
pub fn parse_rule(input: &str) -> Result<RuleText, ParseError> {
    if input.chars().count() > MAX_RULE_TEXT_LEN {
        return Err(error(
            MAX_RULE_TEXT_LEN + 1,
            format!("a rule is at most {MAX_RULE_TEXT_LEN} characters"),
            None,
        ));
    }
    let leading = input.chars().take_while(|c| c.is_whitespace()).count();
    let rest: String = input.chars().skip(leading).collect();
    let symbol_text: String = rest.chars().take_while(|c| !c.is_whitespace()).collect();
    if symbol_text.is_empty() {
        return Err(error(
            leading + 1,
            "expected a symbol and a condition",
            Some("AAPL crosses above 200"),
        ));
    }
    let symbol = Symbol::parse(&symbol_text).map_err(|e| ParseError {
        column: leading + 1,
        message: e.to_string(),
        hint: Some("symbols look like AAPL, BRK.B, ^GSPC or BTC/USD"),
    })?;
    let offset = leading + symbol_text.chars().count();
    let tail: String = input.chars().skip(offset).collect();
    let tokens = tokenize(&tail, offset)?;
    let mut parser = Parser {
        tokens,
        pos: 0,
        end_column: input.chars().count() + 1,
        columns: Vec::new(),
    };
    let start = parser.peek_column();
    let condition = parser.expr()?.normalized(&symbol);
    if let Some(token) = parser.tokens.get(parser.pos) {
        let hint = if token.kind == Kind::Close {
            "every ')' closes a '('"
        } else {
            "join conditions with 'and' or 'or': AAPL > 200 and SPY day change > 0%"
        };
        return Err(error(
            token.column,
            format!("unexpected {} after the condition", token.kind.describe()),
            Some(hint),
        ));
    }
    condition.validate().map_err(|e| {
        let column = match &e {
            ConditionError::OutOfRange { field, .. } => parser
                .columns
                .iter()
                .find(|(f, _)| f == field)
                .map_or(start, |(_, c)| *c),
            ConditionError::Document(_) => start,
        };
        error(column, e.to_string(), None)
    })?;
    let is_portfolio = symbol.as_str() == super::PORTFOLIO;
    if is_portfolio && !condition.suits_portfolio() {
        return Err(error(
            start,
            "the portfolio can be watched by its value or its change since yesterday",
            Some("PORTFOLIO day change <= -3%, PORTFOLIO price < 100000"),
        ));
    }
    Ok(RuleText { symbol, condition })
}

fn error(column: usize, message: impl Into<String>, hint: Option<&'static str>) -> ParseError {
    ParseError {
        column,
        message: message.into(),
        hint,
    }
}

#[derive(Debug, Clone, PartialEq)]
enum Kind {
    Word(String),
    Number(Decimal),
    Percent(Decimal),
    Multiple(Decimal),
    Minutes(u32),
    Weeks(u32),
    Op(Comparison),
    Open,
    Close,
}

impl Kind {
    fn describe(&self) -> String {
        match self {
            Self::Word(w) => format!("'{w}'"),
            Self::Number(n) => format!("number {n}"),
            Self::Percent(p) => format!("'{p}%'"),
            Self::Multiple(m) => format!("'{m}x'"),
            Self::Minutes(m) => format!("the duration {}", duration(*m)),
            Self::Weeks(w) => format!("'{w}w'"),
            Self::Op(op) => format!("'{}'", op.symbol()),
            Self::Open => "'('".to_owned(),
            Self::Close => "')'".to_owned(),
        }
    }
}

#[derive(Debug, Clone)]
struct Token {
    kind: Kind,
    column: usize,
}

fn tokenize(text: &str, offset: usize) -> Result<Vec<Token>, ParseError> {
    let chars: Vec<char> = text.chars().collect();
    let mut tokens = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        let column = offset + i + 1;
        if c.is_whitespace() {
            i += 1;
            continue;
        }
        let kind = match c {
            '(' => {
                i += 1;
                Kind::Open
            }
            ')' => {
                i += 1;
                Kind::Close
            }
            '>' | '<' | '=' => {
                let mut op = String::from(c);
                i += 1;
                while let Some(&next @ ('<' | '>' | '=')) = chars.get(i) {
                    op.push(next);
                    i += 1;
                }
                Kind::Op(match op.as_str() {
                    ">" => Comparison::Above,
                    ">=" => Comparison::AtOrAbove,
                    "<" => Comparison::Below,
                    "<=" => Comparison::AtOrBelow,
                    _ => {
                        return Err(error(
                            column,
                            format!("'{op}' is not a comparison"),
                            Some("use >, >=, < or <="),
                        ));
                    }
                })
            }
            c if c.is_ascii_digit() || c == '.' || c == '-' || c == '+' => {
                let start = i;
                i += 1;
                while i < chars.len() && (chars[i].is_ascii_digit() || chars[i] == '.') {
                    i += 1;
                }
                let literal: String = chars[start..i].iter().collect();
                let number: Decimal = literal.trim_start_matches('+').parse().map_err(|_| {
                    error(
                        column,
                        format!("'{literal}' is not a number"),
                        Some("numbers look like 200, 199.5 or -5"),
                    )
                })?;
                let suffix_start = i;
                while i < chars.len() && (chars[i].is_ascii_alphabetic() || chars[i] == '%') {
                    i += 1;
                }
                let suffix: String = chars[suffix_start..i]
                    .iter()
                    .collect::<String>()
                    .to_ascii_lowercase();
                let whole = || -> Result<u32, ParseError> {
                    if number.fract().is_zero() && number > Decimal::ZERO {
                        u32::try_from(number.mantissa() / 10_i128.pow(number.scale()))
                            .map_err(|_| error(column, format!("{number} is too large"), None))
                    } else {
                        Err(error(
                            column,
                            format!("'{literal}{suffix}' needs a positive whole number"),
                            Some("30m, 4h, 52w"),
                        ))
                    }
                };
                match suffix.as_str() {
                    "" => Kind::Number(number),
                    "%" => Kind::Percent(number),
                    "x" => Kind::Multiple(number),
                    "m" | "min" => Kind::Minutes(whole()?),
                    "h" => Kind::Minutes(whole()?.saturating_mul(60)),
                    "d" => Kind::Minutes(whole()?.saturating_mul(24 * 60)),
                    "w" => Kind::Weeks(whole()?),
                    other => {
                        return Err(error(
                            offset + suffix_start + 1,
                            format!("unknown unit '{other}' after {literal}"),
                            Some(
                                "units are % (percent), x (times), m, h, d (duration) and w (weeks)",
                            ),
                        ));
                    }
                }
            }
            c if c.is_alphabetic() || c == '^' => {
                // Words, and the symbols an operand may name: BRK.B, ^VIX, BTC/USD, EURUSD=X.
                let start = i;
                i += 1;
                while i < chars.len() && (chars[i].is_alphanumeric() || "_.-/=".contains(chars[i]))
                {
                    i += 1;
                }
                Kind::Word(chars[start..i].iter().collect::<String>().to_lowercase())
            }
            other => {
                return Err(error(
                    column,
                    format!("unexpected character '{other}'"),
                    None,
                ));
            }
        };
        tokens.push(Token { kind, column });
    }
    Ok(tokens)
}

struct Parser {
    tokens: Vec<Token>,
    pos: usize,
    end_column: usize,
    /// Column of the token each validated field came from, to point range errors at it.
    columns: Vec<(&'static str, usize)>,
}

/// Words that begin a condition (or negate one): anything else at the start of an operand is
/// the symbol it reads.
const CONDITION_WORDS: &[&str] = &[
    "price",
    "above",
    "below",
    "crosses",
    "cross",
    "day",
    "change",
    "moves",
    "move",
    "volume",
    "new",
    "within",
    "rsi",
    "trailing",
    "position",
    "gap",
    "gaps",
    "sma",
    "ema",
    "not",
    "earnings",
    "ex-dividend",
    "split",
];

impl Parser {
    /// `term {"or" term}`, flattened: `a or (b or c)` is `a or b or c`.
    fn expr(&mut self) -> Result<Condition, ParseError> {
        self.joined(
            "or",
            Self::term,
            |of| Condition::Any { of },
            |c| match c {
                Condition::Any { of } => of,
                c => vec![c],
            },
        )
    }

    /// `factor {"and" factor}`, flattened.
    fn term(&mut self) -> Result<Condition, ParseError> {
        self.joined(
            "and",
            Self::factor,
            |of| Condition::All { of },
            |c| match c {
                Condition::All { of } => of,
                c => vec![c],
            },
        )
    }

    /// `operand {word operand}`: one operand as it is, several joined by `join`, a nested
    /// list of the same operator (`split` opens it) spliced in.
    fn joined(
        &mut self,
        word: &str,
        operand: fn(&mut Self) -> Result<Condition, ParseError>,
        join: fn(Vec<Condition>) -> Condition,
        split: fn(Condition) -> Vec<Condition>,
    ) -> Result<Condition, ParseError> {
        let mut list = vec![operand(self)?];
        while self.eat_word(word) {
            list.push(operand(self)?);
        }
        Ok(if list.len() == 1 {
            list.remove(0)
        } else {
            join(list.into_iter().flat_map(split).collect())
        })
    }

    /// `"not" factor | "(" expr ")" | [SYMBOL] condition`.
    fn factor(&mut self) -> Result<Condition, ParseError> {
        if self.eat_word("not") {
            return Ok(Condition::Not {
                of: Box::new(self.factor()?),
            });
        }
        if self.peek() == Some(&Kind::Open) {
            self.pos += 1;
            let inner = self.expr()?;
            if self.peek() != Some(&Kind::Close) {
                return Err(
                    self.expected("')'", "(AAPL > 200 or MSFT > 400) and SPY day change > 0%")
                );
            }
            self.pos += 1;
            return Ok(inner);
        }
        let Some(word) = self.peek_word().map(str::to_owned) else {
            return self.condition();
        };
        if !CONDITION_WORDS.contains(&word.as_str()) {
            return self.on_symbol();
        }
        // A symbol spelled like a keyword (GAP, NEW, DAY) is read as one only when the text
        // does not read as a condition.
        let (pos, noted) = (self.pos, self.columns.len());
        match self.condition() {
            Ok(c) => Ok(c),
            Err(e) => {
                self.pos = pos;
                self.columns.truncate(noted);
                self.on_symbol().map_err(|_| e)
            }
        }
    }

    /// `SYMBOL condition`: an operand on a symbol of its own.
    fn on_symbol(&mut self) -> Result<Condition, ParseError> {
        let column = self.peek_column();
        let Some(Kind::Word(word)) = self.next() else {
            self.pos -= 1;
            return Err(self.expected("a symbol or a condition", "SPY day change > 0%"));
        };
        let symbol = Symbol::parse(&word).map_err(|e| ParseError {
            column,
            message: format!("expected a condition or a symbol: {e}"),
            hint: Some("AAPL crosses above 200 and SPY day change > 0%"),
        })?;
        let condition = self.condition()?;
        Ok(Condition::On {
            symbol,
            condition: Box::new(condition),
        })
    }

    fn peek(&self) -> Option<&Kind> {
        self.tokens.get(self.pos).map(|t| &t.kind)
    }

    fn peek_word(&self) -> Option<&str> {
        match self.peek() {
            Some(Kind::Word(w)) => Some(w),
            _ => None,
        }
    }

    fn peek_column(&self) -> usize {
        self.tokens
            .get(self.pos)
            .map_or(self.end_column, |t| t.column)
    }

    fn found(&self) -> String {
        self.peek()
            .map_or_else(|| "the end of the rule".to_owned(), Kind::describe)
    }

    fn expected(&self, what: &str, hint: &'static str) -> ParseError {
        error(
            self.peek_column(),
            format!("expected {what}, found {}", self.found()),
            Some(hint),
        )
    }

    fn next(&mut self) -> Option<Kind> {
        let kind = self.tokens.get(self.pos).map(|t| t.kind.clone());
        self.pos += 1;
        kind
    }

    fn eat_word(&mut self, word: &str) -> bool {
        if self.peek_word() == Some(word) {
            self.pos += 1;
            true
        } else {
            false
        }
    }

    fn expect_word(&mut self, word: &'static str, hint: &'static str) -> Result<(), ParseError> {
        if self.eat_word(word) {
            Ok(())
        } else {
            Err(self.expected(&format!("'{word}'"), hint))
        }
    }

    fn note(&mut self, field: &'static str) {
        let column = self.peek_column();
        self.columns.push((field, column));
    }

    fn number(&mut self, field: &'static str, hint: &'static str) -> Result<Decimal, ParseError> {
        self.note(field);
        match self.peek() {
            Some(Kind::Number(n)) => {
                let n = *n;
                self.pos += 1;
                Ok(n)
            }
            Some(Kind::Percent(_)) => Err(error(
                self.peek_column(),
                "expected a price level, found a percentage",
                Some(
                    "levels are plain numbers like 200; percent conditions read `day change <= -5%`",
                ),
            )),
            _ => Err(self.expected("a number", hint)),
        }
    }

    fn percent(&mut self, hint: &'static str) -> Result<Decimal, ParseError> {
        self.note("percent");
        match self.peek() {
            Some(Kind::Percent(p)) => {
                let p = *p;
                self.pos += 1;
                Ok(p)
            }
            Some(Kind::Number(n)) => Err(error(
                self.peek_column(),
                format!("expected a percentage, found the number {n}"),
                Some("add % to the number, e.g. 5%"),
            )),
            _ => Err(self.expected("a percentage", hint)),
        }
    }

    fn comparison(&mut self, hint: &'static str) -> Result<Comparison, ParseError> {
        match self.peek() {
            Some(Kind::Op(op)) => {
                let op = *op;
                self.pos += 1;
                Ok(op)
            }
            _ => Err(self.expected("a comparison (>, >=, <, <=)", hint)),
        }
    }

    fn direction(&mut self) -> Result<Direction, ParseError> {
        match self.peek_word() {
            Some("above" | "up") => {
                self.pos += 1;
                Ok(Direction::Up)
            }
            Some("below" | "down") => {
                self.pos += 1;
                Ok(Direction::Down)
            }
            _ => Err(self.expected(
                "'above' or 'below'",
                "crosses above 200, crosses below sma(50)",
            )),
        }
    }

    fn period(&mut self, field: &'static str, hint: &'static str) -> Result<u32, ParseError> {
        if !matches!(self.next(), Some(Kind::Open)) {
            self.pos -= 1;
            return Err(self.expected("'('", hint));
        }
        let column = self.peek_column();
        self.columns.push((field, column));
        let value = match self.next() {
            Some(Kind::Number(n))
                if n.fract().is_zero() && n > Decimal::ZERO && n <= Decimal::from(u32::MAX) =>
            {
                u32::try_from(n.mantissa() / 10_i128.pow(n.scale())).unwrap_or(u32::MAX)
            }
            _ => {
                self.pos -= 1;
                return Err(self.expected("a whole number of days", hint));
            }
        };
        if !matches!(self.next(), Some(Kind::Close)) {
            self.pos -= 1;
            return Err(self.expected("')'", hint));
        }
        Ok(value)
    }

    fn average(&mut self) -> Result<Option<Average>, ParseError> {
        let kind = match self.peek_word() {
            Some("sma") => AverageKind::Sma,
            Some("ema") => AverageKind::Ema,
            _ => return Ok(None),
        };
        self.pos += 1;
        let period = self.period("period", "sma(50), ema(20)")?;
        Ok(Some(Average { kind, period }))
    }

    fn extreme(&mut self) -> Result<Extreme, ParseError> {
        match self.peek() {
            Some(Kind::Weeks(52)) => self.pos += 1,
            _ => return Err(self.expected("'52w'", "new 52w high, within 5% of 52w low")),
        }
        match self.peek_word() {
            Some("high") => {
                self.pos += 1;
                Ok(Extreme::High)
            }
            Some("low") => {
                self.pos += 1;
                Ok(Extreme::Low)
            }
            _ => Err(self.expected("'high' or 'low'", "new 52w high")),
        }
    }

    fn condition(&mut self) -> Result<Condition, ParseError> {
        const START_HINT: &str =
            "AAPL crosses above 200, TSLA day change <= -5%, NVDA rsi(14) > 70";
        if let Some(fast) = self.average()? {
            self.expect_word("crosses", "sma(50) crosses above sma(200)")?;
            let direction = self.direction()?;
            let slow = self
                .average()?
                .ok_or_else(|| self.expected("an average", "sma(50) crosses above sma(200)"))?;
            return Ok(Condition::AverageCrossesAverage {
                fast,
                direction,
                slow,
            });
        }
        let had_price = self.eat_word("price");
        match self.peek().cloned() {
            Some(Kind::Op(op)) => {
                self.pos += 1;
                let level = self.number("level", "AAPL > 200")?;
                let intraday = self.eat_word("intraday");
                return Ok(Condition::Price {
                    op,
                    level,
                    intraday,
                });
            }
            Some(Kind::Word(word)) => match word.as_str() {
                "above" | "below" => {
                    self.pos += 1;
                    let op = if word == "above" {
                        Comparison::Above
                    } else {
                        Comparison::Below
                    };
                    let level = self.number("level", "AAPL above 200")?;
                    let intraday = self.eat_word("intraday");
                    return Ok(Condition::Price {
                        op,
                        level,
                        intraday,
                    });
                }
                "crosses" | "cross" => {
                    self.pos += 1;
                    let direction = self.direction()?;
                    if let Some(average) = self.average()? {
                        return Ok(Condition::CrossesAverage { direction, average });
                    }
                    let level = self.number("level", "crosses above 200, crosses below sma(50)")?;
                    let intraday = self.eat_word("intraday");
                    return Ok(Condition::CrossesLevel {
                        direction,
                        level,
                        intraday,
                    });
                }
                _ if had_price => {}
                "day" | "change" => {
                    self.eat_word("day");
                    self.expect_word("change", "day change <= -5%")?;
                    let op = self.comparison("day change >= 3%")?;
                    let percent = self.percent("day change <= -5%")?;
                    return Ok(Condition::DayChange { op, percent });
                }
                "moves" | "move" => {
                    self.pos += 1;
                    let direction = if self.eat_word("up") {
                        Move::Up
                    } else if self.eat_word("down") {
                        Move::Down
                    } else {
                        Move::Either
                    };
                    let percent = self.percent("moves 3% within 30m")?;
                    self.expect_word("within", "moves 3% within 30m")?;
                    self.note("window");
                    let window_minutes = match self.next() {
                        Some(Kind::Minutes(m)) => m,
                        _ => {
                            self.pos -= 1;
                            return Err(
                                self.expected("a duration", "within 30m, within 2h, within 1d")
                            );
                        }
                    };
                    return Ok(Condition::MoveWithin {
                        direction,
                        percent,
                        window_minutes,
                    });
                }
                "volume" => {
                    self.pos += 1;
                    match self.comparison("volume >= 2x avg(20)")? {
                        Comparison::AtOrAbove => {}
                        _ => {
                            self.pos -= 1;
                            return Err(self.expected("'>='", "volume >= 2x avg(20)"));
                        }
                    }
                    self.note("multiple");
                    let multiple = match self.next() {
                        Some(Kind::Multiple(m)) => m,
                        _ => {
                            self.pos -= 1;
                            return Err(self.expected("a multiple like 2x", "volume >= 2x avg(20)"));
                        }
                    };
                    self.expect_word("avg", "volume >= 2x avg(20)")?;
                    let days = self.period("days", "volume >= 2x avg(20)")?;
                    return Ok(Condition::VolumeSpike { multiple, days });
                }
                "new" => {
                    self.pos += 1;
                    let extreme = self.extreme()?;
                    return Ok(Condition::NewExtreme { extreme });
                }
                "within" => {
                    self.pos += 1;
                    let percent = self.percent("within 5% of 52w high")?;
                    self.expect_word("of", "within 5% of 52w high")?;
                    let extreme = self.extreme()?;
                    return Ok(Condition::NearExtreme { extreme, percent });
                }
                "rsi" => {
                    self.pos += 1;
                    let period = self.period("period", "rsi(14) > 70")?;
                    let op = self.comparison("rsi(14) > 70")?;
                    let level = self.number("level", "rsi(14) < 30")?;
                    return Ok(Condition::Rsi { period, op, level });
                }
                "trailing" => {
                    self.pos += 1;
                    self.expect_word("stop", "trailing stop 10%")?;
                    let percent = self.percent("trailing stop 10%")?;
                    return Ok(Condition::TrailingStop { percent });
                }
                "position" => {
                    self.pos += 1;
                    const HINT: &str =
                        "position 10% below cost, position day move >= 5%, position weight > 25%";
                    if self.eat_word("weight") {
                        match self.comparison(HINT)? {
                            Comparison::Above | Comparison::AtOrAbove => {}
                            _ => {
                                self.pos -= 1;
                                return Err(self.expected("'>' or '>='", "position weight > 25%"));
                            }
                        }
                        let percent = self.percent("position weight > 25%")?;
                        return Ok(Condition::PositionWeight { percent });
                    }
                    if self.eat_word("day") {
                        self.expect_word("move", "position day move >= 5%")?;
                        if matches!(self.peek(), Some(Kind::Op(Comparison::AtOrAbove))) {
                            self.pos += 1;
                        }
                        let percent = self.percent("position day move >= 5%")?;
                        return Ok(Condition::PositionDayMove { percent });
                    }
                    if matches!(self.peek(), Some(Kind::Word(_)) | None) {
                        return Err(self.expected("'weight', 'day move' or a percent", HINT));
                    }
                    let percent = self.percent("position 10% below cost")?;
                    self.expect_word("below", "position 10% below cost")?;
                    self.expect_word("cost", "position 10% below cost")?;
                    return Ok(Condition::PositionBelowCost { percent });
                }
                "earnings" | "ex-dividend" => {
                    self.pos += 1;
                    let hint = if word == "earnings" {
                        "earnings within 2d"
                    } else {
                        "ex-dividend within 1d"
                    };
                    self.expect_word("within", hint)?;
                    self.note("days");
                    let days = match self.next() {
                        Some(Kind::Minutes(m)) if m.is_multiple_of(24 * 60) => m / (24 * 60),
                        _ => {
                            self.pos -= 1;
                            return Err(self.expected("a number of days like 2d", hint));
                        }
                    };
                    return Ok(if word == "earnings" {
                        Condition::Earnings { days }
                    } else {
                        Condition::ExDividend { days }
                    });
                }
                "split" => {
                    self.pos += 1;
                    self.expect_word("announced", "split announced")?;
                    return Ok(Condition::SplitAnnounced);
                }
                "gap" | "gaps" => {
                    self.pos += 1;
                    let direction = self.direction()?;
                    if matches!(self.peek(), Some(Kind::Op(Comparison::AtOrAbove))) {
                        self.pos += 1;
                    }
                    let percent = self.percent("gap up >= 2%")?;
                    return Ok(Condition::Gap { direction, percent });
                }
                _ => {}
            },
            _ => {}
        }
        if had_price {
            return Err(self.expected(
                "a comparison, 'above', 'below' or 'crosses'",
                "AAPL price > 200",
            ));
        }
        Err(self.expected("a condition", START_HINT))
    }
}

/// A window in the grammar's units: `30m`, `2h`, `3d`.
pub(crate) fn duration(minutes: u32) -> String {
    if minutes.is_multiple_of(24 * 60) {
        format!("{}d", minutes / (24 * 60))
    } else if minutes.is_multiple_of(60) {
        format!("{}h", minutes / 60)
    } else {
        format!("{minutes}m")
    }
}

fn intraday_word(f: &mut fmt::Formatter<'_>, intraday: bool) -> fmt::Result {
    if intraday {
        f.write_str(" intraday")
    } else {
        Ok(())
    }
}

/// `above` or `below`, as the grammar writes a direction.
pub(crate) fn direction_word(direction: Direction) -> &'static str {
    match direction {
        Direction::Up => "above",
        Direction::Down => "below",
    }
}

/// `high` or `low`.
pub(crate) fn extreme_word(extreme: Extreme) -> &'static str {
    match extreme {
        Extreme::High => "high",
        Extreme::Low => "low",
    }
}

/// An operand as written inside a combination: a nested `and` / `or` in parentheses.
struct Operand<'a>(&'a Condition);

impl fmt::Display for Operand<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0 {
            c @ (Condition::All { .. } | Condition::Any { .. }) => write!(f, "({c})"),
            c => write!(f, "{c}"),
        }
    }
}

impl fmt::Display for Condition {
    /// The canonical text of the condition (without the symbol).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::All { of } | Self::Any { of } => {
                let join = if matches!(self, Self::All { .. }) {
                    " and "
                } else {
                    " or "
                };
                for (i, c) in of.iter().enumerate() {
                    if i > 0 {
                        f.write_str(join)?;
                    }
                    write!(f, "{}", Operand(c))?;
                }
                Ok(())
            }
            Self::Not { of } => write!(f, "not {}", Operand(of)),
            Self::On { symbol, condition } => write!(f, "{symbol} {condition}"),
            Self::Price {
                op,
                level,
                intraday,
            } => {
                write!(f, "price {} {level}", op.symbol())?;
                intraday_word(f, *intraday)
            }
            Self::CrossesLevel {
                direction,
                level,
                intraday,
            } => {
                write!(f, "crosses {} {level}", direction_word(*direction))?;
                intraday_word(f, *intraday)
            }
            Self::CrossesAverage { direction, average } => {
                write!(f, "crosses {} {average}", direction_word(*direction))
            }
            Self::AverageCrossesAverage {
                fast,
                direction,
                slow,
            } => {
                write!(f, "{fast} crosses {} {slow}", direction_word(*direction))
            }
            Self::DayChange { op, percent } => write!(f, "day change {} {percent}%", op.symbol()),
            Self::MoveWithin {
                direction,
                percent,
                window_minutes,
            } => {
                let way = match direction {
                    Move::Up => "up ",
                    Move::Down => "down ",
                    Move::Either => "",
                };
                write!(
                    f,
                    "moves {way}{percent}% within {}",
                    duration(*window_minutes)
                )
            }
            Self::VolumeSpike { multiple, days } => write!(f, "volume >= {multiple}x avg({days})"),
            Self::NewExtreme { extreme } => write!(f, "new 52w {}", extreme_word(*extreme)),
            Self::NearExtreme { extreme, percent } => {
                write!(f, "within {percent}% of 52w {}", extreme_word(*extreme))
            }
            Self::Rsi { period, op, level } => write!(f, "rsi({period}) {} {level}", op.symbol()),
            Self::TrailingStop { percent } => write!(f, "trailing stop {percent}%"),
            Self::Gap { direction, percent } => {
                let way = match direction {
                    Direction::Up => "up",
                    Direction::Down => "down",
                };
                write!(f, "gap {way} >= {percent}%")
            }
            Self::PositionBelowCost { percent } => write!(f, "position {percent}% below cost"),
            Self::PositionDayMove { percent } => write!(f, "position day move >= {percent}%"),
            Self::PositionWeight { percent } => write!(f, "position weight > {percent}%"),
            Self::Earnings { days } => write!(f, "earnings within {days}d"),
            Self::ExDividend { days } => write!(f, "ex-dividend within {days}d"),
            Self::SplitAnnounced => f.write_str("split announced"),
        }
    }
}

impl fmt::Display for RuleText {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", self.symbol, self.condition)
    }
}

impl std::str::FromStr for RuleText {
    type Err = ParseError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        parse_rule(s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rust_decimal::dec;

    fn parse(s: &str) -> Condition {
        parse_rule(s)
            .unwrap_or_else(|e| panic!("{s}: {e}"))
            .condition
    }

    #[test]
    fn the_examples_from_the_issue() {
        assert_eq!(
            parse("AAPL crosses above 200"),
            Condition::CrossesLevel {
                direction: Direction::Up,
                level: dec!(200),
                intraday: false
            }
        );
        assert_eq!(
            parse("TSLA day change <= -5%"),
            Condition::DayChange {
                op: Comparison::AtOrBelow,
                percent: dec!(-5)
            }
        );
        assert_eq!(
            parse("NVDA rsi(14) > 70"),
            Condition::Rsi {
                period: 14,
                op: Comparison::Above,
                level: dec!(70)
            }
        );
        let sma = |period| Average {
            kind: AverageKind::Sma,
            period,
        };
        assert_eq!(
            parse("SPY sma(50) crosses above sma(200)"),
            Condition::AverageCrossesAverage {
                fast: sma(50),
                direction: Direction::Up,
                slow: sma(200)
            }
        );
    }

    #[test]
    fn holdings_conditions_and_the_portfolio_refuse_what_cannot_work() {
        let err = parse_rule("PORTFOLIO crosses above 100000").unwrap_err();
        assert!(err.message.contains("the portfolio"), "{err}");
        let err = parse_rule("PORTFOLIO position 10% below cost").unwrap_err();
        assert!(err.message.contains("the portfolio"), "{err}");
        let err = parse_rule("AAPL position weight < 10%").unwrap_err();
        assert!(err.to_string().contains("'>' or '>='"), "{err}");
        let err = parse_rule("AAPL position 100% below cost").unwrap_err();
        assert!(err.to_string().contains("below 100"), "{err}");
        let err = parse_rule("AAPL position cost").unwrap_err();
        assert!(
            err.to_string()
                .contains("'weight', 'day move' or a percent"),
            "{err}"
        );
    }

    #[test]
    fn every_condition_round_trips_through_its_canonical_text() {
        let cases = [
            ("AAPL > 200", "AAPL price > 200"),
            ("aapl price >= 199.50", "AAPL price >= 199.50"),
            ("AAPL above 200", "AAPL price > 200"),
            ("AAPL below 150.25", "AAPL price < 150.25"),
            ("MSFT price <= 30", "MSFT price <= 30"),
            ("AAPL crosses below 180", "AAPL crosses below 180"),
            ("AAPL crosses above EMA(20)", "AAPL crosses above ema(20)"),
            (
                "SPY ema(12) crosses below ema(26)",
                "SPY ema(12) crosses below ema(26)",
            ),
            ("TSLA change >= +3.5%", "TSLA day change >= 3.5%"),
            ("AAPL moves 3% within 30m", "AAPL moves 3% within 30m"),
            ("AAPL moves up 2% within 90m", "AAPL moves up 2% within 90m"),
            (
                "AAPL moves down 5% within 120m",
                "AAPL moves down 5% within 2h",
            ),
            ("AAPL moves 10% within 1d", "AAPL moves 10% within 1d"),
            ("GME volume >= 2.5x avg(20)", "GME volume >= 2.5x avg(20)"),
            ("AMZN new 52w high", "AMZN new 52w high"),
            ("AMZN new 52W LOW", "AMZN new 52w low"),
            ("IBM within 5% of 52w high", "IBM within 5% of 52w high"),
            ("NVDA rsi(14) < 30", "NVDA rsi(14) < 30"),
            ("AAPL trailing stop 10%", "AAPL trailing stop 10%"),
            ("AAPL gaps up 2%", "AAPL gap up >= 2%"),
            ("AAPL gap down >= 1.5%", "AAPL gap down >= 1.5%"),
            (
                "btc/usd crosses above 100000",
                "BTC/USD crosses above 100000",
            ),
            (
                "AAPL position 10% below cost",
                "AAPL position 10% below cost",
            ),
            ("msft position day move 5%", "MSFT position day move >= 5%"),
            ("NVDA position weight >= 25%", "NVDA position weight > 25%"),
            ("aapl Earnings within 2d", "AAPL earnings within 2d"),
            ("AAPL earnings within 48h", "AAPL earnings within 2d"),
            ("KO ex-dividend within 1d", "KO ex-dividend within 1d"),
            ("NVDA split announced", "NVDA split announced"),
            (
                "AAPL crosses above 200 and not AAPL earnings within 3d",
                "AAPL crosses above 200 and not earnings within 3d",
            ),
            ("portfolio day change <= -3%", "PORTFOLIO day change <= -3%"),
            ("Portfolio below 100000", "PORTFOLIO price < 100000"),
        ];
        for (input, canonical) in cases {
            let rule = parse_rule(input).unwrap_or_else(|e| panic!("{input}: {e}"));
            assert_eq!(rule.to_string(), canonical, "{input}");
            assert_eq!(parse_rule(canonical).unwrap(), rule, "{canonical}");
            let doc = rule.condition.to_document();
            assert_eq!(
                Condition::from_document(&doc).unwrap(),
                rule.condition,
                "{input}"
            );
        }
    }

    #[test]
    fn errors_have_a_column_and_a_hint() {
        let cases: &[(&str, usize, &str, Option<&str>)] = &[
            (
                "AAPL earnings within 5h",
                22,
                "expected a number of days like 2d, found the duration 5h",
                Some("earnings within 2d"),
            ),
            (
                "AAPL ex-dividend in 1d",
                18,
                "expected 'within', found 'in'",
                Some("ex-dividend within 1d"),
            ),
            (
                "AAPL earnings within 91d",
                22,
                "days must be between 1 and 90, got 91",
                None,
            ),
            (
                "AAPL split",
                11,
                "expected 'announced', found the end of the rule",
                Some("split announced"),
            ),
            (
                "",
                1,
                "expected a symbol and a condition",
                Some("AAPL crosses above 200"),
            ),
            (
                "AAPL",
                5,
                "expected a condition, found the end of the rule",
                Some("AAPL crosses above 200, TSLA day change <= -5%, NVDA rsi(14) > 70"),
            ),
            (
                "AAPL crosses abve 200",
                14,
                "expected 'above' or 'below', found 'abve'",
                Some("crosses above 200, crosses below sma(50)"),
            ),
            (
                "AAPL crosses above",
                19,
                "expected a number, found the end of the rule",
                Some("crosses above 200, crosses below sma(50)"),
            ),
            (
                "TSLA day change <= -5",
                20,
                "expected a percentage, found the number -5",
                Some("add % to the number, e.g. 5%"),
            ),
            (
                "AAPL > 5%",
                8,
                "expected a price level, found a percentage",
                Some(
                    "levels are plain numbers like 200; percent conditions read `day change <= -5%`",
                ),
            ),
            (
                "NVDA rsi(14) > 170",
                16,
                "level must be between 0 and 100, got 170",
                None,
            ),
            (
                "NVDA rsi(x) > 70",
                10,
                "expected a whole number of days, found 'x'",
                Some("rsi(14) > 70"),
            ),
            (
                "AAPL moves 3% within 30s",
                24,
                "unknown unit 's' after 30",
                Some("units are % (percent), x (times), m, h, d (duration) and w (weeks)"),
            ),
            (
                "AAPL > 200 please",
                12,
                "unexpected 'please' after the condition",
                Some("join conditions with 'and' or 'or': AAPL > 200 and SPY day change > 0%"),
            ),
            (
                "AA$PL > 1",
                1,
                "invalid symbol \"AA$PL\": character '$' at position 3 is not allowed (use letters, digits and . - ^ / =)",
                Some("symbols look like AAPL, BRK.B, ^GSPC or BTC/USD"),
            ),
            ("AAPL > 0", 8, "level must be greater than 0, got 0", None),
            (
                "SPY sma(50) crosses above sma(50)",
                5,
                "averages must differ: an average cannot cross itself",
                None,
            ),
            (
                "AAPL price is 5",
                12,
                "expected a comparison, 'above', 'below' or 'crosses', found 'is'",
                Some("AAPL price > 200"),
            ),
            (
                "AAPL => 5",
                6,
                "'=>' is not a comparison",
                Some("use >, >=, < or <="),
            ),
        ];
        for (input, column, message, hint) in cases {
            let err = parse_rule(input).unwrap_err();
            assert_eq!(
                (err.column, err.message.as_str(), err.hint),
                (*column, *message, *hint),
                "{input:?}"
            );
        }
        let err = parse_rule("AAPL crosses abve 200").unwrap_err();
        assert_eq!(
            err.to_string(),
            "column 14: expected 'above' or 'below', found 'abve' (hint: crosses above 200, crosses below sma(50))"
        );
    }

    #[test]
    fn combinations_parse_to_one_canonical_spelling() {
        let cases = [
            (
                "AAPL crosses above 200 AND volume >= 2x avg(20)",
                "AAPL crosses above 200 and volume >= 2x avg(20)",
            ),
            (
                "spy day change < -2% or ^vix > 30",
                "SPY day change < -2% or ^VIX price > 30",
            ),
            (
                "AAPL crosses above 200 and SPY day change > 0%",
                "AAPL crosses above 200 and SPY day change > 0%",
            ),
            // `and` binds tighter than `or`; nested groups are written in parentheses.
            (
                "AAPL > 1 or > 2 and < 3",
                "AAPL price > 1 or (price > 2 and price < 3)",
            ),
            (
                "AAPL not (> 200 or < 100)",
                "AAPL not (price > 200 or price < 100)",
            ),
            // The same operator nested is one list; the rule's own symbol is written bare.
            (
                "AAPL (> 1 and > 2) and AAPL day change > 1%",
                "AAPL price > 1 and price > 2 and day change > 1%",
            ),
            // A symbol spelled like a keyword is read as one where a condition does not fit.
            (
                "AAPL > 200 and GAP gap up >= 2%",
                "AAPL price > 200 and GAP gap up >= 2%",
            ),
            (
                "AAPL > 200 and brk.b < 400",
                "AAPL price > 200 and BRK.B price < 400",
            ),
            (
                "BTC/USD > 1 or eth/usd > 1",
                "BTC/USD price > 1 or ETH/USD price > 1",
            ),
            (
                "AAPL crosses above 200 INTRADAY and SPY above 400 intraday",
                "AAPL crosses above 200 intraday and SPY price > 400 intraday",
            ),
        ];
        for (input, canonical) in cases {
            let rule = parse_rule(input).unwrap_or_else(|e| panic!("{input}: {e}"));
            assert_eq!(rule.to_string(), canonical, "{input}");
            assert_eq!(parse_rule(canonical).unwrap(), rule, "{canonical}");
            // The stored form is version 2 and reads back the same.
            let doc = rule.condition.to_document();
            assert_eq!(doc.version(), 2, "{input}");
            assert_eq!(Condition::from_document(&doc).unwrap(), rule.condition);
        }
        assert_eq!(
            parse("SPY day change < -2% or ^VIX > 30"),
            Condition::Any {
                of: vec![
                    Condition::DayChange {
                        op: Comparison::Below,
                        percent: dec!(-2)
                    },
                    Condition::On {
                        symbol: Symbol::parse("^VIX").unwrap(),
                        condition: Box::new(Condition::Price {
                            op: Comparison::Above,
                            level: dec!(30),
                            intraday: false
                        }),
                    },
                ]
            }
        );
        // A single condition keeps the version-1 form every earlier release wrote; `intraday`
        // is written only when set.
        assert_eq!(parse("AAPL > 1").to_document().version(), 1);
        assert_eq!(
            serde_json::to_value(parse("AAPL crosses below 150 intraday").to_document()).unwrap(),
            serde_json::json!({"version": 1, "type": "crosses_level", "direction": "down", "level": "150", "intraday": true})
        );
        assert_eq!(
            serde_json::to_value(parse("AAPL crosses below 150").to_document()).unwrap(),
            serde_json::json!({"version": 1, "type": "crosses_level", "direction": "down", "level": "150"})
        );
    }

    #[test]
    fn combinations_are_capped_and_checked() {
        let nine = format!("AAPL {}", ["> 1"; 9].join(" and "));
        let cases = [
            (
                nine.as_str(),
                "combination has at most 8 conditions, this one has 9",
            ),
            (
                "AAPL not not not not not > 1",
                "combination nests and, or and not at most 4 deep",
            ),
            (
                "AAPL > 1 and trailing stop 5%",
                "combination cannot hold a trailing stop (it remembers its own high)",
            ),
            (
                "AAPL > 1 and PORTFOLIO > 100",
                "symbol PORTFOLIO cannot be an operand of a combination",
            ),
        ];
        for (input, message) in cases {
            let err = parse_rule(input).unwrap_err();
            assert_eq!(err.message, message, "{input}");
        }
        let err = parse_rule("AAPL > 200 and").unwrap_err();
        assert_eq!(
            (err.column, err.message.as_str()),
            (15, "expected a condition, found the end of the rule")
        );
        let err = parse_rule("AAPL (> 200 or < 100").unwrap_err();
        assert_eq!(err.message, "expected ')', found the end of the rule");
        let err = parse_rule("AAPL > 200) and > 1").unwrap_err();
        assert_eq!(err.column, 11);
        let err = parse_rule("AAPL > 200 and MSFT").unwrap_err();
        assert!(err.message.starts_with("expected a condition"), "{err}");
        let err = parse_rule("PORTFOLIO day change < -3% and > 1").unwrap_err();
        assert!(err.message.contains("portfolio can be watched by"), "{err}");
        // Exactly at the caps is accepted.
        let eight = format!("AAPL {}", ["> 1"; 8].join(" or "));
        assert!(parse_rule(&eight).is_ok());
        assert!(parse_rule("AAPL not not not not > 1").is_ok());
    }

    #[test]
    fn stored_combinations_are_version_2() {
        use serde_json::json;
        let doc = crate::domain::JsonDocument::new(
            1,
            json!({"type": "and", "of": [{"type": "price", "op": ">", "level": "1"}, {"type": "price", "op": "<", "level": "2"}]}),
        )
        .unwrap();
        let err = Condition::from_document(&doc).unwrap_err().to_string();
        assert!(err.contains("version 2"), "{err}");
        let rule = parse_rule("AAPL > 1 and SPY day change > 0%").unwrap();
        assert_eq!(
            serde_json::to_value(rule.condition.to_document()).unwrap(),
            json!({"version": 2, "type": "and", "of": [
                {"type": "price", "op": ">", "level": "1"},
                {"type": "on", "symbol": "SPY", "condition": {"type": "day_change", "op": ">", "percent": "0"}}
            ]})
        );
    }
}
