//! Sprig's list and dict functions. Dicts are shared references (Go maps):
//! `set`, `unset` and `merge` change the map every holder sees.

use std::sync::Arc;

use super::conv::{kind_of, strslice, strval};
use crate::funcs::{FuncMap, Ty};
use crate::value::{Map, Value};

fn items(v: &Value, what: &str) -> Result<Vec<Value>, String> {
    match v {
        Value::List(_) | Value::StrList(_) => Ok(v.list_items().unwrap_or_default()),
        Value::Bytes(b) => Ok(b.iter().map(|x| Value::Int(*x as i64)).collect()),
        Value::Invalid | Value::Nil => {
            Err("runtime error: invalid memory address or nil pointer dereference".into())
        }
        other => Err(format!("Cannot {what} on type {}", kind_of(other))),
    }
}

fn go_equal(a: &Value, b: &Value) -> bool {
    // reflect.DeepEqual for JSON-shaped data.
    match (a, b) {
        (Value::Invalid | Value::Nil, Value::Invalid | Value::Nil) => true,
        (Value::Bool(x), Value::Bool(y)) => x == y,
        (Value::Int(x), Value::Int(y)) | (Value::Int64(x), Value::Int64(y)) => x == y,
        (Value::Float(x), Value::Float(y)) => x == y,
        (Value::Str(x), Value::Str(y)) => x == y,
        (Value::List(_), Value::List(_)) | (Value::StrList(_), Value::StrList(_)) => {
            let (x, y) = (
                a.list_items().unwrap_or_default(),
                b.list_items().unwrap_or_default(),
            );
            x.len() == y.len() && x.iter().zip(y.iter()).all(|(p, q)| go_equal(p, q))
        }
        (Value::Map(x), Value::Map(y)) => {
            let (x, y) = (x.entries(), y.entries());
            x.len() == y.len()
                && x.iter()
                    .zip(y.iter())
                    .all(|((k1, v1), (k2, v2))| k1 == k2 && go_equal(v1, v2))
        }
        _ => false,
    }
}

/// reflect.DeepEqual, exposed for `deepEqual`.
pub fn deep_equal(a: &Value, b: &Value) -> bool {
    go_equal(a, b)
}

fn map_arg(v: &Value) -> Map {
    match v {
        Value::Map(m) => m.snapshot(),
        _ => Map::new(),
    }
}

/// A deep copy (copystructure for JSON-shaped data).
pub fn deep_copy(v: &Value) -> Value {
    match v {
        Value::List(l) => Value::list(l.iter().map(deep_copy).collect()),
        Value::Map(m) => Value::map(
            m.entries()
                .iter()
                .map(|(k, v)| (k.clone(), deep_copy(v)))
                .collect(),
        ),
        other => other.clone(),
    }
}

/// mergo.Merge semantics used by Sprig: fill keys missing (or empty, with
/// overwrite) in dst from src, recursing into maps.
fn merge_into(dst: &crate::value::MapRef, src: &Map, overwrite: bool) {
    for (k, sv) in src {
        match dst.get(k) {
            None => dst.insert(k.clone(), sv.clone()),
            Some(Value::Map(dm)) => {
                if let Value::Map(sm) = sv {
                    if !dm.same(sm) {
                        merge_into(&dm, &sm.snapshot(), overwrite);
                    }
                } else if overwrite && !sv.is_nil() {
                    dst.insert(k.clone(), sv.clone());
                }
            }
            Some(dv) => {
                if !dv.truth() || (overwrite && sv.truth()) {
                    dst.insert(k.clone(), sv.clone());
                }
            }
        }
    }
}

pub fn register(m: &mut FuncMap) {
    m.add("list", &[], Some(Ty::Any), |a| Ok(Value::list(a)));
    m.add("tuple", &[], Some(Ty::Any), |a| Ok(Value::list(a)));
    m.add("first", &[Ty::Any], None, |a| {
        Ok(items(&a[0], "find first")?
            .into_iter()
            .next()
            .unwrap_or(Value::Nil))
    });
    m.add("last", &[Ty::Any], None, |a| {
        Ok(items(&a[0], "find last")?.pop().unwrap_or(Value::Nil))
    });
    m.add("rest", &[Ty::Any], None, |a| {
        let l = items(&a[0], "find rest")?;
        if l.is_empty() {
            return Ok(Value::Nil);
        }
        Ok(Value::list(l[1..].to_vec()))
    });
    m.add("initial", &[Ty::Any], None, |a| {
        let l = items(&a[0], "find initial")?;
        if l.is_empty() {
            return Ok(Value::Nil);
        }
        Ok(Value::list(l[..l.len() - 1].to_vec()))
    });
    for name in ["append", "push"] {
        m.add(name, &[Ty::Any, Ty::Any], None, |a| {
            let mut l = items(&a[0], "push")?;
            l.push(a[1].clone());
            Ok(Value::list(l))
        });
    }
    m.add("prepend", &[Ty::Any, Ty::Any], None, |a| {
        let mut l = items(&a[0], "prepend")?;
        l.insert(0, a[1].clone());
        Ok(Value::list(l))
    });
    m.add("concat", &[], Some(Ty::Any), |a| {
        let mut out = Vec::new();
        for l in &a {
            match l {
                Value::List(_) | Value::StrList(_) => {
                    out.extend(l.list_items().unwrap_or_default())
                }
                other => return Err(format!("Cannot concat type {} as list", kind_of(other))),
            }
        }
        Ok(if a.is_empty() {
            Value::Nil
        } else {
            Value::list(out)
        })
    });
    m.add("reverse", &[Ty::Any], None, |a| {
        let mut l = items(&a[0], "find reverse")?;
        l.reverse();
        Ok(Value::list(l))
    });
    m.add("uniq", &[Ty::Any], None, |a| {
        let mut out: Vec<Value> = Vec::new();
        for v in items(&a[0], "find uniq")? {
            if !out.iter().any(|o| go_equal(o, &v)) {
                out.push(v);
            }
        }
        Ok(Value::list(out))
    });
    m.add("compact", &[Ty::Any], None, |a| {
        Ok(Value::list(
            items(&a[0], "compact")?
                .into_iter()
                .filter(|v| v.truth())
                .collect(),
        ))
    });
    m.add("without", &[Ty::Any], Some(Ty::Any), |a| {
        let omit = &a[1..];
        Ok(Value::list(
            items(&a[0], "find without")?
                .into_iter()
                .filter(|v| !omit.iter().any(|o| go_equal(o, v)))
                .collect(),
        ))
    });
    m.add("has", &[Ty::Any, Ty::Any], None, |a| {
        if a[1].is_nil() {
            return Ok(Value::Bool(false));
        }
        Ok(Value::Bool(
            items(&a[1], "find has")?.iter().any(|v| go_equal(v, &a[0])),
        ))
    });
    m.add("slice", &[Ty::Any], Some(Ty::Any), |a| {
        let l = match &a[0] {
            Value::List(_) | Value::StrList(_) => a[0].list_items().unwrap_or_default(),
            Value::Invalid | Value::Nil => {
                return Err(
                    "runtime error: invalid memory address or nil pointer dereference".into(),
                );
            }
            other => {
                return Err(format!(
                    "list should be type of slice or array but {}",
                    kind_of(other)
                ));
            }
        };
        if l.is_empty() {
            return Ok(Value::Nil);
        }
        let start = a.get(1).map_or(0, super::conv::to_int64);
        let end = if a.len() < 3 {
            l.len() as i64
        } else {
            super::conv::to_int64(&a[2])
        };
        if start < 0 || end < start || end > l.len() as i64 {
            return Err("reflect.Value.Slice: slice index out of bounds".into());
        }
        Ok(Value::list(l[start as usize..end as usize].to_vec()))
    });
    m.add("sortAlpha", &[Ty::Any], None, |a| {
        let mut v = match &a[0] {
            Value::List(_) | Value::StrList(_) => strslice(&a[0]),
            other => vec![strval(other)],
        };
        v.sort();
        Ok(Value::StrList(Arc::new(v)))
    });
    m.add("until", &[Ty::Int], None, |a| {
        let n = a[0].as_int().unwrap_or(0);
        until_step(0, n, if n < 0 { -1 } else { 1 })
    });
    m.add("untilStep", &[Ty::Int, Ty::Int, Ty::Int], None, |a| {
        until_step(
            a[0].as_int().unwrap_or(0),
            a[1].as_int().unwrap_or(0),
            a[2].as_int().unwrap_or(0),
        )
    });
    m.add("dict", &[], Some(Ty::Any), |a| {
        let mut d = Map::new();
        let mut i = 0;
        while i < a.len() {
            let k = strval(&a[i]);
            let v = a.get(i + 1).cloned().unwrap_or(Value::str(""));
            d.insert(k, v);
            i += 2;
        }
        Ok(Value::map(d))
    });
    m.add("get", &[Ty::Map, Ty::Str], None, |a| {
        let k = a[1].as_str().unwrap_or_default();
        Ok(match &a[0] {
            Value::Map(m) => m.get(k).unwrap_or(Value::str("")),
            _ => Value::str(""),
        })
    });
    m.add("set", &[Ty::Map, Ty::Str, Ty::Any], None, |a| {
        if let Value::Map(m) = &a[0] {
            m.insert(a[1].as_str().unwrap_or_default().to_string(), a[2].clone());
        }
        Ok(a[0].clone())
    });
    m.add("unset", &[Ty::Map, Ty::Str], None, |a| {
        if let Value::Map(m) = &a[0] {
            m.remove(a[1].as_str().unwrap_or_default());
        }
        Ok(a[0].clone())
    });
    m.add("hasKey", &[Ty::Map, Ty::Str], None, |a| {
        Ok(Value::Bool(match &a[0] {
            Value::Map(m) => m.contains_key(a[1].as_str().unwrap_or_default()),
            _ => false,
        }))
    });
    m.add("keys", &[], Some(Ty::Map), |a| {
        let mut out = Vec::new();
        for d in &a {
            if let Value::Map(m) = d {
                out.extend(m.keys());
            }
        }
        Ok(Value::StrList(Arc::new(out)))
    });
    m.add("values", &[Ty::Map], None, |a| {
        Ok(Value::list(map_arg(&a[0]).into_values().collect()))
    });
    m.add("pluck", &[Ty::Str], Some(Ty::Map), |a| {
        let k = a[0].as_str().unwrap_or_default().to_string();
        Ok(Value::list(
            a[1..]
                .iter()
                .filter_map(|d| map_arg(d).get(&k).cloned())
                .collect(),
        ))
    });
    m.add("pick", &[Ty::Map], Some(Ty::Str), |a| {
        let src = map_arg(&a[0]);
        let mut d = Map::new();
        for k in &a[1..] {
            let k = k.as_str().unwrap_or_default();
            if let Some(v) = src.get(k) {
                d.insert(k.to_string(), v.clone());
            }
        }
        Ok(Value::map(d))
    });
    m.add("omit", &[Ty::Map], Some(Ty::Str), |a| {
        let mut d = map_arg(&a[0]);
        for k in &a[1..] {
            d.remove(k.as_str().unwrap_or_default());
        }
        Ok(Value::map(d))
    });
    m.add("dig", &[], Some(Ty::Any), |a| {
        if a.len() < 3 {
            return Err("dig needs at least three arguments".into());
        }
        let dict = &a[a.len() - 1];
        let default = a[a.len() - 2].clone();
        let mut cur = dict.clone();
        for k in &a[..a.len() - 2] {
            let k = match k {
                Value::Str(s) => s.to_string(),
                other => {
                    return Err(format!(
                        "interface conversion: interface {{}} is {}, not string",
                        other.type_name()
                    ));
                }
            };
            let Value::Map(m) = &cur else {
                return Err(format!(
                    "interface conversion: interface {{}} is {}, not map[string]interface {{}}",
                    cur.type_name()
                ));
            };
            match m.get(&k) {
                Some(v) => cur = v,
                None => return Ok(default),
            }
        }
        Ok(cur)
    });
    m.add("merge", &[Ty::Map], Some(Ty::Map), |a| merge(&a, false));
    m.add("mergeOverwrite", &[Ty::Map], Some(Ty::Map), |a| {
        merge(&a, true)
    });
    m.add("deepCopy", &[Ty::Any], None, |a| Ok(deep_copy(&a[0])));
    m.add("deepEqual", &[Ty::Any, Ty::Any], None, |a| {
        Ok(Value::Bool(go_equal(&a[0], &a[1])))
    });
}

fn merge(a: &[Value], overwrite: bool) -> Result<Value, String> {
    let Value::Map(dst) = &a[0] else {
        return Ok(a[0].clone());
    };
    for src in &a[1..] {
        if let Value::Map(s) = src {
            merge_into(dst, &s.snapshot(), overwrite);
        }
    }
    Ok(a[0].clone())
}

fn until_step(start: i64, stop: i64, step: i64) -> Result<Value, String> {
    let mut v = Vec::new();
    if step == 0 {
        return Ok(Value::list(v));
    }
    let mut i = start;
    while (step > 0 && i < stop) || (step < 0 && i > stop) {
        if v.len() >= 10_000_000 {
            return Err("untilStep: too many elements".into());
        }
        v.push(Value::Int(i));
        i += step;
    }
    Ok(Value::list(v))
}
