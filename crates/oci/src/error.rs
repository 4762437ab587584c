//! Errors of the registry client. URLs in messages are the registry URLs this client built
//! (never a redirect target, which may carry signed query strings); credentials never appear.

/// Why a registry operation failed.
#[derive(Debug, thiserror::Error)]
pub enum OciError {
    /// The HTTP client could not be built (bad CA bundle, TLS setup).
    #[error("building registry client: {0}")]
    Client(String),
    /// Connecting, sending or reading failed (DNS, refused, TLS, timeout).
    #[error("{method} {url}: {source}")]
    Transport {
        /// HTTP method.
        method: &'static str,
        /// The request URL without query.
        url: String,
        /// The failure, its URL removed.
        source: reqwest::Error,
    },
    /// The registry refused the credentials (or demanded some and none were given).
    #[error("{method} {url}: {detail}")]
    Unauthorized {
        /// HTTP method.
        method: &'static str,
        /// The request URL without query.
        url: String,
        /// 401 or 403.
        status: u16,
        /// The registry's `CODE: message` list, or `UNAUTHORIZED` with the status text.
        detail: String,
    },
    /// The token endpoint did not issue a token.
    #[error("fetching a registry token from {realm}: {detail}")]
    Token {
        /// The token endpoint without query.
        realm: String,
        /// Status and error text.
        detail: String,
    },
    /// The manifest, blob or repository does not exist.
    #[error("{method} {url}: {detail}")]
    NotFound {
        /// HTTP method.
        method: &'static str,
        /// The request URL without query.
        url: String,
        /// The registry's error text.
        detail: String,
    },
    /// Another non-success status.
    #[error("{method} {url}: {detail}")]
    Status {
        /// HTTP method.
        method: &'static str,
        /// The request URL without query.
        url: String,
        /// The status code.
        status: u16,
        /// The registry's error text.
        detail: String,
    },
    /// A response is larger than the limit set for it.
    #[error("{what} from {url} exceeds the limit of {limit} bytes")]
    TooLarge {
        /// What was being read (manifest, blob, tag list).
        what: &'static str,
        /// The request URL without query.
        url: String,
        /// The limit in bytes.
        limit: u64,
    },
    /// The content does not hash to the digest it was asked for or announced with.
    #[error("{what} from {url} failed verification: expected digest {expected}, got {actual}")]
    DigestMismatch {
        /// What was being read.
        what: &'static str,
        /// The request URL without query.
        url: String,
        /// The digest asked for.
        expected: String,
        /// The digest of what arrived.
        actual: String,
    },
    /// A digest this client cannot verify.
    #[error("invalid digest '{digest}': {reason}")]
    InvalidDigest {
        /// The digest as given.
        digest: String,
        /// Why it cannot be checked.
        reason: String,
    },
    /// A response is not what the API promises (bad JSON, unknown media type, bad Link header).
    #[error("invalid {what} from {url}: {reason}")]
    Invalid {
        /// What was being read.
        what: &'static str,
        /// The request URL without query.
        url: String,
        /// What is wrong with it.
        reason: String,
    },
    /// Writing a downloaded blob failed.
    #[error("writing blob {digest}: {source}")]
    Write {
        /// The blob digest.
        digest: String,
        /// The I/O failure.
        source: std::io::Error,
    },
}

impl OciError {
    /// True when the registry refused access (wrong, missing or expired credentials).
    pub fn is_unauthorized(&self) -> bool {
        matches!(self, OciError::Unauthorized { .. } | OciError::Token { .. })
    }

    /// True when the thing asked for does not exist.
    pub fn is_not_found(&self) -> bool {
        matches!(self, OciError::NotFound { .. })
    }
}
