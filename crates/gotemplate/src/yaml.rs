//! YAML in and out the way Helm does it: values and `fromYaml` go through
//! JSON (every number a float64), `toYaml` writes what Go's yaml.v2 writes
//! for JSON-shaped data (sorted keys, block style, two-space indent,
//! sequences flush with their key).

use crate::gofmt::format_g;
use crate::value::Value;

mod decode;
mod json;

pub use decode::parse;
use json::{common_escape, rfc3339};
pub use json::{go_json_error, json_float, marshal_json};

/// Helm's toYaml: yaml.v2 output of the JSON form, without the final newline.
pub fn to_yaml(v: &Value) -> String {
    let pretty = false;
    let mut out = String::new();
    emit(&mut out, &json_shape(v), 0, Ctx::Top, pretty);
    if out.ends_with('\n') {
        out.pop();
    }
    out
}

/// Helm's toYamlPretty: yaml.v3 with two-space indent, of the Go values
/// themselves (floats stay float64), without the final newline.
pub fn to_yaml_pretty(v: &Value) -> String {
    let mut out = String::new();
    emit(&mut out, &go_shape(v), 0, Ctx::Top, true);
    if out.ends_with('\n') {
        out.pop();
    }
    out
}

/// The data as yaml.v3 sees Go values: lists and maps of any flavour.
fn go_shape(v: &Value) -> Value {
    match v {
        Value::Invalid => Value::Nil,
        Value::List(_) | Value::StrList(_) => Value::list(
            v.list_items()
                .unwrap_or_default()
                .iter()
                .map(go_shape)
                .collect(),
        ),
        Value::Map(m) => Value::map(
            m.entries()
                .iter()
                .map(|(k, v)| (k.clone(), go_shape(v)))
                .collect(),
        ),
        Value::Object(o) => go_shape(&o.to_data()),
        Value::Time(t) => Value::str(rfc3339(t)),
        other => other.clone(),
    }
}

/// The data after a JSON round trip: integral floats become integers.
fn json_shape(v: &Value) -> Value {
    match v {
        Value::Float(f) if f.fract() == 0.0 && f.abs() < 1e21 => {
            if f.abs() < 9.2e18 {
                Value::Int(*f as i64)
            } else {
                Value::Float(*f)
            }
        }
        Value::Invalid => Value::Nil,
        Value::Time(t) => Value::str(rfc3339(t)),
        Value::Object(o) => json_shape(&o.to_data()),
        Value::List(_) | Value::StrList(_) => Value::list(
            v.list_items()
                .unwrap_or_default()
                .iter()
                .map(json_shape)
                .collect(),
        ),
        Value::Map(m) => Value::map(
            m.entries()
                .iter()
                .map(|(k, v)| (k.clone(), json_shape(v)))
                .collect(),
        ),
        Value::Bytes(b) => {
            use base64::Engine;
            Value::str(base64::engine::general_purpose::STANDARD.encode(b.as_slice()))
        }
        other => other.clone(),
    }
}

#[derive(Clone, Copy, PartialEq)]
enum Ctx {
    Top,
    MapValue,
    SeqItem,
}

fn is_empty_coll(v: &Value) -> bool {
    match v {
        Value::List(l) => l.is_empty(),
        Value::Map(m) => m.is_empty(),
        _ => false,
    }
}

fn emit(out: &mut String, v: &Value, indent: usize, ctx: Ctx, pretty: bool) {
    let pad = " ".repeat(indent);
    match v {
        Value::Map(m) if !m.is_empty() => {
            if ctx == Ctx::MapValue {
                out.push('\n');
            }
            for (i, (k, val)) in m.entries().iter().enumerate() {
                if i > 0 || ctx != Ctx::SeqItem {
                    out.push_str(&pad);
                }
                // Keys over 128 bytes or spanning lines are not "simple":
                // yaml.v2 writes them as "? key" then ": value".
                if k.len() > 128 || k.contains('\n') {
                    out.push_str("? ");
                    out.push_str(&fold(scalar(k, indent + 2, false), indent + 2, indent + 2));
                    out.push('\n');
                    out.push_str(&pad);
                    out.push(':');
                    match val {
                        Value::Map(_) | Value::List(_) if !is_empty_coll(val) => {
                            out.push('\n');
                            emit(out, val, indent + 2, Ctx::MapValue, pretty);
                        }
                        _ => {
                            out.push(' ');
                            out.push_str(&fold(leaf(val, indent + 2), indent + 2, indent + 2));
                            out.push('\n');
                        }
                    }
                    continue;
                }
                let key = scalar(k, indent, true);
                let key_width = key.chars().count();
                out.push_str(&key);
                out.push(':');
                match val {
                    Value::Map(_) if !is_empty_coll(val) => {
                        emit(out, val, indent + 2, Ctx::MapValue, pretty)
                    }
                    Value::List(_) if !is_empty_coll(val) => {
                        out.push('\n');
                        // yaml.v3 (toYamlPretty) indents a sequence under its key.
                        let at = if pretty { indent + 2 } else { indent };
                        emit(out, val, at, Ctx::MapValue, pretty);
                    }
                    _ => {
                        out.push(' ');
                        out.push_str(&fold(
                            leaf(val, indent + 2),
                            indent + key_width + 2,
                            indent + 2,
                        ));
                        out.push('\n');
                    }
                }
            }
        }
        Value::List(l) if !l.is_empty() => {
            for (i, it) in l.iter().enumerate() {
                if i > 0 || ctx != Ctx::SeqItem {
                    out.push_str(&pad);
                }
                out.push_str("- ");
                match it {
                    Value::Map(_) | Value::List(_) if !is_empty_coll(it) => {
                        emit(out, it, indent + 2, Ctx::SeqItem, pretty)
                    }
                    _ => {
                        out.push_str(&fold(leaf(it, indent + 2), indent + 2, indent + 2));
                        out.push('\n');
                    }
                }
            }
        }
        _ => {
            out.push_str(&fold(leaf(v, indent), indent, indent + 2));
            out.push('\n');
        }
    }
}

/// yaml.v2 breaks plain and single-quoted scalars at a space once the
/// line is past 80 columns.
fn fold(text: String, start_col: usize, cont: usize) -> String {
    const WIDTH: usize = 80;
    let first = text.chars().next();
    if text.contains('\n') || matches!(first, Some('|')) {
        return text;
    }
    let chars: Vec<char> = text.chars().collect();
    let mut out = String::with_capacity(text.len());
    let mut col = start_col;
    let mut spaces = false;
    for (i, &c) in chars.iter().enumerate() {
        if c == ' ' {
            let next_space = chars.get(i + 1).is_none_or(|n| *n == ' ');
            if !spaces && col > WIDTH && !next_space && i != 0 {
                out.push('\n');
                out.push_str(&" ".repeat(cont));
                col = cont;
            } else {
                out.push(c);
                col += 1;
            }
            spaces = true;
        } else {
            out.push(c);
            col += 1;
            spaces = false;
        }
    }
    out
}

fn leaf(v: &Value, indent: usize) -> String {
    match v {
        Value::Nil | Value::Invalid => "null".into(),
        Value::Bool(b) => b.to_string(),
        Value::Int(i) | Value::Int64(i) => i.to_string(),
        Value::Float(f) => yaml_float(*f),
        Value::Str(s) => scalar(s, indent, false),
        Value::List(_) => "[]".into(),
        Value::Map(_) => "{}".into(),
        other => scalar(&crate::gofmt::sprint_value(other), indent, false),
    }
}

fn yaml_float(f: f64) -> String {
    if f.is_nan() {
        return ".NaN".into();
    }
    if f.is_infinite() {
        return if f > 0.0 {
            "+.Inf".into()
        } else {
            "-.Inf".into()
        };
    }
    format_g(f, None, false)
}

/// Whether a plain scalar would read back as something other than a string
/// under YAML 1.1 (what yaml.v2 resolves).
fn resolves_non_string(s: &str) -> bool {
    const WORDS: &[&str] = &[
        "y", "Y", "yes", "Yes", "YES", "n", "N", "no", "No", "NO", "true", "True", "TRUE", "false",
        "False", "FALSE", "on", "On", "ON", "off", "Off", "OFF", "null", "Null", "NULL", "~",
        ".inf", ".Inf", ".INF", "+.inf", "+.Inf", "+.INF", "-.inf", "-.Inf", "-.INF", ".nan",
        ".NaN", ".NAN",
    ];
    if WORDS.contains(&s) || is_timestamp(s) {
        return true;
    }
    let first = s.chars().next().unwrap_or(' ');
    if !(first.is_ascii_digit() || matches!(first, '-' | '+' | '.')) {
        return false;
    }
    let plain: String = s.chars().filter(|c| *c != '_').collect();
    if plain.parse::<i64>().is_ok() || plain.parse::<f64>().is_ok() {
        return !s.ends_with('.') || s.len() > 1;
    }
    let lower = plain.to_ascii_lowercase();
    let body = lower.trim_start_matches(['-', '+']);
    if let Some(h) = body.strip_prefix("0x") {
        return !h.is_empty() && h.chars().all(|c| c.is_ascii_hexdigit());
    }
    if let Some(o) = body.strip_prefix("0o") {
        return !o.is_empty() && o.chars().all(|c| ('0'..='7').contains(&c));
    }
    if let Some(b) = body.strip_prefix("0b") {
        return !b.is_empty() && b.chars().all(|c| c == '0' || c == '1');
    }
    // Base-60 numbers (1:20) are YAML 1.1 too.
    let parts: Vec<&str> = body.split(':').collect();
    parts.len() > 1
        && parts
            .iter()
            .all(|p| !p.is_empty() && p.chars().all(|c| c.is_ascii_digit() || c == '.'))
}

/// YAML 1.1 timestamps (2001-12-14, optionally with a time) resolve to
/// !!timestamp, so yaml.v2 quotes such strings.
fn is_timestamp(s: &str) -> bool {
    let b = s.as_bytes();
    let digits =
        |r: std::ops::Range<usize>| r.clone().all(|i| b.get(i).is_some_and(u8::is_ascii_digit));
    if b.len() < 8 || !digits(0..4) || b[4] != b'-' {
        return false;
    }
    let mut i = 5;
    let mut n = 0;
    while b.get(i).is_some_and(u8::is_ascii_digit) && n < 2 {
        i += 1;
        n += 1;
    }
    if n == 0 || b.get(i) != Some(&b'-') {
        return false;
    }
    i += 1;
    let start = i;
    while b.get(i).is_some_and(u8::is_ascii_digit) && i - start < 2 {
        i += 1;
    }
    if i == start {
        return false;
    }
    i == b.len() || matches!(b[i], b'T' | b't' | b' ' | b'\t')
}

/// A string scalar in the style yaml.v2 picks.
fn scalar(s: &str, indent: usize, is_key: bool) -> String {
    if s.is_empty() {
        return "\"\"".into();
    }
    if resolves_non_string(s) {
        return double_quoted(s);
    }
    if s.contains('\n') && !is_key {
        if let Some(b) = literal(s, indent) {
            return b;
        }
        return double_quoted(s);
    }
    if plain_ok(s) {
        return s.to_string();
    }
    if s.chars().any(|c| !printable(c) || c == '\t') || s.contains('\n') {
        return double_quoted(s);
    }
    format!("'{}'", s.replace('\'', "''"))
}

fn printable(c: char) -> bool {
    c == '\t'
        || (c >= ' '
            && c != '\u{7f}'
            && !matches!(c as u32, 0x80..=0x9f | 0xfeff | 0xfffe | 0xffff))
}

fn plain_ok(s: &str) -> bool {
    let first = s.chars().next().unwrap_or(' ');
    let last = s.chars().last().unwrap_or(' ');
    if first == ' ' || last == ' ' || first == '\t' || last == '\t' {
        return false;
    }
    let second = s.chars().nth(1);
    match first {
        '#' | ',' | '[' | ']' | '{' | '}' | '&' | '*' | '!' | '|' | '>' | '\'' | '"' | '%'
        | '@' | '`' => {
            return false;
        }
        '-' | '?' | ':' if second.is_none_or(|c| c == ' ' || c == '\t') => {
            return false;
        }
        _ => {}
    }
    if s.starts_with("---") || s.starts_with("...") {
        return false;
    }
    if last == ':' {
        return false;
    }
    if s.contains(": ") || s.contains(" #") || s.contains(":\t") || s.contains("\t#") {
        return false;
    }
    s.chars().all(|c| printable(c) && c != '\t')
}

fn literal(s: &str, indent: usize) -> Option<String> {
    if s.chars().any(|c| !printable(c) && c != '\n' || c == '\t') {
        return None;
    }
    // yaml.v2 refuses block style when a line ends in a space before a break.
    if s.contains(" \n") || s.contains("\t\n") {
        return None;
    }
    let chomp = if !s.ends_with('\n') {
        "-"
    } else if s.ends_with("\n\n") || s == "\n" {
        "+"
    } else {
        ""
    };
    let indicator = if s.starts_with(' ') || s.starts_with('\n') {
        "2"
    } else {
        ""
    };
    let pad = " ".repeat(indent.max(2));
    let body = s.strip_suffix('\n').unwrap_or(s);
    let mut out = format!("|{indicator}{chomp}");
    for line in body.split('\n') {
        out.push('\n');
        if !line.is_empty() {
            out.push_str(&pad);
            out.push_str(line);
        }
    }
    Some(out)
}

fn double_quoted(s: &str) -> String {
    let mut out = String::from("\"");
    for c in s.chars() {
        if let Some(e) = common_escape(c) {
            out.push_str(e);
            continue;
        }
        match c {
            '\0' => out.push_str("\\0"),
            '\u{7}' => out.push_str("\\a"),
            '\u{8}' => out.push_str("\\b"),
            '\u{b}' => out.push_str("\\v"),
            '\u{c}' => out.push_str("\\f"),
            '\u{1b}' => out.push_str("\\e"),
            '\u{85}' => out.push_str("\\N"),
            '\u{a0}' => out.push_str("\\_"),
            '\u{2028}' => out.push_str("\\L"),
            '\u{2029}' => out.push_str("\\P"),
            c if !printable(c) => {
                let u = c as u32;
                if u <= 0xff {
                    out.push_str(&format!("\\x{u:02X}"));
                } else if u <= 0xffff {
                    out.push_str(&format!("\\u{u:04X}"));
                } else {
                    out.push_str(&format!("\\U{u:08X}"));
                }
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}
