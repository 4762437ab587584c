//! Why a Kustomization reconcile failed, with the Flux reason and error class of each case
//! (the reasons of kustomize-controller's `kustomization_controller.go`). Messages name the file,
//! the object and the field where one is known; they never carry Secret values.

use driftless_api::conditions::reasons;
use driftless_runtime::error::{Classify, ErrorClass};
use driftless_runtime::patch::PatchError;

/// A failed reconcile step.
#[derive(Debug, thiserror::Error)]
pub enum ReconcileError {
    /// A spec duration does not parse (the CRD pattern normally prevents this).
    #[error("invalid {field} '{value}': {problem}")]
    InvalidDuration {
        /// `spec.interval`, `spec.retryInterval` or `spec.timeout`.
        field: &'static str,
        /// The value as written.
        value: String,
        /// Why it does not parse.
        problem: String,
    },
    /// `--no-cross-namespace-refs` forbids a reference into another namespace.
    #[error(
        "cannot access {kind} '{namespace}/{name}', cross-namespace references have been blocked"
    )]
    CrossNamespace {
        /// Kind of the referenced object.
        kind: String,
        /// Its namespace.
        namespace: String,
        /// Its name.
        name: String,
    },
    /// The source object does not exist (yet).
    #[error("Source '{kind}/{namespace}/{name}' not found")]
    SourceNotFound {
        /// `spec.sourceRef.kind`.
        kind: String,
        /// The source's namespace.
        namespace: String,
        /// `spec.sourceRef.name`.
        name: String,
    },
    /// The source exists but has no artifact yet.
    #[error("Source artifact not found, retrying in {retry}")]
    ArtifactNotReady {
        /// `--requeue-dependency`, as Go prints durations.
        retry: String,
    },
    /// Reading an object from the API server failed.
    #[error("failed to get {subject}")]
    Read {
        /// `Kind 'namespace/name'`.
        subject: String,
        /// The API error.
        #[source]
        source: Box<kube::Error>,
    },
    /// A dependency is missing or not Ready.
    #[error("dependency '{subject}' is not ready{detail}")]
    DependencyNotReady {
        /// `namespace/name` (or `Kind/namespace/name`).
        subject: String,
        /// Why, starting with a separator.
        detail: String,
    },
    /// Downloading, verifying or extracting the artifact failed.
    #[error("failed to download artifact of revision '{revision}'")]
    Fetch {
        /// The artifact's revision.
        revision: String,
        /// What went wrong.
        #[source]
        source: driftless_artifact::FetchError,
    },
    /// `spec.path` is not a directory inside the artifact.
    #[error("kustomization path not found: {path}")]
    PathNotFound {
        /// `spec.path` as written.
        path: String,
    },
    /// kustomize build failed; its message names the file and field.
    #[error("kustomize build failed")]
    Build {
        /// The build error.
        #[source]
        source: driftless_kustomize::Error,
    },
    /// Post-build substitution failed for one object.
    #[error("post build failed for {subject}: {message}")]
    Substitute {
        /// The object, `Kind/namespace/name`.
        subject: String,
        /// What is wrong (unset variable, malformed expression).
        message: String,
    },
    /// A `postBuild.substituteFrom` object could not be read or used.
    #[error("substitute from '{kind}/{name}' error: {message}")]
    SubstituteFrom {
        /// ConfigMap or Secret.
        kind: String,
        /// Its name.
        name: String,
        /// What is wrong.
        message: String,
    },
    /// SOPS decryption failed.
    #[error("decryption failed for {subject}: {message}")]
    Decrypt {
        /// The object or file.
        subject: String,
        /// What is wrong (never a key or a value).
        message: String,
    },
    /// The built YAML could not be decoded into objects.
    #[error("failed to decode the built manifests")]
    Decode {
        /// The decode error.
        #[source]
        source: driftless_ssa::SsaError,
    },
    /// The service account to impersonate or the kubeconfig Secret is unusable.
    #[error("{message}")]
    Client {
        /// What is wrong.
        message: String,
    },
    /// `spec.kubeConfig` asks for what this controller cannot do (a cloud provider's workload
    /// identity): retrying cannot help until the ConfigMap changes.
    #[error("{message}")]
    UnsupportedTarget {
        /// What is unsupported and what to use instead.
        message: String,
    },
    /// Dry-run or apply failed; nothing or only the earlier stages were applied.
    #[error("{source}")]
    Apply {
        /// The apply error, naming each failed object.
        #[source]
        source: driftless_ssa::SsaError,
    },
    /// Garbage collection failed.
    #[error("{source}")]
    Prune {
        /// The prune error.
        #[source]
        source: driftless_ssa::SsaError,
    },
    /// Applied objects did not become healthy in time.
    #[error("health check failed after {elapsed}: {message}")]
    HealthCheck {
        /// How long the check ran, as Go prints durations.
        elapsed: String,
        /// Which objects failed and why.
        message: String,
    },
    /// A CEL expression (`spec.healthCheckExprs`, `spec.dependsOn[].readyExpr`) does not parse:
    /// retrying cannot help, the Kustomization stalls until its spec changes.
    #[error("Reconciliation failed terminally due to configuration error: {message}")]
    InvalidCel {
        /// Which entry and expression, and the parser's message.
        message: String,
    },
    /// A dependency's `readyExpr` could not be evaluated (a missing field, a non-boolean result).
    #[error("{source}")]
    DependencyExpr {
        /// The evaluation error, naming the expression.
        #[source]
        source: crate::cel::CelError,
    },
    /// The status or finalizer could not be written.
    #[error("failed to patch the Kustomization")]
    Patch {
        /// The API error.
        #[source]
        source: Box<PatchError>,
    },
}

impl Classify for ReconcileError {
    fn reason(&self) -> &'static str {
        match self {
            Self::InvalidDuration { .. } => reasons::RECONCILIATION_FAILED,
            Self::CrossNamespace { .. } => reasons::ACCESS_DENIED,
            Self::SourceNotFound { .. }
            | Self::ArtifactNotReady { .. }
            | Self::Fetch { .. }
            | Self::PathNotFound { .. } => reasons::ARTIFACT_FAILED,
            Self::Read { .. }
            | Self::Client { .. }
            | Self::UnsupportedTarget { .. }
            | Self::Apply { .. }
            | Self::Patch { .. } => reasons::RECONCILIATION_FAILED,
            Self::DependencyNotReady { .. } | Self::DependencyExpr { .. } => {
                reasons::DEPENDENCY_NOT_READY
            }
            Self::InvalidCel { .. } => reasons::INVALID_CEL_EXPRESSION,
            Self::Build { .. }
            | Self::Substitute { .. }
            | Self::SubstituteFrom { .. }
            | Self::Decrypt { .. }
            | Self::Decode { .. } => reasons::BUILD_FAILED,
            Self::Prune { .. } => reasons::PRUNE_FAILED,
            Self::HealthCheck { .. } => reasons::HEALTH_CHECK_FAILED,
        }
    }

    fn class(&self) -> ErrorClass {
        match self {
            Self::InvalidDuration { .. }
            | Self::CrossNamespace { .. }
            | Self::InvalidCel { .. }
            | Self::UnsupportedTarget { .. } => ErrorClass::Stalled,
            Self::SourceNotFound { .. }
            | Self::ArtifactNotReady { .. }
            | Self::DependencyNotReady { .. }
            | Self::DependencyExpr { .. } => ErrorClass::Waiting { after: None },
            _ => ErrorClass::Transient,
        }
    }
}

/// A duration as Go's `time.Duration.String` prints it (`30s`, `2m0s`).
pub use driftless_runtime::flags::duration::format as go_duration;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn waiting_on_a_source_or_dependency_is_not_a_failure() {
        let err = ReconcileError::DependencyNotReady {
            subject: "default/infra".into(),
            detail: String::new(),
        };
        assert_eq!(err.class(), ErrorClass::Waiting { after: None });
        assert_eq!(err.reason(), "DependencyNotReady");
        let err = ReconcileError::CrossNamespace {
            kind: "GitRepository".into(),
            namespace: "other".into(),
            name: "repo".into(),
        };
        assert_eq!(err.class(), ErrorClass::Stalled);
        assert_eq!(err.reason(), "AccessDenied");
    }
}
