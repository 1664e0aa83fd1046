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

/// Whether to colour: only on a terminal, never with `NO_COLOR` (any non-empty value) or a
/// `dumb` terminal.
pub(crate) fn colour_wanted(terminal: bool, no_color: Option<&str>, term: Option<&str>) -> bool {
    terminal && no_color.is_none_or(str::is_empty) && term != Some("dumb")
}

fn enabled_for(stream: &impl std::io::IsTerminal) -> bool {
    colour_wanted(
        stream.is_terminal(),
        std::env::var("NO_COLOR").ok().as_deref(),
        std::env::var("TERM").ok().as_deref(),
    )
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
    static WANTED: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
    if *WANTED.get_or_init(|| enabled_for(&std::io::stdout())) {
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

#[cfg(test)]
mod tests {
    use super::colour_wanted;

    #[test]
    fn colour_only_on_a_terminal_and_never_with_no_color() {
        assert!(colour_wanted(true, None, Some("xterm-256color")));
        assert!(colour_wanted(true, Some(""), None));
        assert!(!colour_wanted(false, None, Some("xterm")));
        assert!(!colour_wanted(true, Some("1"), Some("xterm")));
        assert!(!colour_wanted(true, None, Some("dumb")));
    }
}
