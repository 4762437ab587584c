//! Go's predefined template functions (`and` and `or` are evaluated lazily
//! by the executor itself).

use crate::funcs::{Func, FuncMap, Ty};
use crate::gofmt::{sprint, sprint_value, sprintf, sprintln};
use crate::value::Value;

/// The builtins every template has.
pub fn builtins() -> FuncMap {
    let mut m = FuncMap::new();
    // and/or are placeholders for the parser's "is it defined" check;
    // the executor evaluates them itself, short-circuiting.
    m.add("and", &[Ty::Raw], Some(Ty::Raw), |a| {
        Ok(a.into_iter().next().unwrap_or_default())
    });
    m.add("or", &[Ty::Raw], Some(Ty::Raw), |a| {
        Ok(a.into_iter().next().unwrap_or_default())
    });
    m.add("not", &[Ty::Raw], None, |a| Ok(Value::Bool(!a[0].truth())));
    m.add("len", &[Ty::Raw], None, |a| length(&a[0]).map(Value::Int));
    m.add("index", &[Ty::Raw], Some(Ty::Raw), |a| {
        index(&a[0], &a[1..])
    });
    m.add("slice", &[Ty::Raw], Some(Ty::Raw), |a| {
        slice(&a[0], &a[1..])
    });
    m.add("print", &[], Some(Ty::Any), |a| Ok(Value::str(sprint(&a))));
    m.add("println", &[], Some(Ty::Any), |a| {
        Ok(Value::str(sprintln(&a)))
    });
    m.add("printf", &[Ty::Str], Some(Ty::Any), |a| {
        let f = a[0].as_str().unwrap_or_default().to_string();
        Ok(Value::str(sprintf(&f, &a[1..])))
    });
    m.add("html", &[], Some(Ty::Any), |a| {
        Ok(Value::str(html_escape(&eval_args(&a))))
    });
    m.add("js", &[], Some(Ty::Any), |a| {
        Ok(Value::str(js_escape(&eval_args(&a))))
    });
    m.add("urlquery", &[], Some(Ty::Any), |a| {
        Ok(Value::str(query_escape(&eval_args(&a))))
    });
    m.add("eq", &[Ty::Raw], Some(Ty::Raw), |a| {
        eq(&a[0], &a[1..]).map(Value::Bool)
    });
    m.add("ne", &[Ty::Raw, Ty::Raw], None, |a| {
        eq(&a[0], &a[1..2]).map(|b| Value::Bool(!b))
    });
    m.add("lt", &[Ty::Raw, Ty::Raw], None, |a| {
        lt(&a[0], &a[1]).map(Value::Bool)
    });
    m.add("le", &[Ty::Raw, Ty::Raw], None, |a| {
        le(&a[0], &a[1]).map(Value::Bool)
    });
    m.add("gt", &[Ty::Raw, Ty::Raw], None, |a| {
        le(&a[0], &a[1]).map(|b| Value::Bool(!b))
    });
    m.add("ge", &[Ty::Raw, Ty::Raw], None, |a| {
        lt(&a[0], &a[1]).map(|b| Value::Bool(!b))
    });
    m.insert(
        "call",
        Func::new(&[Ty::Raw], Some(Ty::Raw), |_, a| {
            // a[0] is the callee's source text, inserted by the executor.
            let name = a[0].as_str().unwrap_or_default().to_string();
            match a.get(1) {
                None | Some(Value::Invalid | Value::Nil) => Err("call of nil".into()),
                Some(v) => Err(format!("non-function {name} of type {}", v.type_name())),
            }
        }),
    );
    m
}

/// Go's evalArgs for the escapers: one string as is, else fmt.Sprint.
fn eval_args(a: &[Value]) -> String {
    if let [Value::Str(s)] = a {
        return s.to_string();
    }
    // Go makes each argument printable first: nil becomes "<no value>".
    let printable: Vec<Value> = a
        .iter()
        .map(|v| {
            if v.is_nil() {
                Value::str("<no value>")
            } else {
                v.clone()
            }
        })
        .collect();
    sprint(&printable)
}

fn length(v: &Value) -> Result<i64, String> {
    Ok(match v {
        Value::Invalid => return Err("reflect: call of reflect.Value.Type on zero Value".into()),
        Value::Nil => return Err("len of nil pointer".into()),
        Value::Str(s) => s.len() as i64,
        Value::List(l) => l.len() as i64,
        Value::StrList(l) => l.len() as i64,
        Value::Map(m) => m.len() as i64,
        Value::Bytes(b) => b.len() as i64,
        other => return Err(format!("len of type {}", other.type_name())),
    })
}

fn index_arg(i: &Value, cap: usize) -> Result<usize, String> {
    let x = match i {
        Value::Int(n) | Value::Int64(n) => *n,
        Value::Invalid | Value::Nil => return Err("cannot index slice/array with nil".into()),
        other => {
            return Err(format!(
                "cannot index slice/array with type {}",
                other.type_name()
            ));
        }
    };
    if x < 0 || x as u64 > cap as u64 {
        return Err(format!("index out of range: {x}"));
    }
    Ok(x as usize)
}

fn index(item: &Value, idx: &[Value]) -> Result<Value, String> {
    let mut item = item.clone();
    if !item.is_valid() || matches!(item, Value::Nil) {
        return Err("index of untyped nil".into());
    }
    for i in idx {
        if matches!(item, Value::Nil | Value::Invalid) {
            return Err("index of nil pointer".into());
        }
        item = match &item {
            Value::List(l) => {
                let x = index_arg(i, l.len())?;
                l.get(x).cloned().ok_or_else(|| SLICE_INDEX.to_string())?
            }
            Value::StrList(l) => {
                let x = index_arg(i, l.len())?;
                Value::str(l.get(x).ok_or_else(|| SLICE_INDEX.to_string())?.as_str())
            }
            Value::Str(s) => {
                let x = index_arg(i, s.len())?;
                Value::Int(
                    *s.as_bytes()
                        .get(x)
                        .ok_or_else(|| "reflect: string index out of range".to_string())?
                        as i64,
                )
            }
            Value::Bytes(b) => {
                let x = index_arg(i, b.len())?;
                Value::Int(*b.get(x).ok_or_else(|| SLICE_INDEX.to_string())? as i64)
            }
            Value::Map(m) => match i {
                Value::Str(k) => m.get(k.as_ref()).unwrap_or(Value::Nil),
                Value::Invalid | Value::Nil => {
                    return Err("value is nil; should be of type string".into());
                }
                other => {
                    return Err(format!(
                        "value has type {}; should be string",
                        other.type_name()
                    ));
                }
            },
            other => return Err(format!("can't index item of type {}", other.type_name())),
        };
    }
    Ok(item)
}

fn slice(item: &Value, idx: &[Value]) -> Result<Value, String> {
    if item.is_nil() {
        return Err("slice of untyped nil".into());
    }
    if idx.len() > 3 {
        return Err(format!("too many slice indexes: {}", idx.len()));
    }
    let len = match item {
        Value::Str(s) => {
            if idx.len() == 3 {
                return Err("cannot 3-index slice a string".into());
            }
            s.len()
        }
        Value::List(l) => l.len(),
        Value::StrList(l) => l.len(),
        Value::Bytes(b) => b.len(),
        other => return Err(format!("can't slice item of type {}", other.type_name())),
    };
    let mut ix = [0usize, len, len];
    for (k, i) in idx.iter().enumerate() {
        ix[k] = index_arg(i, len)?;
    }
    if ix[0] > ix[1] {
        return Err(format!("invalid slice index: {} > {}", ix[0], ix[1]));
    }
    if idx.len() == 3 && ix[1] > ix[2] {
        return Err(format!("invalid slice index: {} > {}", ix[1], ix[2]));
    }
    let (a, b) = (ix[0], ix[1]);
    Ok(match item {
        Value::Str(s) => Value::str(String::from_utf8_lossy(&s.as_bytes()[a..b]).into_owned()),
        Value::List(l) => Value::list(l[a..b].to_vec()),
        Value::StrList(l) => Value::StrList(std::sync::Arc::new(l[a..b].to_vec())),
        Value::Bytes(v) => Value::Bytes(std::sync::Arc::new(v[a..b].to_vec())),
        _ => Value::Invalid,
    })
}

#[derive(PartialEq, Eq, Clone, Copy)]
enum Kind {
    Invalid,
    Bool,
    Int,
    Float,
    Str,
}

fn basic_kind(v: &Value) -> Kind {
    match v {
        Value::Bool(_) => Kind::Bool,
        Value::Int(_) | Value::Int64(_) => Kind::Int,
        Value::Float(_) => Kind::Float,
        Value::Str(_) => Kind::Str,
        _ => Kind::Invalid,
    }
}

const SLICE_INDEX: &str = "reflect: slice index out of range";

fn bad_comparison(a: &Value, b: &Value) -> String {
    format!(
        "incompatible types for comparison: {} and {}",
        a.type_name(),
        b.type_name()
    )
}
const BAD_COMPARISON_TYPE: &str = "invalid type for comparison";

fn eq(a: &Value, rest: &[Value]) -> Result<bool, String> {
    let a = a.clone().unboxed();
    if rest.is_empty() {
        return Err("missing argument for comparison".into());
    }
    let k1 = basic_kind(&a);
    for b in rest {
        let b = b.clone().unboxed();
        let k2 = basic_kind(&b);
        let truth = if k1 != k2 {
            if a.is_valid() && b.is_valid() {
                return Err(bad_comparison(&a, &b));
            }
            false
        } else {
            match (&a, &b) {
                (Value::Bool(x), Value::Bool(y)) => x == y,
                (Value::Float(x), Value::Float(y)) => x == y,
                (Value::Str(x), Value::Str(y)) => x == y,
                _ if k1 == Kind::Int => a.as_int() == b.as_int(),
                _ => {
                    if !a.is_valid() || !b.is_valid() {
                        a.is_valid() == b.is_valid()
                    } else if a.type_name() != b.type_name() {
                        return Err(format!(
                            "non-comparable types {}: {}, {}: {}",
                            sprint_value(&a),
                            a.type_name(),
                            b.type_name(),
                            sprint_value(&b)
                        ));
                    } else {
                        return Err(format!(
                            "non-comparable type {}: {}",
                            sprint_value(&b),
                            b.type_name()
                        ));
                    }
                }
            }
        };
        if truth {
            return Ok(true);
        }
    }
    Ok(false)
}

fn lt(a: &Value, b: &Value) -> Result<bool, String> {
    let a = a.clone().unboxed();
    let b = b.clone().unboxed();
    let (k1, k2) = (basic_kind(&a), basic_kind(&b));
    if k1 == Kind::Invalid || k2 == Kind::Invalid {
        return Err(BAD_COMPARISON_TYPE.into());
    }
    if k1 != k2 {
        return Err(bad_comparison(&a, &b));
    }
    Ok(match (&a, &b) {
        (Value::Float(x), Value::Float(y)) => x < y,
        (Value::Str(x), Value::Str(y)) => x < y,
        (Value::Bool(_), Value::Bool(_)) => return Err(BAD_COMPARISON_TYPE.into()),
        _ => a.as_int() < b.as_int(),
    })
}

fn le(a: &Value, b: &Value) -> Result<bool, String> {
    if lt(a, b)? {
        return Ok(true);
    }
    eq(a, std::slice::from_ref(b))
}

/// html/template's HTMLEscapeString.
pub fn html_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '"' => out.push_str("&#34;"),
            '\'' => out.push_str("&#39;"),
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '\0' => out.push('\u{FFFD}'),
            c => out.push(c),
        }
    }
    out
}

/// text/template's JSEscapeString.
pub fn js_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '\'' => out.push_str("\\'"),
            '"' => out.push_str("\\\""),
            '<' => out.push_str("\\u003C"),
            '>' => out.push_str("\\u003E"),
            '&' => out.push_str("\\u0026"),
            '=' => out.push_str("\\u003D"),
            c if (c as u32) < 0x20 => out.push_str(&format!("\\u{:04X}", c as u32)),
            c if (c as u32) < 0x80 => out.push(c),
            c if crate::gofmt::is_print(c) => out.push(c),
            c => out.push_str(&format!("\\u{:04X}", c as u32)),
        }
    }
    out
}

/// net/url's QueryEscape.
pub fn query_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        match b {
            b'a'..=b'z' | b'A'..=b'Z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                out.push(b as char)
            }
            b' ' => out.push('+'),
            _ => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}
