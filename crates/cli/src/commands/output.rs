//! How the user commands print: flux's tables (tab-separated, padded columns), its shortened
//! hashes, and its progress lines (► ✔ ✗ ◎ ✚) on stderr.

use std::io::Write;
use std::sync::LazyLock;

use regex::Regex;

use super::CommandError;

/// A hex string of 40 to 128 digits (a git SHA, a digest) standing alone.
static HEX: LazyLock<Option<Regex>> = LazyLock::new(|| Regex::new(r"\b[a-f0-9]{40,128}\b").ok());

/// Shortens every long hex string in `text` to its first 8 digits, as flux does in its
/// REVISION and MESSAGE columns.
pub fn truncate_hex(text: &str) -> String {
    match HEX.as_ref() {
        Some(hex) => hex
            .replace_all(text, |c: &regex::Captures<'_>| c[0][..8].to_owned())
            .into_owned(),
        None => text.to_owned(),
    }
}

/// A table as flux prints it: every cell padded to its column's width and followed by a tab;
/// the upper-cased header's last cell is padded one further space instead of a tab.
pub fn table(header: &[&str], rows: &[Vec<String>]) -> String {
    let columns = header
        .len()
        .max(rows.iter().map(Vec::len).max().unwrap_or(0));
    let mut widths = vec![0usize; columns];
    let width = |s: &str| s.chars().count();
    for (i, h) in header.iter().enumerate() {
        widths[i] = widths[i].max(width(h));
    }
    for row in rows {
        for (i, cell) in row.iter().enumerate() {
            widths[i] = widths[i].max(width(cell));
        }
    }
    let pad = |s: &str, w: usize| format!("{s}{}", " ".repeat(w.saturating_sub(width(s))));
    let mut out = String::new();
    if !header.is_empty() {
        let cells: Vec<String> = header
            .iter()
            .enumerate()
            .map(|(i, h)| pad(&h.to_uppercase(), widths[i]))
            .collect();
        out.push_str(&cells.join("\t"));
        out.push_str(" \n");
    }
    for row in rows {
        for (i, cell) in row.iter().enumerate() {
            out.push_str(&pad(cell, widths[i]));
            out.push('\t');
        }
        out.push('\n');
    }
    out
}

/// The two streams a command writes: results on `out`, flux's progress lines on `err`.
pub struct Printer<'a> {
    out: Box<dyn Write + 'a>,
    err: Box<dyn Write + 'a>,
}

impl<'a> Printer<'a> {
    /// A printer on any two writers (tests capture both).
    pub fn new(out: impl Write + 'a, err: impl Write + 'a) -> Self {
        Self {
            out: Box::new(out),
            err: Box::new(err),
        }
    }

    /// The process's stdout and stderr.
    pub fn stdio() -> Printer<'static> {
        Printer::new(std::io::stdout(), std::io::stderr())
    }

    /// Writes command output.
    pub fn print(&mut self, text: &str) -> Result<(), CommandError> {
        super::write_output(&mut self.out, text)
    }

    /// Writes raw text on the progress stream (a prompt).
    pub fn print_err(&mut self, text: &str) -> Result<(), CommandError> {
        super::write_output(&mut self.err, text)
    }

    fn line(&mut self, symbol: &str, text: &str) -> Result<(), CommandError> {
        super::write_output(&mut self.err, &format!("{symbol} {text}\n"))
    }

    /// `► doing something`.
    pub fn action(&mut self, text: &str) -> Result<(), CommandError> {
        self.line("►", text)
    }

    /// `✔ done`.
    pub fn success(&mut self, text: &str) -> Result<(), CommandError> {
        self.line("✔", text)
    }

    /// `◎ waiting for something`.
    pub fn waiting(&mut self, text: &str) -> Result<(), CommandError> {
        self.line("◎", text)
    }

    /// `✗ failed`.
    pub fn failure(&mut self, text: &str) -> Result<(), CommandError> {
        self.line("✗", text)
    }

    /// `✚ generating something`.
    pub fn generate(&mut self, text: &str) -> Result<(), CommandError> {
        self.line("✚", text)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(cells: &[&str]) -> Vec<String> {
        cells.iter().map(|c| (*c).to_owned()).collect()
    }

    #[test]
    fn a_table_is_padded_and_tab_separated_like_flux_get() {
        // The shape of flux's get golden file for a ready GitRepository.
        let text = table(
            &["Name", "Revision", "Suspended", "Ready", "Message"],
            &[row(&[
                "gr-ready",
                "main@sha1:696f056d",
                "False",
                "True",
                "Fetched revision: main@sha1:696f056d",
            ])],
        );
        assert_eq!(
            text,
            "NAME    \tREVISION          \tSUSPENDED\tREADY\tMESSAGE                              \n\
             gr-ready\tmain@sha1:696f056d\tFalse    \tTrue \tFetched revision: main@sha1:696f056d\t\n"
        );
    }

    #[test]
    fn an_empty_cell_is_padded_to_its_header() {
        let text = table(&["Name", "Revision"], &[row(&["gr-failed", ""])]);
        assert_eq!(text, "NAME     \tREVISION \ngr-failed\t        \t\n");
    }

    #[test]
    fn no_header_prints_rows_only() {
        assert_eq!(table(&[], &[row(&["a", "bb"])]), "a\tbb\t\n");
    }

    #[test]
    fn long_hex_strings_are_cut_to_eight_digits_and_short_ones_kept() {
        let sha = "696f056df216eea4f9401adbee0ff744d4df390f";
        assert_eq!(
            truncate_hex(&format!("Fetched revision: main@sha1:{sha}")),
            "Fetched revision: main@sha1:696f056d"
        );
        assert_eq!(truncate_hex("v1.2.3@sha256:abc"), "v1.2.3@sha256:abc");
    }

    #[test]
    fn progress_lines_go_to_stderr_with_flux_symbols() {
        let (mut out, mut err) = (Vec::new(), Vec::new());
        let mut printer = Printer::new(&mut out, &mut err);
        printer.action("annotating").expect("writes");
        printer.success("done").expect("writes");
        printer.failure("bad").expect("writes");
        drop(printer);
        assert!(out.is_empty());
        assert_eq!(
            String::from_utf8(err).expect("utf-8"),
            "► annotating\n✔ done\n✗ bad\n"
        );
    }
}
