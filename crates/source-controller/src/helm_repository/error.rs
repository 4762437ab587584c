//! Why a HelmRepository or HelmChart reconcile failed, with Flux's reasons: the shared source
//! steps (storage, Secrets, durations, status writes) keep GitRepository's [`ReconcileError`];
//! Helm adds the repository client and index (`URLInvalid`, `Failed`, `IndexationFailed`), the
//! chart's source (`SourceUnavailable`, `NoSourceArtifact`) and the chart build
//! (`InvalidChartReference`, `ChartPullError`, `ChartPackageError`, `ValuesFilesError`,
//! Flux's `BuildError` reasons, shown as `<description>: <cause>`).

use driftless_api::conditions::{reasons, types};
use driftless_helm::repo::RepoError;
use driftless_runtime::error::{Classify, ErrorClass};
use driftless_runtime::patch::PatchError;

use super::client::FetchError;
use crate::error::ReconcileError;
use crate::reconcile::StepError;

/// Flux's chart build failure kinds (`chart.BuildErrorReason`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BuildReason {
    /// The chart or version cannot be resolved: retrying will not help.
    ChartReference,
    /// Downloading or verifying the chart failed.
    ChartPull,
    /// Repackaging the chart failed.
    ChartPackage,
    /// A values file is missing or does not parse.
    ValuesFiles,
    /// The chart's dependencies cannot be provided.
    DependencyBuild,
}

impl BuildReason {
    /// The reason as Flux spells it.
    pub fn reason(self) -> &'static str {
        match self {
            BuildReason::ChartReference => "InvalidChartReference",
            BuildReason::ChartPull => "ChartPullError",
            BuildReason::ChartPackage => "ChartPackageError",
            BuildReason::ValuesFiles => "ValuesFilesError",
            BuildReason::DependencyBuild => "DependencyBuildError",
        }
    }

    /// The message prefix Flux's `BuildError` prints.
    pub fn description(self) -> &'static str {
        match self {
            BuildReason::ChartReference => "invalid chart reference",
            BuildReason::ChartPull => "chart pull error",
            BuildReason::ChartPackage => "chart package error",
            BuildReason::ValuesFiles => "values files merge error",
            BuildReason::DependencyBuild => "dependency build error",
        }
    }
}

/// A failed Helm source step.
#[derive(Debug, thiserror::Error)]
pub enum HelmError {
    /// A step shared with GitRepository (storage, Secret, duration, status write).
    #[error(transparent)]
    Source(#[from] ReconcileError),
    /// `spec.url` does not parse or has a scheme the kind does not serve.
    #[error("invalid Helm repository URL: {0}")]
    InvalidUrl(String),
    /// The HTTP client could not be built (TLS material unusable).
    #[error("failed to construct Helm client: {0}")]
    Client(String),
    /// The index could not be downloaded.
    #[error("failed to fetch Helm repository index")]
    FetchIndex {
        /// What failed.
        #[source]
        source: FetchError,
    },
    /// The index does not load.
    #[error("failed to load Helm repository from index YAML")]
    LoadIndex {
        /// What is wrong with it.
        #[source]
        source: RepoError,
    },
    /// The HelmChart's source object cannot be read.
    #[error("failed to get source: {detail}")]
    GetSource {
        /// The API error, as text.
        detail: String,
        /// Whether it is gone (NotFound) rather than unreadable.
        not_found: bool,
    },
    /// The source has no artifact yet.
    #[error("no artifact available for {kind} source '{name}'")]
    NoSourceArtifact {
        /// The source kind.
        kind: &'static str,
        /// The source name.
        name: String,
    },
    /// The spec asks for something not implemented; retrying cannot help.
    #[error("{feature} is not supported by driftless yet: {detail}")]
    Unsupported {
        /// The spec field.
        feature: &'static str,
        /// What to do instead.
        detail: &'static str,
    },
    /// Building the chart failed.
    #[error("{}: {message}", reason.description())]
    Build {
        /// Which step of the build.
        reason: BuildReason,
        /// The cause, already worded (`failed to get chart version for remote reference: …`).
        message: String,
    },
}

impl HelmError {
    /// A build error with `context: cause` as Flux wraps them.
    pub fn build(reason: BuildReason, context: &str, cause: impl std::fmt::Display) -> HelmError {
        HelmError::Build {
            reason,
            message: format!("{context}: {cause}"),
        }
    }
}

impl StepError for HelmError {
    fn condition(&self) -> Option<&'static str> {
        match self {
            HelmError::Source(inner) => inner.condition(),
            HelmError::Build { .. } => Some(types::BUILD_FAILED),
            _ => Some(types::FETCH_FAILED),
        }
    }

    fn patch(source: PatchError) -> Self {
        HelmError::Source(ReconcileError::Patch {
            source: Box::new(source),
        })
    }
}

impl Classify for HelmError {
    fn reason(&self) -> &'static str {
        match self {
            HelmError::Source(inner) => inner.reason(),
            HelmError::InvalidUrl(_) => reasons::URL_INVALID,
            HelmError::Client(_) | HelmError::FetchIndex { .. } => reasons::FAILED,
            HelmError::LoadIndex { .. } => reasons::INDEXATION_FAILED,
            HelmError::GetSource { .. } => "SourceUnavailable",
            HelmError::NoSourceArtifact { .. } => "NoSourceArtifact",
            HelmError::Unsupported { .. } => reasons::FAILED,
            HelmError::Build { reason, .. } => reason.reason(),
        }
    }

    fn class(&self) -> ErrorClass {
        match self {
            HelmError::Source(inner) => inner.class(),
            HelmError::InvalidUrl(_) | HelmError::Unsupported { .. } => ErrorClass::Stalled,
            HelmError::Build {
                reason: BuildReason::ChartReference,
                ..
            } => ErrorClass::Stalled,
            HelmError::NoSourceArtifact { .. } => ErrorClass::Waiting { after: None },
            _ => ErrorClass::Transient,
        }
    }
}

#[cfg(test)]
mod tests {
    use driftless_runtime::error::chain;

    use super::*;

    #[test]
    fn a_version_that_matches_nothing_stalls_with_fluxs_message() {
        let err = HelmError::build(
            BuildReason::ChartReference,
            "failed to get chart version for remote reference",
            "no 'podinfo' chart with version matching '9.*' found",
        );
        assert_eq!(
            chain(&err),
            "invalid chart reference: failed to get chart version for remote reference: no 'podinfo' chart with version matching '9.*' found"
        );
        assert_eq!(err.reason(), "InvalidChartReference");
        assert_eq!(err.class(), ErrorClass::Stalled);
        assert_eq!(err.condition(), Some("BuildFailed"));
    }

    #[test]
    fn an_unreadable_index_is_an_indexation_failure_on_fetch_failed() {
        let err = HelmError::LoadIndex {
            source: RepoError::NoApiVersion,
        };
        assert_eq!(
            chain(&err),
            "failed to load Helm repository from index YAML: no API version specified"
        );
        assert_eq!(err.reason(), "IndexationFailed");
        assert_eq!(err.condition(), Some("FetchFailed"));
    }
}
