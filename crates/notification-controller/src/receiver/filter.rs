//! Receiver CEL filters (`spec.resourceFilter` and `spec.resources[].filter`), with Flux's
//! variables: `res`, the candidate object reduced to `apiVersion`, `kind` and `metadata`, and
//! `req`, the webhook's JSON body. Expressions must return a boolean; an expression using any
//! other variable is refused when the Receiver is reconciled (`claims` belongs to generic-oidc,
//! which driftless does not implement).

use serde_json::{Value, json};

pub use crate::cel::CelError as FilterError;
use crate::cel::Expression;

/// The variables a filter may use.
const DECLARED: [&str; 2] = ["res", "req"];

/// A compiled filter.
#[derive(Debug)]
pub struct Filter(Expression);

impl Filter {
    /// Compiles `expr`, refusing variables other than `res` and `req`.
    pub fn compile(expr: &str) -> Result<Self, FilterError> {
        Expression::compile(expr, &DECLARED).map(Self)
    }

    /// Whether the filter accepts `object` (any Kubernetes object as JSON) for request `req`.
    pub fn accepts(&self, object: &Value, req: &Value) -> Result<bool, FilterError> {
        let res = json!({
            "apiVersion": object.get("apiVersion").cloned().unwrap_or(Value::Null),
            "kind": object.get("kind").cloned().unwrap_or(Value::Null),
            "metadata": object.get("metadata").cloned().unwrap_or_else(|| json!({})),
        });
        self.0.evaluate_bool(&[("res", &res), ("req", req)])
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
