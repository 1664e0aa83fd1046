//! Holdings: a CSV import for people without a broker link, and the portfolio's value from
//! current quotes.

use rust_decimal::Decimal;
use serde::Serialize;

use crate::csv_text;
use crate::domain::{Holding, Quote, Symbol};

/// Longest CSV accepted, in lines.
pub const MAX_CSV_LINES: usize = 5_000;

/// The longest holdings file, in characters (what one API request may carry).
pub const MAX_CSV_LEN: usize = 60_000;

/// A holding read from CSV.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HoldingRow {
    /// The line it came from (1 = the header).
    pub line: usize,
    /// The symbol.
    pub symbol: Symbol,
    /// Shares (or units), more than zero.
    pub quantity: Decimal,
    /// Cost per share, when given.
    pub cost_basis: Option<Decimal>,
    /// The account (`default` when the column is absent or empty).
    pub account: String,
}

/// A bad line of a holdings CSV.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct LineError {
    /// Its number (1 = the header).
    pub line: usize,
    /// What is wrong.
    pub message: String,
}

impl std::fmt::Display for LineError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "line {}: {}", self.line, self.message)
    }
}

/// Reads `symbol,quantity,cost_basis,account` (columns in any order; `cost_basis` and
/// `account` optional; blank lines skipped). Either every line is good, or every bad line is
/// reported and nothing is returned.
///
/// ```
/// use signal_sentinel::portfolio::parse_holdings_csv;
///
/// let rows = parse_holdings_csv("symbol,quantity,cost_basis\nAAPL,10,150.25\nmsft,5,\n").unwrap();
/// assert_eq!(rows[1].symbol.as_str(), "MSFT");
/// let errors = parse_holdings_csv("symbol,quantity\nAAPL,ten\n,3\n").unwrap_err();
/// assert_eq!(errors.iter().map(|e| e.line).collect::<Vec<_>>(), [2, 3]);
/// ```
///
/// # Errors
/// Every bad line, with its number.
pub fn parse_holdings_csv(text: &str) -> Result<Vec<HoldingRow>, Vec<LineError>> {
    let err = |line: usize, message: String| vec![LineError { line, message }];
    let source = csv_text::CsvText::new(text);
    let mut reader = source.reader();
    let mut records = reader.records();
    let line_of = |r: &csv::StringRecord| source.line_of(r);
    let first = records
        .by_ref()
        .find(|r| !r.as_ref().is_ok_and(csv_text::is_blank));
    let header = match first {
        None => {
            return Err(err(
                1,
                "the file is empty; expected a header symbol,quantity,cost_basis,account".into(),
            ));
        }
        Some(Err(e)) => return Err(err(source.error_line(&e), format!("not CSV: {e}"))),
        Some(Ok(header)) => header,
    };
    let columns = csv_text::column_names(&header);
    let find = |name: &str| columns.iter().position(|c| c == name);
    let (Some(symbol_at), Some(quantity_at)) = (find("symbol"), find("quantity")) else {
        return Err(err(line_of(&header), "the header needs the columns symbol and quantity (cost_basis and account are optional)".into()));
    };
    let (cost_at, account_at) = (find("cost_basis"), find("account"));
    let mut rows = Vec::new();
    let mut errors = Vec::new();
    for record in records {
        let record = match record {
            Ok(record) => record,
            Err(e) => {
                errors.push(LineError {
                    line: source.error_line(&e),
                    message: format!("not CSV: {e}"),
                });
                continue;
            }
        };
        if csv_text::is_blank(&record) {
            continue;
        }
        let number = line_of(&record);
        if number > MAX_CSV_LINES {
            errors.push(LineError {
                line: number,
                message: format!("the file is longer than {MAX_CSV_LINES} lines"),
            });
            break;
        }
        let cells: Vec<&str> = record.iter().collect();
        let cell = |at: Option<usize>| at.and_then(|i| cells.get(i).copied()).unwrap_or("");
        let mut problems = Vec::new();
        let symbol = match Symbol::parse(cell(Some(symbol_at))) {
            Ok(s) => Some(s),
            Err(e) => {
                problems.push(e.to_string());
                None
            }
        };
        let quantity = match cell(Some(quantity_at)).parse::<Decimal>() {
            Ok(q) if q > Decimal::ZERO => Some(q),
            Ok(_) => {
                problems.push("quantity must be more than 0".into());
                None
            }
            Err(_) => {
                problems.push(format!(
                    "quantity {:?} is not a number",
                    cell(Some(quantity_at))
                ));
                None
            }
        };
        let cost_basis = match cell(cost_at) {
            "" => Some(None),
            text => match text.parse::<Decimal>() {
                Ok(c) if c >= Decimal::ZERO => Some(Some(c)),
                _ => {
                    problems.push(format!("cost_basis {text:?} is not a price"));
                    None
                }
            },
        };
        let account = match cell(account_at) {
            "" => "default".to_owned(),
            a if a.chars().count() > 64 => {
                problems.push("account must be at most 64 characters".into());
                String::new()
            }
            a => a.to_owned(),
        };
        match (symbol, quantity, cost_basis) {
            (Some(symbol), Some(quantity), Some(cost_basis)) if problems.is_empty() => {
                rows.push(HoldingRow {
                    line: number,
                    symbol,
                    quantity,
                    cost_basis,
                    account,
                });
            }
            _ => errors.push(LineError {
                line: number,
                message: problems.join("; "),
            }),
        }
    }
    if !errors.is_empty() {
        return Err(errors);
    }
    if rows.is_empty() {
        return Err(err(2, "no holdings after the header".into()));
    }
    Ok(rows)
}

/// One position valued at its quote.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Position {
    /// The holding.
    pub holding: Holding,
    /// Last price, when a quote came.
    pub price: Option<Decimal>,
    /// quantity × price.
    pub market_value: Option<Decimal>,
    /// Today's change in value (against the previous close).
    pub day_change: Option<Decimal>,
    /// quantity × (price − cost basis).
    pub gain: Option<Decimal>,
    /// The gain in percent of the cost.
    pub gain_percent: Option<Decimal>,
}

/// All positions and their totals (of the positions that have a quote).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Portfolio {
    /// Positions, by symbol then account.
    pub positions: Vec<Position>,
    /// Sum of market values.
    pub market_value: Decimal,
    /// Sum of today's changes.
    pub day_change: Decimal,
    /// Today's change in percent of yesterday's value.
    pub day_change_percent: Option<Decimal>,
    /// Sum of gains over positions with a cost basis.
    pub gain: Decimal,
    /// Symbols without a quote right now.
    pub unpriced: Vec<String>,
}

/// Money and percentages are shown with exactly two decimals.
fn cents(value: Decimal) -> Decimal {
    let mut value = value.round_dp(2);
    value.rescale(2);
    value
}

/// Values `holdings` at `quotes`.
pub fn value(mut holdings: Vec<Holding>, quotes: &[Quote]) -> Portfolio {
    holdings.sort_by(|a, b| (a.symbol.as_str(), &a.account).cmp(&(b.symbol.as_str(), &b.account)));
    let hundred = Decimal::ONE_HUNDRED;
    let mut total = Decimal::ZERO;
    let mut day = Decimal::ZERO;
    let mut gain_total = Decimal::ZERO;
    let mut unpriced = Vec::new();
    let positions = holdings
        .into_iter()
        .map(|holding| {
            let quote = quotes.iter().find(|q| q.symbol == holding.symbol);
            let price = quote.map(|q| q.price);
            let market_value = price.map(|p| cents(p * holding.quantity));
            let day_change = quote.and_then(|q| {
                q.previous_close
                    .map(|prev| cents((q.price - prev) * holding.quantity))
            });
            let gain = match (price, holding.cost_basis) {
                (Some(p), Some(c)) => Some(cents((p - c) * holding.quantity)),
                _ => None,
            };
            let gain_percent = match (price, holding.cost_basis) {
                (Some(p), Some(c)) if !c.is_zero() => Some(cents((p - c) / c * hundred)),
                _ => None,
            };
            total += market_value.unwrap_or_default();
            day += day_change.unwrap_or_default();
            gain_total += gain.unwrap_or_default();
            if price.is_none() && !unpriced.contains(&holding.symbol.to_string()) {
                unpriced.push(holding.symbol.to_string());
            }
            Position {
                holding,
                price,
                market_value,
                day_change,
                gain,
                gain_percent,
            }
        })
        .collect();
    let yesterday = total - day;
    Portfolio {
        positions,
        market_value: cents(total),
        day_change: cents(day),
        day_change_percent: (!yesterday.is_zero()).then(|| cents(day / yesterday * hundred)),
        gain: cents(gain_total),
        unpriced,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quoted_fields_crlf_a_bom_and_any_header_case() {
        let text = "\u{feff}Symbol,QUANTITY,Cost_Basis,Account\r\n\
                    AAPL,10,150,\"Smith, John IRA\"\r\n\
                    \r\n\
                    MSFT,2.5,,\"the \"\"big\"\" one\"\r\n";
        let rows = parse_holdings_csv(text).unwrap();
        assert_eq!(rows.len(), 2);
        assert_eq!(rows[0].account, "Smith, John IRA");
        assert_eq!((rows[0].line, rows[1].line), (2, 4));
        assert_eq!(rows[1].account, "the \"big\" one");
        assert_eq!(rows[1].cost_basis, None);
        assert_eq!(rows[1].quantity, Decimal::new(25, 1));
    }

    #[test]
    fn every_bad_line_is_named_and_nothing_is_imported() {
        let text = "symbol,quantity\nAAPL,ten\n\"MSFT,3\nGOOG,1\n";
        let errors = parse_holdings_csv(text).unwrap_err();
        assert_eq!(errors[0].line, 2, "{errors:?}");
        assert!(errors[0].message.contains("not a number"), "{errors:?}");
        // An unclosed quote runs to the end of the file: that record is one bad line.
        assert!(errors.len() >= 2, "{errors:?}");
        // Empty lines count: the line named is the file's.
        let errors = parse_holdings_csv("symbol,quantity\n\n\nAAPL,ten\n").unwrap_err();
        assert_eq!(errors[0].line, 4, "{errors:?}");
    }
}
