//! `spec.recurseSubmodules`: after the parent's tree is written, fill each submodule
//! directory as `git submodule update --init --recursive` would, with no `.git` anywhere.
//!
//! For every gitlink of the written tree, `.gitmodules` at the same commit gives the URL
//! (relative ones resolved against the parent's URL, as git resolves them); the submodule is
//! fetched with the parent's proxy, CA and deadline, at exactly the commit the gitlink
//! records, and its tree written into the gitlink's directory, then its own submodules.
//! gix has no submodule update, so this uses the checkout's own fetch code.
//!
//! Deliberate limits: only http(s):// and ssh:// URLs; HTTP credentials are only sent to
//! the parent's host (a `.gitmodules` is repository content and must not be able to send the
//! token elsewhere; Flux sends them everywhere); nesting stops at [`MAX_DEPTH`].

use std::path::Path;

use gix::ObjectId;
use gix::objs::tree::EntryKind;

use crate::error::GitError;
use crate::remote::Session;
use crate::transport::Auth;
use crate::tree::{Limits, Written, write_tree};
use crate::url::{RepoUrl, Scheme};

/// Submodules inside submodules deeper than this are refused (cycles end here too).
pub(crate) const MAX_DEPTH: usize = 8;

/// One `[submodule "<name>"]` section.
#[derive(Debug, PartialEq, Eq)]
struct Module {
    name: String,
    path: String,
    url: String,
    /// `update = none`: git leaves it alone.
    skip: bool,
}

/// Fill the submodules of `tree` (already written into `dest`); `written` accumulates and
/// bounds the bytes of everything written so far.
pub(crate) fn update(
    session: &Session,
    tree: ObjectId,
    dest: &Path,
    sparse: &[String],
    limits: Limits,
    written: &mut Written,
) -> Result<(), GitError> {
    update_level(session, tree, dest, sparse, limits, written, 0)
}

fn update_level(
    parent: &Session,
    tree: ObjectId,
    dest: &Path,
    sparse: &[String],
    limits: Limits,
    written: &mut Written,
    depth: usize,
) -> Result<(), GitError> {
    let links = gitlinks(&parent.repo, tree, sparse, limits.max_depth)?;
    if links.is_empty() {
        return Ok(());
    }
    let modules = read_gitmodules(&parent.repo, tree)?;
    for (path, commit) in links {
        let Some(module) = modules.iter().find(|m| m.path == path) else {
            // A gitlink `.gitmodules` does not describe has no URL: it stays empty.
            tracing::debug!(%path, "gitlink without a .gitmodules entry left empty");
            continue;
        };
        if module.skip {
            continue;
        }
        let wrap = |source: GitError| GitError::Submodule {
            path: path.clone(),
            source: Box::new(source),
        };
        if depth >= MAX_DEPTH {
            return Err(GitError::InvalidSubmodule {
                name: module.name.clone(),
                reason: format!("submodules nest deeper than {MAX_DEPTH} levels"),
            });
        }
        let url = resolve_url(&parent.url, &module.url).map_err(wrap)?;
        let auth = auth_for(&parent.url, parent.auth(), &url);
        let session =
            Session::open_until(url, &auth, parent.timeout(), parent.deadline()).map_err(wrap)?;
        fetch_pinned(&session, commit).map_err(wrap)?;
        let sub_tree = session
            .repo
            .find_commit(commit)
            .and_then(|c| c.tree_id().map(gix::Id::detach))
            .map_err(|e| wrap(GitError::object(e)))?;
        let target = dest.join(&path);
        let remaining = Limits {
            max_checkout_bytes: limits.max_checkout_bytes.saturating_sub(written.bytes),
            ..limits
        };
        let more = write_tree(&session.repo, sub_tree, &target, remaining).map_err(wrap)?;
        written.files += more.files;
        written.bytes += more.bytes;
        update_level(&session, sub_tree, &target, &[], limits, written, depth + 1).map_err(wrap)?;
    }
    Ok(())
}

/// Fetch exactly `commit`; a server that refuses unadvertised objects gets a second
/// request for its branches and tags, which must then contain the commit.
fn fetch_pinned(session: &Session, commit: ObjectId) -> Result<(), GitError> {
    let hex = commit.to_hex().to_string();
    match session.fetch(std::slice::from_ref(&hex), true, |_| Ok(true)) {
        Ok(_) if session.repo.find_commit(commit).is_ok() => return Ok(()),
        Ok(_) => {}
        Err(err @ (GitError::Timeout { .. } | GitError::Authentication { .. })) => {
            return Err(err);
        }
        Err(err) => tracing::debug!(error = %err, "fetching the pinned commit failed"),
    }
    let everything = [
        "+refs/heads/*:refs/heads/*".to_string(),
        "+refs/tags/*:refs/tags/*".to_string(),
    ];
    session.fetch(&everything, false, |_| Ok(true))?;
    if session.repo.find_commit(commit).is_err() {
        return Err(GitError::CommitNotFound {
            url: session.url.sanitized.clone(),
            commit: hex,
            scope: " (the commit the parent records for this submodule)".into(),
        });
    }
    Ok(())
}

/// Gitlinks of `tree` as (path, commit), limited to the sparse directories when given.
fn gitlinks(
    repo: &gix::Repository,
    tree: ObjectId,
    sparse: &[String],
    max_depth: usize,
) -> Result<Vec<(String, ObjectId)>, GitError> {
    let wanted: Vec<String> = sparse
        .iter()
        .map(|d| d.trim_start_matches("./").trim_matches('/').to_string())
        .collect();
    let inside = |path: &str| {
        wanted.is_empty()
            || wanted
                .iter()
                .any(|d| d.is_empty() || path == d || path.starts_with(&format!("{d}/")))
    };
    let mut found = Vec::new();
    let mut stack = vec![(tree, String::new(), 0usize)];
    while let Some((id, prefix, depth)) = stack.pop() {
        if depth > max_depth {
            continue;
        }
        let tree = repo.find_tree(id).map_err(GitError::object)?;
        for entry in tree.iter() {
            let entry = entry.map_err(GitError::object)?;
            let path = format!("{prefix}{}", entry.filename());
            match entry.mode().kind() {
                EntryKind::Tree => stack.push((entry.object_id(), format!("{path}/"), depth + 1)),
                EntryKind::Commit if inside(&path) => found.push((path, entry.object_id())),
                _ => {}
            }
        }
    }
    found.sort();
    Ok(found)
}

/// The `.gitmodules` of `tree`, every entry checked.
fn read_gitmodules(repo: &gix::Repository, tree: ObjectId) -> Result<Vec<Module>, GitError> {
    let tree = repo.find_tree(tree).map_err(GitError::object)?;
    let Some(entry) = tree.find_entry(".gitmodules") else {
        return Ok(Vec::new());
    };
    let blob = repo
        .find_blob(entry.object_id())
        .map_err(GitError::object)?;
    parse_gitmodules(&blob.data)
}

fn parse_gitmodules(data: &[u8]) -> Result<Vec<Module>, GitError> {
    let file = gix::config::File::from_bytes_no_includes(
        data,
        gix::config::file::Metadata::api(),
        Default::default(),
    )
    .map_err(|e| GitError::InvalidSubmodule {
        name: ".gitmodules".into(),
        reason: e.to_string(),
    })?;
    let Some(sections) = file.sections_by_name("submodule") else {
        return Ok(Vec::new());
    };
    let mut modules = Vec::new();
    for section in sections {
        let Some(name) = section.header().subsection_name() else {
            continue;
        };
        let name = name.to_string();
        let invalid = |reason: &str| GitError::InvalidSubmodule {
            name: name.clone(),
            reason: reason.to_string(),
        };
        let value = |key: &str| section.value(key).map(|v| v.to_string());
        let path = value("path").ok_or_else(|| invalid("it has no 'path'"))?;
        let path = check_path(&path).map_err(&invalid)?;
        let url = value("url")
            .filter(|u| !u.trim().is_empty())
            .ok_or_else(|| invalid("it has no 'url'"))?;
        let skip = value("update").is_some_and(|u| u.trim() == "none");
        modules.push(Module {
            name,
            path,
            url: url.trim().to_string(),
            skip,
        });
    }
    Ok(modules)
}

/// A submodule path must stay inside the worktree and out of any `.git`.
fn check_path(path: &str) -> Result<String, &'static str> {
    let trimmed = path.trim_end_matches('/');
    if trimmed.is_empty() {
        return Err("its path is empty");
    }
    if trimmed.starts_with('/') || trimmed.contains('\\') {
        return Err("its path must be relative, with '/' separators");
    }
    for component in trimmed.split('/') {
        match component {
            "" | "." | ".." => return Err("its path leaves the worktree or is not normalised"),
            c if c.eq_ignore_ascii_case(".git") => return Err("its path enters a .git directory"),
            _ => {}
        }
    }
    Ok(trimmed.to_string())
}

/// The submodule URL, relative ones (`./x`, `../x`) resolved against the parent's URL as git
/// resolves them: each `../` drops one path component of the parent URL.
fn resolve_url(parent: &RepoUrl, raw: &str) -> Result<RepoUrl, GitError> {
    if !(raw.starts_with("./") || raw.starts_with("../")) {
        return RepoUrl::parse(raw);
    }
    let base = parent.sanitized.trim_end_matches('/');
    let Some((scheme, rest)) = base.split_once("://") else {
        return RepoUrl::parse(raw);
    };
    let (authority, path) = rest.split_once('/').unwrap_or((rest, ""));
    let mut components: Vec<&str> = path.split('/').filter(|c| !c.is_empty()).collect();
    let mut relative = raw;
    loop {
        if let Some(rest) = relative.strip_prefix("./") {
            relative = rest;
        } else if let Some(rest) = relative.strip_prefix("../") {
            if components.pop().is_none() {
                return Err(GitError::InvalidUrl {
                    url: raw.to_string(),
                    reason: format!("climbs above the host of '{}'", parent.sanitized),
                });
            }
            relative = rest;
        } else {
            break;
        }
    }
    components.extend(relative.split('/').filter(|c| !c.is_empty()));
    RepoUrl::parse(&format!("{scheme}://{authority}/{}", components.join("/")))
}

/// The parent's auth for a submodule: proxy, CA and SSH keys always; HTTP credentials
/// (the Secret's or those embedded in the parent URL) only on the parent's own host.
fn auth_for(parent: &RepoUrl, auth: &Auth, sub: &RepoUrl) -> Auth {
    let mut out = auth.clone();
    let same_host = authority(&parent.sanitized) == authority(&sub.sanitized);
    if sub.scheme != Scheme::Ssh && !same_host {
        out.basic = None;
        out.bearer_token = None;
    } else if out.basic.is_none() && out.bearer_token.is_none() && same_host {
        out.basic = parent
            .embedded_user
            .as_ref()
            .map(|user| crate::transport::BasicAuth {
                username: user.clone(),
                password: parent.embedded_password.clone().unwrap_or_default(),
            });
    }
    // An SSH identity is refused for HTTP URLs and vice versa: keep only what applies.
    if sub.scheme == Scheme::Ssh {
        out.basic = None;
        out.bearer_token = None;
    } else {
        out.ssh_identity = None;
        out.ssh_password = None;
        out.ssh_known_hosts = None;
    }
    out
}

fn authority(url: &str) -> String {
    let rest = url.split_once("://").map_or(url, |(_, r)| r);
    let authority = rest.split('/').next().unwrap_or_default();
    let host = authority.rsplit_once('@').map_or(authority, |(_, h)| h);
    host.to_ascii_lowercase()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn url(raw: &str) -> RepoUrl {
        RepoUrl::parse(raw).expect("valid URL")
    }

    #[test]
    fn relative_urls_resolve_against_the_parent_url_as_git_does() {
        let parent = url("https://git.example/org/parent.git");
        let resolve = |raw| resolve_url(&parent, raw).map(|u| u.sanitized);
        assert_eq!(
            resolve("../lib.git").expect("sibling"),
            "https://git.example/org/lib.git"
        );
        assert_eq!(
            resolve("./sub").expect("child"),
            "https://git.example/org/parent.git/sub"
        );
        assert_eq!(
            resolve("../../x/y.git").expect("up two"),
            "https://git.example/x/y.git"
        );
        assert!(resolve("../../../z.git").is_err(), "above the host");
        let ssh = url("ssh://git@git.example/org/parent.git");
        assert_eq!(
            resolve_url(&ssh, "../lib.git").expect("ssh").sanitized,
            "ssh://git@git.example/org/lib.git"
        );
    }

    #[test]
    fn only_http_and_ssh_submodule_urls_are_accepted() {
        let parent = url("https://git.example/org/parent.git");
        for raw in [
            "git@github.com:org/x.git",
            "file:///etc",
            "git://host/x.git",
            "/srv/x",
        ] {
            let err = resolve_url(&parent, raw).expect_err(raw);
            assert!(matches!(err, GitError::InvalidUrl { .. }), "{raw}: {err}");
        }
    }

    #[test]
    fn gitmodules_paths_that_escape_or_enter_git_are_refused() {
        let modules = |path: &str| {
            parse_gitmodules(
                format!("[submodule \"m\"]\n\tpath = {path}\n\turl = ../m.git\n").as_bytes(),
            )
        };
        assert_eq!(modules("libs/m/").expect("fine")[0].path, "libs/m");
        for bad in ["../m", "/abs", "a/../../m", ".git/hooks", "x/.GIT", "."] {
            let err = modules(bad).expect_err(bad);
            assert!(
                err.to_string().contains("invalid submodule 'm'"),
                "{bad}: {err}"
            );
        }
        let err = parse_gitmodules(b"[submodule \"n\"]\n\tpath = n\n").expect_err("no url");
        assert!(err.to_string().contains("no 'url'"), "{err}");
        let skipped = parse_gitmodules(b"[submodule \"s\"]\npath = s\nurl = ../s\nupdate = none\n")
            .expect("valid");
        assert!(skipped[0].skip);
    }

    #[test]
    fn http_credentials_stay_on_the_parent_host() {
        let auth = Auth {
            bearer_token: Some("tok".into()),
            ..Auth::default()
        };
        let parent = url("https://git.example/org/parent.git");
        let same = auth_for(&parent, &auth, &url("https://git.example/org/lib.git"));
        assert_eq!(same.bearer_token.as_deref(), Some("tok"));
        let other = auth_for(&parent, &auth, &url("https://elsewhere.example/lib.git"));
        assert_eq!(other.bearer_token, None);
        let embedded = url("https://bob:pw@git.example/org/parent.git");
        let carried = auth_for(
            &embedded,
            &Auth::default(),
            &url("https://git.example/lib.git"),
        );
        assert_eq!(carried.basic.map(|b| b.password), Some("pw".to_string()));
    }
}
