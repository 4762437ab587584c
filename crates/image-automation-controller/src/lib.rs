//! image-automation-controller for ImageUpdateAutomation (`image.toolkit.fluxcd.io/v1`), with
//! Flux's semantics: clone the GitRepository's branch, rewrite every setter marker under
//! `spec.update.path` with the latest image of its ImagePolicy, commit with the templated
//! message and push, all without a `git` binary (driftless-git's receive-pack push).
//!
//! Modules follow the reconcile: [`setters`] (marker parsing, line rewriting), [`update`]
//! (the files under the update path and Flux's change set), [`message`] (the commit message
//! template and its data), [`source`] (GitRepository, credentials, ImagePolicies),
//! [`git`] (clone, commit, push on a blocking thread), [`reconcile`] (status and events),
//! [`controller`] (watches); [`args`] holds the flags.

pub mod args;
pub mod controller;
pub mod error;
pub mod git;
pub mod message;
pub mod reconcile;
pub mod setters;
pub mod source;
pub mod update;

pub use args::Args;
pub use controller::{RunError, run, run_blocking};
pub use error::ReconcileError;

/// The controller name: field manager, event reporter, lease name prefix, as Flux spells it.
pub const CONTROLLER_NAME: &str = "image-automation-controller";
