//! ImagePolicy (`image.toolkit.fluxcd.io/v1`): picks the latest image tag of an
//! ImageRepository by semver, alphabetical or numerical order.

use k8s_openapi::apimachinery::pkg::apis::meta::v1::Condition;
use kube::CustomResource;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::conditions::impl_has_conditions;
use crate::meta::NamespacedObjectReference;
use crate::schema;

/// Desired state of an ImagePolicy.
#[derive(CustomResource, Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[kube(
    group = "image.toolkit.fluxcd.io",
    version = "v1",
    kind = "ImagePolicy",
    plural = "imagepolicies",
    namespaced,
    status = "ImagePolicyStatus",
    shortname = "imgpol",
    shortname = "imagepol",
    category = "all",
    category = "fluxcd",
    category = "fluxcd-images",
    printcolumn = r#"{"name":"Image","type":"string","jsonPath":".status.latestRef.name"}"#,
    printcolumn = r#"{"name":"Tag","type":"string","jsonPath":".status.latestRef.tag"}"#,
    printcolumn = r#"{"name":"Ready","type":"string","jsonPath":".status.conditions[?(@.type==\"Ready\")].status"}"#,
    printcolumn = r#"{"name":"Status","type":"string","jsonPath":".status.conditions[?(@.type==\"Ready\")].message"}"#,
    printcolumn = r#"{"name":"Age","type":"date","jsonPath":".metadata.creationTimestamp"}"#,
    derive = "Default",
    derive = "PartialEq",
    doc = "ImagePolicy selects the latest image tag of an ImageRepository."
)]
#[serde(rename_all = "camelCase")]
#[schemars(extend("x-kubernetes-validations" = [
    {
        "message": "spec.interval is only accepted when spec.digestReflectionPolicy is set to 'Always'",
        "rule": "!has(self.interval) || (has(self.digestReflectionPolicy) && self.digestReflectionPolicy == 'Always')"
    },
    {
        "message": "spec.interval must be set when spec.digestReflectionPolicy is set to 'Always'",
        "rule": "has(self.interval) || !has(self.digestReflectionPolicy) || self.digestReflectionPolicy != 'Always'"
    }
]))]
pub struct ImagePolicySpec {
    /// When the digest of the selected tag is looked up.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schemars(extend("default" = "Never"))]
    pub digest_reflection_policy: Option<DigestReflectionPolicy>,
    /// Which tags are considered, and what part of them is compared.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub filter_tags: Option<TagFilter>,
    /// The ImageRepository whose tags are considered.
    pub image_repository_ref: NamespacedObjectReference,
    /// How often digests are re-checked (`digestReflectionPolicy: Always` only).
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schemars(regex(pattern = schema::DURATION_PATTERN))]
    pub interval: Option<String>,
    /// How tags are ordered; the last one wins.
    pub policy: ImagePolicyChoice,
    /// Stop selecting tags.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub suspend: Option<bool>,
}

/// When the digest of the selected tag is looked up.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub enum DigestReflectionPolicy {
    /// On every interval, so that a re-pushed tag is noticed.
    Always,
    /// Once, when a tag is first selected.
    IfNotPresent,
    /// Never; `latestRef.digest` stays empty.
    #[default]
    Never,
}

/// Regular expression filter over tags.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct TagFilter {
    /// Replacement template, e.g. `$ts`, producing the value that is ordered.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub extract: Option<String>,
    /// Regular expression a tag must match.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pattern: Option<String>,
}

/// The ordering of tags; exactly one is expected.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ImagePolicyChoice {
    /// Lexicographic order.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub alphabetical: Option<OrderedPolicy>,
    /// Numeric order.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub numerical: Option<OrderedPolicy>,
    /// Semantic versions within a range.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub semver: Option<SemVerPolicy>,
}

/// An alphabetical or numerical ordering.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct OrderedPolicy {
    /// Direction; `asc` picks the highest value.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schemars(extend("default" = "asc"))]
    pub order: Option<SortOrder>,
}

/// Sort direction.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum SortOrder {
    /// Ascending: the highest value is selected.
    #[default]
    Asc,
    /// Descending: the lowest value is selected.
    Desc,
}

/// A semantic-version ordering.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct SemVerPolicy {
    /// Masterminds semver constraint, e.g. `>=1.0.0 <2.0.0`.
    pub range: String,
}

/// An image reference split into name, tag and digest.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ImageRef {
    /// Digest of the tag, when reflected.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub digest: Option<String>,
    /// Image name.
    pub name: String,
    /// Image tag.
    pub tag: String,
}

impl std::fmt::Display for ImageRef {
    /// `name:tag`, followed by `@digest` when the digest is known.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}:{}", self.name, self.tag)?;
        match &self.digest {
            Some(digest) if !digest.is_empty() => write!(f, "@{digest}"),
            _ => Ok(()),
        }
    }
}

/// Observed state of an ImagePolicy.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
#[schemars(extend("default" = { "observedGeneration": -1 }))]
pub struct ImagePolicyStatus {
    /// Conditions of the object.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(schema_with = "schema::conditions")]
    pub conditions: Option<Vec<Condition>>,
    /// The last `reconcile.fluxcd.io/requestedAt` value handled.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_handled_reconcile_at: Option<String>,
    /// The image selected by the last reconciliation.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub latest_ref: Option<ImageRef>,
    /// The generation last reconciled.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub observed_generation: Option<i64>,
    /// The image selected before `latestRef`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub observed_previous_ref: Option<ImageRef>,
}

impl_has_conditions!(ImagePolicyStatus);

#[cfg(test)]
mod tests {
    use super::*;

    fn image(digest: Option<&str>) -> ImageRef {
        ImageRef {
            digest: digest.map(str::to_owned),
            name: "ghcr.io/org/app".to_owned(),
            tag: "1.2.3".to_owned(),
        }
    }

    #[test]
    fn an_image_ref_prints_as_name_colon_tag() {
        assert_eq!(image(None).to_string(), "ghcr.io/org/app:1.2.3");
        assert_eq!(image(Some("")).to_string(), "ghcr.io/org/app:1.2.3");
    }

    #[test]
    fn an_image_ref_with_a_digest_appends_it_after_an_at_sign() {
        assert_eq!(
            image(Some("sha256:abc")).to_string(),
            "ghcr.io/org/app:1.2.3@sha256:abc"
        );
    }
}
