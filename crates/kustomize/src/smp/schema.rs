//! Where a strategic merge patch learns how to merge a field: the patch
//! metadata of the Kubernetes OpenAPI schema, looked up by the schema type of
//! the object being walked (a Container's `ports` merge by containerPort, a
//! ServiceSpec's by port), never by the field's name alone.
//!
//! [`Schema::kubernetes`] holds the built-in kinds (the table generated from
//! the schema kustomize embeds); custom kinds have no metadata, so their lists
//! are replaced and their maps merged, unless definitions are added with
//! [`Schema::add_definitions`] (kustomize's `openapi:` field) or field by field.

use std::collections::BTreeMap;

use serde_json::Value;

use super::generated;

/// A field's `x-kubernetes-patch-strategy`, which may list several.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Strategy {
    /// Lists merge item by item (by the merge key, or as a set of primitives).
    pub merge: bool,
    /// The value is replaced whole, never merged.
    pub replace: bool,
    /// Fields of the map missing from `$retainKeys` are cleared.
    pub retain_keys: bool,
}

impl Strategy {
    /// Reads `merge`, `replace`, `retainKeys` or a comma-separated mix.
    pub fn parse(text: &str) -> Self {
        let mut s = Self::default();
        for part in text.split(',') {
            match part.trim() {
                "merge" => s.merge = true,
                "replace" => s.replace = true,
                "retainKeys" => s.retain_keys = true,
                _ => {}
            }
        }
        s
    }
}

/// What the schema says about one field of one type.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct FieldMeta {
    pub strategy: Strategy,
    /// `x-kubernetes-patch-merge-key`: the key apimachinery merges list items by.
    pub merge_key: Option<String>,
    /// `x-kubernetes-list-map-keys`: kustomize prefers these to the merge key
    /// when the field also has a patch strategy.
    pub list_map_keys: Vec<String>,
    /// The type of the value: of the object itself, of the list's items, or
    /// (with `map_of`) of every value of a map.
    pub type_ref: Option<String>,
    /// The field is a map whose values all have `type_ref`.
    pub map_of: bool,
}

impl FieldMeta {
    /// The keys kustomize merges list items by: the list-map keys when
    /// there are some, else the merge key.
    pub fn kustomize_keys(&self) -> Vec<String> {
        if !self.list_map_keys.is_empty() {
            return self.list_map_keys.clone();
        }
        self.merge_key.iter().cloned().collect()
    }

    /// The meta of a value inside a `map_of` field.
    fn map_value(&self) -> FieldMeta {
        FieldMeta {
            type_ref: self.type_ref.clone(),
            ..FieldMeta::default()
        }
    }
}

/// Patch metadata by type and field, and the type of each kind.
#[derive(Debug, Clone, Default)]
pub struct Schema {
    builtin: bool,
    types: BTreeMap<String, BTreeMap<String, FieldMeta>>,
    kinds: BTreeMap<(String, String), String>,
}

/// One field in the generated table.
#[derive(Debug)]
pub(super) struct StaticField {
    pub name: &'static str,
    pub type_ref: Option<&'static str>,
    pub map_of: bool,
    pub strategy: &'static str,
    pub merge_key: Option<&'static str>,
    pub list_map_keys: &'static [&'static str],
}

impl StaticField {
    fn meta(&self) -> FieldMeta {
        FieldMeta {
            strategy: Strategy::parse(self.strategy),
            merge_key: self.merge_key.map(str::to_string),
            list_map_keys: self.list_map_keys.iter().map(|k| k.to_string()).collect(),
            type_ref: self.type_ref.map(str::to_string),
            map_of: self.map_of,
        }
    }
}

impl Schema {
    /// The built-in Kubernetes kinds, as kustomize knows them.
    pub fn kubernetes() -> Self {
        Self {
            builtin: true,
            ..Self::default()
        }
    }

    /// No metadata at all: every list is replaced, every map merged.
    pub fn empty() -> Self {
        Self::default()
    }

    /// Declares that objects of `api_version`/`kind` have the type `type_ref`.
    pub fn add_kind(&mut self, api_version: &str, kind: &str, type_ref: &str) {
        self.kinds.insert(
            (api_version.to_string(), kind.to_string()),
            type_ref.to_string(),
        );
    }

    /// Sets the metadata of one field; it takes precedence over the built-in table.
    pub fn add_field(&mut self, type_ref: &str, field: &str, meta: FieldMeta) {
        self.types
            .entry(type_ref.to_string())
            .or_default()
            .insert(field.to_string(), meta);
    }

    /// The type of the objects of a kind, when the schema knows the kind.
    pub fn kind(&self, api_version: &str, kind: &str) -> Option<String> {
        if let Some(t) = self.kinds.get(&(api_version.to_string(), kind.to_string())) {
            return Some(t.clone());
        }
        if !self.builtin {
            return None;
        }
        generated::KINDS
            .binary_search_by(|(v, k, _)| (*v, *k).cmp(&(api_version, kind)))
            .ok()
            .and_then(|i| generated::KINDS.get(i))
            .map(|(_, _, t)| t.to_string())
    }

    /// What the schema says about `field` of `type_ref`. A type ending in
    /// `[*]` stands for the values of a map-of field (see [`Schema::child`]).
    pub fn field(&self, type_ref: &str, field: &str) -> Option<FieldMeta> {
        if let Some(meta) = self.types.get(type_ref).and_then(|t| t.get(field)) {
            return Some(meta.clone());
        }
        if !self.builtin {
            return None;
        }
        let fields = generated::TYPES
            .iter()
            .find_map(|part| {
                part.binary_search_by(|(t, _)| (*t).cmp(type_ref))
                    .ok()
                    .and_then(|i| part.get(i))
            })?
            .1;
        fields
            .binary_search_by(|f| f.name.cmp(field))
            .ok()
            .and_then(|i| fields.get(i))
            .map(StaticField::meta)
    }

    /// The meta of a map entry `key` whose own meta is `parent`: a field of
    /// the parent's type, or the value type of a map-of field.
    pub fn child(&self, parent: Option<&FieldMeta>, key: &str) -> Option<FieldMeta> {
        let parent = parent?;
        if parent.map_of {
            return Some(parent.map_value());
        }
        self.field(parent.type_ref.as_deref()?, key)
    }

    /// The meta of a whole object of `api_version`/`kind`.
    pub fn root(&self, api_version: &str, kind: &str) -> Option<FieldMeta> {
        self.kind(api_version, kind).map(|t| FieldMeta {
            type_ref: Some(t),
            ..FieldMeta::default()
        })
    }

    /// Adds OpenAPI v2 `definitions` (a map of type name to schema): each
    /// definition's `x-kubernetes-group-version-kind` names its kinds, and its
    /// properties' `$ref`, `items`, `additionalProperties` and patch
    /// extensions become field metadata. This is what a kustomization's
    /// `openapi:` schema contributes.
    pub fn add_definitions(&mut self, definitions: &Value) {
        let Some(definitions) = definitions.as_object() else {
            return;
        };
        for (name, def) in definitions {
            for gvk in def
                .get("x-kubernetes-group-version-kind")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
            {
                let text = |k: &str| gvk.get(k).and_then(Value::as_str).unwrap_or_default();
                let api_version = match text("group") {
                    "" => text("version").to_string(),
                    group => format!("{group}/{}", text("version")),
                };
                self.add_kind(&api_version, text("kind"), name);
            }
            let properties = def.get("properties").and_then(Value::as_object);
            for (field, prop) in properties.into_iter().flatten() {
                let meta = field_meta(prop);
                if meta != FieldMeta::default() {
                    self.add_field(name, field, meta);
                }
            }
        }
    }
}

/// The metadata of one property schema, as kustomize reads it.
fn field_meta(prop: &Value) -> FieldMeta {
    let reference = |v: &Value| {
        v.get("$ref")
            .and_then(Value::as_str)
            .map(|r| r.trim_start_matches("#/definitions/").to_string())
    };
    let text = |k: &str| prop.get(k).and_then(Value::as_str);
    let (type_ref, map_of) = if let Some(r) = reference(prop) {
        (Some(r), false)
    } else if let Some(r) = prop.get("items").and_then(reference) {
        (Some(r), false)
    } else if let Some(r) = prop.get("additionalProperties").and_then(reference) {
        (Some(r), true)
    } else {
        (None, false)
    };
    FieldMeta {
        strategy: text("x-kubernetes-patch-strategy")
            .map(Strategy::parse)
            .unwrap_or_default(),
        merge_key: text("x-kubernetes-patch-merge-key").map(str::to_string),
        list_map_keys: prop
            .get("x-kubernetes-list-map-keys")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .filter_map(|k| k.as_str().map(str::to_string))
            .collect(),
        type_ref,
        map_of,
    }
}
