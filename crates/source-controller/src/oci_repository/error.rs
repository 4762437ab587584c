//! Why an OCIRepository reconcile failed, with the reason and class Flux's
//! `OCIRepositoryReconciler` gives each case and its message prefix (`failed to determine
//! artifact digest: …`, `failed to pull artifact from '<url>': …`). Registry errors carry URLs
//! this controller built (no credentials, no query strings); Secret values are never formatted.

use driftless_api::conditions::{reasons, types};
use driftless_oci::OciError;
use driftless_runtime::error::{Classify, ErrorClass};
use driftless_runtime::patch::PatchError;

use crate::error::ReconcileError;
use crate::reconcile::StepError;

/// A failed OCIRepository step.
#[derive(Debug, thiserror::Error)]
pub enum OciRepositoryError {
    /// A step shared with the other kinds (storage, Secret reads, unsupported fields, patch).
    #[error(transparent)]
    Common(#[from] ReconcileError),
    /// `spec.secretRef` (or a ServiceAccount pull secret) could not be turned into credentials.
    #[error("failed to get credential: {detail}")]
    Credential {
        /// What went wrong, naming the Secret and key only.
        detail: String,
    },
    /// `spec.certSecretRef` could not be turned into a TLS configuration.
    #[error("failed to generate transport for '{url}': {detail}")]
    Transport {
        /// `spec.url`.
        url: String,
        /// What went wrong.
        detail: String,
    },
    /// `spec.url` is not `oci://<host>/<repository>` without tag or digest.
    #[error("URL validation failed for '{url}': {detail}")]
    InvalidUrl {
        /// `spec.url`.
        url: String,
        /// What is wrong with it.
        detail: String,
    },
    /// Listing tags or choosing one by semver failed.
    #[error("failed to determine the artifact tag for '{url}': {detail}")]
    Tag {
        /// `spec.url`.
        url: String,
        /// The registry error or the semver problem.
        detail: String,
    },
    /// The manifest digest of the chosen reference could not be read.
    #[error("failed to determine artifact digest: {source}")]
    Digest {
        /// The registry error.
        #[source]
        source: OciError,
    },
    /// The manifest or the layer could not be downloaded (or failed verification).
    #[error("failed to pull artifact from '{url}': {source}")]
    Pull {
        /// `spec.url`.
        url: String,
        /// The registry error.
        #[source]
        source: OciError,
    },
    /// The registry work took longer than `spec.timeout`.
    #[error("failed to pull artifact from '{url}': timed out after {after:?} (spec.timeout)")]
    Timeout {
        /// `spec.url`.
        url: String,
        /// `spec.timeout`.
        after: std::time::Duration,
    },
    /// The artifact has no usable layer, or the layer could not be extracted.
    #[error("{detail}")]
    Layer {
        /// What went wrong.
        detail: String,
    },
}

impl Classify for OciRepositoryError {
    fn reason(&self) -> &'static str {
        match self {
            Self::Common(inner) => inner.reason(),
            Self::Credential { .. } | Self::Transport { .. } => reasons::AUTHENTICATION_FAILED,
            Self::InvalidUrl { .. } => reasons::URL_INVALID,
            Self::Tag { .. } => reasons::READ_OPERATION_FAILED,
            // Flux reports a refused pull as a pull failure too; the message says UNAUTHORIZED.
            Self::Digest { .. } | Self::Pull { .. } | Self::Timeout { .. } => {
                reasons::OCI_ARTIFACT_PULL_FAILED
            }
            Self::Layer { .. } => reasons::OCI_ARTIFACT_LAYER_OPERATION_FAILED,
        }
    }

    fn class(&self) -> ErrorClass {
        match self {
            Self::Common(inner) => inner.class(),
            Self::InvalidUrl { .. } => ErrorClass::Stalled,
            // Credentials and registries can be fixed without touching the object: retry.
            _ => ErrorClass::Transient,
        }
    }
}

impl StepError for OciRepositoryError {
    fn condition(&self) -> Option<&'static str> {
        match self {
            Self::Common(inner) => inner.condition(),
            _ => Some(types::FETCH_FAILED),
        }
    }

    fn patch(source: PatchError) -> Self {
        Self::Common(ReconcileError::Patch {
            source: Box::new(source),
        })
    }
}

#[cfg(test)]
mod tests {
    use driftless_runtime::error::chain;

    use super::*;

    #[test]
    fn an_invalid_url_stalls_with_url_invalid() {
        let err = OciRepositoryError::InvalidUrl {
            url: "oci://x/y:1".into(),
            detail: "URL must not contain a tag; remove ':1'".into(),
        };
        assert_eq!(err.reason(), reasons::URL_INVALID);
        assert_eq!(err.class(), ErrorClass::Stalled);
        assert_eq!(err.condition(), Some(types::FETCH_FAILED));
    }

    #[test]
    fn unsupported_verification_marks_source_verified() {
        let err = OciRepositoryError::from(ReconcileError::Unsupported {
            feature: "spec.verify",
            detail: "not implemented",
            reason: reasons::VERIFICATION_ERROR,
        });
        assert_eq!(err.condition(), Some(types::SOURCE_VERIFIED));
        assert_eq!(err.class(), ErrorClass::Stalled);
        assert!(chain(&err).starts_with("spec.verify is not supported"));
    }
}
