//! Flux's `reconcileSource` for a Bucket: build the client, confirm the bucket exists, read
//! the root `.sourceignore`, list the objects under `spec.prefix` into the etag index, and
//! unless the stored artifact already has the index's revision, download every indexed object
//! (20 at a time, bounded in size) into a working directory. ETags answered by the downloads
//! replace the listed ones and objects that vanished leave the index, so the revision
//! describes exactly the files downloaded.

use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use driftless_api::conditions::{reasons, types};
use driftless_api::source::{Bucket, BucketStatus};
use driftless_artifact::extract::DEFAULT_MAX_UNTAR_SIZE;
use driftless_runtime::draft::StatusDraft;
use driftless_s3::{Client, S3Error};
use futures::StreamExt;

use super::client::{check_supported, client_for, timeout};
use super::error::BucketError;
use super::index::{EtagIndex, IgnoreMatcher, SOURCEIGNORE, is_indexable, is_safe_key};
use crate::error::ReconcileError;

/// Downloads in flight at once (Flux's `maxConcurrentBucketFetches`).
pub const MAX_CONCURRENT_FETCHES: usize = 20;

/// The largest `.sourceignore` read.
const MAX_SOURCEIGNORE: u64 = 1024 * 1024;

/// What the source step produced.
#[derive(Debug)]
pub enum Fetched {
    /// The stored artifact has the index's revision; nothing was downloaded.
    Unchanged {
        /// That revision.
        revision: String,
    },
    /// The indexed objects are in `dir`.
    Downloaded {
        /// `sha256:<hex>` of the index.
        revision: String,
        /// How many objects were downloaded.
        files: usize,
        /// The working directory; removed when dropped.
        dir: tempfile::TempDir,
    },
}

/// Flux's `reconcileSource`. `status.artifact` is the stored artifact, if any.
pub async fn reconcile_source(
    kube: &kube::Client,
    bucket: &Bucket,
    status: &BucketStatus,
    draft: &mut StatusDraft,
) -> Result<Fetched, BucketError> {
    check_supported(bucket)?;
    let client = client_for(kube, bucket).await?;
    let after = timeout(bucket)?;
    let name = bucket.spec.bucket_name.clone();
    let timed_out = |operation| BucketError::Timeout {
        operation,
        bucket: name.clone(),
        after,
    };
    let dir = tempfile::Builder::new()
        .prefix("bucket-")
        .tempdir()
        .map_err(|e| ReconcileError::Task {
            operation: "creating the working directory",
            detail: e.to_string(),
        })?;
    let (mut index, listed_size) =
        tokio::time::timeout(after, build_index(&client, bucket, dir.path()))
            .await
            .map_err(|_| timed_out("indexation of objects"))??;
    let stored = status.artifact.as_ref().map(|a| a.revision.as_str());
    if stored == Some(index.revision().as_str()) {
        draft.delete(types::FETCH_FAILED);
        return Ok(Fetched::Unchanged {
            revision: index.revision(),
        });
    }
    if listed_size > DEFAULT_MAX_UNTAR_SIZE {
        return Err(BucketError::TooLarge {
            bucket: name,
            limit: DEFAULT_MAX_UNTAR_SIZE,
        });
    }
    tokio::time::timeout(after, fetch_files(&client, &name, &mut index, dir.path()))
        .await
        .map_err(|_| timed_out("fetch"))??;
    let revision = index.revision();
    let message = format!("new upstream revision '{revision}'");
    if status.artifact.is_some() {
        draft.mark_true(types::ARTIFACT_OUTDATED, reasons::NEW_REVISION, &message);
    }
    draft.progressing(format!("building artifact: {message}"));
    draft.delete(types::FETCH_FAILED);
    Ok(Fetched::Downloaded {
        revision,
        files: index.len(),
        dir,
    })
}

/// Flux's `fetchEtagIndex`; also returns the listed size of the indexed objects.
async fn build_index(
    client: &Client,
    bucket: &Bucket,
    dir: &Path,
) -> Result<(EtagIndex, u64), BucketError> {
    let name = &bucket.spec.bucket_name;
    match client.bucket_exists(name).await {
        Ok(true) => {}
        Ok(false) => {
            return Err(BucketError::NotFound {
                bucket: name.clone(),
            });
        }
        Err(source) => {
            return Err(BucketError::Exists {
                bucket: name.clone(),
                source,
            });
        }
    }
    let ignore_path = dir.join(SOURCEIGNORE);
    let sourceignore = match client
        .get_object_to(name, SOURCEIGNORE, &ignore_path, MAX_SOURCEIGNORE)
        .await
    {
        Ok(_) => {
            let bytes =
                tokio::fs::read(&ignore_path)
                    .await
                    .map_err(|source| BucketError::IgnoreFile {
                        source: S3Error::Io {
                            path: ignore_path.clone(),
                            source,
                        },
                    })?;
            Some(String::from_utf8_lossy(&bytes).into_owned())
        }
        Err(err) if err.is_not_found() => None,
        Err(source) => return Err(BucketError::IgnoreFile { source }),
    };
    let matcher = IgnoreMatcher::new(sourceignore.as_deref(), bucket.spec.ignore.as_deref())
        .map_err(|(pattern, origin, detail)| BucketError::IgnorePattern {
            pattern,
            origin,
            detail,
        })?;
    let objects = client
        .list_all(name, bucket.spec.prefix.as_deref())
        .await
        .map_err(|source| BucketError::Index {
            bucket: name.clone(),
            source,
        })?;
    let mut index = EtagIndex::default();
    let mut size: u64 = 0;
    for object in objects {
        if !is_indexable(&object.key) {
            continue;
        }
        if !is_safe_key(&object.key) {
            return Err(BucketError::UnsafeKey {
                bucket: name.clone(),
                key: object.key,
            });
        }
        if matcher.is_excluded(&object.key) {
            continue;
        }
        size = size.saturating_add(object.size);
        index.add(&object.key, &object.etag);
    }
    Ok((index, size))
}

/// Flux's `fetchIndexFiles`, with the artifact size limit over all objects together.
async fn fetch_files(
    client: &Client,
    bucket: &str,
    index: &mut EtagIndex,
    dir: &Path,
) -> Result<(), BucketError> {
    let budget = Arc::new(AtomicU64::new(DEFAULT_MAX_UNTAR_SIZE));
    let entries: Vec<(String, String)> =
        index.iter().map(|(k, e)| (k.clone(), e.clone())).collect();
    let results: Vec<_> = futures::stream::iter(entries)
        .map(|(key, listed_etag)| {
            let budget = Arc::clone(&budget);
            let path = dir.join(&key);
            async move {
                let limit = budget.load(Ordering::Relaxed);
                let result = client.get_object_to(bucket, &key, &path, limit).await;
                if result.is_ok() {
                    let written = tokio::fs::metadata(&path).await.map_or(0, |m| m.len());
                    let _ = budget.fetch_update(Ordering::Relaxed, Ordering::Relaxed, |left| {
                        Some(left.saturating_sub(written))
                    });
                }
                (key, listed_etag, result)
            }
        })
        .buffer_unordered(MAX_CONCURRENT_FETCHES)
        .collect()
        .await;
    for (key, listed_etag, result) in results {
        match result {
            Ok(etag) if !etag.is_empty() && etag != listed_etag => index.add(&key, &etag),
            Ok(_) => {}
            Err(err) if err.is_not_found() => {
                tracing::info!(key, bucket, "indexed object disappeared from the bucket");
                index.remove(&key);
            }
            Err(S3Error::TooLarge { .. }) => {
                return Err(BucketError::TooLarge {
                    bucket: bucket.to_owned(),
                    limit: DEFAULT_MAX_UNTAR_SIZE,
                });
            }
            Err(source) => {
                return Err(BucketError::Fetch {
                    bucket: bucket.to_owned(),
                    key,
                    source,
                });
            }
        }
    }
    Ok(())
}
