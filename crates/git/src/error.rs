//! The one error type of this crate.
//!
//! Every variant carries the sanitised URL (never credentials) and enough context for a
//! GitRepository condition message. [`GitError::reason`] maps each variant to the Flux
//! reason source-controller puts on the object, so the controller does not re-classify.

use std::path::PathBuf;
use std::time::Duration;

/// Flux's reason for a failed checkout (source-controller sets it on `FetchFailed`/`Ready`).
pub const REASON_GIT_OPERATION_FAILED: &str = "GitOperationFailed";
/// Flux's reason when the remote rejected or required credentials.
pub const REASON_AUTHENTICATION_FAILED: &str = "AuthenticationFailed";
/// Flux's reason for a URL the controller cannot use.
pub const REASON_URL_INVALID: &str = "URLInvalid";

/// Errors from checkout, ls-remote and transport setup.
#[derive(Debug, thiserror::Error)]
pub enum GitError {
    #[error("invalid Git URL '{url}': {reason}")]
    InvalidUrl { url: String, reason: String },

    #[error("invalid Git reference: {reason}")]
    InvalidReference { reason: String },

    #[error(transparent)]
    InvalidSemver(#[from] driftless_semver::InvalidConstraint),

    #[error("invalid auth configuration for '{url}': {reason}")]
    InvalidAuth { url: String, reason: String },

    #[error("authentication to '{url}' failed: {detail}")]
    Authentication { url: String, detail: String },

    #[error("SSH host key verification for '{url}' failed: {detail}")]
    HostKey { url: String, detail: String },

    #[error("timeout of {timeout:?} exceeded while {operation} '{url}'")]
    Timeout {
        url: String,
        operation: &'static str,
        timeout: Duration,
    },

    #[error("{operation} '{url}' failed: {detail}")]
    Remote {
        url: String,
        operation: &'static str,
        detail: String,
    },

    #[error("unable to resolve {what} in '{url}': not found")]
    RefNotFound { url: String, what: String },

    #[error("sparse checkout directory '{path}' does not exist in the commit")]
    SparsePathNotFound { path: String },

    #[error("no tag in '{url}' matches semver constraint '{constraint}'")]
    NoSemverMatch { url: String, constraint: String },

    #[error("commit '{commit}' not found in '{url}'{scope}")]
    CommitNotFound {
        url: String,
        commit: String,
        scope: String,
    },

    #[error("checkout exceeds the size limit of {limit} bytes")]
    SizeLimitExceeded { limit: u64 },

    #[error("tree entry '{path}' is unsafe: {reason}")]
    UnsafePath { path: String, reason: &'static str },

    #[error("symlink '{path}' points outside the checkout: '{target}'")]
    SymlinkEscape { path: String, target: String },

    #[error("{feature} is not supported: {reason}")]
    Unsupported {
        feature: &'static str,
        reason: &'static str,
    },

    #[error("invalid submodule '{name}' in .gitmodules: {reason}")]
    InvalidSubmodule { name: String, reason: String },

    /// A submodule could not be checked out; `source` says why (its reason is the error's).
    #[error("submodule '{path}': {source}")]
    Submodule {
        path: String,
        #[source]
        source: Box<GitError>,
    },

    #[error("reading Git objects failed: {detail}")]
    Object { detail: String },

    #[error("{operation} '{path}': {source}")]
    Io {
        operation: &'static str,
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

impl GitError {
    /// The Flux condition reason for this error.
    pub fn reason(&self) -> &'static str {
        match self {
            GitError::Submodule { source, .. } => source.reason(),
            GitError::InvalidUrl { .. } => REASON_URL_INVALID,
            GitError::Authentication { .. } | GitError::InvalidAuth { .. } => {
                REASON_AUTHENTICATION_FAILED
            }
            _ => REASON_GIT_OPERATION_FAILED,
        }
    }

    /// True when retrying without a spec change cannot help (Flux marks these Stalled).
    pub fn is_stalling(&self) -> bool {
        matches!(
            self,
            GitError::InvalidUrl { .. }
                | GitError::InvalidReference { .. }
                | GitError::InvalidSemver(_)
                | GitError::InvalidAuth { .. }
                | GitError::Unsupported { .. }
        )
    }

    pub(crate) fn io(
        operation: &'static str,
        path: impl Into<PathBuf>,
    ) -> impl FnOnce(std::io::Error) -> GitError {
        let path = path.into();
        move |source| GitError::Io {
            operation,
            path,
            source,
        }
    }

    pub(crate) fn object(err: impl std::fmt::Display) -> GitError {
        GitError::Object {
            detail: err.to_string(),
        }
    }
}
