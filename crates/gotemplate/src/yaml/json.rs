//! encoding/json output of template data (what toJson prints).

use crate::value::Value;

/// encoding/json's wording where serde_json's can be mapped onto it.
pub fn go_json_error(e: &serde_json::Error) -> String {
    if e.is_eof() {
        return "unexpected end of JSON input".into();
    }
    e.to_string()
}

/// How encoding/json writes a time.Time.
pub(super) fn rfc3339(t: &crate::value::GoTime) -> String {
    crate::sprig::format_time(t, "2006-01-02T15:04:05.999999999Z07:00")
}

/// Go's encoding/json number text for a float64.
pub fn json_float(f: f64) -> String {
    if f == f.trunc() && f.abs() < 1e21 {
        return format!("{}", f as i128);
    }
    let abs = f.abs();
    if abs != 0.0 && !(1e-6..1e21).contains(&abs) {
        // Exponent form with Go's cleanup: e-07 becomes e-7.
        let s = format!("{:e}", f);
        let (m, e) = s.split_once('e').unwrap_or((&s, "0"));
        let e: i32 = e.parse().unwrap_or(0);
        let sign = if e < 0 { '-' } else { '+' };
        return format!("{m}e{sign}{}", e.abs());
    }
    let s = format!("{f}");
    s
}

/// Go's json.Marshal text of template data (HTML characters escaped).
pub fn marshal_json(v: &Value) -> String {
    let mut out = String::new();
    write_json(&mut out, v);
    out
}

fn write_json(out: &mut String, v: &Value) {
    match v {
        Value::Invalid | Value::Nil => out.push_str("null"),
        Value::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        Value::Int(i) | Value::Int64(i) => out.push_str(&i.to_string()),
        Value::Float(f) => out.push_str(&json_float(*f)),
        Value::Str(s) => json_string(out, s),
        Value::Time(t) => json_string(out, &rfc3339(t)),
        Value::Object(o) => write_json(out, &o.to_data()),
        Value::Bytes(b) => {
            use base64::Engine;
            json_string(
                out,
                &base64::engine::general_purpose::STANDARD.encode(b.as_slice()),
            );
        }
        Value::List(_) | Value::StrList(_) => {
            out.push('[');
            for (i, it) in v.list_items().unwrap_or_default().iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_json(out, it);
            }
            out.push(']');
        }
        Value::Map(m) => {
            out.push('{');
            for (i, (k, val)) in m.entries().iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                json_string(out, k);
                out.push(':');
                write_json(out, val);
            }
            out.push('}');
        }
    }
}

/// The escapes JSON and YAML double-quoted strings write alike.
pub(super) fn common_escape(c: char) -> Option<&'static str> {
    Some(match c {
        '"' => "\\\"",
        '\\' => "\\\\",
        '\n' => "\\n",
        '\r' => "\\r",
        '\t' => "\\t",
        _ => return None,
    })
}

fn json_string(out: &mut String, s: &str) {
    out.push('"');
    for c in s.chars() {
        if let Some(e) = common_escape(c) {
            out.push_str(e);
            continue;
        }
        match c {
            '<' => out.push_str("\\u003c"),
            '>' => out.push_str("\\u003e"),
            '&' => out.push_str("\\u0026"),
            '\u{2028}' => out.push_str("\\u2028"),
            '\u{2029}' => out.push_str("\\u2029"),
            c if (c as u32) < 0x20 => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
}
