//! `crds`: OpenAPI definition files of custom kinds whose `x-kubernetes-*`
//! property extensions tell kustomize's transformers about the kind's
//! fields, exactly as a `configurations` file would:
//!
//! - `x-kubernetes-object-ref-kind` (with `-api-version`, and optionally
//!   `-name-key`, default `name`): the property names an object of that kind
//!   (a name reference, updated when that object is renamed);
//! - `x-kubernetes-label-selector`: commonLabels reach the property;
//! - `x-kubernetes-annotation`: commonAnnotations reach it;
//! - `x-kubernetes-identity`: read, but our prefix/suffix transformer keeps
//!   kustomize's default field (as for `configurations`).
//!
//! A file is a map from type name (`github.com/acme/v1.Widget`) to
//! `{Schema, Dependencies}`; a type is a kind when its properties include
//! kind, apiVersion and metadata, and the kind is the type name's last
//! dot-separated word. `$ref` properties are followed into the definitions
//! they name.

use std::collections::HashSet;
use std::path::Path;

use serde_json::Value as Json;

use crate::builtin::Spec;
use crate::error::Error;
use crate::fsys::Loader;
use crate::tconfig::{Config, NameReference};

/// How deep `$ref`s are followed; kustomize follows them without a bound
/// (a cycle would never end), we stop at a depth no real schema reaches.
const MAX_REF_DEPTH: usize = 64;

/// The transformer configuration the `crds` files of one kustomization add.
pub fn load(loader: &Loader, kfile: &Path, dir: &Path, files: &[String]) -> Result<Config, Error> {
    let mut out = Config::default();
    for file in files {
        let path = loader.resolve_file(kfile, dir, "crds", file)?;
        let text = loader.read(&path)?;
        let bad = |message: String| Error::Field {
            path: path.clone(),
            field: "crds".into(),
            message: format!("unable to parse open API definition from {file:?}: {message}"),
        };
        // kustomize reads a file starting with `{` as JSON, any other as YAML.
        let definitions: Json = if text.starts_with('{') {
            serde_json::from_str(&text).map_err(|e| bad(e.to_string()))?
        } else {
            let docs = crate::yaml::parse_documents(&text).map_err(|e| bad(e.to_string()))?;
            docs.into_iter()
                .flatten()
                .next()
                .map_or(Json::Null, |d| crate::yaml::to_json(&d))
        };
        let Some(map) = definitions.as_object() else {
            if definitions.is_null() {
                continue;
            }
            return Err(bad("expected a map of type names to definitions".into()));
        };
        for (name, definition) in map {
            if !looks_like_a_kind(schema(definition)) {
                continue;
            }
            let kind = name.rsplit('.').next().unwrap_or(name);
            let mut walk = Walk {
                map,
                kind,
                config: &mut out,
                seen: HashSet::new(),
            };
            walk.definition(name, &mut Vec::new());
        }
    }
    Ok(out)
}

/// A definition's schema: Go's JSON decoder matches `Schema` in any case.
fn schema(definition: &Json) -> Option<&Json> {
    definition.as_object().and_then(|d| {
        d.iter()
            .find(|(k, _)| k.eq_ignore_ascii_case("schema"))
            .map(|(_, v)| v)
    })
}

fn properties(schema: Option<&Json>) -> Option<&serde_json::Map<String, Json>> {
    schema?.get("properties")?.as_object()
}

fn looks_like_a_kind(schema: Option<&Json>) -> bool {
    properties(schema).is_some_and(|p| {
        ["kind", "apiVersion", "metadata"]
            .iter()
            .all(|k| p.contains_key(*k))
    })
}

struct Walk<'a> {
    map: &'a serde_json::Map<String, Json>,
    kind: &'a str,
    config: &'a mut Config,
    /// Definitions on the current `$ref` chain (a cycle stops there).
    seen: HashSet<String>,
}

impl Walk<'_> {
    fn definition(&mut self, name: &str, path: &mut Vec<String>) {
        if path.len() > MAX_REF_DEPTH || !self.seen.insert(name.to_string()) {
            return;
        }
        let map = self.map;
        if let Some(props) = properties(map.get(name).and_then(schema)) {
            for (prop, property) in props {
                path.push(prop.clone());
                self.property(property, path);
                path.pop();
            }
        }
        self.seen.remove(name);
    }

    fn property(&mut self, property: &Json, path: &mut Vec<String>) {
        // Extensions count only with a string value (kustomize's GetString).
        let ext = |key: &str| property.get(key).and_then(Json::as_str);
        let spec = |path: &[String]| Spec {
            kind: Some(self.kind.to_string()),
            path: path.join("/"),
            ..Spec::default()
        };
        if ext("x-kubernetes-annotation").is_some() {
            self.config.common_annotations.push(spec(path));
        }
        if ext("x-kubernetes-label-selector").is_some() {
            self.config.common_labels.push(spec(path));
        }
        if ext("x-kubernetes-identity").is_some() {
            self.config.name_prefix.push(spec(path));
        }
        if ext("x-kubernetes-object-ref-api-version").is_some()
            && let Some(kind) = ext("x-kubernetes-object-ref-kind")
        {
            let key = ext("x-kubernetes-object-ref-name-key").unwrap_or("name");
            let mut at = path.clone();
            at.push(key.to_string());
            self.config.name_reference.push(NameReference {
                kind: kind.to_string(),
                field_specs: vec![spec(&at)],
            });
        }
        if let Some(target) = property.get("$ref").and_then(Json::as_str) {
            self.definition(target, path);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(definitions: Json) -> Config {
        let dir = tempfile::tempdir().expect("temp dir");
        let real = dir.path().canonicalize().expect("canonical");
        std::fs::write(real.join("crd.json"), definitions.to_string()).expect("write");
        let loader = Loader::new(Default::default()).expect("loader");
        load(
            &loader,
            &real.join("kustomization.yaml"),
            &real,
            &["crd.json".into()],
        )
        .expect("crds load")
    }

    #[test]
    fn a_ref_cycle_between_definitions_ends() {
        let c = config(serde_json::json!({
            "a.v1.Loop": {"Schema": {"properties": {
                "kind": {}, "apiVersion": {}, "metadata": {},
                "spec": {"$ref": "a.v1.Spec"}}}},
            "a.v1.Spec": {"Schema": {"properties": {
                "self": {"$ref": "a.v1.Spec"},
                "sel": {"x-kubernetes-label-selector": ""}}}}
        }));
        assert!(!c.common_labels.is_empty());
        assert!(
            c.common_labels
                .iter()
                .all(|s| s.kind.as_deref() == Some("Loop"))
        );
    }

    #[test]
    fn extensions_without_a_string_value_are_ignored() {
        let c = config(serde_json::json!({
            "a.v1.W": {"schema": {"properties": {
                "kind": {}, "apiVersion": {}, "metadata": {},
                "sel": {"x-kubernetes-label-selector": true}}}}
        }));
        assert!(c.common_labels.is_empty());
    }
}
