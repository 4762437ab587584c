//! Go's text/template in Rust, with Sprig's and Helm's template functions,
//! written to render exactly what `helm template` renders: the same output
//! bytes and the same error messages.
//!
//! ```
//! use driftless_gotemplate::{Templates, Value};
//! let mut t = Templates::helm();
//! t.parse("t", "{{ .name | upper }}").unwrap();
//! let data = Value::from_yaml("name: web").unwrap();
//! assert_eq!(t.execute("t", &data).unwrap(), "WEB");
//! ```

mod builtins;
mod exec;
mod funcs;
pub mod gofmt;
pub mod helm;
mod lex;
mod literal;
mod node;
mod parse;
pub mod sprig;
pub mod tomlenc;
mod value;
pub mod yaml;

use std::collections::BTreeMap;
use std::sync::Arc;

pub use exec::{Exec, MissingKey};
pub use funcs::{Func, FuncMap, FuncResult, Ty};
pub use value::{GoTime, Map, MapRef, Object, Value};

use parse::Tree;

/// Errors, worded as Go words them.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Error {
    /// The template text does not parse.
    #[error("{0}")]
    Parse(String),
    /// Execution failed.
    #[error("{0}")]
    Exec(String),
}

/// Limits and behaviour of one template set.
#[derive(Debug, Clone)]
pub struct Options {
    pub missing_key: MissingKey,
    /// Nested `template`/`include` calls (Go's limit is 100000).
    pub max_depth: usize,
    /// Bytes one execution may write, nested includes counted.
    pub max_output: usize,
    /// Iterations of `range` over an integer.
    pub max_range: usize,
    /// Nodes and `range` iterations one execution may evaluate, includes counted: a template
    /// that loops without writing (nested ranges, branching includes) stops here instead of
    /// running for ever.
    pub max_steps: u64,
    /// Seed for Sprig's random functions (`randAlphaNum`, `uuidv4`, ...);
    /// None draws a fresh seed per execution. Tests fix it.
    pub seed: Option<u64>,
    /// What `now` returns (Unix seconds); None reads the clock. Tests fix it.
    pub now: Option<i64>,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            missing_key: MissingKey::Invalid,
            max_depth: 100_000,
            max_output: 64 << 20,
            max_range: 10_000_000,
            max_steps: 50_000_000,
            seed: None,
            now: None,
        }
    }
}

/// A set of named templates sharing one function map (Go's *template.Template).
#[derive(Clone)]
pub struct Templates {
    pub(crate) trees: BTreeMap<String, Arc<Tree>>,
    pub(crate) funcs: Arc<FuncMap>,
    pub options: Options,
    /// The name the set was created with (Go's top-level template name).
    pub root_name: String,
}

impl Templates {
    /// Go's builtins only.
    pub fn new(root_name: &str) -> Templates {
        Templates::with_funcs(root_name, builtins::builtins())
    }

    /// The builtins plus `funcs`.
    pub fn with_funcs(root_name: &str, funcs: FuncMap) -> Templates {
        let mut all = builtins::builtins();
        all.extend(funcs);
        Templates {
            trees: BTreeMap::new(),
            funcs: Arc::new(all),
            options: Options::default(),
            root_name: root_name.to_string(),
        }
    }

    /// Helm's engine: builtins, Sprig, Helm's functions, `missingkey=zero`.
    pub fn helm() -> Templates {
        let mut t = Templates::with_funcs("gotpl", helm::funcs());
        t.options.missing_key = MissingKey::Zero;
        t
    }

    /// Parses `text` as template `name`; its `define`s join the set. A
    /// later definition replaces an earlier one, unless it is empty.
    pub fn parse(&mut self, name: &str, text: &str) -> Result<(), Error> {
        let funcs = self.funcs.clone();
        let set = run_with_stack(|| parse::parse(name, text, &|f| funcs.contains(f)))
            .map_err(Error::Parse)?;
        self.add_trees(set);
        Ok(())
    }

    pub(crate) fn add_trees(&mut self, set: BTreeMap<String, Tree>) {
        for (n, t) in set {
            let keep_old = node::is_empty_tree(&t.root) && self.trees.contains_key(&n);
            if !keep_old {
                self.trees.insert(n, Arc::new(t));
            }
        }
    }

    /// Whether a template of that name exists.
    pub fn has(&self, name: &str) -> bool {
        self.trees.contains_key(name)
    }

    /// Executes template `name` over `data`.
    pub fn execute(&self, name: &str, data: &Value) -> Result<String, Error> {
        run_with_stack(|| {
            let mut ex = Exec::new(self);
            ex.execute_named(name, data.clone()).map_err(Error::Exec)
        })
    }
}

/// Deep templates recurse deeply; run them on a thread with a stack sized
/// for the depth limit instead of the caller's. Should the system refuse
/// the thread, the work runs on the caller's thread.
fn run_with_stack<T: Send>(f: impl FnOnce() -> T + Send) -> T {
    let cell = std::sync::Mutex::new(Some(f));
    let take = || cell.lock().unwrap_or_else(|e| e.into_inner()).take();
    let spawned = std::thread::scope(|s| {
        let h = std::thread::Builder::new()
            .stack_size(1 << 30)
            .spawn_scoped(s, || take().map(|f| f()));
        match h {
            Ok(h) => match h.join() {
                Ok(v) => v,
                Err(p) => std::panic::resume_unwind(p),
            },
            Err(_) => None,
        }
    });
    match spawned {
        Some(v) => v,
        None => match take() {
            Some(f) => f(),
            None => unreachable_taken(),
        },
    }
}

#[allow(clippy::panic)]
fn unreachable_taken() -> ! {
    panic!("template work neither ran on its thread nor is left to run")
}

impl Value {
    /// Decodes YAML the way Helm reads values: through JSON, so numbers are float64.
    pub fn from_yaml(text: &str) -> Result<Value, String> {
        yaml::parse(text)
    }
}
