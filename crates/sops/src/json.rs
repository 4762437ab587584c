//! JSON in and out the way sops's JSON store handles it: object key order
//! kept, integers that fit in 64 bits as ints and every other number as a
//! float, output re-indented with tabs and escaped as Go's encoder escapes.

use crate::error::SopsError;
use crate::tree::{Branch, Item, Key, Value, go_format_f};

const MAX_DEPTH: usize = 200;

fn err(message: impl Into<String>) -> SopsError {
    SopsError::parse("JSON", message)
}

/// Parses a JSON document whose top level is an object.
pub(crate) fn parse(text: &str) -> Result<Branch, SopsError> {
    let mut p = JsonParser {
        s: text.as_bytes(),
        i: 0,
    };
    p.ws();
    if p.peek() != Some(b'{') {
        return Err(err(
            "SOPS only supports JSON files with a top-level object (starting with '{')",
        ));
    }
    let Value::Map(branch) = p.value(0)? else {
        return Err(err("expected an object"));
    };
    p.ws();
    if p.i != p.s.len() {
        return Err(err(format!(
            "unexpected data after the top-level object at byte {}",
            p.i
        )));
    }
    Ok(branch)
}

struct JsonParser<'a> {
    s: &'a [u8],
    i: usize,
}

impl JsonParser<'_> {
    fn peek(&self) -> Option<u8> {
        self.s.get(self.i).copied()
    }

    fn ws(&mut self) {
        while matches!(self.peek(), Some(b' ' | b'\t' | b'\n' | b'\r')) {
            self.i += 1;
        }
    }

    fn expect(&mut self, c: u8) -> Result<(), SopsError> {
        self.ws();
        if self.peek() == Some(c) {
            self.i += 1;
            Ok(())
        } else {
            Err(err(format!("expected {:?} at byte {}", c as char, self.i)))
        }
    }

    fn value(&mut self, depth: usize) -> Result<Value, SopsError> {
        if depth > MAX_DEPTH {
            return Err(err(format!("values nest deeper than {MAX_DEPTH} levels")));
        }
        self.ws();
        match self.peek() {
            Some(b'{') => {
                self.i += 1;
                let mut branch = Branch::new();
                self.ws();
                if self.peek() == Some(b'}') {
                    self.i += 1;
                    return Ok(Value::Map(branch));
                }
                loop {
                    self.ws();
                    let key = self.string()?;
                    self.expect(b':')?;
                    let v = self.value(depth + 1)?;
                    branch.push(Item::new(key, v));
                    self.ws();
                    match self.peek() {
                        Some(b',') => self.i += 1,
                        Some(b'}') => {
                            self.i += 1;
                            return Ok(Value::Map(branch));
                        }
                        _ => return Err(err(format!("expected ',' or '}}' at byte {}", self.i))),
                    }
                }
            }
            Some(b'[') => {
                self.i += 1;
                let mut items = Vec::new();
                self.ws();
                if self.peek() == Some(b']') {
                    self.i += 1;
                    return Ok(Value::Seq(items));
                }
                loop {
                    items.push(self.value(depth + 1)?);
                    self.ws();
                    match self.peek() {
                        Some(b',') => self.i += 1,
                        Some(b']') => {
                            self.i += 1;
                            return Ok(Value::Seq(items));
                        }
                        _ => return Err(err(format!("expected ',' or ']' at byte {}", self.i))),
                    }
                }
            }
            Some(b'"') => Ok(Value::Str(self.string()?)),
            Some(b't') => self.word("true", Value::Bool(true)),
            Some(b'f') => self.word("false", Value::Bool(false)),
            Some(b'n') => self.word("null", Value::Null),
            Some(b'-' | b'0'..=b'9') => self.number(),
            _ => Err(err(format!("unexpected character at byte {}", self.i))),
        }
    }

    fn word(&mut self, w: &str, v: Value) -> Result<Value, SopsError> {
        if self.s[self.i..].starts_with(w.as_bytes()) {
            self.i += w.len();
            Ok(v)
        } else {
            Err(err(format!("invalid literal at byte {}", self.i)))
        }
    }

    fn number(&mut self) -> Result<Value, SopsError> {
        let start = self.i;
        while matches!(
            self.peek(),
            Some(b'-' | b'+' | b'.' | b'e' | b'E' | b'0'..=b'9')
        ) {
            self.i += 1;
        }
        let text =
            std::str::from_utf8(&self.s[start..self.i]).map_err(|_| err("invalid number"))?;
        if let Ok(i) = text.parse::<i64>() {
            return Ok(Value::Int(i));
        }
        text.parse::<f64>()
            .map(Value::Float)
            .map_err(|_| err(format!("invalid number at byte {start}")))
    }

    fn string(&mut self) -> Result<String, SopsError> {
        if self.peek() != Some(b'"') {
            return Err(err(format!("expected a string at byte {}", self.i)));
        }
        self.i += 1;
        let mut out: Vec<u8> = Vec::new();
        loop {
            let Some(c) = self.peek() else {
                return Err(err("unterminated string"));
            };
            self.i += 1;
            match c {
                b'"' => break,
                b'\\' => {
                    let e = self.peek().ok_or_else(|| err("unterminated escape"))?;
                    self.i += 1;
                    let ch = match e {
                        b'"' => '"',
                        b'\\' => '\\',
                        b'/' => '/',
                        b'b' => '\u{8}',
                        b'f' => '\u{c}',
                        b'n' => '\n',
                        b'r' => '\r',
                        b't' => '\t',
                        b'u' => self.unicode_escape()?,
                        _ => return Err(err(format!("invalid escape at byte {}", self.i))),
                    };
                    let mut buf = [0u8; 4];
                    out.extend_from_slice(ch.encode_utf8(&mut buf).as_bytes());
                }
                c if c < 0x20 => {
                    return Err(err(format!(
                        "control character in string at byte {}",
                        self.i
                    )));
                }
                c => out.push(c),
            }
        }
        Ok(String::from_utf8_lossy(&out).into_owned())
    }

    fn hex4(&mut self) -> Result<u32, SopsError> {
        let h = self
            .s
            .get(self.i..self.i + 4)
            .ok_or_else(|| err("short \\u escape"))?;
        let h = std::str::from_utf8(h).map_err(|_| err("invalid \\u escape"))?;
        let n = u32::from_str_radix(h, 16).map_err(|_| err("invalid \\u escape"))?;
        self.i += 4;
        Ok(n)
    }

    fn unicode_escape(&mut self) -> Result<char, SopsError> {
        let hi = self.hex4()?;
        if (0xD800..0xDC00).contains(&hi) && self.s[self.i..].starts_with(b"\\u") {
            let save = self.i;
            self.i += 2;
            let lo = self.hex4()?;
            if (0xDC00..0xE000).contains(&lo) {
                let c = 0x10000 + ((hi - 0xD800) << 10) + (lo - 0xDC00);
                return Ok(char::from_u32(c).unwrap_or('\u{fffd}'));
            }
            self.i = save;
        }
        Ok(char::from_u32(hi).unwrap_or('\u{fffd}'))
    }
}

/// The tree as sops prints JSON: tab-indented, comments dropped, a final newline.
pub(crate) fn emit(branch: &Branch) -> Result<String, SopsError> {
    let mut out = String::new();
    map(&mut out, branch, 0)?;
    out.push('\n');
    Ok(out)
}

fn indent(out: &mut String, depth: usize) {
    out.push('\n');
    out.extend(std::iter::repeat_n('\t', depth));
}

fn map(out: &mut String, branch: &Branch, depth: usize) -> Result<(), SopsError> {
    let entries: Vec<(&String, &Value)> = branch
        .iter()
        .filter_map(|i| match &i.key {
            Key::Str(k) => Some((k, &i.value)),
            Key::Comment(_) => None,
        })
        .collect();
    if entries.is_empty() {
        out.push_str("{}");
        return Ok(());
    }
    out.push('{');
    for (n, (k, v)) in entries.iter().enumerate() {
        if n > 0 {
            out.push(',');
        }
        indent(out, depth + 1);
        string(out, k);
        out.push_str(": ");
        value(out, v, depth + 1)?;
    }
    indent(out, depth);
    out.push('}');
    Ok(())
}

fn value(out: &mut String, v: &Value, depth: usize) -> Result<(), SopsError> {
    match v {
        Value::Map(b) => map(out, b, depth)?,
        Value::Seq(items) => {
            let items: Vec<&Value> = items
                .iter()
                .filter(|i| !matches!(i, Value::Comment(_)))
                .collect();
            if items.is_empty() {
                out.push_str("[]");
                return Ok(());
            }
            out.push('[');
            for (n, item) in items.iter().enumerate() {
                if n > 0 {
                    out.push(',');
                }
                indent(out, depth + 1);
                value(out, item, depth + 1)?;
            }
            indent(out, depth);
            out.push(']');
        }
        Value::Null | Value::Comment(_) => out.push_str("null"),
        Value::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        Value::Int(i) => out.push_str(&i.to_string()),
        Value::Float(f) => out.push_str(&go_json_float(*f)?),
        Value::Str(s) | Value::Time(s) => string(out, s),
    }
    Ok(())
}

/// Go's encoding/json float format: no exponent between 1e-6 and 1e21.
fn go_json_float(f: f64) -> Result<String, SopsError> {
    if !f.is_finite() {
        return Err(SopsError::Emit {
            format: "JSON",
            message: format!("json: unsupported value: {}", go_format_f(f)),
        });
    }
    let abs = f.abs();
    if abs != 0.0 && !(1e-6..1e21).contains(&abs) {
        let s = format!("{f:e}");
        let (m, e) = s.split_once('e').unwrap_or((&s, "0"));
        let e: i32 = e.parse().unwrap_or(0);
        let sign = if e < 0 { '-' } else { '+' };
        // Go writes at least two exponent digits, then trims `e-09` to `e-9`.
        let exp = if e < 0 {
            format!("{}", e.abs())
        } else {
            format!("{:02}", e)
        };
        return Ok(format!("{m}e{sign}{exp}"));
    }
    Ok(go_format_f(f))
}

/// A JSON string as Go's `json.Marshal` writes it, HTML characters escaped.
fn string(out: &mut String, s: &str) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\u{8}' => out.push_str("\\b"),
            '\u{c}' => out.push_str("\\f"),
            '<' | '>' | '&' | '\u{2028}' | '\u{2029}' => {
                out.push_str(&format!("\\u{:04x}", c as u32))
            }
            c if (c as u32) < 0x20 => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_keep_go_types_and_print_back_as_go_prints_them() {
        let b = parse(r#"{"i": 1, "f": 1.0, "big": 1e21, "s": "<a&b>"}"#).expect("parse");
        assert_eq!(b[0].value, Value::Int(1));
        assert_eq!(b[1].value, Value::Float(1.0));
        let out = emit(&b).expect("emit");
        assert_eq!(
            out,
            "{\n\t\"i\": 1,\n\t\"f\": 1,\n\t\"big\": 1e+21,\n\t\"s\": \"\\u003ca\\u0026b\\u003e\"\n}\n"
        );
    }
}
