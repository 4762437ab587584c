//! Strategic merge patch, driven by the patch metadata of the Kubernetes
//! OpenAPI schema ([`Schema`], generated into `generated.rs` by
//! `cargo xtask generate`).
//!
//! Two appliers live here. `kustomize` is what `kustomize build` does (kyaml's
//! merge walker): only `$patch` is a directive, `$setElementOrder/…` and
//! `$retainKeys` stay in the output as plain fields.

#[rustfmt::skip]
mod generated;
mod kmatch;
mod kustomize;
mod schema;

pub use kustomize::{KustomizeSmpError, smp as apply_kustomize};
pub use schema::{FieldMeta, Schema, Strategy};
