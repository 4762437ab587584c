//! Paths inside a root that cannot lead out of it: `..` stops at the root
//! and symbolic links resolve as if the root were `/` (what Flux gets from
//! filepath-securejoin).

use std::path::{Component, Path, PathBuf};

/// Symbolic links followed for one path before giving up (a loop).
const MAX_LINKS: usize = 255;

/// Joins `path` (relative, or absolute under `root`) onto `root` so that the
/// result stays inside `root`, following symbolic links.
pub(crate) fn secure_join(root: &Path, path: &Path) -> Result<PathBuf, String> {
    let path = path.strip_prefix(root).unwrap_or(path);
    let mut todo: Vec<std::ffi::OsString> = components(path);
    todo.reverse();
    let mut current: Vec<std::ffi::OsString> = Vec::new();
    let mut links = 0;
    while let Some(part) = todo.pop() {
        if part == ".." {
            current.pop();
            continue;
        }
        let mut candidate = root.to_path_buf();
        candidate.extend(&current);
        candidate.push(&part);
        match std::fs::symlink_metadata(&candidate) {
            Ok(m) if m.file_type().is_symlink() => {
                links += 1;
                if links > MAX_LINKS {
                    return Err(format!(
                        "too many symbolic links resolving {}",
                        path.display()
                    ));
                }
                let target = std::fs::read_link(&candidate).map_err(|e| e.to_string())?;
                if target.is_absolute() {
                    current.clear();
                }
                let mut more = components(&target);
                more.reverse();
                todo.extend(more);
            }
            _ => current.push(part),
        }
    }
    let mut out = root.to_path_buf();
    out.extend(current);
    Ok(out)
}

fn components(p: &Path) -> Vec<std::ffi::OsString> {
    p.components()
        .filter_map(|c| match c {
            Component::Normal(s) => Some(s.to_os_string()),
            Component::ParentDir => Some("..".into()),
            Component::CurDir | Component::RootDir | Component::Prefix(_) => None,
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dot_dot_and_symlinks_cannot_leave_the_root() {
        let dir = tempfile::tempdir().expect("tempdir");
        let root = dir.path().join("root");
        std::fs::create_dir_all(root.join("a")).expect("mkdir");
        std::os::unix::fs::symlink("/etc", root.join("a/evil")).expect("symlink");
        std::os::unix::fs::symlink("../../..", root.join("a/up")).expect("symlink");
        assert_eq!(
            secure_join(&root, Path::new("../../x")).expect("join"),
            root.join("x")
        );
        assert_eq!(
            secure_join(&root, Path::new("a/evil/passwd")).expect("join"),
            root.join("etc/passwd")
        );
        assert_eq!(
            secure_join(&root, Path::new("a/up/y")).expect("join"),
            root.join("y")
        );
    }
}
