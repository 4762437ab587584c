//! Why a HelmRelease reconcile failed, with the Flux reason and error class of each case (the
//! reasons of helm-controller's `helmrelease_controller.go` and its atomic release). Messages
//! name the object or release involved; they never carry values or Secret data.

use driftless_api::conditions::reasons;
use driftless_runtime::error::{Classify, ErrorClass};
use driftless_runtime::patch::PatchError;

/// A failed reconcile step.
#[derive(Debug, thiserror::Error)]
pub enum ReconcileError {
    /// A spec duration does not parse (the CRD pattern normally prevents this).
    #[error("invalid {field} '{value}': {problem}")]
    InvalidDuration {
        /// `spec.interval`, `spec.timeout`, …
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
    /// The chart source is missing, not ready or has no artifact yet.
    #[error("{message}")]
    ChartNotReady {
        /// What is missing, as Flux words it.
        message: String,
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
    /// Creating or updating the HelmChart of `spec.chart` failed.
    #[error("failed to create or update HelmChart '{subject}'")]
    ChartTemplate {
        /// `namespace/name`.
        subject: String,
        /// The API error.
        #[source]
        source: Box<kube::Error>,
    },
    /// Downloading or verifying the chart artifact failed.
    #[error("failed to download chart artifact of revision '{revision}'")]
    Fetch {
        /// The artifact's revision.
        revision: String,
        /// What went wrong.
        #[source]
        source: driftless_artifact::FetchError,
    },
    /// The chart artifact does not load as a chart.
    #[error("failed to load chart: {message}")]
    LoadChart {
        /// The loader's message.
        message: String,
    },
    /// A `valuesFrom` object or key is missing, or its values do not parse.
    #[error("{message}")]
    Values {
        /// What is wrong, naming the object and key.
        message: String,
    },
    /// The chart does not render with the values (template error, schema violation).
    #[error("{message}")]
    Render {
        /// The renderer's message.
        message: String,
    },
    /// The action failed before Helm stored a release: the chart did not render with the values
    /// (template error, schema violation, step budget) or a post-renderer failed. Nothing was
    /// applied. Flux reports it as the action's failure (InstallFailed/UpgradeFailed).
    #[error("{message}")]
    BeforeRelease {
        /// Whether the action was an upgrade (else an install).
        upgrade: bool,
        /// What failed, as Flux words it.
        message: String,
    },
    /// Drift detection could not compare the release with the cluster.
    /// `spec.healthCheckExprs` holds an expression that does not parse.
    #[error("{message}")]
    InvalidCel { message: String },
    #[error("{message}")]
    Drift {
        /// Why, as Flux words it.
        message: String,
    },
    /// Reading or writing the Helm release storage failed.
    #[error("failed to get last release revision: {message}")]
    Storage {
        /// The storage error.
        message: String,
    },
    /// A Helm install failed (its remediation, if any, already ran).
    #[error("{message}")]
    InstallFailed {
        /// Helm's message.
        message: String,
    },
    /// A Helm upgrade failed (its remediation, if any, already ran).
    #[error("{message}")]
    UpgradeFailed {
        /// Helm's message.
        message: String,
    },
    /// Helm tests failed and failures are not ignored.
    #[error("{message}")]
    TestFailed {
        /// Which test hook failed.
        message: String,
    },
    /// A rollback failed.
    #[error("{message}")]
    RollbackFailed {
        /// Helm's message.
        message: String,
    },
    /// An uninstall (remediation, deletion, or a release moved elsewhere) failed.
    #[error("{message}")]
    UninstallFailed {
        /// Helm's message.
        message: String,
    },
    /// No retries remain: the release stays as it is until the spec changes or a reset.
    #[error("{message}")]
    RetriesExceeded {
        /// Which action and how many attempts.
        message: String,
    },
    /// A dependency is missing or not Ready.
    #[error("dependency '{subject}' is not ready")]
    DependencyNotReady {
        /// `namespace/name`.
        subject: String,
    },
    /// A spec feature this controller does not implement yet.
    #[error("{feature} is not supported by this controller yet")]
    Unsupported {
        /// The field.
        feature: &'static str,
    },
    /// No client for the release's cluster or identity: the kubeconfig Secret is missing or
    /// invalid, or the service account cannot be impersonated.
    #[error(transparent)]
    Target {
        /// Why, never with the kubeconfig's text.
        #[from]
        source: driftless_runtime::target_client::TargetError,
    },
    /// The status or finalizer could not be written.
    #[error("failed to patch the HelmRelease")]
    Patch {
        /// The API error.
        #[source]
        source: Box<PatchError>,
    },
}

impl Classify for ReconcileError {
    fn reason(&self) -> &'static str {
        match self {
            Self::InvalidDuration { .. } | Self::Unsupported { .. } => {
                reasons::RECONCILIATION_FAILED
            }
            Self::CrossNamespace { .. } => reasons::ACCESS_DENIED,
            Self::InvalidCel { .. } => reasons::INVALID_CEL_EXPRESSION,
            Self::ChartNotReady { .. }
            | Self::ChartTemplate { .. }
            | Self::Fetch { .. }
            | Self::LoadChart { .. } => reasons::ARTIFACT_FAILED,
            Self::Read { .. } | Self::Values { .. } | Self::Render { .. } => reasons::INIT_FAILED,
            Self::Storage { .. } => reasons::GET_LAST_RELEASE_FAILED,
            Self::InstallFailed { .. } | Self::BeforeRelease { upgrade: false, .. } => {
                reasons::INSTALL_FAILED
            }
            Self::BeforeRelease { upgrade: true, .. } => reasons::UPGRADE_FAILED,
            Self::UpgradeFailed { .. } => reasons::UPGRADE_FAILED,
            Self::TestFailed { .. } => reasons::TEST_FAILED,
            Self::RollbackFailed { .. } => reasons::ROLLBACK_FAILED,
            Self::UninstallFailed { .. } => reasons::UNINSTALL_FAILED,
            Self::RetriesExceeded { .. } => reasons::RETRIES_EXCEEDED,
            Self::DependencyNotReady { .. } => reasons::DEPENDENCY_NOT_READY,
            Self::Patch { .. } => reasons::RECONCILIATION_FAILED,
            // Flux's reason for an error of the release state determination.
            Self::Drift { .. } => "ReconcileError",
            Self::Target { .. } => REST_CLIENT_ERROR,
        }
    }

    fn class(&self) -> ErrorClass {
        match self {
            Self::InvalidDuration { .. }
            | Self::CrossNamespace { .. }
            | Self::RetriesExceeded { .. }
            | Self::InvalidCel { .. }
            | Self::Unsupported { .. } => ErrorClass::Stalled,
            // A cloud provider's workload identity: nothing changes until the ConfigMap does.
            Self::Target {
                source: driftless_runtime::target_client::TargetError::Unsupported { .. },
            } => ErrorClass::Stalled,
            Self::ChartNotReady { .. } | Self::DependencyNotReady { .. } => {
                ErrorClass::Waiting { after: None }
            }
            _ => ErrorClass::Transient,
        }
    }
}

/// Flux's Ready reason when no client can be built for the release (`buildRESTClientGetter`).
pub const REST_CLIENT_ERROR: &str = "RESTClientError";

/// A duration as Go's `time.Duration.String` prints it (`30s`, `5m0s`).
pub use driftless_runtime::flags::duration::format as go_duration;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exhausted_retries_stall_and_a_chart_not_ready_waits() {
        let err = ReconcileError::RetriesExceeded {
            message: "Failed to install after 1 attempt(s)".into(),
        };
        assert_eq!(err.class(), ErrorClass::Stalled);
        assert_eq!(err.reason(), "RetriesExceeded");
        let err = ReconcileError::ChartNotReady {
            message: "HelmChart 'ns/x' is not ready".into(),
        };
        assert_eq!(err.class(), ErrorClass::Waiting { after: None });
        assert_eq!(err.reason(), "ArtifactFailed");
        let err = ReconcileError::InstallFailed {
            message: "boom".into(),
        };
        assert_eq!(err.class(), ErrorClass::Transient);
        assert_eq!(err.reason(), "InstallFailed");
    }
}
