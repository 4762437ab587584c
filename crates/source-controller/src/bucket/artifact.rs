//! Flux's `reconcileArtifact` for a Bucket: archive the downloaded objects as
//! `<revision hex>.tar.gz` under the object's lock, point `latest.tar.gz` at it, and record the
//! artifact, `status.url` and the `spec.ignore` it was built with. As in Flux, the archive
//! holds every downloaded object: the ignore patterns already chose them while indexing.

use driftless_api::conditions::{reasons, types};
use driftless_api::source::{Bucket, BucketStatus};
use driftless_artifact::layout::{LATEST_TAR_GZ, bucket_file};
use driftless_artifact::{IgnoreRules, Retention, Storage};
use driftless_runtime::draft::StatusDraft;

use super::error::BucketError;
use super::source::Fetched;
use crate::artifact::{Stored, store_locked};
use crate::error::ReconcileError;
use crate::storage::to_api;

/// Flux's `reconcileArtifact`.
pub async fn reconcile_artifact(
    storage: &Storage,
    retention: Retention,
    bucket: &Bucket,
    status: &mut BucketStatus,
    draft: &mut StatusDraft,
    fetched: Fetched,
) -> Result<Stored, BucketError> {
    let stored_revision = status.artifact.as_ref().map(|a| a.revision.clone());
    let outcome = match fetched {
        Fetched::Unchanged { revision } if stored_revision.as_deref() == Some(&revision) => {
            Stored::UpToDate { revision }
        }
        Fetched::Unchanged { revision } => {
            // Only reachable if the stored artifact vanished between the storage step and now.
            return Err(ReconcileError::Task {
                operation: "building the artifact",
                detail: format!("no download of '{revision}' to archive"),
            }
            .into());
        }
        Fetched::Downloaded {
            revision,
            files,
            dir,
        } => {
            let key = super::object_key(bucket)?;
            let file_name = bucket_file(revision.strip_prefix("sha256:").unwrap_or(&revision));
            let archived_revision = revision.clone();
            let (stored, url) = store_locked(storage, retention, key, LATEST_TAR_GZ, move |lock| {
                let rules = include_everything()?;
                lock.store_archive(&file_name, &archived_revision, dir.path(), &rules)
                    .map_err(|source| ReconcileError::Storage {
                        operation: "unable to archive artifact to storage",
                        source,
                    })
            })
            .await?;
            status.artifact = Some(to_api(&stored));
            status.url = Some(url);
            status.observed_ignore = bucket.spec.ignore.clone();
            Stored::New {
                message: format!(
                    "stored artifact with {files} fetched files from '{}' bucket",
                    bucket.spec.bucket_name
                ),
                revision,
                digest: stored.digest,
            }
        }
    };
    let revision = match &outcome {
        Stored::New { revision, .. } | Stored::UpToDate { revision } => revision,
    };
    draft.delete(types::ARTIFACT_OUTDATED);
    draft.delete(types::STORAGE_OPERATION_FAILED);
    draft.mark_true(
        types::ARTIFACT_IN_STORAGE,
        reasons::SUCCEEDED,
        format!("stored artifact: revision '{revision}'"),
    );
    Ok(outcome)
}

/// Rules that keep every file: Flux archives a Bucket's working directory without a filter.
/// Built over an empty directory so no downloaded `.sourceignore` object is read as rules, with
/// one re-including pattern that outranks the built-in exclusions.
fn include_everything() -> Result<IgnoreRules, ReconcileError> {
    let empty = tempfile::tempdir().map_err(|e| ReconcileError::Task {
        operation: "preparing the archive rules",
        detail: e.to_string(),
    })?;
    IgnoreRules::for_source(empty.path(), Some("!*"))
        .map_err(|source| ReconcileError::Ignore { source })
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::*;

    #[test]
    fn the_archive_rules_keep_files_flux_would_otherwise_exclude() {
        let rules = include_everything().expect("rules");
        for path in [
            ".git/config",
            "logo.png",
            ".github/workflows/ci.yaml",
            "a/b.yaml",
        ] {
            assert!(!rules.is_excluded(Path::new(path), false), "{path}");
        }
        assert!(!rules.is_excluded(Path::new(".git"), true));
    }
}
