//! Bounded, escape-proof extraction of a tar.gz artifact, for every consumer.
//!
//! Mirrors the guarantees of Flux's `fluxcd/pkg/tar` Untar: a cap on the total bytes written
//! (100 MiB by default), no entry may land outside the destination (`..`, absolute paths,
//! writes through symlinks), symlinks skipped by default as Flux's consumers skip them, and
//! hardlinks and device entries refused. On top of Flux: a cap on the entry count and on the
//! decompressed stream itself, so neither a million empty files nor a gzip bomb of tar padding
//! or PAX headers can exhaust disk or memory.

use std::fs::{self, File};
use std::io::{self, Read, Seek, Write};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Component, Path, PathBuf};

use flate2::read::MultiGzDecoder;
use tar::EntryType;

use crate::digest::{Digest, DigestError};
use crate::extract_guard::{
    LimitedReader, checked_target, ensure_parent_dirs, symlink_stays_inside,
    verify_symlinks_resolve_inside,
};

/// Flux's default untar limit: 100 MiB of file content.
pub const DEFAULT_MAX_UNTAR_SIZE: u64 = 100 * 1024 * 1024;
/// Default cap on the number of entries in one archive.
pub const DEFAULT_MAX_ENTRIES: u64 = 100_000;
/// Decompressed bytes allowed per entry for headers and padding, on top of file content.
const PER_ENTRY_OVERHEAD: u64 = 4 * 1024;

/// What to do with symlink entries.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum SymlinkPolicy {
    /// Leave them out, as Flux's consumers untar artifacts (`WithSkipSymlinks`).
    #[default]
    Skip,
    /// Create them when their target stays inside the destination; refuse the archive otherwise.
    KeepInside,
}

/// Resource bounds for one extraction.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ExtractLimits {
    /// Maximum total bytes of file content; `None` is unlimited (Flux's `-1`).
    pub max_untar_size: Option<u64>,
    /// Maximum number of entries of any type.
    pub max_entries: u64,
    /// Symlink handling.
    pub symlinks: SymlinkPolicy,
}

impl Default for ExtractLimits {
    fn default() -> Self {
        ExtractLimits {
            max_untar_size: Some(DEFAULT_MAX_UNTAR_SIZE),
            max_entries: DEFAULT_MAX_ENTRIES,
            symlinks: SymlinkPolicy::Skip,
        }
    }
}

/// Counts of what an extraction wrote.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ExtractSummary {
    /// Regular files written.
    pub files: u64,
    /// Directories created from entries.
    pub dirs: u64,
    /// Symlinks created.
    pub symlinks: u64,
    /// Symlink entries skipped.
    pub skipped_symlinks: u64,
    /// Bytes of file content written.
    pub bytes: u64,
}

/// Why an archive was refused or could not be extracted.
#[derive(Debug, thiserror::Error)]
pub enum ExtractError {
    /// The expected digest string is not a digest this crate can check.
    #[error(transparent)]
    InvalidDigest(#[from] DigestError),
    /// The archive's digest differs from the published one; nothing was extracted.
    #[error("artifact digest mismatch: expected {expected}, got {actual}")]
    DigestMismatch {
        /// The digest the producer published.
        expected: String,
        /// The digest of the bytes received.
        actual: String,
    },
    /// An entry name is absolute or climbs out with `..`.
    #[error("archive entry '{entry}' escapes the destination directory")]
    PathEscape {
        /// The entry name as found in the archive.
        entry: String,
    },
    /// An entry would be written through a symlink or over a directory/file of another type.
    #[error("archive entry '{entry}' conflicts with an existing path: {reason}")]
    Conflict {
        /// The entry name.
        entry: String,
        /// What is in the way.
        reason: &'static str,
    },
    /// A symlink entry points outside the destination (only with [`SymlinkPolicy::KeepInside`]).
    #[error("archive entry '{entry}' is a symlink to '{target}' outside the destination directory")]
    SymlinkEscape {
        /// The entry name.
        entry: String,
        /// Its link target.
        target: String,
    },
    /// Hardlinks, devices, FIFOs and other special entries are refused.
    #[error("archive entry '{entry}' has unsupported type {kind}")]
    UnsupportedEntry {
        /// The entry name.
        entry: String,
        /// The tar type flag, described.
        kind: String,
    },
    /// Total file content would pass `max_untar_size`.
    #[error("archive content exceeds the untar limit of {limit} bytes")]
    TooLarge {
        /// The limit in bytes.
        limit: u64,
    },
    /// The archive holds more entries than allowed.
    #[error("archive has more than {limit} entries")]
    TooManyEntries {
        /// The entry limit.
        limit: u64,
    },
    /// The decompressed stream is far larger than its entries justify (gzip bomb).
    #[error("decompressed archive exceeds {limit} bytes")]
    DecompressionBomb {
        /// The decompressed byte limit that was hit.
        limit: u64,
    },
    /// The gzip or tar stream is malformed.
    #[error("malformed archive: {0}")]
    Malformed(#[source] io::Error),
    /// Writing into the destination failed.
    #[error("writing '{path}': {source}")]
    Write {
        /// Destination path of the entry.
        path: PathBuf,
        /// The I/O failure.
        source: io::Error,
    },
}

/// Verify the file at `archive` against `expected` (`<algo>:<hex>` or bare sha256 hex), and only
/// then extract it into `dest`.
pub fn extract_verified(
    archive: &Path,
    expected: &str,
    dest: &Path,
    limits: &ExtractLimits,
) -> Result<ExtractSummary, ExtractError> {
    let expected: Digest = expected.parse()?;
    let read_err = |source| ExtractError::Write {
        path: archive.to_path_buf(),
        source,
    };
    let mut file = File::open(archive).map_err(read_err)?;
    let (actual, _) = Digest::compute(expected.algorithm(), &mut file).map_err(read_err)?;
    if actual != expected {
        return Err(ExtractError::DigestMismatch {
            expected: expected.to_string(),
            actual: actual.to_string(),
        });
    }
    file.rewind().map_err(read_err)?;
    extract_tar_gz(file, dest, limits)
}

/// Extract the tar.gz stream `reader` into `dest` (created if missing) within `limits`.
///
/// On error, `dest` may hold part of the content; callers extract into a fresh directory and
/// discard it on failure.
pub fn extract_tar_gz(
    reader: impl Read,
    dest: &Path,
    limits: &ExtractLimits,
) -> Result<ExtractSummary, ExtractError> {
    fs::create_dir_all(dest).map_err(|source| ExtractError::Write {
        path: dest.to_path_buf(),
        source,
    })?;
    let stream_limit = limits.max_untar_size.map(|max| {
        max.saturating_add(
            limits
                .max_entries
                .saturating_add(16)
                .saturating_mul(PER_ENTRY_OVERHEAD),
        )
    });
    let decoder = LimitedReader::new(MultiGzDecoder::new(reader), stream_limit);
    let mut archive = tar::Archive::new(decoder);
    let mut summary = ExtractSummary::default();
    let mut entries_seen = 0u64;
    let mut created_links = Vec::new();
    let entries = archive
        .entries()
        .map_err(|e| stream_error(e, stream_limit))?;
    for entry in entries {
        let mut entry = entry.map_err(|e| stream_error(e, stream_limit))?;
        entries_seen += 1;
        if entries_seen > limits.max_entries {
            return Err(ExtractError::TooManyEntries {
                limit: limits.max_entries,
            });
        }
        let name = String::from_utf8_lossy(&entry.path_bytes()).into_owned();
        let entry_type = entry.header().entry_type();
        if matches!(entry_type, EntryType::XGlobalHeader | EntryType::XHeader) {
            continue;
        }
        let Some(rel) =
            normalise_entry_path(&entry.path().map_err(ExtractError::Malformed)?, &name)?
        else {
            continue; // the archive root `.`
        };
        match entry_type {
            EntryType::Directory => {
                let target = checked_target(dest, &rel, &name)?;
                ensure_parent_dirs(dest, &rel, &name)?;
                match fs::symlink_metadata(&target) {
                    Ok(meta) if meta.is_dir() => {}
                    Ok(_) => {
                        return Err(ExtractError::Conflict {
                            entry: name,
                            reason: "a non-directory is in the way",
                        });
                    }
                    Err(_) => {
                        fs::create_dir(&target).map_err(|source| ExtractError::Write {
                            path: target.clone(),
                            source,
                        })?;
                        summary.dirs += 1;
                    }
                }
            }
            EntryType::Regular | EntryType::Continuous => {
                let size = entry.header().size().map_err(ExtractError::Malformed)?;
                let total = summary.bytes.saturating_add(size);
                if let Some(limit) = limits.max_untar_size
                    && total > limit
                {
                    return Err(ExtractError::TooLarge { limit });
                }
                let target = checked_target(dest, &rel, &name)?;
                ensure_parent_dirs(dest, &rel, &name)?;
                let mode = entry.header().mode().unwrap_or(0o644);
                write_file(&mut entry, &target, &name, mode, stream_limit)?;
                summary.files += 1;
                summary.bytes = total;
            }
            EntryType::Symlink => {
                if limits.symlinks == SymlinkPolicy::Skip {
                    summary.skipped_symlinks += 1;
                    continue;
                }
                let link = entry
                    .link_name()
                    .map_err(ExtractError::Malformed)?
                    .map(|l| l.into_owned())
                    .unwrap_or_default();
                if !symlink_stays_inside(&rel, &link) {
                    return Err(ExtractError::SymlinkEscape {
                        entry: name,
                        target: link.display().to_string(),
                    });
                }
                let target = checked_target(dest, &rel, &name)?;
                ensure_parent_dirs(dest, &rel, &name)?;
                if fs::symlink_metadata(&target).is_ok() {
                    return Err(ExtractError::Conflict {
                        entry: name,
                        reason: "a path already exists",
                    });
                }
                std::os::unix::fs::symlink(&link, &target).map_err(|source| {
                    ExtractError::Write {
                        path: target.clone(),
                        source,
                    }
                })?;
                created_links.push((target, name));
                summary.symlinks += 1;
            }
            other => {
                return Err(ExtractError::UnsupportedEntry {
                    entry: name,
                    kind: format!("{other:?}"),
                });
            }
        }
    }
    verify_symlinks_resolve_inside(dest, &created_links)?;
    Ok(summary)
}

/// The entry path with `.` components dropped; `None` for the root itself. Absolute paths and
/// `..` are refused outright rather than rewritten, since no honest producer writes them.
fn normalise_entry_path(path: &Path, name: &str) -> Result<Option<PathBuf>, ExtractError> {
    let mut rel = PathBuf::new();
    for component in path.components() {
        match component {
            Component::Normal(part) => rel.push(part),
            Component::CurDir => {}
            Component::ParentDir | Component::RootDir | Component::Prefix(_) => {
                return Err(ExtractError::PathEscape {
                    entry: name.to_owned(),
                });
            }
        }
    }
    Ok((!rel.as_os_str().is_empty()).then_some(rel))
}

fn write_file(
    entry: &mut impl Read,
    target: &Path,
    name: &str,
    header_mode: u32,
    stream_limit: Option<u64>,
) -> Result<(), ExtractError> {
    match fs::symlink_metadata(target) {
        Ok(meta) if meta.is_dir() => {
            return Err(ExtractError::Conflict {
                entry: name.to_owned(),
                reason: "a directory is in the way",
            });
        }
        // A later entry of the same name replaces the earlier one, as tar does; unlinking never
        // follows a symlink, and `create_new` below refuses to open through one.
        Ok(_) => fs::remove_file(target).map_err(|source| ExtractError::Write {
            path: target.to_path_buf(),
            source,
        })?,
        Err(_) => {}
    }
    let mode = if header_mode & 0o100 != 0 {
        0o755
    } else {
        0o644
    };
    let mut file = fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(mode)
        .open(target)
        .map_err(|source| ExtractError::Write {
            path: target.to_path_buf(),
            source,
        })?;
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        let n = entry
            .read(&mut buf)
            .map_err(|e| stream_error(e, stream_limit))?;
        if n == 0 {
            break;
        }
        let chunk = buf.get(..n).unwrap_or_default();
        file.write_all(chunk)
            .map_err(|source| ExtractError::Write {
                path: target.to_path_buf(),
                source,
            })?;
    }
    Ok(())
}

/// Map a read error of the decompressed stream: our own limit tripping, or a malformed archive.
fn stream_error(e: io::Error, stream_limit: Option<u64>) -> ExtractError {
    if LimitedReader::<io::Empty>::is_limit_error(&e) {
        ExtractError::DecompressionBomb {
            limit: stream_limit.unwrap_or(u64::MAX),
        }
    } else {
        ExtractError::Malformed(e)
    }
}
