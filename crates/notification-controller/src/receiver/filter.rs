//! Receiver CEL filters (`spec.resourceFilter` and `spec.resources[].filter`), with Flux's
//! variables: `res`, the candidate object reduced to `apiVersion`, `kind` and `metadata`, and
//! `req`, the webhook's JSON body, and for `generic-oidc` Receivers `claims`, the caller's
//! verified token claims. Expressions must return a boolean; an expression using any other
//! variable (`claims` included, on other types) is refused when the Receiver is reconciled.

use serde_json::{Value, json};

pub use crate::cel::CelError as FilterError;
use crate::cel::Expression;

/// The variables a filter may use.
const DECLARED: [&str; 2] = ["res", "req"];
/// The variables a `generic-oidc` Receiver's filter may use.
const DECLARED_OIDC: [&str; 3] = ["res", "req", "claims"];

/// A compiled filter.
#[derive(Debug)]
pub struct Filter(Expression);

impl Filter {
    /// Compiles `expr`, refusing variables other than `res`, `req` and, `with_claims`, `claims`.
    pub fn compile(expr: &str, with_claims: bool) -> Result<Self, FilterError> {
        let declared: &[&str] = if with_claims {
            &DECLARED_OIDC
        } else {
            &DECLARED
        };
        Expression::compile(expr, declared).map(Self)
    }

    /// Whether the filter accepts `object` (any Kubernetes object as JSON) for request `req`
    /// from a caller with token `claims` (null when the Receiver type has none).
    pub fn accepts(
        &self,
        object: &Value,
        req: &Value,
        claims: &Value,
    ) -> Result<bool, FilterError> {
        let res = json!({
            "apiVersion": object.get("apiVersion").cloned().unwrap_or(Value::Null),
            "kind": object.get("kind").cloned().unwrap_or(Value::Null),
            "metadata": object.get("metadata").cloned().unwrap_or_else(|| json!({})),
        });
        self.0
            .evaluate_bool(&[("res", &res), ("req", req), ("claims", claims)])
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
        let f = Filter::compile("req.tag.contains(res.metadata.name)", false).expect("compiles");
        let req = json!({"tag": "registry/app/hello-world:1.1"});
        assert_eq!(
            f.accepts(&repo("hello-world", json!({})), &req, &Value::Null),
            Ok(true)
        );
        assert_eq!(
            f.accepts(&repo("other", json!({})), &req, &Value::Null),
            Ok(false)
        );
    }

    #[test]
    fn res_carries_only_api_version_kind_and_metadata() {
        let f = Filter::compile("has(res.spec)", false).expect("compiles");
        assert_eq!(
            f.accepts(&repo("a", json!({})), &json!({}), &Value::Null),
            Ok(false)
        );
        let f = Filter::compile("res.metadata.labels['env'] == 'prod'", false).expect("compiles");
        assert_eq!(
            f.accepts(&repo("a", json!({"env": "prod"})), &json!({}), &Value::Null),
            Ok(true)
        );
    }

    #[test]
    fn undeclared_variables_and_syntax_errors_are_refused_at_compile_time() {
        let e = Filter::compile("claims.sub == 'x'", false).expect_err("claims is undeclared");
        assert!(
            e.to_string().contains("undeclared reference to 'claims'"),
            "{e}"
        );
        assert!(Filter::compile("res.metadata.name ==", false).is_err());
        assert!(Filter::compile("[1, 2].exists(x, x == 2) && res.kind != ''", false).is_ok());
    }

    #[test]
    fn generic_oidc_filters_read_the_callers_claims() {
        let f = Filter::compile(
            "claims.repository == res.metadata.annotations['source-repository']",
            true,
        )
        .expect("compiles with claims");
        let mut object = repo("a", json!({}));
        object["metadata"]["annotations"] = json!({"source-repository": "org/app"});
        let claims = json!({"repository": "org/app"});
        assert_eq!(f.accepts(&object, &json!({}), &claims), Ok(true));
        let other = json!({"repository": "org/other"});
        assert_eq!(f.accepts(&object, &json!({}), &other), Ok(false));
    }

    #[test]
    fn a_non_boolean_result_is_an_evaluation_error() {
        let f = Filter::compile("res.metadata.name", false).expect("compiles");
        assert!(matches!(
            f.accepts(&repo("a", json!({})), &json!({}), &Value::Null),
            Err(FilterError::Evaluate { .. })
        ));
    }
}
