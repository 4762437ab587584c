//! Types shared by the two appliers, Kustomization and HelmRelease: kustomize overlays, drift
//! ignore rules, CEL health checks and the inventory of applied objects.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// Selects resources by group, version, kind, name, namespace and label/annotation selectors;
/// every field set must match.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct Selector {
    /// Label-selector syntax matched against resource annotations.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub annotation_selector: Option<String>,
    /// API group, a regular expression.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub group: Option<String>,
    /// Kind, a regular expression.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub kind: Option<String>,
    /// Label-selector syntax matched against resource labels.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub label_selector: Option<String>,
    /// Name, a regular expression.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Namespace, a regular expression.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub namespace: Option<String>,
    /// API version, a regular expression.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub version: Option<String>,
}

/// A strategic-merge or JSON 6902 patch, applied to the resources its target selects.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct Patch {
    /// The patch document, YAML or JSON, inline.
    pub patch: String,
    /// Resources to patch; a strategic-merge patch names its own target when unset.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub target: Option<Selector>,
}

/// A kustomize image override: rewrites the name, tag or digest of matching container images.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct Image {
    /// Digest to pin; takes precedence over `newTag`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub digest: Option<String>,
    /// Image name to match, without tag.
    pub name: String,
    /// Replacement image name.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub new_name: Option<String>,
    /// Replacement tag.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub new_tag: Option<String>,
}

/// JSON pointers whose values drift detection and apply leave as the cluster has them.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct IgnoreRule {
    /// RFC 6901 JSON pointers into the selected objects.
    pub paths: Vec<String>,
    /// Objects the rule applies to; all objects when unset.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub target: Option<Selector>,
}

/// CEL expressions that compute the health of a custom resource kind.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct CustomHealthCheck {
    /// `group/version` of the kind; only the group is matched.
    pub api_version: String,
    /// True when the object is healthy.
    pub current: String,
    /// True when the object has failed; evaluated before `current`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub failed: Option<String>,
    /// True when the object is still progressing; evaluated after `failed`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub in_progress: Option<String>,
    /// Kind the expressions apply to.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub kind: Option<String>,
}

/// The objects an applier created, used to garbage-collect those it no longer renders.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ResourceInventory {
    /// One entry per applied object.
    pub entries: Vec<ResourceRef>,
}

/// One applied object in an inventory.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ResourceRef {
    /// `<namespace>_<name>_<group>_<kind>`, as cli-utils formats object metadata.
    pub id: String,
    /// API version of the object, without its group.
    pub v: String,
}
