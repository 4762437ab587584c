//! Sprig's date functions over Go's time.Time, in UTC (Helm's "Local" on
//! a controller is UTC; other zones are not loaded and fall back to UTC,
//! as Go does when a zone cannot be found).

use crate::funcs::{Func, FuncMap, Ty};
use crate::value::{GoTime, Value};

const MONTHS: [&str; 12] = [
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
];
const DAYS: [&str; 7] = [
    "Sunday",
    "Monday",
    "Tuesday",
    "Wednesday",
    "Thursday",
    "Friday",
    "Saturday",
];

/// Civil date from days since 1970-01-01 (Howard Hinnant's algorithm).
fn civil(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y, m, d)
}

fn days_from_civil(y: i64, m: u32, d: u32) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y.rem_euclid(400);
    let mp = if m > 2 { m - 3 } else { m + 9 } as i64;
    let doy = (153 * mp + 2) / 5 + d as i64 - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// Go's Time.Format for the layout elements charts use.
pub fn format(t: &GoTime, layout: &str) -> String {
    let local = t.unix + i64::from(t.offset);
    let days = local.div_euclid(86_400);
    let secs = local.rem_euclid(86_400);
    let (y, mo, d) = civil(days);
    let (h, mi, s) = (secs / 3600, secs % 3600 / 60, secs % 60);
    let wd = (days + 4).rem_euclid(7) as usize;
    let yday = days - days_from_civil(y, 1, 1) + 1;
    let off = t.offset;
    let (osign, oabs) = if off < 0 { ('-', -off) } else { ('+', off) };
    let (oh, om) = (oabs / 3600, oabs % 3600 / 60);
    let mut out = String::new();
    let mut rest = layout;
    while !rest.is_empty() {
        let tokens: &[(&str, String)] = &[
            ("January", MONTHS[mo as usize - 1].to_string()),
            ("Monday", DAYS[wd].to_string()),
            ("2006", format!("{y:04}")),
            ("-07:00:00", format!("{osign}{oh:02}:{om:02}:00")),
            (
                "Z07:00",
                if off == 0 {
                    "Z".into()
                } else {
                    format!("{osign}{oh:02}:{om:02}")
                },
            ),
            (
                "Z0700",
                if off == 0 {
                    "Z".into()
                } else {
                    format!("{osign}{oh:02}{om:02}")
                },
            ),
            ("-07:00", format!("{osign}{oh:02}:{om:02}")),
            ("-0700", format!("{osign}{oh:02}{om:02}")),
            ("-07", format!("{osign}{oh:02}")),
            ("Jan", MONTHS[mo as usize - 1][..3].to_string()),
            ("Mon", DAYS[wd][..3].to_string()),
            ("MST", t.zone.clone()),
            ("002", format!("{yday:03}")),
            ("01", format!("{mo:02}")),
            ("02", format!("{d:02}")),
            ("_2", format!("{d:>2}")),
            ("06", format!("{:02}", y.rem_euclid(100))),
            ("15", format!("{h:02}")),
            (
                "03",
                format!("{:02}", if h % 12 == 0 { 12 } else { h % 12 }),
            ),
            ("04", format!("{mi:02}")),
            ("05", format!("{s:02}")),
            ("PM", if h >= 12 { "PM".into() } else { "AM".into() }),
            ("pm", if h >= 12 { "pm".into() } else { "am".into() }),
            ("1", mo.to_string()),
            ("2", d.to_string()),
            ("3", (if h % 12 == 0 { 12 } else { h % 12 }).to_string()),
            ("4", mi.to_string()),
            ("5", s.to_string()),
        ];
        if let Some(frac) = fraction(rest, t.nanos) {
            out.push_str(&frac.0);
            rest = &rest[frac.1..];
            continue;
        }
        if let Some((tok, val)) = tokens.iter().find(|(tok, _)| rest.starts_with(tok)) {
            out.push_str(val);
            rest = &rest[tok.len()..];
            continue;
        }
        let c = rest.chars().next().unwrap_or(' ');
        out.push(c);
        rest = &rest[c.len_utf8()..];
    }
    out
}

/// ".000" (fixed) and ".999" (trailing zeros dropped) fractional seconds.
fn fraction(rest: &str, nanos: u32) -> Option<(String, usize)> {
    let b = rest.as_bytes();
    if b.first() != Some(&b'.') && b.first() != Some(&b',') {
        return None;
    }
    let digit = *b.get(1)?;
    if digit != b'0' && digit != b'9' {
        return None;
    }
    let n = b[1..].iter().take_while(|c| **c == digit).count();
    if b.get(1 + n).is_some_and(u8::is_ascii_digit) {
        return None;
    }
    let digits = format!("{nanos:09}");
    let mut shown = digits[..n.min(9)].to_string();
    if digit == b'9' {
        while shown.ends_with('0') {
            shown.pop();
        }
        if shown.is_empty() {
            return Some((String::new(), 1 + n));
        }
    }
    Some((format!("{}{shown}", b[0] as char), 1 + n))
}

/// Go's Time.String().
pub fn time_string(t: &GoTime) -> String {
    format(t, "2006-01-02 15:04:05.999999999 -0700 MST")
}

/// Go's time.Duration String().
pub fn duration_string(nanos: i128) -> String {
    if nanos == 0 {
        return "0s".into();
    }
    let neg = nanos < 0;
    let u = nanos.unsigned_abs();
    let mut out = String::new();
    if u < 1_000_000_000 {
        let (unit, div) = if u < 1_000 {
            ("ns", 1)
        } else if u < 1_000_000 {
            ("µs", 1_000)
        } else {
            ("ms", 1_000_000)
        };
        out.push_str(&frac_units(u, div));
        out.push_str(unit);
    } else {
        let secs = u / 1_000_000_000;
        let sub = u % 1_000_000_000;
        let (h, m, s) = (secs / 3600, secs % 3600 / 60, secs % 60);
        if h > 0 {
            out.push_str(&format!("{h}h"));
        }
        if h > 0 || m > 0 {
            out.push_str(&format!("{m}m"));
        }
        out.push_str(&frac_units(s * 1_000_000_000 + sub, 1_000_000_000));
        out.push('s');
    }
    if neg { format!("-{out}") } else { out }
}

fn frac_units(v: u128, div: u128) -> String {
    let (int, frac) = (v / div, v % div);
    if frac == 0 {
        return int.to_string();
    }
    let width = div.to_string().len() - 1;
    let mut f = format!("{frac:0width$}");
    while f.ends_with('0') {
        f.pop();
    }
    format!("{int}.{f}")
}

/// time.ParseDuration.
pub fn parse_duration(s: &str) -> Result<i128, String> {
    let bad = || format!("time: invalid duration {}", crate::gofmt::quote(s));
    let (neg, mut rest) = match s.strip_prefix('-') {
        Some(r) => (true, r),
        None => (false, s.strip_prefix('+').unwrap_or(s)),
    };
    if rest == "0" {
        return Ok(0);
    }
    if rest.is_empty() {
        return Err(bad());
    }
    let mut total: f64 = 0.0;
    while !rest.is_empty() {
        let n = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .unwrap_or(rest.len());
        if n == 0 {
            return Err(bad());
        }
        let num: f64 = rest[..n].parse().map_err(|_| bad())?;
        rest = &rest[n..];
        let u = rest
            .find(|c: char| c.is_ascii_digit() || c == '.')
            .unwrap_or(rest.len());
        let mult = match &rest[..u] {
            "ns" => 1.0,
            "us" | "µs" | "μs" => 1e3,
            "ms" => 1e6,
            "s" => 1e9,
            "m" => 6e10,
            "h" => 3.6e12,
            "" => {
                return Err(format!(
                    "time: missing unit in duration {}",
                    crate::gofmt::quote(s)
                ));
            }
            other => {
                return Err(format!(
                    "time: unknown unit {} in duration {}",
                    crate::gofmt::quote(other),
                    crate::gofmt::quote(s)
                ));
            }
        };
        total += num * mult;
        rest = &rest[u..];
    }
    let v = total.round() as i128;
    Ok(if neg { -v } else { v })
}

fn as_time(v: &Value, now: &GoTime) -> GoTime {
    match v {
        Value::Time(t) => t.as_ref().clone(),
        Value::Int(n) | Value::Int64(n) => GoTime::utc(*n, 0),
        _ => now.clone(),
    }
}

fn now(ex: &crate::Exec<'_>) -> GoTime {
    match ex.set.options.now {
        Some(unix) => GoTime::utc(unix, 0),
        None => {
            let d = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap_or_default();
            GoTime::utc(d.as_secs() as i64, d.subsec_nanos())
        }
    }
}

/// time.ParseInLocation for numeric layouts (2006 01 02 15 04 05, fixed text).
fn parse_layout(layout: &str, text: &str) -> Result<GoTime, String> {
    let fail = |rest: &str, elem: &str| {
        format!(
            "parsing time {} as {}: cannot parse {} as {}",
            crate::gofmt::quote(text),
            crate::gofmt::quote(layout),
            crate::gofmt::quote(rest),
            crate::gofmt::quote(elem)
        )
    };
    let (mut y, mut mo, mut d, mut h, mut mi, mut s) = (1i64, 1u32, 1u32, 0i64, 0i64, 0i64);
    let (mut l, mut t) = (layout, text);
    while !l.is_empty() {
        let fields: [(&str, usize); 6] = [
            ("2006", 4),
            ("01", 2),
            ("02", 2),
            ("15", 2),
            ("04", 2),
            ("05", 2),
        ];
        if let Some((i, (tok, w))) = fields
            .iter()
            .enumerate()
            .find(|(_, (tok, _))| l.starts_with(tok))
        {
            let digits: String = t.chars().take(*w).collect();
            if digits.len() != *w || !digits.chars().all(|c| c.is_ascii_digit()) {
                return Err(fail(t, tok));
            }
            let v: i64 = digits.parse().map_err(|_| fail(t, tok))?;
            match i {
                0 => y = v,
                1 => mo = v as u32,
                2 => d = v as u32,
                3 => h = v,
                4 => mi = v,
                _ => s = v,
            }
            l = &l[tok.len()..];
            t = &t[*w..];
            continue;
        }
        // A run of literal layout text up to the next element.
        let lit_end = (1..=l.len())
            .find(|&k| l.is_char_boundary(k) && fields.iter().any(|(f, _)| l[k..].starts_with(f)))
            .unwrap_or(l.len());
        let lit = &l[..lit_end];
        if !t.starts_with(lit) {
            return Err(fail(t, lit));
        }
        l = &l[lit_end..];
        t = &t[lit.len()..];
    }
    if !t.is_empty() {
        return Err(format!(
            "parsing time {}: extra text: {}",
            crate::gofmt::quote(text),
            crate::gofmt::quote(t)
        ));
    }
    if !(1..=12).contains(&mo) || !(1..=31).contains(&d) || h > 23 || mi > 59 || s > 59 {
        return Err(format!(
            "parsing time {}: value out of range",
            crate::gofmt::quote(text)
        ));
    }
    let days = days_from_civil(y, mo, d);
    Ok(GoTime::utc(days * 86_400 + h * 3600 + mi * 60 + s, 0))
}

pub fn register(m: &mut FuncMap) {
    m.insert(
        "now",
        Func::new(&[], None, |ex, _| {
            Ok(Value::Time(std::sync::Arc::new(now(ex))))
        }),
    );
    m.insert(
        "date",
        Func::new(&[Ty::Str, Ty::Any], None, |ex, a| {
            Ok(Value::str(format(
                &as_time(&a[1], &now(ex)),
                a[0].as_str().unwrap_or_default(),
            )))
        }),
    );
    m.insert(
        "dateInZone",
        Func::new(&[Ty::Str, Ty::Any, Ty::Str], None, |ex, a| {
            Ok(Value::str(format(
                &as_time(&a[1], &now(ex)),
                a[0].as_str().unwrap_or_default(),
            )))
        }),
    );
    m.insert(
        "htmlDate",
        Func::new(&[Ty::Any], None, |ex, a| {
            Ok(Value::str(format(&as_time(&a[0], &now(ex)), "2006-01-02")))
        }),
    );
    m.insert(
        "htmlDateInZone",
        Func::new(&[Ty::Any, Ty::Str], None, |ex, a| {
            Ok(Value::str(format(&as_time(&a[0], &now(ex)), "2006-01-02")))
        }),
    );
    m.insert(
        "unixEpoch",
        Func::new(&[Ty::Any], None, |ex, a| {
            Ok(Value::str(as_time(&a[0], &now(ex)).unix.to_string()))
        }),
    );
    m.add("toDate", &[Ty::Str, Ty::Str], None, |a| {
        let t = parse_layout(
            a[0].as_str().unwrap_or_default(),
            a[1].as_str().unwrap_or_default(),
        )
        .unwrap_or_else(|_| GoTime::zero());
        Ok(Value::Time(std::sync::Arc::new(t)))
    });
    m.add("mustToDate", &[Ty::Str, Ty::Str], None, |a| {
        let t = parse_layout(
            a[0].as_str().unwrap_or_default(),
            a[1].as_str().unwrap_or_default(),
        )?;
        Ok(Value::Time(std::sync::Arc::new(t)))
    });
    m.add("dateModify", &[Ty::Str, Ty::Any], None, |a| {
        let Value::Time(t) = &a[1] else {
            return Err("wrong type for value; expected time.Time".into());
        };
        Ok(match parse_duration(a[0].as_str().unwrap_or_default()) {
            Ok(d) => Value::Time(std::sync::Arc::new(t.add_nanos(d))),
            Err(_) => a[1].clone(),
        })
    });
    m.add("mustDateModify", &[Ty::Str, Ty::Any], None, |a| {
        let Value::Time(t) = &a[1] else {
            return Err("wrong type for value; expected time.Time".into());
        };
        let d = parse_duration(a[0].as_str().unwrap_or_default())?;
        Ok(Value::Time(std::sync::Arc::new(t.add_nanos(d))))
    });
    m.add("duration", &[Ty::Any], None, |a| {
        let n: i128 = match &a[0] {
            Value::Str(s) => s.parse::<i64>().unwrap_or(0).into(),
            Value::Int64(n) => (*n).into(),
            _ => 0,
        };
        Ok(Value::str(duration_string(n * 1_000_000_000)))
    });
    m.insert(
        "ago",
        Func::new(&[Ty::Any], None, |ex, a| {
            let n = now(ex);
            let t = as_time(&a[0], &n);
            let secs = (n.unix - t.unix) as i128;
            Ok(Value::str(duration_string(secs * 1_000_000_000)))
        }),
    );
    m.insert(
        "durationRound",
        Func::new(&[Ty::Any], None, |ex, a| {
            let d: i128 = match &a[0] {
                Value::Str(s) => parse_duration(s).unwrap_or(0),
                Value::Int64(n) => (*n).into(),
                Value::Time(t) => (now(ex).unix - t.unix) as i128 * 1_000_000_000,
                _ => 0,
            };
            Ok(Value::str(round_duration(d.unsigned_abs())))
        }),
    );
    // Sprig keeps its older snake_case names as aliases.
    for (alias, name) in [
        ("date_in_zone", "dateInZone"),
        ("date_modify", "dateModify"),
        ("must_date_modify", "mustDateModify"),
    ] {
        if let Some(f) = m.get(name).cloned() {
            m.insert(alias, f);
        }
    }
}

fn round_duration(u: u128) -> String {
    const S: u128 = 1_000_000_000;
    let units: [(u128, &str); 6] = [
        (S * 3600 * 24 * 365, "y"),
        (S * 3600 * 24 * 30, "mo"),
        (S * 3600 * 24, "d"),
        (S * 3600, "h"),
        (S * 60, "m"),
        (S, "s"),
    ];
    for (size, name) in units {
        if u > size {
            return format!("{}{name}", u / size);
        }
    }
    "0s".into()
}
