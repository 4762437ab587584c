//! Deletion, as Flux's `reconcileDelete`: unless the HelmRelease is suspended, uninstall its
//! release (`uninstall.keepHistory`, `disableHooks`, `disableWait`, `timeout` honoured) from the
//! storage namespace in use, delete the HelmChart made from `spec.chart`, then remove the
//! finalizer.

use driftless_api::conditions::reasons;
use driftless_api::helm::HelmRelease;
use driftless_helm::release::{self as helm, KubeCluster, KubeSecrets, Storage};
use driftless_runtime::events::EventType;
use driftless_runtime::object::object_key;
use driftless_runtime::patch::{remove_finalizer, status_field_manager};
use driftless_runtime::summary::Next;
use kube::api::Api;

use crate::error::ReconcileError;
use crate::reconcile::Context;
use crate::release::settings;
use crate::{chart, identity};

/// The release to uninstall: the one the history names, else the one the spec names.
pub fn release_of(hr: &HelmRelease) -> (String, String) {
    let status = hr.status.as_ref();
    let name = status
        .and_then(|s| s.history.as_ref())
        .and_then(|h| h.first())
        .map(|s| s.name.clone())
        .unwrap_or_else(|| identity::release_name(hr));
    let storage = status
        .and_then(|s| s.storage_namespace.clone())
        .unwrap_or_else(|| identity::storage_namespace(hr));
    (name, storage)
}

/// Why the uninstall of a deleted HelmRelease's release did not happen.
enum Failure {
    /// No client for its cluster or identity.
    Client(ReconcileError),
    /// The uninstall itself failed.
    Helm(helm::ReleaseError),
}

/// Whether the status records any release of this object.
fn released_any(hr: &HelmRelease) -> bool {
    hr.status
        .as_ref()
        .and_then(|s| s.history.as_ref())
        .is_some_and(|h| !h.is_empty())
}

/// Cleans up after a deleted HelmRelease and lets the API server remove it.
pub async fn finalize(
    ctx: &Context,
    api: &Api<HelmRelease>,
    hr: &HelmRelease,
) -> Result<Next, ReconcileError> {
    let client = ctx.client.clone();
    if !hr.spec.suspend.unwrap_or(false) {
        let (name, storage_ns) = release_of(hr);
        let (common, keep_history) = settings::uninstall(hr)?;
        let result = match crate::target::client(&ctx.targets, hr).await {
            Ok(target) => {
                let storage = Storage::new(KubeSecrets::new(target.clone(), &storage_ns));
                helm::uninstall(
                    &storage,
                    &KubeCluster::new(target),
                    helm::Uninstall {
                        name: name.clone(),
                        keep_history,
                        common,
                    },
                )
                .await
                .map_err(Failure::Helm)
            }
            Err(e) => Err(Failure::Client(e)),
        };
        match result {
            Ok(done) => {
                let message = format!(
                    "Helm uninstall succeeded for release {}/{}.v{}",
                    done.release.namespace, done.release.name, done.release.version
                );
                ctx.recorder
                    .event(
                        hr,
                        EventType::Normal,
                        reasons::UNINSTALL_SUCCEEDED,
                        &message,
                        &[],
                    )
                    .await;
            }
            Err(Failure::Helm(
                helm::ReleaseError::NotFound | helm::ReleaseError::AlreadyDeleted(_),
            )) => {}
            // Nothing this object released is on record (no history, as Flux's ErrNoLatest):
            // an identity that may not even read the storage must not wedge the deletion.
            Err(e) if !released_any(hr) => {
                let error = match &e {
                    Failure::Client(e) => e.to_string(),
                    Failure::Helm(e) => e.to_string(),
                };
                tracing::warn!(name = %name, namespace = %storage_ns, %error,
                    "skipping the uninstall of a release this HelmRelease has no history of");
            }
            Err(Failure::Client(e)) => return Err(e),
            Err(Failure::Helm(e)) => {
                let message = format!("Helm uninstall failed for release {storage_ns}/{name}: {e}");
                ctx.recorder
                    .event(
                        hr,
                        EventType::Warning,
                        reasons::UNINSTALL_FAILED,
                        &message,
                        &[],
                    )
                    .await;
                return Err(ReconcileError::UninstallFailed { message });
            }
        }
    }
    chart::collect_stale(&client, hr, None).await?;
    remove_finalizer(api, hr, &status_field_manager(crate::CONTROLLER_NAME))
        .await
        .map_err(|source| ReconcileError::Patch {
            source: Box::new(source),
        })?;
    if let Some(metrics) = &ctx.metrics {
        metrics.delete_object(hr);
    }
    ctx.scheduler.forget(&object_key(hr));
    Ok(Next::AwaitChange)
}

#[cfg(test)]
mod tests {
    use driftless_api::helm::{HelmReleaseSpec, HelmReleaseStatus, Snapshot};
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;

    use super::*;

    #[test]
    fn deletion_uninstalls_the_release_the_history_names_from_the_storage_in_use() {
        let mut hr = HelmRelease::new(
            "web",
            HelmReleaseSpec {
                release_name: Some("renamed".into()),
                ..Default::default()
            },
        );
        hr.metadata.namespace = Some("team".into());
        assert_eq!(release_of(&hr), ("renamed".into(), "team".into()));
        let t = Time(jiff::Timestamp::UNIX_EPOCH);
        hr.status = Some(HelmReleaseStatus {
            storage_namespace: Some("store".into()),
            history: Some(vec![Snapshot {
                action: None,
                api_version: None,
                app_version: None,
                chart_name: "c".into(),
                chart_version: "1".into(),
                config_digest: String::new(),
                deleted: None,
                digest: String::new(),
                first_deployed: t.clone(),
                last_deployed: t,
                name: "web".into(),
                namespace: "team".into(),
                oci_digest: None,
                status: "deployed".into(),
                test_hooks: None,
                version: 1,
            }]),
            ..Default::default()
        });
        assert_eq!(release_of(&hr), ("web".into(), "store".into()));
    }
}
