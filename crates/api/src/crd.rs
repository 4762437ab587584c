//! The CustomResourceDefinitions for every kind, shaped like Flux's own.
//!
//! kube-derive generates most of each CRD from the types. What it cannot express is added here:
//! the install labels and annotations Flux's CRDs carry, `listKind`, the `apiVersion`/`kind`/
//! `metadata` properties controller-gen puts at the schema root, the empty `subresources` of the
//! status-less kinds, and no `nullable` (Flux never marks a field nullable; kube-derive marks every
//! `Option`). Use [`crds()`] rather than `CustomResourceExt::crd()` when installing.

use std::collections::BTreeMap;

use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::{
    CustomResourceDefinition, CustomResourceSubresources, JSONSchemaProps, JSONSchemaPropsOrArray,
    JSONSchemaPropsOrBool,
};
use kube::{CustomResourceExt, Resource};

use crate::annotations;
use crate::helm::HelmRelease;
use crate::image::{ImagePolicy, ImageRepository, ImageUpdateAutomation};
use crate::kustomize::Kustomization;
use crate::notification::{Alert, Provider, Receiver};
use crate::source::{
    Bucket, ExternalArtifact, GitRepository, HelmChart, HelmRepository, OCIRepository,
};

/// Controller names, used as the `app.kubernetes.io/component` label of each CRD.
pub mod component {
    /// Serves the `source.toolkit.fluxcd.io` kinds.
    pub const SOURCE_CONTROLLER: &str = "source-controller";
    /// Serves Kustomization.
    pub const KUSTOMIZE_CONTROLLER: &str = "kustomize-controller";
    /// Serves HelmRelease.
    pub const HELM_CONTROLLER: &str = "helm-controller";
    /// Serves Alert, Provider and Receiver.
    pub const NOTIFICATION_CONTROLLER: &str = "notification-controller";
    /// Serves ImageRepository and ImagePolicy.
    pub const IMAGE_REFLECTOR_CONTROLLER: &str = "image-reflector-controller";
    /// Serves ImageUpdateAutomation.
    pub const IMAGE_AUTOMATION_CONTROLLER: &str = "image-automation-controller";
}

/// Every CRD, grouped by controller and sorted by kind within a controller.
pub fn crds() -> Vec<CustomResourceDefinition> {
    use component::*;
    vec![
        flux_crd::<Bucket>(SOURCE_CONTROLLER),
        flux_crd::<ExternalArtifact>(SOURCE_CONTROLLER),
        flux_crd::<GitRepository>(SOURCE_CONTROLLER),
        flux_crd::<HelmChart>(SOURCE_CONTROLLER),
        flux_crd::<HelmRepository>(SOURCE_CONTROLLER),
        flux_crd::<OCIRepository>(SOURCE_CONTROLLER),
        flux_crd::<Kustomization>(KUSTOMIZE_CONTROLLER),
        flux_crd::<HelmRelease>(HELM_CONTROLLER),
        flux_crd::<Alert>(NOTIFICATION_CONTROLLER),
        flux_crd::<Provider>(NOTIFICATION_CONTROLLER),
        flux_crd::<Receiver>(NOTIFICATION_CONTROLLER),
        flux_crd::<ImagePolicy>(IMAGE_REFLECTOR_CONTROLLER),
        flux_crd::<ImageRepository>(IMAGE_REFLECTOR_CONTROLLER),
        flux_crd::<ImageUpdateAutomation>(IMAGE_AUTOMATION_CONTROLLER),
    ]
}

/// The CRD of `K`, shaped like the one Flux ships for the same kind.
pub fn flux_crd<K>(component: &str) -> CustomResourceDefinition
where
    K: CustomResourceExt + Resource<DynamicType = ()>,
{
    let mut crd = K::crd();
    crd.metadata.labels = Some(BTreeMap::from([
        (annotations::COMPONENT.to_owned(), component.to_owned()),
        (
            annotations::PART_OF.to_owned(),
            annotations::PART_OF_FLUX.to_owned(),
        ),
    ]));
    crd.metadata.annotations = Some(BTreeMap::from([(
        annotations::KUSTOMIZE_SUBSTITUTE.to_owned(),
        annotations::DISABLED.to_owned(),
    )]));
    crd.spec.names.list_kind = Some(format!("{}List", K::kind(&())));
    for version in &mut crd.spec.versions {
        // controller-gen writes `subresources: {}` for kinds without a status subresource.
        version
            .subresources
            .get_or_insert_with(CustomResourceSubresources::default);
        if let Some(root) = version
            .schema
            .as_mut()
            .and_then(|s| s.open_api_v3_schema.as_mut())
        {
            shape_root(root);
        }
    }
    crd
}

/// Gives the root schema the properties controller-gen writes for every kind.
fn shape_root(root: &mut JSONSchemaProps) {
    drop_nullable(root);
    root.required = None;
    root.title = None;
    let properties = root.properties.get_or_insert_with(BTreeMap::new);
    properties.insert(
        "apiVersion".to_owned(),
        string_property("Versioned schema of this representation of the object."),
    );
    properties.insert(
        "kind".to_owned(),
        string_property("REST resource this object represents, in CamelCase."),
    );
    properties.insert(
        "metadata".to_owned(),
        JSONSchemaProps {
            type_: Some("object".to_owned()),
            ..JSONSchemaProps::default()
        },
    );
}

fn string_property(description: &str) -> JSONSchemaProps {
    JSONSchemaProps {
        description: Some(description.to_owned()),
        type_: Some("string".to_owned()),
        ..JSONSchemaProps::default()
    }
}

/// Removes `nullable` from a schema and everything below it.
fn drop_nullable(schema: &mut JSONSchemaProps) {
    schema.nullable = None;
    for child in schema.properties.iter_mut().flat_map(|p| p.values_mut()) {
        drop_nullable(child);
    }
    match &mut schema.items {
        Some(JSONSchemaPropsOrArray::Schema(item)) => drop_nullable(item),
        Some(JSONSchemaPropsOrArray::Schemas(items)) => items.iter_mut().for_each(drop_nullable),
        None => {}
    }
    if let Some(JSONSchemaPropsOrBool::Schema(additional)) = &mut schema.additional_properties {
        drop_nullable(additional);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nullable_is_removed_at_every_depth() {
        let leaf = JSONSchemaProps {
            nullable: Some(true),
            ..JSONSchemaProps::default()
        };
        let mut root = JSONSchemaProps {
            nullable: Some(true),
            properties: Some(BTreeMap::from([(
                "list".to_owned(),
                JSONSchemaProps {
                    nullable: Some(true),
                    items: Some(JSONSchemaPropsOrArray::Schema(Box::new(JSONSchemaProps {
                        additional_properties: Some(JSONSchemaPropsOrBool::Schema(Box::new(leaf))),
                        ..JSONSchemaProps::default()
                    }))),
                    ..JSONSchemaProps::default()
                },
            )])),
            ..JSONSchemaProps::default()
        };
        drop_nullable(&mut root);
        let json = serde_json::to_string(&root).expect("schema serialises");
        assert!(!json.contains("nullable"), "{json}");
    }

    #[test]
    fn every_crd_carries_the_flux_install_labels() {
        for crd in crds() {
            let labels = crd.metadata.labels.unwrap_or_default();
            assert_eq!(
                labels.get(annotations::PART_OF).map(String::as_str),
                Some("flux")
            );
            assert!(labels.contains_key(annotations::COMPONENT));
        }
    }
}
