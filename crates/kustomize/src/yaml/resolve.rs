//! The type a plain scalar resolves to, by yaml.v3's rules (the YAML library
//! under kustomize's kyaml): `true`/`True`/`TRUE` are bools but `yes` is a
//! string, `0755` is an int, `1_000` is an int, `2024-01-01` a timestamp.

use super::node::{Node, Scalar, Style};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Null,
    Bool,
    Int,
    Float,
    Timestamp,
    Str,
    Merge,
}

impl Kind {
    pub fn is_str(self) -> bool {
        self == Kind::Str
    }

    /// The yaml.v3 short tag of this kind.
    pub fn tag(self) -> &'static str {
        match self {
            Kind::Null => "!!null",
            Kind::Bool => "!!bool",
            Kind::Int => "!!int",
            Kind::Float => "!!float",
            Kind::Timestamp => "!!timestamp",
            Kind::Str => "!!str",
            Kind::Merge => "!!merge",
        }
    }
}

/// Resolves an untagged plain scalar (yaml.v3, the reader).
pub fn plain_kind(text: &str) -> Kind {
    resolve(text, false)
}

/// Resolves an untagged plain scalar as go-yaml v2 (the printer) does:
/// YAML 1.1, where `yes`, `on`, `y` and `n` are bools too.
pub fn v2_plain_kind(text: &str) -> Kind {
    resolve(text, true)
}

fn resolve(text: &str, yaml11: bool) -> Kind {
    if yaml11
        && matches!(
            text,
            "y" | "Y"
                | "yes"
                | "Yes"
                | "YES"
                | "on"
                | "On"
                | "ON"
                | "n"
                | "N"
                | "no"
                | "No"
                | "NO"
                | "off"
                | "Off"
                | "OFF"
        )
    {
        return Kind::Bool;
    }
    match text {
        "true" | "True" | "TRUE" | "false" | "False" | "FALSE" => return Kind::Bool,
        "" | "~" | "null" | "Null" | "NULL" => return Kind::Null,
        ".nan" | ".NaN" | ".NAN" | ".inf" | ".Inf" | ".INF" | "+.inf" | "+.Inf" | "+.INF"
        | "-.inf" | "-.Inf" | "-.INF" => return Kind::Float,
        "<<" => return Kind::Merge,
        _ => {}
    }
    let Some(first) = text.bytes().next() else {
        return Kind::Null;
    };
    match first {
        b'.' => {
            if go_parse_float(text) {
                Kind::Float
            } else {
                Kind::Str
            }
        }
        b'+' | b'-' | b'0'..=b'9' => numeric_kind(text),
        _ => Kind::Str,
    }
}

fn numeric_kind(text: &str) -> Kind {
    if is_timestamp(text) {
        return Kind::Timestamp;
    }
    let plain: String = text.chars().filter(|c| *c != '_').collect();
    if go_parse_int(&plain) || yaml_style_float(&plain) {
        return if go_parse_int(&plain) {
            Kind::Int
        } else {
            Kind::Float
        };
    }
    for prefix in ["0b", "-0b", "0o", "-0o"] {
        if let Some(digits) = plain.strip_prefix(prefix) {
            let radix = if prefix.ends_with('b') { 2 } else { 8 };
            if !digits.is_empty() && digits.chars().all(|c| c.is_digit(radix)) {
                return Kind::Int;
            }
        }
    }
    Kind::Str
}

/// An integer literal read as Go's `strconv.ParseInt(s, 0, 64)` reads it:
/// a sign, the radix from a 0x, 0o or 0b prefix or a leading 0 (octal), and
/// the digits, with their value when they fit in a u64.
pub(crate) struct GoInt {
    pub negative: bool,
    pub value: Option<u64>,
}

pub(crate) fn go_int(s: &str) -> GoInt {
    let (negative, body) = match s.as_bytes().first() {
        Some(b'+') => (false, &s[1..]),
        Some(b'-') => (true, &s[1..]),
        _ => (false, s),
    };
    let lower = body.to_ascii_lowercase();
    let (radix, digits) = if let Some(d) = lower.strip_prefix("0x") {
        (16, d)
    } else if let Some(d) = lower.strip_prefix("0o") {
        (8, d)
    } else if let Some(d) = lower.strip_prefix("0b") {
        (2, d)
    } else if lower.len() > 1 && lower.starts_with('0') {
        (8, &lower[1..])
    } else {
        (10, lower.as_str())
    };
    // from_str_radix alone would accept a second sign after the prefix.
    let valid = !digits.is_empty() && digits.chars().all(|c| c.is_digit(radix));
    GoInt {
        negative,
        value: valid
            .then(|| u64::from_str_radix(digits, radix).ok())
            .flatten(),
    }
}

/// Go's `strconv.ParseInt(s, 0, 64)` or `ParseUint(s, 0, 64)` would accept `s`
/// (range up to u64; down to -2^63).
fn go_parse_int(s: &str) -> bool {
    match go_int(s) {
        GoInt {
            value: Some(v),
            negative: true,
        } => v <= 1 << 63,
        GoInt { value, .. } => value.is_some(),
    }
}

/// `^[-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?$`
fn yaml_style_float(s: &str) -> bool {
    let b = s.as_bytes();
    let mut i = 0;
    if matches!(b.first(), Some(b'+' | b'-')) {
        i += 1;
    }
    let digits = |i: &mut usize| {
        let start = *i;
        while *i < b.len() && b[*i].is_ascii_digit() {
            *i += 1;
        }
        *i - start
    };
    if b.get(i) == Some(&b'.') {
        i += 1;
        if digits(&mut i) == 0 {
            return false;
        }
    } else {
        if digits(&mut i) == 0 {
            return false;
        }
        if b.get(i) == Some(&b'.') {
            i += 1;
            digits(&mut i);
        }
    }
    if matches!(b.get(i), Some(b'e' | b'E')) {
        i += 1;
        if matches!(b.get(i), Some(b'+' | b'-')) {
            i += 1;
        }
        if digits(&mut i) == 0 {
            return false;
        }
    }
    i == b.len()
}

/// Go's `strconv.ParseFloat` for the `.5`-style inputs the resolver tries.
fn go_parse_float(s: &str) -> bool {
    yaml_style_float(s) || s.parse::<f64>().is_ok_and(|f| f.is_finite())
}

/// yaml.v3 timestamps: four digits, a dash, then a date (optionally a time).
fn is_timestamp(s: &str) -> bool {
    let b = s.as_bytes();
    if b.len() < 5 || !b[..4].iter().all(u8::is_ascii_digit) || b[4] != b'-' {
        return false;
    }
    let (date, time) = match s.find(['T', 't', ' ']) {
        Some(at) => (&s[..at], Some(&s[at + 1..])),
        None => (s, None),
    };
    let parts: Vec<&str> = date.split('-').collect();
    let date_ok = parts.len() == 3
        && parts[0].len() == 4
        && parts[1..]
            .iter()
            .all(|p| (1..=2).contains(&p.len()) && p.bytes().all(|c| c.is_ascii_digit()))
        && parts[1].parse::<u32>().is_ok_and(|m| (1..=12).contains(&m))
        && parts[2].parse::<u32>().is_ok_and(|d| (1..=31).contains(&d));
    if !date_ok {
        return false;
    }
    match time {
        None => true,
        // Time forms are rare in manifests; accept the common hh:mm:ss shape.
        Some(t) => {
            let hms: String = t.chars().take_while(|c| *c != 'Z' && *c != '+').collect();
            let fields: Vec<&str> = hms.split(':').collect();
            fields.len() == 3
                && fields
                    .iter()
                    .all(|f| !f.is_empty() && f.chars().all(|c| c.is_ascii_digit() || c == '.'))
        }
    }
}

/// Rewrites plain `y`, `yes`, `on`, `n`, `no`, `off` (in their spellings)
/// to `true`/`false`, keys included: what YAML 1.1 makes of them. kustomize
/// reads kustomization files and JSON 6902 patches through go-yaml v2,
/// which follows YAML 1.1, while resources are read as YAML 1.2.
pub fn yaml11_booleans(node: &mut Node) {
    let rewrite = |s: &mut Scalar| {
        if s.tag.is_some() || s.style != Style::Plain {
            return;
        }
        let truth = match s.value.as_str() {
            "y" | "Y" | "yes" | "Yes" | "YES" | "on" | "On" | "ON" => "true",
            "n" | "N" | "no" | "No" | "NO" | "off" | "Off" | "OFF" => "false",
            _ => return,
        };
        s.value = truth.into();
    };
    match node {
        Node::Map(m, _) => {
            for (k, v) in m.entries.iter_mut() {
                rewrite(k);
                yaml11_booleans(v);
            }
        }
        Node::Seq(items, _) => items.iter_mut().for_each(yaml11_booleans),
        Node::Scalar(s) => rewrite(s),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_scalars_resolve_as_yaml_v3_resolves_them() {
        let cases = [
            ("true", Kind::Bool),
            ("yes", Kind::Str),
            ("on", Kind::Str),
            ("0755", Kind::Int),
            ("0x1F", Kind::Int),
            ("1_000", Kind::Int),
            ("12345678901234567890", Kind::Int),
            ("123456789012345678901", Kind::Float),
            ("1.0", Kind::Float),
            ("1e3", Kind::Float),
            (".5", Kind::Float),
            ("2024-01-01", Kind::Timestamp),
            ("~", Kind::Null),
            ("", Kind::Null),
            ("1.2.3", Kind::Str),
            ("0b101", Kind::Int),
            ("08", Kind::Float),
            ("-", Kind::Str),
            ("nginx:1.2", Kind::Str),
        ];
        for (text, want) in cases {
            assert_eq!(plain_kind(text), want, "{text:?}");
        }
    }
}
