//! Garbage collection of an object's old artifacts (`--artifact-retention-records`,
//! `--artifact-retention-ttl`).
//!
//! Flux's rule, per object directory: the current artifact always stays; any other file is
//! removed once it is older than the TTL, and regardless of age once it falls outside the N most
//! recent files (the current one counting among the N). Symlinks are left alone. Stale hidden
//! temp files from an interrupted write are removed once past the TTL too.

use std::fs;
use std::io;
use std::time::{Duration, SystemTime};

use crate::artifact::Artifact;
use crate::storage::{ObjectLock, StorageError};

/// Flux's default `--artifact-retention-records`.
pub const DEFAULT_RETENTION_RECORDS: usize = 2;
/// Flux's default `--artifact-retention-ttl` (1m).
pub const DEFAULT_RETENTION_TTL: Duration = Duration::from_secs(60);

/// How many old artifacts to keep and for how long.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Retention {
    /// Maximum number of artifact files kept per object, the current one included.
    pub records: usize,
    /// Age past which a non-current artifact is removed.
    pub ttl: Duration,
}

impl Default for Retention {
    fn default() -> Self {
        Retention {
            records: DEFAULT_RETENTION_RECORDS,
            ttl: DEFAULT_RETENTION_TTL,
        }
    }
}

struct Candidate {
    name: String,
    modified: SystemTime,
}

impl ObjectLock {
    /// Remove the object's old artifacts per `retention`, keeping `current`. Returns the removed
    /// paths relative to the storage root, oldest first.
    pub fn garbage_collect(
        &self,
        current: &Artifact,
        retention: &Retention,
    ) -> Result<Vec<String>, StorageError> {
        self.garbage_collect_at(current, retention, SystemTime::now())
    }

    /// [`ObjectLock::garbage_collect`] with an explicit "now", for deterministic callers.
    pub fn garbage_collect_at(
        &self,
        current: &Artifact,
        retention: &Retention,
        now: SystemTime,
    ) -> Result<Vec<String>, StorageError> {
        let dir = self.dir();
        let dir_rel = self.key().dir();
        let read_err = |source| StorageError::Read {
            path: dir_rel.clone(),
            source,
        };
        let entries = match fs::read_dir(&dir) {
            Ok(entries) => entries,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(source) => return Err(read_err(source)),
        };
        let expired = |modified: SystemTime| {
            now.duration_since(modified)
                .is_ok_and(|age| age > retention.ttl)
        };
        let mut candidates = Vec::new();
        let mut stale_temps = Vec::new();
        for entry in entries {
            let entry = entry.map_err(read_err)?;
            let meta = entry.metadata().map_err(read_err)?;
            if !meta.file_type().is_file() {
                continue;
            }
            let Some(name) = entry.file_name().to_str().map(str::to_owned) else {
                continue;
            };
            let modified = meta.modified().map_err(read_err)?;
            if name.starts_with('.') {
                if expired(modified) {
                    stale_temps.push(name);
                }
            } else if name != current.file_name() {
                candidates.push(Candidate { name, modified });
            }
        }
        // Newest first; the current artifact takes the first of the `records` slots.
        candidates.sort_by(|a, b| {
            b.modified
                .cmp(&a.modified)
                .then_with(|| a.name.cmp(&b.name))
        });
        let slots_left = retention.records.saturating_sub(1);
        let mut garbage: Vec<Candidate> = Vec::new();
        for (index, candidate) in candidates.into_iter().enumerate() {
            if index >= slots_left || expired(candidate.modified) {
                garbage.push(candidate);
            }
        }
        garbage.reverse();
        let mut removed = Vec::new();
        for name in garbage.into_iter().map(|c| c.name).chain(stale_temps) {
            let rel = format!("{dir_rel}/{name}");
            match fs::remove_file(dir.join(&name)) {
                Ok(()) => {}
                Err(e) if e.kind() == io::ErrorKind::NotFound => {}
                Err(source) => return Err(StorageError::Remove { path: rel, source }),
            }
            removed.push(rel);
        }
        Ok(removed)
    }
}
