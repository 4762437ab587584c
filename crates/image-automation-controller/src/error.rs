//! The errors of one ImageUpdateAutomation reconcile, each with Flux's reason and a class.

use driftless_runtime::error::{Classify, ErrorClass};

use crate::message::TemplateError;
use crate::update::UpdateError;

/// Flux's reasons for a failed ImageUpdateAutomation.
pub mod reasons {
    pub const ACCESS_DENIED: &str = "AccessDenied";
    pub const INVALID_SOURCE_CONFIGURATION: &str = "InvalidSourceConfiguration";
    pub const GIT_OPERATION_FAILED: &str = "GitOperationFailed";
    pub const UPDATE_FAILED: &str = "UpdateFailed";
    pub const INVALID_POLICY_SELECTOR: &str = "InvalidPolicySelector";
    pub const RECONCILIATION_FAILED: &str = "ReconciliationFailed";
}

#[derive(Debug, thiserror::Error)]
pub enum ReconcileError {
    #[error(
        "cannot access GitRepository '{namespace}/{name}': cross-namespace references are disabled"
    )]
    CrossNamespace { namespace: String, name: String },

    #[error("source '{namespace}/{name}' not found")]
    SourceNotFound { namespace: String, name: String },

    #[error("invalid source configuration: {reason}")]
    InvalidSource { reason: String },

    #[error("reading {what} '{namespace}/{name}' failed")]
    Kube {
        what: &'static str,
        namespace: String,
        name: String,
        #[source]
        source: Box<kube::Error>,
    },

    #[error("{feature} is not supported: {detail}")]
    Unsupported {
        feature: &'static str,
        detail: &'static str,
    },

    #[error("invalid policy selector: {reason}")]
    InvalidPolicySelector { reason: String },

    #[error("listing ImagePolicies in '{namespace}' failed")]
    ListPolicies {
        namespace: String,
        #[source]
        source: Box<kube::Error>,
    },

    #[error("Secret '{namespace}/{name}': {problem}")]
    InvalidSecret {
        namespace: String,
        name: String,
        problem: String,
    },

    #[error("signing key Secret '{namespace}/{name}': {problem}")]
    InvalidSigningKey {
        namespace: String,
        name: String,
        problem: String,
    },

    #[error(transparent)]
    Git(#[from] driftless_git::GitError),

    #[error(transparent)]
    Push(#[from] driftless_git::PushError),

    #[error(transparent)]
    Update(#[from] UpdateError),

    #[error(transparent)]
    Template(#[from] TemplateError),

    #[error("the git worker stopped unexpectedly")]
    Worker,

    #[error("writing the status failed")]
    Patch {
        #[source]
        source: Box<driftless_runtime::patch::PatchError>,
    },
}

impl Classify for ReconcileError {
    fn reason(&self) -> &'static str {
        use reasons::*;
        match self {
            ReconcileError::CrossNamespace { .. } => ACCESS_DENIED,
            ReconcileError::SourceNotFound { .. }
            | ReconcileError::InvalidSource { .. }
            | ReconcileError::Unsupported { .. }
            | ReconcileError::InvalidSecret { .. }
            | ReconcileError::InvalidSigningKey { .. } => INVALID_SOURCE_CONFIGURATION,
            ReconcileError::InvalidPolicySelector { .. } => INVALID_POLICY_SELECTOR,
            ReconcileError::Git(_) | ReconcileError::Push(_) | ReconcileError::Worker => {
                GIT_OPERATION_FAILED
            }
            ReconcileError::Update(_) | ReconcileError::Template(_) => UPDATE_FAILED,
            ReconcileError::Kube { .. }
            | ReconcileError::ListPolicies { .. }
            | ReconcileError::Patch { .. } => RECONCILIATION_FAILED,
        }
    }

    fn class(&self) -> ErrorClass {
        match self {
            ReconcileError::CrossNamespace { .. }
            | ReconcileError::InvalidSource { .. }
            | ReconcileError::Unsupported { .. }
            | ReconcileError::InvalidPolicySelector { .. }
            | ReconcileError::Template(_) => ErrorClass::Stalled,
            ReconcileError::Git(e) if e.is_stalling() => ErrorClass::Stalled,
            _ => ErrorClass::Transient,
        }
    }
}
