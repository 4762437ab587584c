//! YAML in and out the way Helm does it: values and `fromYaml` go through
//! JSON (every number a float64), `toYaml` writes what Go's yaml.v2 writes
//! for JSON-shaped data (sorted keys, block style, two-space indent,
//! sequences flush with their key).

use crate::gofmt::format_g;
use crate::value::Value;

/// Decodes one YAML document into template data as Helm sees it: YAML 1.1
/// scalars (`yes`, `y`, `0o17`, `012`), keys turned into strings, every
/// number a float64 (Helm's YAML goes through JSON).
pub fn parse(text: &str) -> Result<Value, String> {
    if text.trim().is_empty() {
        return Ok(Value::Nil);
    }
    let options = serde_saphyr::options! {
        legacy_octal_numbers: true,
        duplicate_keys: serde_saphyr::DuplicateKeyPolicy::LastWins,
    };
    let node: Node =
        serde_saphyr::from_str_with_options(text, options).map_err(|e| e.to_string())?;
    node.into_value()
}

/// A decoded YAML node, before Helm's JSON conversion.
enum Node {
    Null,
    Bool(bool),
    Int(i128),
    Float(f64),
    Str(String),
    List(Vec<Node>),
    Map(Vec<(Node, Node)>),
}

impl Node {
    fn into_value(self) -> Result<Value, String> {
        Ok(match self {
            Node::Null => Value::Nil,
            Node::Bool(b) => Value::Bool(b),
            Node::Int(i) => Value::Float(i as f64),
            Node::Float(f) => Value::Float(f),
            Node::Str(s) => Value::str(s),
            Node::List(l) => Value::list(
                l.into_iter()
                    .map(Node::into_value)
                    .collect::<Result<_, _>>()?,
            ),
            Node::Map(entries) => {
                let mut m = crate::value::Map::new();
                for (k, v) in entries {
                    let key = match k {
                        Node::Str(s) => s,
                        Node::Bool(b) => b.to_string(),
                        Node::Int(i) => i.to_string(),
                        Node::Float(f) => format_g(f, None, false),
                        _ => {
                            return Err("error converting YAML to JSON: unsupported map key of type: %!s(<nil>), key: <nil>, value: <nil>".into());
                        }
                    };
                    m.insert(key, v.into_value()?);
                }
                Value::map(m)
            }
        })
    }
}

struct NodeVisitor;

impl<'de> serde::de::Visitor<'de> for NodeVisitor {
    type Value = Node;

    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("any YAML value")
    }

    fn visit_bool<E>(self, v: bool) -> Result<Node, E> {
        Ok(Node::Bool(v))
    }

    fn visit_i64<E>(self, v: i64) -> Result<Node, E> {
        Ok(Node::Int(v as i128))
    }

    fn visit_u64<E>(self, v: u64) -> Result<Node, E> {
        Ok(Node::Int(v as i128))
    }

    fn visit_i128<E>(self, v: i128) -> Result<Node, E> {
        Ok(Node::Int(v))
    }

    fn visit_u128<E>(self, v: u128) -> Result<Node, E> {
        Ok(Node::Float(v as f64))
    }

    fn visit_f64<E>(self, v: f64) -> Result<Node, E> {
        Ok(Node::Float(v))
    }

    fn visit_str<E>(self, v: &str) -> Result<Node, E> {
        Ok(Node::Str(v.to_string()))
    }

    fn visit_string<E>(self, v: String) -> Result<Node, E> {
        Ok(Node::Str(v))
    }

    fn visit_bytes<E>(self, v: &[u8]) -> Result<Node, E> {
        Ok(Node::Str(String::from_utf8_lossy(v).into_owned()))
    }

    fn visit_unit<E>(self) -> Result<Node, E> {
        Ok(Node::Null)
    }

    fn visit_none<E>(self) -> Result<Node, E> {
        Ok(Node::Null)
    }

    fn visit_some<D: serde::Deserializer<'de>>(self, d: D) -> Result<Node, D::Error> {
        serde::Deserialize::deserialize(d)
    }

    fn visit_seq<A: serde::de::SeqAccess<'de>>(self, mut a: A) -> Result<Node, A::Error> {
        let mut v = Vec::new();
        while let Some(x) = a.next_element::<Node>()? {
            v.push(x);
        }
        Ok(Node::List(v))
    }

    fn visit_map<A: serde::de::MapAccess<'de>>(self, mut a: A) -> Result<Node, A::Error> {
        let mut v = Vec::new();
        while let Some((k, x)) = a.next_entry::<Node, Node>()? {
            v.push((k, x));
        }
        Ok(Node::Map(v))
    }
}

impl<'de> serde::Deserialize<'de> for Node {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Node, D::Error> {
        d.deserialize_any(NodeVisitor)
    }
}

/// encoding/json's wording where serde_json's can be mapped onto it.
pub fn go_json_error(e: &serde_json::Error) -> String {
    if e.is_eof() {
        return "unexpected end of JSON input".into();
    }
    e.to_string()
}

/// How encoding/json writes a time.Time.
fn rfc3339(t: &crate::value::GoTime) -> String {
    crate::sprig::format_time(t, "2006-01-02T15:04:05.999999999Z07:00")
}

/// Go's encoding/json number text for a float64.
pub fn json_float(f: f64) -> String {
    if f == f.trunc() && f.abs() < 1e21 {
        return format!("{}", f as i128);
    }
    let abs = f.abs();
    if abs != 0.0 && !(1e-6..1e21).contains(&abs) {
        // Exponent form with Go's cleanup: e-07 becomes e-7.
        let s = format!("{:e}", f);
        let (m, e) = s.split_once('e').unwrap_or((&s, "0"));
        let e: i32 = e.parse().unwrap_or(0);
        let sign = if e < 0 { '-' } else { '+' };
        return format!("{m}e{sign}{}", e.abs());
    }
    let s = format!("{f}");
    s
}

/// Go's json.Marshal text of template data (HTML characters escaped).
pub fn marshal_json(v: &Value) -> String {
    let mut out = String::new();
    write_json(&mut out, v);
    out
}

fn write_json(out: &mut String, v: &Value) {
    match v {
        Value::Invalid | Value::Nil => out.push_str("null"),
        Value::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        Value::Int(i) | Value::Int64(i) => out.push_str(&i.to_string()),
        Value::Float(f) => out.push_str(&json_float(*f)),
        Value::Str(s) => json_string(out, s),
        Value::Time(t) => json_string(out, &rfc3339(t)),
        Value::Bytes(b) => {
            use base64::Engine;
            json_string(
                out,
                &base64::engine::general_purpose::STANDARD.encode(b.as_slice()),
            );
        }
        Value::List(_) | Value::StrList(_) => {
            out.push('[');
            for (i, it) in v.list_items().unwrap_or_default().iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_json(out, it);
            }
            out.push(']');
        }
        Value::Map(m) => {
            out.push('{');
            for (i, (k, val)) in m.entries().iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                json_string(out, k);
                out.push(':');
                write_json(out, val);
            }
            out.push('}');
        }
    }
}

/// The escapes JSON and YAML double-quoted strings write alike.
fn common_escape(c: char) -> Option<&'static str> {
    Some(match c {
        '"' => "\\\"",
        '\\' => "\\\\",
        '\n' => "\\n",
        '\r' => "\\r",
        '\t' => "\\t",
        _ => return None,
    })
}

fn json_string(out: &mut String, s: &str) {
    out.push('"');
    for c in s.chars() {
        if let Some(e) = common_escape(c) {
            out.push_str(e);
            continue;
        }
        match c {
            '<' => out.push_str("\\u003c"),
            '>' => out.push_str("\\u003e"),
            '&' => out.push_str("\\u0026"),
            '\u{2028}' => out.push_str("\\u2028"),
            '\u{2029}' => out.push_str("\\u2029"),
            c if (c as u32) < 0x20 => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
}

/// Helm's toYaml: yaml.v2 output of the JSON form, without the final newline.
pub fn to_yaml(v: &Value) -> String {
    let mut out = String::new();
    emit(&mut out, &json_shape(v), 0, Ctx::Top);
    if out.ends_with('\n') {
        out.pop();
    }
    out
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

fn emit(out: &mut String, v: &Value, indent: usize, ctx: Ctx) {
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
                            emit(out, val, indent + 2, Ctx::MapValue);
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
                        emit(out, val, indent + 2, Ctx::MapValue)
                    }
                    Value::List(_) if !is_empty_coll(val) => {
                        out.push('\n');
                        emit(out, val, indent, Ctx::MapValue);
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
                        emit(out, it, indent + 2, Ctx::SeqItem)
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
