//! Rules from plain words: "tell me if Apple drops 5% today" → `AAPL day change <= -5%`.
//!
//! A deterministic phrase reader, with no key and no network: it finds the symbol (a `$`
//! ticker, a ticker in capitals, a company, fund, index or crypto name from the shipped
//! [`SymbolDirectory`]), the numbers (`60k`, `$1,250.50`, `5 percent`, `a tenth`) and the
//! condition, writes the rule's text and reads that text with the rule parser, so what it
//! proposes is exactly what the grammar says. It would rather refuse than guess: a sentence
//! with a number it did not use, a negation, two conditions or a time frame the engine does
//! not have is refused with what was understood.
//!
//! ```
//! use signal_sentinel::market::directory::SymbolDirectory;
//! use signal_sentinel::rules::words::{read_sentence, Reading};
//!
//! let directory = SymbolDirectory::shipped();
//! let Reading::Rule(p) = read_sentence("tell me if Apple drops 5% today", &directory) else {
//!     panic!("not understood");
//! };
//! assert_eq!(p.text, "AAPL day change <= -5%");
//! assert_eq!(p.explanation, "Fires when Apple Inc. (AAPL) is down 5% or more from the previous session's close.");
//! ```

use rust_decimal::Decimal;
use serde::Serialize;

use crate::engine::text::{direction_word, extreme_word};
use crate::engine::{Comparison, Condition, Direction, Extreme, Move, RuleText, parse_rule};
use crate::market::directory::{Listing, SymbolDirectory};

/// The longest sentence read, in characters.
pub const MAX_SENTENCE_LEN: usize = 300;

/// A rule read from a sentence, to show before it is saved.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Proposal {
    /// The rule in its canonical text, as `invest rules add` and `POST /api/rules` take it.
    pub text: String,
    /// The symbols it watches, with their names (none for `PORTFOLIO`).
    pub symbols: Vec<Listing>,
    /// What will fire, in words a user can check.
    pub explanation: String,
    /// Who read the sentence.
    pub source: ProposalSource,
    /// The rule as parsed.
    #[serde(skip)]
    pub rule: RuleText,
}

/// Who turned the sentence into a rule.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ProposalSource {
    /// The offline phrase reader.
    Phrases,
    /// A language model, checked by the rule parser.
    Model,
}

/// What a sentence gave.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reading {
    /// A rule to confirm.
    Rule(Proposal),
    /// A name that stands for several symbols: the user picks one and says it again.
    Choose {
        /// The words that named it.
        mention: String,
        /// The symbols it may mean.
        choices: Vec<Listing>,
    },
    /// No rule: why, and what was understood.
    Refused {
        /// Why, with what to say instead.
        reason: String,
        /// What was understood (the symbol, a number, a direction…).
        understood: Vec<String>,
        /// The words that seemed to name a symbol nobody here knows ("Rocket Lab", `RKLB`):
        /// what to ask the providers' symbol search.
        unresolved: Option<String>,
    },
}

/// Reads a sentence into a rule, a choice of symbols, or a refusal.
pub fn read_sentence(sentence: &str, directory: &SymbolDirectory) -> Reading {
    let mut reader = Reader::default();
    reader.read(sentence, directory)
}

#[derive(Debug, Clone, PartialEq)]
enum Tok {
    Word(String),
    Symbol(Listing),
    Portfolio,
    Price(Decimal),
    Percent(Decimal),
    Ambiguous(String, Vec<Listing>),
    /// A count of a unit, in minutes each: "30 minutes", "3 days"; `within` when after
    /// "within", "in" or "next".
    Count {
        n: u32,
        minutes: u32,
        within: bool,
    },
}

#[derive(Default)]
struct Reader {
    understood: Vec<String>,
    /// The counts of the sentence ("30 minutes", "3 days") went into the rule.
    counts_used: bool,
}

fn refuse(reason: impl Into<String>, understood: &[String]) -> Reading {
    Reading::Refused {
        reason: reason.into(),
        understood: understood.to_vec(),
        unresolved: None,
    }
}

#[rustfmt::skip]
const UP: &[&str] = &[
    "rises", "rise", "rose", "risen", "jumps", "jump", "jumped", "gains", "gain", "gained",
    "climbs", "climb", "climbed", "surges", "surge", "soars", "soar", "spikes", "spike",
    "rallies", "rally", "increases", "increase", "up", "pops", "pop", "rockets", "moons",
];
#[rustfmt::skip]
const DOWN: &[&str] = &[
    "drops", "drop", "dropped", "falls", "fall", "fell", "fallen", "declines", "decline",
    "sinks", "sink", "slides", "slide", "plunges", "plunge", "tanks", "tank", "loses", "lose",
    "lost", "down", "dips", "dip", "crashes", "crash", "slumps", "slump", "tumbles", "tumble",
    "decreases", "decrease", "dumps", "dump",
];
const EITHER: &[&str] = &["moves", "move", "swings", "swing", "changes", "change"];
const ABOVE: &[&str] = &["above", "over", "past", "exceeds", "exceed", "tops", "top"];
const BELOW: &[&str] = &["below", "under", "beneath", "underneath"];
/// Words the reader does not turn into a rule, and must not ignore: time frames without a
/// number, dates, sessions, and figures other than the price.
#[rustfmt::skip]
const UNREAD: &[&str] = &[
    "minute", "minutes", "min", "mins", "hour", "hours", "hr", "hrs", "week", "weeks", "month",
    "months", "tomorrow", "tonight", "monday", "tuesday", "wednesday", "thursday", "friday",
    "saturday", "sunday", "premarket", "pre", "after-hours", "afterhours", "overnight", "twice",
    "trillion", "cap", "capitalization", "pe", "p/e", "ratio", "yield", "eps", "revenue",
    "sales", "beta", "spread", "premium", "dominance", "rating", "analyst", "analysts",
    "options", "calls", "puts", "short", "interest", "funding", "inflation", "rate", "rates",
    "cpi", "gdp", "macd", "bollinger", "stochastic", "vwap", "atr", "target", "targets",
    "forecast", "estimate", "estimates", "dividend", "dividends", "closes", "closing", "opens",
    "opening",
];

/// Verbs that make "above 200" a crossing (it gets there), not a state (it is there).
const CROSSING: &[&str] = &[
    "crosses", "cross", "breaks", "break", "goes", "go", "gets", "get", "moves", "move", "rises",
    "rise", "climbs", "climb", "jumps", "jump", "drops", "drop", "falls", "fall", "sinks", "sink",
    "dips", "dip", "slips", "slip", "back", "pushes", "reclaims", "surges", "tops", "exceeds",
    "passes", "pass", "crashes", "plunges", "tanks",
];
/// Words that change a sentence's meaning in ways the reader does not follow.
const NEGATIONS: &[&str] = &[
    "not", "don't", "dont", "doesn't", "doesnt", "isn't", "isnt", "never", "unless", "except",
    "without", "no", "cancel", "delete", "remove", "mute",
];
impl Reader {
    fn read(&mut self, sentence: &str, directory: &SymbolDirectory) -> Reading {
        if sentence.chars().count() > MAX_SENTENCE_LEN {
            return refuse(
                format!("a sentence is at most {MAX_SENTENCE_LEN} characters"),
                &[],
            );
        }
        if sentence.trim().is_empty() {
            return refuse(
                "say what to watch, e.g. \"tell me if Apple drops 5% today\"",
                &[],
            );
        }
        let tokens = match tokenize(sentence, directory) {
            Ok(t) => t,
            Err(reason) => return refuse(reason, &[]),
        };
        for t in &tokens {
            if let Tok::Ambiguous(mention, choices) = t {
                return Reading::Choose {
                    mention: mention.clone(),
                    choices: choices.clone(),
                };
            }
        }
        let words: Vec<&str> = tokens
            .iter()
            .filter_map(|t| match t {
                Tok::Word(w) => Some(w.as_str()),
                _ => None,
            })
            .collect();
        let symbols: Vec<&Listing> = tokens
            .iter()
            .filter_map(|t| match t {
                Tok::Symbol(l) => Some(l),
                _ => None,
            })
            .collect();
        let portfolio = tokens.iter().any(|t| matches!(t, Tok::Portfolio));
        let prices: Vec<Decimal> = tokens
            .iter()
            .filter_map(|t| match t {
                Tok::Price(p) => Some(*p),
                _ => None,
            })
            .collect();
        let percents: Vec<Decimal> = tokens
            .iter()
            .filter_map(|t| match t {
                Tok::Percent(p) => Some(*p),
                _ => None,
            })
            .collect();
        let counts: Vec<(u32, u32, bool)> = tokens
            .iter()
            .filter_map(|t| match t {
                Tok::Count { n, minutes, within } => Some((*n, *minutes, *within)),
                _ => None,
            })
            .collect();
        for s in &symbols {
            self.understood
                .push(format!("the symbol {} ({})", s.symbol, s.name));
        }
        if portfolio {
            self.understood.push("your portfolio".into());
        }
        for p in &prices {
            self.understood.push(format!("the number {p}"));
        }
        for p in &percents {
            self.understood.push(format!("{p}%"));
        }
        // Amounts in words the reader does not compute: never read as some other number.
        if let Some(w) = words.iter().find(|w| {
            matches!(
                **w,
                "hundred"
                    | "thousand"
                    | "million"
                    | "billion"
                    | "grand"
                    | "dozen"
                    | "couple"
                    | "few"
                    | "several"
                    | "third"
                    | "thirds"
            )
        }) {
            return refuse(
                format!("\"{w}\": write the amount in digits (200, 1.5m, 33%)"),
                &self.understood,
            );
        }
        // Time frames said without a number, dates, and figures the engine does not watch:
        // refused rather than dropped (a rule that ignores half the sentence is wrong).
        if let Some(w) = words.iter().find(|w| UNREAD.contains(w)) {
            return refuse(
                format!(
                    "\"{w}\" names something the rules here cannot watch; they watch prices, moves from the previous close or within a window said with a number (\"within 2 hours\"), volume, averages, RSI, highs and lows, and your positions"
                ),
                &self.understood,
            );
        }
        if !words.contains(&"volume")
            && let Some(w) = words.iter().find(|w| {
                w.strip_suffix('x')
                    .is_some_and(|n| n.parse::<Decimal>().is_ok())
            })
        {
            return refuse(
                format!("\"{w}\": a multiple is read for volume only (\"volume 3x average\")"),
                &self.understood,
            );
        }
        if let Some(n) = words.iter().find(|w| NEGATIONS.contains(w)) {
            return refuse(
                format!(
                    "\"{n}\" changes what the rule would mean; say what should fire, e.g. \"tell me if Apple drops 5% today\""
                ),
                &self.understood,
            );
        }
        let mut distinct: Vec<&Listing> = Vec::new();
        for s in &symbols {
            if !distinct.iter().any(|d| d.symbol == s.symbol) {
                distinct.push(s);
            }
        }
        if distinct.len() + usize::from(portfolio) > 1 {
            return refuse(
                "one symbol per sentence; rules on two symbols are written in the rule grammar (see docs/rules.md)",
                &self.understood,
            );
        }
        if prices.len() + percents.len() > 1 {
            return refuse(
                "one number per sentence: a rule has one level or one percentage",
                &self.understood,
            );
        }
        let target = if portfolio {
            Target::Portfolio
        } else if let Some(s) = distinct.first() {
            Target::Symbol((*s).clone())
        } else {
            let unresolved = unknown_name(sentence);
            let close: Vec<String> = unresolved
                .as_deref()
                .map(|name| directory.suggest(name, 3))
                .unwrap_or_default()
                .iter()
                .map(|l| format!("{} ({})", l.symbol, l.name))
                .collect();
            let hint = if close.is_empty() {
                String::new()
            } else {
                format!("; did you mean {}?", close.join(" or "))
            };
            return Reading::Refused {
                reason: format!(
                    "which symbol? name it by its ticker ($AAPL) or its name (Apple){hint}"
                ),
                understood: self.understood.clone(),
                unresolved,
            };
        };
        let body = match self.condition(&words, &prices, &percents, &counts, &target) {
            Ok(body) => body,
            Err(reason) => return refuse(reason, &self.understood),
        };
        if !counts.is_empty() && !self.counts_used {
            return refuse(
                "the time frame said is not part of that condition; a window goes with a move (\"drops 3% within 30 minutes\")",
                &self.understood,
            );
        }
        if contains_phrase(&words, "at the close") || contains_phrase(&words, "by the close") {
            return refuse(
                "rules read as words are watched all session; evaluating at the close is a rule option (docs/rules.md)",
                &self.understood,
            );
        }
        let text = format!("{} {body}", target.symbol_text());
        let rule = match parse_rule(&text) {
            Ok(rule) => rule,
            Err(e) => return refuse(format!("{text}: {e}"), &self.understood),
        };
        let text = rule.to_string();
        let explanation = explain(&rule, &target.display());
        Reading::Rule(Proposal {
            text,
            symbols: match target {
                Target::Symbol(l) => vec![l],
                Target::Portfolio => Vec::new(),
            },
            explanation,
            source: ProposalSource::Phrases,
            rule,
        })
    }

    /// The condition's text after the symbol.
    #[allow(clippy::too_many_lines)]
    fn condition(
        &mut self,
        words: &[&str],
        prices: &[Decimal],
        percents: &[Decimal],
        counts: &[(u32, u32, bool)],
        target: &Target,
    ) -> Result<String, String> {
        let has = |w: &str| words.contains(&w);
        let any = |list: &[&str]| words.iter().any(|w| list.contains(w));
        let phrase = |p: &str| contains_phrase(words, p);
        let price = prices.first().copied();
        let percent = percents.first().copied();
        let portfolio = matches!(target, Target::Portfolio);

        // Words with one meaning each, first.
        if has("overbought") || has("oversold") {
            if price.is_some() || percent.is_some() {
                return Err("overbought and oversold take no number (RSI 70 and 30); say \"RSI above 80\" for another level".into());
            }
            return Ok(if has("overbought") {
                "rsi(14) > 70"
            } else {
                "rsi(14) < 30"
            }
            .into());
        }
        if has("rsi") {
            let level = price.ok_or("an RSI level, e.g. \"RSI above 70\"")?;
            let op = if any(ABOVE) {
                ">"
            } else if any(BELOW) {
                "<"
            } else {
                return Err("say whether the RSI goes above or below the level".into());
            };
            let period = words
                .iter()
                .find_map(|w| w.strip_prefix("rsi(").and_then(|r| r.strip_suffix(')')))
                .unwrap_or("14");
            return Ok(format!("rsi({period}) {op} {level}"));
        }
        if phrase("golden cross") || phrase("death cross") {
            if price.is_some() || percent.is_some() {
                return Err("a golden or death cross takes no number".into());
            }
            let direction = if phrase("golden cross") {
                "above"
            } else {
                "below"
            };
            return Ok(format!("sma(50) crosses {direction} sma(200)"));
        }
        if phrase("all time high") || phrase("all time low") || has("ath") || has("record") {
            return Err("the engine knows 52-week highs and lows, not all-time ones: say \"a new 52-week high\"".into());
        }
        if has("earnings") {
            let days = Self::days(counts)?;
            self.counts_used = true;
            return Ok(format!("earnings within {days}d"));
        }
        if has("ex-dividend") {
            let days = Self::days(counts)?;
            self.counts_used = true;
            return Ok(format!("ex-dividend within {days}d"));
        }
        if has("split") {
            if price.is_some() || percent.is_some() {
                return Err("a split announcement takes no number".into());
            }
            return Ok("split announced".into());
        }
        if has("volume") {
            if price.is_some() {
                return Err(
                    "say volume as a multiple of its average, e.g. \"volume 3x average\"".into(),
                );
            }
            let multiple = words
                .iter()
                .find_map(|w| w.strip_suffix('x').and_then(|m| m.parse::<Decimal>().ok()))
                .or_else(|| has("doubles").then_some(Decimal::TWO))
                .or_else(|| has("triples").then_some(Decimal::from(3)));
            let multiple = match multiple {
                Some(m) => m,
                None if has("spike")
                    || has("spikes")
                    || has("surge")
                    || has("surges")
                    || has("unusual") =>
                {
                    Decimal::TWO
                }
                None => {
                    return Err(
                        "say how much volume, e.g. \"volume spike\" or \"volume 3x average\""
                            .into(),
                    );
                }
            };
            return Ok(format!("volume >= {multiple}x avg(20)"));
        }
        let high = has("high") || has("highs") || has("top") || has("peak");
        let low = has("low") || has("lows") || has("bottom");
        let fifty_two = has("52w") || phrase("year") || has("yearly") || has("annual");
        if has("trailing")
            || phrase("from the top")
            || phrase("from its peak")
            || phrase("from the peak")
            || phrase("off the top")
            || phrase("off its high")
        {
            let p = percent.ok_or("a trailing stop needs a percentage: \"trailing 10%\"")?;
            return Ok(format!("trailing stop {p}%"));
        }
        if has("new") && (high || low) {
            if price.is_some() || percent.is_some() {
                return Err("a new high or low takes no number".into());
            }
            let which = if high { "high" } else { "low" };
            return Ok(format!("new 52w {which}"));
        }
        if (high || low) && fifty_two {
            let p = percent.ok_or("say how near, e.g. \"within 5% of its 52-week high\"")?;
            if !has("within") && !has("near") && !has("close") {
                return Err(
                    "the engine has \"within N% of the 52-week high\"; say it that way".into(),
                );
            }
            let which = if high { "high" } else { "low" };
            return Ok(format!("within {p}% of 52w {which}"));
        }
        if has("gap") || has("gaps") {
            let p = percent.ok_or("a gap needs a percentage: \"gaps up 2%\"")?;
            let dir = if any(UP) {
                "up"
            } else if any(DOWN) {
                "down"
            } else {
                return Err("say whether it gaps up or down".into());
            };
            return Ok(format!("gap {dir} >= {p}%"));
        }
        if let Some(kind) = words.iter().find_map(|w| average_of(w)) {
            let days = average_days(words)
                .ok_or("say the average's length, e.g. \"its 50-day moving average\"")?;
            let dir = if any(ABOVE) || any(UP) {
                "above"
            } else if any(BELOW) || any(DOWN) {
                "below"
            } else {
                return Err("say whether it crosses above or below the average".into());
            };
            if price.is_some() || percent.is_some() {
                return Err("a cross of an average takes no other number".into());
            }
            return Ok(format!("crosses {dir} {kind}({days})"));
        }

        // Holdings.
        let cost = has("paid")
            || has("cost")
            || has("bought")
            || phrase("purchase price")
            || phrase("entry");
        if cost {
            if portfolio {
                return Err(
                    "a loss against cost is per position: name the symbol (\"my Tesla position…\")"
                        .into(),
                );
            }
            let p = percent.ok_or("say how far below cost, e.g. \"down 10% from what I paid\"")?;
            if any(UP) && !any(DOWN) {
                return Err("the engine watches positions below their cost, not above".into());
            }
            if !any(DOWN) && !any(BELOW) {
                return Err("say \"down\" or \"below\" what you paid".into());
            }
            return Ok(format!("position {p}% below cost"));
        }

        // Moves by a percentage.
        if let Some(p) = percent {
            if p <= Decimal::ZERO {
                return Err("a move is a positive percentage".into());
            }
            let up = any(UP) && !has("down");
            let down = any(DOWN) && !has("up");
            let either = phrase("either way")
                || phrase("either direction")
                || (any(EITHER) && !any(UP) && !any(DOWN));
            let direction = match (up, down, either) {
                (true, false, false) => Move::Up,
                (false, true, false) => Move::Down,
                (_, _, true) => Move::Either,
                _ => return Err("say which way it moves: rises, falls, or moves either way".into()),
            };
            if phrase("this week") || phrase("this month") || phrase("this year") {
                return Err("the engine measures moves from the previous close (\"today\") or within a window (\"within 5 days\"), not since the start of a week".into());
            }
            if let Some(minutes) = window(counts)? {
                self.counts_used = true;
                if portfolio {
                    return Err("your portfolio is watched by its day change: say \"today\"".into());
                }
                let way = match direction {
                    Move::Up => " up",
                    Move::Down => " down",
                    Move::Either => "",
                };
                return Ok(format!(
                    "moves{way} {p}% within {}",
                    crate::engine::text::duration(minutes)
                ));
            }
            if has("position") && !portfolio && (has("today") || has("day")) {
                if direction != Move::Either {
                    return Err("the engine watches a position's day move either way: say \"moves 5% today\"".into());
                }
                return Ok(format!("position day move >= {p}%"));
            }
            // No window: from the previous session's close, as a day change. A move either
            // way needs its time frame said.
            if direction == Move::Either && !words.contains(&"today") {
                return Err(
                    "say when: \"moves 5% today\" or \"moves 5% within 30 minutes\"".into(),
                );
            }
            return Ok(match direction {
                Move::Up => format!("day change >= {p}%"),
                Move::Down => format!("day change <= -{p}%"),
                Move::Either => format!("day change >= {p}% or day change <= -{p}%"),
            });
        }

        // A price level.
        if let Some(level) = price {
            let above = any(ABOVE) || (any(UP) && !any(DOWN));
            let below = any(BELOW) || (any(DOWN) && !any(UP));
            let above = above && !any(BELOW);
            let below = below && !any(ABOVE);
            let crossing = any(CROSSING) || has("hits") || has("reaches");
            let (way, op) = match (above, below) {
                (true, false) => ("above", ">"),
                (false, true) => ("below", "<"),
                _ => {
                    return Err("say whether the price goes above or below the level".into());
                }
            };
            if portfolio {
                return Ok(format!("price {op} {level}"));
            }
            return Ok(if crossing {
                format!("crosses {way} {level}")
            } else {
                format!("price {op} {level}")
            });
        }
        Err("I found no condition I know: prices above or below a level, moves by a percentage, new highs or lows, overbought or oversold, golden or death crosses, volume spikes, trailing stops, losses against what you paid".into())
    }

    fn days(counts: &[(u32, u32, bool)]) -> Result<u32, String> {
        match counts {
            [(n, 1440, _)] => Ok(*n),
            _ => Err("say how many days ahead, e.g. \"earnings within 3 days\"".into()),
        }
    }
}

enum Target {
    Symbol(Listing),
    Portfolio,
}

impl Target {
    fn symbol_text(&self) -> String {
        match self {
            Self::Symbol(l) => l.symbol.to_string(),
            Self::Portfolio => crate::engine::PORTFOLIO.to_owned(),
        }
    }

    fn display(&self) -> String {
        match self {
            Self::Symbol(l) => format!("{} ({})", l.name, l.symbol),
            Self::Portfolio => "your portfolio".to_owned(),
        }
    }
}

fn contains_phrase(words: &[&str], phrase: &str) -> bool {
    let p: Vec<&str> = phrase.split(' ').collect();
    words.windows(p.len()).any(|w| w == p.as_slice())
}

fn average_of(word: &str) -> Option<&'static str> {
    match word {
        "sma" | "average" | "ma" => Some("sma"),
        "ema" => Some("ema"),
        _ => None,
    }
}

/// The length of a moving average: "50-day" (the tokenizer's spelling of "50-day",
/// "50 day" and "50d" before an average), or `sma(50)`.
fn average_days(words: &[&str]) -> Option<u32> {
    words.iter().find_map(|w| {
        w.strip_suffix("-day")
            .or_else(|| w.strip_prefix("sma(").and_then(|r| r.strip_suffix(')')))
            .or_else(|| w.strip_prefix("ema(").and_then(|r| r.strip_suffix(')')))
            .and_then(|n| n.parse().ok())
    })
}

/// The window of a move, in minutes: the count after "within", "in" or "next".
fn window(counts: &[(u32, u32, bool)]) -> Result<Option<u32>, String> {
    match counts {
        [] => Ok(None),
        [(n, minutes, true)] => n
            .checked_mul(*minutes)
            .map(Some)
            .ok_or_else(|| "that window is too long".into()),
        _ => Err("say the window once, after \"within\": \"within 30 minutes\"".into()),
    }
}

/// A unit of a count: "30 minutes", "2 hours", "3 days", "a week".
fn unit_minutes(word: &str) -> Option<u32> {
    match word {
        "minute" | "minutes" | "min" | "mins" | "m" => Some(1),
        "hour" | "hours" | "hr" | "hrs" | "h" => Some(60),
        "day" | "days" | "d" | "session" | "sessions" => Some(24 * 60),
        "week" | "weeks" | "w" | "wk" => Some(7 * 24 * 60),
        _ => None,
    }
}

const AVERAGE_WORDS: &[&str] = &["moving", "average", "sma", "ema", "ma"];

/// Splits a sentence into words, symbols and numbers.
#[allow(clippy::too_many_lines)]
fn tokenize(sentence: &str, directory: &SymbolDirectory) -> Result<Vec<Tok>, String> {
    // Pieces: whitespace-separated, outer punctuation trimmed (kept inside: BRK.B, 1,250.50).
    let mut raw: Vec<String> = Vec::new();
    for piece in sentence.split_whitespace() {
        let piece = piece.trim_matches(|c: char| {
            matches!(
                c,
                ',' | '.' | '!' | '?' | ';' | ':' | '"' | '“' | '”' | '\'' | '‘' | '’' | '(' | ')'
            )
        });
        let piece = piece
            .strip_suffix("'s")
            .or_else(|| piece.strip_suffix("’s"))
            .unwrap_or(piece);
        if !piece.is_empty() {
            raw.push(piece.to_owned());
        }
    }
    let lower: Vec<String> = raw.iter().map(|r| r.to_lowercase()).collect();
    let at = |i: usize| lower.get(i).map(String::as_str);
    let mut out: Vec<Tok> = Vec::new();
    let mut i = 0;
    while i < raw.len() {
        let original = raw[i].as_str();
        let word = lower[i].as_str();
        let after_within = i > 0 && matches!(at(i - 1), Some("within" | "in" | "inside" | "next"));
        // "within 30m", "in 2h", "within 3d": a duration.
        if after_within
            && let Some(unit) = word.char_indices().last().and_then(|(k, c)| {
                let n = word[..k].parse::<u32>().ok()?;
                Some((n, unit_minutes(&c.to_string())?))
            })
        {
            out.push(Tok::Count {
                n: unit.0,
                minutes: unit.1,
                within: true,
            });
            i += 1;
            continue;
        }
        // "within an hour", "in a week", "in one day".
        if after_within
            && matches!(word, "a" | "an" | "one")
            && let Some(m) = at(i + 1).and_then(unit_minutes)
        {
            out.push(Tok::Count {
                n: 1,
                minutes: m,
                within: true,
            });
            i += 2;
            continue;
        }
        // "50-day moving average", "200-day".
        if let Some((n, rest)) = word.split_once('-')
            && let Ok(n) = n.parse::<u32>()
        {
            match rest {
                "day" | "days" | "d" if at(i + 1).is_some_and(|w| AVERAGE_WORDS.contains(&w)) => {
                    out.push(Tok::Word(format!("{n}-day")));
                    i += 1;
                    continue;
                }
                "week" | "weeks" | "wk" if n == 52 => {
                    out.push(Tok::Word("52w".into()));
                    i += 1;
                    continue;
                }
                _ => {}
            }
            if let Some(m) = unit_minutes(rest) {
                out.push(Tok::Count {
                    n,
                    minutes: m,
                    within: after_within,
                });
                i += 1;
                continue;
            }
        }
        if let Some(number) = number_of(word) {
            let next = at(i + 1);
            match number {
                Number::Percent(p) => out.push(Tok::Percent(p)),
                Number::Multiple(m) => out.push(Tok::Word(format!("{m}x"))),
                Number::Days(d) if at(i + 1).is_some_and(|w| AVERAGE_WORDS.contains(&w)) => {
                    out.push(Tok::Word(format!("{d}-day")));
                }
                Number::Days(d) => out.push(Tok::Count {
                    n: d,
                    minutes: 24 * 60,
                    within: after_within,
                }),
                Number::Plain(n) => {
                    // "two hundred", "5 thousand", "1.5 million": scaled; a scale word not
                    // after a number, or two in a row, is not read.
                    let scale = match next {
                        Some("hundred") => Some(100),
                        Some("thousand" | "grand") => Some(1_000),
                        Some("million") => Some(1_000_000),
                        Some("billion") => Some(1_000_000_000),
                        _ => None,
                    };
                    if let Some(scale) = scale {
                        let scaled = n
                            .checked_mul(Decimal::from(scale))
                            .ok_or("that number is too large")?;
                        if at(i + 2).is_some_and(|w| {
                            matches!(w, "hundred" | "thousand" | "grand" | "million" | "billion")
                        }) {
                            return Err("write large numbers in digits: 250000, 1.5m".into());
                        }
                        out.push(Tok::Price(scaled.normalize()));
                        i += 2;
                        continue;
                    }
                    let whole = u32::try_from(n.trunc().mantissa())
                        .ok()
                        .filter(|w| Decimal::from(*w) == n && n.scale() == 0);
                    if matches!(next, Some("percent" | "pct" | "%")) {
                        out.push(Tok::Percent(n));
                        i += 2;
                        continue;
                    }
                    if next == Some("per") && at(i + 2) == Some("cent") {
                        out.push(Tok::Percent(n));
                        i += 3;
                        continue;
                    }
                    if matches!(next, Some("x" | "times")) {
                        out.push(Tok::Word(format!("{n}x")));
                        i += 2;
                        continue;
                    }
                    if let (Some(w), Some(m)) = (whole, next.and_then(unit_minutes)) {
                        if w == 52 && matches!(next, Some("week" | "weeks" | "wk")) {
                            out.push(Tok::Word("52w".into()));
                        } else if at(i + 2).is_some_and(|x| AVERAGE_WORDS.contains(&x)) {
                            out.push(Tok::Word(format!("{w}-day")));
                        } else {
                            out.push(Tok::Count {
                                n: w,
                                minutes: m,
                                within: after_within,
                            });
                        }
                        i += 2;
                        continue;
                    }
                    out.push(Tok::Price(n));
                }
            }
            i += 1;
            continue;
        }
        // Fractions in words: "a tenth", "a quarter", "half".
        if let Some(p) = fraction(word, at(i + 1)) {
            out.push(Tok::Percent(p));
            i += if word == "half" { 1 } else { 2 };
            continue;
        }
        // A `$` ticker.
        if let Some(ticker) = original.strip_prefix('$')
            && ticker.chars().next().is_some_and(char::is_alphabetic)
        {
            let symbol =
                crate::domain::Symbol::parse(ticker).map_err(|e| format!("{original}: {e}"))?;
            let listing = directory
                .get(&symbol)
                .cloned()
                .unwrap_or_else(|| Listing::unlisted(symbol));
            out.push(Tok::Symbol(listing));
            i += 1;
            continue;
        }
        // A canonical symbol with its punctuation, or a ticker in capitals.
        let looks_like_ticker = original.len() >= 2
            && original.chars().all(|c| {
                c.is_ascii_uppercase()
                    || c.is_ascii_digit()
                    || matches!(c, '.' | '-' | '/' | '^' | '=')
            })
            && original.chars().any(|c| c.is_ascii_uppercase());
        if looks_like_ticker || original.starts_with('^') {
            let canonical = original.to_uppercase().replace('/', "-");
            if let Some(listing) = directory.get_str(&canonical) {
                out.push(Tok::Symbol(listing.clone()));
                i += 1;
                continue;
            }
        }
        // Names: the longest run of words that names a listing.
        let longest = crate::market::directory::MAX_NAME_WORDS.min(raw.len() - i);
        let mut matched = false;
        for len in (1..=longest).rev() {
            let name = raw[i..i + len].join(" ");
            let found = directory.by_name(&name);
            if found.is_empty() {
                continue;
            }
            if SymbolDirectory::is_common_word(&name)
                && !raw[i].chars().next().is_some_and(char::is_uppercase)
            {
                continue;
            }
            if found.len() == 1 {
                out.push(Tok::Symbol(found[0].clone()));
            } else {
                out.push(Tok::Ambiguous(name, found.into_iter().cloned().collect()));
            }
            i += len;
            matched = true;
            break;
        }
        if matched {
            continue;
        }
        match word {
            "portfolio" => out.push(Tok::Portfolio),
            "ex-dividend" | "rsi" => out.push(Tok::Word(word.to_owned())),
            w if w.starts_with("rsi(") || w.starts_with("sma(") || w.starts_with("ema(") => {
                out.push(Tok::Word(w.to_owned()));
            }
            w => {
                for part in w.split(['-', '/']).filter(|p| !p.is_empty()) {
                    out.push(Tok::Word(part.to_owned()));
                }
            }
        }
        i += 1;
    }
    Ok(out)
}

enum Number {
    Plain(Decimal),
    Percent(Decimal),
    Multiple(Decimal),
    Days(u32),
}

/// `200`, `$1,250.50`, `60k`, `1.5m`, `5%`, `-5%`, `2.5x`, `50d`, number words up to ninety.
fn number_of(word: &str) -> Option<Number> {
    if let Some(n) = word_number(word) {
        return Some(Number::Plain(Decimal::from(n)));
    }
    let (body, percent) = match word.strip_suffix('%') {
        Some(b) => (b, true),
        None => (word, false),
    };
    let body = body.strip_prefix('$').unwrap_or(body);
    let body = body.strip_prefix('+').unwrap_or(body);
    let (body, multiple) = match body.strip_suffix('x') {
        Some(b) if !percent => (b, true),
        _ => (body, false),
    };
    if let Some(d) = body.strip_suffix('d').filter(|_| !percent && !multiple)
        && let Ok(d) = d.parse::<u32>()
    {
        return Some(Number::Days(d));
    }
    let (body, scale) = match body.char_indices().last() {
        Some((i, 'k')) => (&body[..i], Decimal::from(1_000)),
        Some((i, 'm')) if !percent => (&body[..i], Decimal::from(1_000_000)),
        _ => (body, Decimal::ONE),
    };
    if body.is_empty()
        || !body
            .chars()
            .next()
            .is_some_and(|c| c.is_ascii_digit() || c == '.')
    {
        return None;
    }
    if !body
        .chars()
        .all(|c| c.is_ascii_digit() || c == '.' || c == ',')
    {
        return None;
    }
    // Commas group thousands: 1,250.50 yes, 1,25 no.
    let mut parts = body.split('.');
    let whole = parts.next()?;
    let groups: Vec<&str> = whole.split(',').collect();
    if groups.len() > 1
        && (groups[0].is_empty() || groups[0].len() > 3 || groups[1..].iter().any(|g| g.len() != 3))
    {
        return None;
    }
    let plain = body.replace(',', "");
    let value = plain
        .parse::<Decimal>()
        .ok()?
        .checked_mul(scale)?
        .normalize();
    Some(if percent {
        Number::Percent(value)
    } else if multiple {
        Number::Multiple(value)
    } else {
        Number::Plain(value)
    })
}

fn word_number(word: &str) -> Option<u32> {
    #[rustfmt::skip]
    const ONES: [&str; 20] = [
        "zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine",
        "ten", "eleven", "twelve", "thirteen", "fourteen", "fifteen", "sixteen", "seventeen", "eighteen", "nineteen",
    ];
    const TENS: [&str; 8] = [
        "twenty", "thirty", "forty", "fifty", "sixty", "seventy", "eighty", "ninety",
    ];
    if let Some(i) = ONES.iter().position(|w| *w == word) {
        // "one" is also "a": counted only where a count is read.
        return (i != 1)
            .then(|| u32::try_from(i).unwrap_or(0))
            .filter(|n| *n > 0);
    }
    if let Some(i) = TENS.iter().position(|w| *w == word) {
        return u32::try_from(i).ok().map(|i| (i + 2) * 10);
    }
    let (tens, ones) = word.split_once('-')?;
    let t = TENS.iter().position(|w| *w == tens)?;
    let o = ONES
        .iter()
        .position(|w| *w == ones)
        .filter(|o| (1..10).contains(o))?;
    u32::try_from((t + 2) * 10 + o).ok()
}

fn fraction(word: &str, next: Option<&str>) -> Option<Decimal> {
    if word == "half" {
        return Some(Decimal::from(50));
    }
    if !matches!(word, "a" | "one") {
        return None;
    }
    match next? {
        "tenth" => Some(Decimal::from(10)),
        "fifth" => Some(Decimal::from(20)),
        "quarter" => Some(Decimal::from(25)),
        "half" => Some(Decimal::from(50)),
        _ => None,
    }
}

/// What a rule fires on, in words: "Fires when Apple Inc. (AAPL) crosses above 200."
pub fn explain(rule: &RuleText, who: &str) -> String {
    format!("Fires when {}.", explain_condition(&rule.condition, who))
}

fn op_words(op: Comparison) -> &'static str {
    match op {
        Comparison::Above => "above",
        Comparison::AtOrAbove => "at or above",
        Comparison::Below => "below",
        Comparison::AtOrBelow => "at or below",
    }
}

fn explain_condition(c: &Condition, who: &str) -> String {
    match c {
        Condition::Price {
            op,
            level,
            intraday,
        } => format!(
            "the price of {who} is {} {level}{}",
            op_words(*op),
            if *intraday {
                " (or was, between two samples)"
            } else {
                ""
            }
        ),
        Condition::CrossesLevel {
            direction, level, ..
        } => format!(
            "{who} crosses {} {level} (it was {} the level before)",
            direction_word(*direction),
            if *direction == Direction::Up {
                "at or below"
            } else {
                "at or above"
            }
        ),
        Condition::CrossesAverage { direction, average } => {
            format!("{who} crosses {} its {average}", direction_word(*direction))
        }
        Condition::AverageCrossesAverage {
            fast,
            direction,
            slow,
        } => format!(
            "the {fast} of {who} crosses {} its {slow}",
            direction_word(*direction)
        ),
        Condition::DayChange { op, percent } => {
            let size = percent.abs();
            match op {
                Comparison::AtOrBelow | Comparison::Below if percent.is_sign_negative() => {
                    format!("{who} is down {size}% or more from the previous session's close")
                }
                Comparison::AtOrAbove | Comparison::Above if !percent.is_sign_negative() => {
                    format!("{who} is up {size}% or more from the previous session's close")
                }
                _ => format!(
                    "the change of {who} from the previous session's close is {} {percent}%",
                    op_words(*op)
                ),
            }
        }
        Condition::MoveWithin {
            direction,
            percent,
            window_minutes,
        } => format!(
            "{who} has moved {}{percent}% or more within the last {}",
            match direction {
                Move::Up => "up ",
                Move::Down => "down ",
                Move::Either => "",
            },
            crate::time::describe(std::time::Duration::from_secs(
                u64::from(*window_minutes) * 60
            ))
        ),
        Condition::VolumeSpike { multiple, days } => format!(
            "today's volume of {who} reaches {multiple} times its average daily volume of the last {days} sessions"
        ),
        Condition::NewExtreme { extreme } => format!(
            "{who} trades {} every daily {} of the last 52 weeks",
            if *extreme == Extreme::High {
                "above"
            } else {
                "below"
            },
            extreme_word(*extreme)
        ),
        Condition::NearExtreme { extreme, percent } => format!(
            "{who} is within {percent}% of its 52-week {}",
            extreme_word(*extreme)
        ),
        Condition::Rsi { period, op, level } => {
            format!("the {period}-day RSI of {who} is {} {level}", op_words(*op))
        }
        Condition::TrailingStop { percent } => format!(
            "{who} falls {percent}% or more below the highest price since the rule was created"
        ),
        Condition::Gap { direction, percent } => format!(
            "{who} opens {percent}% or more {} the previous close",
            direction_word(*direction)
        ),
        Condition::PositionBelowCost { percent } => format!(
            "{who} is {percent}% or more below what you paid for your position (your average cost)"
        ),
        Condition::PositionDayMove { percent } => format!(
            "your position in {who} has moved {percent}% or more either way since the previous close"
        ),
        Condition::PositionWeight { percent } => {
            format!("your position in {who} is more than {percent}% of your portfolio's value")
        }
        Condition::Earnings { days } => {
            format!("{who} reports earnings within the next {days} days (today included)")
        }
        Condition::ExDividend { days } => {
            format!("{who} goes ex-dividend within the next {days} days (today included)")
        }
        Condition::SplitAnnounced => format!("a split of {who} is announced"),
        Condition::All { of } => of
            .iter()
            .map(|c| explain_condition(c, who))
            .collect::<Vec<_>>()
            .join(", and "),
        Condition::Any { of } => {
            if let [
                Condition::DayChange { percent: a, .. },
                Condition::DayChange { percent: b, .. },
            ] = of.as_slice()
                && a.abs() == b.abs()
            {
                return format!(
                    "{who} is up or down {}% or more from the previous session's close",
                    a.abs()
                );
            }
            of.iter()
                .map(|c| explain_condition(c, who))
                .collect::<Vec<_>>()
                .join(", or ")
        }
        Condition::Not { of } => format!("it is not so that {}", explain_condition(of, who)),
        Condition::On { symbol, condition } => explain_condition(condition, symbol.as_str()),
    }
}

/// What the model is told when the phrase reader could not decide: the grammar, and to answer
/// with JSON only (for servers without structured output).
pub const MODEL_INSTRUCTIONS: &str = "You turn a user's sentence about the market into one alert \
rule of Signal Sentinel's rule grammar, or say that you cannot. Answer with JSON only, no other \
text: {\"rule\": \"<SYMBOL condition>\" or null, \"reason\": \"<one short sentence>\"}. \
Conditions (one per rule): price > N, price < N, crosses above N, crosses below N, \
day change >= P%, day change <= -P%, moves up P% within 30m (m, h or d; at most 7d), \
moves down P% within 2h, moves P% within 1d, volume >= 2x avg(20), new 52w high, new 52w low, \
within P% of 52w high, rsi(14) > 70, rsi(14) < 30, trailing stop P%, gap up >= P%, \
gap down >= P%, crosses above sma(50), sma(50) crosses above sma(200), \
position P% below cost, position day move >= P%, earnings within Nd, ex-dividend within Nd, \
split announced. Symbols: US tickers (AAPL, BRK.B), indices in Yahoo's spelling (^GSPC), \
crypto as BTC-USD, and PORTFOLIO for the user's whole portfolio (price and day change only). \
Numbers are plain decimals (60000, not 60k). If the sentence asks for something these \
conditions cannot express exactly, or names no symbol, answer {\"rule\": null, \"reason\": \
\"...\"}. Never invent a symbol.";

/// The JSON schema of the model's answer.
pub fn model_schema() -> serde_json::Value {
    serde_json::json!({
        "type": "object",
        "properties": {
            "rule": {"type": ["string", "null"], "description": "SYMBOL condition, or null"},
            "reason": {"type": "string"}
        },
        "required": ["rule", "reason"],
        "additionalProperties": false
    })
}

/// The longest model answer read, in characters.
const MAX_MODEL_ANSWER: usize = 4_000;

/// Reads the model's answer to `sentence` with the same rule parser as any rule: a rule the
/// grammar does not have, a symbol neither in the table nor written by the user as `$TICKER`,
/// or an answer that is not the JSON asked for is refused.
pub fn read_model_answer(answer: &str, sentence: &str, directory: &SymbolDirectory) -> Reading {
    let refused = |reason: String| Reading::Refused {
        reason,
        understood: Vec::new(),
        unresolved: None,
    };
    if answer.chars().count() > MAX_MODEL_ANSWER {
        return refused("the model's answer was too long to be a rule".into());
    }
    // Some servers wrap JSON in a code fence even when told not to.
    let trimmed = answer
        .trim()
        .trim_start_matches("```json")
        .trim_start_matches("```")
        .trim_end_matches("```")
        .trim();
    let Ok(value) = serde_json::from_str::<serde_json::Value>(trimmed) else {
        return refused("the model did not answer with the JSON asked for".into());
    };
    let reason = value["reason"]
        .as_str()
        .unwrap_or_default()
        .trim()
        .to_owned();
    let text = match &value["rule"] {
        serde_json::Value::String(t) => t.clone(),
        serde_json::Value::Null => {
            return refused(if reason.is_empty() {
                "the model could not make a rule from this either".into()
            } else {
                format!("the model could not make a rule from this: {reason}")
            });
        }
        _ => return refused("the model did not answer with the JSON asked for".into()),
    };
    let rule = match parse_rule(&text) {
        Ok(rule) => rule,
        Err(e) => {
            return refused(format!(
                "the model proposed {:?}, which is not a rule the engine has ({e})",
                text.chars().take(120).collect::<String>()
            ));
        }
    };
    let mut symbols = Vec::new();
    let mut named = vec![rule.symbol.clone()];
    named.extend(
        rule.condition
            .other_symbols()
            .into_iter()
            .filter(|s| **s != rule.symbol)
            .cloned(),
    );
    for symbol in named {
        if symbol.as_str() == crate::engine::PORTFOLIO {
            continue;
        }
        let written = sentence.split_whitespace().any(|w| {
            w.trim_matches(|c: char| !c.is_alphanumeric() && c != '$' && c != '.')
                .eq_ignore_ascii_case(&format!("${symbol}"))
        });
        match directory.get(&symbol) {
            Some(l) => symbols.push(l.clone()),
            None if written => symbols.push(Listing::unlisted(symbol)),
            None => {
                return refused(format!(
                    "the model named {symbol}, a symbol this server does not know; write it as ${symbol} if it is right"
                ));
            }
        }
    }
    let who = if rule.symbol.as_str() == crate::engine::PORTFOLIO {
        "your portfolio".to_owned()
    } else {
        symbols.first().map_or_else(
            || rule.symbol.to_string(),
            |l| format!("{} ({})", l.name, l.symbol),
        )
    };
    Reading::Rule(Proposal {
        text: rule.to_string(),
        explanation: explain(&rule, &who),
        symbols,
        source: ProposalSource::Model,
        rule,
    })
}

/// The words of a sentence that may name a symbol the table does not know: a ticker in
/// capitals ("RKLB"), or a run of capitalised words after the first word ("Rocket Lab").
fn unknown_name(sentence: &str) -> Option<String> {
    let words: Vec<&str> = sentence
        .split_whitespace()
        .map(|w| {
            let w = w.trim_matches(|c: char| !c.is_alphanumeric() && c != '.' && c != '-');
            w.strip_suffix("'s")
                .or_else(|| w.strip_suffix("’s"))
                .unwrap_or(w)
        })
        .collect();
    let is_ticker = |w: &str| {
        (2..=6).contains(&w.len())
            && w.chars().all(|c| c.is_ascii_uppercase() || c == '.')
            && !matches!(w, "RSI" | "SMA" | "EMA" | "ETF" | "USD" | "ATH")
    };
    if let Some(t) = words.iter().skip(1).find(|w| is_ticker(w)) {
        return Some((*t).to_owned());
    }
    let mut run: Vec<&str> = Vec::new();
    for w in words.iter().skip(1) {
        if w.chars().next().is_some_and(char::is_uppercase) && w.chars().any(char::is_alphabetic) {
            run.push(w);
            if run.len() == 4 {
                break;
            }
        } else if !run.is_empty() {
            break;
        }
    }
    (!run.is_empty()).then(|| run.join(" "))
}
