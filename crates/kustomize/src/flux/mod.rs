//! What kustomize-controller builds from a Kustomization's `spec.path`: the
//! directory's kustomization file (or the one Flux generates for a plain
//! directory, [`generate`]) edited with the Kustomization's overlay fields
//! ([`overlay`]), built, then `spec.commonMetadata` set on every object.

pub mod generate;
pub mod metadata;
pub mod overlay;

use std::path::Path;

use crate::build::{self, Builder};
use crate::error::Error;
use crate::fsys::{Loader, Options};
use crate::kustomization;
use crate::yaml;

pub use generate::generate;
pub use metadata::{set_common_metadata, set_common_metadata_json};
pub use overlay::{FluxImage, FluxOverlay, FluxPatch};

/// Builds `dir` as kustomize-controller does: its kustomization (generated
/// when the directory has none) with `overlay` applied, then common
/// metadata. Returns the multi-document YAML.
///
/// Flux sets `spec.commonMetadata` after post-build substitution, so a
/// caller that substitutes should leave `overlay`'s common labels and
/// annotations empty here and call [`set_common_metadata_json`] on
/// the substituted objects instead (otherwise a `${var}` in a common label would
/// be substituted, which Flux does not do).
///
/// Remote bases are always refused (Flux with `--no-remote-bases`): the
/// loader never fetches.
pub fn build_flux(dir: &Path, options: &Options, overlay: &FluxOverlay) -> Result<String, Error> {
    Ok(build_flux_documents(dir, options, overlay)?.join("---\n"))
}

/// [`build_flux`] as one YAML document per object, in output order: the
/// text Flux's post-build substitution runs over, object by object.
pub fn build_flux_documents(
    dir: &Path,
    options: &Options,
    overlay: &FluxOverlay,
) -> Result<Vec<String>, Error> {
    build_flux_documents_with(dir, options, overlay, &FluxBuild::default())
}

/// The order of a build's objects when its kustomization has no
/// `sortOptions` (with them, they decide).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum OutputOrder {
    /// The `kustomize` CLI's default: kustomize's legacy kind order.
    #[default]
    Legacy,
    /// The order the resources were read in, depth first: what Flux's
    /// builds print (`flux build kustomization`, kustomize-controller),
    /// because fluxcd/pkg/kustomize leaves krusty's reorder option unset.
    Input,
}

/// How `flux build` differs from the controller's build.
#[derive(Default)]
pub struct FluxBuild<'a> {
    /// The objects' order.
    pub order: OutputOrder,
    /// Files a generated kustomization leaves out (`flux build --ignore-paths`): called with
    /// each `.yaml`/`.yml` file's path relative to the build directory. A directory with a
    /// kustomization file of its own is listed regardless, as Flux lists it.
    pub exclude: Option<&'a dyn Fn(&Path) -> bool>,
}

/// [`build_flux_documents`] with `flux build`'s choices.
pub fn build_flux_documents_with(
    dir: &Path,
    options: &Options,
    overlay: &FluxOverlay,
    build: &FluxBuild<'_>,
) -> Result<Vec<String>, Error> {
    let loader = Loader::new(options.clone())?;
    let real = loader.check_dir(dir)?;
    let (mut k, kfile, existing) = match kustomization::find_file(&real) {
        Some(kfile) => (kustomization::load(&loader, &kfile)?, kfile, true),
        None => {
            let kfile = real.join(kustomization::FILE_NAMES[0]);
            let k = match build.exclude {
                Some(exclude) => generate::generate_excluding(&loader, &real, exclude)?,
                None => generate(&loader, &real)?,
            };
            (k, kfile, false)
        }
    };
    overlay.apply(&mut k, &kfile, &real, existing)?;
    build::refuse_unsupported(&kfile, &k)?;
    if k.kind.as_deref() == Some("Component") {
        return Err(Error::Kustomization {
            path: kfile,
            message: "a Component may only be used under components".into(),
        });
    }
    let mut resources = Builder::new(&loader)
        .keep_input_order(build.order == OutputOrder::Input)
        .build_generated(&real, &k)?;
    set_common_metadata(
        &mut resources,
        &overlay.common_labels,
        &overlay.common_annotations,
    );
    Ok(resources
        .iter()
        .map(|r| yaml::emit::to_yaml(&r.node))
        .collect())
}
