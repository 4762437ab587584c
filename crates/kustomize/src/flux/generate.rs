//! Flux's rule for a directory without a kustomization file: every `.yaml`
//! or `.yml` file below it that holds Kubernetes objects becomes a resource,
//! and a subdirectory with its own kustomization file becomes one resource
//! (its files are not listed). This mirrors kustomize-controller's generator.
//! A directory with nothing to list gets the namespace `_placeholder`, which
//! Flux writes so that kustomize does not refuse an empty kustomization (it
//! reaches objects only if components add some).

use std::path::{Path, PathBuf};

use crate::error::Error;
use crate::fsys::Loader;
use crate::kustomization::{self, Kustomization};

/// The namespace of a generated kustomization that lists no resources.
pub const PLACEHOLDER_NAMESPACE: &str = "_placeholder";

/// The kustomization Flux would generate for `dir`.
pub fn generate(loader: &Loader, dir: &Path) -> Result<Kustomization, Error> {
    generate_excluding(loader, dir, &|_| false)
}

/// [`generate`] leaving out the manifest files `exclude` names (paths relative to `dir`).
pub fn generate_excluding(
    loader: &Loader,
    dir: &Path,
    exclude: &dyn Fn(&Path) -> bool,
) -> Result<Kustomization, Error> {
    let mut resources = Vec::new();
    walk(loader, dir, dir, &mut resources, 0, exclude)?;
    let namespace = resources
        .is_empty()
        .then(|| PLACEHOLDER_NAMESPACE.to_string());
    Ok(Kustomization {
        resources,
        namespace,
        ..Kustomization::default()
    })
}

fn walk(
    loader: &Loader,
    root: &Path,
    dir: &Path,
    out: &mut Vec<String>,
    depth: usize,
    exclude: &dyn Fn(&Path) -> bool,
) -> Result<(), Error> {
    if depth > crate::build::MAX_DEPTH {
        return Err(Error::TooDeep {
            path: dir.to_path_buf(),
            limit: crate::build::MAX_DEPTH,
        });
    }
    let io = |e| Error::Io {
        path: dir.to_path_buf(),
        source: e,
    };
    let mut entries: Vec<PathBuf> = std::fs::read_dir(dir)
        .map_err(io)?
        .map(|e| e.map(|e| e.path()))
        .collect::<Result<_, _>>()
        .map_err(io)?;
    entries.sort();
    for path in entries {
        let relative = path.strip_prefix(root).unwrap_or(&path);
        let rel = format!("./{}", relative.display());
        // Flux walks with lstat (Go's filepath.Walk): a symlink to a
        // directory is not descended into; a symlinked file is read through
        // the loader's root checks like any other.
        let meta = std::fs::symlink_metadata(&path).map_err(|e| Error::Io {
            path: path.clone(),
            source: e,
        })?;
        if meta.is_dir() {
            if kustomization::find_file(&path).is_some() {
                out.push(rel);
            } else {
                walk(loader, root, &path, out, depth + 1, exclude)?;
            }
            continue;
        }
        let ext = path.extension().and_then(|e| e.to_str());
        if !matches!(ext, Some("yaml" | "yml")) || exclude(relative) {
            continue;
        }
        let real = loader.check_dir(&path)?;
        let text = loader.read(&real)?;
        crate::build::parse_objects(&path, &text)?;
        out.push(rel);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fsys::Options;

    #[test]
    fn a_symlinked_directory_is_not_walked_into() {
        let tmp = tempfile::tempdir().expect("tempdir");
        let real = tmp.path().join("real");
        std::fs::create_dir_all(&real).expect("mkdir");
        std::fs::write(
            real.join("cm.yaml"),
            "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: a\n",
        )
        .expect("write");
        std::os::unix::fs::symlink(&real, tmp.path().join("link")).expect("symlink");
        let loader = Loader::new(Options::default()).expect("loader");
        let root = tmp.path().canonicalize().expect("canonical");
        let k = generate(&loader, &root).expect("generates");
        assert_eq!(k.resources, vec!["./real/cm.yaml".to_string()]);
    }

    #[test]
    fn excluded_files_are_left_out_but_a_nested_kustomization_stays() {
        let tmp = tempfile::tempdir().expect("tempdir");
        let cm = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: a\n";
        std::fs::create_dir_all(tmp.path().join("skip")).expect("mkdir");
        std::fs::create_dir_all(tmp.path().join("base")).expect("mkdir");
        std::fs::write(tmp.path().join("keep.yaml"), cm).expect("write");
        std::fs::write(tmp.path().join("skip/cm.yaml"), cm).expect("write");
        std::fs::write(
            tmp.path().join("base/kustomization.yaml"),
            "resources: []\n",
        )
        .expect("write");
        let loader = Loader::new(Options::default()).expect("loader");
        let root = tmp.path().canonicalize().expect("canonical");
        let exclude = |rel: &Path| rel.starts_with("skip") || rel.starts_with("base");
        let k = generate_excluding(&loader, &root, &exclude).expect("generates");
        assert_eq!(k.resources, vec!["./base", "./keep.yaml"]);
    }

    #[test]
    fn an_empty_directory_gets_the_placeholder_namespace() {
        let tmp = tempfile::tempdir().expect("tempdir");
        let loader = Loader::new(Options::default()).expect("loader");
        let k = generate(&loader, tmp.path()).expect("generates");
        assert!(k.resources.is_empty());
        assert_eq!(k.namespace.as_deref(), Some(PLACEHOLDER_NAMESPACE));
    }
}
