//! Why an ImageRepository or ImagePolicy reconcile failed, with the Flux reason and error class
//! of each case (the reasons of image-reflector-controller's reconcilers). Messages never carry
//! credentials: registry errors name the URL without query, Secret values are never formatted.

use driftless_runtime::error::{Classify, ErrorClass};
use driftless_runtime::patch::PatchError;

use crate::image_ref::ImageRefError;
use crate::policy::PolicyError;
use crate::store::StoreError;

/// Flux's reasons for the image kinds, besides the common ones.
pub mod reasons {
    /// `spec.image` does not parse.
    pub const IMAGE_URL_INVALID: &str = "ImageURLInvalid";
    /// Credentials or TLS settings could not be loaded.
    pub const AUTHENTICATION_FAILED: &str = "AuthenticationFailed";
    /// The scan or the tag store failed.
    pub const READ_OPERATION_FAILED: &str = "ReadOperationFailed";
    /// The ImageRepository is missing or has no tags yet.
    pub const DEPENDENCY_NOT_READY: &str = "DependencyNotReady";
    /// The ImageRepository refuses this ImagePolicy (`accessFrom`, `--no-cross-namespace-refs`).
    pub const ACCESS_DENIED: &str = "AccessDenied";
    /// Kubernetes' generic `metav1.StatusFailure`, which Flux uses for other failures.
    pub const FAILURE: &str = "Failure";
    /// `spec.policy` or `spec.filterTags` cannot work.
    pub const INVALID_POLICY: &str = "InvalidPolicy";
    /// `digestReflectionPolicy: Always` without `spec.interval`.
    pub const INTERVAL_NOT_CONFIGURED: &str = "IntervalNotConfigured";
    /// A cloud `spec.provider` (driftless's own reason: Flux supports them).
    pub const PROVIDER_NOT_SUPPORTED: &str = "ProviderNotSupported";
}

/// A failed reconcile step.
#[derive(Debug, thiserror::Error)]
pub enum ReconcileError {
    /// A spec duration does not parse (the CRD pattern normally prevents this).
    #[error("invalid {field} '{value}': {problem}")]
    InvalidDuration {
        /// `spec.interval` or `spec.timeout`.
        field: &'static str,
        /// The value as written.
        value: String,
        /// Why it does not parse.
        problem: String,
    },
    /// `spec.image` is not a repository name.
    #[error(transparent)]
    ImageUrl(#[from] ImageRefError),
    /// A cloud provider's workload identity is not implemented.
    #[error(
        "spec.provider '{provider}' is not supported yet by driftless: use 'generic' with spec.secretRef"
    )]
    ProviderNotSupported {
        /// `spec.provider`.
        provider: String,
    },
    /// A Secret the spec names could not be read or used.
    #[error("failed to configure authentication options: {message}")]
    Auth {
        /// What is wrong, naming the Secret and key, never a value.
        message: String,
    },
    /// An `exclusionList` entry does not compile.
    #[error("scan failed: failed to compile regex {pattern}: {problem}")]
    Exclusion {
        /// The pattern as written.
        pattern: String,
        /// The compiler's message.
        problem: String,
    },
    /// Listing the tags failed.
    #[error("scan failed")]
    Scan {
        /// The registry error.
        #[source]
        source: driftless_oci::OciError,
    },
    /// The scan took longer than `spec.timeout`.
    #[error("scan failed: timed out after {timeout}")]
    ScanTimeout {
        /// `spec.timeout` as Go prints it.
        timeout: String,
    },
    /// Storing the scanned tags failed (including the store's caps).
    #[error("scan failed: failed to set tags for \"{canonical}\"")]
    StoreWrite {
        /// The canonical image name.
        canonical: String,
        /// The store error.
        #[source]
        source: StoreError,
    },
    /// Reading the stored tags failed.
    #[error("failed to read tags from database")]
    StoreRead {
        /// The store error.
        #[source]
        source: StoreError,
    },
    /// Removing the tags of a deleted ImageRepository failed.
    #[error("failed to remove the tags from the store")]
    StoreRemove {
        /// The store error.
        #[source]
        source: StoreError,
    },
    /// The referenced ImageRepository does not exist.
    #[error(
        "failed to get the referred ImageRepository: referenced ImageRepository does not exist: imagerepositories.image.toolkit.fluxcd.io \"{name}\" not found"
    )]
    RepositoryNotFound {
        /// Its name.
        name: String,
    },
    /// The referenced ImageRepository may not be used by this ImagePolicy.
    #[error("failed to get the referred ImageRepository: {message}")]
    AccessDenied {
        /// Why.
        message: String,
    },
    /// The ImageRepository has no tags in the store yet.
    #[error("no tags in database")]
    NoTags,
    /// No tag could be selected.
    #[error(transparent)]
    Policy(#[from] PolicyError),
    /// `digestReflectionPolicy: Always` needs `spec.interval`.
    #[error("spec.interval must be set when spec.digestReflectionPolicy is set to 'Always'")]
    IntervalNotConfigured,
    /// Looking up the digest of the selected tag failed.
    #[error("failed fetching digest of {image}")]
    Digest {
        /// `name:tag`.
        image: String,
        /// The registry error.
        #[source]
        source: driftless_oci::OciError,
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
    /// A blocking store task panicked or was cancelled.
    #[error("the tag store task failed: {message}")]
    Task {
        /// The join error.
        message: String,
    },
    /// The status or finalizer could not be written.
    #[error("failed to patch the object")]
    Patch {
        /// The API error.
        #[source]
        source: Box<PatchError>,
    },
}

impl ReconcileError {
    /// Wraps a status or finalizer write error.
    pub fn patch(source: PatchError) -> Self {
        Self::Patch {
            source: Box::new(source),
        }
    }
}

impl Classify for ReconcileError {
    fn reason(&self) -> &'static str {
        match self {
            Self::ImageUrl(_) => reasons::IMAGE_URL_INVALID,
            Self::ProviderNotSupported { .. } => reasons::PROVIDER_NOT_SUPPORTED,
            Self::Auth { .. } => reasons::AUTHENTICATION_FAILED,
            Self::Exclusion { .. }
            | Self::Scan { .. }
            | Self::ScanTimeout { .. }
            | Self::StoreWrite { .. } => reasons::READ_OPERATION_FAILED,
            Self::RepositoryNotFound { .. } | Self::NoTags => reasons::DEPENDENCY_NOT_READY,
            Self::AccessDenied { .. } => reasons::ACCESS_DENIED,
            Self::Policy(e) if e.is_invalid_spec() => reasons::INVALID_POLICY,
            Self::IntervalNotConfigured => reasons::INTERVAL_NOT_CONFIGURED,
            Self::InvalidDuration { .. }
            | Self::StoreRead { .. }
            | Self::StoreRemove { .. }
            | Self::Policy(_)
            | Self::Digest { .. }
            | Self::Read { .. }
            | Self::Task { .. }
            | Self::Patch { .. } => reasons::FAILURE,
        }
    }

    fn class(&self) -> ErrorClass {
        match self {
            Self::InvalidDuration { .. }
            | Self::ImageUrl(_)
            | Self::ProviderNotSupported { .. }
            | Self::IntervalNotConfigured => ErrorClass::Stalled,
            Self::Policy(e) if e.is_invalid_spec() => ErrorClass::Stalled,
            // A new scan of the ImageRepository triggers the ImagePolicy again.
            Self::RepositoryNotFound { .. } | Self::NoTags => ErrorClass::Waiting { after: None },
            _ => ErrorClass::Transient,
        }
    }
}

/// A duration as Go's `time.Duration.String` prints it (`30s`, `2m0s`).
pub use driftless_runtime::flags::duration::format as go_duration;

/// A spec duration.
pub fn duration(value: &str, field: &'static str) -> Result<std::time::Duration, ReconcileError> {
    value
        .parse::<driftless_runtime::flags::GoDuration>()
        .map(|d| d.get())
        .map_err(|e| ReconcileError::InvalidDuration {
            field,
            value: value.to_owned(),
            problem: e.to_string(),
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spec_errors_stall_and_missing_tags_wait() {
        let invalid = ReconcileError::Policy(PolicyError::NoChoice);
        assert_eq!(invalid.class(), ErrorClass::Stalled);
        assert_eq!(invalid.reason(), "InvalidPolicy");
        let no_match = ReconcileError::Policy(PolicyError::NoVersion);
        assert_eq!(no_match.class(), ErrorClass::Transient);
        assert_eq!(no_match.reason(), "Failure");
        assert_eq!(
            ReconcileError::NoTags.class(),
            ErrorClass::Waiting { after: None }
        );
        assert_eq!(ReconcileError::NoTags.reason(), "DependencyNotReady");
    }

    #[test]
    fn a_missing_repository_is_reported_as_flux_reports_it() {
        let err = ReconcileError::RepositoryNotFound {
            name: "podinfo".into(),
        };
        assert_eq!(
            err.to_string(),
            "failed to get the referred ImageRepository: referenced ImageRepository does not exist: imagerepositories.image.toolkit.fluxcd.io \"podinfo\" not found"
        );
    }
}
