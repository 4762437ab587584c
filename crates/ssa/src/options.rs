//! Options of one apply, spelled as kustomize-controller configures `ssa.ResourceManager`.

use std::time::Duration;

/// Flux's field manager for applied objects (the controller's name).
pub const KUSTOMIZE_FIELD_MANAGER: &str = "kustomize-controller";

/// Ownership labels written on every applied object and checked before pruning, as
/// `ResourceManager.SetOwnerLabels` writes `kustomize.toolkit.fluxcd.io/{name,namespace}`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Owner {
    /// Label key holding the owner's name, e.g. `kustomize.toolkit.fluxcd.io/name`.
    pub name_label: String,
    /// Label key holding the owner's namespace.
    pub namespace_label: String,
    pub name: String,
    pub namespace: String,
}

impl Owner {
    /// Ownership by a Kustomization, with Flux's label keys.
    pub fn kustomization(name: &str, namespace: &str) -> Self {
        Self {
            name_label: driftless_api::annotations::KUSTOMIZE_NAME.to_string(),
            namespace_label: driftless_api::annotations::KUSTOMIZE_NAMESPACE.to_string(),
            name: name.to_string(),
            namespace: namespace.to_string(),
        }
    }
}

#[derive(Clone, Debug)]
pub struct ApplyOptions {
    /// Field manager of every apply; Flux's is `kustomize-controller`.
    pub field_manager: String,
    /// Namespace given to namespaced objects that have none (Flux: the Kustomization's
    /// `targetNamespace`, else the API default `default`).
    pub default_namespace: String,
    /// `spec.force`: delete and recreate objects whose immutable fields changed.
    pub force: bool,
    /// Ownership labels to set on applied objects and to require before pruning.
    pub owner: Option<Owner>,
    /// How long a stage (CRDs, Namespaces, classes) may take to become ready; Flux: 60s.
    pub stage_timeout: Duration,
    /// `--custom-apply-stage-kinds`: `group/Kind` entries applied in their own stage before
    /// the rest.
    pub custom_stage_kinds: Vec<String>,
    /// Poll interval while waiting for a stage or for health; Flux: 2s in stages, 5s for health.
    pub poll_interval: Duration,
}

impl Default for ApplyOptions {
    fn default() -> Self {
        Self {
            field_manager: KUSTOMIZE_FIELD_MANAGER.to_string(),
            default_namespace: "default".to_string(),
            force: false,
            owner: None,
            stage_timeout: Duration::from_secs(60),
            custom_stage_kinds: Vec::new(),
            poll_interval: Duration::from_secs(2),
        }
    }
}
