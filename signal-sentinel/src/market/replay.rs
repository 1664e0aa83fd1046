//! [`ReplayMarket`]: bars from CSV files, played back against a clock.

use std::collections::HashMap;
use std::path::Path;
use std::sync::Arc;

use async_trait::async_trait;
use chrono::{DateTime, Duration, NaiveDate, NaiveDateTime, TimeZone};
use chrono_tz::America::New_York;
use rust_decimal::Decimal;
use thiserror::Error;

use super::{MarketData, MarketError};
use crate::clock::Clock;
use crate::csv_text;
use crate::domain::{Bar, CorporateEvent, EventKind, Quote, ReportHour, SplitRatio, Symbol};
use crate::engine::calendar;
use crate::engine::indicators::exchange_date;
use crate::time::Timestamp;

/// A CSV file that cannot be replayed: which file, which line (1-based), what is wrong.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[error("{file}:{line}: {message}")]
pub struct ReplayError {
    /// The file (or the name given to text).
    pub file: String,
    /// The line, counted from 1 (0 when the whole file is at fault).
    pub line: usize,
    /// What is wrong.
    pub message: String,
}

#[derive(Debug, Clone)]
struct Point {
    bar: Bar,
    day_open: Decimal,
    day_high: Decimal,
    day_low: Decimal,
    day_volume: Option<u64>,
    previous_close: Option<Decimal>,
}

/// Plays bars from CSV files: at any moment of its clock, a symbol's quote is its last bar at
/// or before that moment (close as price, with the session's open, range and volume so far and
/// the previous session's close).
///
/// Files have a header and the columns `time,symbol,open,high,low,close,volume` in any order;
/// `symbol` may be left out of a file that holds one symbol, which then comes from the file
/// name (`AAPL.csv`), and `volume` may be empty. `time` is RFC 3339
/// (`2009-06-01T19:59:00Z`), a New York local time (`2009-06-01 15:59`), or a date alone,
/// which stands for that session's close and is stamped one minute before it (15:59, or 12:59
/// on early-close days) so a monitor sees it while the session is open.
///
/// A file named `events.csv` in a directory is the replay's corporate calendar instead: the
/// columns `symbol,date,type,value`, `type` one of `earnings` (value: `bmo`, `amc`, `dmh` or
/// empty), `dividend` (value: the amount per share) or `split` (value: `4:1`, new shares for
/// old), `date` the report day or the ex-date. The bars of a replayed split are as traded: the
/// price before the ex-date is not adjusted.
#[derive(Debug)]
pub struct ReplayMarket {
    clock: Arc<dyn Clock>,
    series: HashMap<Symbol, Vec<Point>>,
    max_batch: usize,
    /// Corporate events, when the replay has a calendar.
    events: Option<Vec<CorporateEvent>>,
}

impl ReplayMarket {
    /// Loads CSV files.
    ///
    /// # Errors
    /// [`ReplayError`] naming the file and line of the first bad row, a missing column, a
    /// duplicate time for a symbol, or an unreadable file.
    pub fn from_files(
        paths: &[impl AsRef<Path>],
        clock: Arc<dyn Clock>,
    ) -> Result<Self, ReplayError> {
        let mut rows = Vec::new();
        for path in paths {
            let path = path.as_ref();
            let name = path.display().to_string();
            let text = std::fs::read_to_string(path).map_err(|e| ReplayError {
                file: name.clone(),
                line: 0,
                message: e.to_string(),
            })?;
            let default_symbol = path.file_stem().and_then(|s| s.to_str()).map(str::to_owned);
            parse(&name, &text, default_symbol.as_deref(), &mut rows)?;
        }
        Self::from_rows(rows, clock)
    }

    /// Loads a CSV file, or every `*.csv` file of a directory.
    ///
    /// # Errors
    /// As [`ReplayMarket::from_files`]; also when the directory has no CSV file.
    pub fn from_path(path: &Path, clock: Arc<dyn Clock>) -> Result<Self, ReplayError> {
        if !path.is_dir() {
            return Self::from_files(&[path], clock);
        }
        let unreadable = |message: String| ReplayError {
            file: path.display().to_string(),
            line: 0,
            message,
        };
        let mut files: Vec<_> = std::fs::read_dir(path)
            .map_err(|e| unreadable(e.to_string()))?
            .filter_map(|entry| entry.ok().map(|e| e.path()))
            .filter(|p| p.extension().is_some_and(|e| e.eq_ignore_ascii_case("csv")))
            .collect();
        if files.is_empty() {
            return Err(unreadable("the directory has no .csv file".into()));
        }
        files.sort();
        let calendar = files
            .iter()
            .position(|p| {
                p.file_name()
                    .is_some_and(|n| n.eq_ignore_ascii_case("events.csv"))
            })
            .map(|i| files.remove(i));
        let market = Self::from_files(&files, clock)?;
        match calendar {
            None => Ok(market),
            Some(path) => {
                let name = path.display().to_string();
                let text = std::fs::read_to_string(&path).map_err(|e| ReplayError {
                    file: name.clone(),
                    line: 0,
                    message: e.to_string(),
                })?;
                Ok(market.with_events(parse_events(&name, &text)?))
            }
        }
    }

    /// Loads CSV text (`name` appears in error messages).
    ///
    /// # Errors
    /// As [`ReplayMarket::from_files`].
    pub fn from_csv(name: &str, text: &str, clock: Arc<dyn Clock>) -> Result<Self, ReplayError> {
        let mut rows = Vec::new();
        parse(name, text, None, &mut rows)?;
        Self::from_rows(rows, clock)
    }

    fn from_rows(rows: Vec<Row>, clock: Arc<dyn Clock>) -> Result<Self, ReplayError> {
        let mut by_symbol: HashMap<Symbol, Vec<Row>> = HashMap::new();
        for row in rows {
            by_symbol.entry(row.symbol.clone()).or_default().push(row);
        }
        let mut series = HashMap::with_capacity(by_symbol.len());
        for (symbol, mut rows) in by_symbol {
            rows.sort_by_key(|r| r.bar.at);
            if let Some(pair) = rows.windows(2).find(|w| w[0].bar.at == w[1].bar.at) {
                return Err(ReplayError {
                    file: pair[1].file.clone(),
                    line: pair[1].line,
                    message: format!(
                        "{symbol} already has a bar at {} ({}:{})",
                        pair[1].bar.at, pair[0].file, pair[0].line
                    ),
                });
            }
            series.insert(symbol, sessions(rows));
        }
        Ok(Self {
            clock,
            series,
            max_batch: 100,
            events: None,
        })
    }

    /// Gives the replay a corporate calendar: [`MarketData::corporate_events`] answers from
    /// `events`.
    #[must_use]
    pub fn with_events(mut self, events: Vec<CorporateEvent>) -> Self {
        self.events = Some(events);
        self
    }

    /// Sets how many symbols one quotes call may ask for. By default, this is 100.
    pub fn with_max_batch(mut self, max_batch: usize) -> Self {
        self.max_batch = max_batch.max(1);
        self
    }

    /// The symbols in the files.
    pub fn symbols(&self) -> Vec<Symbol> {
        let mut symbols: Vec<_> = self.series.keys().cloned().collect();
        symbols.sort();
        symbols
    }

    /// Every distinct bar time, in order: the moments worth replaying.
    pub fn timeline(&self) -> Vec<Timestamp> {
        let mut times: Vec<_> = self.series.values().flatten().map(|p| p.bar.at).collect();
        times.sort();
        times.dedup();
        times
    }
}

/// Reads a corporate calendar (`symbol,date,type,value`).
///
/// # Errors
/// [`ReplayError`] naming the line of the first bad row.
pub fn parse_events(file: &str, text: &str) -> Result<Vec<CorporateEvent>, ReplayError> {
    let err = |line: usize, message: String| ReplayError {
        file: file.to_owned(),
        line,
        message,
    };
    let source = csv_text::CsvText::new(text);
    let mut reader = source.reader();
    let mut records = reader
        .records()
        .filter(|r| !r.as_ref().is_ok_and(csv_text::is_blank));
    let header = match records.next() {
        None => return Ok(Vec::new()),
        Some(Err(e)) => return Err(err(source.error_line(&e), format!("not CSV: {e}"))),
        Some(Ok(header)) => header,
    };
    let columns = csv_text::column_names(&header);
    let mut index = [0_usize; 4];
    for (slot, name) in index.iter_mut().zip(["symbol", "date", "type", "value"]) {
        *slot = columns.iter().position(|c| c == name).ok_or_else(|| {
            err(
                source.line_of(&header),
                format!("the header has no '{name}' column; expected symbol,date,type,value"),
            )
        })?;
    }
    let mut events = Vec::new();
    for record in records {
        let record = record.map_err(|e| err(source.error_line(&e), format!("not CSV: {e}")))?;
        let line = source.line_of(&record);
        let field = |i: usize| record.get(index[i]).unwrap_or("").trim();
        let symbol = Symbol::parse(field(0)).map_err(|e| err(line, e.to_string()))?;
        let date: NaiveDate = field(1)
            .parse()
            .map_err(|_| err(line, format!("date {:?} is not YYYY-MM-DD", field(1))))?;
        let value = field(3);
        let kind = match field(2).to_ascii_lowercase().as_str() {
            "earnings" => EventKind::Earnings {
                hour: ReportHour::from_code(value),
            },
            "dividend" => EventKind::Dividend {
                amount: value
                    .parse()
                    .map_err(|_| err(line, format!("dividend {value:?} is not a number")))?,
            },
            "split" => {
                let bad = || err(line, format!("split {value:?} is not new:old, like 4:1"));
                let (new, old) = value.split_once(':').ok_or_else(bad)?;
                let (new, old) = (
                    new.trim().parse().map_err(|_| bad())?,
                    old.trim().parse().map_err(|_| bad())?,
                );
                EventKind::Split {
                    ratio: SplitRatio::new(new, old).map_err(|e| err(line, e.to_string()))?,
                }
            }
            other => {
                return Err(err(
                    line,
                    format!("type {other:?} is not earnings, dividend or split"),
                ));
            }
        };
        events.push(
            CorporateEvent::new(symbol, date, kind, "replay")
                .map_err(|e| err(line, e.to_string()))?,
        );
    }
    Ok(events)
}

/// Gives each bar its session's running open, range, volume and the previous session's close.
fn sessions(rows: Vec<Row>) -> Vec<Point> {
    let mut points: Vec<Point> = Vec::with_capacity(rows.len());
    let mut previous_close = None;
    let mut session: Option<NaiveDate> = None;
    for row in rows {
        let bar = row.bar;
        let day = exchange_date(bar.at);
        let point = match points.last() {
            Some(last) if session == Some(day) => Point {
                day_open: last.day_open,
                day_high: last.day_high.max(bar.high),
                day_low: last.day_low.min(bar.low),
                day_volume: last.day_volume.zip(bar.volume).map(|(a, b)| a + b),
                previous_close: last.previous_close,
                bar,
            },
            last => {
                previous_close = last.map(|p| p.bar.close).or(previous_close);
                session = Some(day);
                Point {
                    day_open: bar.open,
                    day_high: bar.high,
                    day_low: bar.low,
                    day_volume: bar.volume,
                    previous_close,
                    bar,
                }
            }
        };
        points.push(point);
    }
    points
}

struct Row {
    file: String,
    line: usize,
    symbol: Symbol,
    bar: Bar,
}

fn parse(
    file: &str,
    text: &str,
    default_symbol: Option<&str>,
    rows: &mut Vec<Row>,
) -> Result<(), ReplayError> {
    let err = |line: usize, message: String| ReplayError {
        file: file.to_owned(),
        line,
        message,
    };
    let source = csv_text::CsvText::new(text);
    let not_csv = |e: &csv::Error| err(source.error_line(e), format!("not CSV: {e}"));
    let mut reader = source.reader();
    let mut records = reader
        .records()
        .filter(|r| !r.as_ref().is_ok_and(csv_text::is_blank));
    let header = match records.next() {
        None => {
            return Err(err(
                0,
                "the file is empty; expected a header time,symbol,open,high,low,close,volume"
                    .into(),
            ));
        }
        Some(Err(e)) => return Err(not_csv(&e)),
        Some(Ok(header)) => header,
    };
    let header_line = source.line_of(&header);
    let columns = csv_text::column_names(&header);
    let find = |name: &str| columns.iter().position(|c| c == name);
    let mut index = HashMap::new();
    for name in ["time", "open", "high", "low", "close"] {
        let i = find(name).ok_or_else(|| {
            err(header_line, format!("the header has no '{name}' column; expected time,symbol,open,high,low,close,volume"))
        })?;
        index.insert(name, i);
    }
    enum SymbolFrom {
        Column(usize),
        FileName(Symbol),
    }
    let symbol_from = match (find("symbol"), default_symbol) {
        (Some(c), _) => SymbolFrom::Column(c),
        (None, Some(stem)) => SymbolFrom::FileName(Symbol::parse(stem).map_err(|e| {
            err(
                header_line,
                format!("no 'symbol' column, and the file name is not a symbol: {e}"),
            )
        })?),
        (None, None) => {
            return Err(err(header_line, "the header has no 'symbol' column".into()));
        }
    };
    let volume_column = find("volume");
    for record in records {
        let record = record.map_err(|e| not_csv(&e))?;
        let n = source.line_of(&record);
        if record.len() != columns.len() {
            return Err(err(
                n,
                format!("expected {} fields, found {}", columns.len(), record.len()),
            ));
        }
        let cell = |i: usize| record.get(i).unwrap_or("");
        let field = |name: &str| cell(index[name]);
        let number = |name: &str| -> Result<Decimal, ReplayError> {
            field(name)
                .parse()
                .map_err(|_| err(n, format!("{name} {:?} is not a number", field(name))))
        };
        let symbol = match &symbol_from {
            SymbolFrom::FileName(s) => s.clone(),
            SymbolFrom::Column(c) => Symbol::parse(cell(*c)).map_err(|e| err(n, e.to_string()))?,
        };
        let at = parse_time(field("time")).map_err(|m| err(n, m))?;
        let volume = match volume_column.map(cell) {
            None | Some("") => None,
            Some(v) => Some(
                v.parse::<u64>()
                    .map_err(|_| err(n, format!("volume {v:?} is not a whole number")))?,
            ),
        };
        let bar = Bar::new(
            at,
            number("open")?,
            number("high")?,
            number("low")?,
            number("close")?,
            volume,
        )
        .map_err(|e| err(n, e.to_string()))?;
        rows.push(Row {
            file: file.to_owned(),
            line: n,
            symbol,
            bar,
        });
    }
    Ok(())
}

fn parse_time(text: &str) -> Result<Timestamp, String> {
    if let Ok(at) = DateTime::parse_from_rfc3339(text) {
        return Ok(at.to_utc());
    }
    let local = |naive: NaiveDateTime| {
        New_York
            .from_local_datetime(&naive)
            .earliest()
            .map(|t| t.to_utc())
            .ok_or_else(|| {
                format!("time {text:?} does not exist in New York (a daylight-saving gap)")
            })
    };
    for format in ["%Y-%m-%d %H:%M:%S", "%Y-%m-%d %H:%M"] {
        if let Ok(naive) = NaiveDateTime::parse_from_str(text, format) {
            return local(naive);
        }
    }
    if let Ok(date) = NaiveDate::parse_from_str(text, "%Y-%m-%d") {
        if !calendar::is_trading_day(date) {
            let why = calendar::holiday(date).unwrap_or("a weekend");
            return Err(format!(
                "{date} is not a trading day ({why}); a date alone means that session's close"
            ));
        }
        return local(date.and_time(calendar::close_time(date)) - Duration::minutes(1));
    }
    Err(format!(
        "time {text:?} is not RFC 3339, 'YYYY-MM-DD HH:MM' (New York) or 'YYYY-MM-DD'"
    ))
}

#[async_trait]
impl MarketData for ReplayMarket {
    fn name(&self) -> &str {
        "replay"
    }

    fn max_batch(&self) -> usize {
        self.max_batch
    }

    fn has_minute_bars(&self) -> bool {
        true
    }

    /// The file's rows stamped in `from..=to`, as they are: a file of one-minute bars
    /// stamped at their close gives minute bars.
    async fn minute_bars(
        &self,
        symbol: &Symbol,
        from: Timestamp,
        to: Timestamp,
    ) -> Result<Vec<Bar>, MarketError> {
        Ok(self
            .series
            .get(symbol)
            .map(|points| {
                points
                    .iter()
                    .filter(|p| p.bar.at >= from && p.bar.at <= to)
                    .map(|p| p.bar.clone())
                    .collect()
            })
            .unwrap_or_default())
    }

    fn has_events(&self) -> bool {
        self.events.is_some()
    }

    /// The calendar's events of `symbol` in the range, as known at any time (a replay
    /// announces its events from the start).
    async fn corporate_events(
        &self,
        symbol: &Symbol,
        from: NaiveDate,
        to: NaiveDate,
    ) -> Result<Vec<CorporateEvent>, MarketError> {
        Ok(self
            .events
            .iter()
            .flatten()
            .filter(|e| &e.symbol == symbol && (from..=to).contains(&e.date))
            .cloned()
            .collect())
    }

    async fn quotes(&self, symbols: &[Symbol]) -> Result<Vec<Quote>, MarketError> {
        let now = self.clock.now();
        let mut quotes = Vec::with_capacity(symbols.len());
        for symbol in symbols {
            let Some(points) = self.series.get(symbol) else {
                continue;
            };
            let i = points.partition_point(|p| p.bar.at <= now);
            let Some(point) = i.checked_sub(1).map(|i| &points[i]) else {
                continue;
            };
            let invalid = |e: crate::domain::ValidationError| MarketError::InvalidData {
                provider: "replay".into(),
                message: e.to_string(),
            };
            let mut quote = Quote::new(symbol.clone(), point.bar.close, point.bar.at, "replay")
                .and_then(|q| q.with_open(point.day_open))
                .and_then(|q| q.with_day_range(point.day_low, point.day_high))
                .map_err(invalid)?;
            if let Some(prev) = point.previous_close {
                quote = quote.with_previous_close(prev).map_err(invalid)?;
            }
            if let Some(volume) = point.day_volume {
                quote = quote.with_volume(volume);
            }
            quotes.push(quote);
        }
        Ok(quotes)
    }

    /// The last `sessions` sessions of the file before `before`, however far apart they are
    /// (a file of monthly closes gives monthly sessions).
    async fn recent_daily_bars(
        &self,
        symbol: &Symbol,
        sessions: usize,
        before: NaiveDate,
    ) -> Result<Vec<Bar>, MarketError> {
        let Some(to) = before.pred_opt() else {
            return Ok(Vec::new());
        };
        let mut bars = self.daily_bars(symbol, NaiveDate::MIN, to).await?;
        let excess = bars.len().saturating_sub(sessions);
        bars.drain(..excess);
        Ok(bars)
    }

    async fn daily_bars(
        &self,
        symbol: &Symbol,
        from: NaiveDate,
        to: NaiveDate,
    ) -> Result<Vec<Bar>, MarketError> {
        let Some(points) = self.series.get(symbol) else {
            return Ok(Vec::new());
        };
        let mut days: Vec<Bar> = Vec::new();
        let mut current: Option<NaiveDate> = None;
        for point in points {
            let day = exchange_date(point.bar.at);
            if day < from || day > to {
                continue;
            }
            let bar = &point.bar;
            match days.last_mut() {
                Some(last) if current == Some(day) => {
                    last.high = last.high.max(bar.high);
                    last.low = last.low.min(bar.low);
                    last.close = bar.close;
                    last.volume = last.volume.zip(bar.volume).map(|(a, b)| a + b);
                }
                _ => {
                    current = Some(day);
                    days.push(bar.clone());
                }
            }
        }
        Ok(days)
    }
}
