//! Flux-compatible artifacts: the files source-controller stores, serves and every consumer fetches.
//!
//! The crate mirrors the artifact contract of Flux's source-controller (`fluxcd/pkg/artifact` and
//! `fluxcd/pkg/tar`): the storage layout under `--storage-path`, normalised tar.gz archives with a
//! content-only sha256 digest, garbage collection by `--artifact-retention-records` and
//! `--artifact-retention-ttl`, the plain HTTP file service on `--storage-addr`, and the consumer
//! side: download with retries, digest verification, then bounded extraction with no path escapes.
//!
//! It has no Kubernetes dependency; controllers convert [`Artifact`] to and from the API type.
//! Filesystem work is blocking (call it from `spawn_blocking`); the server and client are async.
//!
//! Producer side, per reconcile: [`Storage::lock`] the object, [`ObjectLock::store_archive`] (or
//! `store_bytes` / `store_reader`) under the file name [`layout`] gives for the kind, optionally
//! [`ObjectLock::symlink`] `latest.tar.gz`, then [`ObjectLock::garbage_collect`]; on deletion
//! [`Storage::remove_object`]. Serve the root with [`router`] and [`serve`]. Consumer side:
//! [`Fetcher::fetch`] with `status.artifact.url` and `.digest`.

pub mod archive;
pub mod artifact;
pub mod digest;
pub mod extract;
mod extract_guard;
pub mod fetch;
pub mod gc;
pub mod layout;
pub mod server;
pub mod sourceignore;
pub mod storage;
mod tls;

pub use archive::{ArchiveError, write_tar_gz};
pub use artifact::Artifact;
pub use digest::{Digest, DigestAlgorithm, DigestError};
pub use extract::{
    ExtractError, ExtractLimits, ExtractSummary, SymlinkPolicy, extract_tar_gz, extract_verified,
};
pub use fetch::{FetchError, FetchOptions, Fetcher};
pub use gc::Retention;
pub use layout::{ObjectKey, ObjectKeyError};
pub use server::{router, serve};
pub use sourceignore::IgnoreRules;
pub use storage::{ObjectLock, Storage, StorageError};
