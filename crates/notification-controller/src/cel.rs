//! CEL as notification-controller uses it (cel-go's standard library plus the strings
//! extension): Receiver filters over `res` and `req`, and a Provider's `commitStatusExpr` over
//! `event`, `provider` and `alert`. An expression is compiled once against its declared
//! variables (any other name is refused, as cel-go's checker does) and evaluated over JSON.

use std::sync::{Arc, LazyLock};

use cel::common::ast::Expr;
use cel::{Context, Env, Program, Value as CelValue};
use serde_json::Value;

/// The standard library plus the strings extension, as Flux's environment has them.
static ENV: LazyLock<Arc<Env>> = LazyLock::new(|| {
    let mut env = Env::stdlib();
    // A fresh environment cannot conflict with a built-in extension; if a later crate version
    // refused it, expressions using its functions report an undeclared function instead.
    let _ = env.add_extension(cel::extensions::strings);
    Arc::new(env)
});

/// Why an expression could not be used; the message names the expression.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CelError {
    /// It does not parse or uses an undeclared variable.
    #[error("failed to parse CEL expression '{expr}': {message}")]
    Parse {
        /// The expression.
        expr: String,
        /// What is wrong.
        message: String,
    },
    /// It failed at evaluation or gave a value of the wrong type.
    #[error("failed to evaluate CEL expression '{expr}': {message}")]
    Evaluate {
        /// The expression.
        expr: String,
        /// What is wrong.
        message: String,
    },
}

/// A compiled expression.
#[derive(Debug)]
pub struct Expression {
    source: String,
    program: Program,
}

impl Expression {
    /// Compiles `expr`, refusing variables other than `declared`.
    pub fn compile(expr: &str, declared: &[&str]) -> Result<Self, CelError> {
        let parse_error = |message: String| CelError::Parse {
            expr: expr.to_owned(),
            message,
        };
        let program = ENV.compile(expr).map_err(|e| parse_error(e.to_string()))?;
        let mut names = Vec::new();
        idents(&program.expression().expr, &mut names);
        if let Some(unknown) = names.iter().find(|n| !declared.contains(&n.as_str())) {
            return Err(parse_error(format!("undeclared reference to '{unknown}'")));
        }
        Ok(Self {
            source: expr.to_owned(),
            program,
        })
    }

    fn error(&self, message: String) -> CelError {
        CelError::Evaluate {
            expr: self.source.clone(),
            message,
        }
    }

    fn evaluate(&self, variables: &[(&str, &Value)]) -> Result<CelValue, CelError> {
        let mut bound = Vec::with_capacity(variables.len());
        for (name, value) in variables {
            let value = cel::to_value(value).map_err(|e| self.error(e.to_string()))?;
            bound.push((*name, value));
        }
        self.evaluate_values(bound)
    }

    /// Evaluates with CEL values bound (for variables computed by earlier expressions).
    pub fn evaluate_values(&self, variables: Vec<(&str, CelValue)>) -> Result<CelValue, CelError> {
        let mut context = Context::with_env(Arc::clone(&ENV));
        for (name, value) in variables {
            context.add_variable_from_value(name, value);
        }
        self.program
            .execute(&context)
            .map_err(|e| self.error(e.to_string()))
    }

    /// `value` as a CEL value.
    pub fn json_value(&self, value: &Value) -> Result<CelValue, CelError> {
        cel::to_value(value).map_err(|e| self.error(e.to_string()))
    }

    /// Evaluates with `variables` bound; the result must be a boolean.
    pub fn evaluate_bool(&self, variables: &[(&str, &Value)]) -> Result<bool, CelError> {
        match self.evaluate(variables)? {
            CelValue::Bool(b) => Ok(b),
            other => Err(self.error(format!(
                "the expression must evaluate to a boolean, got {:?}",
                other.type_of()
            ))),
        }
    }

    /// Evaluates with `variables` bound; the result must be a string.
    pub fn evaluate_string(&self, variables: &[(&str, &Value)]) -> Result<String, CelError> {
        match self.evaluate(variables)? {
            CelValue::String(s) => Ok(s.as_str().to_owned()),
            other => Err(self.error(format!(
                "the expression must evaluate to a string, got {:?}",
                other.type_of()
            ))),
        }
    }
}

/// Identifiers used as variables (not as comprehension variables bound inside the expression).
fn idents(expr: &Expr, out: &mut Vec<String>) {
    use cel::common::ast::EntryExpr;
    match expr {
        Expr::Ident(name) => out.push(name.clone()),
        Expr::Select(select) => idents(&select.operand.expr, out),
        Expr::Call(call) => {
            if let Some(target) = &call.target {
                idents(&target.expr, out);
            }
            for arg in &call.args {
                idents(&arg.expr, out);
            }
        }
        Expr::List(list) => list.elements.iter().for_each(|e| idents(&e.expr, out)),
        Expr::Map(map) => {
            for entry in &map.entries {
                if let EntryExpr::MapEntry(e) = &entry.expr {
                    idents(&e.key.expr, out);
                    idents(&e.value.expr, out);
                }
            }
        }
        Expr::Struct(s) => {
            for entry in &s.entries {
                if let EntryExpr::StructField(f) = &entry.expr {
                    idents(&f.value.expr, out);
                }
            }
        }
        Expr::Comprehension(c) => {
            let mut inner = Vec::new();
            idents(&c.iter_range.expr, out);
            idents(&c.accu_init.expr, out);
            idents(&c.loop_cond.expr, &mut inner);
            idents(&c.loop_step.expr, &mut inner);
            idents(&c.result.expr, &mut inner);
            let bound = [
                Some(c.iter_var.as_str()),
                c.iter_var2.as_deref(),
                Some(c.accu_var.as_str()),
            ];
            out.extend(
                inner
                    .into_iter()
                    .filter(|n| !bound.contains(&Some(n.as_str()))),
            );
        }
        _ => {}
    }
}
