//! The consumer side: download an artifact URL, verify its digest, then extract it safely.
//!
//! Mirrors Flux's `fluxcd/pkg/http/fetch`: GET with retries on transient failures
//! (`--http-retry`, default 9, exponential backoff 1s..30s like `go-retryablehttp`), 404 as
//! "artifact not found" without retrying, the body streamed to a temp file and hashed on the
//! way, the digest compared before a single entry is extracted. Unlike Flux, the download itself
//! is bounded too. Error messages carry URLs stripped of credentials and query strings.

use std::path::Path;
use std::time::Duration;

use reqwest::{StatusCode, Url};
use tokio::io::AsyncWriteExt;

use crate::digest::{Digest, DigestError, Hasher};
use crate::extract::{
    DEFAULT_MAX_UNTAR_SIZE, ExtractError, ExtractLimits, ExtractSummary, extract_tar_gz,
};

/// Flux's `--http-retry` default.
pub const DEFAULT_RETRIES: u32 = 9;

/// How the client downloads.
#[derive(Clone, Debug)]
pub struct FetchOptions {
    /// Retries after the first attempt for transient failures (`--http-retry`).
    pub retries: u32,
    /// First backoff wait; doubles per attempt.
    pub min_retry_wait: Duration,
    /// Longest backoff wait.
    pub max_retry_wait: Duration,
    /// Timeout of one whole attempt, body included (helm-controller's `--http-timeout` is 30s).
    pub timeout: Duration,
    /// Maximum bytes downloaded; `None` for unlimited.
    pub max_download_size: Option<u64>,
    /// Bounds for extracting what was downloaded.
    pub extract: ExtractLimits,
}

impl Default for FetchOptions {
    fn default() -> Self {
        FetchOptions {
            retries: DEFAULT_RETRIES,
            min_retry_wait: Duration::from_secs(1),
            max_retry_wait: Duration::from_secs(30),
            timeout: Duration::from_secs(30),
            max_download_size: Some(DEFAULT_MAX_UNTAR_SIZE),
            extract: ExtractLimits::default(),
        }
    }
}

/// Why an artifact could not be fetched. URLs in it never carry credentials or query strings.
#[derive(Debug, thiserror::Error)]
pub enum FetchError {
    /// The URL does not parse or is not http(s).
    #[error("invalid artifact URL '{url}': {reason}")]
    InvalidUrl {
        /// The sanitised URL, or a placeholder when it does not parse.
        url: String,
        /// Why it was refused.
        reason: String,
    },
    /// The published digest is not one this crate can check.
    #[error("invalid artifact digest: {0}")]
    InvalidDigest(#[from] DigestError),
    /// The HTTP client could not be built (TLS setup).
    #[error("building HTTP client: {0}")]
    Client(String),
    /// The server answered 404; Flux treats this as "artifact not found" and waits.
    #[error("artifact not found at {url}")]
    NotFound {
        /// Sanitised URL.
        url: String,
    },
    /// The server answered another non-success status (after retries, when transient).
    #[error("unexpected HTTP status {status} from {url}")]
    Status {
        /// Sanitised URL.
        url: String,
        /// The status code.
        status: u16,
    },
    /// Connecting, sending or reading the body failed on every attempt.
    #[error("downloading {url} failed after {attempts} attempts: {source}")]
    Transport {
        /// Sanitised URL.
        url: String,
        /// How many attempts were made.
        attempts: u32,
        /// The last failure, its URL removed.
        source: reqwest::Error,
    },
    /// The artifact is larger than `max_download_size`.
    #[error("artifact at {url} exceeds the download limit of {limit} bytes")]
    TooLarge {
        /// Sanitised URL.
        url: String,
        /// The limit in bytes.
        limit: u64,
    },
    /// The downloaded bytes do not match the published digest; nothing was extracted.
    #[error("artifact at {url} failed verification: expected digest {expected}, got {actual}")]
    DigestMismatch {
        /// Sanitised URL.
        url: String,
        /// Digest from the artifact's status.
        expected: String,
        /// Digest of what was received.
        actual: String,
    },
    /// Writing the temporary download file failed.
    #[error("buffering download of {url}: {source}")]
    TempFile {
        /// Sanitised URL.
        url: String,
        /// The I/O failure.
        source: std::io::Error,
    },
    /// The blocking extraction task was cancelled or panicked (runtime shutting down).
    #[error("extraction of {url} did not complete: {reason}")]
    ExtractTask {
        /// Sanitised URL.
        url: String,
        /// The task's failure.
        reason: String,
    },
    /// The verified archive could not be extracted within the limits.
    #[error("extracting artifact from {url}: {source}")]
    Extract {
        /// Sanitised URL.
        url: String,
        /// What the extractor refused.
        source: ExtractError,
    },
}

impl FetchError {
    /// True for "artifact not found": the producer has not published it (yet).
    pub fn is_not_found(&self) -> bool {
        matches!(self, FetchError::NotFound { .. })
    }
}

/// Downloads, verifies and extracts artifacts.
#[derive(Clone, Debug)]
pub struct Fetcher {
    client: reqwest::Client,
    options: FetchOptions,
}

enum Attempt {
    Retry(FetchError),
    Fail(FetchError),
}

impl Fetcher {
    /// A fetcher with its own HTTP client (rustls with ring, platform trust roots).
    pub fn new(options: FetchOptions) -> Result<Self, FetchError> {
        let tls = crate::tls::client_config().map_err(|e| FetchError::Client(e.to_string()))?;
        let client = reqwest::Client::builder()
            .tls_backend_preconfigured(tls)
            .timeout(options.timeout)
            .connect_timeout(Duration::from_secs(10))
            .build()
            .map_err(|e| FetchError::Client(e.without_url().to_string()))?;
        Ok(Fetcher { client, options })
    }

    /// Download `url`, check it against `digest`, then extract it into `dest`.
    pub async fn fetch(
        &self,
        url: &str,
        digest: &str,
        dest: &Path,
    ) -> Result<ExtractSummary, FetchError> {
        let (file, safe_url) = self.download_verified(url, digest).await?;
        let limits = self.options.extract;
        let dest = dest.to_path_buf();
        let extracted = tokio::task::spawn_blocking(move || extract_tar_gz(file, &dest, &limits))
            .await
            .map_err(|e| FetchError::ExtractTask {
                url: safe_url.clone(),
                reason: e.to_string(),
            })?;
        extracted.map_err(|source| FetchError::Extract {
            url: safe_url,
            source,
        })
    }

    /// Download `url` into an anonymous temp file and verify it against `digest`. Returns the
    /// file positioned at its start, and the sanitised URL for messages.
    pub async fn download_verified(
        &self,
        url: &str,
        digest: &str,
    ) -> Result<(std::fs::File, String), FetchError> {
        let (parsed, safe_url) = parse_url(url)?;
        let expected: Digest = digest.parse()?;
        let mut attempt = 0u32;
        loop {
            match self.attempt(&parsed, &safe_url, &expected).await {
                Ok((file, actual)) => {
                    if actual != expected {
                        return Err(FetchError::DigestMismatch {
                            url: safe_url,
                            expected: expected.to_string(),
                            actual: actual.to_string(),
                        });
                    }
                    return Ok((file, safe_url));
                }
                Err(Attempt::Fail(e)) => return Err(e),
                Err(Attempt::Retry(e)) if attempt >= self.options.retries => {
                    return Err(match e {
                        FetchError::Transport { url, source, .. } => FetchError::Transport {
                            url,
                            attempts: attempt + 1,
                            source,
                        },
                        other => other,
                    });
                }
                Err(Attempt::Retry(e)) => {
                    tracing::debug!(url = %safe_url, attempt, error = %e, "retrying artifact download");
                    tokio::time::sleep(self.backoff(attempt)).await;
                    attempt += 1;
                }
            }
        }
    }

    fn backoff(&self, attempt: u32) -> Duration {
        let factor = 2u32.saturating_pow(attempt);
        self.options
            .min_retry_wait
            .saturating_mul(factor)
            .min(self.options.max_retry_wait)
    }

    async fn attempt(
        &self,
        url: &Url,
        safe_url: &str,
        expected: &Digest,
    ) -> Result<(std::fs::File, Digest), Attempt> {
        let transport = |e: reqwest::Error| {
            Attempt::Retry(FetchError::Transport {
                url: safe_url.to_owned(),
                attempts: 1,
                source: e.without_url(),
            })
        };
        let mut response = self
            .client
            .get(url.clone())
            .send()
            .await
            .map_err(transport)?;
        let status = response.status();
        if status == StatusCode::NOT_FOUND {
            return Err(Attempt::Fail(FetchError::NotFound {
                url: safe_url.to_owned(),
            }));
        }
        if !status.is_success() {
            let error = FetchError::Status {
                url: safe_url.to_owned(),
                status: status.as_u16(),
            };
            let transient = status.is_server_error()
                || status == StatusCode::TOO_MANY_REQUESTS
                || status == StatusCode::REQUEST_TIMEOUT;
            return Err(if transient {
                Attempt::Retry(error)
            } else {
                Attempt::Fail(error)
            });
        }
        let limit = self.options.max_download_size;
        let too_large = |limit| {
            Attempt::Fail(FetchError::TooLarge {
                url: safe_url.to_owned(),
                limit,
            })
        };
        if let (Some(limit), Some(length)) = (limit, response.content_length())
            && length > limit
        {
            return Err(too_large(limit));
        }
        let temp_err = |source| {
            Attempt::Fail(FetchError::TempFile {
                url: safe_url.to_owned(),
                source,
            })
        };
        let mut file = tokio::fs::File::from_std(tempfile::tempfile().map_err(temp_err)?);
        let mut hasher = Hasher::new(expected.algorithm());
        let mut received = 0u64;
        while let Some(chunk) = response.chunk().await.map_err(transport)? {
            received = received.saturating_add(chunk.len() as u64);
            if let Some(limit) = limit
                && received > limit
            {
                return Err(too_large(limit));
            }
            hasher.update(&chunk);
            file.write_all(&chunk).await.map_err(temp_err)?;
        }
        file.flush().await.map_err(temp_err)?;
        let mut file = file.into_std().await;
        std::io::Seek::rewind(&mut file).map_err(temp_err)?;
        Ok((file, hasher.finish()))
    }
}

/// Parse an artifact URL and produce its printable form without userinfo, query or fragment.
fn parse_url(url: &str) -> Result<(Url, String), FetchError> {
    let parsed = Url::parse(url).map_err(|e| FetchError::InvalidUrl {
        url: "<unparseable>".to_owned(),
        reason: e.to_string(),
    })?;
    let safe = sanitize_url(&parsed);
    if !matches!(parsed.scheme(), "http" | "https") {
        return Err(FetchError::InvalidUrl {
            url: safe,
            reason: "scheme must be http or https".to_owned(),
        });
    }
    Ok((parsed, safe))
}

/// `url` without credentials, query string or fragment, safe for conditions, events and logs.
pub fn sanitize_url(url: &Url) -> String {
    let mut safe = url.clone();
    let _ = safe.set_username("");
    let _ = safe.set_password(None);
    safe.set_query(None);
    safe.set_fragment(None);
    safe.to_string()
}
