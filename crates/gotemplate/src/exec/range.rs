//! `range` over lists, maps in key order and integers, with break/continue
//! and Go's variable rules (`$v :=` is the element, `$i, $v :=` both).

use super::{Exec, Flow, R, Val, set_var};
use crate::gofmt::sprint_value;
use crate::node::Branch;
use crate::value::Value;

impl Exec<'_> {
    pub(super) fn walk_range(&mut self, dot: &Val, b: &Branch) -> R<()> {
        let outer = self.frame().vars.len();
        let v = self.eval_pipeline(dot, &b.pipe)?;
        let mark = self.frame().vars.len();
        let ndecl = b.pipe.decl.len();
        let mut items: Vec<(Val, Val)> = Vec::new();
        match &v.v {
            Value::List(l) => {
                for (i, e) in l.iter().enumerate() {
                    items.push((
                        Val::plain(Value::Int(i as i64)),
                        Val {
                            v: e.clone(),
                            boxed: true,
                        },
                    ));
                }
            }
            Value::StrList(l) => {
                for (i, e) in l.iter().enumerate() {
                    items.push((
                        Val::plain(Value::Int(i as i64)),
                        Val::plain(Value::str(e.as_str())),
                    ));
                }
            }
            Value::Bytes(l) => {
                for (i, e) in l.iter().enumerate() {
                    items.push((
                        Val::plain(Value::Int(i as i64)),
                        Val::plain(Value::Int(*e as i64)),
                    ));
                }
            }
            Value::Map(m) => {
                for (k, e) in m.entries() {
                    items.push((
                        Val::plain(Value::str(k.as_str())),
                        Val { v: e, boxed: true },
                    ));
                }
            }
            Value::Int(n) | Value::Int64(n) => {
                if ndecl > 1 {
                    let msg = format!(
                        "can't use {} to iterate over more than one variable",
                        sprint_value(&v.v)
                    );
                    return Err(self.errorf(msg));
                }
                let mk = |i: i64| {
                    Val::plain(if matches!(v.v, Value::Int(_)) {
                        Value::Int(i)
                    } else {
                        Value::Int64(i)
                    })
                };
                if *n > self.set.options.max_range as i64 {
                    return Err(self.errorf(format!("range over {n} exceeds the iteration limit")));
                }
                for i in 0..*n {
                    items.push((mk(i), mk(i)));
                }
            }
            Value::Object(o) if o.entries().is_some() => {
                for (k, e) in o.entries().unwrap_or_default() {
                    items.push((Val::plain(k), Val::plain(e)));
                }
            }
            Value::Invalid | Value::Nil => {}
            other => {
                let msg = format!("range can't iterate over {}", sprint_value(other));
                return Err(self.errorf(msg));
            }
        }
        let ran = !items.is_empty();
        for (index, elem) in items {
            self.tick()?;
            {
                let vars = &mut self.frame().vars;
                if ndecl > 0 {
                    if b.pipe.is_assign {
                        let target = if ndecl > 1 {
                            index.clone()
                        } else {
                            elem.clone()
                        };
                        let _ = set_var(vars, &b.pipe.decl[0], target);
                    } else {
                        let n = vars.len();
                        vars[n - 1].1 = elem.clone();
                    }
                }
                if ndecl > 1 {
                    if b.pipe.is_assign {
                        let _ = set_var(vars, &b.pipe.decl[1], elem.clone());
                    } else {
                        let n = vars.len();
                        vars[n - 2].1 = index;
                    }
                }
            }
            let r = self.walk_list(&elem, &b.list);
            self.frame().vars.truncate(mark);
            match r {
                Ok(()) | Err(Flow::Continue) => {}
                Err(Flow::Break) => break,
                Err(e) => {
                    self.frame().vars.truncate(outer);
                    return Err(e);
                }
            }
        }
        let r = if !ran {
            match &b.else_list {
                Some(e) => self.walk_list(dot, e),
                None => Ok(()),
            }
        } else {
            Ok(())
        };
        self.frame().vars.truncate(outer);
        r
    }
}
