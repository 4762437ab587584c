//! Calling functions: argument counts and Go's type checks on each
//! argument, literals checked against the parameter type, lazy and/or.

use super::{Exec, R, Val};
use crate::funcs::Ty;
use crate::node::{Arg, Command, NodeKind, Number};
use crate::value::Value;

use super::At;

impl Exec<'_> {
    pub(super) fn eval_function(
        &mut self,
        dot: &Val,
        name: &str,
        cmd: &Command,
        fin: Option<Val>,
    ) -> R<Val> {
        match name {
            "and" | "or" => return self.eval_and_or(dot, name, cmd, fin),
            _ => {}
        }
        let Some(f) = self.func(name) else {
            return Err(self.errorf(format!(
                "{} is not a defined function",
                crate::gofmt::quote(name)
            )));
        };
        let args = &cmd.args[1..];
        let num_in = args.len() + usize::from(fin.is_some());
        let fixed = f.params.len();
        if f.variadic.is_some() {
            if num_in < fixed {
                let msg = format!(
                    "wrong number of args for {name}: want at least {fixed} got {}",
                    args.len()
                );
                return Err(self.errorf(msg));
            }
        } else if num_in != fixed {
            return Err(self.errorf(format!(
                "wrong number of args for {name}: want {fixed} got {num_in}"
            )));
        }
        let mut argv = Vec::with_capacity(num_in);
        for (i, a) in args.iter().enumerate() {
            let ty = f.params.get(i).copied().or(f.variadic).unwrap_or(Ty::Any);
            argv.push(self.eval_arg(dot, ty, a)?.v);
        }
        if let Some(fv) = fin {
            let ty = f
                .params
                .get(num_in - 1)
                .copied()
                .or(f.variadic)
                .unwrap_or(Ty::Any);
            argv.push(self.validate_type(fv, ty)?);
        }
        if name == "call" {
            argv.insert(
                0,
                Value::str(args.first().map(|a| a.to_string()).unwrap_or_default()),
            );
        }
        match (f.imp)(self, argv) {
            Ok(v) => Ok(Val::plain(v)),
            Err(e) => {
                self.at(cmd.pos, At::Node(NodeKind::Command));
                Err(self.errorf(format!("error calling {name}: {e}")))
            }
        }
    }

    fn eval_and_or(&mut self, dot: &Val, name: &str, cmd: &Command, fin: Option<Val>) -> R<Val> {
        let args = &cmd.args[1..];
        if args.is_empty() && fin.is_none() {
            return Err(self.errorf(format!(
                "wrong number of args for {name}: want at least 1 got 0"
            )));
        }
        let mut v = Val::plain(Value::Invalid);
        for a in args {
            v = self.eval_arg(dot, Ty::Raw, a)?;
            v = Val::plain(v.v.unboxed());
            if v.v.truth() == (name == "or") {
                return Ok(v);
            }
        }
        if let Some(f) = fin {
            v = Val::plain(f.v.unboxed());
        }
        Ok(v)
    }

    /// Go's evalArg: literals are checked against the parameter type,
    /// everything else is evaluated and then type-checked.
    pub(super) fn eval_arg(&mut self, dot: &Val, ty: Ty, n: &Arg) -> R<Val> {
        self.at(n.pos(), At::Node(NodeKind::Arg));
        let v = match n {
            Arg::Dot(_) => dot.clone(),
            Arg::Nil(_) => {
                if ty == Ty::Raw {
                    return Ok(Val::plain(Value::Invalid));
                }
                if ty.can_be_nil() {
                    return Ok(Val::plain(match ty {
                        Ty::List => Value::list(vec![]),
                        Ty::Map => Value::map(Default::default()),
                        _ => Value::Nil,
                    }));
                }
                return Err(self.errorf(format!("cannot assign nil to {}", ty.go_name())));
            }
            Arg::Field { idents, .. } => {
                let cmd = Command {
                    pos: n.pos(),
                    args: vec![n.clone()],
                };
                self.eval_field_chain(dot, dot.clone(), idents, &cmd, None)?
            }
            Arg::Variable { idents, .. } => {
                let v = self.var_value(&idents[0])?;
                if idents.len() == 1 {
                    v
                } else {
                    let cmd = Command {
                        pos: n.pos(),
                        args: vec![n.clone()],
                    };
                    self.eval_field_chain(dot, v, &idents[1..], &cmd, None)?
                }
            }
            Arg::Pipe(p) => self.eval_pipeline(dot, p)?,
            Arg::Identifier { name, .. } => {
                let cmd = Command {
                    pos: n.pos(),
                    args: vec![n.clone()],
                };
                self.eval_function(dot, name, &cmd, None)?
            }
            Arg::Chain { node, fields, .. } => {
                if matches!(node.as_ref(), Arg::Nil(_)) {
                    return Err(self.errorf(format!("indirection through explicit nil in {n}")));
                }
                let recv = self.eval_arg(dot, Ty::Raw, node)?;
                self.at(n.pos(), At::Node(NodeKind::Arg));
                let cmd = Command {
                    pos: n.pos(),
                    args: vec![n.clone()],
                };
                self.eval_field_chain(dot, recv, fields, &cmd, None)?
            }
            Arg::Bool(_, b) => {
                return match ty {
                    Ty::Bool | Ty::Any | Ty::Raw => Ok(Val::plain(Value::Bool(*b))),
                    Ty::Str => Err(self.errorf(format!("expected string; found {n}"))),
                    Ty::Int | Ty::Int64 => Err(self.errorf(format!("expected integer; found {n}"))),
                    Ty::Uint32 => Err(self.errorf(format!("expected unsigned integer; found {n}"))),
                    Ty::Float => Err(self.errorf(format!("expected float; found {n}"))),
                    _ => {
                        Err(self
                            .errorf(format!("can't handle {n} for arg of type {}", ty.go_name())))
                    }
                };
            }
            Arg::String { text, .. } => {
                return match ty {
                    Ty::Str | Ty::Any | Ty::Raw => Ok(Val::plain(Value::str(text.as_str()))),
                    Ty::Bool => Err(self.errorf(format!("expected bool; found {n}"))),
                    Ty::Int | Ty::Int64 => Err(self.errorf(format!("expected integer; found {n}"))),
                    Ty::Uint32 => Err(self.errorf(format!("expected unsigned integer; found {n}"))),
                    Ty::Float => Err(self.errorf(format!("expected float; found {n}"))),
                    _ => {
                        Err(self
                            .errorf(format!("can't handle {n} for arg of type {}", ty.go_name())))
                    }
                };
            }
            Arg::Number { text, value, .. } => {
                return match ty {
                    Ty::Any | Ty::Raw => Ok(Val::plain(self.ideal_constant(text, value)?)),
                    Ty::Int | Ty::Int64 => {
                        let i = match value {
                            Number::Int(i) | Number::Char(i) => Some(*i),
                            Number::Float(f) if f.fract() == 0.0 && f.abs() < 9.2e18 => {
                                Some(*f as i64)
                            }
                            _ => None,
                        };
                        match i {
                            Some(i) if ty == Ty::Int => Ok(Val::plain(Value::Int(i))),
                            Some(i) => Ok(Val::plain(Value::Int64(i))),
                            None => Err(self.errorf(format!("expected integer; found {n}"))),
                        }
                    }
                    Ty::Uint32 => match value {
                        // Go sets the literal into a uint32 and keeps the low bits.
                        Number::Int(i) | Number::Char(i) if *i >= 0 => {
                            Ok(Val::plain(Value::Int(i64::from(*i as u32))))
                        }
                        Number::Float(f) if f.fract() == 0.0 && *f >= 0.0 && *f < 1.8e19 => {
                            Ok(Val::plain(Value::Int(i64::from(*f as u64 as u32))))
                        }
                        _ => Err(self.errorf(format!("expected unsigned integer; found {n}"))),
                    },
                    Ty::Float => match value {
                        Number::Int(i) | Number::Char(i) => Ok(Val::plain(Value::Float(*i as f64))),
                        Number::Float(f) => Ok(Val::plain(Value::Float(*f))),
                        _ => Err(self.errorf(format!("expected float; found {n}"))),
                    },
                    Ty::Bool => Err(self.errorf(format!("expected bool; found {n}"))),
                    Ty::Str => Err(self.errorf(format!("expected string; found {n}"))),
                    _ => {
                        Err(self
                            .errorf(format!("can't handle {n} for arg of type {}", ty.go_name())))
                    }
                };
            }
        };
        Ok(Val::plain(self.validate_type(v, ty)?))
    }

    /// Go's validateType: is the value assignable to the parameter?
    fn validate_type(&mut self, v: Val, ty: Ty) -> R<Value> {
        let value = v.v;
        if let Value::Invalid = value {
            return match ty {
                Ty::Raw => Ok(Value::Invalid),
                Ty::Any => Ok(Value::Nil),
                Ty::List => Ok(Value::list(vec![])),
                Ty::Map => Ok(Value::map(Default::default())),
                _ => Err(self.errorf(format!("invalid value; expected {}", ty.go_name()))),
            };
        }
        let ok = matches!(
            (ty, &value),
            (Ty::Any | Ty::Raw, _)
                | (Ty::Str, Value::Str(_))
                | (Ty::Int, Value::Int(_))
                | (Ty::Int64, Value::Int64(_))
                | (Ty::Float, Value::Float(_))
                | (Ty::Bool, Value::Bool(_))
                | (Ty::List, Value::List(_))
                | (Ty::Map, Value::Map(_))
        ) || matches!((ty, &value), (Ty::Named(t), Value::Object(o)) if o.type_name() == t);
        if ok {
            return Ok(value);
        }
        let got = if matches!(value, Value::Nil) {
            "interface {}"
        } else {
            value.type_name()
        };
        Err(self.errorf(format!(
            "wrong type for value; expected {}; got {}",
            ty.go_name(),
            got
        )))
    }

    /// A method of an embedder-supplied object: the command's arguments
    /// (and the piped value) are its parameters.
    pub(super) fn call_method(
        &mut self,
        dot: &Val,
        o: std::sync::Arc<dyn crate::value::Object>,
        name: &str,
        arity: usize,
        cmd: &Command,
        fin: Option<Val>,
    ) -> R<Val> {
        let args = cmd.args.get(1..).unwrap_or_default();
        let num_in = args.len() + usize::from(fin.is_some());
        if num_in != arity {
            return Err(self.errorf(format!(
                "wrong number of args for {name}: want {arity} got {num_in}"
            )));
        }
        let mut argv = Vec::with_capacity(num_in);
        for a in args {
            argv.push(self.eval_arg(dot, Ty::Any, a)?.v);
        }
        if let Some(f) = fin {
            argv.push(f.v);
        }
        o.call(name, argv)
            .map(Val::plain)
            .map_err(|e| self.errorf(format!("error calling {name}: {e}")))
    }
}
