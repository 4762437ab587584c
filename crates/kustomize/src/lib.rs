//! `kustomize build` in Rust, proven against the real `kustomize` binary
//! (see tests/conformance.rs). [`build`] is what `driftless kustomize build`
//! prints; [`build_with`] adds Flux's settings (a filesystem root, the
//! kustomization generated for plain directories); [`build_flux`] builds a
//! Flux Kustomization's `spec.path` with its overlay fields.

mod build;
mod builtin;
pub mod conformance;
mod crds;
pub mod error;
mod flux;
pub mod fsys;
mod generators;
pub mod kustomization;
pub mod label_selector;
mod nameref;
mod openapi;
mod order;
mod origin;
mod patch;
mod replacements;
pub mod resource;
pub mod selector;
pub mod smp;
mod tconfig;
mod transform;
mod vars;
pub mod yaml;

use std::path::Path;

pub use build::MAX_DEPTH as MAX_KUSTOMIZATION_DEPTH;
pub use error::Error;
pub use flux::{
    FluxBuild, FluxImage, FluxOverlay, FluxPatch, OutputOrder, build_flux, build_flux_documents,
    build_flux_documents_with, set_common_metadata, set_common_metadata_json,
};
pub use fsys::{LoadRestrictions, Options};
pub use kustomization::Selector;

/// Builds the kustomization in `dir` as `kustomize build dir` does and
/// returns the YAML it prints.
pub fn build(dir: &Path) -> Result<String, Error> {
    build_with(dir, &Options::default(), false)
}

/// Builds with explicit options. With `flux_generate`, a directory without a
/// kustomization file gets the one Flux would generate.
pub fn build_with(dir: &Path, options: &Options, flux_generate: bool) -> Result<String, Error> {
    let loader = fsys::Loader::new(options.clone())?;
    let mut builder = build::Builder::new(&loader);
    let resources = if flux_generate && kustomization::find_file(dir).is_none() {
        let real = loader.check_dir(dir)?;
        let k = flux::generate(&loader, &real)?;
        builder.build_generated(&real, &k)?
    } else {
        builder.build_top(dir)?
    };
    Ok(resources
        .iter()
        .map(|r| yaml::emit::to_yaml(&r.node))
        .collect::<Vec<_>>()
        .join("---\n"))
}
