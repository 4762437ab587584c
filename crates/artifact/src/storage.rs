//! The storage root (`--storage-path`): per-object locking and atomic writes of artifacts.
//!
//! Mirrors source-controller's `Storage`: each write goes to a temp file in the object's own
//! directory, is synced and renamed into place, so a reader (the HTTP server, a crash-restarted
//! controller) sees either the old file or the complete new one. A lock per object serialises
//! reconciles of the same object, in this process and across processes sharing the volume.

use std::fs::{self, File};
use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};

use crate::archive::{ArchiveError, write_tar_gz};
use crate::artifact::Artifact;
use crate::digest::{Digest, DigestAlgorithm, Hasher};
use crate::layout::{ObjectKey, ObjectKeyError, artifact_url, validate_segment};
use crate::sourceignore::IgnoreRules;

/// A storage operation that failed; each variant says which Flux reason it maps to.
#[derive(Debug, thiserror::Error)]
pub enum StorageError {
    /// A kind, namespace, name or file name is not a safe path segment (`InvalidPath`).
    #[error(transparent)]
    InvalidKey(#[from] ObjectKeyError),
    /// An artifact `path` does not have the `<kind>/<namespace>/<name>/<file>` shape (`InvalidPath`).
    #[error("invalid artifact path '{path}'")]
    InvalidPath {
        /// The path as given.
        path: String,
    },
    /// The object directory could not be created (`DirectoryCreationFailed`).
    #[error("creating directory '{path}': {source}")]
    CreateDir {
        /// Absolute directory path.
        path: PathBuf,
        /// The I/O failure.
        source: io::Error,
    },
    /// The per-object lock could not be taken (`AcquireLockFailed`).
    #[error("acquiring lock '{path}': {source}")]
    Lock {
        /// Lock file path.
        path: PathBuf,
        /// The I/O failure.
        source: io::Error,
    },
    /// Writing, syncing or renaming the artifact file failed (`ArchiveOperationFailed`).
    #[error("writing artifact '{path}': {source}")]
    Write {
        /// Artifact path relative to the storage root.
        path: String,
        /// The I/O failure.
        source: io::Error,
    },
    /// The source tree could not be archived (`ArchiveOperationFailed`).
    #[error("archiving into '{path}': {source}")]
    Archive {
        /// Artifact path relative to the storage root.
        path: String,
        /// What went wrong while archiving.
        source: ArchiveError,
    },
    /// The convenience symlink could not be replaced (`SymlinkUpdateFailed`).
    #[error("updating symlink '{path}': {source}")]
    Symlink {
        /// Symlink path relative to the storage root.
        path: String,
        /// The I/O failure.
        source: io::Error,
    },
    /// Reading or listing stored files failed (`ReadOperationFailed` / `StatOperationFailed`).
    #[error("reading '{path}': {source}")]
    Read {
        /// Path relative to the storage root.
        path: String,
        /// The I/O failure.
        source: io::Error,
    },
    /// Removing stored files failed (garbage collection or object deletion).
    #[error("removing '{path}': {source}")]
    Remove {
        /// Path relative to the storage root.
        path: String,
        /// The I/O failure.
        source: io::Error,
    },
}

/// The artifact storage root and the address its files are advertised under.
#[derive(Clone, Debug)]
pub struct Storage {
    root: PathBuf,
    advertised_address: String,
}

impl Storage {
    /// Storage under `root` (`--storage-path`), advertised as `advertised_address`
    /// (`--storage-adv-addr`). The root is created on first write.
    pub fn new(root: impl Into<PathBuf>, advertised_address: impl Into<String>) -> Self {
        Storage {
            root: root.into(),
            advertised_address: advertised_address.into(),
        }
    }

    /// The storage root.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// The advertised address URLs are built from.
    pub fn advertised_address(&self) -> &str {
        &self.advertised_address
    }

    /// The download URL of a relative storage path.
    pub fn url_for(&self, path: &str) -> String {
        artifact_url(&self.advertised_address, path)
    }

    /// Rewrite `artifact.url` from its path, as Flux does on every reconcile so that a changed
    /// `--storage-adv-addr` reaches `status`.
    pub fn set_artifact_url(&self, artifact: &mut Artifact) {
        artifact.url = self.url_for(&artifact.path);
    }

    /// Absolute path of a stored artifact, after checking its `path` has Flux's four-segment
    /// shape with safe segments.
    pub fn local_path(&self, artifact: &Artifact) -> Result<PathBuf, StorageError> {
        let segments: Vec<&str> = artifact.path.split('/').collect();
        let invalid = || StorageError::InvalidPath {
            path: artifact.path.clone(),
        };
        if segments.len() != 4 {
            return Err(invalid());
        }
        for segment in &segments {
            validate_segment("path segment", segment).map_err(|_| invalid())?;
        }
        Ok(segments.iter().fold(self.root.clone(), |p, s| p.join(s)))
    }

    /// True when the artifact's file is present in storage.
    pub fn artifact_exists(&self, artifact: &Artifact) -> bool {
        self.local_path(artifact).is_ok_and(|p| p.is_file())
    }

    /// Recompute the digest of the stored file; Flux does this to detect a file that no longer
    /// matches `status.artifact` (e.g. after a restart on a persistent volume).
    pub fn stored_digest(&self, artifact: &Artifact) -> Result<Digest, StorageError> {
        let path = self.local_path(artifact)?;
        let read_err = |source| StorageError::Read {
            path: artifact.path.clone(),
            source,
        };
        let file = File::open(&path).map_err(read_err)?;
        Digest::compute(DigestAlgorithm::Sha256, file)
            .map(|(d, _)| d)
            .map_err(read_err)
    }

    /// Take the object's lock, blocking until no other reconcile of it holds it.
    ///
    /// The lock is an advisory `flock` on a hidden sibling file of the object directory; such
    /// locks belong to the open file, so they exclude threads of this process as well as other
    /// processes. Call from a blocking context (`spawn_blocking`).
    pub fn lock(&self, key: &ObjectKey) -> Result<ObjectLock, StorageError> {
        let path = self.root.join(key.lock_path());
        if let Some(parent) = path.parent() {
            fs::create_dir_all(parent).map_err(|source| StorageError::CreateDir {
                path: parent.to_path_buf(),
                source,
            })?;
        }
        let lock_err = |source| StorageError::Lock {
            path: path.clone(),
            source,
        };
        let file = fs::OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&path)
            .map_err(lock_err)?;
        file.lock().map_err(lock_err)?;
        Ok(ObjectLock {
            storage: self.clone(),
            key: key.clone(),
            _file: file,
        })
    }

    /// Remove every stored artifact of an object, for its deletion (Flux removes the whole
    /// directory when the finalizer runs). Returns whether anything was there.
    pub fn remove_object(&self, key: &ObjectKey) -> Result<bool, StorageError> {
        let lock = self.lock(key)?;
        let dir = self.root.join(key.dir_path());
        let existed = match fs::remove_dir_all(&dir) {
            Ok(()) => true,
            Err(e) if e.kind() == io::ErrorKind::NotFound => false,
            Err(source) => {
                return Err(StorageError::Remove {
                    path: key.dir(),
                    source,
                });
            }
        };
        let lock_path = self.root.join(key.lock_path());
        drop(lock);
        // A writer that opened the lock file before the unlink still locks the old inode; that
        // only matters across processes, where leader election already keeps one writer.
        match fs::remove_file(&lock_path) {
            Ok(()) => {}
            Err(e) if e.kind() == io::ErrorKind::NotFound => {}
            Err(source) => {
                return Err(StorageError::Remove {
                    path: lock_path.display().to_string(),
                    source,
                });
            }
        }
        Ok(existed)
    }
}

/// Exclusive access to one object's storage directory; every write goes through it.
#[derive(Debug)]
pub struct ObjectLock {
    storage: Storage,
    key: ObjectKey,
    _file: File,
}

impl ObjectLock {
    /// The object this lock guards.
    pub fn key(&self) -> &ObjectKey {
        &self.key
    }

    /// The storage the object lives in.
    pub fn storage(&self) -> &Storage {
        &self.storage
    }

    /// Absolute path of the object's directory.
    pub fn dir(&self) -> PathBuf {
        self.storage.root.join(self.key.dir_path())
    }

    /// Store the bytes `reader` yields as `file_name`, atomically.
    pub fn store_reader(
        &self,
        file_name: &str,
        revision: &str,
        reader: impl Read,
    ) -> Result<Artifact, StorageError> {
        let mut reader = reader;
        self.store_with(file_name, revision, |out| {
            io::copy(&mut reader, out)
                .map(|_| ())
                .map_err(WriteFailure::Io)
        })
    }

    /// Store `bytes` as `file_name`, atomically.
    pub fn store_bytes(
        &self,
        file_name: &str,
        revision: &str,
        bytes: &[u8],
    ) -> Result<Artifact, StorageError> {
        self.store_reader(file_name, revision, bytes)
    }

    /// Archive the tree at `source_dir` (normalised tar.gz, `rules` applied) as `file_name`.
    pub fn store_archive(
        &self,
        file_name: &str,
        revision: &str,
        source_dir: &Path,
        rules: &IgnoreRules,
    ) -> Result<Artifact, StorageError> {
        self.store_with(file_name, revision, |out| {
            write_tar_gz(source_dir, rules, out)
                .map(|_| ())
                .map_err(WriteFailure::Archive)
        })
    }

    /// Point the convenience symlink `link_name` (`latest.tar.gz`, `index.yaml`) at `artifact`,
    /// replacing it atomically, and return the symlink's URL for `status.url`.
    ///
    /// Flux links with an absolute target; a relative one keeps working if the volume is
    /// mounted elsewhere, and the server resolves it the same way.
    pub fn symlink(&self, artifact: &Artifact, link_name: &str) -> Result<String, StorageError> {
        let link_path = self.key.artifact_path(link_name)?;
        let target = self.storage.local_path(artifact)?;
        let file_name = artifact.file_name();
        if target.parent() != Some(self.dir().as_path()) {
            return Err(StorageError::InvalidPath {
                path: artifact.path.clone(),
            });
        }
        let err = |source| StorageError::Symlink {
            path: link_path.clone(),
            source,
        };
        let tmp = self
            .dir()
            .join(format!(".{link_name}.{}.tmp", std::process::id()));
        let _ = fs::remove_file(&tmp);
        std::os::unix::fs::symlink(file_name, &tmp).map_err(err)?;
        fs::rename(&tmp, self.dir().join(link_name)).map_err(err)?;
        Ok(self.storage.url_for(&link_path))
    }

    fn store_with(
        &self,
        file_name: &str,
        revision: &str,
        write: impl FnOnce(&mut HashingWriter<&mut File>) -> Result<(), WriteFailure>,
    ) -> Result<Artifact, StorageError> {
        let path = self.key.artifact_path(file_name)?;
        let dir = self.dir();
        fs::create_dir_all(&dir).map_err(|source| StorageError::CreateDir {
            path: dir.clone(),
            source,
        })?;
        let io_err = |source| StorageError::Write {
            path: path.clone(),
            source,
        };
        // tempfile creates the file 0600, the mode Flux gives stored artifacts.
        let mut tmp = tempfile::Builder::new()
            .prefix(".")
            .suffix(".tmp")
            .tempfile_in(&dir)
            .map_err(io_err)?;
        let mut out = HashingWriter {
            inner: tmp.as_file_mut(),
            hasher: Hasher::new(DigestAlgorithm::Sha256),
            written: 0,
        };
        write(&mut out).map_err(|failure| match failure {
            WriteFailure::Io(source) => StorageError::Write {
                path: path.clone(),
                source,
            },
            WriteFailure::Archive(source) => StorageError::Archive {
                path: path.clone(),
                source,
            },
        })?;
        out.flush().map_err(io_err)?;
        let (digest, size) = (out.hasher.finish(), out.written);
        tmp.as_file().sync_all().map_err(io_err)?;
        tmp.persist(dir.join(file_name))
            .map_err(|e| io_err(e.error))?;
        // The rename is durable only once the directory entry is synced.
        File::open(&dir)
            .and_then(|d| d.sync_all())
            .map_err(io_err)?;
        let now = jiff::Timestamp::now().as_second();
        Ok(Artifact {
            url: self.storage.url_for(&path),
            path,
            revision: revision.to_owned(),
            digest: digest.to_string(),
            last_update_time: jiff::Timestamp::from_second(now)
                .unwrap_or(jiff::Timestamp::UNIX_EPOCH),
            size: i64::try_from(size).ok(),
            metadata: None,
        })
    }
}

enum WriteFailure {
    Io(io::Error),
    Archive(ArchiveError),
}

/// Counts and hashes what passes through, so the digest is of exactly the stored bytes.
pub(crate) struct HashingWriter<W> {
    inner: W,
    hasher: Hasher,
    written: u64,
}

impl<W: Write> Write for HashingWriter<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let n = self.inner.write(buf)?;
        self.hasher.update(&buf[..n]);
        self.written += n as u64;
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}
