//! A writable clone: one branch fetched into a scratch repository, its tree written to a
//! directory, and new commits built on top of it from file changes.
//!
//! The clone keeps the fetched objects alive so that [`crate::push`] can send only what the
//! remote lacks. Commits are written with gix's tree editor: only the trees on the paths of
//! changed files are rewritten, everything else keeps its id.

use std::path::Path;
use std::time::Duration;

use gix::objs::tree::EntryKind;

use crate::checkout::{Commit, DEFAULT_TIMEOUT, Signature, prepare_dest};
use crate::error::GitError;
use crate::reference::revision;
use crate::remote::Session;
use crate::transport::Auth;
use crate::tree::{Limits, Written, write_tree};
use crate::url::RepoUrl;

/// How to clone a branch for writing.
#[derive(Clone, Debug)]
pub struct CloneOptions {
    pub auth: Auth,
    /// Bounds the clone (the push has its own budget).
    pub timeout: Duration,
    pub limits: Limits,
    /// Depth 1, Flux's default (`GitShallowClone` feature gate).
    pub shallow: bool,
}

impl Default for CloneOptions {
    fn default() -> Self {
        CloneOptions {
            auth: Auth::default(),
            timeout: DEFAULT_TIMEOUT,
            limits: Limits::default(),
            shallow: true,
        }
    }
}

/// One change to the worktree of a commit.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum FileChange {
    /// Create or overwrite `path` (slash-separated, relative to the repository root). An
    /// existing file keeps its mode (executable or not).
    Write { path: String, contents: Vec<u8> },
    /// Remove `path`; removing a missing file is not an error.
    Delete { path: String },
}

/// Author, committer and message of a new commit.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CommitMessage {
    pub author: Signature,
    pub committer: Signature,
    pub message: String,
}

/// A branch fetched for writing, with its tree checked out into a directory.
pub struct Clone {
    pub(crate) session: Session,
    pub(crate) auth: Auth,
    /// The branch that was cloned (short name, e.g. `main`).
    pub branch: String,
    /// The tip the clone started from.
    pub head: Commit,
    /// What was written into the destination directory.
    pub written: Written,
    pub(crate) base: gix::ObjectId,
    /// The newest commit made on this clone; starts at `base`.
    pub(crate) tip: gix::ObjectId,
}

impl std::fmt::Debug for Clone {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Clone")
            .field("url", &self.session.url.sanitized)
            .field("branch", &self.branch)
            .field("head", &self.head.id)
            .field("tip", &self.tip)
            .finish()
    }
}

/// Fetch `branch` of `url` and write its tree into `dest` (created if missing, must be
/// empty), keeping the objects for new commits and a push.
pub fn clone_branch(
    url: &str,
    branch: &str,
    dest: &Path,
    options: &CloneOptions,
) -> Result<Clone, GitError> {
    let url = RepoUrl::parse(url)?;
    if branch.is_empty() || gix::validate::reference::name_partial(branch.into()).is_err() {
        return Err(GitError::InvalidReference {
            reason: format!("'{branch}' is not a valid branch name"),
        });
    }
    let session = Session::open(url, &options.auth, options.timeout)?;
    let full = format!("refs/heads/{branch}");
    let mut tip = None;
    session.fetch(&[format!("+{full}:{full}")], options.shallow, |refs| {
        let found = refs
            .iter()
            .find(|r| r.name == full)
            .ok_or_else(|| GitError::RefNotFound {
                url: session.url.sanitized.clone(),
                what: format!("branch '{branch}'"),
            })?;
        tip = Some(found.commit().to_string());
        Ok(true)
    })?;
    let tip = tip.ok_or_else(|| GitError::object("remote listing produced no tip"))?;
    let id = gix::ObjectId::from_hex(tip.as_bytes()).map_err(GitError::object)?;
    let head = describe(&session.repo, id, branch)?;
    let tree = session
        .repo
        .find_commit(id)
        .and_then(|c| c.tree_id())
        .map_err(GitError::object)?
        .detach();
    prepare_dest(dest)?;
    let written = write_tree(&session.repo, tree, dest, options.limits)?;
    Ok(Clone {
        session,
        auth: options.auth.clone(),
        branch: branch.to_string(),
        head,
        written,
        base: id,
        tip: id,
    })
}

impl Clone {
    /// The URL without credentials.
    pub fn url(&self) -> &str {
        &self.session.url.sanitized
    }

    /// Full id of the newest commit on this clone (the fetched tip until [`Clone::commit`]).
    pub fn tip(&self) -> String {
        self.tip.to_hex().to_string()
    }

    /// Commit `changes` on top of the current tip. Returns `None` and makes no commit when
    /// the resulting tree equals the tip's (nothing changed).
    pub fn commit(
        &mut self,
        changes: &[FileChange],
        message: &CommitMessage,
    ) -> Result<Option<Commit>, GitError> {
        self.commit_signed(changes, message, None)
    }

    /// [`Clone::commit`], signing the commit with `signer` (a `gpgsig` header) when given.
    pub fn commit_signed(
        &mut self,
        changes: &[FileChange],
        message: &CommitMessage,
        signer: Option<&crate::sign::SigningKey>,
    ) -> Result<Option<Commit>, GitError> {
        let repo = &self.session.repo;
        let parent = repo.find_commit(self.tip).map_err(GitError::object)?;
        let old_tree = parent.tree_id().map_err(GitError::object)?.detach();
        let mut editor = repo.edit_tree(old_tree).map_err(GitError::object)?;
        for change in changes {
            match change {
                FileChange::Write { path, contents } => {
                    check_path(path)?;
                    let kind = match editor.get(path.as_str()).map(|e| e.mode().kind()) {
                        Some(EntryKind::BlobExecutable) => EntryKind::BlobExecutable,
                        _ => EntryKind::Blob,
                    };
                    let blob = repo.write_blob(contents).map_err(GitError::object)?;
                    editor
                        .upsert(path.as_str(), kind, blob.detach())
                        .map_err(GitError::object)?;
                }
                FileChange::Delete { path } => {
                    check_path(path)?;
                    editor.remove(path.as_str()).map_err(GitError::object)?;
                }
            }
        }
        let new_tree = editor.write().map_err(GitError::object)?.detach();
        if new_tree == old_tree {
            return Ok(None);
        }
        let mut commit = gix::objs::Commit {
            tree: new_tree,
            parents: std::iter::once(self.tip).collect(),
            author: actor(&message.author),
            committer: actor(&message.committer),
            encoding: None,
            message: message.message.clone().into(),
            extra_headers: Vec::new(),
        };
        if let Some(signer) = signer {
            let mut unsigned = Vec::new();
            gix::objs::WriteTo::write_to(&commit, &mut unsigned).map_err(GitError::object)?;
            let signature = signer
                .detached(&unsigned, message.committer.time)
                .map_err(GitError::object)?;
            commit
                .extra_headers
                .push(("gpgsig".into(), signature.trim_end().into()));
        }
        let id = repo
            .write_object(&commit)
            .map_err(GitError::object)?
            .detach();
        self.tip = id;
        describe(repo, id, &self.branch).map(Some)
    }
}

fn actor(signature: &Signature) -> gix::actor::Signature {
    gix::actor::Signature {
        name: signature.name.clone().into(),
        email: signature.email.clone().into(),
        time: gix::date::Time {
            seconds: signature.time,
            offset: 0,
        },
    }
}

fn describe(repo: &gix::Repository, id: gix::ObjectId, branch: &str) -> Result<Commit, GitError> {
    let commit = repo.find_commit(id).map_err(GitError::object)?;
    let author = commit.author().map_err(GitError::object)?;
    let hex = id.to_hex().to_string();
    Ok(Commit {
        revision: revision(Some(branch), &hex),
        id: hex,
        message: commit.message_raw_sloppy().to_string(),
        author: Signature {
            name: author.name.to_string(),
            email: author.email.to_string(),
            time: author.time().map(|t| t.seconds).unwrap_or_default(),
        },
        signed: crate::verify::SignedObjects::default(),
    })
}

/// A path a commit may touch: relative, no empty, `.` or `..` components, never `.git`.
fn check_path(path: &str) -> Result<(), GitError> {
    let unsafe_path = |reason: &'static str| GitError::UnsafePath {
        path: path.to_string(),
        reason,
    };
    if path.is_empty() || path.starts_with('/') {
        return Err(unsafe_path("must be a relative path"));
    }
    for component in path.split('/') {
        match component {
            "" | "." | ".." => return Err(unsafe_path("empty, '.' or '..' component")),
            c if c.eq_ignore_ascii_case(".git") => {
                return Err(unsafe_path("'.git' cannot be committed"));
            }
            _ => {}
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::check_path;

    #[test]
    fn paths_that_escape_or_touch_git_metadata_are_refused() {
        for bad in [
            "",
            "/etc/passwd",
            "a/../b",
            "./a",
            "a//b",
            ".git/config",
            "x/.GIT",
        ] {
            assert!(check_path(bad).is_err(), "{bad}");
        }
        assert!(check_path("apps/podinfo/deploy.yaml").is_ok());
    }
}
