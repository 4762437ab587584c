//! Rust types for Flux's custom resources.
//!
//! Every kind Flux v2 serves is here at the version Flux serves it, spec and status, with field
//! names, enums, defaults and validation as Flux's CRDs have them, so that an object Flux accepts
//! deserialises here unchanged and [`crds()`] installs CRDs a Flux cluster would recognise.
//! Condition types and reasons, annotations and labels are constants spelled as Flux spells them.
//! The crate does no I/O.

pub mod annotations;
pub mod apply;
pub mod conditions;
pub mod crd;
pub mod helm;
pub mod image;
pub mod kustomize;
pub mod meta;
pub mod notification;
pub mod schema;
pub mod source;

pub use crd::crds;
