//! Why a GitRepository reconcile failed, with the Flux reason and error class of each case
//! (source-controller's `serror.Generic` / `serror.Stalling` plus the condition reasons of
//! `gitrepository_controller.go`). Messages never carry secrets: URLs are sanitised by
//! `driftless-git`, Secret values are never formatted.

use driftless_api::conditions::reasons;
use driftless_artifact::StorageError;
use driftless_git::GitError;
use driftless_runtime::error::{Classify, ErrorClass};
use driftless_runtime::patch::PatchError;

/// A failed reconcile step.
#[derive(Debug, thiserror::Error)]
pub enum ReconcileError {
    /// The `spec.secretRef` Secret could not be read.
    #[error("failed to get secret '{namespace}/{name}'")]
    GetSecret {
        /// The GitRepository's namespace.
        namespace: String,
        /// `spec.secretRef.name`.
        name: String,
        /// The API error (not found, forbidden…), boxed to keep the error small.
        #[source]
        source: Box<kube::Error>,
    },
    /// The Secret exists but its keys cannot be used (never includes the values).
    #[error("invalid secret '{namespace}/{name}': {problem}")]
    InvalidSecret {
        /// The GitRepository's namespace.
        namespace: String,
        /// `spec.secretRef.name`.
        name: String,
        /// What is wrong, naming keys only.
        problem: String,
    },
    /// Checkout failed; the Git error decides reason (`GitOperationFailed`,
    /// `AuthenticationFailed`, `URLInvalid`) and whether it stalls.
    #[error("failed to checkout and determine revision")]
    Checkout {
        /// What went wrong.
        #[source]
        source: GitError,
    },
    /// The spec asks for something driftless does not do yet; retrying cannot help.
    #[error("{feature} is not supported by driftless yet: {detail}")]
    Unsupported {
        /// The spec field, e.g. `spec.verify`.
        feature: &'static str,
        /// What to do instead.
        detail: &'static str,
        /// The Flux reason to report.
        reason: &'static str,
    },
    /// A spec duration does not parse (the CRD pattern normally prevents this).
    #[error("invalid {field} '{value}': {problem}")]
    InvalidDuration {
        /// `spec.interval` or `spec.timeout`.
        field: &'static str,
        /// The value as written.
        value: String,
        /// The parse error.
        problem: String,
    },
    /// The ignore rules (`.sourceignore`, `spec.ignore`) could not be read.
    #[error("failed to load ignore rules")]
    Ignore {
        /// The underlying error.
        #[source]
        source: driftless_artifact::sourceignore::IgnoreError,
    },
    /// A storage operation failed (lock, write, archive, symlink, read, remove).
    #[error("{operation}")]
    Storage {
        /// What was being done, e.g. `failed to archive artifact`.
        operation: &'static str,
        /// The storage error.
        #[source]
        source: StorageError,
    },
    /// A blocking task (checkout, archive) was cancelled or panicked.
    #[error("{operation} did not complete: {detail}")]
    Task {
        /// What the task was doing.
        operation: &'static str,
        /// The join error, as text.
        detail: String,
    },
    /// `spec.verify` rejected the commit or tag, or its keys could not be read; the message
    /// is Flux's, the reason one of its verification reasons.
    #[error("{message}")]
    Verification {
        /// `VerificationError`, `InvalidCommitSignature`, `InvalidTagSignature`…
        reason: &'static str,
        /// What failed, naming the object and key ids, never key material.
        message: String,
        /// Only a mode needing a tag the spec does not name stalls.
        stalled: bool,
    },
    /// An included GitRepository is missing or has no artifact yet (Flux waits on it), or its
    /// artifact could not be copied in.
    #[error("{message}")]
    Include {
        /// `NotFound`, `NoArtifact` or `CopyFailed`.
        reason: &'static str,
        /// What is missing.
        message: String,
        /// Waiting on the included repository rather than failing.
        waiting: bool,
    },
    /// Writing the status or finalizer failed.
    #[error("failed to patch object")]
    Patch {
        /// The patch error (boxed: it carries a whole API error).
        #[source]
        source: Box<PatchError>,
    },
}

impl ReconcileError {
    /// The condition type a step marks True for this error (Flux's negative-polarity source
    /// conditions), or `None` when only Ready reports it.
    pub fn condition(&self) -> Option<&'static str> {
        use driftless_api::conditions::types;
        match self {
            Self::GetSecret { .. }
            | Self::InvalidSecret { .. }
            | Self::Checkout { .. }
            | Self::InvalidDuration { .. } => Some(types::FETCH_FAILED),
            Self::Unsupported { reason, .. } if *reason == reasons::VERIFICATION_ERROR => {
                Some(types::SOURCE_VERIFIED)
            }
            Self::Unsupported { reason, .. } if *reason == types::INCLUDE_UNAVAILABLE => {
                Some(types::INCLUDE_UNAVAILABLE)
            }
            Self::Unsupported { .. } => Some(types::FETCH_FAILED),
            Self::Verification { .. } => Some(types::SOURCE_VERIFIED),
            Self::Include { .. } => Some(types::INCLUDE_UNAVAILABLE),
            Self::Ignore { .. } | Self::Storage { .. } | Self::Task { .. } => {
                Some(types::STORAGE_OPERATION_FAILED)
            }
            Self::Patch { .. } => None,
        }
    }
}

impl Classify for ReconcileError {
    fn reason(&self) -> &'static str {
        match self {
            Self::GetSecret { .. } | Self::InvalidSecret { .. } => reasons::AUTHENTICATION_FAILED,
            Self::Checkout { source } => source.reason(),
            Self::Unsupported { reason, .. }
            | Self::Verification { reason, .. }
            | Self::Include { reason, .. } => reason,
            Self::InvalidDuration { .. } => reasons::GIT_OPERATION_FAILED,
            Self::Ignore { .. } => reasons::READ_OPERATION_FAILED,
            Self::Storage { source, .. } => storage_reason(source),
            Self::Task { .. } => reasons::ARCHIVE_OPERATION_FAILED,
            Self::Patch { .. } => reasons::PATCH_OPERATION_FAILED,
        }
    }

    fn class(&self) -> ErrorClass {
        match self {
            Self::Checkout { source } if source.is_stalling() => ErrorClass::Stalled,
            Self::Unsupported { .. } | Self::InvalidDuration { .. } => ErrorClass::Stalled,
            Self::Verification { stalled: true, .. } => ErrorClass::Stalled,
            Self::Include { waiting: true, .. } => ErrorClass::Waiting { after: None },
            // A Secret can be fixed without touching the GitRepository, so Flux retries.
            _ => ErrorClass::Transient,
        }
    }
}

/// Flux's storage reasons, per failed operation.
fn storage_reason(err: &StorageError) -> &'static str {
    match err {
        StorageError::InvalidKey(_) | StorageError::InvalidPath { .. } => reasons::INVALID_PATH,
        StorageError::CreateDir { .. } => reasons::DIRECTORY_CREATION_FAILED,
        StorageError::Lock { .. } => reasons::ACQUIRE_LOCK_FAILED,
        StorageError::Write { .. } | StorageError::Archive { .. } => {
            reasons::ARCHIVE_OPERATION_FAILED
        }
        StorageError::Symlink { .. } => reasons::SYMLINK_UPDATE_FAILED,
        StorageError::Read { .. } => reasons::READ_OPERATION_FAILED,
        StorageError::Remove { .. } => reasons::STORAGE_OPERATION_FAILED,
    }
}

#[cfg(test)]
mod tests {
    use driftless_runtime::error::chain;

    use super::*;

    #[test]
    fn a_missing_branch_is_a_transient_git_operation_failure_with_fluxs_message_prefix() {
        let err = ReconcileError::Checkout {
            source: GitError::RefNotFound {
                url: "http://127.0.0.1:1/repo.git".into(),
                what: "branch 'nope'".into(),
            },
        };
        assert_eq!(err.reason(), reasons::GIT_OPERATION_FAILED);
        assert_eq!(err.class(), ErrorClass::Transient);
        assert!(
            chain(&err).starts_with("failed to checkout and determine revision: "),
            "{}",
            chain(&err)
        );
    }

    #[test]
    fn rejected_credentials_are_authentication_failures() {
        let err = ReconcileError::Checkout {
            source: GitError::Authentication {
                url: "http://127.0.0.1:1/repo.git".into(),
                detail: "HTTP 401".into(),
            },
        };
        assert_eq!(err.reason(), reasons::AUTHENTICATION_FAILED);
        assert_eq!(err.condition(), Some("FetchFailed"));
    }

    #[test]
    fn unsupported_verification_stalls_on_source_verified() {
        let err = ReconcileError::Unsupported {
            feature: "spec.verify",
            detail: "remove spec.verify",
            reason: reasons::VERIFICATION_ERROR,
        };
        assert_eq!(err.class(), ErrorClass::Stalled);
        assert_eq!(err.condition(), Some("SourceVerified"));
    }
}
