//! Strategic merge patch, driven by the patch metadata of the Kubernetes
//! OpenAPI schema ([`Schema`], generated into `generated.rs` by
//! `cargo xtask generate`).
//!
//! Two appliers live here. `kustomize` is what `kustomize build` does (kyaml's
//! merge walker): only `$patch` is a directive, `$setElementOrder/…` and
//! `$retainKeys` stay in the output as plain fields.

mod generated;
mod kustomize;
mod schema;

pub(crate) use kustomize::smp;
pub use schema::{FieldMeta, Schema, Strategy};
