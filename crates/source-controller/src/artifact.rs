//! Flux's `reconcileArtifact` for a GitRepository: archive the checked-out tree (VCS files,
//! `.sourceignore` and `spec.ignore` excluded) into `<commit>.tar.gz` under the object's lock,
//! point `latest.tar.gz` at it, garbage-collect old files, and record the artifact and the spec
//! fields it was built with in the status.

use driftless_api::conditions::{reasons, types};
use driftless_api::meta;
use driftless_api::source::{GitRepository, GitRepositoryStatus};
use driftless_artifact::layout::{LATEST_TAR_GZ, git_repository_file};
use driftless_artifact::storage::ObjectLock;
use driftless_artifact::{Artifact, IgnoreRules, ObjectKey, Retention, Storage};
use driftless_git::Commit;
use driftless_runtime::draft::StatusDraft;

use crate::error::ReconcileError;
use crate::include::copy_includes;
use crate::source::Fetched;
use crate::storage::{object_key, to_api};

/// What the artifact step did, for the event the reconcile records.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Stored {
    /// A new artifact was written (Flux's `NewArtifact` event).
    New {
        /// `stored artifact for commit '<subject>'`.
        message: String,
        /// The artifact revision.
        revision: String,
        /// The artifact digest.
        digest: String,
    },
    /// The stored artifact already has the upstream revision (Flux's `ArtifactUpToDate`).
    UpToDate {
        /// The artifact revision.
        revision: String,
    },
}

/// What the artifact is built from.
#[derive(Debug)]
pub struct Build {
    /// The source step's checkout (or its "unchanged" answer).
    pub fetched: Fetched,
    /// The included artifacts, in `spec.include` order, copied in before archiving.
    pub includes: Vec<meta::Artifact>,
    /// Rebuild even when the revision is the stored one (content configuration changed or
    /// the commit was (re)verified).
    pub rebuild: bool,
}

/// Flux's `reconcileArtifact`.
pub async fn reconcile_artifact(
    storage: &Storage,
    retention: Retention,
    repo: &GitRepository,
    status: &mut GitRepositoryStatus,
    draft: &mut StatusDraft,
    build: Build,
) -> Result<Stored, ReconcileError> {
    let Build {
        fetched,
        includes,
        rebuild,
    } = build;
    let up_to_date = status
        .artifact
        .as_ref()
        .is_some_and(|a| a.revision == fetched.revision())
        && !rebuild;
    let outcome = match fetched {
        _ if up_to_date => Stored::UpToDate {
            revision: fetched.revision().to_owned(),
        },
        Fetched::Unchanged { revision } => {
            // Only reachable if the stored artifact vanished between the storage step and now.
            return Err(ReconcileError::Task {
                operation: "building the artifact",
                detail: format!("no checkout of '{revision}' to archive"),
            });
        }
        Fetched::CheckedOut { commit, dir } => {
            let key = object_key(repo)?;
            let message = format!("stored artifact for commit '{}'", short_message(&commit));
            let ignore = repo.spec.ignore.clone();
            let repo_spec = repo.clone();
            let file_name = git_repository_file(&commit.id);
            let revision = commit.revision.clone();
            let included = includes.clone();
            let (stored, _) = store_locked(storage, retention, key, LATEST_TAR_GZ, move |lock| {
                copy_includes(lock.storage(), &repo_spec, &included, dir.path())?;
                let rules = IgnoreRules::for_source(dir.path(), ignore.as_deref())
                    .map_err(|source| ReconcileError::Ignore { source })?;
                lock.store_archive(&file_name, &revision, dir.path(), &rules)
                    .map_err(|source| ReconcileError::Storage {
                        operation: "failed to archive artifact",
                        source,
                    })
            })
            .await?;
            let outcome = Stored::New {
                message,
                revision: stored.revision.clone(),
                digest: stored.digest.clone(),
            };
            status.artifact = Some(to_api(&stored));
            status.included_artifacts = Some(includes).filter(|l| !l.is_empty());
            outcome
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
        format!("stored artifact for revision '{revision}'"),
    );
    record_observed(repo, status);
    Ok(outcome)
}

/// Writes an artifact under the object's lock (`write` stores the file), points the
/// convenience symlink `link` at it, and garbage-collects older files (failures there are only
/// logged, as in Flux). Returns the artifact with its URL and the symlink's URL.
pub async fn store_locked<F>(
    storage: &Storage,
    retention: Retention,
    key: ObjectKey,
    link: &'static str,
    write: F,
) -> Result<(Artifact, String), ReconcileError>
where
    F: FnOnce(&ObjectLock) -> Result<Artifact, ReconcileError> + Send + 'static,
{
    let storage = storage.clone();
    tokio::task::spawn_blocking(move || {
        let storage_err = |operation| move |source| ReconcileError::Storage { operation, source };
        let lock = storage
            .lock(&key)
            .map_err(storage_err("failed to acquire lock for artifact"))?;
        let mut artifact = write(&lock)?;
        storage.set_artifact_url(&mut artifact);
        let url = lock
            .symlink(&artifact, link)
            .map_err(storage_err("failed to update status URL symlink"))?;
        if let Err(error) = lock.garbage_collect(&artifact, &retention) {
            tracing::warn!(%error, "garbage collection of old artifacts failed");
        }
        Ok::<_, ReconcileError>((artifact, url))
    })
    .await
    .map_err(|e| ReconcileError::Task {
        operation: "storing the artifact",
        detail: e.to_string(),
    })?
}

/// The spec fields the artifact was built with, omitted when empty as Flux's `omitempty` does.
fn record_observed(repo: &GitRepository, status: &mut GitRepositoryStatus) {
    let spec = &repo.spec;
    status.observed_ignore = spec.ignore.clone();
    status.observed_recurse_submodules = spec.recurse_submodules.filter(|r| *r);
    status.observed_sparse_checkout = spec.sparse_checkout.clone().filter(|l| !l.is_empty());
    status.observed_include = spec.include.clone().filter(|l| !l.is_empty());
}

/// The commit subject, cut at 50 characters with `...` as go-git's `ShortMessage` that Flux
/// puts in the `NewArtifact` event.
pub fn short_message(commit: &Commit) -> String {
    let subject = commit.message.lines().next().unwrap_or_default();
    if subject.chars().count() > 50 {
        format!("{}...", subject.chars().take(50).collect::<String>())
    } else {
        subject.to_owned()
    }
}

#[cfg(test)]
mod tests {
    use driftless_git::Signature;

    use super::*;

    fn commit(message: &str) -> Commit {
        Commit {
            id: "a".repeat(40),
            revision: format!("main@sha1:{}", "a".repeat(40)),
            message: message.to_owned(),
            author: Signature {
                name: "n".into(),
                email: "e".into(),
                time: 0,
            },
            signed: Default::default(),
        }
    }

    #[test]
    fn the_event_names_the_commit_subject_only() {
        assert_eq!(
            short_message(&commit("Add podinfo\n\nLong body")),
            "Add podinfo"
        );
    }

    #[test]
    fn long_subjects_are_cut_at_fifty_characters() {
        let long = "x".repeat(60);
        assert_eq!(
            short_message(&commit(&long)),
            format!("{}...", "x".repeat(50))
        );
    }
}
