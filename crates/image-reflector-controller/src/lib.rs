//! image-reflector-controller with Flux's semantics (fluxcd/image-reflector-controller):
//! ImageRepository scans a registry's tags every `spec.interval` into a bounded on-disk tag
//! store, and ImagePolicy picks the latest of those tags by semver range, alphabetical or
//! numerical order, after an optional regular-expression filter.
//!
//! Beyond Flux: the tag store has a size cap per repository and a total cap (Flux's BadgerDB
//! grows without bound), and entries leave the store when their ImageRepository is deleted.
//!
//! Modules follow the reconciles: [`image_ref`] (the image name and its canonical form),
//! [`policy`] (tag selection: filter, extract, semver/alphabetical/numerical), [`store`] (the
//! tag store), [`registry`] (tag listing and digests through `driftless-oci`), [`repository`]
//! (the ImageRepository reconcile), [`image_policy`] (the ImagePolicy reconcile), [`reconcile`] (their shared summary, status patch and
//! events), [`controller`]
//! (watches and triggers); [`args`] holds the flags and [`error`] the reasons.

pub mod args;
pub mod controller;
pub mod error;
pub mod image_policy;
pub mod image_ref;
pub mod policy;
pub mod reconcile;
pub mod registry;
pub mod repository;
pub mod store;

pub use args::Args;
pub use controller::{RunError, run, run_blocking};

/// The controller name: field manager, event reporter, lease name prefix, as Flux spells it.
pub const CONTROLLER_NAME: &str = "image-reflector-controller";
