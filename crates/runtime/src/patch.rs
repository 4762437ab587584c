//! Writes what a reconcile decided: the status in ONE server-side apply patch on the status
//! subresource, and the `finalizers.fluxcd.io` finalizer, both under Flux's field managers so
//! `managedFields` look as they do under Flux (and a switch between Flux and driftless leaves no
//! orphaned owners).

use driftless_api::annotations::FINALIZER;
use kube::api::{Api, Patch, PatchParams};
use kube::{Resource, ResourceExt};
use serde_json::json;

use crate::object::FluxObject;

/// A status or finalizer write failed.
#[derive(Debug, thiserror::Error)]
pub enum PatchError {
    /// The object has no name (it was never stored).
    #[error("object has no name")]
    Unnamed,
    /// The API server refused the patch.
    #[error("patching {what} of {kind} {key} failed")]
    Api {
        /// `status` or `finalizers`.
        what: &'static str,
        /// The object's kind.
        kind: String,
        /// `namespace/name`.
        key: String,
        /// The API error.
        #[source]
        source: kube::Error,
    },
    /// The patch body could not be built.
    #[error("serialising the {what} patch failed")]
    Serialize {
        /// `status` or `finalizers`.
        what: &'static str,
        /// The serde error.
        #[source]
        source: serde_json::Error,
    },
}

/// The field manager a controller writes status and finalizers with. Flux's source, helm,
/// notification and image controllers use their controller name; kustomize-controller uses
/// `gotk-kustomize-controller` because `kustomize-controller` is the manager of applied objects.
pub fn status_field_manager(controller: &str) -> String {
    match controller {
        "kustomize-controller" => "gotk-kustomize-controller".to_owned(),
        other => other.to_owned(),
    }
}

fn key<K: Resource>(obj: &K) -> String {
    crate::object::object_key(obj)
}

fn api_error<'a, K: Resource<DynamicType = ()>>(
    what: &'static str,
    obj: &'a K,
) -> impl FnOnce(kube::Error) -> PatchError + 'a {
    move |source| PatchError::Api {
        what,
        kind: K::kind(&()).into_owned(),
        key: key(obj),
        source,
    }
}

/// Applies `status` as the object's whole status with one forced server-side apply on the status
/// subresource. Fields this manager wrote before and `status` no longer has are removed by the
/// apply, so a dropped condition or artifact disappears without a separate patch.
pub async fn patch_status<K: FluxObject>(
    api: &Api<K>,
    obj: &K,
    status: &K::Status,
    field_manager: &str,
) -> Result<K, PatchError> {
    let name = obj.meta().name.as_deref().ok_or(PatchError::Unnamed)?;
    let status = serde_json::to_value(status).map_err(|source| PatchError::Serialize {
        what: "status",
        source,
    })?;
    let body = json!({
        "apiVersion": K::api_version(&()),
        "kind": K::kind(&()),
        "metadata": { "name": name },
        "status": status,
    });
    api.patch_status(
        name,
        &PatchParams::apply(field_manager).force(),
        &Patch::Apply(&body),
    )
    .await
    .map_err(api_error("status", obj))
}

/// [`patch_status`] unless `status` equals `live`, the status as last read or written: such a
/// write changes nothing but `resourceVersion`, costs a request from the kind's budget and wakes
/// every watcher (Flux's patch helper likewise sends nothing when its diff is empty). On a write,
/// `live` becomes `status`.
pub async fn patch_status_if_changed<K: FluxObject>(
    api: &Api<K>,
    obj: &K,
    live: &mut Option<K::Status>,
    status: &K::Status,
    field_manager: &str,
) -> Result<(), PatchError> {
    let unchanged = live.as_ref().is_some_and(|live| {
        matches!(
            (serde_json::to_value(live), serde_json::to_value(status)),
            (Ok(a), Ok(b)) if a == b
        )
    });
    if unchanged {
        return Ok(());
    }
    patch_status(api, obj, status, field_manager).await?;
    *live = Some(status.clone());
    Ok(())
}

/// Adds `finalizers.fluxcd.io` with a server-side apply (finalizers are a set, so other
/// finalizers stay). Returns the updated object; a no-op when the finalizer is present.
pub async fn add_finalizer<K: FluxObject>(
    api: &Api<K>,
    obj: &K,
    field_manager: &str,
) -> Result<K, PatchError> {
    if obj.finalizers().iter().any(|f| f == FINALIZER) {
        return Ok(obj.clone());
    }
    let name = obj.meta().name.as_deref().ok_or(PatchError::Unnamed)?;
    let body = json!({
        "apiVersion": K::api_version(&()),
        "kind": K::kind(&()),
        "metadata": { "name": name, "finalizers": [FINALIZER] },
    });
    api.patch(
        name,
        &PatchParams::apply(field_manager),
        &Patch::Apply(&body),
    )
    .await
    .map_err(api_error("finalizers", obj))
}

/// Removes `finalizers.fluxcd.io` with a merge patch of the remaining finalizers, guarded by the
/// object's `resourceVersion` (controller-runtime's optimistic-lock merge, as Flux's patch helper
/// does), so it works whoever added the finalizer and never drops one added concurrently.
/// Returns `None` when the object is gone (removing the last finalizer of a deleted object).
pub async fn remove_finalizer<K: FluxObject>(
    api: &Api<K>,
    obj: &K,
    field_manager: &str,
) -> Result<Option<K>, PatchError> {
    if !obj.finalizers().iter().any(|f| f == FINALIZER) {
        return Ok(Some(obj.clone()));
    }
    let name = obj.meta().name.as_deref().ok_or(PatchError::Unnamed)?;
    let remaining: Vec<&String> = obj
        .finalizers()
        .iter()
        .filter(|f| *f != FINALIZER)
        .collect();
    let body = json!({
        "metadata": {
            "finalizers": remaining,
            "resourceVersion": obj.meta().resource_version,
        },
    });
    let params = PatchParams {
        field_manager: Some(field_manager.to_owned()),
        ..PatchParams::default()
    };
    match api.patch(name, &params, &Patch::Merge(&body)).await {
        Ok(updated) => Ok(Some(updated)),
        Err(kube::Error::Api(status)) if status.code == 404 => Ok(None),
        Err(source) => Err(api_error("finalizers", obj)(source)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn status_field_managers_are_fluxs() {
        assert_eq!(
            status_field_manager("source-controller"),
            "source-controller"
        );
        assert_eq!(
            status_field_manager("kustomize-controller"),
            "gotk-kustomize-controller"
        );
        assert_eq!(status_field_manager("helm-controller"), "helm-controller");
        assert_eq!(
            status_field_manager("notification-controller"),
            "notification-controller"
        );
    }

    /// An API whose client reaches nothing: any request fails.
    fn unreachable() -> Api<driftless_api::source::GitRepository> {
        let config = kube::Config::new("http://127.0.0.1:1".parse().expect("uri"));
        Api::namespaced(kube::Client::try_from(config).expect("client"), "apps")
    }

    fn repo() -> driftless_api::source::GitRepository {
        let mut repo: driftless_api::source::GitRepository = serde_json::from_value(json!({
            "apiVersion": "source.toolkit.fluxcd.io/v1", "kind": "GitRepository",
            "metadata": {"name": "podinfo", "namespace": "apps"},
            "spec": {"url": "https://example.com/podinfo", "interval": "1m"},
        }))
        .expect("object");
        repo.status = Some(Default::default());
        repo
    }

    #[tokio::test]
    async fn a_status_equal_to_the_one_last_read_or_written_is_not_sent() {
        let repo = repo();
        let mut live = repo.status.clone();
        let same = live.clone().expect("status");
        patch_status_if_changed(&unreachable(), &repo, &mut live, &same, "m")
            .await
            .expect("nothing sent, so nothing failed");
    }

    #[tokio::test]
    async fn a_changed_status_or_one_never_read_is_sent() {
        let repo = repo();
        let mut changed = repo.status.clone().expect("status");
        changed.observed_generation = Some(2);
        let mut live = repo.status.clone();
        let sent = patch_status_if_changed(&unreachable(), &repo, &mut live, &changed, "m").await;
        assert!(sent.is_err(), "the write was attempted");
        assert_eq!(live, repo.status, "a failed write leaves `live` as it was");
        let mut none = None;
        let sent = patch_status_if_changed(&unreachable(), &repo, &mut none, &changed, "m").await;
        assert!(sent.is_err(), "the write was attempted");
    }
}
