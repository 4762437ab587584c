//! The rest of Sprig: paths, base32, SHA-1, indented and raw JSON, chunks,
//! and the `must` variants (which return the error their plain twin panics with).

use super::conv::kind_of;
use crate::funcs::{FuncMap, Ty};
use crate::value::Value;

fn s(v: &Value) -> String {
    v.as_str().unwrap_or_default().to_string()
}

/// Go's path.Clean.
pub fn clean(p: &str) -> String {
    if p.is_empty() {
        return ".".into();
    }
    let rooted = p.starts_with('/');
    let mut out: Vec<&str> = Vec::new();
    for part in p.split('/') {
        match part {
            "" | "." => {}
            ".." => {
                if out.last().is_some_and(|l| *l != "..") {
                    out.pop();
                } else if !rooted {
                    out.push("..");
                }
            }
            other => out.push(other),
        }
    }
    let joined = out.join("/");
    match (rooted, joined.is_empty()) {
        (true, _) => format!("/{joined}"),
        (false, true) => ".".into(),
        (false, false) => joined,
    }
}

fn base(p: &str) -> String {
    if p.is_empty() {
        return ".".into();
    }
    let t = p.trim_end_matches('/');
    if t.is_empty() {
        return "/".into();
    }
    t.rsplit('/').next().unwrap_or(t).to_string()
}

fn dir(p: &str) -> String {
    match p.rfind('/') {
        Some(i) => clean(&p[..=i]),
        None => clean(""),
    }
}

fn ext(p: &str) -> String {
    let last = p.rsplit('/').next().unwrap_or(p);
    match last.rfind('.') {
        Some(i) => last[i..].to_string(),
        None => String::new(),
    }
}

const B32: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";

fn b32enc(data: &[u8]) -> String {
    let mut out = String::new();
    for chunk in data.chunks(5) {
        let mut buf = [0u8; 5];
        buf[..chunk.len()].copy_from_slice(chunk);
        let n = u64::from_be_bytes([0, 0, 0, buf[0], buf[1], buf[2], buf[3], buf[4]]);
        let chars = match chunk.len() {
            1 => 2,
            2 => 4,
            3 => 5,
            4 => 7,
            _ => 8,
        };
        for i in 0..8 {
            if i < chars {
                out.push(B32[((n >> (35 - i * 5)) & 31) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

fn b32dec(text: &str) -> Result<Vec<u8>, usize> {
    let mut bits: u64 = 0;
    let mut nbits = 0;
    let mut out = Vec::new();
    let body = text.trim_end_matches('=');
    if !text.len().is_multiple_of(8) {
        return Err(text.len() / 8 * 8);
    }
    for (i, c) in body.bytes().enumerate() {
        let v = B32.iter().position(|b| *b == c).ok_or(i)? as u64;
        bits = (bits << 5) | v;
        nbits += 5;
        if nbits >= 8 {
            nbits -= 8;
            out.push((bits >> nbits) as u8);
        }
    }
    Ok(out)
}

/// SHA-1 (FIPS 180-4), for `sha1sum`.
pub fn sha1(data: &[u8]) -> [u8; 20] {
    let mut h: [u32; 5] = [0x67452301, 0xEFCDAB89, 0x98BADCFE, 0x10325476, 0xC3D2E1F0];
    let mut msg = data.to_vec();
    let bitlen = (data.len() as u64).wrapping_mul(8);
    msg.push(0x80);
    while msg.len() % 64 != 56 {
        msg.push(0);
    }
    msg.extend_from_slice(&bitlen.to_be_bytes());
    for block in msg.chunks(64) {
        let mut w = [0u32; 80];
        for i in 0..16 {
            w[i] = u32::from_be_bytes([
                block[4 * i],
                block[4 * i + 1],
                block[4 * i + 2],
                block[4 * i + 3],
            ]);
        }
        for i in 16..80 {
            w[i] = (w[i - 3] ^ w[i - 8] ^ w[i - 14] ^ w[i - 16]).rotate_left(1);
        }
        let [mut a, mut b, mut c, mut d, mut e] = h;
        for (i, wi) in w.iter().enumerate() {
            let (f, k) = match i {
                0..=19 => ((b & c) | (!b & d), 0x5A827999),
                20..=39 => (b ^ c ^ d, 0x6ED9EBA1),
                40..=59 => ((b & c) | (b & d) | (c & d), 0x8F1BBCDC),
                _ => (b ^ c ^ d, 0xCA62C1D6),
            };
            let t = a
                .rotate_left(5)
                .wrapping_add(f)
                .wrapping_add(e)
                .wrapping_add(k)
                .wrapping_add(*wi);
            e = d;
            d = c;
            c = b.rotate_left(30);
            b = a;
            a = t;
        }
        for (x, v) in h.iter_mut().zip([a, b, c, d, e]) {
            *x = x.wrapping_add(v);
        }
    }
    let mut out = [0u8; 20];
    for (i, v) in h.iter().enumerate() {
        out[4 * i..4 * i + 4].copy_from_slice(&v.to_be_bytes());
    }
    out
}

/// json.MarshalIndent(v, "", "  ").
fn pretty_json(v: &Value, indent: usize, out: &mut String, escape_html: bool) {
    let pad = "  ".repeat(indent + 1);
    let close = "  ".repeat(indent);
    match v {
        Value::List(_) | Value::StrList(_) => {
            let items = v.list_items().unwrap_or_default();
            if items.is_empty() {
                out.push_str("[]");
                return;
            }
            out.push_str("[\n");
            for (i, it) in items.iter().enumerate() {
                out.push_str(&pad);
                pretty_json(it, indent + 1, out, escape_html);
                out.push_str(if i + 1 < items.len() { ",\n" } else { "\n" });
            }
            out.push_str(&close);
            out.push(']');
        }
        Value::Map(m) => {
            let entries = m.entries();
            if entries.is_empty() {
                out.push_str("{}");
                return;
            }
            out.push_str("{\n");
            for (i, (k, val)) in entries.iter().enumerate() {
                out.push_str(&pad);
                out.push_str(&json_text(&Value::str(k.as_str()), escape_html));
                out.push_str(": ");
                pretty_json(val, indent + 1, out, escape_html);
                out.push_str(if i + 1 < entries.len() { ",\n" } else { "\n" });
            }
            out.push_str(&close);
            out.push('}');
        }
        other => out.push_str(&json_text(other, escape_html)),
    }
}

fn json_text(v: &Value, escape_html: bool) -> String {
    let text = crate::yaml::marshal_json(v);
    if escape_html {
        text
    } else {
        text.replace("\\u003c", "<")
            .replace("\\u003e", ">")
            .replace("\\u0026", "&")
    }
}

fn chunk(size: i64, list: &Value) -> Result<Value, String> {
    let items = match list {
        Value::List(_) | Value::StrList(_) => list.list_items().unwrap_or_default(),
        Value::Invalid | Value::Nil => {
            return Err("runtime error: invalid memory address or nil pointer dereference".into());
        }
        other => return Err(format!("Cannot chunk type {}", kind_of(other))),
    };
    if size <= 0 {
        return Err("runtime error: integer divide by zero".into());
    }
    Ok(Value::list(
        items
            .chunks(size as usize)
            .map(|c| Value::list(c.to_vec()))
            .collect(),
    ))
}

pub fn register(m: &mut FuncMap) {
    m.add("hello", &[], None, |_| Ok(Value::str("Hello!")));
    m.add("trimall", &[Ty::Str, Ty::Str], None, |a| {
        let cut: Vec<char> = s(&a[0]).chars().collect();
        Ok(Value::str(s(&a[1]).trim_matches(cut.as_slice())))
    });
    for (name, f) in [
        ("base", base as fn(&str) -> String),
        ("dir", dir),
        ("clean", clean),
        ("ext", ext),
    ] {
        m.add(name, &[Ty::Str], None, move |a| {
            Ok(Value::str(f(&s(&a[0]))))
        });
        let os_name = format!("os{}{}", name[..1].to_uppercase(), &name[1..]);
        m.add(&os_name, &[Ty::Str], None, move |a| {
            Ok(Value::str(f(&s(&a[0]))))
        });
    }
    m.add("isAbs", &[Ty::Str], None, |a| {
        Ok(Value::Bool(s(&a[0]).starts_with('/')))
    });
    m.add("osIsAbs", &[Ty::Str], None, |a| {
        Ok(Value::Bool(s(&a[0]).starts_with('/')))
    });
    m.add("b32enc", &[Ty::Str], None, |a| {
        Ok(Value::str(b32enc(s(&a[0]).as_bytes())))
    });
    m.add("b32dec", &[Ty::Str], None, |a| {
        Ok(Value::str(match b32dec(&s(&a[0])) {
            Ok(b) => String::from_utf8_lossy(&b).into_owned(),
            Err(at) => format!("illegal base32 data at input byte {at}"),
        }))
    });
    m.add("sha1sum", &[Ty::Str], None, |a| {
        Ok(Value::str(hex::encode(sha1(s(&a[0]).as_bytes()))))
    });
    m.add("toPrettyJson", &[Ty::Any], None, |a| {
        let mut out = String::new();
        pretty_json(&a[0], 0, &mut out, true);
        Ok(Value::str(out))
    });
    m.add("mustToPrettyJson", &[Ty::Any], None, |a| {
        let mut out = String::new();
        pretty_json(&a[0], 0, &mut out, true);
        Ok(Value::str(out))
    });
    m.add("toRawJson", &[Ty::Any], None, |a| {
        Ok(Value::str(json_text(&a[0], false)))
    });
    m.add("mustToRawJson", &[Ty::Any], None, |a| {
        Ok(Value::str(json_text(&a[0], false)))
    });
    m.add("mustToJson", &[Ty::Any], None, |a| {
        Ok(Value::str(crate::yaml::marshal_json(&a[0])))
    });
    m.add("chunk", &[Ty::Int, Ty::Any], None, |a| {
        chunk(a[0].as_int().unwrap_or(0), &a[1])
    });
    m.add("mustChunk", &[Ty::Int, Ty::Any], None, |a| {
        chunk(a[0].as_int().unwrap_or(0), &a[1])
    });
}

/// Registers `mustX` for every plain `X` whose failure is already an error
/// here (Sprig's plain versions panic with the same text).
pub fn register_must(m: &mut FuncMap) {
    for name in [
        "first",
        "rest",
        "last",
        "initial",
        "append",
        "push",
        "prepend",
        "reverse",
        "uniq",
        "without",
        "has",
        "slice",
        "compact",
        "deepCopy",
        "merge",
        "mergeOverwrite",
    ] {
        let must = format!("must{}{}", name[..1].to_uppercase(), &name[1..]);
        if let Some(f) = m.get(name).cloned() {
            m.insert(&must, f);
        }
    }
    if let Some(f) = m.get("max").cloned() {
        m.insert("biggest", f);
    }
}
