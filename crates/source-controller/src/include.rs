//! `spec.include`: other GitRepositories' artifacts copied into this one before it is archived
//! (Flux's `fetchIncludes` and `reconcileInclude`). An include that does not exist or has no
//! artifact yet makes the object wait (`IncludeUnavailable`, requeued after
//! `--requeue-dependency`); the included artifacts are recorded in `status.includedArtifacts`.

use std::path::{Component, Path, PathBuf};

use driftless_api::conditions::types;
use driftless_api::meta::Artifact;
use driftless_api::source::{GitRepository, GitRepositoryInclude, GitRepositoryStatus};
use driftless_artifact::{ExtractLimits, Storage, extract_verified};
use driftless_runtime::draft::StatusDraft;
use kube::ResourceExt;
use kube::api::Api;
use kube::runtime::reflector::{ObjectRef, Store};

use crate::error::ReconcileError;
use crate::storage::from_api;

/// Flux's reason when an included GitRepository does not exist.
pub const NOT_FOUND: &str = "NotFound";
/// Flux's reason when an included GitRepository has no artifact yet.
pub const NO_ARTIFACT: &str = "NoArtifact";
/// Flux's reason when an included artifact could not be copied in.
pub const COPY_FAILED: &str = "CopyFailed";

fn includes(repo: &GitRepository) -> &[GitRepositoryInclude] {
    repo.spec.include.as_deref().unwrap_or_default()
}

/// The artifacts of every include, in `spec.include` order; waits while one is missing.
pub async fn fetch_includes(
    client: &kube::Client,
    repo: &GitRepository,
    draft: &mut StatusDraft,
) -> Result<Vec<Artifact>, ReconcileError> {
    if includes(repo).is_empty() {
        draft.delete(types::INCLUDE_UNAVAILABLE);
        return Ok(Vec::new());
    }
    let api: Api<GitRepository> =
        Api::namespaced(client.clone(), &repo.namespace().unwrap_or_default());
    let mut artifacts = Vec::new();
    for include in includes(repo) {
        let name = &include.repository.name;
        let waiting = |reason, message| ReconcileError::Include {
            reason,
            message,
            waiting: true,
        };
        let included = api.get(name).await.map_err(|e| {
            waiting(
                NOT_FOUND,
                format!("could not get resource for include '{name}': {e}"),
            )
        })?;
        let artifact = included.status.and_then(|s| s.artifact).ok_or_else(|| {
            waiting(
                NO_ARTIFACT,
                format!("no artifact available for include '{name}'"),
            )
        })?;
        artifacts.push(artifact);
    }
    draft.delete(types::INCLUDE_UNAVAILABLE);
    Ok(artifacts)
}

/// Whether the includes differ from those the current artifact was built with (Flux's part
/// of `gitContentConfigChanged`): another spec, or an included artifact that moved.
pub fn includes_changed(
    repo: &GitRepository,
    status: &GitRepositoryStatus,
    artifacts: &[Artifact],
) -> bool {
    let spec = includes(repo);
    let observed = status.observed_include.as_deref().unwrap_or_default();
    let recorded = status.included_artifacts.as_deref().unwrap_or_default();
    if spec.len() != observed.len() || spec.len() != recorded.len() || spec.len() != artifacts.len()
    {
        return true;
    }
    spec.iter()
        .zip(observed)
        .zip(recorded.iter().zip(artifacts))
        .any(|((want, seen), (old, new))| {
            want != seen || old.revision != new.revision || old.digest != new.digest
        })
}

/// A relative path inside the artifact: no root, no `..` (Flux joins them securely).
fn safe_relative(field: &str, path: &str) -> Result<PathBuf, ReconcileError> {
    let mut out = PathBuf::new();
    for component in Path::new(path).components() {
        match component {
            Component::Normal(part) => out.push(part),
            Component::CurDir | Component::RootDir => {}
            Component::ParentDir | Component::Prefix(_) => {
                return Err(ReconcileError::Include {
                    reason: COPY_FAILED,
                    message: format!("{field} '{path}' must not leave the artifact"),
                    waiting: false,
                });
            }
        }
    }
    Ok(out)
}

/// Copy each included artifact (its `fromPath`) to `toPath` under `dir` (blocking: extracts
/// the stored archives, verifying their digests).
pub fn copy_includes(
    storage: &Storage,
    repo: &GitRepository,
    artifacts: &[Artifact],
    dir: &Path,
) -> Result<(), ReconcileError> {
    for (include, artifact) in includes(repo).iter().zip(artifacts) {
        let name = &include.repository.name;
        let from = include.from_path.as_deref().unwrap_or_default();
        let to = include.to_path.as_deref().unwrap_or(name);
        let copy_failed = |detail: String| ReconcileError::Include {
            reason: COPY_FAILED,
            message: format!("failed to copy '{name}' include from '{from}' to '{to}': {detail}"),
            waiting: false,
        };
        let from_rel = safe_relative("fromPath", from)?;
        let to_rel = safe_relative("toPath", to)?;
        let archive = storage
            .local_path(&from_api(artifact))
            .map_err(|e| copy_failed(e.to_string()))?;
        let scratch = tempfile::Builder::new()
            .prefix("include-")
            .tempdir()
            .map_err(|e| copy_failed(e.to_string()))?;
        extract_verified(
            &archive,
            &artifact.digest,
            scratch.path(),
            &ExtractLimits::default(),
        )
        .map_err(|e| copy_failed(e.to_string()))?;
        let source = scratch.path().join(&from_rel);
        if !source.exists() {
            return Err(copy_failed(format!(
                "'{from}' does not exist in the artifact"
            )));
        }
        copy_tree(&source, &dir.join(&to_rel)).map_err(|e| copy_failed(e.to_string()))?;
    }
    Ok(())
}

/// Copy a file or a directory tree (extracted archives hold no symlinks).
fn copy_tree(source: &Path, dest: &Path) -> std::io::Result<()> {
    let meta = std::fs::symlink_metadata(source)?;
    if meta.is_dir() {
        std::fs::create_dir_all(dest)?;
        for entry in std::fs::read_dir(source)? {
            let entry = entry?;
            copy_tree(&entry.path(), &dest.join(entry.file_name()))?;
        }
    } else if meta.is_file() {
        if let Some(parent) = dest.parent() {
            std::fs::create_dir_all(parent)?;
        }
        std::fs::copy(source, dest)?;
    }
    Ok(())
}

/// The GitRepositories that include `included` and have not yet built with its current
/// artifact: a new artifact of an included repository requeues its includers.
pub fn includers_of(
    repos: &Store<GitRepository>,
    included: &GitRepository,
) -> Vec<ObjectRef<GitRepository>> {
    let Some(artifact) = included.status.as_ref().and_then(|s| s.artifact.as_ref()) else {
        return Vec::new();
    };
    let name = included.name_any();
    repos
        .state()
        .iter()
        .filter(|repo| repo.namespace() == included.namespace())
        .filter(|repo| {
            let recorded = repo
                .status
                .as_ref()
                .and_then(|s| s.included_artifacts.as_deref())
                .unwrap_or_default();
            includes(repo).iter().enumerate().any(|(i, include)| {
                include.repository.name == name
                    && recorded.get(i).is_none_or(|r| {
                        r.revision != artifact.revision || r.digest != artifact.digest
                    })
            })
        })
        .map(|repo| ObjectRef::from_obj(repo.as_ref()))
        .collect()
}

#[cfg(test)]
mod tests {
    use driftless_api::meta::LocalObjectReference;
    use driftless_api::source::GitRepositorySpec;
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;

    use super::*;

    fn artifact(revision: &str) -> Artifact {
        Artifact {
            digest: format!("sha256:{}", "0".repeat(64)),
            last_update_time: Time(jiff::Timestamp::UNIX_EPOCH),
            metadata: None,
            path: "gitrepository/ns/lib/a.tar.gz".into(),
            revision: revision.into(),
            size: None,
            url: String::new(),
        }
    }

    fn including(name: &str) -> GitRepository {
        GitRepository::new(
            "app",
            GitRepositorySpec {
                include: Some(vec![GitRepositoryInclude {
                    repository: LocalObjectReference { name: name.into() },
                    from_path: None,
                    to_path: None,
                }]),
                ..GitRepositorySpec::default()
            },
        )
    }

    #[test]
    fn a_moved_included_revision_forces_a_rebuild_and_an_equal_one_does_not() {
        let repo = including("lib");
        let status = GitRepositoryStatus {
            observed_include: repo.spec.include.clone(),
            included_artifacts: Some(vec![artifact("main@sha1:1")]),
            ..GitRepositoryStatus::default()
        };
        assert!(!includes_changed(
            &repo,
            &status,
            &[artifact("main@sha1:1")]
        ));
        assert!(includes_changed(&repo, &status, &[artifact("main@sha1:2")]));
        assert!(includes_changed(
            &including("other"),
            &status,
            &[artifact("main@sha1:1")]
        ));
        assert!(includes_changed(
            &repo,
            &GitRepositoryStatus::default(),
            &[artifact("main@sha1:1")]
        ));
    }

    #[test]
    fn include_paths_climbing_out_are_refused() {
        assert!(safe_relative("toPath", "../x").is_err());
        assert_eq!(
            safe_relative("toPath", "/a/./b").expect("ok"),
            PathBuf::from("a/b")
        );
    }

    #[test]
    fn a_directory_is_copied_with_its_nested_files() {
        let src = tempfile::tempdir().expect("src");
        std::fs::create_dir_all(src.path().join("a/b")).expect("dirs");
        std::fs::write(src.path().join("a/b/c.yaml"), "c").expect("file");
        let dest = tempfile::tempdir().expect("dest");
        copy_tree(&src.path().join("a"), &dest.path().join("lib")).expect("copy");
        assert_eq!(
            std::fs::read_to_string(dest.path().join("lib/b/c.yaml")).expect("read"),
            "c"
        );
    }
}
