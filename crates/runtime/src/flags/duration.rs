//! Go `time.Duration` syntax for flags and spec fields: parsed as `time.ParseDuration` parses and
//! printed as `Duration.String()` prints, so `--requeue-dependency=30s` and `interval: 1m0s` mean
//! what they mean under Flux and round-trip to the same text.

use std::fmt;
use std::str::FromStr;
use std::time::Duration;

/// Why a Go duration string was rejected.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DurationError {
    /// Not Go duration syntax (`1m0s`, `1.5h`, `500ms`).
    #[error("time: invalid duration {input:?}")]
    Invalid {
        /// The rejected text.
        input: String,
    },
    /// A unit other than `ns`, `us`, `µs`, `ms`, `s`, `m`, `h`.
    #[error("time: unknown unit {unit:?} in duration {input:?}")]
    UnknownUnit {
        /// The unit as written.
        unit: String,
        /// The rejected text.
        input: String,
    },
    /// Larger than Go's `time.Duration` can hold (about 292 years).
    #[error("time: invalid duration {input:?} (out of range)")]
    Overflow {
        /// The rejected text.
        input: String,
    },
    /// Negative durations are valid Go but meaningless for an interval or a flag here.
    #[error("time: negative duration {input:?} is not allowed")]
    Negative {
        /// The rejected text.
        input: String,
    },
}

/// Go's `time.Duration` is an int64 of nanoseconds; its range is ours.
const MAX_NANOS: u64 = i64::MAX as u64;

const NANOSECOND: u64 = 1;
const MICROSECOND: u64 = 1_000;
const MILLISECOND: u64 = 1_000_000;
const SECOND: u64 = 1_000_000_000;
const MINUTE: u64 = 60 * SECOND;
const HOUR: u64 = 60 * MINUTE;

fn unit_nanos(unit: &str) -> Option<u64> {
    Some(match unit {
        "ns" => NANOSECOND,
        // Go accepts the micro sign (U+00B5) and the Greek mu (U+03BC).
        "us" | "\u{b5}s" | "\u{3bc}s" => MICROSECOND,
        "ms" => MILLISECOND,
        "s" => SECOND,
        "m" => MINUTE,
        "h" => HOUR,
        _ => return None,
    })
}

/// Parses a Go duration (`time.ParseDuration`): a sequence of decimal numbers with optional
/// fraction and a unit each, like `1h30m`, `1.5h`, `500ms`; a lone `0` is zero.
pub fn parse(input: &str) -> Result<Duration, DurationError> {
    let invalid = || DurationError::Invalid {
        input: input.to_owned(),
    };
    let overflow = || DurationError::Overflow {
        input: input.to_owned(),
    };
    let mut rest = input;
    let mut negative = false;
    if let Some(r) = rest.strip_prefix('-') {
        negative = true;
        rest = r;
    } else if let Some(r) = rest.strip_prefix('+') {
        rest = r;
    }
    if rest == "0" {
        return Ok(Duration::ZERO);
    }
    if rest.is_empty() {
        return Err(invalid());
    }
    let mut total: u64 = 0;
    while !rest.is_empty() {
        // Integer part.
        let int_len = rest.bytes().take_while(u8::is_ascii_digit).count();
        let mut value: u64 = 0;
        for b in rest[..int_len].bytes() {
            value = value
                .checked_mul(10)
                .and_then(|v| v.checked_add(u64::from(b - b'0')))
                .filter(|v| *v <= MAX_NANOS)
                .ok_or_else(overflow)?;
        }
        rest = &rest[int_len..];
        // Fraction: digits past what fits are dropped, as Go drops them (precision, not error).
        let mut fraction: u64 = 0;
        let mut scale: f64 = 1.0;
        let mut frac_len = 0;
        if let Some(r) = rest.strip_prefix('.') {
            rest = r;
            frac_len = rest.bytes().take_while(u8::is_ascii_digit).count();
            let mut overflowed = false;
            for b in rest[..frac_len].bytes() {
                if overflowed {
                    continue;
                }
                match fraction
                    .checked_mul(10)
                    .and_then(|v| v.checked_add(u64::from(b - b'0')))
                    .filter(|v| *v <= MAX_NANOS)
                {
                    Some(v) => {
                        fraction = v;
                        scale *= 10.0;
                    }
                    None => overflowed = true,
                }
            }
            rest = &rest[frac_len..];
        }
        if int_len == 0 && frac_len == 0 {
            return Err(invalid());
        }
        let unit_len = rest
            .char_indices()
            .find(|(_, c)| *c == '.' || c.is_ascii_digit())
            .map_or(rest.len(), |(i, _)| i);
        if unit_len == 0 {
            return Err(DurationError::Invalid {
                input: input.to_owned(),
            });
        }
        let unit_text = &rest[..unit_len];
        let unit = unit_nanos(unit_text).ok_or_else(|| DurationError::UnknownUnit {
            unit: unit_text.to_owned(),
            input: input.to_owned(),
        })?;
        rest = &rest[unit_len..];
        let mut nanos = value
            .checked_mul(unit)
            .filter(|v| *v <= MAX_NANOS)
            .ok_or_else(overflow)?;
        if fraction > 0 {
            // Same float arithmetic as Go, so `1.1s` lands on the same nanosecond.
            let extra = (fraction as f64 * (unit as f64 / scale)) as u64;
            nanos = nanos
                .checked_add(extra)
                .filter(|v| *v <= MAX_NANOS)
                .ok_or_else(overflow)?;
        }
        total = total
            .checked_add(nanos)
            .filter(|v| *v <= MAX_NANOS)
            .ok_or_else(overflow)?;
    }
    if negative && total != 0 {
        return Err(DurationError::Negative {
            input: input.to_owned(),
        });
    }
    Ok(Duration::from_nanos(total))
}

/// Writes `value` with `precision` fractional digits, trailing zeros (and a bare dot) removed.
fn write_fraction(out: &mut String, value: u64, precision: u32) -> u64 {
    let divisor = 10u64.pow(precision);
    let fraction = value % divisor;
    if fraction != 0 {
        let digits = format!("{fraction:0width$}", width = precision as usize);
        out.push('.');
        out.push_str(digits.trim_end_matches('0'));
    }
    value / divisor
}

/// Formats like Go's `time.Duration.String()`: `0s`, `500ms`, `1.5µs`, `30s`, `1m0s`, `1h30m0s`.
pub fn format(duration: Duration) -> String {
    let nanos = u64::try_from(duration.as_nanos()).unwrap_or(u64::MAX);
    if nanos == 0 {
        return "0s".to_owned();
    }
    if nanos < SECOND {
        let (precision, unit) = match nanos {
            n if n < MICROSECOND => return format!("{n}ns"),
            n if n < MILLISECOND => (3, "\u{b5}s"),
            _ => (6, "ms"),
        };
        let mut fraction = String::new();
        let whole = write_fraction(&mut fraction, nanos, precision);
        return format!("{whole}{fraction}{unit}");
    }
    let mut fraction = String::new();
    let total_seconds = write_fraction(&mut fraction, nanos, 9);
    let seconds = total_seconds % 60;
    let total_minutes = total_seconds / 60;
    let mut out = String::new();
    if total_minutes > 0 {
        let hours = total_minutes / 60;
        if hours > 0 {
            out.push_str(&format!("{hours}h"));
        }
        out.push_str(&format!("{}m", total_minutes % 60));
    }
    out.push_str(&format!("{seconds}{fraction}s"));
    out
}

/// A duration that reads and prints in Go syntax; the type of every duration flag.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct GoDuration(pub Duration);

impl GoDuration {
    /// The standard-library duration.
    pub fn get(self) -> Duration {
        self.0
    }
}

impl FromStr for GoDuration {
    type Err = DurationError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        parse(s).map(GoDuration)
    }
}

impl fmt::Display for GoDuration {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&format(self.0))
    }
}

impl From<GoDuration> for Duration {
    fn from(d: GoDuration) -> Self {
        d.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn go_duration_strings_parse_to_the_same_nanoseconds_as_go() {
        let cases: &[(&str, u64)] = &[
            ("0", 0),
            ("0s", 0),
            ("-0", 0),
            ("+5s", 5 * SECOND),
            ("1m0s", MINUTE),
            ("10m", 10 * MINUTE),
            ("1h30m", HOUR + 30 * MINUTE),
            ("500ms", 500 * MILLISECOND),
            ("750ms", 750 * MILLISECOND),
            ("1.5h", HOUR + 30 * MINUTE),
            ("1.h", HOUR),
            (".5s", 500 * MILLISECOND),
            ("1.1s", 1_100_000_000),
            ("1.0000000001s", SECOND),
            ("100ns", 100),
            ("3us", 3 * MICROSECOND),
            ("3\u{b5}s", 3 * MICROSECOND),
            ("3\u{3bc}s", 3 * MICROSECOND),
            (
                "1h2m3s4ms5us6ns",
                HOUR + 2 * MINUTE + 3 * SECOND + 4 * MILLISECOND + 5_006,
            ),
            ("9223372036854775807ns", MAX_NANOS),
            ("2562047h", 2_562_047 * HOUR),
        ];
        for (input, nanos) in cases {
            assert_eq!(parse(input), Ok(Duration::from_nanos(*nanos)), "{input}");
        }
    }

    #[test]
    fn text_that_go_rejects_is_rejected() {
        for input in [
            "", "s", "1", "1x", ".s", "1.2.3s", "-", "1d", "1 s", "h1", "3000000h",
        ] {
            assert!(parse(input).is_err(), "{input:?} should be rejected");
        }
        assert!(matches!(parse("-1s"), Err(DurationError::Negative { .. })));
        assert!(matches!(
            parse("9223372036854775808ns"),
            Err(DurationError::Overflow { .. })
        ));
        assert!(matches!(
            parse("5d"),
            Err(DurationError::UnknownUnit { .. })
        ));
    }

    #[test]
    fn durations_print_exactly_as_go_prints_them() {
        let cases: &[(u64, &str)] = &[
            (0, "0s"),
            (1, "1ns"),
            (1_100, "1.1\u{b5}s"),
            (2_200_000, "2.2ms"),
            (750 * MILLISECOND, "750ms"),
            (SECOND, "1s"),
            (3_300_000_000, "3.3s"),
            (30 * SECOND, "30s"),
            (MINUTE, "1m0s"),
            (10 * MINUTE, "10m0s"),
            (15 * MINUTE, "15m0s"),
            (4 * MINUTE + 5 * SECOND, "4m5s"),
            (4 * MINUTE + 5_001_000_000, "4m5.001s"),
            (HOUR, "1h0m0s"),
            (5 * HOUR + 6 * MINUTE + 7_001_000_000, "5h6m7.001s"),
            (8 * HOUR + MINUTE + 1, "8h1m0.000000001s"),
            (MAX_NANOS, "2562047h47m16.854775807s"),
        ];
        for (nanos, text) in cases {
            assert_eq!(format(Duration::from_nanos(*nanos)), *text, "{nanos}");
        }
    }

    #[test]
    fn formatted_durations_parse_back_to_themselves() {
        for text in [
            "1m0s",
            "10m0s",
            "1h30m0s",
            "500ms",
            "35s",
            "1.5\u{b5}s",
            "2h0m0.5s",
        ] {
            let parsed: GoDuration = text.parse().expect("valid Go duration");
            assert_eq!(parsed.to_string(), text);
        }
    }
}
