//! The value kustomize prints: a node as yaml.v3 decodes it, written to JSON
//! and read back by go-yaml v2. That round trip is why `1.0` prints as `1`,
//! `0x1F` as `31`, `2024-01-01` as `"2024-01-01T00:00:00Z"` and why comments,
//! quoting and flow style from the input never reach the output.

use super::node::{Node, Scalar, Style};
use super::resolve::{GoInt, Kind, plain_kind};

#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    Null,
    Bool(bool),
    /// An integer as its decimal text (it may exceed i64 as a u64).
    Int(String),
    Float(f64),
    Str(String),
    Seq(Vec<Value>),
    Map(Vec<(String, Value)>),
}

impl Value {
    /// The plain text v2 prints for a non-string scalar.
    pub fn plain_text(&self) -> String {
        match self {
            Value::Null => "null".into(),
            Value::Bool(b) => b.to_string(),
            Value::Int(s) => s.clone(),
            Value::Float(f) => go_format_g(*f),
            Value::Str(s) => s.clone(),
            Value::Seq(_) | Value::Map(_) => String::new(),
        }
    }
}

/// A JSON value as a node, for printing with [`super::emit::to_yaml`] exactly as
/// `sigs.k8s.io/yaml` prints a Go object (which also goes through JSON).
pub fn from_json(value: &serde_json::Value) -> Node {
    use super::node::{Flow, Mapping};
    use serde_json::Value as J;
    match value {
        J::Null => Node::Scalar(Scalar::plain("null")),
        J::Bool(b) => Node::Scalar(Scalar::plain(b.to_string())),
        J::Number(n) => Node::Scalar(Scalar::plain(n.to_string())),
        J::String(s) => Node::Scalar(Scalar::string(s.clone())),
        J::Array(items) => Node::Seq(items.iter().map(from_json).collect(), Flow::Block),
        J::Object(map) => Node::Map(
            Mapping {
                entries: map
                    .iter()
                    .map(|(k, v)| (Scalar::string(k.clone()), from_json(v)))
                    .collect(),
            },
            Flow::Block,
        ),
    }
}

/// The node as JSON, for decoding typed configuration (kustomization files).
pub fn to_json(node: &Node) -> serde_json::Value {
    use serde_json::Value as J;
    match to_value(node) {
        Value::Null => J::Null,
        Value::Bool(b) => J::Bool(b),
        Value::Int(s) => s
            .parse::<i64>()
            .map(J::from)
            .or_else(|_| s.parse::<u64>().map(J::from))
            .unwrap_or(J::String(s)),
        Value::Float(f) => serde_json::Number::from_f64(f).map_or(J::Null, J::Number),
        Value::Str(s) => J::String(s),
        Value::Seq(_) | Value::Map(_) => match node {
            Node::Seq(items, _) => J::Array(items.iter().map(to_json).collect()),
            Node::Map(map, _) => J::Object(
                map.entries
                    .iter()
                    .map(|(k, v)| (k.value.clone(), to_json(v)))
                    .collect(),
            ),
            Node::Scalar(_) => J::Null,
        },
    }
}

pub fn to_value(node: &Node) -> Value {
    match node {
        Node::Scalar(s) => scalar_value(s),
        Node::Seq(items, _) => Value::Seq(items.iter().map(to_value).collect()),
        Node::Map(map, _) => Value::Map(
            map.entries
                .iter()
                .map(|(k, v)| (k.value.clone(), to_value(v)))
                .collect(),
        ),
    }
}

/// The first float that is infinite or not a number, as Go prints it
/// (`+Inf`, `-Inf`, `NaN`). kustomize refuses such a resource: JSON has no
/// spelling for it and every resource goes through JSON on load.
pub fn non_finite_float(node: &Node) -> Option<String> {
    match node {
        Node::Scalar(s) => match scalar_value(s) {
            Value::Float(f) if f.is_nan() => Some("NaN".into()),
            Value::Float(f) if f.is_infinite() => {
                Some(if f > 0.0 { "+Inf" } else { "-Inf" }.into())
            }
            _ => None,
        },
        Node::Seq(items, _) => items.iter().find_map(non_finite_float),
        Node::Map(map, _) => map.entries.iter().find_map(|(_, v)| non_finite_float(v)),
    }
}

fn scalar_value(s: &Scalar) -> Value {
    let kind = match s.tag.as_deref() {
        Some("!!binary") => return binary_value(&s.value),
        Some("!!str") => Kind::Str,
        Some("!!int") => Kind::Int,
        Some("!!float") => Kind::Float,
        Some("!!bool") => Kind::Bool,
        Some("!!null") => Kind::Null,
        Some(_) => Kind::Str,
        None if s.style != Style::Plain => Kind::Str,
        None => plain_kind(&s.value),
    };
    let text = s.value.as_str();
    match kind {
        Kind::Null => Value::Null,
        Kind::Bool => Value::Bool(matches!(text, "true" | "True" | "TRUE")),
        Kind::Int => int_value(text),
        Kind::Float => float_value(parse_float(text)),
        Kind::Timestamp => Value::Str(timestamp_json(text)),
        Kind::Str | Kind::Merge => Value::Str(text.to_string()),
    }
}

/// yaml.v3 decodes `!!binary` to its bytes; JSON then carries them as text.
fn binary_value(text: &str) -> Value {
    use base64::Engine;
    let clean: String = text.chars().filter(|c| !c.is_whitespace()).collect();
    match base64::engine::general_purpose::STANDARD.decode(clean) {
        Ok(bytes) => Value::Str(String::from_utf8_lossy(&bytes).into_owned()),
        Err(_) => Value::Str(text.to_string()),
    }
}

fn int_value(text: &str) -> Value {
    let clean: String = text.chars().filter(|c| *c != '_').collect();
    match super::resolve::go_int(&clean) {
        GoInt {
            value: Some(v),
            negative: true,
        } if v > 0 => Value::Int(format!("-{v}")),
        GoInt { value: Some(v), .. } => Value::Int(v.to_string()),
        GoInt { value: None, .. } => Value::Float(parse_float(text)),
    }
}

fn parse_float(text: &str) -> f64 {
    let clean: String = text.chars().filter(|c| *c != '_').collect();
    match clean.as_str() {
        ".inf" | ".Inf" | ".INF" | "+.inf" | "+.Inf" | "+.INF" => f64::INFINITY,
        "-.inf" | "-.Inf" | "-.INF" => f64::NEG_INFINITY,
        ".nan" | ".NaN" | ".NAN" => f64::NAN,
        other => other.parse().unwrap_or(0.0),
    }
}

/// A float after JSON encoding and v2 decoding: integral values below 1e21
/// come back as integers when they fit 64 bits.
fn float_value(f: f64) -> Value {
    if f.is_finite() && f.fract() == 0.0 && f.abs() < 1e21 {
        let (digits, exp) = shortest_digits(f);
        let int_digits = if exp + 1 >= digits.len() as i32 {
            format!("{digits}{}", "0".repeat((exp + 1) as usize - digits.len()))
        } else {
            digits.clone()
        };
        let text = if f < 0.0 {
            format!("-{int_digits}")
        } else {
            int_digits
        };
        if text == "-0" {
            return Value::Int("0".into());
        }
        if text.parse::<i64>().is_ok() || text.parse::<u64>().is_ok() {
            return Value::Int(text);
        }
    }
    Value::Float(f)
}

/// Shortest round-trip decimal digits of |f| and its decimal exponent.
fn shortest_digits(f: f64) -> (String, i32) {
    let s = format!("{:e}", f.abs());
    let (mantissa, exp) = s.split_once('e').unwrap_or((&s, "0"));
    let digits: String = mantissa.chars().filter(char::is_ascii_digit).collect();
    (digits, exp.parse().unwrap_or(0))
}

/// Go's `strconv.FormatFloat(f, 'g', -1, 64)`.
pub fn go_format_g(f: f64) -> String {
    if f.is_nan() {
        return ".nan".into();
    }
    if f.is_infinite() {
        return if f > 0.0 { ".inf" } else { "-.inf" }.into();
    }
    if f == 0.0 {
        return "0".into();
    }
    let (digits, exp) = shortest_digits(f);
    let sign = if f < 0.0 { "-" } else { "" };
    // Go's shortest 'g' switches to an exponent from 1e6 on (not 1e21 as JSON).
    if !(-4..6).contains(&exp) {
        let (head, tail) = digits.split_at(1);
        let dot = if tail.is_empty() { "" } else { "." };
        let esign = if exp < 0 { '-' } else { '+' };
        return format!("{sign}{head}{dot}{tail}e{esign}{:02}", exp.abs());
    }
    if exp < 0 {
        return format!("{sign}0.{}{digits}", "0".repeat((-exp - 1) as usize));
    }
    let point = (exp + 1) as usize;
    if point >= digits.len() {
        format!("{sign}{digits}{}", "0".repeat(point - digits.len()))
    } else {
        format!("{sign}{}.{}", &digits[..point], &digits[point..])
    }
}

/// A yaml.v3 timestamp as Go's JSON encoding of `time.Time` (RFC 3339).
fn timestamp_json(text: &str) -> String {
    let date_only = !text.contains(['T', 't', ' ']);
    if date_only {
        let parts: Vec<&str> = text.split('-').collect();
        if let [y, m, d] = parts.as_slice() {
            return format!("{y}-{:0>2}-{:0>2}T00:00:00Z", m, d);
        }
    }
    text.to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn floats_print_as_go_prints_them() {
        assert_eq!(go_format_g(1.5), "1.5");
        assert_eq!(go_format_g(1.2345678901234568e20), "1.2345678901234568e+20");
        assert_eq!(go_format_g(6.02e23), "6.02e+23");
        assert_eq!(go_format_g(0.00001), "1e-05");
        assert_eq!(go_format_g(1234567.5), "1.2345675e+06");
    }

    #[test]
    fn integral_floats_come_back_as_integers() {
        assert_eq!(float_value(1.0), Value::Int("1".into()));
        assert_eq!(float_value(1e3), Value::Int("1000".into()));
        assert_eq!(
            float_value(1.2345678901234568e20),
            Value::Float(1.2345678901234568e20)
        );
    }
}
