//! Flux's `reconcileArtifact` for an OCIRepository: archive the extracted layer (with
//! `.sourceignore` and `spec.ignore`) or store the copied layer as is, as `<digest>.tar.gz` under
//! the object's lock, point `latest.tar.gz` at it, and record the artifact (with the manifest
//! annotations as metadata), `status.url` and the spec fields it was built with.

use driftless_api::conditions::{reasons, types};
use driftless_api::source::{OCIRepository, OCIRepositoryStatus};
use driftless_artifact::layout::{LATEST_TAR_GZ, oci_repository_file};
use driftless_artifact::{Artifact, IgnoreRules, ObjectLock, Retention, Storage};
use driftless_runtime::draft::StatusDraft;

use super::error::OciRepositoryError;
use super::source::{Fetched, content_config_changed};
use crate::artifact::{Stored, store_locked};
use crate::error::ReconcileError;
use crate::storage::to_api;

/// Writes the artifact file under the object's lock.
type Write = Box<dyn FnOnce(&ObjectLock) -> Result<Artifact, ReconcileError> + Send>;

/// Flux's `reconcileArtifact`.
pub async fn reconcile_artifact(
    storage: &Storage,
    retention: Retention,
    repo: &OCIRepository,
    status: &mut OCIRepositoryStatus,
    draft: &mut StatusDraft,
    fetched: Fetched,
) -> Result<Stored, OciRepositoryError> {
    let up_to_date = status
        .artifact
        .as_ref()
        .is_some_and(|a| a.revision == fetched.revision())
        && !content_config_changed(repo, status);
    let outcome = if up_to_date {
        Stored::UpToDate {
            revision: fetched.revision().to_owned(),
        }
    } else {
        let key = super::object_key(repo)?;
        let ignore = repo.spec.ignore.clone();
        let (annotations, write): (_, Write) = match fetched {
            Fetched::Unchanged { revision } => {
                // Only reachable if the stored artifact vanished between the storage step and now.
                return Err(ReconcileError::Task {
                    operation: "building the artifact",
                    detail: format!("no download of '{revision}' to store"),
                }
                .into());
            }
            Fetched::Extracted {
                revision,
                annotations,
                dir,
            } => (
                annotations,
                Box::new(move |lock: &ObjectLock| {
                    let rules = IgnoreRules::for_source(dir.path(), ignore.as_deref())
                        .map_err(|source| ReconcileError::Ignore { source })?;
                    lock.store_archive(
                        &oci_repository_file(&revision),
                        &revision,
                        dir.path(),
                        &rules,
                    )
                    .map_err(|source| ReconcileError::Storage {
                        operation: "unable to archive artifact to storage",
                        source,
                    })
                }),
            ),
            Fetched::Copied {
                revision,
                annotations,
                file,
            } => (
                annotations,
                Box::new(move |lock: &ObjectLock| {
                    lock.store_reader(&oci_repository_file(&revision), &revision, file)
                        .map_err(|source| ReconcileError::Storage {
                            operation: "unable to copy artifact to storage",
                            source,
                        })
                }),
            ),
        };
        let (mut stored, url) = store_locked(storage, retention, key, LATEST_TAR_GZ, write).await?;
        stored.metadata = (!annotations.is_empty()).then_some(annotations);
        status.artifact = Some(to_api(&stored));
        status.url = Some(url);
        Stored::New {
            message: super::new_artifact_message(repo, status, &stored.revision),
            revision: stored.revision,
            digest: stored.digest,
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
        format!("stored artifact for digest '{revision}'"),
    );
    status.observed_ignore = repo.spec.ignore.clone();
    status.observed_layer_selector = repo.spec.layer_selector.clone();
    Ok(outcome)
}
