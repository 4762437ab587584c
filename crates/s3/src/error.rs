//! Why an S3 call failed. URLs carry no credentials (they are only ever in signed headers) and
//! no error formats a secret.

use std::path::PathBuf;

/// A failed S3 call.
#[derive(Debug, thiserror::Error)]
pub enum S3Error {
    /// The endpoint is not `host[:port]`.
    #[error("invalid endpoint '{endpoint}': {reason}")]
    InvalidEndpoint {
        /// The endpoint as given.
        endpoint: String,
        /// What is wrong with it.
        reason: String,
    },
    /// The HTTP client could not be built (TLS, proxy).
    #[error("failed to create S3 client: {0}")]
    Client(String),
    /// The request did not complete.
    #[error("request to {url} failed: {source}")]
    Transport {
        /// The URL.
        url: String,
        /// The transport error, without its URL.
        #[source]
        source: reqwest::Error,
    },
    /// The service answered with an error status, with the S3 error code and message when the
    /// body had them.
    #[error("{message} (code {code}, HTTP {status})")]
    Service {
        /// The HTTP status.
        status: u16,
        /// `NoSuchBucket`, `SignatureDoesNotMatch`, … or the status text.
        code: String,
        /// The service's message.
        message: String,
    },
    /// A response could not be understood.
    #[error("malformed {what} response: {detail}")]
    Malformed {
        /// Which response.
        what: &'static str,
        /// What is wrong.
        detail: String,
    },
    /// An object, or the objects together, exceed the allowed size.
    #[error("object '{key}' exceeds the maximum allowed size of {limit} bytes")]
    TooLarge {
        /// The object key.
        key: String,
        /// The limit.
        limit: u64,
    },
    /// Writing a downloaded object failed.
    #[error("writing '{path}' failed: {source}")]
    Io {
        /// The local path.
        path: PathBuf,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
}

impl S3Error {
    /// Whether the error says the object or bucket does not exist.
    pub fn is_not_found(&self) -> bool {
        matches!(self, S3Error::Service { status: 404, .. })
            || matches!(self, S3Error::Service { code, .. } if code == "NoSuchKey" || code == "NoSuchBucket")
    }

    /// Whether the service refused the credentials or their signature.
    pub fn is_auth_failure(&self) -> bool {
        matches!(
            self,
            S3Error::Service {
                status: 401 | 403,
                ..
            }
        )
    }
}
