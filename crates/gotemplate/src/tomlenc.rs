//! Helm's `toToml`: the TOML that BurntSushi/toml's encoder writes for a
//! template value. Its layout is the encoder's, not a generic TOML
//! serializer's: in every table the plain keys come first, then the
//! sub-tables, each group sorted; nested table headers and their keys are
//! indented two spaces per level; a blank line comes before every
//! top-level table and every `[[array]]` entry; nil map values are left out.

use crate::value::Value;

const NIL_ELEMENT: &str = "toml: cannot encode array with nil element";
const NO_KEY: &str = "toml: top-level values must be Go maps or structs";

/// The encoded document, or the encoder's error text (which Helm returns
/// as the function's result).
pub fn to_toml(v: &Value) -> String {
    try_to_toml(v).unwrap_or_else(|e| e)
}

/// The encoded document, or the encoder's error (Helm 4's `mustToToml`
/// fails the render with it).
pub fn try_to_toml(v: &Value) -> Result<String, String> {
    let mut enc = Encoder::default();
    enc.top(v).map(|()| enc.out)
}

/// What the encoder decides a value is: it routes tables and arrays of
/// tables to headers and everything else to `key = value` lines.
#[derive(PartialEq)]
enum Kind {
    Nil,
    Table,
    TableArray,
    Plain,
}

/// Structs (Sprig's certificate, Helm's objects) encode as their data.
fn data(v: &Value) -> Value {
    match v {
        Value::Object(o) => o.to_data(),
        other => other.clone(),
    }
}

fn items(v: &Value) -> Option<Vec<Value>> {
    match v {
        Value::Bytes(b) => Some(b.iter().map(|x| Value::Int(i64::from(*x))).collect()),
        other => other.list_items(),
    }
}

fn kind(v: &Value) -> Result<Kind, String> {
    Ok(match data(v) {
        Value::Invalid | Value::Nil => Kind::Nil,
        Value::Map(_) => Kind::Table,
        list @ (Value::List(_) | Value::StrList(_) | Value::Bytes(_)) => {
            let elems = items(&list).unwrap_or_default();
            let mut all_tables = !elems.is_empty();
            for e in &elems {
                match kind(e)? {
                    Kind::Nil => return Err(NIL_ELEMENT.into()),
                    Kind::Table => {}
                    _ => all_tables = false,
                }
            }
            if all_tables {
                Kind::TableArray
            } else {
                Kind::Plain
            }
        }
        _ => Kind::Plain,
    })
}

fn is_bare(s: &str) -> bool {
    !s.is_empty()
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
}

fn quoted(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\u{8}' => out.push_str("\\b"),
            '\t' => out.push_str("\\t"),
            '\n' => out.push_str("\\n"),
            '\u{c}' => out.push_str("\\f"),
            '\r' => out.push_str("\\r"),
            c if (c as u32) < 0x20 || c == '\u{7f}' => {
                out.push_str(&format!("\\u{:04x}", c as u32));
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

fn key_part(s: &str) -> String {
    if is_bare(s) { s.to_string() } else { quoted(s) }
}

fn dotted(key: &[String]) -> String {
    key.iter()
        .map(|k| key_part(k))
        .collect::<Vec<_>>()
        .join(".")
}

fn float(f: f64) -> String {
    if f.is_nan() {
        return if f.is_sign_negative() { "-nan" } else { "nan" }.into();
    }
    if f.is_infinite() {
        return if f < 0.0 { "-inf" } else { "+inf" }.into();
    }
    // strconv's shortest 'g' form; TOML wants a decimal point unless there
    // is an exponent.
    let s = crate::gofmt::format_g(f, None, false);
    if s.contains('.') || s.contains('e') {
        s
    } else {
        format!("{s}.0")
    }
}

/// A map's entries, in key order.
type Entries = Vec<(String, Value)>;

#[derive(Default)]
struct Encoder {
    out: String,
}

impl Encoder {
    /// A line break, unless nothing has been written yet.
    fn newline(&mut self) {
        if !self.out.is_empty() {
            self.out.push('\n');
        }
    }

    fn indent(key: &[String]) -> String {
        "  ".repeat(key.len().saturating_sub(1))
    }

    fn top(&mut self, v: &Value) -> Result<(), String> {
        match (data(v), kind(v)?) {
            (Value::Invalid | Value::Nil, _) => Ok(()),
            (m @ Value::Map(_), _) => self.table(&[], &m),
            // Arrays of tables need a key to be written under.
            (_, Kind::TableArray) => Err(NO_KEY.into()),
            // Go's encoder writes any other value bare, without a key.
            (other, _) => self.element(&other),
        }
    }

    fn encode(&mut self, key: &[String], v: &Value) -> Result<(), String> {
        match kind(v)? {
            Kind::Nil => Ok(()),
            Kind::Table => self.table(key, &data(v)),
            Kind::TableArray => {
                for t in items(&data(v)).unwrap_or_default() {
                    self.newline();
                    self.out
                        .push_str(&format!("{}[[{}]]", Self::indent(key), dotted(key)));
                    self.newline();
                    self.entries(key, &data(&t))?;
                }
                Ok(())
            }
            Kind::Plain => {
                self.out.push_str(&format!(
                    "{}{} = ",
                    Self::indent(key),
                    key_part(key.last().map(String::as_str).unwrap_or_default())
                ));
                self.element(v)?;
                self.newline();
                Ok(())
            }
        }
    }

    fn table(&mut self, key: &[String], v: &Value) -> Result<(), String> {
        if key.len() == 1 {
            self.newline();
        }
        if !key.is_empty() {
            self.out
                .push_str(&format!("{}[{}]", Self::indent(key), dotted(key)));
            self.newline();
        }
        self.entries(key, v)
    }

    /// A map's keys: plain ones first, then tables, each group sorted.
    fn split(v: &Value) -> Result<(Entries, Entries), String> {
        let Value::Map(m) = v else {
            return Ok((Vec::new(), Vec::new()));
        };
        let (mut direct, mut sub) = (Vec::new(), Vec::new());
        for (k, val) in m.entries() {
            match kind(&val)? {
                Kind::Table | Kind::TableArray => sub.push((k, val)),
                _ => direct.push((k, val)),
            }
        }
        Ok((direct, sub))
    }

    fn entries(&mut self, key: &[String], v: &Value) -> Result<(), String> {
        let (direct, sub) = Self::split(v)?;
        for (k, val) in direct.into_iter().chain(sub) {
            if val.is_nil() {
                continue;
            }
            let mut child = key.to_vec();
            child.push(k);
            self.encode(&child, &val)?;
        }
        Ok(())
    }

    fn inline_table(&mut self, v: &Value) -> Result<(), String> {
        let (direct, sub) = Self::split(v)?;
        let trailing_comma = !sub.is_empty();
        self.out.push('{');
        for (group, trail) in [(direct, trailing_comma), (sub, false)] {
            let n = group.len();
            for (i, (k, val)) in group.into_iter().enumerate() {
                if val.is_nil() {
                    continue;
                }
                self.out.push_str(&format!("{} = ", key_part(&k)));
                self.element(&val)?;
                if trail || i + 1 != n {
                    self.out.push_str(", ");
                }
            }
        }
        self.out.push('}');
        Ok(())
    }

    fn element(&mut self, v: &Value) -> Result<(), String> {
        match data(v) {
            Value::Str(s) => self.out.push_str(&quoted(&s)),
            Value::Bool(b) => self.out.push_str(if b { "true" } else { "false" }),
            Value::Int(i) | Value::Int64(i) => self.out.push_str(&i.to_string()),
            Value::Float(f) => self.out.push_str(&float(f)),
            Value::Time(t) => self.out.push_str(&crate::sprig::format_time(
                &t,
                "2006-01-02T15:04:05.999999999Z07:00",
            )),
            m @ Value::Map(_) => self.inline_table(&m)?,
            list @ (Value::List(_) | Value::StrList(_) | Value::Bytes(_)) => {
                let elems = items(&list).unwrap_or_default();
                self.out.push('[');
                for (i, e) in elems.iter().enumerate() {
                    self.element(e)?;
                    if i + 1 != elems.len() {
                        self.out.push_str(", ");
                    }
                }
                self.out.push(']');
            }
            Value::Invalid | Value::Nil => return Err(NIL_ELEMENT.into()),
            Value::Object(o) => self.out.push_str(&quoted(&o.print())),
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::value::Map;

    fn map(pairs: Vec<(&str, Value)>) -> Value {
        Value::map(
            pairs
                .into_iter()
                .map(|(k, v)| (k.to_string(), v))
                .collect::<Map>(),
        )
    }

    #[test]
    fn plain_keys_come_before_tables_and_nested_tables_are_indented() {
        let v = map(vec![
            (
                "t",
                map(vec![
                    ("x", Value::Int(1)),
                    ("u", map(vec![("y", Value::Bool(true))])),
                ]),
            ),
            ("a", Value::Float(2.0)),
        ]);
        assert_eq!(
            to_toml(&v),
            "a = 2.0\n\n[t]\n  x = 1\n  [t.u]\n    y = true\n"
        );
    }

    #[test]
    fn a_nil_inside_an_array_is_the_encoders_error() {
        let v = map(vec![("l", Value::list(vec![Value::Int(1), Value::Nil]))]);
        assert_eq!(to_toml(&v), NIL_ELEMENT);
    }

    #[test]
    fn keys_that_are_not_bare_are_quoted() {
        let v = map(vec![("a b", Value::str("q\"\n"))]);
        assert_eq!(to_toml(&v), "\"a b\" = \"q\\\"\\n\"\n");
    }
}
