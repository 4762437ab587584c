//! The stored artifact as Flux's `reconcileStorage` sees it: garbage-collect old files, drop
//! `status.artifact` when its file disappeared or no longer matches its digest, and rewrite the
//! URL from `--storage-adv-addr` on every reconcile, for any kind. Also the conversions between the storage
//! crate's artifact and the API's `status.artifact`.

use driftless_api::conditions::types;
use driftless_api::meta;
use driftless_api::source::GitRepository;
use driftless_artifact::layout::KIND_GIT_REPOSITORY;
use driftless_artifact::{Artifact, ObjectKey, Retention, Storage};
use driftless_runtime::draft::StatusDraft;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use kube::ResourceExt;

use crate::error::ReconcileError;

/// The API's `status.artifact` for a stored artifact.
pub fn to_api(artifact: &Artifact) -> meta::Artifact {
    meta::Artifact {
        digest: artifact.digest.clone(),
        last_update_time: Time(artifact.last_update_time),
        metadata: artifact.metadata.clone(),
        path: artifact.path.clone(),
        revision: artifact.revision.clone(),
        size: artifact.size,
        url: artifact.url.clone(),
    }
}

/// The storage crate's artifact for a `status.artifact`.
pub fn from_api(artifact: &meta::Artifact) -> Artifact {
    Artifact {
        path: artifact.path.clone(),
        url: artifact.url.clone(),
        revision: artifact.revision.clone(),
        digest: artifact.digest.clone(),
        last_update_time: artifact.last_update_time.0,
        size: artifact.size,
        metadata: artifact.metadata.clone(),
    }
}

/// The storage key of a GitRepository: `gitrepository/<namespace>/<name>`.
pub fn object_key(repo: &GitRepository) -> Result<ObjectKey, ReconcileError> {
    key_for(KIND_GIT_REPOSITORY, repo)
}

/// The storage key of an object of `kind`: `<kind lowercased>/<namespace>/<name>`.
pub fn key_for<K: kube::Resource>(kind: &str, obj: &K) -> Result<ObjectKey, ReconcileError> {
    ObjectKey::new(kind, &obj.namespace().unwrap_or_default(), &obj.name_any()).map_err(|source| {
        ReconcileError::Storage {
            operation: "invalid storage key",
            source: source.into(),
        }
    })
}

/// The URL of the convenience symlink `link` (`index.yaml`, `latest.tar.gz`) of the object
/// stored under `key`, for `status.url`.
pub fn link_url(storage: &Storage, key: &ObjectKey, link: &str) -> Result<String, ReconcileError> {
    let path = key
        .artifact_path(link)
        .map_err(|source| ReconcileError::Storage {
            operation: "invalid storage key",
            source: source.into(),
        })?;
    Ok(storage.url_for(&path))
}

/// What the stored artifact looked like.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Stored {
    /// `status.artifact` is in storage with its digest.
    Present,
    /// There never was an artifact.
    None,
    /// `status.artifact` named a file that is gone or corrupt; it was dropped from the status.
    Disappeared,
}

/// Flux's `reconcileStorage` for the object stored under `key`, whose `status.artifact` is
/// `artifact`.
pub async fn reconcile_storage(
    storage: &Storage,
    retention: Retention,
    key: ObjectKey,
    artifact: &mut Option<meta::Artifact>,
    draft: &mut StatusDraft,
) -> Result<Stored, ReconcileError> {
    let current = artifact.as_ref().map(from_api);
    let check_storage = storage.clone();
    let stored = tokio::task::spawn_blocking(move || {
        let Some(current) = current else {
            return Stored::None;
        };
        // Garbage collection failures are not reconcile failures in Flux either.
        match check_storage.lock(&key) {
            Ok(lock) => {
                if let Err(error) = lock.garbage_collect(&current, &retention) {
                    tracing::warn!(%error, "garbage collection of old artifacts failed");
                }
            }
            Err(error) => tracing::warn!(%error, "locking storage for garbage collection failed"),
        }
        match check_storage.stored_digest(&current) {
            Ok(digest) if digest.to_string() == current.digest => Stored::Present,
            Ok(digest) => {
                tracing::warn!(expected = %current.digest, actual = %digest,
                    "stored artifact does not match its digest; rebuilding");
                Stored::Disappeared
            }
            Err(_) => Stored::Disappeared,
        }
    })
    .await
    .map_err(|e| ReconcileError::Task {
        operation: "checking the stored artifact",
        detail: e.to_string(),
    })?;
    match stored {
        Stored::Present => {
            if let Some(artifact) = artifact.as_mut() {
                // A changed --storage-adv-addr reaches the status on the next reconcile.
                artifact.url = storage.url_for(&artifact.path);
            }
        }
        Stored::None | Stored::Disappeared => {
            *artifact = None;
            draft.delete(types::ARTIFACT_IN_STORAGE);
            let message = if stored == Stored::Disappeared {
                "building artifact: disappeared from storage"
            } else {
                "building artifact"
            };
            draft.progressing(message);
        }
    }
    Ok(stored)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn artifacts_convert_to_the_api_type_and_back_unchanged() {
        let artifact = Artifact {
            path: "gitrepository/ns/n/abc.tar.gz".into(),
            url: "http://h/gitrepository/ns/n/abc.tar.gz".into(),
            revision: "main@sha1:abc".into(),
            digest: format!("sha256:{}", "0".repeat(64)),
            last_update_time: jiff::Timestamp::from_second(1_700_000_000).expect("in range"),
            size: Some(42),
            metadata: None,
        };
        assert_eq!(from_api(&to_api(&artifact)), artifact);
    }
}
