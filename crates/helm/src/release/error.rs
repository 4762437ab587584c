//! Errors of release storage and actions; the messages Helm users see keep Helm's wording.

/// What went wrong storing a release or running an action.
#[derive(Debug, thiserror::Error)]
pub enum ReleaseError {
    #[error("encoding release {name:?}: {message}")]
    Encode { name: String, message: String },
    #[error("failed to decode data {key:?}: {message}")]
    Decode { key: String, message: String },
    /// The storage backend (the Kubernetes API) failed.
    #[error("{op}: {message}")]
    Storage { op: &'static str, message: String },
    #[error("release: not found")]
    NotFound,
    #[error("{name:?} has no deployed releases")]
    NoDeployedReleases { name: String },
    #[error("release: already exists")]
    AlreadyExists,
    /// Helm's wording: a previous operation left the release pending.
    #[error("another operation (install/upgrade/rollback) is in progress")]
    Pending,
    #[error("cannot re-use a name that is still in use")]
    NameInUse,
    #[error("release name is invalid: {0}")]
    InvalidName(String),
    #[error("the release named {0:?} is already deleted")]
    AlreadyDeleted(String),
    #[error("release has no {0} version")]
    NoVersion(String),
    /// A rendered manifest or hook that cannot be read.
    #[error("{0}")]
    Manifest(String),
    /// A cluster operation failed (apply, delete, a hook).
    #[error("{0}")]
    Cluster(String),
    /// An action failed; the release was recorded with status `failed`.
    #[error("{0}")]
    Failed(String),
}
