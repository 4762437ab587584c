//! The Setters strategy over a directory: every `.yaml`/`.yml` file under `spec.update.path`
//! with a marker is rewritten line by line ([`crate::setters`]), and each change is recorded
//! in Flux's shape, file -> object -> changes, for the commit message template.
//!
//! File keys are paths relative to the update path, as Flux reports them; the contents to
//! commit are keyed by path relative to the repository root.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::Deserialize;

use crate::setters::{Marker, rewrite};

/// Files larger than this are not scanned for markers (a manifest never is this big).
const MAX_FILE_BYTES: u64 = 10 << 20;

/// The identity of the object a change was made in (empty fields when the document has
/// none, e.g. a kustomization.yaml without metadata).
#[derive(Clone, Debug, Default, PartialEq, Eq, PartialOrd, Ord)]
pub struct ObjectIdentifier {
    pub api_version: String,
    pub kind: String,
    pub namespace: String,
    pub name: String,
}

/// One setter applied.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Change {
    pub old_value: String,
    pub new_value: String,
    /// The marker's reference, e.g. `flux-system:podinfo:tag`.
    pub setter: String,
}

/// Flux's `update.Result`: file -> object -> changes.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct UpdateResult {
    pub file_changes: BTreeMap<String, BTreeMap<ObjectIdentifier, Vec<Change>>>,
}

impl UpdateResult {
    pub fn is_empty(&self) -> bool {
        self.file_changes.is_empty()
    }

    /// Every change, file by file (Flux's `Result.Changes()`).
    pub fn changes(&self) -> Vec<Change> {
        self.file_changes
            .values()
            .flat_map(|objects| objects.values().flatten().cloned())
            .collect()
    }

    /// Changes by object whatever the file (Flux's `Result.Objects()`).
    pub fn objects(&self) -> BTreeMap<ObjectIdentifier, Vec<Change>> {
        let mut out: BTreeMap<ObjectIdentifier, Vec<Change>> = BTreeMap::new();
        for objects in self.file_changes.values() {
            for (id, changes) in objects {
                out.entry(id.clone())
                    .or_default()
                    .extend(changes.iter().cloned());
            }
        }
        out
    }
}

/// The rewritten files and what changed in them.
#[derive(Clone, Debug, Default)]
pub struct Updated {
    pub result: UpdateResult,
    /// New contents by path relative to the repository root (slash-separated).
    pub files: BTreeMap<String, Vec<u8>>,
}

/// Why the update could not run.
#[derive(Debug, thiserror::Error)]
pub enum UpdateError {
    #[error("update path '{path}' does not exist in the repository")]
    MissingPath { path: String },
    #[error("{operation} '{path}'")]
    Io {
        operation: &'static str,
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

/// `spec.update.path` made relative to the repository root: `.`, empty components and a
/// leading `/` drop out, and `..` cannot climb above the root (as Flux's secure join).
pub fn clean_update_path(path: Option<&str>) -> String {
    let mut parts: Vec<&str> = Vec::new();
    for component in path.unwrap_or_default().split('/') {
        match component {
            "" | "." => {}
            ".." => {
                parts.pop();
            }
            c => parts.push(c),
        }
    }
    parts.join("/")
}

/// Apply the setters to every YAML file under `root/update_path`; `value_of` gives a
/// marker's new value (None leaves it alone).
pub fn update_with_setters(
    root: &Path,
    update_path: &str,
    value_of: impl Fn(&Marker) -> Option<String>,
) -> Result<Updated, UpdateError> {
    let base = if update_path.is_empty() {
        root.to_path_buf()
    } else {
        root.join(update_path)
    };
    if !base.is_dir() {
        return Err(UpdateError::MissingPath {
            path: update_path.to_string(),
        });
    }
    let mut files = Vec::new();
    collect_yaml(&base, &mut files)?;
    let mut updated = Updated::default();
    for file in files {
        let bytes = std::fs::read(&file).map_err(|source| UpdateError::Io {
            operation: "reading",
            path: file.clone(),
            source,
        })?;
        let Ok(text) = std::str::from_utf8(&bytes) else {
            continue;
        };
        if !text.contains("$imagepolicy") {
            continue;
        }
        let (new_text, changes) = rewrite(text, &value_of);
        if changes.is_empty() {
            continue;
        }
        let relative = |from: &Path| {
            file.strip_prefix(from)
                .map(|p| p.to_string_lossy().replace('\\', "/"))
                .unwrap_or_default()
        };
        let identities = document_identities(text);
        let objects = updated
            .result
            .file_changes
            .entry(relative(&base))
            .or_default();
        for change in changes {
            let id = identities
                .iter()
                .rev()
                .find(|(first_line, _)| *first_line <= change.line)
                .map(|(_, id)| id.clone())
                .unwrap_or_default();
            objects.entry(id).or_default().push(Change {
                setter: change.marker.setter(),
                old_value: change.old_value,
                new_value: change.new_value,
            });
        }
        updated.files.insert(relative(root), new_text.into_bytes());
    }
    Ok(updated)
}

/// YAML files below `dir`, sorted, skipping hidden directories and symlinks.
fn collect_yaml(dir: &Path, out: &mut Vec<PathBuf>) -> Result<(), UpdateError> {
    let io = |operation, path: &Path| {
        let path = path.to_path_buf();
        move |source| UpdateError::Io {
            operation,
            path,
            source,
        }
    };
    let mut entries: Vec<_> = std::fs::read_dir(dir)
        .map_err(io("listing", dir))?
        .collect::<Result<_, _>>()
        .map_err(io("listing", dir))?;
    entries.sort_by_key(|e| e.file_name());
    for entry in entries {
        let path = entry.path();
        let name = entry.file_name().to_string_lossy().into_owned();
        let meta = std::fs::symlink_metadata(&path).map_err(io("inspecting", &path))?;
        if meta.is_dir() && !name.starts_with('.') {
            collect_yaml(&path, out)?;
        } else if meta.is_file()
            && meta.len() <= MAX_FILE_BYTES
            && (name.ends_with(".yaml") || name.ends_with(".yml"))
        {
            out.push(path);
        }
    }
    Ok(())
}

#[derive(Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
struct Identity {
    api_version: String,
    kind: String,
    metadata: IdentityMeta,
}

#[derive(Default, Deserialize)]
#[serde(default)]
struct IdentityMeta {
    name: String,
    namespace: String,
}

/// The first line of each YAML document and the object it declares. A document that is
/// not a mapping, or does not parse, has an empty identity; its lines are still rewritten.
fn document_identities(text: &str) -> Vec<(usize, ObjectIdentifier)> {
    let lines: Vec<&str> = text.split_inclusive('\n').collect();
    let mut starts = vec![0];
    for (i, line) in lines.iter().enumerate() {
        let trimmed = line.trim_end();
        if i > 0 && (trimmed == "---" || trimmed.starts_with("--- ")) {
            starts.push(i);
        }
    }
    let mut out = Vec::new();
    for (n, start) in starts.iter().enumerate() {
        let end = starts.get(n + 1).copied().unwrap_or(lines.len());
        let doc: String = lines[*start..end].concat();
        let identity: Identity = serde_saphyr::from_str::<Option<Identity>>(&doc)
            .ok()
            .flatten()
            .unwrap_or_default();
        out.push((
            *start,
            ObjectIdentifier {
                api_version: identity.api_version,
                kind: identity.kind,
                namespace: identity.metadata.namespace,
                name: identity.metadata.name,
            },
        ));
    }
    out
}

#[cfg(test)]
#[path = "update_tests.rs"]
mod tests;
