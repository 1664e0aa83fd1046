//! Standard output that behaves in a pipe: when the reader goes away (`invest alerts list |
//! head -1`), the command stops quietly instead of panicking on a broken pipe.

use std::io::Write;

/// Writes one line to standard output; exits quietly (status 0) when the reader is gone.
pub(crate) fn line(args: std::fmt::Arguments<'_>) {
    let mut stdout = std::io::stdout().lock();
    if let Err(e) = stdout
        .write_fmt(args)
        .and_then(|()| stdout.write_all(b"\n"))
    {
        if e.kind() == std::io::ErrorKind::BrokenPipe {
            std::process::exit(0);
        }
        eprintln!("error: cannot write to standard output: {e}");
        std::process::exit(1);
    }
}

/// `println!` for command output: see [`line()`].
macro_rules! out {
    () => {
        $crate::output::line(format_args!(""))
    };
    ($($arg:tt)*) => {
        $crate::output::line(format_args!($($arg)*))
    };
}

pub(crate) use out;

/// A table for standard output (comfy-table): columns as wide as their widest cell, two spaces
/// between them, no borders, coloured cells only when standard output wants colour. Cells that
/// hold stored text must come through `printable` first.
pub(crate) struct Table {
    inner: comfy_table::Table,
    indent: &'static str,
    right: Vec<usize>,
}

impl Table {
    /// A table with these column titles (none: a table without a title line).
    pub(crate) fn new(headers: &[&str]) -> Self {
        let mut inner = comfy_table::Table::new();
        inner
            .load_style(comfy_table::presets::NOTHING)
            .set_content_arrangement(comfy_table::ContentArrangement::Disabled);
        if !headers.is_empty() {
            inner.set_header(headers.iter().copied());
        }
        if stdout_wants_colour() {
            inner.enforce_styling();
        } else {
            inner.force_no_tty();
        }
        Self {
            inner,
            indent: "",
            right: Vec::new(),
        }
    }

    /// Starts every line with `indent` (a table under a heading).
    pub(crate) fn indented(mut self, indent: &'static str) -> Self {
        self.indent = indent;
        self
    }

    /// Aligns these columns (counted from 0) to the right, as numbers are.
    pub(crate) fn right(mut self, columns: &[usize]) -> Self {
        self.right.extend_from_slice(columns);
        self
    }

    /// Adds a row: plain text (`&str`, `String`) or [`styled`] cells.
    pub(crate) fn row<C: Into<comfy_table::Cell>>(&mut self, cells: impl IntoIterator<Item = C>) {
        self.inner.add_row(cells);
    }

    /// Writes the table to standard output (see [`line()`]), without trailing blanks.
    pub(crate) fn print(mut self) {
        for (i, column) in self.inner.column_iter_mut().enumerate() {
            column.set_padding((0, 2));
            if self.right.contains(&i) {
                column.set_cell_alignment(comfy_table::CellAlignment::Right);
            }
        }
        for row in self.inner.lines() {
            line(format_args!("{}{}", self.indent, row.trim_end()));
        }
    }
}

/// A table cell of plain text.
pub(crate) fn plain(text: impl ToString) -> comfy_table::Cell {
    comfy_table::Cell::new(text)
}

/// A table cell in `style` (shown plain when standard output wants no colour).
pub(crate) fn styled(text: impl ToString, style: Style) -> comfy_table::Cell {
    use comfy_table::{Attribute, Color};
    let cell = comfy_table::Cell::new(text);
    match style {
        Style::Green => cell.fg(Color::Green),
        Style::Red => cell.fg(Color::Red),
        Style::Dim => cell.add_attribute(Attribute::Dim),
        Style::Bold => cell.add_attribute(Attribute::Bold),
    }
}

fn stdout_wants_colour() -> bool {
    static WANTED: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
    *WANTED.get_or_init(|| enabled_for(&std::io::stdout()))
}

/// Colours for table cells.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Style {
    /// Good news: enabled, resolved, delivered.
    Green,
    /// Attention: fired, failed, errors.
    Red,
    /// Less important: disabled, empty.
    Dim,
    /// Emphasis: new.
    Bold,
}

/// Whether to colour `stream`, as anstream decides for every CLI that follows the
/// conventions: never with `NO_COLOR` or `CLICOLOR=0`, always with `CLICOLOR_FORCE`, else only
/// on a terminal that is not `dumb`.
fn enabled_for<S: anstream::stream::RawStream>(stream: &S) -> bool {
    anstream::AutoStream::choice(stream) != anstream::ColorChoice::Never
}

fn apply(text: &str, style: Style) -> String {
    let code = match style {
        Style::Green => "32",
        Style::Red => "31",
        Style::Dim => "2",
        Style::Bold => "1",
    };
    format!("\x1b[{code}m{text}\x1b[0m")
}

/// `text` in `style` when standard output wants colour, else as it is. Pad before painting:
/// escape codes have no width.
pub(crate) fn paint(text: &str, style: Style) -> String {
    if stdout_wants_colour() {
        apply(text, style)
    } else {
        text.to_owned()
    }
}

/// Like [`paint`], for standard error.
pub(crate) fn paint_err(text: &str, style: Style) -> String {
    if enabled_for(&std::io::stderr()) {
        apply(text, style)
    } else {
        text.to_owned()
    }
}

/// A spinner on standard error while long work runs (hidden when stderr is not a terminal);
/// `finish_and_clear` it when done.
pub(crate) fn spinner(message: &str) -> indicatif::ProgressBar {
    let bar = indicatif::ProgressBar::new_spinner();
    bar.set_message(message.to_owned());
    bar.enable_steady_tick(std::time::Duration::from_millis(120));
    bar
}
