//! The document tree every format is read into: ordered mappings, sequences,
//! typed scalars and comments, the way sops holds a file between its store
//! (YAML, JSON, dotenv) and its cipher.

/// A comment line without its `#`; `inline` when it followed a value on the
/// same line.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Comment {
    pub text: String,
    pub inline: bool,
}

/// A value in the tree.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Value {
    Null,
    Bool(bool),
    Int(i64),
    Float(f64),
    Str(String),
    /// A timestamp, kept as its RFC 3339 text.
    Time(String),
    Comment(Comment),
    Map(Branch),
    Seq(Vec<Value>),
}

/// A mapping key: a string, or a comment line standing between entries.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Key {
    Str(String),
    Comment(Comment),
}

#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Item {
    pub key: Key,
    pub value: Value,
}

/// An ordered mapping.
pub(crate) type Branch = Vec<Item>;

impl Item {
    pub fn new(key: impl Into<String>, value: Value) -> Self {
        Self {
            key: Key::Str(key.into()),
            value,
        }
    }

    pub fn comment(text: impl Into<String>, inline: bool) -> Self {
        Self {
            key: Key::Comment(Comment {
                text: text.into(),
                inline,
            }),
            value: Value::Null,
        }
    }

    pub fn key_str(&self) -> Option<&str> {
        match &self.key {
            Key::Str(s) => Some(s),
            Key::Comment(_) => None,
        }
    }
}

/// The entry of `branch` under `key`.
pub(crate) fn get<'a>(branch: &'a Branch, key: &str) -> Option<&'a Value> {
    branch
        .iter()
        .find(|i| i.key_str() == Some(key))
        .map(|i| &i.value)
}

impl Value {
    pub fn as_str(&self) -> Option<&str> {
        match self {
            Value::Str(s) => Some(s),
            _ => None,
        }
    }

    pub fn as_map(&self) -> Option<&Branch> {
        match self {
            Value::Map(m) => Some(m),
            _ => None,
        }
    }

    /// The bytes sops feeds into its MAC for this value (Go's `ToBytes`):
    /// booleans are `True`/`False`, floats print without an exponent.
    pub fn mac_bytes(&self) -> Option<Vec<u8>> {
        match self {
            Value::Str(s) | Value::Time(s) => Some(s.as_bytes().to_vec()),
            Value::Int(i) => Some(i.to_string().into_bytes()),
            Value::Float(f) => Some(go_format_f(*f).into_bytes()),
            Value::Bool(true) => Some(b"True".to_vec()),
            Value::Bool(false) => Some(b"False".to_vec()),
            Value::Null | Value::Comment(_) | Value::Map(_) | Value::Seq(_) => None,
        }
    }
}

/// Go's `strconv.FormatFloat(f, 'f', -1, 64)`: the shortest digits that
/// read back to `f`, never an exponent. Rust's `Display` prints the same
/// digits; only the non-finite spellings differ.
pub(crate) fn go_format_f(f: f64) -> String {
    if f.is_nan() {
        "NaN".into()
    } else if f.is_infinite() {
        if f > 0.0 {
            "+Inf".into()
        } else {
            "-Inf".into()
        }
    } else {
        format!("{f}")
    }
}
