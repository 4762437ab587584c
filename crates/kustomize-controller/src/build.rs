//! From artifact to manifests, in Flux's order: download and verify the artifact into a temp
//! dir, resolve `spec.path` inside it (never outside), build it with Flux's overlay
//! (a kustomization generated for plain directories; targetNamespace, namePrefix/Suffix,
//! commonMetadata, patches, images, components), then per object decrypt (SOPS) and substitute
//! (`postBuild`). The result is the YAML documents to apply.

use std::path::{Path, PathBuf};

use driftless_api::kustomize::Kustomization;
use driftless_api::meta::Artifact;
use driftless_artifact::Fetcher;
use driftless_kustomize::{FluxBuild, LoadRestrictions, Options, OutputOrder};

use crate::error::ReconcileError;

pub mod decrypt;
pub mod overlay;
pub mod postbuild;

/// A fetched and extracted artifact; the directory goes away when this is dropped.
pub struct Workspace {
    dir: tempfile::TempDir,
}

impl Workspace {
    /// The artifact's root directory.
    pub fn root(&self) -> &Path {
        self.dir.path()
    }
}

/// Downloads `artifact`, checks its digest and extracts it into a fresh temp dir.
pub async fn fetch(fetcher: &Fetcher, artifact: &Artifact) -> Result<Workspace, ReconcileError> {
    let dir = tempfile::Builder::new()
        .prefix("kustomization-")
        .tempdir()
        .map_err(|e| ReconcileError::Client {
            message: format!("failed to create a temp dir for the artifact: {e}"),
        })?;
    fetcher
        .fetch(&artifact.url, &artifact.digest, dir.path())
        .await
        .map_err(|source| ReconcileError::Fetch {
            revision: artifact.revision.clone(),
            source,
        })?;
    Ok(Workspace { dir })
}

/// `spec.path` resolved inside `root`: `..` and symlinks may not lead out of the artifact.
pub fn resolve_path(root: &Path, path: Option<&str>) -> Result<PathBuf, ReconcileError> {
    let written = path.unwrap_or("./");
    let not_found = || ReconcileError::PathNotFound {
        path: written.to_owned(),
    };
    let root = root.canonicalize().map_err(|_| not_found())?;
    let relative = written.trim_start_matches('/');
    let joined = root.join(relative);
    let real = joined.canonicalize().map_err(|_| not_found())?;
    if !real.starts_with(&root) || !real.is_dir() {
        return Err(not_found());
    }
    Ok(real)
}

/// Builds the kustomization at `dir` as kustomize-controller does: Flux's generated
/// kustomization for plain directories, the overlay fields of `ks`, nothing read outside
/// `root`, remote bases refused. Returns one YAML document per object in Flux's order: the
/// input order (Flux's kustomize options leave reordering off), so decryption and
/// substitution meet objects, and report the first that fails, as Flux does. The apply sorts
/// objects into its stages itself, so this order never changes what is applied when.
pub fn kustomize(
    ks: &Kustomization,
    root: &Path,
    dir: &Path,
) -> Result<Vec<String>, ReconcileError> {
    let options = Options {
        fs_root: Some(root.to_path_buf()),
        load_restrictions: LoadRestrictions::None,
    };
    let overlay = overlay::from_spec(&ks.spec);
    let flux = FluxBuild {
        order: OutputOrder::Input,
        exclude: None,
    };
    driftless_kustomize::build_flux_documents_with(dir, &options, &overlay, &flux)
        .map_err(|source| ReconcileError::Build { source })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_path_may_not_leave_the_artifact() {
        let root = tempfile::tempdir().expect("tempdir");
        std::fs::create_dir_all(root.path().join("apps/prod")).expect("mkdir");
        let outside = tempfile::tempdir().expect("tempdir");
        #[cfg(unix)]
        std::os::unix::fs::symlink(outside.path(), root.path().join("escape")).expect("symlink");
        assert!(resolve_path(root.path(), Some("./apps/prod")).is_ok());
        assert!(resolve_path(root.path(), None).is_ok());
        assert!(resolve_path(root.path(), Some("/apps")).is_ok());
        for bad in ["../", "./apps/../../", "./missing", "./escape"] {
            let err = resolve_path(root.path(), Some(bad)).expect_err(bad);
            assert_eq!(
                err.to_string(),
                format!("kustomization path not found: {bad}")
            );
        }
    }
}

#[cfg(test)]
mod flux_build_tests {
    #[test]
    fn a_kustomization_file_at_the_artifact_root_builds_its_resources() {
        let root = tempfile::tempdir().expect("tempdir");
        std::fs::write(
            root.path().join("kustomization.yaml"),
            "resources:\n- cm.yaml\n",
        )
        .expect("write");
        std::fs::write(
            root.path().join("cm.yaml"),
            "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: app\n",
        )
        .expect("write");
        let ks = driftless_api::kustomize::Kustomization::new("apps", Default::default());
        let dir = super::resolve_path(root.path(), Some("./")).expect("path");
        let docs = super::kustomize(&ks, root.path(), &dir).expect("builds");
        assert_eq!(docs.len(), 1);
    }
}
