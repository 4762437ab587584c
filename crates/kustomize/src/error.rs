//! Build errors. Each names the file (or kustomization) and the field.

use std::path::PathBuf;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{path}: file is larger than the {limit} byte limit")]
    TooLarge { path: PathBuf, limit: u64 },
    #[error("{path}: invalid YAML: {source}")]
    Yaml {
        path: PathBuf,
        #[source]
        source: crate::yaml::YamlError,
    },
    #[error("{path}: invalid kustomization: {message}")]
    Kustomization { path: PathBuf, message: String },
    #[error("{path}: field {field}: {message}")]
    Field {
        path: PathBuf,
        field: String,
        message: String,
    },
    #[error(
        "{path}: {field}: {reference:?} is outside the kustomization root {root} (security: load restrictions)"
    )]
    OutsideRoot {
        path: PathBuf,
        field: String,
        reference: String,
        root: PathBuf,
    },
    #[error(
        "{path}: {field}: remote resource {reference:?} is refused (remote bases are disabled)"
    )]
    Remote {
        path: PathBuf,
        field: String,
        reference: String,
    },
    #[error("{path}: {field} is not supported: {reason}")]
    Unsupported {
        path: PathBuf,
        field: String,
        reason: &'static str,
    },
    #[error("{path}: no kustomization.yaml, kustomization.yml or Kustomization in the directory")]
    MissingKustomization { path: PathBuf },
    #[error("{path}: cycle: this kustomization is already being built ({chain})")]
    Cycle { path: PathBuf, chain: String },
    #[error("{path}: kustomizations nest deeper than {limit} levels")]
    TooDeep { path: PathBuf, limit: usize },
    #[error("{path}: resource {index}: {message}")]
    Resource {
        path: PathBuf,
        index: usize,
        message: String,
    },
    #[error("may not add resource with an already registered id: {id}")]
    DuplicateId { id: String },
    #[error("{path}: patch: {message}")]
    Patch { path: PathBuf, message: String },
}
