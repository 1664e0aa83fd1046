//! One way to read CSV text (holdings, replayed bars): the `csv` crate with quoted fields
//! (commas, quotes, line breaks), CRLF, a UTF-8 BOM, surrounding blanks trimmed, blank lines
//! skipped by the callers, and line numbers that are the file's.

/// CSV text and where its lines start, so that a record or an error names the file's line
/// (the reader's own count leaves out the blank lines it skips).
pub(crate) struct CsvText<'a> {
    text: &'a str,
    line_starts: Vec<usize>,
}

impl<'a> CsvText<'a> {
    pub(crate) fn new(text: &'a str) -> Self {
        let line_starts = std::iter::once(0)
            .chain(text.match_indices('\n').map(|(i, _)| i + 1))
            .collect();
        Self { text, line_starts }
    }

    /// A reader that yields every record, the header included.
    pub(crate) fn reader(&self) -> csv::Reader<&'a [u8]> {
        csv::ReaderBuilder::new()
            .has_headers(false)
            .flexible(true)
            .trim(csv::Trim::All)
            // Records end at `\n`; the trim takes the `\r` of CRLF.
            .terminator(csv::Terminator::Any(b'\n'))
            .from_reader(self.text.as_bytes())
    }

    fn line_at(&self, position: Option<&csv::Position>) -> usize {
        let Some(position) = position else { return 1 };
        let byte = usize::try_from(position.byte()).unwrap_or(usize::MAX);
        // A record's position is where the reader stood, before the empty lines it skipped.
        let skipped = self.text.as_bytes().get(byte..).map_or(0, |rest| {
            rest.iter()
                .take_while(|b| matches!(b, b'\r' | b'\n'))
                .count()
        });
        let byte = byte.saturating_add(skipped);
        // The line whose start is the last at or before the byte, counted from 1.
        self.line_starts
            .partition_point(|&start| start <= byte)
            .max(1)
    }

    /// The line a record starts on.
    pub(crate) fn line_of(&self, record: &csv::StringRecord) -> usize {
        self.line_at(record.position())
    }

    /// The line a CSV error is on.
    pub(crate) fn error_line(&self, e: &csv::Error) -> usize {
        self.line_at(e.position())
    }
}

/// Whether a record has nothing but empty fields (a blank line).
pub(crate) fn is_blank(record: &csv::StringRecord) -> bool {
    record.iter().all(str::is_empty)
}

/// The header's column names, lower-cased, without a leading BOM.
pub(crate) fn column_names(header: &csv::StringRecord) -> Vec<String> {
    header
        .iter()
        .map(|c| c.trim_start_matches('\u{feff}').trim().to_ascii_lowercase())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lines(text: &str) -> Vec<(usize, String)> {
        let csv = CsvText::new(text);
        csv.reader()
            .records()
            .map(|r| r.unwrap())
            .filter(|r| !is_blank(r))
            .map(|r| (csv.line_of(&r), r.iter().collect::<Vec<_>>().join("|")))
            .collect()
    }

    #[test]
    fn line_numbers_are_the_files() {
        let expected = [(1, "a|b".to_owned()), (3, "c|d".to_owned())];
        assert_eq!(lines("a,b\n\nc,d\n"), expected);
        assert_eq!(lines("a,b\r\n\r\nc,d\r\n"), expected);
        assert_eq!(lines("a,b\n  \nc,d"), expected);
        assert_eq!(
            lines("a,\"b\nb\"\nc,d\n"),
            [(1, "a|b\nb".to_owned()), (3, "c|d".to_owned())]
        );
    }
}
