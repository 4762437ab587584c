//! Writing a commit's tree into a directory, with the limits DESIGN.md §6 asks for.
//!
//! This is our own writer rather than gix's worktree checkout: every entry name is checked
//! before it touches the filesystem, sizes are counted from object headers before a blob
//! is inflated, and a symlink is only created when its target stays inside the checkout.
//! Directories and files are created with "must not exist" semantics, so a hostile tree
//! (duplicate names, a symlink and a directory of the same name) can never make us write
//! through a link.

use std::ffi::OsStr;
use std::io::Write as _;
use std::os::unix::ffi::OsStrExt as _;
use std::os::unix::fs::OpenOptionsExt as _;
use std::path::{Component, Path, PathBuf};

use gix::objs::tree::EntryKind;

use crate::error::GitError;

/// Resource bounds for one checkout.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Limits {
    /// Sum of all blob sizes; Flux's untar limit (100 MiB) is the default.
    pub max_checkout_bytes: u64,
    /// Deepest directory nesting accepted.
    pub max_depth: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_checkout_bytes: 100 * 1024 * 1024,
            max_depth: 256,
        }
    }
}

/// What was written.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Written {
    pub files: u64,
    pub bytes: u64,
}

/// Writes `tree`, or with `sparse` directories (`spec.sparseCheckout`) only those: each must
/// be a directory of the commit and lands at its own path, so the artifact keeps the layout.
pub(crate) fn write_checkout(
    repo: &gix::Repository,
    tree: gix::ObjectId,
    dest: &Path,
    sparse: &[String],
    limits: Limits,
) -> Result<Written, GitError> {
    if sparse.is_empty() {
        return write_tree(repo, tree, dest, limits);
    }
    let mut dirs: Vec<PathBuf> = Vec::new();
    for dir in sparse {
        let clean = dir.trim_start_matches("./").trim_matches('/');
        let rel = PathBuf::from(clean);
        if clean.is_empty() {
            // The repository root: everything.
            return write_tree(repo, tree, dest, limits);
        }
        for component in rel.components() {
            match component {
                Component::Normal(name) => check_name(name.as_bytes(), &rel)?,
                _ => {
                    return Err(unsafe_path(
                        &rel,
                        "sparse checkout paths stay inside the repository",
                    ));
                }
            }
        }
        dirs.push(rel);
    }
    dirs.sort();
    // A directory inside another listed one is already written with it.
    dirs.dedup_by(|later, earlier| later.starts_with(&*earlier));
    let root = repo.find_tree(tree).map_err(GitError::object)?;
    let mut total = Written::default();
    for rel in dirs {
        let entry = root
            .lookup_entry_by_path(&rel)
            .map_err(GitError::object)?
            .filter(|e| e.mode().is_tree())
            .ok_or_else(|| GitError::SparsePathNotFound {
                path: rel.display().to_string(),
            })?;
        let target = dest.join(&rel);
        std::fs::create_dir_all(&target).map_err(GitError::io("creating directory", &target))?;
        let remaining = Limits {
            max_checkout_bytes: limits.max_checkout_bytes.saturating_sub(total.bytes),
            ..limits
        };
        let written = write_tree(repo, entry.object_id(), &target, remaining)?;
        total.files += written.files;
        total.bytes += written.bytes;
    }
    Ok(total)
}

pub(crate) fn write_tree(
    repo: &gix::Repository,
    tree: gix::ObjectId,
    dest: &Path,
    limits: Limits,
) -> Result<Written, GitError> {
    let mut written = Written::default();
    let mut links = Vec::new();
    // (tree id, directory on disk, path inside the repository, depth)
    let mut stack = vec![(tree, dest.to_path_buf(), PathBuf::new(), 0usize)];
    while let Some((tree_id, dir, rel, depth)) = stack.pop() {
        if depth > limits.max_depth {
            return Err(unsafe_path(&rel, "directory nesting exceeds the limit"));
        }
        let tree = repo.find_tree(tree_id).map_err(GitError::object)?;
        for entry in tree.iter() {
            let entry = entry.map_err(GitError::object)?;
            let name = entry.filename();
            let rel_path = rel.join(OsStr::from_bytes(name));
            check_name(name, &rel_path)?;
            let path = dir.join(OsStr::from_bytes(name));
            let id = entry.object_id();
            match entry.mode().kind() {
                EntryKind::Tree => {
                    std::fs::create_dir(&path)
                        .map_err(GitError::io("creating directory", &path))?;
                    stack.push((id, path, rel_path, depth + 1));
                }
                // A submodule is an empty directory unless submodules are recursed into.
                EntryKind::Commit => {
                    std::fs::create_dir(&path)
                        .map_err(GitError::io("creating directory", &path))?;
                }
                kind @ (EntryKind::Blob | EntryKind::BlobExecutable) => {
                    let data = read_blob(repo, id, &mut written, limits)?;
                    let mode = if kind == EntryKind::BlobExecutable {
                        0o755
                    } else {
                        0o644
                    };
                    let mut file = std::fs::OpenOptions::new()
                        .write(true)
                        .create_new(true)
                        .mode(mode)
                        .open(&path)
                        .map_err(GitError::io("creating file", &path))?;
                    file.write_all(&data)
                        .map_err(GitError::io("writing file", &path))?;
                    written.files += 1;
                }
                EntryKind::Link => {
                    let target = read_blob(repo, id, &mut written, limits)?;
                    let target = Path::new(OsStr::from_bytes(&target));
                    check_symlink(&rel_path, target)?;
                    std::os::unix::fs::symlink(target, &path)
                        .map_err(GitError::io("creating symlink", &path))?;
                    links.push(rel_path);
                    written.files += 1;
                }
            }
        }
    }
    // Chains of links can leave the checkout even when each one looks fine on its own
    // (`d/up -> ..`, `d/x -> up/..`), so resolve every link once all of them exist.
    for link in &links {
        resolve_inside(dest, link)?;
    }
    Ok(written)
}

/// Resolve `link` (relative to `root`) the way the kernel would, following links found on
/// the way, and fail if the resolution ever climbs above `root`.
fn resolve_inside(root: &Path, link: &Path) -> Result<(), GitError> {
    use std::collections::VecDeque;
    use std::ffi::OsString;
    const MAX_HOPS: usize = 40;
    let escape = |target: &Path| GitError::SymlinkEscape {
        path: link.display().to_string(),
        target: target.display().to_string(),
    };
    let parts = |target: &Path| -> Option<Vec<OsString>> {
        let mut out = Vec::new();
        for c in target.components() {
            match c {
                Component::Normal(n) => out.push(n.to_os_string()),
                Component::ParentDir => out.push(OsString::from("..")),
                Component::CurDir => {}
                Component::RootDir | Component::Prefix(_) => return None,
            }
        }
        Some(out)
    };
    let mut resolved: Vec<OsString> = link
        .parent()
        .map(|p| p.iter().map(OsStr::to_os_string).collect())
        .unwrap_or_default();
    let first =
        std::fs::read_link(root.join(link)).map_err(GitError::io("reading symlink", link))?;
    let mut pending: VecDeque<OsString> = parts(&first).ok_or_else(|| escape(&first))?.into();
    let mut hops = 0;
    while let Some(part) = pending.pop_front() {
        if part == ".." {
            if resolved.pop().is_none() {
                return Err(escape(&first));
            }
            continue;
        }
        resolved.push(part);
        let here: PathBuf = resolved.iter().collect();
        let Ok(meta) = std::fs::symlink_metadata(root.join(&here)) else {
            continue; // dangling from here on: nothing further to follow
        };
        if meta.file_type().is_symlink() {
            hops += 1;
            if hops > MAX_HOPS {
                return Err(escape(&first));
            }
            let next = std::fs::read_link(root.join(&here))
                .map_err(GitError::io("reading symlink", &here))?;
            resolved.pop();
            for p in parts(&next)
                .ok_or_else(|| escape(&first))?
                .into_iter()
                .rev()
            {
                pending.push_front(p);
            }
        }
    }
    Ok(())
}

fn read_blob(
    repo: &gix::Repository,
    id: gix::ObjectId,
    written: &mut Written,
    limits: Limits,
) -> Result<Vec<u8>, GitError> {
    let size = repo.find_header(id).map_err(GitError::object)?.size();
    written.bytes = written.bytes.saturating_add(size);
    if written.bytes > limits.max_checkout_bytes {
        return Err(GitError::SizeLimitExceeded {
            limit: limits.max_checkout_bytes,
        });
    }
    let blob = repo.find_blob(id).map_err(GitError::object)?;
    Ok(blob.data.clone())
}

fn unsafe_path(rel: &Path, reason: &'static str) -> GitError {
    GitError::UnsafePath {
        path: rel.display().to_string(),
        reason,
    }
}

/// One path component as git stores it: reject anything that is not a plain name, and
/// `.git` in any case, which would let the tree plant repository metadata.
fn check_name(name: &[u8], rel: &Path) -> Result<(), GitError> {
    if name.is_empty() || name == b"." || name == b".." {
        return Err(unsafe_path(rel, "not a plain file name"));
    }
    if name.contains(&b'/') || name.contains(&0) || name.contains(&b'\\') {
        return Err(unsafe_path(rel, "name contains a path separator or NUL"));
    }
    if name.eq_ignore_ascii_case(b".git") {
        return Err(unsafe_path(rel, "'.git' inside the tree"));
    }
    Ok(())
}

/// A symlink may point anywhere inside the checkout, never outside it or to an absolute path.
fn check_symlink(rel: &Path, target: &Path) -> Result<(), GitError> {
    let escape = || GitError::SymlinkEscape {
        path: rel.display().to_string(),
        target: target.display().to_string(),
    };
    // Depth of the link's directory below the checkout root.
    let mut depth = rel.components().count().saturating_sub(1) as i64;
    for component in target.components() {
        match component {
            Component::Normal(_) | Component::CurDir => {
                if matches!(component, Component::Normal(_)) {
                    depth += 1;
                }
            }
            Component::ParentDir => {
                depth -= 1;
                if depth < 0 {
                    return Err(escape());
                }
            }
            Component::RootDir | Component::Prefix(_) => return Err(escape()),
        }
    }
    if target.as_os_str().is_empty() {
        return Err(escape());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn symlinks_inside_the_checkout_are_accepted() {
        assert!(check_symlink(Path::new("a/b/link"), Path::new("../c/file")).is_ok());
        assert!(check_symlink(Path::new("link"), Path::new("./dir/x")).is_ok());
    }

    #[test]
    fn symlinks_leaving_the_checkout_are_rejected() {
        for (link, target) in [
            ("link", "../x"),
            ("a/link", "../../etc"),
            ("l", "/etc/passwd"),
        ] {
            let err = check_symlink(Path::new(link), Path::new(target)).expect_err(target);
            assert!(matches!(err, GitError::SymlinkEscape { .. }), "{err}");
        }
    }

    #[test]
    fn a_chain_of_links_that_climbs_out_is_rejected() {
        let dir = tempfile::tempdir().expect("tempdir");
        let root = dir.path();
        std::fs::create_dir(root.join("d")).expect("mkdir");
        std::os::unix::fs::symlink("..", root.join("d/up")).expect("link");
        std::os::unix::fs::symlink("up/..", root.join("d/x")).expect("link");
        assert!(resolve_inside(root, Path::new("d/up")).is_ok());
        assert!(matches!(
            resolve_inside(root, Path::new("d/x")),
            Err(GitError::SymlinkEscape { .. })
        ));
    }

    #[test]
    fn dot_git_and_traversal_names_are_refused() {
        for name in [&b".git"[..], b".GIT", b"..", b"a/b", b""] {
            assert!(check_name(name, Path::new("x")).is_err(), "{name:?}");
        }
        assert!(check_name(b".gitignore", Path::new("x")).is_ok());
    }
}
