//! Sprig's string functions.

use std::sync::Arc;

use super::conv::{strslice, strval};
use crate::funcs::{FuncMap, Ty};
use crate::gofmt::quote;
use crate::value::Value;

fn s(v: &Value) -> String {
    v.as_str().unwrap_or_default().to_string()
}

fn int(v: &Value) -> i64 {
    v.as_int().unwrap_or(0)
}

fn string_list(v: Vec<String>) -> Value {
    Value::StrList(Arc::new(v))
}

/// Go's strings.Title: the first letter of every word upper-cased.
pub fn title(text: &str) -> String {
    map_word_starts(text, |c, out| out.extend(c.to_uppercase()))
}

fn untitle(text: &str) -> String {
    map_word_starts(text, |c, out| out.extend(c.to_lowercase()))
}

fn map_word_starts(text: &str, first: impl Fn(char, &mut String)) -> String {
    let mut out = String::with_capacity(text.len());
    let mut prev_sep = true;
    for c in text.chars() {
        if prev_sep {
            first(c, &mut out);
        } else {
            out.push(c);
        }
        prev_sep = is_separator(c);
    }
    out
}

fn is_separator(c: char) -> bool {
    if c.is_ascii() {
        return !(c.is_ascii_alphanumeric() || c == '_');
    }
    if c.is_alphanumeric() {
        return false;
    }
    c.is_whitespace()
}

/// goutils.DeleteWhiteSpace: it walks bytes, not characters, so any
/// non-ASCII text comes out as its bytes read as Latin-1.
fn delete_white_space(text: &str) -> String {
    text.bytes()
        .filter(|b| !matches!(b, b'\t' | b'\n' | 0x0b | 0x0c | b'\r' | b' ' | 0x85 | 0xa0))
        .map(char::from)
        .collect()
}

fn go_trim_space(s: &str) -> &str {
    s.trim_matches(|c: char| c.is_whitespace())
}

pub fn indent(n: i64, v: &str) -> Result<String, String> {
    if n < 0 {
        return Err("strings: negative Repeat count".into());
    }
    let pad = " ".repeat(n as usize);
    Ok(format!("{pad}{}", v.replace('\n', &format!("\n{pad}"))))
}

fn trunc(c: i64, s: &str) -> Result<String, String> {
    let len = s.len() as i64;
    let b = s.as_bytes();
    if c < 0 && len + c > 0 {
        return Ok(String::from_utf8_lossy(&b[(len + c) as usize..]).into_owned());
    }
    if c >= 0 && len > c {
        return Ok(String::from_utf8_lossy(&b[..c as usize]).into_owned());
    }
    Ok(s.to_string())
}

fn substr(start: i64, end: i64, s: &str) -> Result<String, String> {
    let b = s.as_bytes();
    let len = b.len() as i64;
    let slice = |a: i64, z: i64| -> Result<String, String> {
        if a < 0 || z < a || z > len {
            return Err(format!(
                "runtime error: slice bounds out of range [{a}:{z}]"
            ));
        }
        Ok(String::from_utf8_lossy(&b[a as usize..z as usize]).into_owned())
    };
    if start < 0 {
        return slice(0, end);
    }
    if end < 0 || end > len {
        if start > len {
            return Err(format!(
                "runtime error: slice bounds out of range [{start}:{len}]"
            ));
        }
        return slice(start, len);
    }
    slice(start, end)
}

/// Sprig's wrap (Masterminds/goutils WrapCustom with "\n" and no long-word breaking).
fn wrap(width: i64, text: &str) -> String {
    let width = width.max(1) as usize;
    let mut out = String::new();
    for (li, line) in text.split('\n').enumerate() {
        if li > 0 {
            out.push('\n');
        }
        let mut cur = String::new();
        for word in line.split(' ').filter(|w| !w.is_empty()) {
            if !cur.is_empty() && cur.chars().count() + 1 + word.chars().count() > width {
                out.push_str(&cur);
                out.push('\n');
                cur.clear();
            }
            if !cur.is_empty() {
                cur.push(' ');
            }
            cur.push_str(word);
        }
        out.push_str(&cur);
    }
    out
}

fn abbrev(width: i64, s: &str) -> String {
    if width < 4 {
        return s.to_string();
    }
    let n = s.chars().count() as i64;
    if n <= width {
        return s.to_string();
    }
    let keep: String = s.chars().take((width - 3) as usize).collect();
    format!("{keep}...")
}

fn words(s: &str) -> Vec<String> {
    // Split on case changes, digits and separators, as xstrings does.
    let mut out = Vec::new();
    let mut cur = String::new();
    let chars: Vec<char> = s.chars().collect();
    for (i, &c) in chars.iter().enumerate() {
        if !c.is_alphanumeric() {
            if !cur.is_empty() {
                out.push(std::mem::take(&mut cur));
            }
            continue;
        }
        if c.is_uppercase() && !cur.is_empty() {
            let prev = chars[i - 1];
            let next_lower = chars.get(i + 1).is_some_and(|n| n.is_lowercase());
            if prev.is_lowercase() || prev.is_ascii_digit() || (prev.is_uppercase() && next_lower) {
                out.push(std::mem::take(&mut cur));
            }
        }
        cur.push(c);
    }
    if !cur.is_empty() {
        out.push(cur);
    }
    out
}

/// Lower-cased words joined by `sep` (snakecase, kebabcase).
fn joined_lower(s: &str, sep: &str) -> String {
    words(s)
        .iter()
        .map(|w| w.to_lowercase())
        .collect::<Vec<_>>()
        .join(sep)
}

fn camelcase(s: &str) -> String {
    // xstrings.ToCamelCase: words separated by '_' (and spaces) are joined,
    // each capitalised.
    let mut out = String::new();
    for part in s.split(['_', ' ', '-']).filter(|p| !p.is_empty()) {
        let mut cs = part.chars();
        if let Some(f) = cs.next() {
            out.extend(f.to_uppercase());
            out.push_str(cs.as_str());
        }
    }
    out
}

fn swapcase(s: &str) -> String {
    s.chars()
        .flat_map(|c| {
            if c.is_uppercase() {
                c.to_lowercase().collect::<Vec<_>>()
            } else if c.is_lowercase() {
                c.to_uppercase().collect()
            } else {
                vec![c]
            }
        })
        .collect()
}

fn plural(one: &str, many: &str, n: i64) -> String {
    if n == 1 {
        one.to_string()
    } else {
        many.to_string()
    }
}

pub fn register(m: &mut FuncMap) {
    m.add("upper", &[Ty::Str], None, |a| {
        Ok(Value::str(s(&a[0]).to_uppercase()))
    });
    m.add("lower", &[Ty::Str], None, |a| {
        Ok(Value::str(s(&a[0]).to_lowercase()))
    });
    m.add("title", &[Ty::Str], None, |a| {
        Ok(Value::str(title(&s(&a[0]))))
    });
    m.add("untitle", &[Ty::Str], None, |a| {
        Ok(Value::str(untitle(&s(&a[0]))))
    });
    m.add("swapcase", &[Ty::Str], None, |a| {
        Ok(Value::str(swapcase(&s(&a[0]))))
    });
    m.add("trim", &[Ty::Str], None, |a| {
        Ok(Value::str(go_trim_space(&s(&a[0]))))
    });
    m.add("trimAll", &[Ty::Str, Ty::Str], None, |a| {
        let cut: Vec<char> = s(&a[0]).chars().collect();
        Ok(Value::str(s(&a[1]).trim_matches(cut.as_slice())))
    });
    m.add("trimSuffix", &[Ty::Str, Ty::Str], None, |a| {
        let (suf, v) = (s(&a[0]), s(&a[1]));
        Ok(Value::str(v.strip_suffix(suf.as_str()).unwrap_or(&v)))
    });
    m.add("trimPrefix", &[Ty::Str, Ty::Str], None, |a| {
        let (pre, v) = (s(&a[0]), s(&a[1]));
        Ok(Value::str(v.strip_prefix(pre.as_str()).unwrap_or(&v)))
    });
    m.add("nospace", &[Ty::Str], None, |a| {
        Ok(Value::str(delete_white_space(&s(&a[0]))))
    });
    m.add("trunc", &[Ty::Int, Ty::Str], None, |a| {
        trunc(int(&a[0]), &s(&a[1])).map(Value::str)
    });
    m.add("substr", &[Ty::Int, Ty::Int, Ty::Str], None, |a| {
        substr(int(&a[0]), int(&a[1]), &s(&a[2])).map(Value::str)
    });
    m.add("abbrev", &[Ty::Int, Ty::Str], None, |a| {
        Ok(Value::str(abbrev(int(&a[0]), &s(&a[1]))))
    });
    m.add("abbrevboth", &[Ty::Int, Ty::Int, Ty::Str], None, |a| {
        let (l, w, t) = (int(&a[0]), int(&a[1]), s(&a[2]));
        let t: String = if l > 0 && (l as usize) < t.chars().count() {
            format!("...{}", t.chars().skip(l as usize).collect::<String>())
        } else {
            t
        };
        Ok(Value::str(abbrev(w, &t)))
    });
    m.add("contains", &[Ty::Str, Ty::Str], None, |a| {
        Ok(Value::Bool(s(&a[1]).contains(&s(&a[0]))))
    });
    m.add("hasPrefix", &[Ty::Str, Ty::Str], None, |a| {
        Ok(Value::Bool(s(&a[1]).starts_with(&s(&a[0]))))
    });
    m.add("hasSuffix", &[Ty::Str, Ty::Str], None, |a| {
        Ok(Value::Bool(s(&a[1]).ends_with(&s(&a[0]))))
    });
    m.add("replace", &[Ty::Str, Ty::Str, Ty::Str], None, |a| {
        let (o, n, src) = (s(&a[0]), s(&a[1]), s(&a[2]));
        Ok(Value::str(go_replace_all(&src, &o, &n)))
    });
    m.add("repeat", &[Ty::Int, Ty::Str], None, |a| {
        let n = int(&a[0]);
        if n < 0 {
            return Err("strings: negative Repeat count".into());
        }
        let t = s(&a[1]);
        if t.len().saturating_mul(n as usize) > 64 << 20 {
            return Err("strings: Repeat output length overflow".into());
        }
        Ok(Value::str(t.repeat(n as usize)))
    });
    m.add("indent", &[Ty::Int, Ty::Str], None, |a| {
        indent(int(&a[0]), &s(&a[1])).map(Value::str)
    });
    m.add("nindent", &[Ty::Int, Ty::Str], None, |a| {
        indent(int(&a[0]), &s(&a[1])).map(|t| Value::str(format!("\n{t}")))
    });
    m.add("wrap", &[Ty::Int, Ty::Str], None, |a| {
        Ok(Value::str(wrap(int(&a[0]), &s(&a[1]))))
    });
    m.add("wrapWith", &[Ty::Int, Ty::Str, Ty::Str], None, |a| {
        Ok(Value::str(
            wrap(int(&a[0]), &s(&a[2])).replace('\n', &s(&a[1])),
        ))
    });
    m.add("quote", &[], Some(Ty::Any), |a| {
        let parts: Vec<String> = a
            .iter()
            .filter(|v| !v.is_nil())
            .map(|v| quote(&strval(v)))
            .collect();
        Ok(Value::str(parts.join(" ")))
    });
    m.add("squote", &[], Some(Ty::Any), |a| {
        let parts: Vec<String> = a
            .iter()
            .filter(|v| !v.is_nil())
            .map(|v| format!("'{}'", strval(v)))
            .collect();
        Ok(Value::str(parts.join(" ")))
    });
    m.add("cat", &[], Some(Ty::Any), |a| {
        let parts: Vec<String> = a.iter().filter(|v| !v.is_nil()).map(strval).collect();
        Ok(Value::str(parts.join(" ")))
    });
    m.add("toString", &[Ty::Any], None, |a| {
        Ok(Value::str(strval(&a[0])))
    });
    m.add("toStrings", &[Ty::Any], None, |a| {
        Ok(string_list(strslice(&a[0])))
    });
    m.add("join", &[Ty::Str, Ty::Any], None, |a| {
        Ok(Value::str(strslice(&a[1]).join(&s(&a[0]))))
    });
    m.add("split", &[Ty::Str, Ty::Str], None, |a| {
        Ok(numbered(go_split(&s(&a[1]), &s(&a[0]), -1)))
    });
    m.add("splitn", &[Ty::Str, Ty::Int, Ty::Str], None, |a| {
        Ok(numbered(go_split(&s(&a[2]), &s(&a[0]), int(&a[1]))))
    });
    m.add("splitList", &[Ty::Str, Ty::Str], None, |a| {
        Ok(string_list(go_split(&s(&a[1]), &s(&a[0]), -1)))
    });
    m.add("initials", &[Ty::Str], None, |a| {
        Ok(Value::str(
            s(&a[0])
                .split_whitespace()
                .filter_map(|w| w.chars().next())
                .collect::<String>(),
        ))
    });
    m.add("plural", &[Ty::Str, Ty::Str, Ty::Int], None, |a| {
        Ok(Value::str(plural(&s(&a[0]), &s(&a[1]), int(&a[2]))))
    });
    m.add("snakecase", &[Ty::Str], None, |a| {
        Ok(Value::str(joined_lower(&s(&a[0]), "_")))
    });
    m.add("kebabcase", &[Ty::Str], None, |a| {
        Ok(Value::str(joined_lower(&s(&a[0]), "-")))
    });
    m.add("camelcase", &[Ty::Str], None, |a| {
        Ok(Value::str(camelcase(&s(&a[0]))))
    });
}

/// Sprig's split result: a dict keyed `_0`, `_1`, ...
fn numbered(parts: Vec<String>) -> Value {
    Value::map(
        parts
            .into_iter()
            .enumerate()
            .map(|(i, p)| (format!("_{i}"), Value::str(p)))
            .collect(),
    )
}

/// strings.Replace(s, old, new, -1) including the empty-old case.
fn go_replace_all(src: &str, old: &str, new: &str) -> String {
    if old.is_empty() {
        let mut out = String::from(new);
        for c in src.chars() {
            out.push(c);
            out.push_str(new);
        }
        return out;
    }
    src.replace(old, new)
}

/// strings.Split / SplitN, including the empty-separator case.
pub fn go_split(src: &str, sep: &str, n: i64) -> Vec<String> {
    if n == 0 {
        return Vec::new();
    }
    if sep.is_empty() {
        let mut out: Vec<String> = src.chars().map(|c| c.to_string()).collect();
        if n > 0 && out.len() > n as usize {
            let rest: String = out[n as usize - 1..].concat();
            out.truncate(n as usize - 1);
            out.push(rest);
        }
        return out;
    }
    if n < 0 {
        return src.split(sep).map(str::to_string).collect();
    }
    src.splitn(n as usize, sep).map(str::to_string).collect()
}
