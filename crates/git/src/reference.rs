//! `spec.ref` of a GitRepository: which field wins, and the revision string each yields.
//!
//! Precedence is Flux's: commit > name > semver > tag > branch, with `master` when no
//! field is set at all. A commit may be combined with a branch, which then scopes the
//! fetch and names the revision.

use crate::error::GitError;
use crate::semver::Constraint;

/// The fields of `spec.ref`, as written by the user.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Reference {
    pub branch: Option<String>,
    pub tag: Option<String>,
    pub semver: Option<String>,
    pub name: Option<String>,
    pub commit: Option<String>,
}

/// What to fetch, after precedence has been applied.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Strategy {
    Branch(String),
    Tag(String),
    SemVer(Constraint),
    /// A full ref name like `refs/heads/main` or `refs/pull/1/head`.
    RefName(String),
    /// A full commit id, optionally scoped to a branch that must contain it.
    Commit {
        commit: String,
        branch: Option<String>,
    },
}

/// Flux's default branch when `spec.ref` is empty.
pub const DEFAULT_BRANCH: &str = "master";

fn non_empty(field: &Option<String>) -> Option<&str> {
    field.as_deref().map(str::trim).filter(|s| !s.is_empty())
}

impl Reference {
    pub fn branch(name: &str) -> Reference {
        Reference {
            branch: Some(name.to_string()),
            ..Reference::default()
        }
    }

    /// Apply Flux's precedence and validate the winning field.
    pub fn strategy(&self) -> Result<Strategy, GitError> {
        if let Some(commit) = non_empty(&self.commit) {
            let is_hex = commit.chars().all(|c| c.is_ascii_hexdigit());
            if !is_hex || !(commit.len() == 40 || commit.len() == 64) {
                return Err(GitError::InvalidReference {
                    reason: format!("commit '{commit}' is not a full hexadecimal commit id"),
                });
            }
            return Ok(Strategy::Commit {
                commit: commit.to_ascii_lowercase(),
                branch: non_empty(&self.branch).map(str::to_string),
            });
        }
        if let Some(name) = non_empty(&self.name) {
            validate_ref_name(name)?;
            if !name.starts_with("refs/") {
                return Err(GitError::InvalidReference {
                    reason: format!("name '{name}' must be a full reference starting with 'refs/'"),
                });
            }
            return Ok(Strategy::RefName(name.to_string()));
        }
        if let Some(semver) = non_empty(&self.semver) {
            return Ok(Strategy::SemVer(Constraint::parse(semver)?));
        }
        if let Some(tag) = non_empty(&self.tag) {
            validate_ref_name(tag)?;
            return Ok(Strategy::Tag(tag.to_string()));
        }
        let branch = non_empty(&self.branch).unwrap_or(DEFAULT_BRANCH);
        validate_ref_name(branch)?;
        Ok(Strategy::Branch(branch.to_string()))
    }
}

/// The subset of `git check-ref-format` that keeps a name from being read as a refspec,
/// a revision expression or a path outside `refs/`.
fn validate_ref_name(name: &str) -> Result<(), GitError> {
    let bad = name.is_empty()
        || name.starts_with('/')
        || name.ends_with('/')
        || name.ends_with('.')
        || name.ends_with(".lock")
        || name.contains("..")
        || name.contains("//")
        || name.contains("@{")
        || name.split('/').any(|part| part.starts_with('.'))
        || name
            .chars()
            .any(|c| c.is_control() || " ~^:?*[\\".contains(c));
    if bad {
        return Err(GitError::InvalidReference {
            reason: format!("'{name}' is not a valid reference name"),
        });
    }
    Ok(())
}

/// The revision string Flux writes to `status.artifact.revision`.
///
/// `reference` is the short name for branches and tags (`main`, `v1.0.0`), the full name
/// for `spec.ref.name`, and `None` for a bare commit.
pub fn revision(reference: Option<&str>, commit_hex: &str) -> String {
    let algo = if commit_hex.len() == 64 {
        "sha256"
    } else {
        "sha1"
    };
    match reference {
        Some(reference) => format!("{reference}@{algo}:{commit_hex}"),
        None => format!("{algo}:{commit_hex}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SHA: &str = "363a6a8fe6a7f13e05d34c163b0ef02a777da20a";

    #[test]
    fn an_empty_ref_means_the_master_branch() {
        let strategy = Reference::default().strategy().expect("valid");
        assert_eq!(strategy, Strategy::Branch("master".into()));
    }

    #[test]
    fn commit_beats_name_beats_semver_beats_tag_beats_branch() {
        let mut r = Reference {
            branch: Some("main".into()),
            tag: Some("v1".into()),
            semver: Some(">=1.0.0".into()),
            name: Some("refs/heads/dev".into()),
            commit: Some(SHA.into()),
        };
        assert!(
            matches!(r.strategy(), Ok(Strategy::Commit { branch: Some(b), .. }) if b == "main")
        );
        r.commit = None;
        assert_eq!(
            r.strategy().ok(),
            Some(Strategy::RefName("refs/heads/dev".into()))
        );
        r.name = None;
        assert!(matches!(r.strategy(), Ok(Strategy::SemVer(_))));
        r.semver = None;
        assert_eq!(r.strategy().ok(), Some(Strategy::Tag("v1".into())));
        r.tag = None;
        assert_eq!(r.strategy().ok(), Some(Strategy::Branch("main".into())));
    }

    #[test]
    fn abbreviated_commits_and_refspec_like_names_are_rejected() {
        for r in [
            Reference {
                commit: Some("363a6a8".into()),
                ..Default::default()
            },
            Reference {
                name: Some("main".into()),
                ..Default::default()
            },
            Reference::branch("+refs/heads/*:refs/x/*"),
            Reference::branch("../../etc"),
        ] {
            assert!(r.strategy().is_err(), "{r:?}");
        }
    }

    #[test]
    fn revisions_are_spelled_as_flux_spells_them() {
        assert_eq!(revision(Some("main"), SHA), format!("main@sha1:{SHA}"));
        assert_eq!(
            revision(Some("refs/pull/1/head"), SHA),
            format!("refs/pull/1/head@sha1:{SHA}")
        );
        assert_eq!(revision(None, SHA), format!("sha1:{SHA}"));
    }
}
