//! YAML decoding as Helm does it (go-yaml v2 semantics, then JSON).

use crate::gofmt::format_g;
use crate::value::Value;

/// Decodes one YAML document into template data as Helm sees it: YAML 1.1
/// scalars (`yes`, `y`, `0o17`, `012`), keys turned into strings, every
/// number a float64 (Helm's YAML goes through JSON).
pub fn parse(text: &str) -> Result<Value, String> {
    if text.trim().is_empty() {
        return Ok(Value::Nil);
    }
    let options = serde_saphyr::options! {
        legacy_octal_numbers: true,
        duplicate_keys: serde_saphyr::DuplicateKeyPolicy::LastWins,
    };
    let node: Node =
        serde_saphyr::from_str_with_options(text, options).map_err(|e| e.to_string())?;
    node.into_value()
}

/// A decoded YAML node, before Helm's JSON conversion.
enum Node {
    Null,
    Bool(bool),
    Int(i128),
    Float(f64),
    Str(String),
    List(Vec<Node>),
    Map(Vec<(Node, Node)>),
}

impl Node {
    fn into_value(self) -> Result<Value, String> {
        Ok(match self {
            Node::Null => Value::Nil,
            Node::Bool(b) => Value::Bool(b),
            Node::Int(i) => Value::Float(i as f64),
            Node::Float(f) => Value::Float(f),
            Node::Str(s) => Value::str(s),
            Node::List(l) => Value::list(
                l.into_iter()
                    .map(Node::into_value)
                    .collect::<Result<_, _>>()?,
            ),
            Node::Map(entries) => {
                let mut m = crate::value::Map::new();
                for (k, v) in entries {
                    let key = match k {
                        Node::Str(s) => s,
                        Node::Bool(b) => b.to_string(),
                        Node::Int(i) => i.to_string(),
                        Node::Float(f) => format_g(f, None, false),
                        _ => {
                            return Err("error converting YAML to JSON: unsupported map key of type: %!s(<nil>), key: <nil>, value: <nil>".into());
                        }
                    };
                    m.insert(key, v.into_value()?);
                }
                Value::map(m)
            }
        })
    }
}

struct NodeVisitor;

impl<'de> serde::de::Visitor<'de> for NodeVisitor {
    type Value = Node;

    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("any YAML value")
    }

    fn visit_bool<E>(self, v: bool) -> Result<Node, E> {
        Ok(Node::Bool(v))
    }

    fn visit_i64<E>(self, v: i64) -> Result<Node, E> {
        Ok(Node::Int(v as i128))
    }

    fn visit_u64<E>(self, v: u64) -> Result<Node, E> {
        Ok(Node::Int(v as i128))
    }

    fn visit_i128<E>(self, v: i128) -> Result<Node, E> {
        Ok(Node::Int(v))
    }

    fn visit_u128<E>(self, v: u128) -> Result<Node, E> {
        Ok(Node::Float(v as f64))
    }

    fn visit_f64<E>(self, v: f64) -> Result<Node, E> {
        Ok(Node::Float(v))
    }

    fn visit_str<E>(self, v: &str) -> Result<Node, E> {
        Ok(Node::Str(v.to_string()))
    }

    fn visit_string<E>(self, v: String) -> Result<Node, E> {
        Ok(Node::Str(v))
    }

    fn visit_bytes<E>(self, v: &[u8]) -> Result<Node, E> {
        Ok(Node::Str(String::from_utf8_lossy(v).into_owned()))
    }

    fn visit_unit<E>(self) -> Result<Node, E> {
        Ok(Node::Null)
    }

    fn visit_none<E>(self) -> Result<Node, E> {
        Ok(Node::Null)
    }

    fn visit_some<D: serde::Deserializer<'de>>(self, d: D) -> Result<Node, D::Error> {
        serde::Deserialize::deserialize(d)
    }

    fn visit_seq<A: serde::de::SeqAccess<'de>>(self, mut a: A) -> Result<Node, A::Error> {
        let mut v = Vec::new();
        while let Some(x) = a.next_element::<Node>()? {
            v.push(x);
        }
        Ok(Node::List(v))
    }

    fn visit_map<A: serde::de::MapAccess<'de>>(self, mut a: A) -> Result<Node, A::Error> {
        let mut v = Vec::new();
        while let Some((k, x)) = a.next_entry::<Node, Node>()? {
            v.push((k, x));
        }
        Ok(Node::Map(v))
    }
}

impl<'de> serde::Deserialize<'de> for Node {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Node, D::Error> {
        d.deserialize_any(NodeVisitor)
    }
}
