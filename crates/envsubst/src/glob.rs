//! Shell patterns for `#`, `##`, `%` and `%%`: Go's `path.Match` syntax
//! (`*`, `?`, `[...]`, `\` escapes) as drone/envsubst adapted it, where `/`
//! is an ordinary character (`${f##*/}` strips a whole directory path).
//! Matching works on bytes; `?` and classes take one Go-decoded character.

use crate::scan::decode;

/// A malformed pattern; the operators then leave the value unchanged.
#[derive(Debug, PartialEq, Eq)]
pub struct BadPattern;

/// Whether `pattern` matches all of `name`.
pub fn matches(mut pattern: &[u8], mut name: &[u8]) -> Result<bool, BadPattern> {
    'pattern: while !pattern.is_empty() {
        let (star, chunk, rest) = split_chunk(pattern);
        pattern = rest;
        if star && chunk.is_empty() {
            return Ok(true);
        }
        if let Some(left) = match_chunk(chunk, name)?
            && (left.is_empty() || !pattern.is_empty())
        {
            name = left;
            continue;
        }
        if star {
            for skip in 1..=name.len() {
                let Some(tail) = name.get(skip..) else { break };
                if let Some(left) = match_chunk(chunk, tail)? {
                    if pattern.is_empty() && !left.is_empty() {
                        continue;
                    }
                    name = left;
                    continue 'pattern;
                }
            }
        }
        return Ok(false);
    }
    Ok(name.is_empty())
}

/// Leading stars, then the literal chunk up to the next star outside `[]`.
fn split_chunk(mut pattern: &[u8]) -> (bool, &[u8], &[u8]) {
    let mut star = false;
    while pattern.first() == Some(&b'*') {
        pattern = &pattern[1..];
        star = true;
    }
    let mut in_range = false;
    let mut i = 0;
    while i < pattern.len() {
        match pattern[i] {
            b'\\' if i + 1 < pattern.len() => i += 1,
            b'[' => in_range = true,
            b']' => in_range = false,
            b'*' if !in_range => break,
            _ => {}
        }
        i += 1;
    }
    (star, &pattern[..i], &pattern[i..])
}

/// Matches a star-free chunk at the start of `s`; the rest of `s` on success.
fn match_chunk<'s>(mut chunk: &[u8], mut s: &'s [u8]) -> Result<Option<&'s [u8]>, BadPattern> {
    while let Some(&c) = chunk.first() {
        if s.is_empty() {
            return Ok(None);
        }
        match c {
            b'[' => {
                let (ch, width) = decode(s, 0);
                s = &s[width..];
                chunk = &chunk[1..];
                if chunk.is_empty() {
                    return Err(BadPattern);
                }
                let negated = chunk[0] == b'^';
                if negated {
                    chunk = &chunk[1..];
                }
                let mut matched = false;
                let mut ranges = 0;
                loop {
                    if chunk.first() == Some(&b']') && ranges > 0 {
                        chunk = &chunk[1..];
                        break;
                    }
                    let (lo, rest) = class_char(chunk)?;
                    chunk = rest;
                    let mut hi = lo;
                    if chunk.first() == Some(&b'-') {
                        let (h, rest) = class_char(&chunk[1..])?;
                        hi = h;
                        chunk = rest;
                    }
                    if lo <= ch && ch <= hi {
                        matched = true;
                    }
                    ranges += 1;
                }
                if matched == negated {
                    return Ok(None);
                }
            }
            b'?' => {
                let (_, width) = decode(s, 0);
                s = &s[width..];
                chunk = &chunk[1..];
            }
            _ => {
                let literal = if c == b'\\' {
                    chunk = &chunk[1..];
                    *chunk.first().ok_or(BadPattern)?
                } else {
                    c
                };
                if literal != s[0] {
                    return Ok(None);
                }
                s = &s[1..];
                chunk = &chunk[1..];
            }
        }
    }
    Ok(Some(s))
}

/// One (possibly escaped) character of a `[...]` class; a class that ends
/// right after it is malformed.
fn class_char(chunk: &[u8]) -> Result<(char, &[u8]), BadPattern> {
    let mut chunk = match chunk.first() {
        None | Some(b'-' | b']') => return Err(BadPattern),
        Some(_) => chunk,
    };
    if chunk[0] == b'\\' {
        chunk = &chunk[1..];
        if chunk.is_empty() {
            return Err(BadPattern);
        }
    }
    let (c, width) = decode(chunk, 0);
    if c == char::REPLACEMENT_CHARACTER && width == 1 {
        return Err(BadPattern);
    }
    let rest = &chunk[width..];
    if rest.is_empty() {
        return Err(BadPattern);
    }
    Ok((c, rest))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn m(p: &str, n: &str) -> Result<bool, BadPattern> {
        matches(p.as_bytes(), n.as_bytes())
    }

    #[test]
    fn star_crosses_slashes() {
        assert_eq!(m("*/", "/path/to/"), Ok(true));
        assert_eq!(m("a*", "a/b"), Ok(true));
    }

    #[test]
    fn question_mark_and_classes_take_one_character() {
        assert_eq!(m("a?c", "abc"), Ok(true));
        assert_eq!(m("a?c", "aéc"), Ok(true));
        assert_eq!(m("[a-c]x", "bx"), Ok(true));
        assert_eq!(m("[^a-c]x", "bx"), Ok(false));
        assert_eq!(m("\\*", "*"), Ok(true));
    }

    #[test]
    fn malformed_classes_are_errors() {
        assert_eq!(m("[", "a"), Err(BadPattern));
        assert_eq!(m("[a", "a"), Err(BadPattern));
        assert_eq!(m("\\", "a"), Err(BadPattern));
    }

    #[test]
    fn the_whole_name_must_match() {
        assert_eq!(m("a", "ab"), Ok(false));
        assert_eq!(m("*b", "ab"), Ok(true));
        assert_eq!(m("*b", "abc"), Ok(false));
    }
}
