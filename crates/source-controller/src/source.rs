//! Flux's `reconcileSource` for a GitRepository: refuse spec features driftless does not
//! implement yet (clearly, as Stalled, rather than producing an artifact that ignores them),
//! read the credentials, check out `spec.ref` (skipping the download when the remote tip
//! still equals the stored artifact's revision) and verify its signatures (`spec.verify`).

use std::time::Duration;

use driftless_api::conditions::{reasons, types};
use driftless_api::meta::Artifact;
use driftless_api::source::{GitProvider, GitRepository, GitRepositoryStatus};
use driftless_git::{CheckoutOptions, Commit, Outcome, Reference};
use driftless_runtime::draft::StatusDraft;
use driftless_runtime::flags::GoDuration;

use crate::credentials;
use crate::error::ReconcileError;
use crate::{include, verify};

/// Flux's default `spec.timeout`.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(60);

/// What the source step produced.
#[derive(Debug)]
pub enum Fetched {
    /// The remote tip is the stored artifact's revision; nothing was downloaded.
    Unchanged {
        /// That revision.
        revision: String,
    },
    /// The tree of `commit` is in `dir`.
    CheckedOut {
        /// The checked-out commit.
        commit: Commit,
        /// Temporary directory holding the tree; removed when dropped.
        dir: tempfile::TempDir,
    },
}

impl Fetched {
    /// The revision, e.g. `main@sha1:<hex>`.
    pub fn revision(&self) -> &str {
        match self {
            Fetched::Unchanged { revision } => revision,
            Fetched::CheckedOut { commit, .. } => &commit.revision,
        }
    }
}

/// Whether the spec fields that shape the artifact differ from those that built the current one
/// (Flux's `gitContentConfigChanged`): then the artifact is rebuilt even for the same commit.
/// `includes` are the included artifacts as they are now.
pub fn content_config_changed(
    repo: &GitRepository,
    status: &GitRepositoryStatus,
    includes: &[Artifact],
) -> bool {
    let spec = &repo.spec;
    spec.ignore != status.observed_ignore
        || spec.recurse_submodules.unwrap_or(false)
            != status.observed_recurse_submodules.unwrap_or(false)
        || non_empty(spec.sparse_checkout.as_deref())
            != non_empty(status.observed_sparse_checkout.as_deref())
        || include::includes_changed(repo, status, includes)
}

fn non_empty<T>(list: Option<&[T]>) -> Option<&[T]> {
    list.filter(|l| !l.is_empty())
}

/// Spec features that cannot be honoured yet. Each stalls with a message naming the field, so a
/// user sees why instead of getting an artifact that silently ignores the field.
pub fn check_supported(repo: &GitRepository) -> Result<(), ReconcileError> {
    let spec = &repo.spec;
    let unsupported = |feature, detail, reason| {
        Err(ReconcileError::Unsupported {
            feature,
            detail,
            reason,
        })
    };
    if !matches!(spec.provider, None | Some(GitProvider::Generic)) {
        return unsupported(
            "spec.provider",
            "only the generic provider (credentials from spec.secretRef) is implemented",
            reasons::AUTHENTICATION_FAILED,
        );
    }
    Ok(())
}

/// `spec.timeout`, Flux's 60s when unset.
pub fn timeout(repo: &GitRepository) -> Result<Duration, ReconcileError> {
    match repo.spec.timeout.as_deref() {
        None => Ok(DEFAULT_TIMEOUT),
        Some(value) => value
            .parse::<GoDuration>()
            .map(GoDuration::get)
            .map_err(|e| ReconcileError::InvalidDuration {
                field: "spec.timeout",
                value: value.to_owned(),
                problem: e.to_string(),
            }),
    }
}

/// Flux's `reconcileSource`. `artifact_revision` is the revision of an artifact that is in
/// storage; passing it lets the checkout stop at the advertised tip when nothing changed,
/// unless `rebuild` (the content configuration changed or the commit still needs verifying).
/// A checked-out commit is verified as `spec.verify` asks before anything is archived.
pub async fn reconcile_source(
    client: &kube::Client,
    repo: &GitRepository,
    status: &mut GitRepositoryStatus,
    draft: &mut StatusDraft,
    artifact_revision: Option<&str>,
    rebuild: bool,
) -> Result<Fetched, ReconcileError> {
    if repo.spec.verify.is_none() {
        // Flux clears verification state when verification is not configured.
        draft.delete(types::SOURCE_VERIFIED);
        status.source_verification_mode = None;
    }
    check_supported(repo)?;
    let auth = credentials::auth_for(client, repo).await?;
    let reference = repo
        .spec
        .reference
        .as_ref()
        .map(|r| Reference {
            branch: r.branch.clone(),
            tag: r.tag.clone(),
            semver: r.semver.clone(),
            name: r.name.clone(),
            commit: r.commit.clone(),
        })
        .unwrap_or_default();
    let last_observed_revision = artifact_revision.filter(|_| !rebuild).map(str::to_owned);
    let options = CheckoutOptions {
        reference,
        auth,
        timeout: timeout(repo)?,
        last_observed_revision,
        recurse_submodules: repo.spec.recurse_submodules.unwrap_or(false),
        sparse_checkout: repo.spec.sparse_checkout.clone().unwrap_or_default(),
        ..CheckoutOptions::default()
    };
    let url = repo.spec.url.clone();
    let fetched = tokio::task::spawn_blocking(move || {
        let dir = tempfile::Builder::new()
            .prefix("gitrepository-")
            .tempdir()
            .map_err(|source| driftless_git::GitError::Io {
                operation: "creating checkout directory",
                path: std::env::temp_dir(),
                source,
            })?;
        match driftless_git::checkout(&url, dir.path(), &options)? {
            Outcome::Unchanged { revision } => Ok(Fetched::Unchanged { revision }),
            Outcome::CheckedOut { commit, .. } => Ok(Fetched::CheckedOut { commit, dir }),
        }
    })
    .await
    .map_err(|e| ReconcileError::Task {
        operation: "git checkout",
        detail: e.to_string(),
    })?
    .map_err(|source| ReconcileError::Checkout { source })?;

    draft.delete(types::FETCH_FAILED);
    if let Fetched::CheckedOut { commit, .. } = &fetched {
        verify::verify_signature(client, repo, commit, status, draft).await?;
    }
    let revision = fetched.revision();
    if artifact_revision != Some(revision) {
        let message = format!("new upstream revision '{revision}'");
        draft.mark_true(types::ARTIFACT_OUTDATED, reasons::NEW_REVISION, &message);
        draft.progressing(format!("building artifact: {message}"));
    }
    Ok(fetched)
}

#[cfg(test)]
mod tests {
    use driftless_api::source::GitRepositorySpec;

    use super::*;

    fn repo(spec: GitRepositorySpec) -> GitRepository {
        GitRepository::new("podinfo", spec)
    }

    #[test]
    fn a_changed_ignore_forces_a_rebuild_of_the_same_commit() {
        let mut spec = GitRepositorySpec::default();
        let status = GitRepositoryStatus::default();
        assert!(!content_config_changed(&repo(spec.clone()), &status, &[]));
        spec.ignore = Some("/docs".into());
        assert!(content_config_changed(&repo(spec.clone()), &status, &[]));
        let status = GitRepositoryStatus {
            observed_ignore: Some("/docs".into()),
            ..GitRepositoryStatus::default()
        };
        assert!(!content_config_changed(&repo(spec), &status, &[]));
    }

    #[test]
    fn an_empty_sparse_checkout_list_is_the_same_as_none() {
        let spec = GitRepositorySpec {
            sparse_checkout: Some(Vec::new()),
            ..GitRepositorySpec::default()
        };
        assert!(!content_config_changed(
            &repo(spec.clone()),
            &GitRepositoryStatus::default(),
            &[]
        ));
        assert!(check_supported(&repo(spec)).is_ok());
    }

    #[test]
    fn the_timeout_defaults_to_a_minute_and_reads_go_durations() {
        let mut spec = GitRepositorySpec::default();
        assert_eq!(
            timeout(&repo(spec.clone())).expect("default"),
            DEFAULT_TIMEOUT
        );
        spec.timeout = Some("1m30s".into());
        assert_eq!(
            timeout(&repo(spec)).expect("parses"),
            Duration::from_secs(90)
        );
    }
}
