//! GitRepository (`source.toolkit.fluxcd.io/v1`): a Git repository checked out at a reference
//! and packaged as a tarball artifact.

use k8s_openapi::apimachinery::pkg::apis::meta::v1::Condition;
use kube::CustomResource;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::conditions::impl_has_conditions;
use crate::meta::{Artifact, LocalObjectReference};
use crate::schema;

/// Desired state of a GitRepository.
#[derive(CustomResource, Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[kube(
    group = "source.toolkit.fluxcd.io",
    version = "v1",
    kind = "GitRepository",
    plural = "gitrepositories",
    namespaced,
    status = "GitRepositoryStatus",
    shortname = "gitrepo",
    category = "all",
    category = "fluxcd",
    category = "fluxcd-sources",
    printcolumn = r#"{"name":"URL","type":"string","jsonPath":".spec.url"}"#,
    printcolumn = r#"{"name":"Age","type":"date","jsonPath":".metadata.creationTimestamp"}"#,
    printcolumn = r#"{"name":"Ready","type":"string","jsonPath":".status.conditions[?(@.type==\"Ready\")].status"}"#,
    printcolumn = r#"{"name":"Status","type":"string","jsonPath":".status.conditions[?(@.type==\"Ready\")].message"}"#,
    derive = "Default",
    derive = "PartialEq",
    doc = "GitRepository produces an artifact from a Git repository at a branch, tag, semver range or commit."
)]
#[serde(rename_all = "camelCase")]
#[schemars(extend("x-kubernetes-validations" = [{
    "message": "serviceAccountName can only be set when provider is 'azure' or 'aws'",
    "rule": "!has(self.serviceAccountName) || (has(self.provider) && (self.provider == 'azure' || self.provider == 'aws'))"
}]))]
pub struct GitRepositorySpec {
    /// Patterns in `.sourceignore` syntax that replace the default exclusions.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ignore: Option<String>,
    /// Artifacts of other GitRepositories to copy into this one's artifact.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub include: Option<Vec<GitRepositoryInclude>>,
    /// How often to check the repository for a new revision.
    #[schemars(regex(pattern = schema::DURATION_PATTERN))]
    pub interval: String,
    /// Authentication provider; `generic` (Secret based) when unset.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub provider: Option<GitProvider>,
    /// Secret with the proxy `address` and optional `username` and `password`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub proxy_secret_ref: Option<LocalObjectReference>,
    /// Initialise and check out every submodule.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub recurse_submodules: Option<bool>,
    /// The reference to check out; the `master` branch when unset.
    #[serde(rename = "ref", skip_serializing_if = "Option::is_none")]
    pub reference: Option<GitRepositoryRef>,
    /// Secret with HTTPS basic auth or bearer token, SSH identity and known hosts, TLS or
    /// GitHub App credentials.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub secret_ref: Option<LocalObjectReference>,
    /// ServiceAccount used for workload-identity authentication (aws and azure providers).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub service_account_name: Option<String>,
    /// Directories to check out; everything when unset.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sparse_checkout: Option<Vec<String>>,
    /// Stop reconciling the object.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub suspend: Option<bool>,
    /// Timeout of Git operations.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schemars(regex(pattern = schema::SHORT_DURATION_PATTERN), extend("default" = "60s"))]
    pub timeout: Option<String>,
    /// Repository address: `http`, `https` or `ssh` scheme.
    #[schemars(regex(pattern = r"^(http|https|ssh)://.*$"))]
    pub url: String,
    /// Commit signature verification.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub verify: Option<GitRepositoryVerification>,
}

/// Authentication provider of a GitRepository.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum GitProvider {
    /// Credentials from `secretRef`.
    #[default]
    Generic,
    /// AWS CodeCommit through workload identity.
    Aws,
    /// Azure DevOps through workload identity.
    Azure,
    /// GitHub App credentials from `secretRef`.
    Github,
}

/// The Git reference to check out. Precedence: commit, name, semver, tag, branch.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct GitRepositoryRef {
    /// Branch to check out.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub branch: Option<String>,
    /// Commit SHA; with `branch`, the branch is cloned shallowly and must contain it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub commit: Option<String>,
    /// Full reference name, e.g. `refs/heads/main` or `refs/pull/420/head`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Semver range matched against tags.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub semver: Option<String>,
    /// Tag to check out.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tag: Option<String>,
}

/// Another GitRepository whose artifact is copied into this one.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct GitRepositoryInclude {
    /// Path inside the included artifact to copy from; its root when unset.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub from_path: Option<String>,
    /// The GitRepository to include, in the same namespace.
    pub repository: LocalObjectReference,
    /// Path to copy to; the included repository's name when unset.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub to_path: Option<String>,
}

/// How commit signatures are verified.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct GitRepositoryVerification {
    /// Which Git objects to verify.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schemars(extend("default" = "HEAD"))]
    pub mode: Option<GitVerificationMode>,
    /// Secret with trusted public keys: `*.asc` PGP keys, `*.sshpub` SSH keys.
    pub secret_ref: LocalObjectReference,
}

/// Which Git objects a GitRepository verifies.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub enum GitVerificationMode {
    /// Same as `HEAD`; kept for objects written before `HEAD` existed.
    #[serde(rename = "head")]
    LegacyHead,
    /// The commit HEAD points to.
    #[default]
    #[serde(rename = "HEAD")]
    Head,
    /// The tag being checked out.
    Tag,
    /// Both the tag and the commit it points to.
    TagAndHEAD,
}

/// Observed state of a GitRepository.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
#[schemars(extend("default" = { "observedGeneration": -1 }))]
pub struct GitRepositoryStatus {
    /// The last successfully produced artifact.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub artifact: Option<Artifact>,
    /// Conditions of the object.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(schema_with = "schema::conditions")]
    pub conditions: Option<Vec<Condition>>,
    /// The included artifacts, in `spec.include` order.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub included_artifacts: Option<Vec<Artifact>>,
    /// The last `reconcile.fluxcd.io/requestedAt` value handled.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_handled_reconcile_at: Option<String>,
    /// The generation last reconciled.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub observed_generation: Option<i64>,
    /// `spec.ignore` as used for the current artifact.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub observed_ignore: Option<String>,
    /// `spec.include` as used for the current artifact.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub observed_include: Option<Vec<GitRepositoryInclude>>,
    /// `spec.recurseSubmodules` as used for the current artifact.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub observed_recurse_submodules: Option<bool>,
    /// `spec.sparseCheckout` as used for the current artifact.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub observed_sparse_checkout: Option<Vec<String>>,
    /// The verification mode last applied to the artifact.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub source_verification_mode: Option<String>,
}

impl_has_conditions!(GitRepositoryStatus);
