//! The operators' string functions, on bytes with Go's semantics: lengths
//! and offsets count bytes, case mapping maps one character to one
//! character, and an invalid byte reads as U+FFFD.

use crate::glob;
use crate::scan::decode;

/// Applies the operator `op` (as written) to `value` with evaluated `args`.
pub fn apply(op: &[u8], value: &[u8], args: &[Vec<u8>]) -> Vec<u8> {
    match op {
        b"," => map_first(value, lower),
        b",," => map_all(value, lower),
        b"^" => map_first(value, upper),
        b"^^" => map_all(value, upper),
        b"#" if args.is_empty() => value.len().to_string().into_bytes(),
        b"#" => with_pattern(value, args, |v, p| trim_prefix(v, p, Shortest)),
        b"##" => with_pattern(value, args, |v, p| trim_prefix(v, p, Longest)),
        b"%" => with_pattern(value, args, |v, p| trim_suffix(v, p, Shortest)),
        b"%%" => with_pattern(value, args, |v, p| trim_suffix(v, p, Longest)),
        b":" => substring(value, args),
        b"/#" => replace_prefix(value, args),
        b"/%" => replace_suffix(value, args),
        b"/" => replace_n(value, args, Some(1)),
        b"//" => replace_n(value, args, None),
        // `=`, `:=`, `:-`, `:?`, `:+`, the plain `${v}` and the odd casing
        // mixes all take the value, or the joined arguments when it is empty.
        _ => {
            if value.is_empty() && !args.is_empty() {
                args.concat()
            } else {
                value.to_vec()
            }
        }
    }
}

/// Whether an operator supplies its own fallback, so that strict mode does
/// not refuse an unset variable under it.
pub fn is_default_op(op: &[u8]) -> bool {
    matches!(
        op,
        b"-" | b"+" | b"=" | b"?" | b":-" | b":+" | b":=" | b":?"
    )
}

fn chars(bytes: &[u8]) -> Vec<char> {
    let mut out = Vec::new();
    let mut at = 0;
    while at < bytes.len() {
        let (c, width) = decode(bytes, at);
        out.push(c);
        at += width.max(1);
    }
    out
}

fn encode(cs: impl IntoIterator<Item = char>) -> Vec<u8> {
    cs.into_iter().collect::<String>().into_bytes()
}

/// Go's `unicode.ToLower`: the simple one-to-one mapping. Rust's full
/// mapping differs only where it expands (U+0130 becomes `i` + U+0307).
fn lower(c: char) -> char {
    let mut it = c.to_lowercase();
    match (it.next(), it.next()) {
        (Some(l), None) => l,
        (Some(l), Some(_)) if c == '\u{130}' => l,
        _ => c,
    }
}

/// Go's `unicode.ToUpper`: characters whose uppercase expands (`ß`,
/// ligatures) have no simple mapping and stay as they are.
fn upper(c: char) -> char {
    let mut it = c.to_uppercase();
    match (it.next(), it.next()) {
        (Some(u), None) => u,
        _ => c,
    }
}

fn map_all(value: &[u8], f: fn(char) -> char) -> Vec<u8> {
    if value.is_ascii() {
        return value.iter().map(|b| f(char::from(*b)) as u8).collect();
    }
    encode(chars(value).into_iter().map(f))
}

fn map_first(value: &[u8], f: fn(char) -> char) -> Vec<u8> {
    if value.is_empty() {
        return Vec::new();
    }
    let (c, width) = decode(value, 0);
    let mut out = encode([f(c)]);
    out.extend_from_slice(&value[width..]);
    out
}

fn with_pattern(value: &[u8], args: &[Vec<u8>], f: impl Fn(&[u8], &[u8]) -> Vec<u8>) -> Vec<u8> {
    match args.first() {
        Some(pattern) => f(value, pattern),
        None => value.to_vec(),
    }
}

#[derive(Clone, Copy)]
enum Which {
    Shortest,
    Longest,
}
use Which::{Longest, Shortest};

/// Removes the shortest or longest non-empty prefix matching `pattern`; a
/// malformed pattern leaves the value as it is.
fn trim_prefix(value: &[u8], pattern: &[u8], which: Which) -> Vec<u8> {
    let mut found = None;
    for end in (1..=value.len()).rev() {
        match glob::matches(pattern, &value[..end]) {
            Err(glob::BadPattern) => return value.to_vec(),
            Ok(true) => {
                found = Some(end);
                if let Longest = which {
                    break;
                }
            }
            Ok(false) => {}
        }
    }
    match found {
        Some(end) => value[end..].to_vec(),
        None => value.to_vec(),
    }
}

/// The suffix forms reverse the value and the pattern (character-wise, as
/// Go does, so a `[a-z]` class reverses into a malformed one).
fn trim_suffix(value: &[u8], pattern: &[u8], which: Which) -> Vec<u8> {
    let reversed = reverse(value);
    let trimmed = trim_prefix(&reversed, &reverse(pattern), which);
    reverse(&trimmed)
}

fn reverse(bytes: &[u8]) -> Vec<u8> {
    encode(chars(bytes).into_iter().rev())
}

/// `${v:offset}` and `${v:offset:length}` in bytes; a negative offset counts
/// from the end, a negative length stops that many bytes before the end, and
/// an offset or length that is not an integer returns the value unchanged.
fn substring(value: &[u8], args: &[Vec<u8>]) -> Vec<u8> {
    let len = value.len() as i64;
    let Some(pos) = args.first().and_then(|a| parse_int(a)) else {
        return value.to_vec();
    };
    let pos = if pos < 0 { (len + pos).max(0) } else { pos };
    let rest = |from: i64| -> Vec<u8> {
        if from < len {
            value[from as usize..].to_vec()
        } else {
            Vec::new()
        }
    };
    let Some(length_arg) = args.get(1) else {
        return rest(pos);
    };
    let Some(length) = parse_int(length_arg) else {
        return value.to_vec();
    };
    if length < 0 {
        let end = len + length;
        if end < pos {
            return Vec::new();
        }
        return value[pos as usize..end as usize].to_vec();
    }
    match pos.checked_add(length) {
        Some(end) if end < len => value[pos as usize..end as usize].to_vec(),
        // Go's int would wrap here and its slice expression panic; running
        // past the end takes the rest of the value, as for any long length.
        _ => rest(pos),
    }
}

/// Go's `strconv.Atoi`: optional sign, decimal digits, no spaces.
fn parse_int(bytes: &[u8]) -> Option<i64> {
    std::str::from_utf8(bytes).ok()?.parse().ok()
}

/// Go's `strings.Replace(s, old, new, n)`; an empty `old` matches before
/// every character and at the end.
fn replace(s: &[u8], old: &[u8], new: &[u8], limit: Option<usize>) -> Vec<u8> {
    if old == new || limit == Some(0) {
        return s.to_vec();
    }
    let mut out = Vec::with_capacity(s.len());
    let mut start = 0;
    let mut done = 0;
    while limit.is_none_or(|n| done < n) {
        let at = if old.is_empty() {
            if done > 0 {
                if start >= s.len() {
                    break;
                }
                start + decode(s, start).1.max(1)
            } else {
                start
            }
        } else {
            match find(&s[start..], old) {
                Some(i) => start + i,
                None => break,
            }
        };
        out.extend_from_slice(&s[start..at]);
        out.extend_from_slice(new);
        start = at + old.len();
        done += 1;
    }
    out.extend_from_slice(&s[start.min(s.len())..]);
    out
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

fn replace_n(value: &[u8], args: &[Vec<u8>], limit: Option<usize>) -> Vec<u8> {
    match args {
        [] => value.to_vec(),
        [old] => replace(value, old, b"", limit),
        [old, new, ..] => replace(value, old, new, limit),
    }
}

/// Only with both a pattern and a replacement: `${v/#abc/}` leaves `v` as is.
fn replace_prefix(value: &[u8], args: &[Vec<u8>]) -> Vec<u8> {
    match args {
        [old, new] if value.starts_with(old) => [new.as_slice(), &value[old.len()..]].concat(),
        _ => value.to_vec(),
    }
}

fn replace_suffix(value: &[u8], args: &[Vec<u8>]) -> Vec<u8> {
    match args {
        [old, new] if value.ends_with(old) => {
            [&value[..value.len() - old.len()], new.as_slice()].concat()
        }
        _ => value.to_vec(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sub(v: &str, args: &[&str]) -> String {
        let args: Vec<Vec<u8>> = args.iter().map(|a| a.as_bytes().to_vec()).collect();
        String::from_utf8(substring(v.as_bytes(), &args)).expect("utf8")
    }

    #[test]
    fn substring_follows_fluxs_table() {
        let s = "123456789123456789";
        assert_eq!(sub(s, &["0", "8"]), "12345678");
        assert_eq!(sub(s, &["1", "8"]), "23456789");
        assert_eq!(sub(s, &["9"]), "123456789");
        assert_eq!(sub(s, &["9", "50"]), "123456789");
        assert_eq!(sub(s, &["-3", "2"]), "78");
        assert_eq!(sub(s, &["-300", "3"]), "123");
        assert_eq!(sub("12345678", &["9", "1"]), "");
        assert_eq!(sub("hello world", &["2", "-1"]), "llo worl");
        assert_eq!(sub("hello world", &["0", "-3"]), "hello wo");
        assert_eq!(sub("hello world", &["8", "-8"]), "");
        assert_eq!(sub("hello world", &["-4", "-1"]), "orl");
    }

    #[test]
    fn substring_with_a_non_integer_returns_the_value() {
        assert_eq!(sub("hello", &["x"]), "hello");
        assert_eq!(sub("hello", &["1", " 2"]), "hello");
        assert_eq!(sub("hello", &["+1", "2"]), "el");
    }

    #[test]
    fn substring_never_overflows() {
        assert_eq!(sub("hello", &["1", &i64::MAX.to_string()]), "ello");
        assert_eq!(sub("hello", &[&i64::MIN.to_string()]), "hello");
    }

    #[test]
    fn replace_with_an_empty_pattern_inserts_between_characters() {
        assert_eq!(replace(b"abc", b"", b"-", None), b"-a-b-c-");
        assert_eq!(
            replace("aé".as_bytes(), b"", b"-", None),
            "-a-é-".as_bytes()
        );
        assert_eq!(replace(b"abc", b"", b"-", Some(1)), b"-abc");
    }

    #[test]
    fn case_mapping_is_one_character_for_one() {
        assert_eq!(map_all("straße".as_bytes(), upper), "STRAßE".as_bytes());
        assert_eq!(map_all("İ".as_bytes(), lower), b"i");
        assert_eq!(map_first(b"", upper), b"");
    }

    #[test]
    fn length_counts_bytes() {
        assert_eq!(apply(b"#", "é".as_bytes(), &[]), b"2");
    }
}
