//! Receiver (`notification.toolkit.fluxcd.io/v1`): a webhook endpoint that, when called by a
//! Git host, registry or CI system, asks Flux objects to reconcile now.

use std::collections::BTreeMap;

use k8s_openapi::apimachinery::pkg::apis::meta::v1::Condition;
use kube::CustomResource;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::alert::FluxKind;
use crate::conditions::impl_has_conditions;
use crate::meta::LocalObjectReference;
use crate::schema;

/// Desired state of a Receiver.
#[derive(CustomResource, Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[kube(
    group = "notification.toolkit.fluxcd.io",
    version = "v1",
    kind = "Receiver",
    plural = "receivers",
    namespaced,
    status = "ReceiverStatus",
    category = "all",
    category = "fluxcd",
    category = "fluxcd-notifications",
    printcolumn = r#"{"name":"Age","type":"date","jsonPath":".metadata.creationTimestamp"}"#,
    printcolumn = r#"{"name":"Ready","type":"string","jsonPath":".status.conditions[?(@.type==\"Ready\")].status"}"#,
    printcolumn = r#"{"name":"Status","type":"string","jsonPath":".status.conditions[?(@.type==\"Ready\")].message"}"#,
    derive = "Default",
    derive = "PartialEq",
    doc = "Receiver exposes a webhook that triggers the reconciliation of Flux objects."
)]
#[serde(rename_all = "camelCase")]
#[schemars(extend("x-kubernetes-validations" = [
    {
        "message": "generic-oidc receivers must define at least one oidcProvider",
        "rule": "self.type != 'generic-oidc' || (has(self.oidcProviders) && size(self.oidcProviders) > 0)"
    },
    {
        "message": "oidcProviders can only be set when type is generic-oidc",
        "rule": "self.type == 'generic-oidc' || !has(self.oidcProviders) || size(self.oidcProviders) == 0"
    },
    {
        "message": "secretRef cannot be set when type is generic-oidc",
        "rule": "self.type != 'generic-oidc' || !has(self.secretRef)"
    },
    {
        "message": "secretRef is required when type is not generic-oidc",
        "rule": "self.type == 'generic-oidc' || has(self.secretRef)"
    }
]))]
pub struct ReceiverSpec {
    /// Event types that trigger (github, gitlab, bitbucket, cdevents); all when unset.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub events: Option<Vec<String>>,
    /// How often the webhook path is re-verified.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schemars(regex(pattern = schema::DURATION_PATTERN), extend("default" = "10m"))]
    pub interval: Option<String>,
    /// OIDC issuers whose tokens are accepted (`generic-oidc` only).
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schemars(extend("x-kubernetes-list-type" = "map", "x-kubernetes-list-map-keys" = ["issuerURL"]))]
    pub oidc_providers: Option<Vec<OIDCProvider>>,
    /// CEL expression over `res`, `req` and `claims` that selects which resources to trigger.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub resource_filter: Option<String>,
    /// The objects to trigger.
    pub resources: Vec<ReceiverResource>,
    /// Secret whose `token` key authenticates callers and salts the webhook path.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub secret_ref: Option<LocalObjectReference>,
    /// Stop handling webhook calls.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub suspend: Option<bool>,
    /// The caller, which decides how requests are validated.
    #[serde(rename = "type")]
    pub type_: ReceiverType,
}

/// Callers a Receiver can validate.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum ReceiverType {
    /// No validation beyond the secret path.
    #[default]
    Generic,
    /// HMAC signature in `X-Signature`.
    #[serde(rename = "generic-hmac")]
    GenericHmac,
    /// Bearer token from a configured OIDC issuer.
    #[serde(rename = "generic-oidc")]
    GenericOidc,
    /// GitHub webhooks.
    GitHub,
    /// GitLab webhooks.
    GitLab,
    /// Bitbucket Server webhooks.
    Bitbucket,
    /// Harbor webhooks.
    Harbor,
    /// Docker Hub webhooks.
    DockerHub,
    /// Quay webhooks.
    Quay,
    /// Google Container Registry Pub/Sub push.
    Gcr,
    /// Sonatype Nexus webhooks.
    Nexus,
    /// Azure Container Registry webhooks.
    Acr,
    /// CDEvents.
    CDEvents,
}

/// An OIDC issuer whose tokens a `generic-oidc` Receiver accepts.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct OIDCProvider {
    /// Expected audience; `notification-controller` when unset.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub audience: Option<String>,
    /// Issuer URL.
    #[serde(rename = "issuerURL")]
    #[schemars(regex(pattern = "^https?://"))]
    pub issuer_url: String,
    /// CEL checks over the token claims; all must hold.
    #[schemars(length(min = 1))]
    pub validations: Vec<OIDCValidation>,
    /// CEL variables computed from the claims, usable in the validations.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub variables: Option<Vec<OIDCVariable>>,
}

/// A CEL check over OIDC token claims.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct OIDCValidation {
    /// CEL expression that must evaluate to true.
    pub expression: String,
    /// Error message when it does not.
    pub message: String,
}

/// A named CEL expression over OIDC token claims.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct OIDCVariable {
    /// CEL expression.
    pub expression: String,
    /// Variable name.
    pub name: String,
}

/// A Flux object, or all objects of a kind, that a Receiver triggers.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ReceiverResource {
    /// API version of the objects.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub api_version: Option<String>,
    /// CEL expression over `res` and `req` deciding whether this resource is triggered.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub filter: Option<String>,
    /// Kind of the objects.
    pub kind: FluxKind,
    /// Labels the objects must carry; required with name `*`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub match_labels: Option<BTreeMap<String, String>>,
    /// Name of the object, or `*` for all.
    #[schemars(length(min = 1, max = 253))]
    pub name: String,
    /// Namespace of the objects; the Receiver's namespace when unset.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1, max = 253))]
    pub namespace: Option<String>,
}

/// Observed state of a Receiver.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
#[schemars(extend("default" = { "observedGeneration": -1 }))]
pub struct ReceiverStatus {
    /// Conditions of the object.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(schema_with = "schema::conditions")]
    pub conditions: Option<Vec<Condition>>,
    /// The last `reconcile.fluxcd.io/requestedAt` value handled.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_handled_reconcile_at: Option<String>,
    /// The generation last reconciled.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub observed_generation: Option<i64>,
    /// `/hook/<sha256 of token, name and namespace>`: where the webhook is served.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub webhook_path: Option<String>,
}

impl_has_conditions!(ReceiverStatus);
