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
use driftless_api::meta::DependencyKind;
use kube::ResourceExt;
use kube::api::{Api, ApiResource, DynamicObject, GroupVersionKind};
use serde_json::Value;

use crate::cel::Expression;
use crate::error::ReconcileError;
use crate::source::{SourceKey, check_namespace};

/// A resolved `dependsOn` entry.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct DependencyKey {
    /// Kustomization unless the entry names another kind (a driftless extension).
    pub kind: DependencyKind,
    /// The dependency's namespace (the Kustomization's when the entry names none).
    pub namespace: String,
    pub name: String,
}

impl DependencyKey {
    /// The API resource of this dependency's kind, at the version Flux serves.
    pub fn api_resource(&self) -> ApiResource {
        api_resource(self.kind)
    }

    /// `namespace/name` as Flux names a Kustomization dependency; other kinds are prefixed
    /// with the kind, so a message never leaves the reader guessing which object it means.
    fn subject(&self) -> String {
        match self.kind {
            DependencyKind::Kustomization => format!("{}/{}", self.namespace, self.name),
            kind => format!("{}/{}/{}", kind.as_str(), self.namespace, self.name),
        }
    }
}

/// The API resource of a dependency kind.
pub fn api_resource(kind: DependencyKind) -> ApiResource {
    let (group, version) = match kind {
        DependencyKind::Kustomization => ("kustomize.toolkit.fluxcd.io", "v1"),
        DependencyKind::HelmRelease => ("helm.toolkit.fluxcd.io", "v2"),
    };
    ApiResource::from_gvk(&GroupVersionKind::gvk(group, version, kind.as_str()))
}

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
    for (key, dependency) in keys(ks)
        .into_iter()
        .zip(ks.spec.depends_on.iter().flatten())
    {
        check_namespace(
            ks,
            key.kind.as_str(),
            &key.namespace,
            &key.name,
            no_cross_namespace_refs,
        )?;
        let subject = key.subject();
        let api: Api<DynamicObject> =
            Api::namespaced_with(client.clone(), &key.namespace, &key.api_resource());
        let found = api
            .get_opt(&key.name)
            .await
            .map_err(|source| ReconcileError::Read {
                subject: format!("{} '{subject}'", key.kind.as_str()),
                source: Box::new(source),
            })?;
        let Some(found) = found else {
            return Err(ReconcileError::DependencyNotReady {
                subject,
                detail: ": not found".to_owned(),
            });
        };
        let found = serde_json::to_value(&found).map_err(|e| ReconcileError::Client {
            message: format!(
                "failed to convert {} to unstructured: {e}",
                key.kind.as_str()
            ),
        })?;
        let ready_expr = dependency.ready_expr.as_deref().filter(|e| !e.is_empty());
        if let Some(expr) = ready_expr {
            let own = match &self_json {
                Some(own) => own,
                None => self_json.insert(to_json(ks)?),
            };
            if !ready_by_expr(expr, own, &key.name, &found)? {
                return Err(ReconcileError::DependencyNotReady {
                    subject,
                    detail: " according to readyExpr eval".to_owned(),
                });
            }
            if !additive {
                continue;
            }
        }
        if let Some(detail) = not_ready(ks, key.kind, &found, revision) {
            return Err(ReconcileError::DependencyNotReady { subject, detail });
        }
    }
    Ok(())
}

/// Whether `readyExpr` holds for the dependency `dep` (named `name`), with `own` (this
/// Kustomization as JSON) as `self`.
pub fn ready_by_expr(
    expr: &str,
    own: &Value,
    name: &str,
    dep: &Value,
) -> Result<bool, ReconcileError> {
    let expression =
        Expression::compile(expr, &["self", "dep"]).map_err(|e| ReconcileError::InvalidCel {
            message: format!("failed to evaluate dependency {name}: {e}"),
        })?;
    expression
        .evaluate_bool(&[("self", own), ("dep", dep)])
        .map_err(|source| ReconcileError::DependencyExpr { source })
}

fn to_json(ks: &Kustomization) -> Result<Value, ReconcileError> {
    serde_json::to_value(ks).map_err(|e| ReconcileError::Client {
        message: format!("failed to convert Kustomization to unstructured: {e}"),
    })
}

/// Why `dependency` (of `kind`, as JSON) does not yet allow `ks` to apply `revision`; `None`
/// when it does. Any kind must have observed its generation and be Ready; a Kustomization
/// applying the same source must also have applied `revision`, so layers land in order.
pub fn not_ready(
    ks: &Kustomization,
    kind: DependencyKind,
    dependency: &Value,
    revision: &str,
) -> Option<String> {
    let status = &dependency["status"];
    let conditions = status["conditions"]
        .as_array()
        .map_or(&[][..], Vec::as_slice);
    if conditions.is_empty()
        || dependency["metadata"]["generation"].as_i64() != status["observedGeneration"].as_i64()
    {
        return Some(String::new());
    }
    let ready = conditions
        .iter()
        .any(|c| c["type"] == types::READY && c["status"] == status::TRUE);
    if !ready {
        return Some(String::new());
    }
    if kind == DependencyKind::Kustomization {
        // A Kustomization that does not decode is no evidence of a shared source.
        let same_source = serde_json::from_value::<Kustomization>(dependency.clone())
            .is_ok_and(|dependency| SourceKey::of(ks) == SourceKey::of(&dependency));
        let applied = status["lastAppliedRevision"].as_str();
        if same_source && applied != Some(revision) {
            return Some(": revision is not up to date".to_owned());
        }
    }
    None
}

/// The dependencies of `ks`, in `dependsOn` order, for the check and the dependents index.
pub fn keys(ks: &Kustomization) -> Vec<DependencyKey> {
    let own = ks.namespace().unwrap_or_default();
    ks.spec
        .depends_on
        .iter()
        .flatten()
        .map(|d| DependencyKey {
            kind: d.kind.unwrap_or(DependencyKind::Kustomization),
            namespace: d
                .namespace
                .clone()
                .filter(|n| !n.is_empty())
                .unwrap_or_else(|| own.clone()),
            name: d.name.clone(),
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
    use kube::Resource;

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
                    ..Default::default()
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

    fn json(ks: &Kustomization) -> Value {
        serde_json::to_value(ks).expect("json")
    }

    const KS: DependencyKind = DependencyKind::Kustomization;

    #[test]
    fn a_dependency_without_status_or_with_an_old_generation_is_not_ready() {
        let apps = ks("apps", "fleet");
        assert!(not_ready(&apps, KS, &json(&ks("infra", "fleet")), "main@sha1:1").is_some());
        let mut old = ready(ks("infra", "fleet"), "main@sha1:1");
        old.meta_mut().generation = Some(3);
        assert!(not_ready(&apps, KS, &json(&old), "main@sha1:1").is_some());
    }

    #[test]
    fn a_dependency_on_the_same_source_must_have_applied_the_same_revision() {
        let apps = ks("apps", "fleet");
        let infra = json(&ready(ks("infra", "fleet"), "main@sha1:1"));
        assert_eq!(not_ready(&apps, KS, &infra, "main@sha1:1"), None);
        assert_eq!(
            not_ready(&apps, KS, &infra, "main@sha1:2").as_deref(),
            Some(": revision is not up to date")
        );
        let other_source = json(&ready(ks("infra", "other"), "main@sha1:1"));
        assert_eq!(not_ready(&apps, KS, &other_source, "main@sha1:2"), None);
    }

    #[test]
    fn a_helm_release_dependency_needs_its_generation_observed_and_ready_only() {
        let apps = ks("apps", "fleet");
        let release = |generation: i64, ready: &str| {
            serde_json::json!({
                "apiVersion": "helm.toolkit.fluxcd.io/v2",
                "kind": "HelmRelease",
                "metadata": {"name": "redis", "namespace": "default", "generation": generation},
                "spec": {"chart": {"spec": {"chart": "redis", "sourceRef": {"kind": "HelmRepository", "name": "fleet"}}}},
                "status": {
                    "observedGeneration": 2,
                    "conditions": [{"type": "Ready", "status": ready, "reason": "InstallSucceeded"}]
                }
            })
        };
        let helm = DependencyKind::HelmRelease;
        // No applied-revision rule: a release has no Kustomization source revision.
        assert_eq!(
            not_ready(&apps, helm, &release(2, "True"), "main@sha1:2"),
            None
        );
        assert!(not_ready(&apps, helm, &release(2, "False"), "main@sha1:2").is_some());
        assert!(not_ready(&apps, helm, &release(3, "True"), "main@sha1:2").is_some());
    }

    #[test]
    fn dependency_keys_default_to_the_own_namespace_and_kind() {
        let mut apps = ks("apps", "fleet");
        if let Some(deps) = apps.spec.depends_on.as_mut() {
            deps.push(DependencyReference {
                kind: Some(DependencyKind::HelmRelease),
                name: "redis".into(),
                namespace: Some("data".into()),
                ..Default::default()
            });
        }
        let keys = keys(&apps);
        assert_eq!(
            keys,
            vec![
                DependencyKey {
                    kind: KS,
                    namespace: "default".into(),
                    name: "infra".into()
                },
                DependencyKey {
                    kind: DependencyKind::HelmRelease,
                    namespace: "data".into(),
                    name: "redis".into()
                }
            ]
        );
        assert_eq!(keys[0].subject(), "default/infra");
        assert_eq!(keys[1].subject(), "HelmRelease/data/redis");
        assert_eq!(
            keys[1].api_resource().api_version,
            "helm.toolkit.fluxcd.io/v2"
        );
        assert_eq!(keys[1].api_resource().plural, "helmreleases");
    }

    #[test]
    fn a_ready_expr_decides_over_self_and_dep() {
        let mut apps = ks("apps", "fleet");
        apps.meta_mut().labels = Some([("app/version".to_owned(), "v2".to_owned())].into());
        let own = json(&apps);
        let mut infra = ready(ks("infra", "fleet"), "main@sha1:1");
        infra.meta_mut().labels = Some([("app/version".to_owned(), "v1".to_owned())].into());
        let infra = json(&infra);
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
                ready_by_expr(expr, &own, "infra", &infra).expect(expr),
                want,
                "{expr}"
            );
        }
    }

    #[test]
    fn a_ready_expr_that_does_not_parse_stalls_and_one_that_fails_waits() {
        let own = json(&ks("apps", "fleet"));
        let infra = json(&ready(ks("infra", "fleet"), "main@sha1:1"));
        let err = ready_by_expr("dep.status.", &own, "infra", &infra).expect_err("parse error");
        assert_eq!(err.reason(), "InvalidCELExpression");
        assert_eq!(err.class(), ErrorClass::Stalled);
        assert!(
            err.to_string().starts_with(
                "Reconciliation failed terminally due to configuration error: \
                 failed to evaluate dependency infra: failed to parse the CEL expression 'dep.status.'"
            ),
            "{err}"
        );
        let err = ready_by_expr("other == 1", &own, "infra", &infra).expect_err("undeclared");
        assert_eq!(err.reason(), "InvalidCELExpression");

        let err = ready_by_expr("dep.status.missing == 1", &own, "infra", &infra)
            .expect_err("eval error");
        assert_eq!(err.reason(), "DependencyNotReady");
        assert_eq!(err.class(), ErrorClass::Waiting { after: None });
        assert!(
            err.to_string()
                .starts_with("failed to evaluate the CEL expression 'dep.status.missing == 1'"),
            "{err}"
        );
        let err =
            ready_by_expr("dep.metadata.name", &own, "infra", &infra).expect_err("not a boolean");
        assert_eq!(
            err.to_string(),
            "failed to evaluate CEL expression as boolean: 'dep.metadata.name'"
        );
    }
}
