//! source-controller for GitRepository, with Flux's semantics (fluxcd/source-controller
//! `GitRepositoryReconciler`): check out `spec.ref`, package the tree as a normalised tar.gz
//! artifact with `.sourceignore` and `spec.ignore` applied, store it atomically under
//! `--storage-path`, serve it over HTTP on `--storage-addr`, and report it in `status.artifact`
//! with Flux's conditions, reasons and events.
//!
//! The cli calls [`run_blocking`] for `driftless source-controller …`; tests call [`run`] with a
//! pre-bound storage listener and their own shutdown signal.
//!
//! Modules follow the reconcile: [`reconcile`] (gate, draft, summary, one status patch),
//! [`storage`] (the stored artifact as Flux's `reconcileStorage` sees it), [`source`] (credentials
//! and checkout, `reconcileSource`), [`artifact`] (archive, store, GC, `reconcileArtifact`),
//! [`finalize`] (deletion), [`controller`] (watch, predicates, the artifact server); the process
//! around it (admin servers, leader election, shutdown) is `driftless_runtime::process`.
//!
//! Other kinds plug into the same driver ([`reconcile::SourceKind`]): [`helm_repository`]
//! (HelmRepository: the HTTP index as an artifact; its client and the Helm errors) and
//! [`helm_chart`] (HelmChart from a HelmRepository, GitRepository or Bucket), [`oci_repository`]
//! and [`bucket`] (S3-compatible object storage, through `driftless-s3`).

pub mod args;
pub mod artifact;
pub mod bucket;
pub mod controller;
pub mod credentials;
pub mod error;
pub mod finalize;
pub mod helm_chart;
pub mod helm_repository;
pub mod include;
pub mod oci_repository;
pub mod reconcile;
pub mod source;
pub mod storage;
pub mod verify;

pub use args::Args;
pub use controller::{RunError, run, run_blocking};
pub use error::ReconcileError;

/// The controller name: field manager, event reporter, lease name prefix, as Flux spells it.
pub const CONTROLLER_NAME: &str = "source-controller";
