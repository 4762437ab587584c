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
    /// Longest pause between two polls while waiting for a stage or for health (Flux polls at
    /// a fixed 2s in stages, 5s for health). Waits start at [`FIRST_POLL_DELAY`] and double up
    /// to this: most objects are ready within a second of their apply, and a fixed interval
    /// would make every reconcile wait it out in full.
    pub poll_interval: Duration,
}

/// The first pause of a wait; see [`ApplyOptions::poll_interval`].
pub const FIRST_POLL_DELAY: Duration = Duration::from_millis(250);

impl ApplyOptions {
    /// The pauses between polls of one wait: [`FIRST_POLL_DELAY`], doubling, capped at
    /// `poll_interval`.
    pub fn poll_delays(&self) -> impl Iterator<Item = Duration> + use<> {
        let cap = self.poll_interval;
        std::iter::successors(Some(FIRST_POLL_DELAY.min(cap)), move |d| {
            Some(d.saturating_mul(2).min(cap))
        })
    }
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn waits_poll_quickly_first_then_back_off_to_the_poll_interval() {
        let options = ApplyOptions::default();
        let delays: Vec<u128> = options
            .poll_delays()
            .take(6)
            .map(|d| d.as_millis())
            .collect();
        assert_eq!(delays, vec![250, 500, 1000, 2000, 2000, 2000]);
        let short = ApplyOptions {
            poll_interval: Duration::from_millis(100),
            ..ApplyOptions::default()
        };
        assert!(short.poll_delays().take(3).all(|d| d.as_millis() == 100));
    }
}
