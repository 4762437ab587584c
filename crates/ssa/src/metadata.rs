//! Reading Flux's per-object switches (`kustomize.toolkit.fluxcd.io/ssa`, `force`, `prune`,
//! `reconcile`) the way `fluxcd/pkg/ssa/utils.AnyInMetadata` does: from a label or an annotation,
//! with the value compared case-insensitively.

use driftless_api::annotations::{
    DISABLED, ENABLED, KUSTOMIZE_FORCE, KUSTOMIZE_PRUNE, KUSTOMIZE_RECONCILE, KUSTOMIZE_SSA,
};
use kube::api::ObjectMeta;

/// The `kustomize.toolkit.fluxcd.io/ssa` policy of an object.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SsaPolicy {
    /// Default: apply and take ownership of every field in the manifest.
    Override,
    /// Apply, but keep fields other managers (kubectl) set; Flux skips its managed-fields cleanup.
    Merge,
    /// Create when absent, never touch an existing object.
    IfNotPresent,
    /// Never apply, never prune.
    Ignore,
}

/// True when `key` is set to `value` (any case) as a label or an annotation.
pub fn any_in_metadata(meta: &ObjectMeta, key: &str, value: &str) -> bool {
    let matches = |map: &Option<std::collections::BTreeMap<String, String>>| {
        map.as_ref()
            .and_then(|m| m.get(key))
            .is_some_and(|v| v.eq_ignore_ascii_case(value))
    };
    matches(&meta.labels) || matches(&meta.annotations)
}

/// The object's SSA policy; unknown values fall back to Override as Flux does.
pub fn ssa_policy(meta: &ObjectMeta) -> SsaPolicy {
    if any_in_metadata(meta, KUSTOMIZE_SSA, "Ignore") {
        SsaPolicy::Ignore
    } else if any_in_metadata(meta, KUSTOMIZE_SSA, "IfNotPresent") {
        SsaPolicy::IfNotPresent
    } else if any_in_metadata(meta, KUSTOMIZE_SSA, "Merge") {
        SsaPolicy::Merge
    } else {
        SsaPolicy::Override
    }
}

/// `kustomize.toolkit.fluxcd.io/force: enabled`: recreate on immutable-field changes.
pub fn force_enabled(meta: &ObjectMeta) -> bool {
    any_in_metadata(meta, KUSTOMIZE_FORCE, ENABLED)
}

/// `kustomize.toolkit.fluxcd.io/prune: disabled`: never garbage-collect.
pub fn prune_disabled(meta: &ObjectMeta) -> bool {
    any_in_metadata(meta, KUSTOMIZE_PRUNE, DISABLED)
}

/// `kustomize.toolkit.fluxcd.io/reconcile: disabled`: neither apply nor prune.
pub fn reconcile_disabled(meta: &ObjectMeta) -> bool {
    any_in_metadata(meta, KUSTOMIZE_RECONCILE, DISABLED)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;

    fn annotated(key: &str, value: &str) -> ObjectMeta {
        ObjectMeta {
            annotations: Some(BTreeMap::from([(key.to_string(), value.to_string())])),
            ..ObjectMeta::default()
        }
    }

    #[test]
    fn switches_are_read_from_labels_or_annotations_ignoring_value_case() {
        assert!(prune_disabled(&annotated(KUSTOMIZE_PRUNE, "Disabled")));
        let labelled = ObjectMeta {
            labels: Some(BTreeMap::from([(KUSTOMIZE_FORCE.into(), "enabled".into())])),
            ..ObjectMeta::default()
        };
        assert!(force_enabled(&labelled));
        assert!(!force_enabled(&ObjectMeta::default()));
    }

    #[test]
    fn ssa_policy_defaults_to_override_and_reads_each_flux_value() {
        assert_eq!(ssa_policy(&ObjectMeta::default()), SsaPolicy::Override);
        assert_eq!(
            ssa_policy(&annotated(KUSTOMIZE_SSA, "merge")),
            SsaPolicy::Merge
        );
        assert_eq!(
            ssa_policy(&annotated(KUSTOMIZE_SSA, "IfNotPresent")),
            SsaPolicy::IfNotPresent
        );
        assert_eq!(
            ssa_policy(&annotated(KUSTOMIZE_SSA, "Ignore")),
            SsaPolicy::Ignore
        );
        assert_eq!(
            ssa_policy(&annotated(KUSTOMIZE_SSA, "bogus")),
            SsaPolicy::Override
        );
    }
}
