//! Normalised tar.gz of a source tree, as Flux's `fluxcd/pkg/tar` Archive builds Git, Bucket and
//! OCI artifacts, so that the digest depends on content only.
//!
//! Normalisation: entries in lexical name order (Go's `filepath.Walk`), the root emitted as `.`,
//! directory names without a trailing `/`, uid/gid 0, empty user and group names, zero times,
//! directories 0750, files 0600 or 0700 when the owner may execute them. Only regular files and
//! directories are archived; symlinks, sockets and devices are dropped, as Flux drops them. The
//! gzip header carries no name, mtime 0 and OS byte 255, like Go's `compress/gzip`.

use std::fs::{self, File};
use std::io::{self, Read, Write};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use flate2::{Compression, GzBuilder};
use tar::{EntryType, Header};

use crate::sourceignore::{IgnoreError, IgnoreRules};

/// Mode of every directory entry.
pub const DIR_MODE: u32 = 0o750;
/// Mode of a regular file the owner cannot execute.
pub const FILE_MODE: u32 = 0o600;
/// Mode of a regular file the owner can execute.
pub const EXEC_FILE_MODE: u32 = 0o700;
/// gzip OS byte for "unknown", what Go writes.
const GZIP_OS_UNKNOWN: u8 = 255;

/// Failure while building an archive.
#[derive(Debug, thiserror::Error)]
pub enum ArchiveError {
    /// The source directory does not exist or is not a directory.
    #[error("source '{path}' is not a directory")]
    NotADirectory {
        /// The directory that was asked for.
        path: PathBuf,
    },
    /// The ignore rules could not be loaded.
    #[error(transparent)]
    Ignore(#[from] IgnoreError),
    /// Reading a file of the tree failed.
    #[error("reading '{path}': {source}")]
    Read {
        /// Path relative to the source root.
        path: PathBuf,
        /// The I/O failure.
        source: io::Error,
    },
    /// A file changed size while it was being archived, so its entry would be corrupt.
    #[error("'{path}' changed while being archived")]
    Changed {
        /// Path relative to the source root.
        path: PathBuf,
    },
    /// Writing the archive failed.
    #[error("writing archive: {0}")]
    Write(#[source] io::Error),
}

/// Write the normalised tar.gz of `root` to `out`, leaving out what `rules` excludes.
///
/// Returns `out` once the gzip stream is finished so the caller can flush and sync it.
pub fn write_tar_gz<W: Write>(root: &Path, rules: &IgnoreRules, out: W) -> Result<W, ArchiveError> {
    match fs::metadata(root) {
        Ok(meta) if meta.is_dir() => {}
        _ => {
            return Err(ArchiveError::NotADirectory {
                path: root.to_path_buf(),
            });
        }
    }
    let gz = GzBuilder::new()
        .mtime(0)
        .operating_system(GZIP_OS_UNKNOWN)
        .write(out, Compression::default());
    let mut builder = tar::Builder::new(gz);
    append_dir_entry(&mut builder, Path::new("."))?;
    walk(&mut builder, root, Path::new(""), rules)?;
    let gz = builder.into_inner().map_err(ArchiveError::Write)?;
    gz.finish().map_err(ArchiveError::Write)
}

fn walk<W: Write>(
    builder: &mut tar::Builder<W>,
    root: &Path,
    rel: &Path,
    rules: &IgnoreRules,
) -> Result<(), ArchiveError> {
    let dir = root.join(rel);
    let read_err = |source| ArchiveError::Read {
        path: rel.to_path_buf(),
        source,
    };
    let mut names = Vec::new();
    for entry in fs::read_dir(&dir).map_err(read_err)? {
        names.push(entry.map_err(read_err)?.file_name());
    }
    // Byte order of names, as Go sorts them, so equal trees give equal archives.
    names.sort_by(|a, b| a.as_encoded_bytes().cmp(b.as_encoded_bytes()));
    for name in names {
        let entry_rel = rel.join(&name);
        let meta =
            fs::symlink_metadata(root.join(&entry_rel)).map_err(|source| ArchiveError::Read {
                path: entry_rel.clone(),
                source,
            })?;
        let file_type = meta.file_type();
        if file_type.is_dir() {
            if rules.is_excluded(&entry_rel, true) {
                if !rules.can_prune_excluded_dirs() {
                    walk(builder, root, &entry_rel, rules)?;
                }
                continue;
            }
            append_dir_entry(builder, &entry_rel)?;
            walk(builder, root, &entry_rel, rules)?;
        } else if file_type.is_file() {
            if rules.is_excluded(&entry_rel, false) {
                continue;
            }
            append_file_entry(builder, root, &entry_rel, &meta)?;
        }
        // Anything else (symlinks included) is dropped, as Flux does.
    }
    Ok(())
}

fn normalised_header(entry_type: EntryType, mode: u32, size: u64) -> Header {
    let mut header = Header::new_gnu();
    header.set_entry_type(entry_type);
    header.set_mode(mode);
    header.set_uid(0);
    header.set_gid(0);
    header.set_mtime(0);
    header.set_size(size);
    header
}

fn append_dir_entry<W: Write>(
    builder: &mut tar::Builder<W>,
    rel: &Path,
) -> Result<(), ArchiveError> {
    let mut header = normalised_header(EntryType::Directory, DIR_MODE, 0);
    builder
        .append_data(&mut header, rel, io::empty())
        .map_err(ArchiveError::Write)
}

fn append_file_entry<W: Write>(
    builder: &mut tar::Builder<W>,
    root: &Path,
    rel: &Path,
    meta: &fs::Metadata,
) -> Result<(), ArchiveError> {
    // Git records a file as executable when its owner may execute it; Flux keeps that one bit.
    let mode = if meta.permissions().mode() & 0o100 != 0 {
        EXEC_FILE_MODE
    } else {
        FILE_MODE
    };
    let size = meta.len();
    let file = File::open(root.join(rel)).map_err(|source| ArchiveError::Read {
        path: rel.to_path_buf(),
        source,
    })?;
    let mut reader = ExactReader {
        inner: file.take(size),
        remaining: size,
    };
    let mut header = normalised_header(EntryType::Regular, mode, size);
    builder
        .append_data(&mut header, rel, &mut reader)
        .map_err(|e| {
            if e.kind() == io::ErrorKind::UnexpectedEof {
                ArchiveError::Changed {
                    path: rel.to_path_buf(),
                }
            } else {
                ArchiveError::Write(e)
            }
        })
}

/// Yields exactly `remaining` bytes or fails, so a file truncated mid-archive cannot produce an
/// entry shorter than its header says.
struct ExactReader<R> {
    inner: R,
    remaining: u64,
}

impl<R: Read> Read for ExactReader<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if self.remaining == 0 {
            return Ok(0);
        }
        let n = self.inner.read(buf)?;
        if n == 0 {
            return Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                "file shrank while archiving",
            ));
        }
        self.remaining = self.remaining.saturating_sub(n as u64);
        Ok(n)
    }
}
