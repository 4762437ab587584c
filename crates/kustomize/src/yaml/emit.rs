//! Prints resources exactly as `kustomize build` does. kustomize turns each
//! resource into JSON and back through go-yaml v2 (`sigs.k8s.io/yaml`
//! `JSONToYAML`), so the output follows v2's rules, not the input's layout:
//! keys sorted by v2's natural order, numbers re-read from their JSON form,
//! strings quoted when YAML 1.1 would read them as something else, plain and
//! quoted scalars folded past column 80, `|` blocks for multi-line strings.

use std::cmp::Ordering;

use super::node::{Node, Scalar};
use super::value::{Value, to_value};

const BEST_WIDTH: usize = 80;

/// One resource as kustomize prints it.
pub fn to_yaml(node: &Node) -> String {
    let mut w = Writer {
        out: String::new(),
        column: 0,
        whitespace: true,
        indention: true,
    };
    w.value(&to_value(node), 0, Ctx::Root);
    if !w.out.ends_with('\n') {
        w.out.push('\n');
    }
    w.out
}

#[derive(Clone, Copy, PartialEq)]
enum Ctx {
    Root,
    MapValue,
    SeqItem,
}

struct Writer {
    out: String,
    column: usize,
    /// The last character written was whitespace (libyaml's `whitespace`).
    whitespace: bool,
    /// Only indentation has been written on this line (libyaml's `indention`).
    indention: bool,
}

#[derive(Clone, Copy, PartialEq)]
enum ScalarStyle {
    Plain,
    Single,
    Double,
    Literal,
}

impl Writer {
    fn put(&mut self, s: &str) {
        self.out.push_str(s);
        self.column += s.chars().count();
    }

    fn newline(&mut self) {
        self.out.push('\n');
        self.column = 0;
    }

    fn write_indent(&mut self, indent: usize) {
        if !self.indention || self.column > indent || (self.column == indent && !self.whitespace) {
            self.newline();
        }
        while self.column < indent {
            self.put(" ");
        }
        self.whitespace = true;
        self.indention = true;
    }

    fn indicator(&mut self, text: &str, need_whitespace: bool, is_indention: bool) {
        if need_whitespace && !self.whitespace {
            self.put(" ");
        }
        self.put(text);
        self.whitespace = false;
        self.indention = self.indention && is_indention;
    }

    fn value(&mut self, v: &Value, indent: usize, ctx: Ctx) {
        match v {
            Value::Map(entries) if !entries.is_empty() => self.map(entries, indent, ctx),
            Value::Seq(items) if !items.is_empty() => self.seq(items, indent, ctx),
            Value::Map(_) => self.indicator("{}", true, false),
            Value::Seq(_) => self.indicator("[]", true, false),
            Value::Str(s) => self.string(s, indent, false),
            other => {
                let text = other.plain_text();
                self.plain(&text, indent, false);
            }
        }
    }

    fn map(&mut self, entries: &[(String, Value)], indent: usize, ctx: Ctx) {
        let inner = match ctx {
            Ctx::Root => 0,
            Ctx::MapValue | Ctx::SeqItem => indent + 2,
        };
        let mut sorted: Vec<&(String, Value)> = entries.iter().collect();
        sorted.sort_by(|a, b| v2_key_order(&a.0, &b.0));
        for (key, value) in sorted {
            self.write_indent(inner);
            self.string(key, inner, true);
            self.indicator(":", false, false);
            match value {
                Value::Seq(items) if !items.is_empty() => self.seq(items, inner, Ctx::MapValue),
                _ => self.value(value, inner, Ctx::MapValue),
            }
        }
    }

    fn seq(&mut self, items: &[Value], indent: usize, ctx: Ctx) {
        // v2 does not indent a block sequence that is a mapping's value.
        let inner = match ctx {
            Ctx::Root | Ctx::MapValue => indent,
            Ctx::SeqItem => indent + 2,
        };
        for item in items {
            self.write_indent(inner);
            self.indicator("-", true, true);
            self.value(item, inner, Ctx::SeqItem);
        }
    }

    fn string(&mut self, s: &str, indent: usize, simple_key: bool) {
        let a = analyze(s);
        let mut style = if s.contains('\n') {
            ScalarStyle::Literal
        } else if super::resolve::v2_plain_kind(s).is_str() && !is_base60_float(s) {
            ScalarStyle::Plain
        } else {
            ScalarStyle::Double
        };
        if simple_key && a.multiline {
            style = ScalarStyle::Double;
        }
        if style == ScalarStyle::Plain && (!a.block_plain_allowed || (s.is_empty() && simple_key)) {
            style = ScalarStyle::Single;
        }
        if style == ScalarStyle::Single && !a.single_quoted_allowed {
            style = ScalarStyle::Double;
        }
        if style == ScalarStyle::Literal && (!a.block_allowed || simple_key) {
            style = ScalarStyle::Double;
        }
        let breaks = !simple_key;
        let child = indent + 2;
        match style {
            ScalarStyle::Plain => self.plain(s, child, breaks),
            ScalarStyle::Single | ScalarStyle::Double => {
                self.flow_scalar(s, child, breaks, style);
            }
            ScalarStyle::Literal => self.literal(s, child),
        }
    }

    fn plain(&mut self, s: &str, indent: usize, allow_breaks: bool) {
        self.flow_scalar(s, indent, allow_breaks, ScalarStyle::Plain);
    }

    fn put_char(&mut self, c: char) {
        self.out.push(c);
        self.column += 1;
    }

    /// A plain, single- or double-quoted scalar. The three differ only in
    /// their quotes, escapes and where libyaml may fold a long line at a
    /// space: quoted styles never at the first or last character, plain and
    /// single-quoted never before another space, double-quoted keeps such a
    /// space with a `\` line continuation.
    fn flow_scalar(&mut self, s: &str, indent: usize, allow_breaks: bool, style: ScalarStyle) {
        let quote = match style {
            ScalarStyle::Single => Some("'"),
            ScalarStyle::Double => Some("\""),
            _ => None,
        };
        match quote {
            Some(q) => self.indicator(q, true, false),
            None if !self.whitespace => self.put(" "),
            None => {}
        }
        let double = style == ScalarStyle::Double;
        let chars: Vec<char> = s.chars().collect();
        let mut spaces = false;
        for (i, &c) in chars.iter().enumerate() {
            let next_is_space = chars.get(i + 1) == Some(&' ');
            if let Some(esc) = escape(c).filter(|_| double) {
                self.put(&esc);
                spaces = false;
            } else if c == ' ' {
                let inside = quote.is_none() || (i > 0 && i + 1 < chars.len());
                let fold = allow_breaks
                    && !spaces
                    && self.column > BEST_WIDTH
                    && inside
                    && (double || !next_is_space);
                if fold {
                    self.write_indent(indent);
                    if double && next_is_space {
                        self.put("\\");
                    }
                } else {
                    self.put(" ");
                }
                spaces = true;
            } else {
                if style == ScalarStyle::Single && c == '\'' {
                    self.put_char('\'');
                }
                self.put_char(c);
                if !double {
                    self.indention = false;
                }
                spaces = false;
            }
        }
        if let Some(q) = quote {
            self.indicator(q, false, false);
        }
        self.whitespace = false;
        self.indention = false;
    }

    fn literal(&mut self, s: &str, indent: usize) {
        self.indicator("|", true, false);
        let first = s.chars().next();
        if matches!(first, Some(' ') | Some('\n')) {
            self.indicator("2", false, false);
        }
        let chomp = {
            let mut rev = s.chars().rev();
            match (rev.next(), rev.next()) {
                (Some(c), _) if !is_break(c) => Some("-"),
                (Some(_), None) => Some("+"),
                (Some(_), Some(c)) if is_break(c) => Some("+"),
                _ => None,
            }
        };
        if let Some(chomp) = chomp {
            self.indicator(chomp, false, false);
        }
        self.newline();
        self.indention = true;
        self.whitespace = true;
        let mut breaks = true;
        for c in s.chars() {
            if is_break(c) {
                self.newline();
                self.indention = true;
                breaks = true;
            } else {
                if breaks {
                    self.write_indent(indent);
                }
                self.put_char(c);
                self.indention = false;
                breaks = false;
            }
        }
        // libyaml leaves `whitespace` as set before the content, so the next
        // key after a block scalar starts without an extra line break.
    }
}

fn is_break(c: char) -> bool {
    matches!(c, '\r' | '\n' | '\u{85}' | '\u{2028}' | '\u{2029}')
}

/// go-yaml v2's printable set (with unicode output enabled): its check
/// knows no four-byte UTF-8, so characters past U+FFFF (emoji) are escaped
/// as `\U0001F680` in double quotes (checked against the oracle).
fn is_printable(c: char) -> bool {
    matches!(c, '\n' | '\u{85}')
        || ('\u{20}'..='\u{7e}').contains(&c)
        || ('\u{a0}'..='\u{d7ff}').contains(&c)
        || (('\u{e000}'..='\u{fffd}').contains(&c) && c != '\u{feff}')
}

fn escape(c: char) -> Option<String> {
    if is_printable(c) && !is_break(c) && c != '"' && c != '\\' && c != '\u{feff}' {
        return None;
    }
    let short = match c {
        '\0' => "0",
        '\u{7}' => "a",
        '\u{8}' => "b",
        '\t' => "t",
        '\n' => "n",
        '\u{b}' => "v",
        '\u{c}' => "f",
        '\r' => "r",
        '\u{1b}' => "e",
        '"' => "\"",
        '\\' => "\\",
        '\u{85}' => "N",
        '\u{a0}' => "_",
        '\u{2028}' => "L",
        '\u{2029}' => "P",
        _ => "",
    };
    if !short.is_empty() {
        return Some(format!("\\{short}"));
    }
    let v = c as u32;
    Some(if v <= 0xff {
        format!("\\x{v:02X}")
    } else if v <= 0xffff {
        format!("\\u{v:04X}")
    } else {
        format!("\\U{v:08X}")
    })
}

struct Analysis {
    multiline: bool,
    block_plain_allowed: bool,
    single_quoted_allowed: bool,
    block_allowed: bool,
}

/// What libyaml's scalar analysis allows for `s` in block context.
fn analyze(s: &str) -> Analysis {
    if s.is_empty() {
        return Analysis {
            multiline: false,
            block_plain_allowed: true,
            single_quoted_allowed: true,
            block_allowed: false,
        };
    }
    let chars: Vec<char> = s.chars().collect();
    let mut block_indicators = s.starts_with("---") || s.starts_with("...");
    let (mut line_breaks, mut special) = (false, false);
    let (mut leading_space, mut leading_break) = (false, false);
    let (mut trailing_space, mut trailing_break) = (false, false);
    let (mut break_space, mut space_break) = (false, false);
    let (mut prev_space, mut prev_break) = (false, false);
    let mut preceded_by_ws = true;
    let n = chars.len();
    for (i, &c) in chars.iter().enumerate() {
        let followed_by_ws = chars.get(i + 1).is_none_or(|&n| n == ' ' || n == '\t');
        if i == 0 {
            match c {
                '#' | ',' | '[' | ']' | '{' | '}' | '&' | '*' | '!' | '|' | '>' | '\'' | '"'
                | '%' | '@' | '`' => block_indicators = true,
                '?' | ':' | '-' if followed_by_ws => block_indicators = true,
                _ => {}
            }
        } else {
            match c {
                ':' if followed_by_ws => block_indicators = true,
                '#' if preceded_by_ws => block_indicators = true,
                _ => {}
            }
        }
        if !is_printable(c) || c == '\u{feff}' {
            special = true;
        }
        if c == ' ' {
            leading_space |= i == 0;
            trailing_space |= i + 1 == n;
            break_space |= prev_break;
            prev_space = true;
            prev_break = false;
        } else if is_break(c) {
            line_breaks = true;
            leading_break |= i == 0;
            trailing_break |= i + 1 == n;
            space_break |= prev_space;
            prev_space = false;
            prev_break = true;
        } else {
            prev_space = false;
            prev_break = false;
        }
        preceded_by_ws = c == ' ' || c == '\t' || is_break(c);
    }
    let mut a = Analysis {
        multiline: line_breaks,
        block_plain_allowed: true,
        single_quoted_allowed: true,
        block_allowed: true,
    };
    if leading_space || leading_break || trailing_space || trailing_break || line_breaks {
        a.block_plain_allowed = false;
    }
    if trailing_space {
        a.block_allowed = false;
    }
    if break_space {
        a.block_plain_allowed = false;
        a.single_quoted_allowed = false;
    }
    if space_break || special {
        a.block_plain_allowed = false;
        a.single_quoted_allowed = false;
        a.block_allowed = false;
    }
    if block_indicators {
        a.block_plain_allowed = false;
    }
    a
}

/// `^[-+]?[0-9][0-9_]*(?::[0-5]?[0-9])+(?:\.[0-9_]*)?$`: sexagesimal numbers
/// YAML 1.1 would read, which v2 quotes.
fn is_base60_float(s: &str) -> bool {
    let body = s.strip_prefix(['+', '-']).unwrap_or(s);
    let (main, frac) = match body.split_once('.') {
        Some((m, f)) => (m, Some(f)),
        None => (body, None),
    };
    if frac.is_some_and(|f| !f.chars().all(|c| c.is_ascii_digit() || c == '_')) {
        return false;
    }
    let mut parts = main.split(':');
    let head = parts.next().unwrap_or_default();
    if !head.starts_with(|c: char| c.is_ascii_digit())
        || !head.chars().all(|c| c.is_ascii_digit() || c == '_')
    {
        return false;
    }
    let rest: Vec<&str> = parts.collect();
    !rest.is_empty()
        && rest.iter().all(|p| {
            let b = p.as_bytes();
            match b.len() {
                1 => b[0].is_ascii_digit(),
                2 => (b'0'..=b'5').contains(&b[0]) && b[1].is_ascii_digit(),
                _ => false,
            }
        })
}

/// go-yaml v2's map key order: letters before other runes, digit runs
/// compared as numbers, then by length.
pub fn v2_key_order(a: &str, b: &str) -> Ordering {
    let ar: Vec<char> = a.chars().collect();
    let br: Vec<char> = b.chars().collect();
    let mut i = 0;
    while i < ar.len() && i < br.len() {
        if ar[i] == br[i] {
            i += 1;
            continue;
        }
        let (al, bl) = (ar[i].is_alphabetic(), br[i].is_alphabetic());
        if al && bl {
            return ar[i].cmp(&br[i]);
        }
        if al || bl {
            return if bl {
                Ordering::Less
            } else {
                Ordering::Greater
            };
        }
        let (mut an, mut bn) = (0i64, 0i64);
        if ar[i] == '0' || br[i] == '0' {
            let mut j = i;
            while j > 0 && ar[j - 1].is_ascii_digit() {
                j -= 1;
                if ar[j] != '0' {
                    an = 1;
                    bn = 1;
                    break;
                }
            }
        }
        let mut ai = i;
        while ai < ar.len() && ar[ai].is_ascii_digit() {
            an = an
                .wrapping_mul(10)
                .wrapping_add(i64::from(ar[ai] as u8 - b'0'));
            ai += 1;
        }
        let mut bi = i;
        while bi < br.len() && br[bi].is_ascii_digit() {
            bn = bn
                .wrapping_mul(10)
                .wrapping_add(i64::from(br[bi] as u8 - b'0'));
            bi += 1;
        }
        if an != bn {
            return an.cmp(&bn);
        }
        if ai != bi {
            return ai.cmp(&bi);
        }
        return ar[i].cmp(&br[i]);
    }
    ar.len().cmp(&br.len())
}

/// Scalars that kustomize stores as strings whatever they look like
/// (annotation values, generated data).
pub fn string_scalar(s: &str) -> Scalar {
    Scalar::string(s)
}
