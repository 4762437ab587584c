//! `cargo xtask generate [--check]`: the committed files that are rendered from Rust.
//!
//! CRDs go to `config/crd/bases/` (Flux's file names, so kustomize overlays written for Flux's
//! repositories find them) and to `charts/driftless/crds/` (Helm installs CRDs from there before
//! any template); `deploy/install.yaml` is the whole install in one file, like Flux's release
//! asset. `--check` renders in memory and fails naming every file that differs, so CI catches an
//! API change whose generated files were not regenerated.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

mod chart;
mod smp;
mod tree;

use anyhow::{Context, bail};
use driftless_cli::manifests::{Install, crd_file_name};
use driftless_cli::yaml;

/// Folders whose every file is generated: a file there that the generator no longer writes is
/// stale and gets removed.
const GENERATED_DIRS: [&str; 7] = [
    "config/crd/bases",
    "config/default",
    "config/manager",
    "config/policies",
    "config/rbac",
    "charts/driftless/crds",
    "charts/driftless/templates",
];

/// Where the CRDs are written, one file each.
const CRD_DIRS: [&str; 2] = ["config/crd/bases", "charts/driftless/crds"];

/// One generated file: its path from the repository root and its text.
#[derive(Debug)]
pub struct GeneratedFile {
    pub path: PathBuf,
    pub contents: String,
}

/// Every generated file, rendered in memory.
pub fn files() -> anyhow::Result<Vec<GeneratedFile>> {
    let mut files = Vec::new();
    let mut crd_resources = Vec::new();
    for crd in driftless_api::crds() {
        let name = crd_file_name(&crd);
        let contents = yaml::stream(&[&crd])?;
        for dir in CRD_DIRS {
            files.push(GeneratedFile {
                path: Path::new(dir).join(&name),
                contents: contents.clone(),
            });
        }
        crd_resources.push(format!("bases/{name}"));
    }
    files.push(tree::kustomization("config/crd", &crd_resources));
    let install = Install::default();
    files.extend(tree::config(&install)?);
    files.extend(chart::files()?);
    files.push(GeneratedFile {
        path: PathBuf::from("deploy/install.yaml"),
        contents: install.to_yaml()?,
    });
    files.extend(smp::files(&repo_root())?);
    Ok(files)
}

/// The repository root (xtask lives in `crates/xtask`).
fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// What is wrong with the tree under `root` compared with `files`, one line per file.
fn stale(root: &Path, files: &[GeneratedFile]) -> anyhow::Result<Vec<String>> {
    let mut problems = Vec::new();
    for file in files {
        match std::fs::read_to_string(root.join(&file.path)) {
            Ok(text) if text == file.contents => {}
            Ok(_) => problems.push(format!("{} differs", file.path.display())),
            Err(_) => problems.push(format!("{} is missing", file.path.display())),
        }
    }
    for extra in extra_files(root, files)? {
        problems.push(format!("{} is no longer generated", extra.display()));
    }
    Ok(problems)
}

/// Files in the generated folders that `files` does not contain.
fn extra_files(root: &Path, files: &[GeneratedFile]) -> anyhow::Result<Vec<PathBuf>> {
    let expected: BTreeSet<&Path> = files.iter().map(|f| f.path.as_path()).collect();
    let mut extra = Vec::new();
    for dir in GENERATED_DIRS {
        let Ok(entries) = std::fs::read_dir(root.join(dir)) else {
            continue;
        };
        for entry in entries {
            let path =
                Path::new(dir).join(entry.context("listing a generated folder")?.file_name());
            if !expected.contains(path.as_path()) {
                extra.push(path);
            }
        }
    }
    extra.sort();
    Ok(extra)
}

fn write(root: &Path, files: &[GeneratedFile]) -> anyhow::Result<()> {
    for extra in extra_files(root, files)? {
        std::fs::remove_file(root.join(&extra))
            .with_context(|| format!("removing {}", extra.display()))?;
        eprintln!("removed {}", extra.display());
    }
    for file in files {
        let path = root.join(&file.path);
        if std::fs::read_to_string(&path).is_ok_and(|text| text == file.contents) {
            continue;
        }
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent)
                .with_context(|| format!("creating {}", parent.display()))?;
        }
        std::fs::write(&path, &file.contents)
            .with_context(|| format!("writing {}", file.path.display()))?;
        eprintln!("wrote {}", file.path.display());
    }
    Ok(())
}

pub fn run(check: bool) -> anyhow::Result<()> {
    let root = repo_root();
    let files = files()?;
    if !check {
        return write(&root, &files);
    }
    let problems = stale(&root, &files)?;
    if !problems.is_empty() {
        bail!(
            "generated files are stale; run `cargo xtask generate`:\n  {}",
            problems.join("\n  ")
        );
    }
    eprintln!("{} generated files are up to date", files.len());
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn flux_crd_file_names() -> BTreeSet<String> {
        let reference = repo_root().join("../shared/reference/flux/crds");
        let mut names = BTreeSet::new();
        for controller in std::fs::read_dir(&reference).expect("reference CRDs exist") {
            let controller = controller.expect("entry").path();
            // source-watcher's ArtifactGenerator is not served by driftless (yet).
            if controller.ends_with("source-watcher") {
                continue;
            }
            for file in std::fs::read_dir(controller).expect("controller folder") {
                names.insert(
                    file.expect("entry")
                        .file_name()
                        .to_string_lossy()
                        .into_owned(),
                );
            }
        }
        names
    }

    #[test]
    fn crd_files_carry_the_names_flux_gives_them() {
        let files = files().expect("renders");
        for dir in CRD_DIRS {
            let ours: BTreeSet<String> = files
                .iter()
                .filter(|f| f.path.parent() == Some(Path::new(dir)))
                .filter_map(|f| f.path.file_name())
                .map(|n| n.to_string_lossy().into_owned())
                .collect();
            assert_eq!(ours, flux_crd_file_names(), "{dir}");
        }
    }

    #[test]
    fn the_check_names_missing_changed_and_leftover_files() {
        let root = std::env::temp_dir().join(format!("xtask-generate-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&root);
        let files = files().expect("renders");
        write(&root, &files).expect("writes");
        assert!(stale(&root, &files).expect("checks").is_empty());

        std::fs::write(root.join("deploy/install.yaml"), "changed").expect("edit");
        std::fs::remove_file(root.join(&files[0].path)).expect("remove");
        std::fs::write(root.join("config/crd/bases/old.yaml"), "").expect("leftover");
        let problems = stale(&root, &files).expect("checks");
        assert_eq!(
            problems,
            vec![
                format!("{} is missing", files[0].path.display()),
                "deploy/install.yaml differs".to_owned(),
                "config/crd/bases/old.yaml is no longer generated".to_owned(),
            ]
        );
        write(&root, &files).expect("rewrites");
        assert!(stale(&root, &files).expect("checks").is_empty());
        let _ = std::fs::remove_dir_all(&root);
    }
}
