//! Tags as numbers, the way Go's `strconv.ParseFloat(tag, 64)` reads them, since that decides
//! which tags Flux's numerical policy accepts: decimal with optional fraction and exponent,
//! `inf`/`infinity`/`nan` in any case, hexadecimal mantissas with a mandatory `p` exponent
//! (underscores allowed only there), and no overflow to infinity.

/// `tag` as Go's `ParseFloat` reads it; `None` where Go returns an error.
pub fn parse_go_float(tag: &str) -> Option<f64> {
    let (negative, body) = match tag.as_bytes().first()? {
        b'-' => (true, &tag[1..]),
        b'+' => (false, &tag[1..]),
        _ => (false, tag),
    };
    let lower = body.to_ascii_lowercase();
    if lower == "inf" || lower == "infinity" {
        return Some(if negative {
            f64::NEG_INFINITY
        } else {
            f64::INFINITY
        });
    }
    if lower == "nan" {
        // Go accepts NaN only without a sign.
        return (body.len() == tag.len()).then_some(f64::NAN);
    }
    let magnitude = if let Some(hex) = lower.strip_prefix("0x") {
        parse_hex(hex)?
    } else {
        parse_decimal(body)?
    };
    Some(if negative { -magnitude } else { magnitude })
}

fn parse_decimal(body: &str) -> Option<f64> {
    // Rust's grammar is Go's for decimals, except that Rust also takes the special words
    // (handled above) and overflows to infinity where Go reports a range error.
    if body.is_empty()
        || body.starts_with(['+', '-'])
        || !body
            .bytes()
            .all(|b| b.is_ascii_digit() || matches!(b, b'.' | b'e' | b'E' | b'+' | b'-'))
    {
        return None;
    }
    let value: f64 = body.parse().ok()?;
    value.is_finite().then_some(value)
}

fn parse_hex(hex: &str) -> Option<f64> {
    let (mantissa, exponent) = hex.split_once('p')?;
    if !underscores_ok(mantissa) {
        return None;
    }
    let mantissa: String = mantissa.chars().filter(|c| *c != '_').collect();
    let exponent: i32 = {
        let digits = exponent.strip_prefix(['+', '-']).unwrap_or(exponent);
        if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        exponent.parse().ok()?
    };
    let (whole, fraction) = mantissa.split_once('.').unwrap_or((&mantissa, ""));
    if whole.is_empty() && fraction.is_empty() {
        return None;
    }
    let mut value = 0f64;
    for c in whole.chars().chain(fraction.chars()) {
        value = value * 16.0 + f64::from(c.to_digit(16)?);
    }
    let shift = exponent.checked_sub(i32::try_from(fraction.len()).ok()?.checked_mul(4)?)?;
    let value = value * 2f64.powi(shift);
    value.is_finite().then_some(value)
}

/// Go's rule for underscores after a base prefix: each one sits between two digits (or right
/// after the prefix).
fn underscores_ok(mantissa: &str) -> bool {
    let bytes = mantissa.as_bytes();
    bytes.iter().enumerate().all(|(i, b)| {
        *b != b'_'
            || (bytes.get(i + 1).is_some_and(u8::is_ascii_hexdigit)
                && (i == 0 || bytes[i - 1].is_ascii_hexdigit()))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn integers_fractions_and_exponents_parse() {
        assert_eq!(parse_go_float("42"), Some(42.0));
        assert_eq!(parse_go_float("1.5"), Some(1.5));
        assert_eq!(parse_go_float(".5"), Some(0.5));
        assert_eq!(parse_go_float("5."), Some(5.0));
        assert_eq!(parse_go_float("1e3"), Some(1000.0));
        assert_eq!(parse_go_float("1E-2"), Some(0.01));
        assert_eq!(parse_go_float("-3"), Some(-3.0));
        assert_eq!(parse_go_float("007"), Some(7.0));
    }

    #[test]
    fn words_and_versions_do_not_parse() {
        for tag in [
            "", "latest", "1.2.3", "v1", "1_000", "1e", "e5", ".", "-", "1-2", "0x10", "12abc",
            "--5",
        ] {
            assert_eq!(parse_go_float(tag), None, "{tag}");
        }
    }

    #[test]
    fn special_words_parse_in_any_case_but_nan_takes_no_sign() {
        assert_eq!(parse_go_float("Inf"), Some(f64::INFINITY));
        assert_eq!(parse_go_float("-infinity"), Some(f64::NEG_INFINITY));
        assert!(parse_go_float("NaN").is_some_and(f64::is_nan));
        assert_eq!(parse_go_float("-nan"), None);
        assert_eq!(parse_go_float("infin"), None);
    }

    #[test]
    fn an_overflowing_number_is_an_error_as_in_go() {
        assert_eq!(parse_go_float("1e400"), None);
        assert_eq!(parse_go_float("1e-400"), Some(0.0));
    }

    #[test]
    fn hexadecimal_needs_a_p_exponent_and_takes_underscores_between_digits() {
        assert_eq!(parse_go_float("0x1p4"), Some(16.0));
        assert_eq!(parse_go_float("0x1.8p1"), Some(3.0));
        assert_eq!(parse_go_float("0X_1_0p0"), Some(16.0));
        assert_eq!(parse_go_float("0x1__0p0"), None);
        assert_eq!(parse_go_float("0x10_p0"), None);
        assert_eq!(parse_go_float("0xp1"), None);
    }
}
