//! Why a Bucket reconcile failed, with the reason and class Flux's `BucketReconciler` gives each
//! case and its message (`bucket '<name>' not found`, `indexation of objects from bucket '<name>'
//! failed: …`, `fetch from bucket '<name>' failed: …`). S3 errors carry the service's code and
//! message, never credentials; Secret values are never formatted.

use driftless_api::conditions::{reasons, types};
use driftless_runtime::error::{Classify, ErrorClass};
use driftless_runtime::patch::PatchError;
use driftless_s3::S3Error;

use crate::error::ReconcileError;
use crate::reconcile::StepError;

/// Flux's reason when the provider client cannot be built.
pub const CLIENT_ERROR: &str = "ClientError";

/// A failed Bucket step.
#[derive(Debug, thiserror::Error)]
pub enum BucketError {
    /// A step shared with the other kinds (Secrets, storage, unsupported fields, patch).
    #[error(transparent)]
    Common(#[from] ReconcileError),
    /// The client could not be built from the spec (endpoint, TLS, proxy).
    #[error("{0}")]
    Client(#[source] S3Error),
    /// HeadBucket failed.
    #[error("failed to confirm existence of '{bucket}' bucket: {source}")]
    Exists {
        /// `spec.bucketName`.
        bucket: String,
        /// The S3 error.
        #[source]
        source: S3Error,
    },
    /// HeadBucket said the bucket does not exist.
    #[error("bucket '{bucket}' not found")]
    NotFound {
        /// `spec.bucketName`.
        bucket: String,
    },
    /// The root `.sourceignore` object could not be read.
    #[error("failed to get Etag for '.sourceignore' object: {source}")]
    IgnoreFile {
        /// The S3 error.
        #[source]
        source: S3Error,
    },
    /// The ignore patterns could not be compiled.
    #[error("invalid ignore pattern '{pattern}' in {origin}: {detail}")]
    IgnorePattern {
        /// The pattern.
        pattern: String,
        /// `.sourceignore` or `spec.ignore`.
        origin: &'static str,
        /// The matcher's complaint.
        detail: String,
    },
    /// Listing the objects failed.
    #[error("indexation of objects from bucket '{bucket}' failed: {source}")]
    Index {
        /// `spec.bucketName`.
        bucket: String,
        /// The S3 error.
        #[source]
        source: S3Error,
    },
    /// A listed key cannot be written below the working directory.
    #[error(
        "indexation of objects from bucket '{bucket}' failed: object key '{key}' is not a relative path inside the bucket"
    )]
    UnsafeKey {
        /// `spec.bucketName`.
        bucket: String,
        /// The key.
        key: String,
    },
    /// The listed objects add up to more than the artifact size limit.
    #[error("fetch from bucket '{bucket}' failed: the objects add up to more than {limit} bytes")]
    TooLarge {
        /// `spec.bucketName`.
        bucket: String,
        /// The limit.
        limit: u64,
    },
    /// Downloading an object failed.
    #[error("fetch from bucket '{bucket}' failed: failed to get '{key}' object: {source}")]
    Fetch {
        /// `spec.bucketName`.
        bucket: String,
        /// The object key.
        key: String,
        /// The S3 error.
        #[source]
        source: S3Error,
    },
    /// Listing or downloading took longer than `spec.timeout`.
    #[error("{operation} from bucket '{bucket}' timed out after {after:?} (spec.timeout)")]
    Timeout {
        /// `indexation of objects` or `fetch`.
        operation: &'static str,
        /// `spec.bucketName`.
        bucket: String,
        /// `spec.timeout`.
        after: std::time::Duration,
    },
}

impl Classify for BucketError {
    fn reason(&self) -> &'static str {
        match self {
            Self::Common(inner) => inner.reason(),
            Self::Client(_) => CLIENT_ERROR,
            _ => reasons::BUCKET_OPERATION_FAILED,
        }
    }

    fn class(&self) -> ErrorClass {
        match self {
            Self::Common(inner) => inner.class(),
            // An endpoint with a scheme or path never starts working by itself.
            Self::Client(S3Error::InvalidEndpoint { .. }) => ErrorClass::Stalled,
            // Buckets, objects and credentials change outside the object: retry.
            _ => ErrorClass::Transient,
        }
    }
}

impl StepError for BucketError {
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
    fn a_missing_bucket_is_a_transient_bucket_operation_failure_in_fluxs_words() {
        let err = BucketError::NotFound {
            bucket: "podinfo".into(),
        };
        assert_eq!(err.reason(), reasons::BUCKET_OPERATION_FAILED);
        assert_eq!(err.class(), ErrorClass::Transient);
        assert_eq!(err.condition(), Some(types::FETCH_FAILED));
        assert_eq!(chain(&err), "bucket 'podinfo' not found");
    }

    #[test]
    fn an_endpoint_with_a_scheme_stalls_as_a_client_error() {
        let err = BucketError::Client(S3Error::InvalidEndpoint {
            endpoint: "http://minio".into(),
            reason: "scheme".into(),
        });
        assert_eq!(err.reason(), CLIENT_ERROR);
        assert_eq!(err.class(), ErrorClass::Stalled);
    }
}
