//! Sprig's loose conversions (spf13/cast semantics) and its string helpers.

use crate::gofmt::sprint_value;
use crate::value::Value;

/// Sprig's strval: strings as they are, everything else as `%v`.
pub fn strval(v: &Value) -> String {
    match v {
        Value::Str(s) => s.to_string(),
        Value::Bytes(b) => String::from_utf8_lossy(b).into_owned(),
        Value::Invalid | Value::Nil => "<nil>".into(),
        other => sprint_value(other),
    }
}

/// Sprig's strslice: a list's non-nil elements as strings; a scalar alone.
pub fn strslice(v: &Value) -> Vec<String> {
    match v {
        Value::StrList(l) => l.as_ref().clone(),
        Value::List(l) => l.iter().filter(|x| !x.is_nil()).map(strval).collect(),
        Value::Invalid | Value::Nil => Vec::new(),
        other => vec![strval(other)],
    }
}

fn trim_zero_decimal(s: &str) -> &str {
    // cast strips a ".0…" tail so "10.00" reads as 10.
    if let Some((int, frac)) = s.split_once('.')
        && !frac.is_empty()
        && frac.chars().all(|c| c == '0')
        && !int.is_empty()
    {
        return int;
    }
    s
}

/// strconv.ParseInt(s, 0, 64).
pub fn parse_int_base0(s: &str) -> Option<i64> {
    let (neg, body) = match s.strip_prefix('-') {
        Some(b) => (true, b),
        None => (false, s.strip_prefix('+').unwrap_or(s)),
    };
    if body.is_empty() {
        return None;
    }
    let (digits, radix) = crate::literal::split_radix(body);
    let digits: String = if radix != 10 || digits.contains('_') {
        // Underscores are allowed only with a base prefix.
        if radix == 10 {
            return None;
        }
        digits.replace('_', "")
    } else {
        digits
    };
    if digits.is_empty() || digits.starts_with('+') || digits.starts_with('-') {
        return None;
    }
    let v = i128::from_str_radix(&digits, radix).ok()?;
    let v = if neg { -v } else { v };
    i64::try_from(v).ok()
}

/// cast.ToInt64.
pub fn to_int64(v: &Value) -> i64 {
    match v {
        Value::Int(i) | Value::Int64(i) => *i,
        // Go's float-to-int conversion on amd64 yields MinInt64 when out of range.
        Value::Float(f) => {
            if f.is_nan() || *f >= 9.223_372_036_854_776e18 || *f < -9.223_372_036_854_776e18 {
                i64::MIN
            } else {
                *f as i64
            }
        }
        Value::Bool(b) => i64::from(*b),
        Value::Str(s) => parse_int_base0(trim_zero_decimal(s)).unwrap_or(0),
        _ => 0,
    }
}

/// cast.ToFloat64.
pub fn to_float64(v: &Value) -> f64 {
    match v {
        Value::Int(i) | Value::Int64(i) => *i as f64,
        Value::Float(f) => *f,
        Value::Bool(b) => f64::from(u8::from(*b)),
        Value::Str(s) => go_parse_float(s).unwrap_or(0.0),
        _ => 0.0,
    }
}

/// strconv.ParseFloat's accepted forms (decimal, exponent, inf/nan words).
pub fn go_parse_float(s: &str) -> Option<f64> {
    let t = s.replace('_', "");
    match t.to_ascii_lowercase().trim_start_matches(['+', '-']) {
        "inf" | "infinity" => {
            return Some(if t.starts_with('-') {
                f64::NEG_INFINITY
            } else {
                f64::INFINITY
            });
        }
        "nan" => return Some(f64::NAN),
        _ => {}
    }
    if t.is_empty() || t.contains(|c: char| c.is_alphabetic() && c != 'e' && c != 'E') {
        return None;
    }
    t.parse::<f64>().ok()
}

/// Sprig's empty: the zero value of its type.
pub fn empty(v: &Value) -> bool {
    !v.truth()
}

/// Go's reflect.Kind name of a value, as kindOf prints it.
pub fn kind_of(v: &Value) -> &'static str {
    match v {
        Value::Invalid | Value::Nil => "invalid",
        Value::Bool(_) => "bool",
        Value::Int(_) => "int",
        Value::Int64(_) => "int64",
        Value::Float(_) => "float64",
        Value::Str(_) => "string",
        Value::List(_) | Value::StrList(_) | Value::Bytes(_) => "slice",
        Value::Map(_) => "map",
        Value::Time(_) | Value::Object(_) => "struct",
    }
}

/// The reflect.Kind name of a list-or-not argument, for Sprig's
/// "Cannot ... on type X" panics.
pub fn kind_for_error(v: &Value) -> String {
    kind_of(v).to_string()
}
