//! `spec.dependsOn`, as Flux's `checkDependencies`: every dependency must exist, have observed
//! its latest generation, be Ready, and — when it applies the same source — have applied the
//! revision this Kustomization is about to apply, so layers land in order.
//!
//! A dependency with `readyExpr` is judged by that CEL expression over `self` (this
//! Kustomization) and `dep` (the dependency) instead; with Flux's `AdditiveCELDependencyCheck`
//! feature gate the built-in checks run as well, after the expression. An expression that does
//! not parse stalls the Kustomization (`InvalidCELExpression`); one that fails to evaluate is
//! retried like a dependency that is not ready.

use driftless_api::conditions::{status, types};
use driftless_api::kustomize::Kustomization;
use kube::api::Api;
use kube::{Resource, ResourceExt};

use crate::cel::Expression;
use crate::error::ReconcileError;
use crate::source::{SourceKey, check_namespace};

/// Checks every dependency of `ks`; `revision` is the source revision about to be applied.
/// A `readyExpr` replaces the built-in checks, unless `additive` (the feature gate
/// `AdditiveCELDependencyCheck`): then the expression must hold AND the built-in checks pass.
pub async fn check_with(
    client: &kube::Client,
    ks: &Kustomization,
    revision: &str,
    no_cross_namespace_refs: bool,
    additive: bool,
) -> Result<(), ReconcileError> {
    let mut self_json = None;
    let own_namespace = ks.namespace().unwrap_or_default();
    for dependency in ks.spec.depends_on.iter().flatten() {
        let namespace = dependency
            .namespace
            .clone()
            .filter(|n| !n.is_empty())
            .unwrap_or_else(|| own_namespace.clone());
        check_namespace(
            ks,
            "Kustomization",
            &namespace,
            &dependency.name,
            no_cross_namespace_refs,
        )?;
        let subject = format!("{namespace}/{}", dependency.name);
        let api: Api<Kustomization> = Api::namespaced(client.clone(), &namespace);
        let found = api
            .get_opt(&dependency.name)
            .await
            .map_err(|source| ReconcileError::Read {
                subject: format!("Kustomization '{subject}'"),
                source: Box::new(source),
            })?;
        let Some(found) = found else {
            return Err(ReconcileError::DependencyNotReady {
                subject,
                detail: ": not found".to_owned(),
            });
        };
        let ready_expr = dependency.ready_expr.as_deref().filter(|e| !e.is_empty());
        if let Some(expr) = ready_expr {
            let own = match &self_json {
                Some(own) => own,
                None => self_json.insert(to_json(ks)?),
            };
            if !ready_by_expr(expr, own, &found)? {
                return Err(ReconcileError::DependencyNotReady {
                    subject,
                    detail: " according to readyExpr eval".to_owned(),
                });
            }
            if !additive {
                continue;
            }
        }
        if let Some(detail) = not_ready(ks, &found, revision) {
            return Err(ReconcileError::DependencyNotReady { subject, detail });
        }
    }
    Ok(())
}

/// Whether `readyExpr` holds for `dependency`, with `own` (this Kustomization as JSON) as `self`.
pub fn ready_by_expr(
    expr: &str,
    own: &serde_json::Value,
    dependency: &Kustomization,
) -> Result<bool, ReconcileError> {
    let expression =
        Expression::compile(expr, &["self", "dep"]).map_err(|e| ReconcileError::InvalidCel {
            message: format!(
                "failed to evaluate dependency {}: {e}",
                dependency.name_any()
            ),
        })?;
    let dep = to_json(dependency)?;
    expression
        .evaluate_bool(&[("self", own), ("dep", &dep)])
        .map_err(|source| ReconcileError::DependencyExpr { source })
}

fn to_json(ks: &Kustomization) -> Result<serde_json::Value, ReconcileError> {
    serde_json::to_value(ks).map_err(|e| ReconcileError::Client {
        message: format!("failed to convert Kustomization to unstructured: {e}"),
    })
}

/// Why `dependency` does not yet allow `ks` to apply `revision`; `None` when it does.
pub fn not_ready(ks: &Kustomization, dependency: &Kustomization, revision: &str) -> Option<String> {
    let status = dependency.status.as_ref();
    let conditions = status.and_then(|s| s.conditions.as_deref()).unwrap_or(&[]);
    if conditions.is_empty()
        || dependency.meta().generation != status.and_then(|s| s.observed_generation)
    {
        return Some(String::new());
    }
    let ready = conditions
        .iter()
        .any(|c| c.type_ == types::READY && c.status == status::TRUE);
    if !ready {
        return Some(String::new());
    }
    let same_source = SourceKey::of(ks) == SourceKey::of(dependency);
    let applied = status.and_then(|s| s.last_applied_revision.as_deref());
    if same_source && applied != Some(revision) {
        return Some(": revision is not up to date".to_owned());
    }
    None
}

/// The dependencies of `ks` as `namespace/name` keys, for the dependents index.
pub fn keys(ks: &Kustomization) -> Vec<(String, String)> {
    let own = ks.namespace().unwrap_or_default();
    ks.spec
        .depends_on
        .iter()
        .flatten()
        .map(|d| {
            (
                d.namespace
                    .clone()
                    .filter(|n| !n.is_empty())
                    .unwrap_or_else(|| own.clone()),
                d.name.clone(),
            )
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use driftless_api::kustomize::{KustomizationSpec, KustomizationStatus};
    use driftless_api::meta::DependencyReference;
    use driftless_runtime::error::{Classify, ErrorClass};
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::{Condition, Time};

    use super::*;

    fn ks(name: &str, source: &str) -> Kustomization {
        let mut ks = Kustomization::new(
            name,
            KustomizationSpec {
                source_ref: driftless_api::kustomize::KustomizationSourceReference {
                    name: source.into(),
                    ..Default::default()
                },
                depends_on: Some(vec![DependencyReference {
                    name: "infra".into(),
                    namespace: None,
                    ready_expr: None,
                }]),
                ..Default::default()
            },
        );
        ks.meta_mut().namespace = Some("default".into());
        ks.meta_mut().generation = Some(2);
        ks
    }

    fn ready(mut ks: Kustomization, applied: &str) -> Kustomization {
        ks.status = Some(KustomizationStatus {
            observed_generation: Some(2),
            last_applied_revision: Some(applied.into()),
            conditions: Some(vec![Condition {
                type_: "Ready".into(),
                status: "True".into(),
                reason: "ReconciliationSucceeded".into(),
                message: String::new(),
                observed_generation: Some(2),
                last_transition_time: Time(jiff::Timestamp::UNIX_EPOCH),
            }]),
            ..Default::default()
        });
        ks
    }

    #[test]
    fn a_dependency_without_status_or_with_an_old_generation_is_not_ready() {
        let apps = ks("apps", "fleet");
        assert!(not_ready(&apps, &ks("infra", "fleet"), "main@sha1:1").is_some());
        let mut old = ready(ks("infra", "fleet"), "main@sha1:1");
        old.meta_mut().generation = Some(3);
        assert!(not_ready(&apps, &old, "main@sha1:1").is_some());
    }

    #[test]
    fn a_dependency_on_the_same_source_must_have_applied_the_same_revision() {
        let apps = ks("apps", "fleet");
        let infra = ready(ks("infra", "fleet"), "main@sha1:1");
        assert_eq!(not_ready(&apps, &infra, "main@sha1:1"), None);
        assert_eq!(
            not_ready(&apps, &infra, "main@sha1:2").as_deref(),
            Some(": revision is not up to date")
        );
        let other_source = ready(ks("infra", "other"), "main@sha1:1");
        assert_eq!(not_ready(&apps, &other_source, "main@sha1:2"), None);
    }

    #[test]
    fn dependency_keys_default_to_the_own_namespace() {
        assert_eq!(
            keys(&ks("apps", "fleet")),
            vec![("default".to_owned(), "infra".to_owned())]
        );
    }

    #[test]
    fn a_ready_expr_decides_over_self_and_dep() {
        let mut apps = ks("apps", "fleet");
        apps.meta_mut().labels = Some([("app/version".to_owned(), "v2".to_owned())].into());
        let own = serde_json::to_value(&apps).expect("json");
        let mut infra = ready(ks("infra", "fleet"), "main@sha1:1");
        infra.meta_mut().labels = Some([("app/version".to_owned(), "v1".to_owned())].into());
        let same_version =
            "dep.metadata.labels['app/version'] == self.metadata.labels['app/version']";
        let ready_true =
            "dep.status.conditions.filter(e, e.type == 'Ready').all(e, e.status == 'True')";
        let table = [
            (same_version, false),
            (ready_true, true),
            (
                "dep.metadata.generation == dep.status.observedGeneration",
                true,
            ),
        ];
        for (expr, want) in table {
            assert_eq!(
                ready_by_expr(expr, &own, &infra).expect(expr),
                want,
                "{expr}"
            );
        }
    }

    #[test]
    fn a_ready_expr_that_does_not_parse_stalls_and_one_that_fails_waits() {
        let own = serde_json::to_value(ks("apps", "fleet")).expect("json");
        let infra = ready(ks("infra", "fleet"), "main@sha1:1");
        let err = ready_by_expr("dep.status.", &own, &infra).expect_err("parse error");
        assert_eq!(err.reason(), "InvalidCELExpression");
        assert_eq!(err.class(), ErrorClass::Stalled);
        assert!(
            err.to_string().starts_with(
                "Reconciliation failed terminally due to configuration error: \
                 failed to evaluate dependency infra: failed to parse the CEL expression 'dep.status.'"
            ),
            "{err}"
        );
        let err = ready_by_expr("other == 1", &own, &infra).expect_err("undeclared");
        assert_eq!(err.reason(), "InvalidCELExpression");

        let err = ready_by_expr("dep.status.missing == 1", &own, &infra).expect_err("eval error");
        assert_eq!(err.reason(), "DependencyNotReady");
        assert_eq!(err.class(), ErrorClass::Waiting { after: None });
        assert!(
            err.to_string()
                .starts_with("failed to evaluate the CEL expression 'dep.status.missing == 1'"),
            "{err}"
        );
        let err = ready_by_expr("dep.metadata.name", &own, &infra).expect_err("not a boolean");
        assert_eq!(
            err.to_string(),
            "failed to evaluate CEL expression as boolean: 'dep.metadata.name'"
        );
    }
}
