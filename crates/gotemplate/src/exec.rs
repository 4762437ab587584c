//! The executor: walks a tree over data the way Go's text/template does,
//! with its scoping, missing-key rules and error texts.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

mod call;
mod range;

use crate::Templates;
use crate::funcs::{Func, Ty};
use crate::gofmt::sprint_value;
use crate::node::{Arg, Branch, Command, List, Node, NodeKind, Number, Pipe};
use crate::parse::Tree;
use crate::value::Value;

/// What a missing map key yields (Go's `missingkey` option).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MissingKey {
    /// `<no value>` (Go's default).
    Invalid,
    /// The zero value of the map's element type (Helm's choice).
    Zero,
    /// An error naming the key.
    Error,
}

/// A value with whether Go sees it through an `interface{}` (map and
/// list elements) — only error messages tell the difference.
#[derive(Debug, Clone)]
pub struct Val {
    pub v: Value,
    pub boxed: bool,
}

impl Val {
    fn plain(v: Value) -> Val {
        Val { v, boxed: false }
    }
}

/// The node an error is reported at.
#[derive(Debug, Clone)]
enum At {
    Text(String),
    Node(NodeKind),
}

fn kind_of(at: &At) -> &NodeKind {
    match at {
        At::Node(k) => k,
        At::Text(_) => &NodeKind::Arg,
    }
}

/// How a walk stops early.
#[derive(Debug)]
pub enum Flow {
    Error(String),
    Break,
    Continue,
}

type R<T> = Result<T, Flow>;

struct Frame {
    tree: Arc<Tree>,
    name: String,
    vars: Vec<(String, Val)>,
}

/// One execution: output, depth and the template layers `tpl` adds.
pub struct Exec<'a> {
    pub set: &'a Templates,
    pub(crate) overlays: Vec<BTreeMap<String, Arc<Tree>>>,
    out: String,
    depth: usize,
    at_pos: usize,
    at_ctx: At,
    frames: Vec<Frame>,
    /// Per-name nesting of `include` (Helm's recursion guard).
    pub include_depth: HashMap<String, usize>,
    /// Bytes written by enclosing executions (include, tpl) that share the cap.
    pub(crate) outer_len: usize,
    /// The random source of Sprig's random functions.
    pub rng: fastrand::Rng,
    /// Steps taken so far, against `Options::max_steps`.
    steps: u64,
}

fn err(msg: impl Into<String>) -> Flow {
    Flow::Error(msg.into())
}

impl<'a> Exec<'a> {
    pub fn new(set: &'a Templates) -> Exec<'a> {
        Exec {
            set,
            overlays: Vec::new(),
            out: String::new(),
            depth: 0,
            at_pos: 0,
            at_ctx: At::Text(String::new()),
            frames: Vec::new(),
            include_depth: HashMap::new(),
            outer_len: 0,
            steps: 0,
            rng: match set.options.seed {
                Some(s) => fastrand::Rng::with_seed(s),
                None => fastrand::Rng::new(),
            },
        }
    }

    pub fn lookup(&self, name: &str) -> Option<Arc<Tree>> {
        for layer in self.overlays.iter().rev() {
            if let Some(t) = layer.get(name) {
                return Some(t.clone());
            }
        }
        self.set.trees.get(name).cloned()
    }

    fn func(&self, name: &str) -> Option<Func> {
        self.set.funcs.get(name).cloned()
    }

    /// Runs template `name` with `data` as dot and `$`, returning its output.
    pub fn execute_named(&mut self, name: &str, data: Value) -> Result<String, String> {
        let Some(tree) = self.lookup(name) else {
            return Err(format!(
                "template: no template {} associated with template {}",
                crate::gofmt::quote(name),
                crate::gofmt::quote(&self.set.root_name)
            ));
        };
        self.run(tree, name, data)
    }

    pub(crate) fn run(
        &mut self,
        tree: Arc<Tree>,
        name: &str,
        data: Value,
    ) -> Result<String, String> {
        if self.depth >= self.set.options.max_depth {
            return Err(format!(
                "template: {}: exceeded maximum template depth ({})",
                name, self.set.options.max_depth
            ));
        }
        let saved_out = std::mem::take(&mut self.out);
        self.outer_len += saved_out.len();
        let dot = Val::plain(data);
        self.frames.push(Frame {
            tree: tree.clone(),
            name: name.to_string(),
            vars: vec![("$".into(), dot.clone())],
        });
        self.depth += 1;
        let r = self.walk_list(&dot, &tree.root);
        self.depth -= 1;
        self.frames.pop();
        self.outer_len -= saved_out.len();
        let out = std::mem::replace(&mut self.out, saved_out);
        match r {
            Ok(()) => Ok(out),
            Err(Flow::Error(e)) => Err(e),
            Err(_) => Err("internal error: break or continue outside range".into()),
        }
    }

    fn frame(&mut self) -> &mut Frame {
        let n = self.frames.len();
        &mut self.frames[n - 1]
    }

    /// Records the node being evaluated; its text is found again only if
    /// an error needs it.
    fn at(&mut self, pos: usize, ctx: At) {
        self.at_pos = pos;
        self.at_ctx = ctx;
    }

    /// An execution error at the current node, as Go formats it.
    pub fn errorf(&self, msg: impl AsRef<str>) -> Flow {
        let Some(f) = self.frames.last() else {
            return err(msg.as_ref());
        };
        let ctx = match &self.at_ctx {
            At::Text(t) => t.clone(),
            kind => crate::node::find_text(&f.tree.root, *kind_of(kind), self.at_pos)
                .unwrap_or_default(),
        };
        Flow::Error(format!(
            "template: {}: executing {} at <{}>: {}",
            f.tree.location(self.at_pos),
            crate::gofmt::quote(&f.name),
            ctx,
            msg.as_ref()
        ))
    }

    fn write(&mut self, s: &str) -> R<()> {
        if self.outer_len + self.out.len() + s.len() > self.set.options.max_output {
            return Err(err(format!(
                "template: output exceeds the limit of {} bytes",
                self.set.options.max_output
            )));
        }
        self.out.push_str(s);
        Ok(())
    }

    fn walk_list(&mut self, dot: &Val, list: &List) -> R<()> {
        for n in &list.nodes {
            self.walk(dot, n)?;
        }
        Ok(())
    }

    /// Counts one step against the execution's budget.
    fn tick(&mut self) -> R<()> {
        self.steps += 1;
        if self.steps > self.set.options.max_steps {
            return Err(err(format!(
                "template: execution exceeds the limit of {} steps",
                self.set.options.max_steps
            )));
        }
        Ok(())
    }

    fn walk(&mut self, dot: &Val, node: &Node) -> R<()> {
        self.tick()?;
        match node {
            Node::Text(t) => self.write(t),
            Node::Action(pipe) => {
                let v = self.eval_pipeline(dot, pipe)?;
                if pipe.decl.is_empty() {
                    let s = match &v.v {
                        Value::Invalid | Value::Nil => "<no value>".to_string(),
                        other => sprint_value(other),
                    };
                    self.write(&s)?;
                }
                Ok(())
            }
            Node::If(b) => self.walk_if_with(dot, b, false),
            Node::With(b) => self.walk_if_with(dot, b, true),
            Node::Range(b) => self.walk_range(dot, b),
            Node::Template { pos, name, pipe } => {
                self.walk_template(dot, *pos, name, pipe.as_ref())
            }
            Node::Break => Err(Flow::Break),
            Node::Continue => Err(Flow::Continue),
        }
    }

    fn walk_if_with(&mut self, dot: &Val, b: &Branch, is_with: bool) -> R<()> {
        let mark = self.frame().vars.len();
        let v = self.eval_pipeline(dot, &b.pipe)?;
        let r = if v.v.truth() {
            if is_with {
                self.walk_list(&v, &b.list)
            } else {
                self.walk_list(dot, &b.list)
            }
        } else if let Some(e) = &b.else_list {
            self.walk_list(dot, e)
        } else {
            Ok(())
        };
        self.frame().vars.truncate(mark);
        r
    }

    fn walk_template(&mut self, dot: &Val, pos: usize, name: &str, pipe: Option<&Pipe>) -> R<()> {
        let ctx = match pipe {
            Some(p) => format!("{{{{template {} {}}}}}", crate::gofmt::quote(name), p),
            None => format!("{{{{template {}}}}}", crate::gofmt::quote(name)),
        };
        self.at(pos, At::Text(ctx));
        let Some(tree) = self.lookup(name) else {
            return Err(self.errorf(format!(
                "template {} not defined",
                crate::gofmt::quote(name)
            )));
        };
        if self.depth >= self.set.options.max_depth {
            let msg = format!(
                "exceeded maximum template depth ({})",
                self.set.options.max_depth
            );
            return Err(self.errorf(msg));
        }
        let new_dot = match pipe {
            Some(p) => self.eval_pipeline(dot, p)?,
            None => Val::plain(Value::Invalid),
        };
        // The callee sees none of the caller's variables; output goes straight on.
        self.frames.push(Frame {
            tree: tree.clone(),
            name: name.to_string(),
            vars: vec![("$".into(), new_dot.clone())],
        });
        self.depth += 1;
        let r = self.walk_list(&new_dot, &tree.root);
        self.depth -= 1;
        self.frames.pop();
        r
    }

    pub(crate) fn eval_pipeline(&mut self, dot: &Val, pipe: &Pipe) -> R<Val> {
        self.at(pipe.pos, At::Node(NodeKind::Pipe));
        let mut value: Option<Val> = None;
        for cmd in &pipe.cmds {
            let v = self.eval_command(dot, cmd, value.take())?;
            // Go digs into interface{} results: a nil interface becomes "no value".
            value = Some(Val::plain(v.v.unboxed()));
        }
        let value = value.unwrap_or(Val::plain(Value::Invalid));
        for d in &pipe.decl {
            let vars = &mut self.frame().vars;
            if pipe.is_assign {
                if !set_var(vars, d, value.clone()) {
                    return Err(self.errorf(format!("undefined variable: {d}")));
                }
            } else {
                vars.push((d.clone(), value.clone()));
            }
        }
        Ok(value)
    }

    fn not_a_function(&mut self, cmd: &Command, has_final: bool) -> R<()> {
        if cmd.args.len() > 1 || has_final {
            let msg = format!("can't give argument to non-function {}", cmd.args[0]);
            return Err(self.errorf(msg));
        }
        Ok(())
    }

    fn eval_command(&mut self, dot: &Val, cmd: &Command, fin: Option<Val>) -> R<Val> {
        let first = &cmd.args[0];
        match first {
            Arg::Field { pos, idents } => {
                self.at(*pos, At::Node(NodeKind::Arg));
                self.eval_field_chain(dot, dot.clone(), idents, cmd, fin)
            }
            Arg::Chain { pos, node, fields } => {
                self.at(*pos, At::Node(NodeKind::Arg));
                if matches!(node.as_ref(), Arg::Nil(_)) {
                    return Err(self.errorf(format!("indirection through explicit nil in {first}")));
                }
                let recv = self.eval_arg(dot, Ty::Raw, node)?;
                self.eval_field_chain(dot, recv, fields, cmd, fin)
            }
            Arg::Identifier { pos, name } => {
                self.at(*pos, At::Node(NodeKind::Arg));
                self.eval_function(dot, name, cmd, fin)
            }
            Arg::Pipe(p) => {
                self.not_a_function(cmd, fin.is_some())?;
                self.eval_pipeline(dot, p)
            }
            Arg::Variable { pos, idents } => {
                self.at(*pos, At::Node(NodeKind::Arg));
                let v = self.var_value(&idents[0])?;
                if idents.len() == 1 {
                    self.not_a_function(cmd, fin.is_some())?;
                    return Ok(v);
                }
                self.eval_field_chain(dot, v, &idents[1..], cmd, fin)
            }
            _ => {
                self.at(first.pos(), At::Node(NodeKind::Arg));
                self.not_a_function(cmd, fin.is_some())?;
                match first {
                    Arg::Bool(_, b) => Ok(Val::plain(Value::Bool(*b))),
                    Arg::Dot(_) => Ok(dot.clone()),
                    Arg::Nil(_) => Err(self.errorf("nil is not a command")),
                    Arg::Number { text, value, .. } => {
                        Ok(Val::plain(self.ideal_constant(text, value)?))
                    }
                    Arg::String { text, .. } => Ok(Val::plain(Value::str(text.as_str()))),
                    _ => Err(self.errorf(format!("can't evaluate command {}", first))),
                }
            }
        }
    }

    fn ideal_constant(&mut self, text: &str, n: &Number) -> R<Value> {
        match n {
            Number::Int(i) => {
                let is_float_text = !text.starts_with("0x")
                    && !text.starts_with("0X")
                    && text.contains(['.', 'e', 'E', 'p', 'P']);
                if is_float_text {
                    Ok(Value::Float(*i as f64))
                } else {
                    Ok(Value::Int(*i))
                }
            }
            Number::Char(c) => Ok(Value::Int(*c)),
            Number::Float(f) => Ok(Value::Float(*f)),
            Number::Overflow => Err(self.errorf(format!("{text} overflows int"))),
            Number::Complex => {
                Err(self.errorf(format!("complex constant {text} is not supported")))
            }
        }
    }

    fn var_value(&mut self, name: &str) -> R<Val> {
        let vars = &self.frame().vars;
        for (n, v) in vars.iter().rev() {
            if n == name {
                return Ok(v.clone());
            }
        }
        Err(self.errorf(format!("undefined variable: {name}")))
    }

    fn eval_field_chain(
        &mut self,
        dot: &Val,
        mut recv: Val,
        idents: &[String],
        cmd: &Command,
        fin: Option<Val>,
    ) -> R<Val> {
        let n = idents.len();
        for id in &idents[..n - 1] {
            recv = self.eval_field(id, false, recv)?;
        }
        let name = &idents[n - 1];
        if let Value::Object(o) = &recv.v
            && let Some(arity) = o.method_arity(name)
        {
            return self.call_method(dot, o.clone(), name, arity, cmd, fin);
        }
        let has_args = cmd.args.len() > 1 || fin.is_some();
        self.eval_field(name, has_args, recv)
    }

    fn eval_field(&mut self, name: &str, has_args: bool, recv: Val) -> R<Val> {
        match &recv.v {
            Value::Invalid => {
                if self.set.options.missing_key == MissingKey::Error {
                    return Err(self.errorf(format!(
                        "nil data; no entry for key {}",
                        crate::gofmt::quote(name)
                    )));
                }
                Ok(Val::plain(Value::Invalid))
            }
            Value::Nil => Err(self.errorf(format!("nil pointer evaluating interface {{}}.{name}"))),
            Value::Object(o) => {
                if o.method_arity(name).is_some() {
                    // A method in the middle of a chain takes no arguments.
                    return self.call_method(
                        &recv,
                        o.clone(),
                        name,
                        0,
                        &Command {
                            pos: 0,
                            args: vec![],
                        },
                        None,
                    );
                }
                match o.field(name) {
                    Some(_) if has_args => Err(self.errorf(format!(
                        "{name} has arguments but cannot be invoked as function"
                    ))),
                    Some(v) => Ok(Val::plain(v)),
                    None => {
                        let t = o.type_name();
                        Err(self.errorf(format!("can't evaluate field {name} in type {t}")))
                    }
                }
            }
            Value::Map(m) => {
                if has_args {
                    return Err(self.errorf(format!("{name} is not a method but has arguments")));
                }
                match m.get(name) {
                    Some(v) => Ok(Val { v, boxed: true }),
                    None => match self.set.options.missing_key {
                        MissingKey::Invalid => Ok(Val::plain(Value::Invalid)),
                        MissingKey::Zero => Ok(Val {
                            v: Value::Nil,
                            boxed: true,
                        }),
                        MissingKey::Error => Err(self.errorf(format!(
                            "map has no entry for key {}",
                            crate::gofmt::quote(name)
                        ))),
                    },
                }
            }
            other => {
                let t = if recv.boxed {
                    "interface {}"
                } else {
                    other.type_name()
                };
                Err(self.errorf(format!("can't evaluate field {name} in type {t}")))
            }
        }
    }
}

fn set_var(vars: &mut [(String, Val)], name: &str, v: Val) -> bool {
    for (n, slot) in vars.iter_mut().rev() {
        if n == name {
            *slot = v;
            return true;
        }
    }
    false
}
