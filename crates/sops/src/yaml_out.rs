//! Prints the tree as `sops -d` prints YAML: go-yaml v3's emitter with an
//! indent of 4, its scalar style choices, and sops's placement of comments
//! (head comments above an entry, line comments after a scalar, trailing
//! comments after the last entry).

use crate::resolve::plain_reads_as_string;
use crate::tree::{Branch, Key, Value};

const INDENT: usize = 4;

/// All documents, separated by `---` as go-yaml's encoder separates them.
pub(crate) fn emit(branches: &[Branch]) -> String {
    let mut out = String::new();
    for (i, b) in branches.iter().enumerate() {
        if i > 0 {
            out.push_str("---\n");
        }
        if b.iter().all(|i| matches!(i.key, Key::Comment(_))) {
            comments(&mut out, b.iter().filter_map(comment_text), 0);
            out.push_str("{}\n");
            continue;
        }
        map(&mut out, b, 0, false);
    }
    out
}

fn comment_text(item: &crate::tree::Item) -> Option<&str> {
    match &item.key {
        Key::Comment(c) => Some(&c.text),
        Key::Str(_) => None,
    }
}

fn comments<'a>(out: &mut String, lines: impl Iterator<Item = &'a str>, indent: usize) {
    for l in lines {
        pad(out, indent);
        out.push('#');
        out.push_str(l);
        out.push('\n');
    }
}

fn pad(out: &mut String, n: usize) {
    out.extend(std::iter::repeat_n(' ', n));
}

/// go-yaml's indent for a collection nested under a mapping entry: the next
/// multiple of the indent.
fn nested(indent: usize) -> usize {
    INDENT * ((indent + INDENT) / INDENT)
}

/// Writes a non-empty block mapping whose keys sit at `indent`. With
/// `continued`, the first key goes on the current line (after `- `).
fn map(out: &mut String, branch: &Branch, indent: usize, mut continued: bool) {
    let mut head: Vec<&str> = Vec::new();
    let mut line: Vec<&str> = Vec::new();
    for item in branch {
        let (k, v) = match &item.key {
            Key::Comment(c) if c.inline => {
                line.push(&c.text);
                continue;
            }
            Key::Comment(c) => {
                head.push(&c.text);
                continue;
            }
            Key::Str(k) => (k, &item.value),
        };
        if !head.is_empty() {
            if continued {
                // A comment cannot follow `- ` on its line; it goes below.
                out.push('\n');
                continued = false;
            }
            comments(out, head.drain(..), indent);
        }
        if !continued {
            pad(out, indent);
        }
        continued = false;
        out.push_str(&key(k));
        out.push(':');
        entry_value(out, v, indent, nested(indent), &mut line);
    }
    head.append(&mut line);
    comments(out, head.into_iter(), indent);
}

/// Writes the value after `key:` or `- `, then its line comments and the
/// line break. `child` is where a nested block collection starts.
fn entry_value<'a>(
    out: &mut String,
    v: &'a Value,
    indent: usize,
    child: usize,
    line: &mut Vec<&'a str>,
) {
    match v {
        Value::Map(b) if b.iter().any(|i| matches!(i.key, Key::Str(_))) => {
            line_comments(out, line);
            out.push('\n');
            map(out, b, nested(indent), false);
        }
        Value::Seq(items) if items.iter().any(|i| !matches!(i, Value::Comment(_))) => {
            line_comments(out, line);
            out.push('\n');
            seq(out, items, nested(indent));
        }
        Value::Map(b) => {
            out.push_str(" {}");
            line_comments(out, line);
            out.push('\n');
            let lines: Vec<&str> = b.iter().filter_map(comment_text).collect();
            comments(out, lines.into_iter(), nested(indent));
        }
        Value::Seq(_) => {
            out.push_str(" []");
            line_comments(out, line);
            out.push('\n');
        }
        scalar_value => {
            out.push(' ');
            out.push_str(&scalar(scalar_value, child));
            line_comments(out, line);
            if !out.ends_with('\n') {
                out.push('\n');
            }
        }
    }
}

fn line_comments(out: &mut String, line: &mut Vec<&str>) {
    if line.is_empty() {
        return;
    }
    // A block scalar ends with its line break; the comment cannot follow it.
    let text: Vec<String> = line.drain(..).map(|c| format!("#{c}")).collect();
    if out.ends_with('\n') {
        return;
    }
    out.push(' ');
    out.push_str(&text.join(" "));
}

/// Writes a non-empty block sequence with its `-` at `indent`.
fn seq(out: &mut String, items: &[Value], indent: usize) {
    let mut head: Vec<&str> = Vec::new();
    let mut line: Vec<&str> = Vec::new();
    for item in items {
        match item {
            Value::Comment(c) if c.inline => line.push(&c.text),
            Value::Comment(c) => head.push(&c.text),
            v => {
                comments(out, head.drain(..), indent);
                pad(out, indent);
                out.push('-');
                match v {
                    Value::Map(b) if b.iter().any(|i| matches!(i.key, Key::Str(_))) => {
                        out.push(' ');
                        map(out, b, indent + 2, true);
                    }
                    Value::Seq(inner) if inner.iter().any(|i| !matches!(i, Value::Comment(_))) => {
                        out.push(' ');
                        let start = out.len();
                        seq(out, inner, indent + 2);
                        // The first nested item shares the line with `- `.
                        let first = out[start..].trim_start_matches(' ').to_owned();
                        out.truncate(start);
                        out.push_str(&first);
                    }
                    other => entry_value(out, other, indent, indent + 2, &mut line),
                }
            }
        }
    }
    head.append(&mut line);
    comments(out, head.into_iter(), indent);
}

fn key(k: &str) -> String {
    if k == "<<" {
        return "!!merge <<".into();
    }
    if k.contains('\n') {
        return double_quoted(k);
    }
    string(k, 0)
}

/// A scalar as go-yaml v3 encodes the Go value sops holds.
fn scalar(v: &Value, indent: usize) -> String {
    match v {
        Value::Null => "null".into(),
        Value::Bool(b) => b.to_string(),
        Value::Int(i) => i.to_string(),
        Value::Float(f) => go_format_g(*f),
        Value::Time(t) => t.clone(),
        Value::Str(s) => string(s, indent),
        Value::Comment(_) | Value::Map(_) | Value::Seq(_) => String::new(),
    }
}

struct Analysis {
    block_plain: bool,
    single: bool,
    block: bool,
}

fn analyze(s: &str) -> Analysis {
    if s.is_empty() {
        return Analysis {
            block_plain: true,
            single: true,
            block: false,
        };
    }
    let chars: Vec<char> = s.chars().collect();
    let mut block_ind = s.starts_with("---") || s.starts_with("...");
    let (mut leading_space, mut leading_break, mut trailing_space, mut trailing_break) =
        (false, false, false, false);
    let (mut break_space, mut space_break, mut tabs, mut special, mut breaks) =
        (false, false, false, false, false);
    let (mut prev_space, mut prev_break, mut preceded_ws) = (false, false, true);
    let last = chars.len() - 1;
    for (i, &c) in chars.iter().enumerate() {
        let followed_ws = chars
            .get(i + 1)
            .is_none_or(|n| matches!(n, ' ' | '\t' | '\n' | '\r'));
        if i == 0 {
            match c {
                '#' | ',' | '[' | ']' | '{' | '}' | '&' | '*' | '!' | '|' | '>' | '\'' | '"'
                | '%' | '@' | '`' => block_ind = true,
                '?' | ':' | '-' if followed_ws => block_ind = true,
                _ => {}
            }
        } else {
            match c {
                ':' if followed_ws => block_ind = true,
                '#' if preceded_ws => block_ind = true,
                _ => {}
            }
        }
        if c == '\t' {
            tabs = true;
        } else if !printable(c) {
            special = true;
        }
        if c == ' ' {
            leading_space |= i == 0;
            trailing_space |= i == last;
            break_space |= prev_break;
            (prev_space, prev_break) = (true, false);
        } else if matches!(c, '\n' | '\r' | '\u{85}' | '\u{2028}' | '\u{2029}') {
            breaks = true;
            leading_break |= i == 0;
            trailing_break |= i == last;
            space_break |= prev_space;
            (prev_space, prev_break) = (false, true);
        } else {
            (prev_space, prev_break) = (false, false);
        }
        preceded_ws = matches!(c, ' ' | '\t' | '\n' | '\r');
    }
    let mut a = Analysis {
        block_plain: true,
        single: true,
        block: true,
    };
    if leading_space || leading_break || trailing_space || trailing_break {
        a.block_plain = false;
    }
    if trailing_space {
        a.block = false;
    }
    if break_space {
        a.block_plain = false;
        a.single = false;
    }
    if space_break || tabs || special {
        a.block_plain = false;
        a.single = false;
    }
    if space_break || special {
        a.block = false;
    }
    if breaks || block_ind {
        a.block_plain = false;
    }
    a
}

fn printable(c: char) -> bool {
    matches!(c, '\n' | '\u{20}'..='\u{7e}' | '\u{85}' | '\u{a0}'..='\u{d7ff}' | '\u{e000}'..='\u{fffd}' | '\u{10000}'..)
        && c != '\u{feff}'
}

/// A string scalar: literal block when multi-line, plain when it reads back
/// as the same string, otherwise quoted.
fn string(s: &str, indent: usize) -> String {
    let a = analyze(s);
    if s.contains('\n') {
        if a.block {
            return literal(s, indent);
        }
        return double_quoted(s);
    }
    if !plain_reads_as_string(s) {
        return double_quoted(s);
    }
    if a.block_plain {
        return s.to_owned();
    }
    if a.single {
        return format!("'{}'", s.replace('\'', "''"));
    }
    double_quoted(s)
}

fn literal(s: &str, indent: usize) -> String {
    let mut out = String::from("|");
    if s.starts_with([' ', '\n']) {
        out.push_str(&INDENT.to_string());
    }
    if !s.ends_with('\n') {
        out.push('-');
    } else if s == "\n" || s.ends_with("\n\n") {
        out.push('+');
    }
    out.push('\n');
    let body = s.strip_suffix('\n').unwrap_or(s);
    for line in body.split('\n') {
        if !line.is_empty() {
            pad(&mut out, indent);
            out.push_str(line);
        }
        out.push('\n');
    }
    out
}

fn double_quoted(s: &str) -> String {
    let mut out = String::from("\"");
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\0' => out.push_str("\\0"),
            '\u{7}' => out.push_str("\\a"),
            '\u{8}' => out.push_str("\\b"),
            '\t' => out.push_str("\\t"),
            '\n' => out.push_str("\\n"),
            '\u{b}' => out.push_str("\\v"),
            '\u{c}' => out.push_str("\\f"),
            '\r' => out.push_str("\\r"),
            '\u{1b}' => out.push_str("\\e"),
            '\u{85}' => out.push_str("\\N"),
            '\u{a0}' => out.push_str("\\_"),
            '\u{2028}' => out.push_str("\\L"),
            '\u{2029}' => out.push_str("\\P"),
            c if !printable(c) || c == '\u{feff}' => {
                let n = c as u32;
                if n <= 0xff {
                    out.push_str(&format!("\\x{n:02X}"));
                } else if n <= 0xffff {
                    out.push_str(&format!("\\u{n:04X}"));
                } else {
                    out.push_str(&format!("\\U{n:08X}"));
                }
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// Go's `strconv.FormatFloat(f, 'g', -1, 64)` with go-yaml's spellings of
/// the non-finite values.
pub(crate) fn go_format_g(f: f64) -> String {
    if f.is_nan() {
        return ".nan".into();
    }
    if f.is_infinite() {
        return if f > 0.0 {
            ".inf".into()
        } else {
            "-.inf".into()
        };
    }
    if f == 0.0 {
        return if f.is_sign_negative() {
            "-0".into()
        } else {
            "0".into()
        };
    }
    // Shortest round-trip digits and the decimal exponent, from Rust's `{:e}`.
    let sci = format!("{:e}", f.abs());
    let (mantissa, exp) = sci.split_once('e').unwrap_or((&sci, "0"));
    let exp: i32 = exp.parse().unwrap_or(0);
    let digits: String = mantissa.chars().filter(char::is_ascii_digit).collect();
    let sign = if f < 0.0 { "-" } else { "" };
    // Go switches to an exponent outside [-4, 6) for the shortest form.
    if !(-4..6).contains(&exp) {
        let (first, rest) = digits.split_at(1);
        let dot = if rest.is_empty() {
            String::new()
        } else {
            format!(".{rest}")
        };
        let esign = if exp < 0 { '-' } else { '+' };
        return format!("{sign}{first}{dot}e{esign}{:02}", exp.abs());
    }
    format!("{sign}{}", crate::tree::go_format_f(f.abs()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn floats_print_as_go_prints_them_with_g() {
        assert_eq!(go_format_g(1.5), "1.5");
        assert_eq!(go_format_g(1.0), "1");
        assert_eq!(go_format_g(1234567.0), "1.234567e+06");
        assert_eq!(go_format_g(100000.0), "100000");
        assert_eq!(go_format_g(0.0001), "0.0001");
        assert_eq!(go_format_g(0.00001), "1e-05");
        assert_eq!(go_format_g(-2.5e-10), "-2.5e-10");
    }

    #[test]
    fn strings_are_quoted_only_when_go_yaml_quotes_them() {
        assert_eq!(string("hello", 0), "hello");
        assert_eq!(string("true", 0), "\"true\"");
        assert_eq!(string("", 0), "\"\"");
        assert_eq!(string("- a", 0), "'- a'");
        assert_eq!(string("a: b", 0), "'a: b'");
        assert_eq!(string("tab\there", 0), "\"tab\\there\"");
        assert_eq!(string("a\nb\n", 4), "|\n    a\n    b\n");
        assert_eq!(string("a\nb", 4), "|-\n    a\n    b\n");
    }
}
