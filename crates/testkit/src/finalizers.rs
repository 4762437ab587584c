//! Releasing the Flux objects a test leaves behind.
//!
//! Controllers put `finalizers.fluxcd.io` on what they reconcile. Tests run
//! controllers in process and usually stop them before the test namespace is
//! dropped, so nothing is left to remove that finalizer: the namespace would
//! stay Terminating for ever, and kube-controller-manager's namespace
//! controller would retry it for the rest of the run, loading the API server
//! every other test shares. When a test namespace goes, its Flux objects are
//! deleted and their Flux finalizer is removed; other finalizers are kept,
//! since a test may be exercising them.

use kube::api::{Api, ApiResource, DeleteParams, DynamicObject, ListParams, Patch, PatchParams};
use serde_json::json;

/// The finalizer every Flux controller sets.
const FLUX_FINALIZER: &str = "finalizers.fluxcd.io";

/// Every namespaced Flux kind, as (group, version, kind, plural).
const FLUX_KINDS: &[(&str, &str, &str, &str)] = &[
    (
        "source.toolkit.fluxcd.io",
        "v1",
        "GitRepository",
        "gitrepositories",
    ),
    (
        "source.toolkit.fluxcd.io",
        "v1",
        "HelmRepository",
        "helmrepositories",
    ),
    ("source.toolkit.fluxcd.io", "v1", "HelmChart", "helmcharts"),
    (
        "source.toolkit.fluxcd.io",
        "v1",
        "OCIRepository",
        "ocirepositories",
    ),
    ("source.toolkit.fluxcd.io", "v1", "Bucket", "buckets"),
    (
        "source.toolkit.fluxcd.io",
        "v1",
        "ExternalArtifact",
        "externalartifacts",
    ),
    (
        "kustomize.toolkit.fluxcd.io",
        "v1",
        "Kustomization",
        "kustomizations",
    ),
    (
        "helm.toolkit.fluxcd.io",
        "v2",
        "HelmRelease",
        "helmreleases",
    ),
    (
        "notification.toolkit.fluxcd.io",
        "v1",
        "Receiver",
        "receivers",
    ),
    (
        "notification.toolkit.fluxcd.io",
        "v1beta3",
        "Alert",
        "alerts",
    ),
    (
        "notification.toolkit.fluxcd.io",
        "v1beta3",
        "Provider",
        "providers",
    ),
    (
        "image.toolkit.fluxcd.io",
        "v1",
        "ImageRepository",
        "imagerepositories",
    ),
    (
        "image.toolkit.fluxcd.io",
        "v1",
        "ImagePolicy",
        "imagepolicies",
    ),
    (
        "image.toolkit.fluxcd.io",
        "v1",
        "ImageUpdateAutomation",
        "imageupdateautomations",
    ),
];

/// Deletes every Flux object of `namespace` and lifts the Flux finalizer off
/// each, so the namespace can finish terminating without a controller.
/// Best effort: a kind whose CRD is not installed is skipped, and errors are
/// ignored (this runs while a test is being torn down).
pub(crate) async fn release_flux_objects(client: &kube::Client, namespace: &str) {
    for (group, version, kind, plural) in FLUX_KINDS {
        let resource = ApiResource {
            group: (*group).to_string(),
            version: (*version).to_string(),
            api_version: format!("{group}/{version}"),
            kind: (*kind).to_string(),
            plural: (*plural).to_string(),
        };
        let api: Api<DynamicObject> = Api::namespaced_with(client.clone(), namespace, &resource);
        // A missing CRD answers 404: nothing of that kind can exist here.
        let Ok(objects) = api.list_metadata(&ListParams::default()).await else {
            continue;
        };
        for object in objects {
            let Some(name) = object.metadata.name else {
                continue;
            };
            let finalizers = object.metadata.finalizers.unwrap_or_default();
            // Deleting first means a controller that is still running will
            // not put the finalizer back once it is lifted.
            let _ = api.delete(&name, &DeleteParams::background()).await;
            if finalizers.iter().any(|f| f == FLUX_FINALIZER) {
                let kept: Vec<&String> =
                    finalizers.iter().filter(|f| *f != FLUX_FINALIZER).collect();
                let patch = json!({"metadata": {"finalizers": kept}});
                let _ = api
                    .patch(&name, &PatchParams::default(), &Patch::Merge(&patch))
                    .await;
            }
        }
    }
}
