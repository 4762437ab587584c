//! `buildMetadata`: where each object came from (`originAnnotations`), which
//! transformers touched it (`transformerAnnotations`) and the managed-by
//! label (`managedByLabel`). Origins and transformations are tracked on every
//! build; only the top kustomization's `buildMetadata` decides what reaches
//! the output (a base asking for them gets nothing, as in kustomize).

use std::path::{Component, Path, PathBuf};

use serde_json::Value as Json;

use crate::resource::Resource;
use crate::yaml::Node;

/// The kustomize release whose output we reproduce (the pinned oracle); the
/// managed-by label names it.
pub const KUSTOMIZE_VERSION: &str = "v5.8.2";

const ORIGIN: &str = "config.kubernetes.io/origin";
const TRANSFORMATIONS: &str = "alpha.config.kubernetes.io/transformations";
const MANAGED_BY: &str = "app.kubernetes.io/managed-by";

/// Where an object was loaded or generated, or what transformed it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Origin {
    /// Read from this resource file.
    File(PathBuf),
    /// Made or changed by a builtin generator or transformer configured in
    /// `file` (a kustomization or a transformer config).
    Configured {
        file: PathBuf,
        kind: String,
        name: Option<String>,
    },
}

impl Origin {
    pub fn builtin(file: &Path, kind: &str) -> Self {
        Origin::Configured {
            file: file.to_path_buf(),
            kind: kind.to_string(),
            name: None,
        }
    }

    /// The YAML kustomize writes for it, paths relative to the top
    /// kustomization's directory; `indent` prefixes every line but the first.
    fn text(&self, top: &Path, indent: &str) -> String {
        match self {
            Origin::File(path) => format!("path: {}\n", relative(top, path)),
            Origin::Configured { file, kind, name } => {
                let mut out = format!(
                    "configuredIn: {}\n{indent}configuredBy:\n{indent}  apiVersion: builtin\n\
                     {indent}  kind: {kind}\n",
                    relative(top, file)
                );
                if let Some(name) = name {
                    out.push_str(&format!("{indent}  name: {name}\n"));
                }
                out
            }
        }
    }
}

/// Records that `times` transformers of `kind`, configured in `file`, ran
/// over every object present.
pub fn record(res: &mut [Resource], file: &Path, kind: &str, times: usize) {
    for r in res.iter_mut() {
        for _ in 0..times {
            r.transformations.push(Origin::builtin(file, kind));
        }
    }
}

/// What the top kustomization's `buildMetadata` list asks for; unknown
/// entries are ignored, as kustomize ignores them.
#[derive(Debug, Default, Clone, Copy)]
pub struct Wanted {
    origin: bool,
    transformations: bool,
    managed_by: bool,
}

impl Wanted {
    pub fn of(build_metadata: Option<&Json>) -> Self {
        let has = |option: &str| {
            build_metadata
                .and_then(Json::as_array)
                .is_some_and(|list| list.iter().any(|v| v.as_str() == Some(option)))
        };
        Wanted {
            origin: has("originAnnotations"),
            transformations: has("transformerAnnotations"),
            managed_by: has("managedByLabel"),
        }
    }
}

/// Writes the annotations and label asked for, paths relative to `top`.
pub fn annotate(top: &Path, wanted: Wanted, res: &mut [Resource]) {
    for r in res.iter_mut() {
        let origin = r
            .origin
            .as_ref()
            .filter(|_| wanted.origin)
            .map(|o| o.text(top, ""));
        let transformations =
            (wanted.transformations && !r.transformations.is_empty()).then(|| {
                r.transformations
                    .iter()
                    .map(|t| format!("- {}", t.text(top, "  ")))
                    .collect::<String>()
            });
        let Some(obj) = r.node.as_map_mut() else {
            continue;
        };
        let meta = obj.map_entry("metadata");
        if origin.is_some() || transformations.is_some() {
            let annotations = meta.map_entry("annotations");
            if let Some(text) = origin {
                annotations.insert(ORIGIN, Node::string(text));
            }
            if let Some(text) = transformations {
                annotations.insert(TRANSFORMATIONS, Node::string(text));
            }
        }
        if wanted.managed_by {
            meta.map_entry("labels").insert(
                MANAGED_BY,
                Node::string(format!("kustomize-{KUSTOMIZE_VERSION}")),
            );
        }
    }
}

/// `path` relative to the directory `from` (both absolute, resolved).
fn relative(from: &Path, path: &Path) -> String {
    let (a, b): (Vec<Component>, Vec<Component>) =
        (from.components().collect(), path.components().collect());
    let common = a.iter().zip(&b).take_while(|(x, y)| x == y).count();
    let mut parts: Vec<String> = vec!["..".to_string(); a.len() - common];
    parts.extend(
        b[common..]
            .iter()
            .map(|c| c.as_os_str().to_string_lossy().into_owned()),
    );
    parts.join("/")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_are_relative_to_the_top_directory_with_parent_steps() {
        let top = Path::new("/r/o");
        assert_eq!(relative(top, Path::new("/r/o/base/c.yaml")), "base/c.yaml");
        assert_eq!(relative(top, Path::new("/r/lib/l.yaml")), "../lib/l.yaml");
    }

    #[test]
    fn unknown_build_metadata_options_are_ignored() {
        let w = Wanted::of(Some(&serde_json::json!(["bogus", "managedByLabel"])));
        assert!(w.managed_by && !w.origin && !w.transformations);
    }
}
