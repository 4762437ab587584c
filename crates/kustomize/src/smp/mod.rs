//! Strategic merge patch, driven by the patch metadata of the Kubernetes
//! OpenAPI schema ([`Schema`], generated into `generated.rs` by
//! `cargo xtask generate`).
//!
//! Two appliers live here. [`apply_kustomize`] is what `kustomize build`
//! does (kyaml's merge walker, on YAML nodes): only `$patch` is a directive,
//! `$setElementOrder/…` and `$retainKeys` stay in the output as plain
//! fields. [`apply`] is the full Kubernetes semantics (every directive, on
//! JSON values) and [`diff`] computes the two-way patch it applies.

mod apply;
mod diff;
#[rustfmt::skip]
mod generated;
mod kmatch;
mod kustomize;
mod schema;

pub use apply::{SmpError, apply};
pub use diff::diff;
pub use kustomize::{KustomizeSmpError, smp as apply_kustomize};
pub use schema::{FieldMeta, Schema, Strategy};
