//! `spec.dependsOn`: every HelmRelease named must exist, be Ready and have observed its latest
//! generation before this one releases, as Flux's `checkDependencies`. (`readyExpr` and
//! dependencies of other kinds are not evaluated yet: only HelmRelease readiness.)

use driftless_api::conditions::{status, types};
use driftless_api::helm::HelmRelease;
use kube::ResourceExt;
use kube::api::Api;

use crate::error::ReconcileError;

/// A dependency as `namespace/name`.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct DependencyKey {
    /// Its namespace (the dependent's when the reference names none).
    pub namespace: String,
    /// Its name.
    pub name: String,
}

/// The HelmReleases `hr` depends on.
pub fn keys(hr: &HelmRelease) -> Vec<DependencyKey> {
    let own = hr.namespace().unwrap_or_default();
    hr.spec
        .depends_on
        .iter()
        .flatten()
        .map(|d| DependencyKey {
            namespace: d
                .namespace
                .clone()
                .filter(|n| !n.is_empty())
                .unwrap_or_else(|| own.clone()),
            name: d.name.clone(),
        })
        .collect()
}

/// Whether a dependency is Ready for its latest generation.
pub fn is_ready(dependency: &HelmRelease) -> bool {
    let Some(s) = dependency.status.as_ref() else {
        return false;
    };
    let ready = s
        .conditions
        .iter()
        .flatten()
        .any(|c| c.type_ == types::READY && c.status == status::TRUE);
    ready && s.observed_generation == dependency.metadata.generation
}

/// Fails with `DependencyNotReady` on the first dependency that is missing or not Ready.
pub async fn check(client: &kube::Client, hr: &HelmRelease) -> Result<(), ReconcileError> {
    for key in keys(hr) {
        let api: Api<HelmRelease> = Api::namespaced(client.clone(), &key.namespace);
        let found = api
            .get_opt(&key.name)
            .await
            .map_err(|e| ReconcileError::Read {
                subject: format!("HelmRelease '{}/{}'", key.namespace, key.name),
                source: Box::new(e),
            })?;
        if !found.as_ref().is_some_and(is_ready) {
            return Err(ReconcileError::DependencyNotReady {
                subject: format!("{}/{}", key.namespace, key.name),
            });
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use driftless_api::helm::{HelmReleaseSpec, HelmReleaseStatus};
    use driftless_api::meta::DependencyReference;
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::{Condition, Time};

    use super::*;

    #[test]
    fn a_dependency_counts_only_when_ready_for_its_latest_generation() {
        let mut hr = HelmRelease::new(
            "app",
            HelmReleaseSpec {
                depends_on: Some(vec![DependencyReference {
                    name: "db".into(),
                    ..Default::default()
                }]),
                ..Default::default()
            },
        );
        hr.metadata.namespace = Some("team".into());
        assert_eq!(
            keys(&hr),
            vec![DependencyKey {
                namespace: "team".into(),
                name: "db".into()
            }]
        );
        let mut db = HelmRelease::new("db", HelmReleaseSpec::default());
        db.metadata.generation = Some(2);
        assert!(!is_ready(&db));
        db.status = Some(HelmReleaseStatus {
            observed_generation: Some(1),
            conditions: Some(vec![Condition {
                type_: "Ready".into(),
                status: "True".into(),
                reason: "InstallSucceeded".into(),
                message: String::new(),
                observed_generation: Some(1),
                last_transition_time: Time(jiff::Timestamp::UNIX_EPOCH),
            }]),
            ..Default::default()
        });
        assert!(!is_ready(&db));
        if let Some(s) = db.status.as_mut() {
            s.observed_generation = Some(2);
        }
        assert!(is_ready(&db));
    }
}
