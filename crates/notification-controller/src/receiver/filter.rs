//! Receiver CEL filters (`spec.resourceFilter` and `spec.resources[].filter`), with Flux's
//! variables: `res`, the candidate object reduced to `apiVersion`, `kind` and `metadata`, and
//! `req`, the webhook's JSON body. Expressions must return a boolean; an expression using any
//! other variable is refused when the Receiver is reconciled (`claims` belongs to generic-oidc,
//! which driftless does not implement).

use std::sync::{Arc, LazyLock};

use cel::common::ast::Expr;
use cel::{Context, Env, Program, Value as CelValue};
use serde_json::{Value, json};

/// The variables a filter may use.
const DECLARED: [&str; 2] = ["res", "req"];

/// The standard library plus the strings extension, as Flux's environment has them.
static ENV: LazyLock<Arc<Env>> = LazyLock::new(|| {
    let mut env = Env::stdlib();
    // A fresh environment cannot conflict with a built-in extension; if a later crate version
    // refused it, expressions using its functions report an undeclared function instead.
    let _ = env.add_extension(cel::extensions::strings);
    Arc::new(env)
});

/// Why a filter could not be used; the message names the expression.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FilterError {
    /// It does not parse or uses an undeclared variable.
    #[error("failed to parse CEL expression '{expr}': {message}")]
    Parse {
        /// The expression.
        expr: String,
        /// What is wrong.
        message: String,
    },
    /// It failed at evaluation or did not give a boolean.
    #[error("failed to evaluate CEL expression '{expr}': {message}")]
    Evaluate {
        /// The expression.
        expr: String,
        /// What is wrong.
        message: String,
    },
}

/// A compiled filter.
#[derive(Debug)]
pub struct Filter {
    source: String,
    program: Program,
}

impl Filter {
    /// Compiles `expr`, refusing variables other than `res` and `req`.
    pub fn compile(expr: &str) -> Result<Self, FilterError> {
        let parse_error = |message: String| FilterError::Parse {
            expr: expr.to_owned(),
            message,
        };
        let program = ENV.compile(expr).map_err(|e| parse_error(e.to_string()))?;
        let mut names = Vec::new();
        idents(&program.expression().expr, &mut names);
        if let Some(unknown) = names.iter().find(|n| !DECLARED.contains(&n.as_str())) {
            return Err(parse_error(format!("undeclared reference to '{unknown}'")));
        }
        Ok(Self {
            source: expr.to_owned(),
            program,
        })
    }

    /// Whether the filter accepts `object` (any Kubernetes object as JSON) for request `req`.
    pub fn accepts(&self, object: &Value, req: &Value) -> Result<bool, FilterError> {
        let error = |message: String| FilterError::Evaluate {
            expr: self.source.clone(),
            message,
        };
        let res = json!({
            "apiVersion": object.get("apiVersion").cloned().unwrap_or(Value::Null),
            "kind": object.get("kind").cloned().unwrap_or(Value::Null),
            "metadata": object.get("metadata").cloned().unwrap_or_else(|| json!({})),
        });
        let mut context = Context::with_env(Arc::clone(&ENV));
        for (name, value) in [("res", &res), ("req", req)] {
            let value = cel::to_value(value).map_err(|e| error(e.to_string()))?;
            context.add_variable_from_value(name, value);
        }
        match self.program.execute(&context) {
            Ok(CelValue::Bool(b)) => Ok(b),
            Ok(other) => Err(error(format!(
                "the expression must evaluate to a boolean, got {:?}",
                other.type_of()
            ))),
            Err(e) => Err(error(e.to_string())),
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

#[cfg(test)]
mod tests {
    use super::*;

    fn repo(name: &str, labels: Value) -> Value {
        json!({"apiVersion": "source.toolkit.fluxcd.io/v1", "kind": "GitRepository",
               "metadata": {"name": name, "labels": labels}, "spec": {"url": "secret"}})
    }

    #[test]
    fn a_filter_reads_the_request_body_and_the_objects_metadata() {
        let f = Filter::compile("req.tag.contains(res.metadata.name)").expect("compiles");
        let req = json!({"tag": "registry/app/hello-world:1.1"});
        assert_eq!(f.accepts(&repo("hello-world", json!({})), &req), Ok(true));
        assert_eq!(f.accepts(&repo("other", json!({})), &req), Ok(false));
    }

    #[test]
    fn res_carries_only_api_version_kind_and_metadata() {
        let f = Filter::compile("has(res.spec)").expect("compiles");
        assert_eq!(f.accepts(&repo("a", json!({})), &json!({})), Ok(false));
        let f = Filter::compile("res.metadata.labels['env'] == 'prod'").expect("compiles");
        assert_eq!(
            f.accepts(&repo("a", json!({"env": "prod"})), &json!({})),
            Ok(true)
        );
    }

    #[test]
    fn undeclared_variables_and_syntax_errors_are_refused_at_compile_time() {
        let e = Filter::compile("claims.sub == 'x'").expect_err("claims is undeclared");
        assert!(
            e.to_string().contains("undeclared reference to 'claims'"),
            "{e}"
        );
        assert!(Filter::compile("res.metadata.name ==").is_err());
        assert!(Filter::compile("[1, 2].exists(x, x == 2) && res.kind != ''").is_ok());
    }

    #[test]
    fn a_non_boolean_result_is_an_evaluation_error() {
        let f = Filter::compile("res.metadata.name").expect("compiles");
        assert!(matches!(
            f.accepts(&repo("a", json!({})), &json!({})),
            Err(FilterError::Evaluate { .. })
        ));
    }
}
