//! The server-side apply engine shared by kustomize-controller and helm-controller, mirroring
//! `fluxcd/pkg/ssa`: decode a multi-document set, validate the whole set with a server-side
//! dry-run before changing anything, apply it in Flux's stages, report a change set, record an
//! inventory with Flux's entry ids, prune what left the inventory, and assess health with
//! kstatus rules.
//!
//! One apply, as kustomize-controller runs it:
//!
//! 1. [`decode::decode_yaml`] turns the built YAML into objects;
//! 2. [`ResourceManager::apply_all_staged`] validates and applies them, returning a [`ChangeSet`];
//! 3. [`inventory::from_change_set`] records the new inventory, [`inventory::diff`] finds the
//!    stale entries and [`ResourceManager::delete_stale`] prunes them;
//! 4. [`ResourceManager::wait`] polls the applied objects until kstatus calls them Current.
//!
//! [`ResourceManager::diff_all`] answers what an apply would change, without changing anything
//! (`driftless diff kustomization`).

pub mod apply;
pub mod changeset;
mod cleanup;
pub mod concurrency;
pub mod decode;
pub mod diff;
pub mod error;
pub mod inventory;
pub mod kstatus;
pub mod legacy;
pub mod metadata;
pub mod object;
pub mod options;
pub mod plan;
pub mod prune;
pub mod resolve;
pub mod stage;
pub mod wait;

pub use apply::ResourceManager;
pub use changeset::{Action, ChangeSet, ChangeSetEntry};
pub use error::SsaError;
pub use object::ObjMetadata;
pub use options::{ApplyOptions, Owner};
pub use plan::KnownObjects;
