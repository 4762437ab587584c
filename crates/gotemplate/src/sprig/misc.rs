//! Sprig's defaults, type tests, encodings, hashes and regular expressions.

use std::sync::Arc;

use base64::Engine;
use sha2::Digest;

use super::conv::{empty, kind_of};
use crate::funcs::{FuncMap, Ty};
use crate::value::Value;

fn s(v: &Value) -> String {
    v.as_str().unwrap_or_default().to_string()
}

/// Go's regexp syntax, compiled by the regex crate (RE2 semantics), with
/// Go's error text for the common mistakes.
fn compile(re: &str) -> Result<regex::Regex, String> {
    regex::Regex::new(re).map_err(|e| go_regex_error(re, &e.to_string()))
}

/// The panic text of Go's regexp.MustCompile, which Sprig's plain regex
/// functions fail with.
fn must_compile(re: &str) -> Result<regex::Regex, String> {
    compile(re).map_err(|e| format!("regexp: Compile({}): {e}", backquote(re)))
}

fn backquote(s: &str) -> String {
    if s.contains('`') || s.chars().any(|c| c.is_control() && c != '\t') {
        crate::gofmt::quote(s)
    } else {
        format!("`{s}`")
    }
}

fn go_regex_error(re: &str, rust: &str) -> String {
    let what = if rust.contains("unclosed group") {
        format!("missing closing ): {}", backquote(re))
    } else if rust.contains("unopened group") {
        format!("unexpected ): {}", backquote(re))
    } else if rust.contains("unclosed character class") {
        let from = re.rfind('[').map_or(re, |i| &re[i..]);
        format!("missing closing ]: {}", backquote(from))
    } else if rust.contains("repetition operator missing expression") {
        let op = re.chars().find(|c| "*+?".contains(*c)).unwrap_or('*');
        format!("missing argument to repetition operator: `{op}`")
    } else {
        rust.lines()
            .last()
            .unwrap_or_default()
            .trim()
            .trim_start_matches("error: ")
            .to_string()
    };
    format!("error parsing regexp: {what}")
}

fn type_name(v: &Value) -> String {
    match v {
        Value::Invalid | Value::Nil => "<nil>".into(),
        other => other.type_name().to_string(),
    }
}

pub fn register(m: &mut FuncMap) {
    m.add("default", &[Ty::Any], Some(Ty::Any), |a| {
        let given = a.get(1);
        match given {
            Some(g) if !empty(g) => Ok(g.clone()),
            _ => Ok(a[0].clone()),
        }
    });
    m.add("empty", &[Ty::Any], None, |a| Ok(Value::Bool(empty(&a[0]))));
    m.add("coalesce", &[], Some(Ty::Any), |a| {
        Ok(a.into_iter().find(|v| !empty(v)).unwrap_or(Value::Nil))
    });
    m.add("all", &[], Some(Ty::Any), |a| {
        Ok(Value::Bool(a.iter().all(|v| !empty(v))))
    });
    m.add("any", &[], Some(Ty::Any), |a| {
        Ok(Value::Bool(a.iter().any(|v| !empty(v))))
    });
    m.add("ternary", &[Ty::Any, Ty::Any, Ty::Bool], None, |a| {
        Ok(if matches!(a[2], Value::Bool(true)) {
            a[0].clone()
        } else {
            a[1].clone()
        })
    });
    m.add("fromJson", &[Ty::Str], None, |a| {
        Ok(from_json_lenient(&s(&a[0])))
    });
    m.add("kindOf", &[Ty::Any], None, |a| {
        Ok(Value::str(kind_of(&a[0])))
    });
    m.add("kindIs", &[Ty::Str, Ty::Any], None, |a| {
        Ok(Value::Bool(s(&a[0]) == kind_of(&a[1])))
    });
    m.add("typeOf", &[Ty::Any], None, |a| {
        Ok(Value::str(type_name(&a[0])))
    });
    m.add("typeIs", &[Ty::Str, Ty::Any], None, |a| {
        Ok(Value::Bool(s(&a[0]) == type_name(&a[1])))
    });
    m.add("typeIsLike", &[Ty::Str, Ty::Any], None, |a| {
        let t = type_name(&a[1]);
        let want = s(&a[0]);
        Ok(Value::Bool(want == t || want == format!("*{t}")))
    });
    m.add("b64enc", &[Ty::Str], None, |a| {
        Ok(Value::str(
            base64::engine::general_purpose::STANDARD.encode(s(&a[0])),
        ))
    });
    m.add("b64dec", &[Ty::Str], None, |a| {
        let text = s(&a[0]);
        Ok(Value::str(
            match base64::engine::general_purpose::STANDARD.decode(&text) {
                Ok(b) => String::from_utf8_lossy(&b).into_owned(),
                Err(e) => go_base64_error(&text, e),
            },
        ))
    });
    m.add("sha256sum", &[Ty::Str], None, |a| {
        Ok(Value::str(hex::encode(sha2::Sha256::digest(
            s(&a[0]).as_bytes(),
        ))))
    });
    m.add("sha512sum", &[Ty::Str], None, |a| {
        Ok(Value::str(hex::encode(sha2::Sha512::digest(
            s(&a[0]).as_bytes(),
        ))))
    });
    m.add("adler32sum", &[Ty::Str], None, |a| {
        Ok(Value::str(adler32(s(&a[0]).as_bytes()).to_string()))
    });
    m.add("regexMatch", &[Ty::Str, Ty::Str], None, |a| {
        Ok(Value::Bool(
            compile(&s(&a[0]))
                .map(|r| r.is_match(&s(&a[1])))
                .unwrap_or(false),
        ))
    });
    m.add("mustRegexMatch", &[Ty::Str, Ty::Str], None, |a| {
        Ok(Value::Bool(compile(&s(&a[0]))?.is_match(&s(&a[1]))))
    });
    // Plain versions fail with MustCompile's panic text, must versions
    // with the compile error itself.
    register_regex(m, "", must_compile);
    register_regex(m, "must", compile);
    m.add("mustFromJson", &[Ty::Str], None, |a| {
        serde_json::from_str::<serde_json::Value>(&s(&a[0]))
            .map(|j| Value::from_json(&j))
            .map_err(|e| crate::yaml::go_json_error(&e))
    });
    m.add("regexQuoteMeta", &[Ty::Str], None, |a| {
        Ok(Value::str(regex::escape(&s(&a[0]))))
    });
    m.add("fail", &[Ty::Str], None, |a| Err(s(&a[0])));
    m.add("toJson", &[Ty::Any], None, |a| {
        Ok(Value::str(crate::yaml::marshal_json(&a[0])))
    });
}

/// Sprig's fromJson: a dict, or an empty one when the text does not parse.
fn from_json_lenient(text: &str) -> Value {
    match serde_json::from_str::<serde_json::Value>(text) {
        Ok(j @ serde_json::Value::Object(_)) => Value::from_json(&j),
        _ => Value::map(Default::default()),
    }
}

/// regexFind, regexFindAll, regexReplaceAll(Literal) and regexSplit, named
/// with `prefix` (`must` capitalises the rest).
fn register_regex(m: &mut FuncMap, prefix: &str, comp: fn(&str) -> Result<regex::Regex, String>) {
    let name = |n: &str| {
        if prefix.is_empty() {
            n.to_string()
        } else {
            format!("{prefix}{}{}", n[..1].to_uppercase(), &n[1..])
        }
    };
    m.add(&name("regexFind"), &[Ty::Str, Ty::Str], None, move |a| {
        let r = comp(&s(&a[0]))?;
        Ok(Value::str(
            r.find(&s(&a[1]))
                .map(|m| m.as_str().to_string())
                .unwrap_or_default(),
        ))
    });
    m.add(
        &name("regexFindAll"),
        &[Ty::Str, Ty::Str, Ty::Int],
        None,
        move |a| {
            let r = comp(&s(&a[0]))?;
            let text = s(&a[1]);
            let n = a[2].as_int().unwrap_or(-1);
            let mut out: Vec<String> = r.find_iter(&text).map(|m| m.as_str().to_string()).collect();
            if n >= 0 {
                out.truncate(n as usize);
            }
            Ok(Value::StrList(Arc::new(out)))
        },
    );
    m.add(
        &name("regexReplaceAll"),
        &[Ty::Str, Ty::Str, Ty::Str],
        None,
        move |a| {
            let r = comp(&s(&a[0]))?;
            Ok(Value::str(
                r.replace_all(&s(&a[1]), s(&a[2]).as_str()).into_owned(),
            ))
        },
    );
    m.add(
        &name("regexReplaceAllLiteral"),
        &[Ty::Str, Ty::Str, Ty::Str],
        None,
        move |a| {
            let r = comp(&s(&a[0]))?;
            Ok(Value::str(
                r.replace_all(&s(&a[1]), regex::NoExpand(&s(&a[2])))
                    .into_owned(),
            ))
        },
    );
    m.add(
        &name("regexSplit"),
        &[Ty::Str, Ty::Str, Ty::Int],
        None,
        move |a| {
            let r = comp(&s(&a[0]))?;
            let text = s(&a[1]);
            let out: Vec<String> = match a[2].as_int().unwrap_or(-1) {
                n if n < 0 => r.split(&text).map(str::to_string).collect(),
                0 => Vec::new(),
                n => r.splitn(&text, n as usize).map(str::to_string).collect(),
            };
            Ok(Value::StrList(Arc::new(out)))
        },
    );
}

/// encoding/base64's CorruptInputError text.
pub(super) fn go_base64_error(text: &str, e: base64::DecodeError) -> String {
    let offset = match e {
        base64::DecodeError::InvalidByte(i, _) => i,
        base64::DecodeError::InvalidLength(n) => n,
        base64::DecodeError::InvalidLastSymbol(i, _) => i,
        base64::DecodeError::InvalidPadding => text.len(),
    };
    format!("illegal base64 data at input byte {offset}")
}

fn adler32(data: &[u8]) -> u32 {
    let (mut a, mut b) = (1u32, 0u32);
    for &x in data {
        a = (a + x as u32) % 65521;
        b = (b + a) % 65521;
    }
    (b << 16) | a
}
