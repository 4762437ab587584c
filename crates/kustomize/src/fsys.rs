//! File access for a build: every path is resolved (symlinks included) and
//! checked against the filesystem root and kustomize's load restrictions
//! before anything is read, and every file read is size-bounded.

use std::path::{Path, PathBuf};

use crate::error::Error;

/// The largest file a kustomization may read (Flux's per-file limit).
pub const MAX_FILE_BYTES: u64 = 5 * 1024 * 1024;

/// kustomize's `--load-restrictor`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum LoadRestrictions {
    /// Files (patches, generator sources, resource files) must lie under the
    /// kustomization's own directory; other kustomization directories may be
    /// anywhere. The `kustomize build` default.
    #[default]
    RootOnly,
    /// Files may be anywhere under the filesystem root (Flux's setting).
    None,
}

#[derive(Debug, Clone, Default)]
pub struct Options {
    /// Nothing outside this directory is ever read (Flux: the artifact root).
    pub fs_root: Option<PathBuf>,
    pub load_restrictions: LoadRestrictions,
}

/// What a reference in a kustomization names on disk.
pub enum Target {
    File(PathBuf),
    Dir(PathBuf),
}

pub struct Loader {
    pub options: Options,
    fs_root: Option<PathBuf>,
}

fn io(path: &Path, source: std::io::Error) -> Error {
    Error::Io {
        path: path.to_path_buf(),
        source,
    }
}

fn looks_remote(reference: &str) -> bool {
    reference.contains("://")
        || reference.starts_with("git@")
        || reference.contains("?ref=")
        || ["github.com/", "gitlab.com/", "bitbucket.org/"]
            .iter()
            .any(|host| reference.starts_with(host))
}

impl Loader {
    pub fn new(options: Options) -> Result<Self, Error> {
        let fs_root = match &options.fs_root {
            Some(root) => Some(root.canonicalize().map_err(|e| io(root, e))?),
            None => None,
        };
        Ok(Self { options, fs_root })
    }

    /// Resolves `reference` from the kustomization in `kdir` (canonical).
    pub fn resolve(
        &self,
        kfile: &Path,
        kdir: &Path,
        field: &str,
        reference: &str,
    ) -> Result<Target, Error> {
        let joined = kdir.join(reference);
        let real = match joined.canonicalize() {
            Ok(real) => real,
            Err(_) if looks_remote(reference) => {
                return Err(Error::Remote {
                    path: kfile.to_path_buf(),
                    field: field.into(),
                    reference: reference.into(),
                });
            }
            Err(e) => {
                return Err(Error::Field {
                    path: kfile.to_path_buf(),
                    field: field.into(),
                    message: format!("{reference:?}: {e}"),
                });
            }
        };
        let outside = |root: &Path| Error::OutsideRoot {
            path: kfile.to_path_buf(),
            field: field.into(),
            reference: reference.into(),
            root: root.to_path_buf(),
        };
        if let Some(root) = &self.fs_root
            && !real.starts_with(root)
        {
            return Err(outside(root));
        }
        if real.is_dir() {
            return Ok(Target::Dir(real));
        }
        if self.options.load_restrictions == LoadRestrictions::RootOnly && !real.starts_with(kdir) {
            return Err(outside(kdir));
        }
        Ok(Target::File(real))
    }

    /// Resolves a reference that must be a file.
    pub fn resolve_file(
        &self,
        kfile: &Path,
        kdir: &Path,
        field: &str,
        reference: &str,
    ) -> Result<PathBuf, Error> {
        match self.resolve(kfile, kdir, field, reference)? {
            Target::File(path) => Ok(path),
            Target::Dir(path) => Err(Error::Field {
                path: kfile.to_path_buf(),
                field: field.into(),
                message: format!("{} is a directory, not a file", path.display()),
            }),
        }
    }

    /// Checks a directory the build starts from against the filesystem root.
    pub fn check_dir(&self, dir: &Path) -> Result<PathBuf, Error> {
        let real = dir.canonicalize().map_err(|e| io(dir, e))?;
        if let Some(root) = &self.fs_root
            && !real.starts_with(root)
        {
            return Err(Error::OutsideRoot {
                path: dir.to_path_buf(),
                field: "path".into(),
                reference: dir.display().to_string(),
                root: root.clone(),
            });
        }
        Ok(real)
    }

    /// Reads a resolved file, refusing anything over [`MAX_FILE_BYTES`].
    pub fn read(&self, path: &Path) -> Result<String, Error> {
        let bytes = self.read_bytes(path)?;
        String::from_utf8(bytes).map_err(|e| Error::Field {
            path: path.to_path_buf(),
            field: "content".into(),
            message: format!("not UTF-8: {e}"),
        })
    }

    pub fn read_bytes(&self, path: &Path) -> Result<Vec<u8>, Error> {
        use std::io::Read;
        let file = std::fs::File::open(path).map_err(|e| io(path, e))?;
        let mut bytes = Vec::new();
        file.take(MAX_FILE_BYTES + 1)
            .read_to_end(&mut bytes)
            .map_err(|e| io(path, e))?;
        if bytes.len() as u64 > MAX_FILE_BYTES {
            return Err(Error::TooLarge {
                path: path.to_path_buf(),
                limit: MAX_FILE_BYTES,
            });
        }
        Ok(bytes)
    }
}
