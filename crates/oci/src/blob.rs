//! Blob download: `GET /v2/<name>/blobs/<digest>` (redirects to storage are followed; reqwest
//! drops `Authorization` when the host changes), streamed into the caller's writer while it is
//! hashed and counted. The caller must discard what was written when this returns an error:
//! the digest can only be known wrong once the last byte has arrived.

use driftless_artifact::Digest;
use driftless_artifact::digest::Hasher;
use reqwest::Method;
use tokio::io::{AsyncWrite, AsyncWriteExt};

use crate::client::{Client, Request, safe};
use crate::error::OciError;
use crate::reference::Reference;

impl Client {
    /// Stream blob `digest` of `reference`'s repository into `out`, refusing more than
    /// `max_size` bytes and content that does not hash to `digest`. Returns the size.
    pub async fn pull_blob<W: AsyncWrite + Unpin>(
        &self,
        reference: &Reference,
        digest: &str,
        max_size: u64,
        out: &mut W,
    ) -> Result<u64, OciError> {
        let expected: Digest = digest.parse().map_err(|e| OciError::InvalidDigest {
            digest: digest.to_owned(),
            reason: format!("{e}"),
        })?;
        let path = format!("blobs/{expected}");
        let request = Request {
            method: Method::GET,
            path: &path,
            accept: &[],
        };
        let (mut response, url) = self.send(reference, &request).await?;
        let url = safe(&url);
        let too_large = || OciError::TooLarge {
            what: "blob",
            url: url.clone(),
            limit: max_size,
        };
        if response.content_length().is_some_and(|n| n > max_size) {
            return Err(too_large());
        }
        let write = |source| OciError::Write {
            digest: expected.to_string(),
            source,
        };
        let mut hasher = Hasher::new(expected.algorithm());
        let mut size = 0u64;
        while let Some(chunk) = response.chunk().await.map_err(|e| OciError::Transport {
            method: "GET",
            url: url.clone(),
            source: e.without_url(),
        })? {
            size += chunk.len() as u64;
            if size > max_size {
                return Err(too_large());
            }
            hasher.update(&chunk);
            out.write_all(&chunk).await.map_err(write)?;
        }
        out.flush().await.map_err(write)?;
        let actual = hasher.finish();
        if actual != expected {
            return Err(OciError::DigestMismatch {
                what: "blob",
                url,
                expected: expected.to_string(),
                actual: actual.to_string(),
            });
        }
        Ok(size)
    }

    /// A small blob (a config) read into memory, verified, at most `max_size` bytes.
    pub async fn pull_blob_bytes(
        &self,
        reference: &Reference,
        digest: &str,
        max_size: u64,
    ) -> Result<Vec<u8>, OciError> {
        let mut bytes = Vec::new();
        self.pull_blob(reference, digest, max_size, &mut bytes)
            .await?;
        Ok(bytes)
    }
}
