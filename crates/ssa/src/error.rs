//! Errors of the apply engine. Messages name the object (`Kind/namespace/name`) and carry the API
//! server's own message, so a Kustomization's Ready condition can say what failed and why.

use std::fmt;

use kube::api::GroupVersionKind;

/// One object that failed validation, with the reason (usually the API server's message).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ObjectFailure {
    /// `Kind/namespace/name`, or a document position when the object has no identity yet.
    pub subject: String,
    pub message: String,
}

impl fmt::Display for ObjectFailure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} dry-run failed: {}", self.subject, self.message)
    }
}

/// Joins failures one per line, as Flux joins dry-run errors in a Ready message.
pub fn join_failures(failures: &[ObjectFailure]) -> String {
    failures
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join("\n")
}

#[derive(Debug, thiserror::Error)]
pub enum SsaError {
    #[error("failed to decode YAML: {source}")]
    Yaml {
        #[source]
        source: serde_saphyr::Error,
    },

    #[error("document {index}: {message}")]
    InvalidObject { index: usize, message: String },

    #[error("objects failed validation, nothing was applied:\n{}", join_failures(.failures))]
    Validation { failures: Vec<ObjectFailure> },

    #[error(
        "objects failed validation after the CRDs and Namespaces they need were applied:\n{}",
        join_failures(.failures)
    )]
    DeferredValidation { failures: Vec<ObjectFailure> },

    #[error("{subject} apply failed: {message}")]
    Apply { subject: String, message: String },

    #[error("{subject} immutable field detected, failed to recreate: {message}")]
    Recreate { subject: String, message: String },

    #[error("{}/{} {} is not served by the API server: {message}", .gvk.group, .gvk.version, .gvk.kind)]
    Discovery {
        gvk: GroupVersionKind,
        message: String,
    },

    #[error("{stage} not ready: {message}")]
    StageNotReady { stage: String, message: String },

    #[error("failed to read {subject}: {message}")]
    Read { subject: String, message: String },

    #[error("prune failed:\n{}", .failures.join("\n"))]
    Prune { failures: Vec<String> },

    #[error("invalid inventory entry {id:?}: {message}")]
    InventoryEntry { id: String, message: String },

    #[error("{message}")]
    HealthCheck {
        message: String,
        report: crate::wait::HealthReport,
    },
}

/// The API server's message for an error, without kube's wrapping (what Flux shows users).
pub fn api_message(error: &kube::Error) -> String {
    match error {
        kube::Error::Api(status) => status.message.clone(),
        other => other.to_string(),
    }
}

/// HTTP 404 from the API server.
pub fn is_not_found(error: &kube::Error) -> bool {
    matches!(error, kube::Error::Api(status) if status.code == 404)
}

/// An API-server error about an immutable field; the same phrases `ssa/utils.IsImmutableError`
/// matches (core validation says "field is immutable", others "cannot change"/"may not change").
pub fn is_immutable(error: &kube::Error) -> bool {
    let kube::Error::Api(status) = error else {
        return false;
    };
    if status.code != 422 {
        return false;
    }
    let message = status.message.to_ascii_lowercase();
    [
        "field is immutable",
        "is immutable",
        "cannot change",
        "may not change",
    ]
    .iter()
    .any(|phrase| message.contains(phrase))
}
