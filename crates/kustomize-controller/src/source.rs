//! The referenced source and its artifact, as Flux's `getSource`: GitRepository, OCIRepository,
//! Bucket or ExternalArtifact, read as a dynamic object so every kind goes through one path;
//! cross-namespace references refused under `--no-cross-namespace-refs`.

use driftless_api::kustomize::{Kustomization, KustomizationSourceKind};
use driftless_api::meta::Artifact;
use kube::api::{Api, ApiResource, DynamicObject, GroupVersionKind};
use kube::{Resource, ResourceExt};

use crate::error::{ReconcileError, go_duration};

/// The API group of every source kind.
pub const SOURCE_GROUP: &str = "source.toolkit.fluxcd.io";

/// A resolved source reference.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct SourceKey {
    /// `GitRepository`, `OCIRepository`, `Bucket` or `ExternalArtifact`.
    pub kind: String,
    /// The source's namespace (the Kustomization's when the reference names none).
    pub namespace: String,
    /// The source's name.
    pub name: String,
}

impl SourceKey {
    /// The source a Kustomization refers to.
    pub fn of(ks: &Kustomization) -> Self {
        let reference = &ks.spec.source_ref;
        Self {
            kind: kind_name(reference.kind).to_owned(),
            namespace: reference
                .namespace
                .clone()
                .filter(|n| !n.is_empty())
                .or_else(|| ks.namespace())
                .unwrap_or_default(),
            name: reference.name.clone(),
        }
    }

    /// The API resource for this source kind (`source.toolkit.fluxcd.io/v1`).
    pub fn api_resource(&self) -> ApiResource {
        ApiResource::from_gvk(&GroupVersionKind::gvk(SOURCE_GROUP, "v1", &self.kind))
    }
}

/// The kind as Flux spells it.
pub fn kind_name(kind: KustomizationSourceKind) -> &'static str {
    match kind {
        KustomizationSourceKind::GitRepository => "GitRepository",
        KustomizationSourceKind::OCIRepository => "OCIRepository",
        KustomizationSourceKind::Bucket => "Bucket",
        KustomizationSourceKind::ExternalArtifact => "ExternalArtifact",
    }
}

/// Refuses a reference into another namespace when `--no-cross-namespace-refs` is set.
pub fn check_namespace(
    ks: &Kustomization,
    kind: &str,
    namespace: &str,
    name: &str,
    no_cross_namespace_refs: bool,
) -> Result<(), ReconcileError> {
    let own = ks.meta().namespace.as_deref().unwrap_or_default();
    if no_cross_namespace_refs && namespace != own {
        return Err(ReconcileError::CrossNamespace {
            kind: kind.to_owned(),
            namespace: namespace.to_owned(),
            name: name.to_owned(),
        });
    }
    Ok(())
}

/// Reads the source and returns its current artifact. A missing source or one without an
/// artifact is a wait, not a failure.
pub async fn artifact(
    client: &kube::Client,
    key: &SourceKey,
    requeue_dependency: std::time::Duration,
) -> Result<Artifact, ReconcileError> {
    let api: Api<DynamicObject> =
        Api::namespaced_with(client.clone(), &key.namespace, &key.api_resource());
    let object = api
        .get_opt(&key.name)
        .await
        .map_err(|source| ReconcileError::Read {
            subject: format!("{} '{}/{}'", key.kind, key.namespace, key.name),
            source: Box::new(source),
        })?
        .ok_or_else(|| ReconcileError::SourceNotFound {
            kind: key.kind.clone(),
            namespace: key.namespace.clone(),
            name: key.name.clone(),
        })?;
    artifact_of(&object).ok_or_else(|| ReconcileError::ArtifactNotReady {
        retry: go_duration(requeue_dependency),
    })
}

/// `status.artifact` of a source object, when it has a well-formed one.
pub fn artifact_of(object: &DynamicObject) -> Option<Artifact> {
    let value = object.data.get("status")?.get("artifact")?.clone();
    serde_json::from_value(value).ok()
}

/// The origin revision Flux records in `lastAppliedOriginRevision`: the OCI annotation
/// `org.opencontainers.image.revision` of the artifact, when the source recorded one.
pub fn origin_revision(artifact: &Artifact) -> Option<String> {
    artifact
        .metadata
        .as_ref()?
        .get("org.opencontainers.image.revision")
        .cloned()
}

#[cfg(test)]
mod tests {
    use driftless_api::kustomize::{KustomizationSourceReference, KustomizationSpec};

    use super::*;

    fn ks(source_namespace: Option<&str>) -> Kustomization {
        let mut ks = Kustomization::new(
            "apps",
            KustomizationSpec {
                source_ref: KustomizationSourceReference {
                    kind: KustomizationSourceKind::OCIRepository,
                    name: "fleet".into(),
                    namespace: source_namespace.map(str::to_owned),
                    ..Default::default()
                },
                ..Default::default()
            },
        );
        ks.meta_mut().namespace = Some("team".into());
        ks
    }

    #[test]
    fn a_reference_without_namespace_points_into_the_kustomizations_namespace() {
        let key = SourceKey::of(&ks(None));
        assert_eq!(key.namespace, "team");
        assert_eq!(key.api_resource().plural, "ocirepositories");
        assert_eq!(
            key.api_resource().api_version,
            "source.toolkit.fluxcd.io/v1"
        );
    }

    #[test]
    fn cross_namespace_references_are_refused_only_when_blocked() {
        let ks = ks(Some("flux-system"));
        let key = SourceKey::of(&ks);
        assert!(check_namespace(&ks, &key.kind, &key.namespace, &key.name, false).is_ok());
        let err =
            check_namespace(&ks, &key.kind, &key.namespace, &key.name, true).expect_err("blocked");
        assert_eq!(
            err.to_string(),
            "cannot access OCIRepository 'flux-system/fleet', cross-namespace references have been blocked"
        );
    }

    #[test]
    fn a_source_without_artifact_has_none() {
        let mut object = DynamicObject::new("x", &SourceKey::of(&ks(None)).api_resource());
        assert!(artifact_of(&object).is_none());
        object.data = serde_json::json!({"status": {"artifact": {
            "digest": "sha256:00", "lastUpdateTime": "2026-01-01T00:00:00Z",
            "path": "p", "revision": "main@sha1:ab", "url": "http://x/p",
            "metadata": {"org.opencontainers.image.revision": "v1@sha1:cd"}}}});
        let artifact = artifact_of(&object).expect("artifact");
        assert_eq!(artifact.revision, "main@sha1:ab");
        assert_eq!(origin_revision(&artifact).as_deref(), Some("v1@sha1:cd"));
    }
}
