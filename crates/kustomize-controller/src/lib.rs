//! kustomize-controller for Kustomization, with Flux's semantics (fluxcd/kustomize-controller
//! `KustomizationReconciler`): take the artifact of the referenced source, build `spec.path` with
//! Flux's overlay, decrypt and substitute, validate the whole set with a server-side dry-run,
//! apply it in stages, record the inventory, prune what left it, and assess health.
//!
//! Beyond Flux: a source's new artifact and a dependency turning Ready trigger the Kustomizations
//! that wait on them at once (watches with an index), not after a `--requeue-dependency` hop.
//!
//! Modules follow the reconcile: [`reconcile`] (gate, draft, summary, one status patch, events),
//! [`source`] (the referenced source and its artifact), [`dependencies`] (`spec.dependsOn`),
//! [`build`] (fetch, overlay, kustomize build, decryption, substitution), [`apply`] (dry-run,
//! staged apply, inventory, prune, health), [`finalize`] (deletion), [`controller`] (watches and
//! triggers); [`args`] holds the flags.

pub mod apply;
pub mod args;
pub mod build;
pub mod cel;
pub mod controller;
pub mod dependencies;
pub mod error;
pub mod finalize;
pub mod impersonation;
pub mod reconcile;
pub mod source;
pub mod steps;

pub use args::Args;
pub use controller::{RunError, run, run_blocking};
pub use error::ReconcileError;

/// The controller name: field manager, event reporter, lease name prefix, as Flux spells it.
pub const CONTROLLER_NAME: &str = "kustomize-controller";
