//! The Kustomization's overlay fields as the kustomize crate's [`FluxOverlay`]: what Flux's
//! generator adds to the kustomization at `spec.path` before building it. `commonMetadata` is
//! left out here: Flux sets it after post-build substitution (see [`crate::apply`]).

use driftless_api::apply::Selector;
use driftless_api::kustomize::BuildMetadata;
use driftless_api::kustomize::KustomizationSpec;
use driftless_kustomize::{FluxImage, FluxOverlay, FluxPatch};

/// The overlay of `spec`.
pub fn from_spec(spec: &KustomizationSpec) -> FluxOverlay {
    FluxOverlay {
        target_namespace: spec.target_namespace.clone().filter(|n| !n.is_empty()),
        name_prefix: spec.name_prefix.clone().filter(|n| !n.is_empty()),
        name_suffix: spec.name_suffix.clone().filter(|n| !n.is_empty()),
        common_labels: Default::default(),
        common_annotations: Default::default(),
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
        ignore_missing_components: spec.ignore_missing_components.unwrap_or(false),
        build_metadata: spec
            .build_metadata
            .iter()
            .flatten()
            .map(|m| match m {
                BuildMetadata::OriginAnnotations => "originAnnotations".to_owned(),
                BuildMetadata::TransformerAnnotations => "transformerAnnotations".to_owned(),
            })
            .collect(),
    }
}

fn selector(s: &Selector) -> driftless_kustomize::Selector {
    driftless_kustomize::Selector {
        group: s.group.clone(),
        version: s.version.clone(),
        kind: s.kind.clone(),
        name: s.name.clone(),
        namespace: s.namespace.clone(),
        label_selector: s.label_selector.clone(),
        annotation_selector: s.annotation_selector.clone(),
    }
}
