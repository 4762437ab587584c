//! The checks that keep extraction inside its destination and within its byte budget.

use std::fmt;
use std::fs;
use std::io::{self, Read};
use std::path::{Component, Path, PathBuf};

use crate::extract::ExtractError;

/// Marker carried inside the `io::Error` a [`LimitedReader`] returns when its budget is spent.
#[derive(Debug)]
struct LimitExceeded;

impl fmt::Display for LimitExceeded {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("decompressed stream limit exceeded")
    }
}

impl std::error::Error for LimitExceeded {}

/// Fails once more than `limit` bytes have been read (no limit when `None`).
pub(crate) struct LimitedReader<R> {
    inner: R,
    remaining: Option<u64>,
}

impl<R> LimitedReader<R> {
    pub(crate) fn new(inner: R, limit: Option<u64>) -> Self {
        LimitedReader {
            inner,
            remaining: limit,
        }
    }

    /// True when `e`, or an error it wraps, is this reader's limit error.
    pub(crate) fn is_limit_error(e: &io::Error) -> bool {
        let mut current: Option<&(dyn std::error::Error + 'static)> =
            e.get_ref().map(|inner| inner as _);
        while let Some(err) = current {
            if err.is::<LimitExceeded>() {
                return true;
            }
            if let Some(io_err) = err.downcast_ref::<io::Error>()
                && Self::is_limit_error(io_err)
            {
                return true;
            }
            current = err.source();
        }
        false
    }
}

impl<R: Read> Read for LimitedReader<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let Some(remaining) = self.remaining else {
            return self.inner.read(buf);
        };
        if remaining == 0 {
            // Only an error if there really is more data.
            let mut probe = [0u8; 1];
            return match self.inner.read(&mut probe)? {
                0 => Ok(0),
                _ => Err(io::Error::other(LimitExceeded)),
            };
        }
        let max = usize::try_from(remaining)
            .unwrap_or(usize::MAX)
            .min(buf.len());
        let n = self.inner.read(&mut buf[..max])?;
        self.remaining = Some(remaining - n as u64);
        Ok(n)
    }
}

/// The absolute destination of a validated relative entry path.
pub(crate) fn checked_target(dest: &Path, rel: &Path, name: &str) -> Result<PathBuf, ExtractError> {
    if rel.components().all(|c| matches!(c, Component::Normal(_))) {
        Ok(dest.join(rel))
    } else {
        Err(ExtractError::PathEscape {
            entry: name.to_owned(),
        })
    }
}

/// Create the parent directories of `rel` under `dest`, refusing to pass through anything that is
/// not a real directory, so no entry is ever written through a symlink.
pub(crate) fn ensure_parent_dirs(dest: &Path, rel: &Path, name: &str) -> Result<(), ExtractError> {
    let Some(parent) = rel.parent() else {
        return Ok(());
    };
    let mut current = dest.to_path_buf();
    for component in parent.components() {
        current.push(component);
        match fs::symlink_metadata(&current) {
            Ok(meta) if meta.is_dir() => {}
            Ok(_) => {
                return Err(ExtractError::Conflict {
                    entry: name.to_owned(),
                    reason: "a parent path is a symlink or a file",
                });
            }
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                fs::create_dir(&current).map_err(|source| ExtractError::Write {
                    path: current.clone(),
                    source,
                })?;
            }
            Err(source) => {
                return Err(ExtractError::Write {
                    path: current.clone(),
                    source,
                });
            }
        }
    }
    Ok(())
}

/// Whether a symlink at `rel` pointing to `target` stays inside the destination, judged on the
/// names alone: relative, and never climbing above the destination root.
pub(crate) fn symlink_stays_inside(rel: &Path, target: &Path) -> bool {
    let mut depth = rel.components().count().saturating_sub(1);
    if target.as_os_str().is_empty() {
        return false;
    }
    for component in target.components() {
        match component {
            Component::Normal(_) => depth += 1,
            Component::CurDir => {}
            Component::ParentDir => match depth.checked_sub(1) {
                Some(d) => depth = d,
                None => return false,
            },
            Component::RootDir | Component::Prefix(_) => return false,
        }
    }
    true
}

/// After extraction, resolve every created symlink for real: a chain of individually harmless
/// links (`a -> .`, `b -> a/..`) can still leave the destination, and a dangling one could be
/// filled in later by whoever writes into the tree.
pub(crate) fn verify_symlinks_resolve_inside(
    dest: &Path,
    created: &[(PathBuf, String)],
) -> Result<(), ExtractError> {
    let root = fs::canonicalize(dest).map_err(|source| ExtractError::Write {
        path: dest.to_path_buf(),
        source,
    })?;
    for (path, entry) in created {
        let inside = fs::canonicalize(path).is_ok_and(|resolved| resolved.starts_with(&root));
        if !inside {
            let target = fs::read_link(path)
                .map(|t| t.display().to_string())
                .unwrap_or_default();
            return Err(ExtractError::SymlinkEscape {
                entry: entry.clone(),
                target,
            });
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn symlinks_climbing_above_the_root_are_judged_outside() {
        assert!(symlink_stays_inside(Path::new("a/link"), Path::new("../b")));
        assert!(!symlink_stays_inside(
            Path::new("a/link"),
            Path::new("../../b")
        ));
        assert!(!symlink_stays_inside(
            Path::new("link"),
            Path::new("/etc/passwd")
        ));
        assert!(!symlink_stays_inside(Path::new("link"), Path::new("")));
        assert!(symlink_stays_inside(
            Path::new("link"),
            Path::new("./x/../y")
        ));
    }

    #[test]
    fn the_limited_reader_fails_only_when_data_passes_the_limit() {
        let mut exact = LimitedReader::new(&[1u8, 2, 3][..], Some(3));
        let mut out = Vec::new();
        assert_eq!(exact.read_to_end(&mut out).expect("fits"), 3);
        let mut over = LimitedReader::new(&[1u8, 2, 3, 4][..], Some(3));
        let err = over.read_to_end(&mut Vec::new()).expect_err("over");
        assert!(LimitedReader::<io::Empty>::is_limit_error(&err));
    }
}
