//! The Kustomization fields kustomize-controller's generator writes into
//! the kustomization file before building it (fluxcd/pkg/kustomize v1.35.7
//! `Generator`, used by kustomize-controller v1.9.6), with its rules:
//!
//! - `targetNamespace` sets `namespace`, replacing one the file has;
//!   `namePrefix` / `nameSuffix` replace the file's.
//! - `patches` are appended after the file's own patches.
//! - `components` are appended after the file's own; each must be a local
//!   relative path (an absolute path, a URL or a `github.com/...` reference
//!   fails the build); with `ignoreMissingComponents` one that does not exist
//!   under `spec.path` is left out.
//! - `images` merge into the file's entry of the same `name`, or are
//!   appended: a `newName` replaces the entry's, a `newTag` or `digest`
//!   replaces both the entry's tag and digest (they select the version
//!   together), and what the entry has besides (`tagSuffix`) stays. A later
//!   `spec.images` entry for a name merges into the earlier one.
//! - `buildMetadata` replaces the file's; this crate refuses buildMetadata.
//! - An existing kustomization file that lists no `resources` gets
//!   `buildMetadata: [originAnnotations]` from Flux (so kustomize does not
//!   refuse it as empty), which adds `config.kubernetes.io/origin`
//!   annotations to every object; this crate does not produce those
//!   annotations yet, so such a build is refused rather than built
//!   differently.
//!
//! `commonMetadata` is not a kustomize transformer in Flux (see
//! [`super::metadata`]).

use std::collections::BTreeMap;
use std::path::Path;

use crate::error::Error;
use crate::kustomization::{Image, Kustomization, Patch, Selector};

/// The overlay fields of a Flux Kustomization's spec.
#[derive(Debug, Clone, Default)]
pub struct FluxOverlay {
    /// `spec.targetNamespace`.
    pub target_namespace: Option<String>,
    /// `spec.namePrefix`.
    pub name_prefix: Option<String>,
    /// `spec.nameSuffix`.
    pub name_suffix: Option<String>,
    /// `spec.commonMetadata.labels`.
    pub common_labels: BTreeMap<String, String>,
    /// `spec.commonMetadata.annotations`.
    pub common_annotations: BTreeMap<String, String>,
    /// `spec.patches`.
    pub patches: Vec<FluxPatch>,
    /// `spec.images`.
    pub images: Vec<FluxImage>,
    /// `spec.components`, relative to `spec.path`.
    pub components: Vec<String>,
    /// `spec.ignoreMissingComponents`.
    pub ignore_missing_components: bool,
    /// `spec.buildMetadata` (`originAnnotations`, `transformerAnnotations`).
    pub build_metadata: Vec<String>,
}

/// One `spec.patches` entry: a strategic merge or JSON 6902 patch and the
/// objects it targets (without a target, a strategic merge patch finds its
/// object by its own kind and name, as in kustomize).
#[derive(Debug, Clone, Default)]
pub struct FluxPatch {
    pub patch: String,
    pub target: Option<Selector>,
}

/// One `spec.images` entry.
#[derive(Debug, Clone, Default)]
pub struct FluxImage {
    pub name: String,
    pub new_name: Option<String>,
    pub new_tag: Option<String>,
    pub digest: Option<String>,
}

/// Go writes an empty string field as absent.
fn set(value: &Option<String>) -> Option<String> {
    value.clone().filter(|v| !v.is_empty())
}

impl FluxOverlay {
    /// Edits `k` (read from or generated as `kfile` in `dir`) as Flux's
    /// generator edits the kustomization file.
    pub fn apply(
        &self,
        k: &mut Kustomization,
        kfile: &Path,
        dir: &Path,
        existing: bool,
    ) -> Result<(), Error> {
        if existing && k.resources.is_empty() {
            return Err(Error::Unsupported {
                path: kfile.to_path_buf(),
                field: "resources".into(),
                reason: "a kustomization without resources gets buildMetadata: \
                         [originAnnotations] from Flux, and driftless does not \
                         produce origin annotations yet",
            });
        }
        if self.target_namespace.is_some() {
            k.namespace = set(&self.target_namespace);
        }
        if self.name_prefix.is_some() {
            k.name_prefix = set(&self.name_prefix);
        }
        if self.name_suffix.is_some() {
            k.name_suffix = set(&self.name_suffix);
        }
        k.patches.extend(self.patches.iter().map(|p| Patch {
            path: None,
            patch: Some(p.patch.clone()),
            target: p.target.clone(),
            options: None,
        }));
        for component in &self.components {
            if !is_local_relative_path(component) {
                return Err(Error::Field {
                    path: kfile.to_path_buf(),
                    field: "components".into(),
                    message: format!("component path '{component}' must be local and relative"),
                });
            }
            if self.ignore_missing_components && !dir.join(component).exists() {
                continue;
            }
            k.components.push(component.clone());
        }
        for image in &self.images {
            let (new_name, new_tag, digest) = (
                set(&image.new_name),
                set(&image.new_tag),
                set(&image.digest),
            );
            match k.images.iter_mut().find(|i| i.name == image.name) {
                Some(slot) => {
                    if new_name.is_some() {
                        slot.new_name = new_name;
                    }
                    if new_tag.is_some() || digest.is_some() {
                        slot.new_tag = new_tag;
                        slot.digest = digest;
                    }
                }
                None => k.images.push(Image {
                    name: image.name.clone(),
                    new_name,
                    new_tag,
                    digest,
                    tag_suffix: None,
                }),
            }
        }
        if !self.build_metadata.is_empty() {
            // Refused by the build (not implemented), with the field named.
            k.build_metadata = Some(serde_json::json!(self.build_metadata));
        }
        Ok(())
    }
}

/// Flux's `IsLocalRelativePath`: not a remote reference (kustomize's git
/// prefixes, compared case-insensitively, and only when the path is longer
/// than the prefix) and not absolute, with or without `file://`.
pub fn is_local_relative_path(path: &str) -> bool {
    const REMOTE: [&str; 8] = [
        "git::",
        "gh:",
        "ssh://",
        "https://",
        "http://",
        "git@",
        "github.com:",
        "github.com/",
    ];
    let lower = path.to_ascii_lowercase();
    if REMOTE
        .iter()
        .any(|p| p.len() < path.len() && lower.starts_with(p))
    {
        return false;
    }
    let bare = lower.strip_prefix("file://").unwrap_or(&lower);
    !(path.starts_with('/') || bare.starts_with('/'))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn local_relative_paths_follow_fluxs_table() {
        for local in [
            "foobar.yaml",
            "./foobar.yaml",
            "file://foobar.yaml",
            "../comp",
            "gh:",
        ] {
            assert!(is_local_relative_path(local), "{local}");
        }
        for remote in [
            "file:///foobar.yaml",
            "/foobar.yaml",
            "https://github.com/owner/repo",
            "git@github.com:owner/repo",
            "ssh://git@github.com/owner/repo",
            "github.com/owner/repo",
            "HTTPS://example.com/x",
        ] {
            assert!(!is_local_relative_path(remote), "{remote}");
        }
    }

    #[test]
    fn an_image_merges_into_the_files_entry_of_the_same_name() {
        let mut k = Kustomization {
            resources: vec!["a.yaml".into()],
            images: vec![Image {
                name: "nginx".into(),
                new_tag: Some("1.27".into()),
                digest: Some("sha256:old".into()),
                tag_suffix: Some("-alpine".into()),
                ..Image::default()
            }],
            ..Kustomization::default()
        };
        let rename = FluxOverlay {
            images: vec![FluxImage {
                name: "nginx".into(),
                new_name: Some("mirror/nginx".into()),
                ..FluxImage::default()
            }],
            ..FluxOverlay::default()
        };
        rename
            .apply(&mut k, Path::new("k"), Path::new("."), true)
            .expect("applies");
        assert_eq!(k.images[0].new_name.as_deref(), Some("mirror/nginx"));
        assert_eq!(k.images[0].new_tag.as_deref(), Some("1.27"));
        let retag = FluxOverlay {
            images: vec![FluxImage {
                name: "nginx".into(),
                new_tag: Some("1.28".into()),
                ..FluxImage::default()
            }],
            ..FluxOverlay::default()
        };
        retag
            .apply(&mut k, Path::new("k"), Path::new("."), true)
            .expect("applies");
        assert_eq!(k.images[0].new_tag.as_deref(), Some("1.28"));
        assert_eq!(k.images[0].digest, None);
        assert_eq!(k.images[0].tag_suffix.as_deref(), Some("-alpine"));
    }

    #[test]
    fn a_later_image_for_the_same_name_merges_into_the_earlier() {
        let overlay = FluxOverlay {
            images: vec![
                FluxImage {
                    name: "podinfo".into(),
                    new_tag: Some("v1".into()),
                    ..FluxImage::default()
                },
                FluxImage {
                    name: "podinfo".into(),
                    digest: Some("sha256:abc".into()),
                    ..FluxImage::default()
                },
            ],
            ..FluxOverlay::default()
        };
        let mut k = Kustomization {
            resources: vec!["a.yaml".into()],
            ..Kustomization::default()
        };
        overlay
            .apply(&mut k, Path::new("k"), Path::new("."), true)
            .expect("applies");
        assert_eq!(k.images.len(), 1);
        assert_eq!(k.images[0].new_tag, None);
        assert_eq!(k.images[0].digest.as_deref(), Some("sha256:abc"));
    }
}
