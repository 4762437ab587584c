//! YAML plain scalars as go-yaml v3 types them (its YAML 1.2 core rules plus
//! timestamps), and the reverse question its encoder asks: may this string be
//! written plain, or would it read back as something else?

use std::sync::LazyLock;

use regex::Regex;

use crate::tree::Value;

static YAML_FLOAT: LazyLock<Option<Regex>> =
    LazyLock::new(|| Regex::new(r"^[-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?$").ok());
static BASE60_FLOAT: LazyLock<Option<Regex>> =
    LazyLock::new(|| Regex::new(r"^[-+]?[0-9][0-9_]*(?::[0-5]?[0-9])+(?:\.[0-9_]*)?$").ok());
static TIMESTAMP: LazyLock<Option<Regex>> = LazyLock::new(|| {
    Regex::new(
        r"^([0-9]{4})-([0-9]{1,2})-([0-9]{1,2})(?:(?:[Tt]|[ ])([0-9]{1,2}):([0-9]{1,2}):([0-9]{1,2})(?:\.([0-9]+))?(Z|[+-][0-9]{2}:[0-9]{2})?)?$",
    )
    .ok()
});

fn matches(re: &LazyLock<Option<Regex>>, s: &str) -> bool {
    re.as_ref().is_some_and(|re| re.is_match(s))
}

/// The value of a plain scalar.
pub(crate) fn resolve_plain(s: &str) -> Value {
    match s {
        "true" | "True" | "TRUE" => return Value::Bool(true),
        "false" | "False" | "FALSE" => return Value::Bool(false),
        "" | "~" | "null" | "Null" | "NULL" => return Value::Null,
        ".nan" | ".NaN" | ".NAN" => return Value::Float(f64::NAN),
        ".inf" | ".Inf" | ".INF" | "+.inf" | "+.Inf" | "+.INF" => {
            return Value::Float(f64::INFINITY);
        }
        "-.inf" | "-.Inf" | "-.INF" => return Value::Float(f64::NEG_INFINITY),
        _ => {}
    }
    match s.as_bytes()[0] {
        b'.' => match s.parse::<f64>() {
            Ok(f) => Value::Float(f),
            Err(_) => Value::Str(s.to_owned()),
        },
        b'0'..=b'9' | b'+' | b'-' => {
            if let Some(t) = timestamp(s) {
                return Value::Time(t);
            }
            let plain = s.replace('_', "");
            if let Some(i) = go_parse_int(&plain) {
                return Value::Int(i);
            }
            if let Some(f) = go_parse_uint(&plain) {
                // Past i64: go-yaml gives a uint64, which sops cannot walk;
                // a float keeps the magnitude.
                return Value::Float(f as f64);
            }
            if matches(&YAML_FLOAT, &plain)
                && let Ok(f) = plain.parse::<f64>()
            {
                return Value::Float(f);
            }
            Value::Str(s.to_owned())
        }
        _ => Value::Str(s.to_owned()),
    }
}

/// Go's `strconv.ParseInt(s, 0, 64)`: sign, then `0x`/`0o`/`0b`/`0` prefixes.
fn go_parse_int(s: &str) -> Option<i64> {
    let (neg, body) = match s.as_bytes().first()? {
        b'-' => (true, &s[1..]),
        b'+' => (false, &s[1..]),
        _ => (false, s),
    };
    let magnitude = parse_radix(body)?;
    if neg {
        if magnitude <= i64::MAX as u64 + 1 {
            Some((magnitude as i64).wrapping_neg())
        } else {
            None
        }
    } else {
        i64::try_from(magnitude).ok()
    }
}

fn go_parse_uint(s: &str) -> Option<u64> {
    parse_radix(s.strip_prefix('+').unwrap_or(s))
}

fn parse_radix(body: &str) -> Option<u64> {
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
    if digits.is_empty() || !digits.chars().all(|c| c.is_digit(radix)) {
        return None;
    }
    u64::from_str_radix(digits, radix).ok()
}

/// A YAML timestamp printed as Go's `time.RFC3339Nano`, or `None`.
pub(crate) fn timestamp(s: &str) -> Option<String> {
    let caps = TIMESTAMP.as_ref()?.captures(s)?;
    let num = |i: usize| {
        caps.get(i)
            .map_or(Some(0), |m| m.as_str().parse::<u32>().ok())
    };
    let (y, mo, d) = (num(1)?, num(2)?, num(3)?);
    let (h, mi, se) = (num(4)?, num(5)?, num(6)?);
    if !(1..=12).contains(&mo) || !(1..=31).contains(&d) || h > 23 || mi > 59 || se > 59 {
        return None;
    }
    // The `T` form needs a zone; the space form has none (UTC).
    let has_time = caps.get(4).is_some();
    let zone = caps.get(8).map(|m| m.as_str());
    if has_time
        && zone.is_none()
        && s.as_bytes()
            .get(10)
            .is_some_and(|c| *c == b'T' || *c == b't')
    {
        return None;
    }
    let frac = caps
        .get(7)
        .map(|m| m.as_str().trim_end_matches('0'))
        .filter(|f| !f.is_empty())
        .map(|f| format!(".{}", &f[..f.len().min(9)]))
        .unwrap_or_default();
    let zone = match zone {
        None | Some("Z" | "+00:00" | "-00:00") => "Z",
        Some(z) => z,
    };
    Some(format!(
        "{y:04}-{mo:02}-{d:02}T{h:02}:{mi:02}:{se:02}{frac}{zone}"
    ))
}

/// Whether go-yaml v3 writes this string plain rather than double-quoted:
/// it must read back as a string, and not as a YAML 1.1 bool or base-60 float.
pub(crate) fn plain_reads_as_string(s: &str) -> bool {
    if matches!(
        s,
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
    ) {
        return false;
    }
    if matches(&BASE60_FLOAT, s) {
        return false;
    }
    s == "<<" || matches!(resolve_plain(s), Value::Str(_))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_scalars_are_typed_as_go_yaml_v3_types_them() {
        assert_eq!(resolve_plain("42"), Value::Int(42));
        assert_eq!(resolve_plain("0x1F"), Value::Int(31));
        assert_eq!(resolve_plain("0755"), Value::Int(493));
        assert_eq!(resolve_plain("1_000"), Value::Int(1000));
        assert_eq!(resolve_plain("1.5"), Value::Float(1.5));
        assert_eq!(resolve_plain("1e3"), Value::Float(1000.0));
        assert_eq!(resolve_plain("yes"), Value::Str("yes".into()));
        assert_eq!(resolve_plain("~"), Value::Null);
        assert_eq!(
            resolve_plain("2024-01-02"),
            Value::Time("2024-01-02T00:00:00Z".into())
        );
        assert_eq!(resolve_plain("1.2.3"), Value::Str("1.2.3".into()));
    }

    #[test]
    fn strings_that_would_read_back_as_other_types_are_not_plain() {
        for s in [
            "true",
            "1",
            "1.0",
            "null",
            "",
            "yes",
            "off",
            "1:20",
            "2024-01-02",
        ] {
            assert!(!plain_reads_as_string(s), "{s}");
        }
        for s in ["hello", "1.2.3", "v1", "a b"] {
            assert!(plain_reads_as_string(s), "{s}");
        }
    }
}
