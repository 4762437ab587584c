//! The Kustomization's overlay fields as the kustomize crate's [`FluxOverlay`]: what Flux's
//! generator adds to the kustomization at `spec.path` before building it.

use driftless_api::apply::Selector;
use driftless_api::kustomize::KustomizationSpec;
use driftless_kustomize::flux::{FluxImage, FluxOverlay, FluxPatch, FluxSelector};

/// The overlay of `spec`.
pub fn from_spec(spec: &KustomizationSpec) -> FluxOverlay {
    let metadata = spec.common_metadata.as_ref();
    FluxOverlay {
        target_namespace: spec.target_namespace.clone().filter(|n| !n.is_empty()),
        name_prefix: spec.name_prefix.clone().filter(|n| !n.is_empty()),
        name_suffix: spec.name_suffix.clone().filter(|n| !n.is_empty()),
        common_labels: metadata.and_then(|m| m.labels.clone()).unwrap_or_default(),
        common_annotations: metadata
            .and_then(|m| m.annotations.clone())
            .unwrap_or_default(),
        patches: spec
            .patches
            .iter()
            .flatten()
            .map(|p| FluxPatch {
                patch: p.patch.clone(),
                target: p.target.as_ref().map(selector),
            })
            .collect(),
        images: spec
            .images
            .iter()
            .flatten()
            .map(|i| FluxImage {
                name: i.name.clone(),
                new_name: i.new_name.clone(),
                new_tag: i.new_tag.clone(),
                digest: i.digest.clone(),
            })
            .collect(),
        components: spec.components.clone().unwrap_or_default(),
    }
}

fn selector(s: &Selector) -> FluxSelector {
    FluxSelector {
        group: s.group.clone(),
        version: s.version.clone(),
        kind: s.kind.clone(),
        name: s.name.clone(),
        namespace: s.namespace.clone(),
        label_selector: s.label_selector.clone(),
        annotation_selector: s.annotation_selector.clone(),
    }
}
