//! Checkout of a GitRepository reference into a directory, as source-controller does it.
//!
//! Branches, tags, semver-selected tags and ref names are fetched shallow (depth 1);
//! a pinned commit needs history, so its branch (or every branch) is fetched in full.
//! Before any pack is downloaded the advertised tip is compared with the last observed
//! revision, Flux's shortcut for "nothing changed". Submodules are filled in afterwards
//! when asked ([`crate::submodule`]).

use std::path::Path;
use std::time::Duration;

use crate::error::GitError;
use crate::reference::{Reference, Strategy, revision};
use crate::remote::{RemoteRef, Session};
use crate::semver::{Constraint, parse_version};
use crate::transport::Auth;
use crate::tree::{Limits, Written, write_checkout};
use crate::url::RepoUrl;

/// Flux's default `spec.timeout`.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(60);

/// Everything a checkout needs besides the URL and the destination.
#[derive(Clone, Debug)]
pub struct CheckoutOptions {
    pub reference: Reference,
    pub auth: Auth,
    /// Bounds the whole operation (`spec.timeout`).
    pub timeout: Duration,
    pub limits: Limits,
    /// `status.artifact.revision` of the last artifact; when the remote still points there,
    /// the checkout is skipped.
    pub last_observed_revision: Option<String>,
    /// `spec.recurseSubmodules`: fill submodule directories (recursively) with the commits
    /// the tree records; otherwise they stay empty directories.
    pub recurse_submodules: bool,
    /// `spec.sparseCheckout`: only these directories are written (all when empty).
    pub sparse_checkout: Vec<String>,
}

impl Default for CheckoutOptions {
    fn default() -> Self {
        CheckoutOptions {
            reference: Reference::default(),
            auth: Auth::default(),
            timeout: DEFAULT_TIMEOUT,
            limits: Limits::default(),
            last_observed_revision: None,
            recurse_submodules: false,
            sparse_checkout: Vec::new(),
        }
    }
}

/// Author or committer of a commit.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Signature {
    pub name: String,
    pub email: String,
    /// Seconds since the Unix epoch.
    pub time: i64,
}

/// The checked-out commit.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Commit {
    /// Full hexadecimal commit id.
    pub id: String,
    /// Flux's revision string, e.g. `main@sha1:<id>`.
    pub revision: String,
    pub message: String,
    pub author: Signature,
    /// The raw commit (and tag) objects, for `spec.verify`; empty for commits made here.
    pub signed: crate::verify::SignedObjects,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// The remote still points at `last_observed_revision`; nothing was downloaded.
    Unchanged { revision: String },
    /// The tree of `commit` is now in the destination directory.
    CheckedOut { commit: Commit, written: Written },
}

/// Resolve `options.reference` on `url` and write its tree into `dest` (created if missing,
/// must be empty). The destination gets worktree files only, never a `.git`.
pub fn checkout(url: &str, dest: &Path, options: &CheckoutOptions) -> Result<Outcome, GitError> {
    let url = RepoUrl::parse(url)?;
    let strategy = options.reference.strategy()?;
    let session = Session::open(url, &options.auth, options.timeout)?;
    // The tag a checkout goes through, kept so its signature can be verified.
    let mut tag_ref = None;
    let resolved = match strategy {
        Strategy::Branch(branch) => fetch_ref(
            &session,
            options,
            &format!("refs/heads/{branch}"),
            Some(&branch),
            "branch",
        )?,
        Strategy::Tag(tag) => {
            tag_ref = Some(format!("refs/tags/{tag}"));
            fetch_ref(
                &session,
                options,
                &format!("refs/tags/{tag}"),
                Some(&tag),
                "tag",
            )?
        }
        Strategy::RefName(name) => {
            tag_ref = name.starts_with("refs/tags/").then(|| name.clone());
            fetch_ref(&session, options, &name, Some(&name), "reference")?
        }
        Strategy::SemVer(constraint) => {
            let tags = session.list(&["+refs/tags/*:refs/tags/*".to_string()], true)?;
            let tag = highest_match(&tags, &constraint).ok_or_else(|| GitError::NoSemverMatch {
                url: session.url.sanitized.clone(),
                constraint: constraint.as_str().to_string(),
            })?;
            tag_ref = Some(format!("refs/tags/{tag}"));
            fetch_ref(
                &session,
                options,
                &format!("refs/tags/{tag}"),
                Some(&tag),
                "tag",
            )?
        }
        Strategy::Commit { commit, branch } => fetch_commit(&session, &commit, branch.as_deref())?,
    };
    let (id, revision) = match resolved {
        Resolved::Unchanged(revision) => return Ok(Outcome::Unchanged { revision }),
        Resolved::Fetched { id, revision } => (id, revision),
    };
    let repo = &session.repo;
    let commit = repo.find_commit(id).map_err(GitError::object)?;
    let tree = commit.tree_id().map_err(GitError::object)?.detach();
    let author = commit.author().map_err(GitError::object)?;
    let info = Commit {
        id: id.to_hex().to_string(),
        revision,
        message: commit.message_raw_sloppy().to_string(),
        author: Signature {
            name: author.name.to_string(),
            email: author.email.to_string(),
            time: author.time().map(|t| t.seconds).unwrap_or_default(),
        },
        signed: crate::verify::SignedObjects {
            commit: commit.data.clone(),
            tag: tag_ref
                .map(|name| crate::verify::read_tag(repo, &name).map(Box::new))
                .transpose()?,
        },
    };
    prepare_dest(dest)?;
    let mut written = write_checkout(repo, tree, dest, &options.sparse_checkout, options.limits)?;
    if options.recurse_submodules {
        crate::submodule::update(
            &session,
            tree,
            dest,
            &options.sparse_checkout,
            options.limits,
            &mut written,
        )?;
    }
    Ok(Outcome::CheckedOut {
        commit: info,
        written,
    })
}

enum Resolved {
    Unchanged(String),
    Fetched { id: gix::ObjectId, revision: String },
}

/// Shallow-fetch one ref, unless it still points at the last observed revision.
fn fetch_ref(
    session: &Session,
    options: &CheckoutOptions,
    full_name: &str,
    display: Option<&str>,
    what: &str,
) -> Result<Resolved, GitError> {
    let spec = format!("+{full_name}:{full_name}");
    let mut tip: Option<(String, String)> = None;
    let fetched = session.fetch(&[spec], true, |refs| {
        let found =
            refs.iter()
                .find(|r| r.name == full_name)
                .ok_or_else(|| GitError::RefNotFound {
                    url: session.url.sanitized.clone(),
                    what: format!("{what} '{}'", display.unwrap_or(full_name)),
                })?;
        let id = found.commit().to_string();
        let rev = revision(display, &id);
        let changed = options.last_observed_revision.as_deref() != Some(rev.as_str());
        tip = Some((id, rev));
        Ok(changed)
    })?;
    let Some((id, revision)) = tip else {
        return Err(GitError::Object {
            detail: "remote listing produced no tip".into(),
        });
    };
    if !fetched {
        return Ok(Resolved::Unchanged(revision));
    }
    let id = gix::ObjectId::from_hex(id.as_bytes()).map_err(GitError::object)?;
    Ok(Resolved::Fetched { id, revision })
}

/// Fetch the history that must contain `commit`: its branch, or every branch.
fn fetch_commit(
    session: &Session,
    commit: &str,
    branch: Option<&str>,
) -> Result<Resolved, GitError> {
    let spec = match branch {
        Some(b) => format!("+refs/heads/{b}:refs/heads/{b}"),
        None => "+refs/heads/*:refs/heads/*".to_string(),
    };
    session.fetch(&[spec], false, |refs| match branch {
        Some(b) if !refs.iter().any(|r| r.name == format!("refs/heads/{b}")) => {
            Err(GitError::RefNotFound {
                url: session.url.sanitized.clone(),
                what: format!("branch '{b}'"),
            })
        }
        _ => Ok(true),
    })?;
    let not_found = || GitError::CommitNotFound {
        url: session.url.sanitized.clone(),
        commit: commit.to_string(),
        scope: branch
            .map(|b| format!(" on branch '{b}'"))
            .unwrap_or_default(),
    };
    let id = gix::ObjectId::from_hex(commit.as_bytes()).map_err(|_| not_found())?;
    if session.repo.find_commit(id).is_err() {
        return Err(not_found());
    }
    Ok(Resolved::Fetched {
        id,
        revision: revision(branch, commit),
    })
}

/// The tag with the highest version satisfying `constraint`; ties go to the name sorting last.
fn highest_match(tags: &[RemoteRef], constraint: &Constraint) -> Option<String> {
    tags.iter()
        .filter_map(|r| r.name.strip_prefix("refs/tags/"))
        .filter_map(|name| parse_version(name).map(|v| (v, name)))
        .filter(|(v, _)| constraint.matches(v))
        .max_by(|(a, an), (b, bn)| a.cmp_precedence(b).then_with(|| an.cmp(bn)))
        .map(|(_, name)| name.to_string())
}

pub(crate) fn prepare_dest(dest: &Path) -> Result<(), GitError> {
    std::fs::create_dir_all(dest).map_err(GitError::io("creating checkout directory", dest))?;
    let mut entries =
        std::fs::read_dir(dest).map_err(GitError::io("reading checkout directory", dest))?;
    if entries.next().is_some() {
        return Err(GitError::Io {
            operation: "checking out into",
            path: dest.to_path_buf(),
            source: std::io::Error::new(
                std::io::ErrorKind::AlreadyExists,
                "directory is not empty",
            ),
        });
    }
    Ok(())
}
