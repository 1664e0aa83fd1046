//! Text a user gives (names, messages): characters that would let it read other than it is
//! stored, or act on a terminal, are refused on input.

/// A character refused in user text.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("contains {what} U+{code:04X} at character {position}; remove it")]
pub struct TextError {
    /// What kind of character.
    pub what: &'static str,
    /// Its code point.
    pub code: u32,
    /// Its position, from 1, in characters.
    pub position: usize,
}

/// What makes `c` unfit for user text, if anything: control characters (C0 but tab, and
/// newline where `multiline`; DEL; C1, whose U+009B is a terminal's escape), and the
/// bidirectional embeddings, overrides and isolates (U+202A–U+202E, U+2066–U+2069) that
/// show text in another order than it is stored.
pub fn refused(c: char, multiline: bool) -> Option<&'static str> {
    match c {
        '\t' => None,
        '\n' if multiline => None,
        '\n' | '\r' => Some("a line break"),
        c if c.is_control() => Some("the control character"),
        '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}' => Some("the bidirectional control"),
        _ => None,
    }
}

/// Checks a one-line (or, with `multiline`, a multi-line) text.
///
/// # Errors
/// [`TextError`] naming the first refused character and where it is.
pub fn check_text(text: &str, multiline: bool) -> Result<(), TextError> {
    match text
        .chars()
        .enumerate()
        .find_map(|(i, c)| refused(c, multiline).map(|what| (i, c, what)))
    {
        Some((i, c, what)) => Err(TextError {
            what,
            code: u32::from(c),
            position: i + 1,
        }),
        None => Ok(()),
    }
}

/// `text` safe to print on a terminal: every character [`refused`] (one-line rules) is shown
/// as its escape (`\u{1b}`), so stored text from before these checks cannot act on it.
pub fn printable(text: &str) -> std::borrow::Cow<'_, str> {
    if text.chars().all(|c| refused(c, false).is_none()) {
        return std::borrow::Cow::Borrowed(text);
    }
    std::borrow::Cow::Owned(
        text.chars()
            .map(|c| match refused(c, false) {
                Some(_) => c.escape_unicode().to_string(),
                None => c.to_string(),
            })
            .collect(),
    )
}

/// `text` safe inside HTML, as element content or a quoted attribute: `&`, `<`, `>`, `"` and
/// `'` become entities (what e-mail, Matrix, Telegram's HTML mode and the action pages show).
pub fn escape_html(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn html_escaping_covers_content_and_attributes() {
        assert_eq!(
            escape_html(r#"<a href="x" title='y'>AT&T</a>"#),
            "&lt;a href=&quot;x&quot; title=&#39;y&#39;&gt;AT&amp;T&lt;/a&gt;"
        );
    }

    #[test]
    fn escapes_nul_newlines_and_bidi_overrides_are_refused() {
        assert!(check_text("Apple — long term", false).is_ok());
        assert!(check_text("line one\nline two\twith a tab", true).is_ok());
        let e = check_text("ok\u{1b}[31mred", false).unwrap_err();
        assert_eq!((e.code, e.position), (0x1b, 3));
        assert_eq!(
            e.to_string(),
            "contains the control character U+001B at character 3; remove it"
        );
        assert_eq!(check_text("a\0b", true).unwrap_err().code, 0);
        assert_eq!(check_text("a\nb", false).unwrap_err().what, "a line break");
        assert_eq!(check_text("a\r\nb", true).unwrap_err().what, "a line break");
        assert_eq!(check_text("x\u{9b}31m", false).unwrap_err().code, 0x9b);
        assert_eq!(
            check_text("txt.\u{202E}exe", false).unwrap_err().what,
            "the bidirectional control"
        );
        assert_eq!(check_text("\u{2066}x", false).unwrap_err().position, 1);
    }

    #[test]
    fn printable_shows_what_would_act_on_a_terminal() {
        assert_eq!(printable("plain"), "plain");
        assert_eq!(printable("a\u{1b}[31mb"), "a\\u{1b}[31mb");
        assert_eq!(printable("x\u{202E}y\nz"), "x\\u{202e}y\\u{a}z");
    }
}
