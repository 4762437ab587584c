//! Function maps: each function declares its Go parameter types, because Go
//! checks argument counts and types (and phrases the errors) before calling.

use std::collections::HashMap;
use std::sync::Arc;

use crate::exec::Exec;
use crate::value::Value;

/// A Go parameter type, as far as template calls can tell them apart.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ty {
    /// `interface{}`
    Any,
    /// `reflect.Value` (Go's builtins): the raw value, missing values included.
    Raw,
    Str,
    Int,
    Int64,
    /// `uint32` (Sprig's derivePassword counter)
    Uint32,
    Float,
    Bool,
    /// `[]interface{}`
    List,
    /// `map[string]interface{}`
    Map,
    /// A struct type an [`crate::Object`] reports as its type name.
    Named(&'static str),
}

impl Ty {
    pub fn go_name(self) -> &'static str {
        match self {
            Ty::Any => "interface {}",
            Ty::Raw => "reflect.Value",
            Ty::Str => "string",
            Ty::Int => "int",
            Ty::Int64 => "int64",
            Ty::Uint32 => "uint32",
            Ty::Float => "float64",
            Ty::Bool => "bool",
            Ty::List => "[]interface {}",
            Ty::Map => "map[string]interface {}",
            Ty::Named(n) => n,
        }
    }

    pub fn can_be_nil(self) -> bool {
        matches!(self, Ty::Any | Ty::List | Ty::Map)
    }
}

pub type FuncResult = Result<Value, String>;
pub type FuncImpl = Arc<dyn Fn(&mut Exec<'_>, Vec<Value>) -> FuncResult + Send + Sync>;

/// One callable function.
#[derive(Clone)]
pub struct Func {
    pub params: Vec<Ty>,
    pub variadic: Option<Ty>,
    pub imp: FuncImpl,
}

impl Func {
    pub fn new(
        params: &[Ty],
        variadic: Option<Ty>,
        imp: impl Fn(&mut Exec<'_>, Vec<Value>) -> FuncResult + Send + Sync + 'static,
    ) -> Func {
        Func {
            params: params.to_vec(),
            variadic,
            imp: Arc::new(imp),
        }
    }
}

/// Functions by name.
#[derive(Clone, Default)]
pub struct FuncMap {
    map: HashMap<String, Func>,
}

impl FuncMap {
    pub fn new() -> FuncMap {
        FuncMap::default()
    }

    pub fn insert(&mut self, name: &str, f: Func) {
        self.map.insert(name.to_string(), f);
    }

    /// A pure function of its arguments.
    pub fn add(
        &mut self,
        name: &str,
        params: &[Ty],
        variadic: Option<Ty>,
        f: impl Fn(Vec<Value>) -> FuncResult + Send + Sync + 'static,
    ) {
        self.insert(name, Func::new(params, variadic, move |_, a| f(a)));
    }

    pub fn get(&self, name: &str) -> Option<&Func> {
        self.map.get(name)
    }

    pub fn contains(&self, name: &str) -> bool {
        self.map.contains_key(name)
    }

    pub fn extend(&mut self, other: FuncMap) {
        self.map.extend(other.map);
    }

    pub fn names(&self) -> impl Iterator<Item = &String> {
        self.map.keys()
    }
}
