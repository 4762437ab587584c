//! The template functions Helm 4 adds to Helm 3's: `mustToYaml` and
//! `mustToToml` (fail the render instead of printing nothing or the error),
//! and the duration helpers (`mustToDuration`, `durationSeconds` …
//! `durationWeeks`, `durationRoundTo`, `durationTruncateTo`). A duration
//! argument is a `time.Duration`, a Go duration string (`1h30m`), a number
//! string, or a number, numbers counting seconds.

use std::sync::Arc;

use driftless_gotemplate::sprig::{duration_string, parse_duration};
use driftless_gotemplate::{FuncMap, Object, Ty, Value};

const SECOND: i128 = 1_000_000_000;

/// A duration in nanoseconds to a float count of some unit.
type ToFloat = fn(i64) -> f64;

/// Helm 4's functions beyond Helm 3's.
pub fn funcs() -> FuncMap {
    let mut m = FuncMap::new();
    // The YAML and TOML encoders of our value model do not fail where Go's
    // could (a NaN, a channel), so these print what toYaml/toToml print.
    m.add("mustToYaml", &[Ty::Any], None, |a| {
        Ok(Value::str(driftless_gotemplate::yaml::to_yaml(&a[0])))
    });
    m.add("mustToToml", &[Ty::Any], None, |a| {
        if a[0].is_nil() {
            return Err("reflect: call of reflect.Value.Type on zero Value".into());
        }
        driftless_gotemplate::tomlenc::try_to_toml(&a[0]).map(Value::str)
    });
    m.add("mustToDuration", &[Ty::Any], None, |a| {
        as_duration(&a[0]).map(Duration::value)
    });
    let floats: [(&str, ToFloat); 5] = [
        ("durationSeconds", |d| split(d, SECOND)),
        ("durationMinutes", |d| split(d, 60 * SECOND)),
        ("durationHours", |d| split(d, 3600 * SECOND)),
        ("durationDays", |d| split(d, 3600 * SECOND) / 24.0),
        ("durationWeeks", |d| split(d, 3600 * SECOND) / 24.0 / 7.0),
    ];
    for (name, f) in floats {
        m.add(name, &[Ty::Any], None, move |a| {
            Ok(Value::Float(as_duration(&a[0]).map_or(0.0, f)))
        });
    }
    let ints: [(&str, i64); 3] = [
        ("durationMilliseconds", 1_000_000),
        ("durationMicroseconds", 1_000),
        ("durationNanoseconds", 1),
    ];
    for (name, unit) in ints {
        m.add(name, &[Ty::Any], None, move |a| {
            Ok(Value::Int64(as_duration(&a[0]).map_or(0, |d| d / unit)))
        });
    }
    m.add("durationRoundTo", &[Ty::Any, Ty::Any], None, |a| {
        Ok(Duration::value(with_multiple(&a, round)))
    });
    m.add("durationTruncateTo", &[Ty::Any, Ty::Any], None, |a| {
        Ok(Duration::value(with_multiple(&a, |d, m| d - d % m)))
    });
    m
}

/// Go's `Duration.Seconds`/`Minutes`/`Hours`: whole units plus the
/// remainder as a fraction, so large values keep their precision.
fn split(d: i64, unit: i128) -> f64 {
    let d = i128::from(d);
    (d / unit) as f64 + (d % unit) as f64 / unit as f64
}

/// `v` rounded or truncated to a multiple of `m`: 0 when `v` is no
/// duration, `v` itself when `m` is none or not positive.
fn with_multiple(a: &[Value], f: fn(i64, i64) -> i64) -> i64 {
    let Ok(d) = as_duration(&a[0]) else {
        return 0;
    };
    match as_duration(&a[1]) {
        Ok(m) if m > 0 => f(d, m),
        _ => d,
    }
}

/// Go's `Duration.Round`: halves away from zero, saturating.
fn round(d: i64, m: i64) -> i64 {
    let r = d % m;
    if d < 0 {
        let r = -r;
        if r + r < m {
            return d + r;
        }
        d.checked_sub(m - r).unwrap_or(i64::MIN)
    } else {
        if r + r < m {
            return d - r;
        }
        d.checked_add(m - r).unwrap_or(i64::MAX)
    }
}

/// Helm's `asDuration`, in nanoseconds.
fn as_duration(v: &Value) -> Result<i64, String> {
    match v {
        Value::Object(o) => match o.as_any().and_then(|a| a.downcast_ref::<Duration>()) {
            Some(d) => Ok(d.0),
            None => Err(format!("unsupported duration type {}", o.type_name())),
        },
        Value::Str(s) => {
            let t = s.trim();
            if t.is_empty() {
                return Err("empty duration".into());
            }
            if let Ok(n) = parse_duration(t) {
                return i64::try_from(n).map_err(|_| format!("could not parse duration {s:?}"));
            }
            // Rust's float syntax is Go's ParseFloat's but for hex floats.
            match t.parse::<f64>() {
                Ok(f) => from_seconds_float(f),
                Err(_) => Err(format!("could not parse duration {s:?}")),
            }
        }
        Value::Nil | Value::Invalid => Err("invalid duration".into()),
        Value::Int(i) | Value::Int64(i) => from_seconds_int(*i),
        Value::Float(f) => from_seconds_float(*f),
        other => Err(format!("unsupported duration type {}", other.type_name())),
    }
}

fn from_seconds_int(s: i64) -> Result<i64, String> {
    let max = i64::MAX / SECOND as i64;
    let min = i64::MIN / SECOND as i64;
    if s > max || s < min {
        return Err(format!("duration seconds overflow: {s}"));
    }
    Ok(s * SECOND as i64)
}

fn from_seconds_float(s: f64) -> Result<i64, String> {
    if s.is_nan() || s.is_infinite() {
        return Err(format!(
            "invalid duration seconds: {}",
            driftless_gotemplate::gofmt::sprint_value(&Value::Float(s))
        ));
    }
    let max = i64::MAX as f64 / SECOND as f64;
    let min = i64::MIN as f64 / SECOND as f64;
    if s > max || s < min {
        return Err(format!(
            "duration seconds overflow: {}",
            driftless_gotemplate::gofmt::sprint_value(&Value::Float(s))
        ));
    }
    let nanos = s * SECOND as f64;
    if nanos > i64::MAX as f64 || nanos < i64::MIN as f64 {
        return Err("duration nanoseconds overflow".into());
    }
    // Go converts toward zero, as `as` does.
    Ok(nanos as i64)
}

/// A Go `time.Duration`: prints as `1h2m3s`, is its nanoseconds in JSON.
#[derive(Debug, Clone, Copy)]
pub struct Duration(pub i64);

impl Duration {
    fn value(nanos: i64) -> Value {
        Value::Object(Arc::new(Duration(nanos)))
    }
}

impl Object for Duration {
    fn type_name(&self) -> &'static str {
        "time.Duration"
    }
    fn field(&self, _name: &str) -> Option<Value> {
        None
    }
    fn method_arity(&self, name: &str) -> Option<usize> {
        matches!(
            name,
            "String"
                | "Seconds"
                | "Minutes"
                | "Hours"
                | "Milliseconds"
                | "Microseconds"
                | "Nanoseconds"
        )
        .then_some(0)
    }
    fn call(&self, name: &str, _args: Vec<Value>) -> Result<Value, String> {
        let d = self.0;
        Ok(match name {
            "Seconds" => Value::Float(split(d, SECOND)),
            "Minutes" => Value::Float(split(d, 60 * SECOND)),
            "Hours" => Value::Float(split(d, 3600 * SECOND)),
            "Milliseconds" => Value::Int64(d / 1_000_000),
            "Microseconds" => Value::Int64(d / 1_000),
            "Nanoseconds" => Value::Int64(d),
            _ => Value::str(self.print()),
        })
    }
    fn print(&self) -> String {
        duration_string(i128::from(self.0))
    }
    fn to_data(&self) -> Value {
        Value::Int64(self.0)
    }
    fn as_any(&self) -> Option<&dyn std::any::Any> {
        Some(self)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_count_seconds_and_strings_are_go_durations() {
        assert_eq!(as_duration(&Value::Int(90)), Ok(90 * SECOND as i64));
        assert_eq!(as_duration(&Value::Float(1.5)), Ok(1_500_000_000));
        assert_eq!(as_duration(&Value::str("1h30m")), Ok(5400 * SECOND as i64));
        assert_eq!(as_duration(&Value::str(" 2.5 ")), Ok(2_500_000_000));
        assert!(as_duration(&Value::str("")).is_err());
        assert!(as_duration(&Value::Bool(true)).is_err());
    }

    #[test]
    fn rounding_goes_half_away_from_zero_like_go() {
        let s = SECOND as i64;
        assert_eq!(round(90 * s, 60 * s), 120 * s);
        assert_eq!(round(89 * s, 60 * s), 60 * s);
        assert_eq!(round(-90 * s, 60 * s), -120 * s);
    }
}
