//! The kustomization file: its fields as kustomize names them, read from
//! kustomization.yaml, kustomization.yml or Kustomization.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::Deserialize;
use serde_json::Value as Json;

use crate::error::Error;
use crate::fsys::Loader;
use crate::yaml::{self, Node};

/// File names kustomize recognises, in the order it looks for them.
pub const FILE_NAMES: [&str; 3] = ["kustomization.yaml", "kustomization.yml", "Kustomization"];

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Kustomization {
    pub api_version: Option<String>,
    pub kind: Option<String>,
    pub metadata: Option<Json>,
    #[serde(default)]
    pub resources: Vec<String>,
    #[serde(default)]
    pub bases: Vec<String>,
    #[serde(default)]
    pub components: Vec<String>,
    pub namespace: Option<String>,
    pub name_prefix: Option<String>,
    pub name_suffix: Option<String>,
    #[serde(default)]
    pub common_labels: BTreeMap<String, String>,
    #[serde(default)]
    pub labels: Vec<Label>,
    #[serde(default)]
    pub common_annotations: BTreeMap<String, String>,
    #[serde(default)]
    pub images: Vec<Image>,
    #[serde(default)]
    pub replicas: Vec<Replica>,
    #[serde(default)]
    pub config_map_generator: Vec<Generator>,
    #[serde(default)]
    pub secret_generator: Vec<Generator>,
    pub generator_options: Option<GeneratorOptions>,
    #[serde(default)]
    pub patches: Vec<Patch>,
    #[serde(default)]
    pub patches_strategic_merge: Vec<String>,
    #[serde(default)]
    pub patches_json6902: Vec<Patch>,
    pub sort_options: Option<SortOptions>,
    #[serde(default)]
    pub replacements: Vec<crate::replacements::Replacement>,
    #[serde(default)]
    pub vars: Vec<crate::vars::Var>,
    /// Builtin transformer configs: file names or inline YAML.
    #[serde(default)]
    pub transformers: Vec<String>,
    /// OpenAPI definitions of custom kinds (field specs from extensions).
    #[serde(default)]
    pub crds: Vec<String>,
    // Fields below are recognised so that using them gives a clear error.
    pub openapi: Option<Json>,
    pub build_metadata: Option<Json>,
    pub helm_charts: Option<Json>,
    pub helm_globals: Option<Json>,
    pub helm_chart_inflation_generator: Option<Json>,
    /// Transformer configuration files (field specs for custom kinds).
    #[serde(default)]
    pub configurations: Vec<String>,
    pub generators: Option<Json>,
    pub validators: Option<Json>,
    /// The legacy name of `images`; kustomize appends its entries to them.
    #[serde(default)]
    pub image_tags: Vec<Image>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Label {
    #[serde(default)]
    pub pairs: BTreeMap<String, String>,
    #[serde(default)]
    pub include_selectors: bool,
    #[serde(default)]
    pub include_templates: bool,
    #[serde(default)]
    pub fields: Vec<crate::builtin::Spec>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Image {
    pub name: String,
    pub new_name: Option<String>,
    pub new_tag: Option<String>,
    pub digest: Option<String>,
    pub tag_suffix: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Replica {
    pub name: String,
    pub count: i64,
}

#[derive(Debug, Default, Deserialize, Clone)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Generator {
    pub name: Option<String>,
    pub namespace: Option<String>,
    pub behavior: Option<String>,
    #[serde(default)]
    pub literals: Vec<String>,
    #[serde(default)]
    pub files: Vec<String>,
    #[serde(default)]
    pub envs: Vec<String>,
    pub env: Option<String>,
    #[serde(rename = "type")]
    pub kind: Option<String>,
    pub options: Option<GeneratorOptions>,
}

#[derive(Debug, Default, Deserialize, Clone)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct GeneratorOptions {
    #[serde(default)]
    pub labels: BTreeMap<String, String>,
    #[serde(default)]
    pub annotations: BTreeMap<String, String>,
    pub disable_name_suffix_hash: Option<bool>,
    pub immutable: Option<bool>,
}

#[derive(Debug, Default, Deserialize, Clone)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Patch {
    pub path: Option<String>,
    pub patch: Option<String>,
    pub target: Option<Selector>,
    pub options: Option<BTreeMap<String, bool>>,
}

#[derive(Debug, Default, Deserialize, Clone)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Selector {
    pub group: Option<String>,
    pub version: Option<String>,
    pub kind: Option<String>,
    pub name: Option<String>,
    pub namespace: Option<String>,
    pub label_selector: Option<String>,
    pub annotation_selector: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct SortOptions {
    pub order: Option<String>,
    pub legacy_sort_options: Option<LegacySortOptions>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct LegacySortOptions {
    #[serde(default)]
    pub order_first: Vec<String>,
    #[serde(default)]
    pub order_last: Vec<String>,
}

/// The kustomization file in `dir`, if there is one.
pub fn find_file(dir: &Path) -> Option<PathBuf> {
    FILE_NAMES
        .iter()
        .map(|name| dir.join(name))
        .find(|path| path.is_file())
}

/// Whether the file sets nothing but its type, as kustomize judges it: a
/// field holding its zero value (empty string, false, 0, null) counts as
/// unset, an empty list or map does not (Go decodes it to a non-nil value).
fn is_empty(json: &Json) -> bool {
    let zero = |v: &Json| match v {
        Json::Null => true,
        Json::Bool(b) => !b,
        Json::String(s) => s.is_empty(),
        Json::Number(n) => n.as_f64() == Some(0.0),
        Json::Array(_) | Json::Object(_) => false,
    };
    match json {
        Json::Object(fields) => fields.iter().all(|(key, value)| match key.as_str() {
            "apiVersion" | "kind" => true,
            "metadata" => match value {
                Json::Object(meta) => meta.values().all(zero),
                other => zero(other),
            },
            _ => zero(value),
        }),
        other => zero(other),
    }
}

/// The kustomization file in `dir`; more than one is an error, as kustomize
/// cannot tell which one is meant.
pub fn find_unique(dir: &Path) -> Result<Option<PathBuf>, Error> {
    let found: Vec<PathBuf> = FILE_NAMES
        .iter()
        .map(|name| dir.join(name))
        .filter(|path| path.is_file())
        .collect();
    match found.as_slice() {
        [] => Ok(None),
        [one] => Ok(Some(one.clone())),
        _ => Err(Error::Kustomization {
            path: dir.to_path_buf(),
            message: "found multiple kustomization files in the directory".into(),
        }),
    }
}

/// Reads and decodes a kustomization file.
pub fn load(loader: &Loader, path: &Path) -> Result<Kustomization, Error> {
    let text = loader.read(path)?;
    let docs = yaml::parse_documents(&text).map_err(|source| Error::Yaml {
        path: path.to_path_buf(),
        source,
    })?;
    let mut node = docs.into_iter().flatten().next().unwrap_or_else(Node::map);
    // kustomize reads kustomization files with YAML 1.1 rules:
    // `commonLabels: {env: on}` is an error there, so it is one here too.
    yaml::resolve::yaml11_booleans(&mut node);
    let json = yaml::to_json(&node);
    if is_empty(&json) {
        return Err(Error::Kustomization {
            path: path.to_path_buf(),
            message: "the kustomization is empty".into(),
        });
    }
    let mut k: Kustomization = serde_json::from_value(json).map_err(|e| Error::Kustomization {
        path: path.to_path_buf(),
        message: e.to_string(),
    })?;
    check_sort_options(path, k.sort_options.as_ref())?;
    let legacy = std::mem::take(&mut k.image_tags);
    k.images.extend(legacy);
    Ok(k)
}

/// kustomize knows two orders, and legacy options only go with legacy.
fn check_sort_options(path: &Path, options: Option<&SortOptions>) -> Result<(), Error> {
    let Some(o) = options else { return Ok(()) };
    let field = |message: String| Error::Field {
        path: path.to_path_buf(),
        field: "sortOptions".into(),
        message,
    };
    match o.order.as_deref() {
        Some("legacy") | None => Ok(()),
        Some("fifo") if o.legacy_sort_options.is_some() => Err(field(
            "legacySortOptions is set but the order is fifo, not legacy".into(),
        )),
        Some("fifo") => Ok(()),
        Some(other) => Err(field(format!(
            "order {other:?} must be one of fifo, legacy"
        ))),
    }
}
