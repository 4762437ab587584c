//! Where the project keeps what it builds and runs outside the repository:
//! Go-built tools (keyed by version), their build logs, and control plane state.

use std::path::{Path, PathBuf};

/// The cache root. `DRIFTLESS_CACHE` overrides the default
/// `$XDG_CACHE_HOME/driftless` (or `~/.cache/driftless`).
#[derive(Debug, Clone)]
pub struct Cache {
    root: PathBuf,
}

impl Cache {
    pub fn new(root: impl Into<PathBuf>) -> Self {
        Self { root: root.into() }
    }

    /// The cache the environment points at.
    pub fn from_env() -> Self {
        if let Some(dir) = std::env::var_os("DRIFTLESS_CACHE").filter(|d| !d.is_empty()) {
            return Self::new(dir);
        }
        let base = std::env::var_os("XDG_CACHE_HOME")
            .filter(|d| !d.is_empty())
            .map(PathBuf::from)
            .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cache")))
            .unwrap_or_else(std::env::temp_dir);
        Self::new(base.join("driftless"))
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    pub fn tools_dir(&self) -> PathBuf {
        self.root.join("tools")
    }

    pub fn go_src_dir(&self) -> PathBuf {
        self.root.join("go-src")
    }

    pub fn logs_dir(&self) -> PathBuf {
        self.root.join("logs")
    }

    pub fn locks_dir(&self) -> PathBuf {
        self.root.join("locks")
    }

    /// State of one named control plane (certificates, etcd data, logs, pids).
    pub fn cluster_dir(&self, name: &str) -> PathBuf {
        self.root.join("clusters").join(name)
    }
}
