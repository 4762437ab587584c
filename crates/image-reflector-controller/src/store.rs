//! The tag store under `--storage-path`: one file per ImageRepository,
//! `imagerepository/<namespace>/<name>/tags` (one tag per line, in the scan's order), written to
//! a temporary file and renamed into place so a reader never sees half a list.
//!
//! Unlike Flux's BadgerDB, which only grows, the store is bounded: a scan whose list exceeds
//! the per-repository cap (`--storage-max-repository-size`, 16 MiB by default, about a million
//! tags) or would take the whole store past its total cap (`--storage-max-size`, 256 MiB) is
//! refused with an error on the ImageRepository, and an entry is removed with its
//! ImageRepository (finalizer) or, for ones deleted while the controller was down, by the sweep
//! at start-up (`--gc-interval` minutes apart after that). Its size is published as
//! `driftless_image_tag_store_bytes`. The store is a rebuildable cache: losing it costs one scan
//! per repository.

use std::collections::HashMap;
use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

/// Default per-repository cap in bytes.
pub const DEFAULT_MAX_REPOSITORY_BYTES: u64 = 16 << 20;
/// Default cap of the whole store in bytes.
pub const DEFAULT_MAX_TOTAL_BYTES: u64 = 256 << 20;

const KIND_DIR: &str = "imagerepository";
const TAGS_FILE: &str = "tags";
const TEMP_PREFIX: &str = ".tags-";

/// The store's caps.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Limits {
    /// Largest tag list of one repository, in bytes as stored.
    pub per_repository: u64,
    /// Largest total of all lists, in bytes.
    pub total: u64,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            per_repository: DEFAULT_MAX_REPOSITORY_BYTES,
            total: DEFAULT_MAX_TOTAL_BYTES,
        }
    }
}

/// A store operation that failed.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// Reading or writing the store failed.
    #[error("tag store {action} '{}' failed", path.display())]
    Io {
        /// What was being done.
        action: &'static str,
        /// The file or directory.
        path: PathBuf,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
    /// One repository's list is over the per-repository cap.
    #[error(
        "{count} tags take {bytes} bytes, over the tag store's limit of {limit} bytes per repository"
    )]
    RepositoryTooLarge {
        /// Number of tags.
        count: usize,
        /// Their size as stored.
        bytes: u64,
        /// `--storage-max-repository-size`.
        limit: u64,
    },
    /// Storing the list would take the store over its total cap.
    #[error("the tag store is full: storing {bytes} bytes would exceed its limit of {limit} bytes")]
    Full {
        /// Size of the list to store.
        bytes: u64,
        /// `--storage-max-size`.
        limit: u64,
    },
    /// A namespace or name that cannot be a path segment.
    #[error("invalid tag store key '{0}'")]
    Key(String),
}

/// The on-disk tag store.
#[derive(Debug)]
pub struct TagStore {
    root: PathBuf,
    limits: Limits,
    /// Bytes stored per `(namespace, name)`, kept in step with the files.
    usage: Mutex<HashMap<(String, String), u64>>,
}

impl TagStore {
    /// Opens (creating) the store under `storage_path`, measuring what is there and removing
    /// temporary files a crash left behind.
    pub fn open(storage_path: &Path, limits: Limits) -> Result<Self, StoreError> {
        let root = storage_path.join(KIND_DIR);
        fs::create_dir_all(&root).map_err(io("create", &root))?;
        let mut usage = HashMap::new();
        for namespace in read_dir(&root, true)? {
            let ns_path = root.join(&namespace);
            for name in read_dir(&ns_path, true)? {
                let dir = ns_path.join(&name);
                for entry in read_dir(&dir, false)? {
                    let path = dir.join(&entry);
                    if entry.starts_with(TEMP_PREFIX) {
                        fs::remove_file(&path).map_err(io("remove", &path))?;
                    } else if entry == TAGS_FILE {
                        let len = fs::metadata(&path).map_err(io("stat", &path))?.len();
                        usage.insert((namespace.clone(), name.clone()), len);
                    }
                }
            }
        }
        Ok(Self {
            root,
            limits,
            usage: Mutex::new(usage),
        })
    }

    /// The caps in force.
    pub fn limits(&self) -> Limits {
        self.limits
    }

    /// Bytes stored in total.
    pub fn total_bytes(&self) -> u64 {
        self.lock().values().sum()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<(String, String), u64>> {
        self.usage
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    fn dir(&self, namespace: &str, name: &str) -> Result<PathBuf, StoreError> {
        for part in [namespace, name] {
            if part.is_empty() || part.starts_with('.') || part.contains(['/', '\\', '\0']) {
                return Err(StoreError::Key(format!("{namespace}/{name}")));
            }
        }
        Ok(self.root.join(namespace).join(name))
    }

    /// Replaces the tags of `namespace/name` and returns the list's revision (Flux's: the
    /// Adler-32 checksum of the JSON array, in decimal).
    pub fn set_tags(
        &self,
        namespace: &str,
        name: &str,
        tags: &[String],
    ) -> Result<String, StoreError> {
        let dir = self.dir(namespace, name)?;
        let mut content = String::with_capacity(tags.iter().map(|t| t.len() + 1).sum());
        for tag in tags {
            content.push_str(tag);
            content.push('\n');
        }
        let bytes = content.len() as u64;
        if bytes > self.limits.per_repository {
            return Err(StoreError::RepositoryTooLarge {
                count: tags.len(),
                bytes,
                limit: self.limits.per_repository,
            });
        }
        let key = (namespace.to_owned(), name.to_owned());
        // The lock is held across the write so concurrent scans cannot both pass the total cap.
        let mut usage = self.lock();
        let others: u64 = usage
            .iter()
            .filter(|(k, _)| **k != key)
            .map(|(_, v)| *v)
            .sum();
        if others + bytes > self.limits.total {
            return Err(StoreError::Full {
                bytes,
                limit: self.limits.total,
            });
        }
        fs::create_dir_all(&dir).map_err(io("create", &dir))?;
        let temp = dir.join(format!("{TEMP_PREFIX}{}", std::process::id()));
        let target = dir.join(TAGS_FILE);
        let written = (|| {
            let mut file = fs::File::create(&temp)?;
            file.write_all(content.as_bytes())?;
            file.sync_all()
        })();
        if let Err(source) = written {
            let _ = fs::remove_file(&temp);
            return Err(StoreError::Io {
                action: "write",
                path: temp,
                source,
            });
        }
        fs::rename(&temp, &target).map_err(io("rename", &target))?;
        usage.insert(key, bytes);
        Ok(revision(tags))
    }

    /// The tags of `namespace/name` in stored order; empty when none are stored.
    pub fn tags(&self, namespace: &str, name: &str) -> Result<Vec<String>, StoreError> {
        let path = self.dir(namespace, name)?.join(TAGS_FILE);
        match fs::read_to_string(&path) {
            Ok(content) => Ok(content.lines().map(str::to_owned).collect()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Vec::new()),
            Err(source) => Err(StoreError::Io {
                action: "read",
                path,
                source,
            }),
        }
    }

    /// Whether `namespace/name` has at least one tag stored.
    pub fn contains(&self, namespace: &str, name: &str) -> bool {
        self.lock()
            .get(&(namespace.to_owned(), name.to_owned()))
            .is_some_and(|bytes| *bytes > 0)
    }

    /// Removes the entry of `namespace/name` (its ImageRepository is gone).
    pub fn remove(&self, namespace: &str, name: &str) -> Result<(), StoreError> {
        let dir = self.dir(namespace, name)?;
        let mut usage = self.lock();
        match fs::remove_dir_all(&dir) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(source) => {
                return Err(StoreError::Io {
                    action: "remove",
                    path: dir,
                    source,
                });
            }
        }
        usage.remove(&(namespace.to_owned(), name.to_owned()));
        let ns_dir = self.root.join(namespace);
        // Only succeeds when empty, which is what we want.
        let _ = fs::remove_dir(ns_dir);
        Ok(())
    }

    /// Removes every entry for which `keep(namespace, name)` is false; returns how many went.
    pub fn retain(&self, keep: impl Fn(&str, &str) -> bool) -> Result<usize, StoreError> {
        let stored: Vec<(String, String)> = self.lock().keys().cloned().collect();
        let mut removed = 0;
        for (namespace, name) in stored {
            if !keep(&namespace, &name) {
                self.remove(&namespace, &name)?;
                removed += 1;
            }
        }
        Ok(removed)
    }
}

/// Flux's revision of a tag list: Adler-32 of its JSON encoding, printed in decimal.
pub fn revision(tags: &[String]) -> String {
    // Tags are `[A-Za-z0-9_.-]`, which Go's and serde's JSON encoders write alike.
    let json = serde_json::to_vec(tags).unwrap_or_default();
    adler32(&json).to_string()
}

/// Adler-32 (RFC 1950).
pub fn adler32(data: &[u8]) -> u32 {
    const MOD: u32 = 65_521;
    let (mut a, mut b) = (1u32, 0u32);
    // 5552 is the largest run whose sums cannot overflow u32 before the modulo.
    for chunk in data.chunks(5552) {
        for byte in chunk {
            a += u32::from(*byte);
            b += a;
        }
        a %= MOD;
        b %= MOD;
    }
    (b << 16) | a
}

fn io(action: &'static str, path: &Path) -> impl FnOnce(std::io::Error) -> StoreError {
    let path = path.to_path_buf();
    move |source| StoreError::Io {
        action,
        path,
        source,
    }
}

/// The names in `path`; only directories when `dirs` is set.
fn read_dir(path: &Path, dirs: bool) -> Result<Vec<String>, StoreError> {
    let entries = fs::read_dir(path).map_err(io("list", path))?;
    let mut names = Vec::new();
    for entry in entries {
        let entry = entry.map_err(io("list", path))?;
        if dirs && !entry.file_type().is_ok_and(|t| t.is_dir()) {
            continue;
        }
        if let Some(name) = entry.file_name().to_str() {
            names.push(name.to_owned());
        }
    }
    Ok(names)
}

#[cfg(test)]
mod tests;
