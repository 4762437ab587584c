//! Literals inside actions: Go's string unquoting and escapes, and number
//! constants with Go's bases and overflow rules.

use crate::lex::ItemType;
use crate::node::Number;

/// Go's strconv.Unquote for the literal forms a template can hold.
pub fn unquote(s: &str) -> Result<String, String> {
    if let Some(raw) = s.strip_prefix('`').and_then(|r| r.strip_suffix('`')) {
        return Ok(raw.replace('\r', ""));
    }
    let inner = s
        .strip_prefix('"')
        .and_then(|r| r.strip_suffix('"'))
        .ok_or_else(|| "invalid syntax".to_string())?;
    unescape(inner, '"').ok_or_else(|| "invalid syntax".to_string())
}

/// Go escape sequences inside a quoted literal.
pub fn unescape(inner: &str, quote: char) -> Option<String> {
    let mut out = String::new();
    let mut bytes: Vec<u8> = Vec::new();
    let mut chars = inner.chars().peekable();
    let flush = |bytes: &mut Vec<u8>, out: &mut String| {
        if !bytes.is_empty() {
            out.push_str(&String::from_utf8_lossy(bytes));
            bytes.clear();
        }
    };
    while let Some(c) = chars.next() {
        if c == quote && quote != '\'' {
            return None;
        }
        if c != '\\' {
            flush(&mut bytes, &mut out);
            out.push(c);
            continue;
        }
        let e = chars.next()?;
        let simple = match e {
            'a' => Some('\u{7}'),
            'b' => Some('\u{8}'),
            'f' => Some('\u{c}'),
            'n' => Some('\n'),
            'r' => Some('\r'),
            't' => Some('\t'),
            'v' => Some('\u{b}'),
            '\\' => Some('\\'),
            '"' if quote == '"' => Some('"'),
            '\'' if quote == '\'' => Some('\''),
            _ => None,
        };
        if let Some(s) = simple {
            flush(&mut bytes, &mut out);
            out.push(s);
            continue;
        }
        let take = |n: usize, radix: u32, chars: &mut std::iter::Peekable<std::str::Chars>| {
            let mut v: u32 = 0;
            for _ in 0..n {
                let d = chars.next()?.to_digit(radix)?;
                v = v * radix + d;
            }
            Some(v)
        };
        match e {
            'x' => bytes.push(u8::try_from(take(2, 16, &mut chars)?).ok()?),
            '0'..='7' => {
                let rest = take(2, 8, &mut chars)?;
                let v = e.to_digit(8)? * 64 + rest;
                bytes.push(u8::try_from(v).ok()?);
            }
            'u' => {
                flush(&mut bytes, &mut out);
                out.push(char::from_u32(take(4, 16, &mut chars)?)?);
            }
            'U' => {
                flush(&mut bytes, &mut out);
                out.push(char::from_u32(take(8, 16, &mut chars)?)?);
            }
            _ => return None,
        }
    }
    flush(&mut bytes, &mut out);
    Some(out)
}

/// A number literal as Go's parse package reads it.
pub(crate) fn parse_number(text: &str, typ: ItemType) -> Result<Number, String> {
    let bad = || format!("illegal number syntax: {}", crate::gofmt::quote(text));
    if typ == ItemType::CharConstant {
        let inner = text
            .strip_prefix('\'')
            .and_then(|t| t.strip_suffix('\''))
            .ok_or_else(|| "invalid syntax".to_string())?;
        let s = unescape(inner, '\'').ok_or_else(|| "invalid syntax".to_string())?;
        let mut cs = s.chars();
        let c = cs.next().ok_or_else(|| "invalid syntax".to_string())?;
        if cs.next().is_some() {
            return Err("invalid syntax".into());
        }
        return Ok(Number::Char(c as i64));
    }
    if typ == ItemType::Complex || text.ends_with('i') {
        return Ok(Number::Complex);
    }
    let clean: String = text.chars().filter(|c| *c != '_').collect();
    let (neg, body) = match clean.strip_prefix('-') {
        Some(b) => (true, b),
        None => (false, clean.strip_prefix('+').unwrap_or(&clean)),
    };
    let int = parse_go_int(body);
    if let Some(u) = int {
        let v = if neg { -(u as i128) } else { u as i128 };
        return match i64::try_from(v) {
            Ok(i) => Ok(Number::Int(i)),
            Err(_) if !neg && u <= u64::MAX as u128 => Ok(Number::Overflow),
            Err(_) => Err(format!("integer overflow: {}", crate::gofmt::quote(text))),
        };
    }
    let lower = body.to_ascii_lowercase();
    if lower.starts_with("0x") {
        return Err(bad());
    }
    match body.parse::<f64>() {
        Ok(f) if f.is_finite() => Ok(Number::Float(if neg { -f } else { f })),
        _ => Err(bad()),
    }
}

/// Go's base prefixes (0x, 0b, 0o, leading 0): the digits and their radix.
pub(crate) fn split_radix(body: &str) -> (String, u32) {
    let lower = body.to_ascii_lowercase();
    if let Some(h) = lower.strip_prefix("0x") {
        (h.to_string(), 16)
    } else if let Some(b) = lower.strip_prefix("0b") {
        (b.to_string(), 2)
    } else if let Some(o) = lower.strip_prefix("0o") {
        (o.to_string(), 8)
    } else if lower.len() > 1 && lower.starts_with('0') {
        (lower[1..].to_string(), 8)
    } else {
        (lower, 10)
    }
}

fn parse_go_int(body: &str) -> Option<u128> {
    let (digits, radix) = split_radix(body);
    if digits.is_empty() {
        return None;
    }
    match u128::from_str_radix(&digits, radix) {
        Ok(v) => Some(v),
        // Too long even for u128: still an integer, and an overflowing one.
        Err(_) if digits.chars().all(|c| c.is_digit(radix)) => Some(u128::MAX),
        Err(_) => None,
    }
}
