//! The value model: what a Go template sees through reflection, reduced to
//! the types Helm's data and Sprig's functions produce.
//!
//! Data decoded from YAML or JSON holds `float64` numbers, `map[string]interface{}`
//! and `[]interface{}`; template literals are `int`; Sprig's arithmetic is
//! `int64`. The distinction shows in `printf "%T"` and in error messages, so
//! it is kept.

use std::collections::BTreeMap;
use std::sync::{Arc as Rc, Mutex, MutexGuard};

/// A map with Go's key order for printing and ranging (sorted by key).
pub type Map = BTreeMap<String, Value>;

/// A Go map: a shared, mutable reference (Sprig's `set` changes the map
/// every holder sees).
#[derive(Debug, Clone, Default)]
pub struct MapRef(Rc<Mutex<Map>>);

impl MapRef {
    pub fn new(m: Map) -> MapRef {
        MapRef(Rc::new(Mutex::new(m)))
    }

    fn lock(&self) -> MutexGuard<'_, Map> {
        self.0.lock().unwrap_or_else(|e| e.into_inner())
    }

    pub fn get(&self, k: &str) -> Option<Value> {
        self.lock().get(k).cloned()
    }

    pub fn contains_key(&self, k: &str) -> bool {
        self.lock().contains_key(k)
    }

    pub fn len(&self) -> usize {
        self.lock().len()
    }

    pub fn is_empty(&self) -> bool {
        self.lock().is_empty()
    }

    /// A copy of the entries in key order (values shared).
    pub fn entries(&self) -> Vec<(String, Value)> {
        self.lock()
            .iter()
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect()
    }

    pub fn keys(&self) -> Vec<String> {
        self.lock().keys().cloned().collect()
    }

    /// A shallow copy of the map.
    pub fn snapshot(&self) -> Map {
        self.lock().clone()
    }

    pub fn insert(&self, k: String, v: Value) {
        self.lock().insert(k, v);
    }

    pub fn remove(&self, k: &str) {
        self.lock().remove(k);
    }

    pub fn same(&self, other: &MapRef) -> bool {
        Rc::ptr_eq(&self.0, &other.0)
    }
}

/// One template value.
#[derive(Debug, Clone, Default)]
pub enum Value {
    /// Go's invalid `reflect.Value`: a missing map key, an unset variable.
    /// Prints as `<no value>`.
    #[default]
    Invalid,
    /// A nil `interface{}` held in a map or list (YAML `null`).
    Nil,
    Bool(bool),
    /// Go `int` (template literals, `len`, `atoi`).
    Int(i64),
    /// Go `int64` (Sprig arithmetic).
    Int64(i64),
    Float(f64),
    Str(Rc<str>),
    /// `[]interface{}`
    List(Rc<Vec<Value>>),
    /// `[]string` (what `splitList`, `keys` and friends return)
    StrList(Rc<Vec<String>>),
    /// `map[string]interface{}`
    Map(MapRef),
    /// `[]byte`
    Bytes(Rc<Vec<u8>>),
    /// `time.Time` (Sprig's `now`, `toDate`).
    Time(Rc<GoTime>),
    /// A Go value with fields and methods supplied by the embedding program.
    Object(Rc<dyn Object>),
}

/// A Go struct or pointer the embedding program provides, such as Helm's
/// `.Files` and `.Capabilities`: templates read its fields and call its
/// methods (`.Files.Get "x"`).
pub trait Object: Send + Sync + std::fmt::Debug {
    /// The Go type name, as `%T` and error messages print it.
    fn type_name(&self) -> &'static str;
    /// A field's value; None when the type has no such field.
    fn field(&self, name: &str) -> Option<Value>;
    /// The parameter count of method `name`; None when there is no such method.
    fn method_arity(&self, _name: &str) -> Option<usize> {
        None
    }
    /// Calls method `name` with exactly `method_arity` arguments.
    fn call(&self, name: &str, _args: Vec<Value>) -> Result<Value, String> {
        Err(format!("{name} is not a method"))
    }
    /// How `%v` prints it.
    fn print(&self) -> String;
    /// The value toJson/toYaml see.
    fn to_data(&self) -> Value {
        Value::Nil
    }
    /// The key/value (or index/element) pairs `range` visits when the
    /// object is a Go map or slice type (Helm's `.Files`,
    /// `.Capabilities.APIVersions`); None when it cannot be ranged over.
    fn entries(&self) -> Option<Vec<(Value, Value)>> {
        None
    }
    /// The concrete type, for functions that take their own objects back.
    fn as_any(&self) -> Option<&dyn std::any::Any> {
        None
    }
}

/// An instant with the zone it is shown in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GoTime {
    /// Seconds since the Unix epoch.
    pub unix: i64,
    pub nanos: u32,
    /// Seconds east of UTC.
    pub offset: i32,
    pub zone: String,
}

impl GoTime {
    pub fn utc(unix: i64, nanos: u32) -> GoTime {
        GoTime {
            unix,
            nanos,
            offset: 0,
            zone: "UTC".into(),
        }
    }

    /// Go's zero time, 0001-01-01 00:00:00 UTC.
    pub fn zero() -> GoTime {
        GoTime::utc(-62_135_596_800, 0)
    }

    pub fn add_nanos(&self, d: i128) -> GoTime {
        let total = i128::from(self.unix) * 1_000_000_000 + i128::from(self.nanos) + d;
        GoTime {
            unix: total.div_euclid(1_000_000_000) as i64,
            nanos: total.rem_euclid(1_000_000_000) as u32,
            ..self.clone()
        }
    }
}

impl Value {
    pub fn str(s: impl Into<Rc<str>>) -> Value {
        Value::Str(s.into())
    }

    pub fn list(v: Vec<Value>) -> Value {
        Value::List(Rc::new(v))
    }

    pub fn map(m: Map) -> Value {
        Value::Map(MapRef::new(m))
    }

    /// The Go type name, as `%T` and error messages print it.
    pub fn type_name(&self) -> &'static str {
        match self {
            Value::Invalid => "<nil>",
            Value::Nil => "<nil>",
            Value::Bool(_) => "bool",
            Value::Int(_) => "int",
            Value::Int64(_) => "int64",
            Value::Float(_) => "float64",
            Value::Str(_) => "string",
            Value::List(_) => "[]interface {}",
            Value::StrList(_) => "[]string",
            Value::Map(_) => "map[string]interface {}",
            Value::Bytes(_) => "[]uint8",
            Value::Time(_) => "time.Time",
            Value::Object(o) => o.type_name(),
        }
    }

    pub fn is_valid(&self) -> bool {
        !matches!(self, Value::Invalid)
    }

    /// Go's nil-ness (after looking inside an interface).
    pub fn is_nil(&self) -> bool {
        matches!(self, Value::Invalid | Value::Nil)
    }

    /// `if`/`with`/`and`/`or`/`not` truth: the zero value is false.
    pub fn truth(&self) -> bool {
        match self {
            Value::Invalid | Value::Nil => false,
            Value::Bool(b) => *b,
            Value::Int(i) | Value::Int64(i) => *i != 0,
            Value::Float(f) => *f != 0.0,
            Value::Str(s) => !s.is_empty(),
            Value::List(l) => !l.is_empty(),
            Value::StrList(l) => !l.is_empty(),
            Value::Map(m) => !m.is_empty(),
            Value::Bytes(b) => !b.is_empty(),
            // A struct is always true to text/template.
            Value::Time(_) | Value::Object(_) => true,
        }
    }

    pub fn as_str(&self) -> Option<&str> {
        match self {
            Value::Str(s) => Some(s),
            _ => None,
        }
    }

    /// Integer kinds, as Go's `intKind`.
    pub fn as_int(&self) -> Option<i64> {
        match self {
            Value::Int(i) | Value::Int64(i) => Some(*i),
            _ => None,
        }
    }

    /// The elements of either list flavour.
    pub fn list_items(&self) -> Option<Vec<Value>> {
        match self {
            Value::List(l) => Some(l.as_ref().clone()),
            Value::StrList(l) => Some(l.iter().map(|s| Value::str(s.as_str())).collect()),
            _ => None,
        }
    }

    /// Unwraps a nil interface into Go's invalid value, as the executor does
    /// to every pipeline result.
    pub fn unboxed(self) -> Value {
        match self {
            Value::Nil => Value::Invalid,
            v => v,
        }
    }

    /// Converts JSON (from YAML or JSON decoding) into template data the way
    /// Helm sees it: every number is a float64.
    pub fn from_json(j: &serde_json::Value) -> Value {
        match j {
            serde_json::Value::Null => Value::Nil,
            serde_json::Value::Bool(b) => Value::Bool(*b),
            serde_json::Value::Number(n) => Value::Float(n.as_f64().unwrap_or(0.0)),
            serde_json::Value::String(s) => Value::str(s.as_str()),
            serde_json::Value::Array(a) => Value::list(a.iter().map(Value::from_json).collect()),
            serde_json::Value::Object(o) => Value::map(
                o.iter()
                    .map(|(k, v)| (k.clone(), Value::from_json(v)))
                    .collect(),
            ),
        }
    }
}

impl From<&str> for Value {
    fn from(s: &str) -> Value {
        Value::str(s)
    }
}

impl From<String> for Value {
    fn from(s: String) -> Value {
        Value::str(s)
    }
}

impl From<bool> for Value {
    fn from(b: bool) -> Value {
        Value::Bool(b)
    }
}
