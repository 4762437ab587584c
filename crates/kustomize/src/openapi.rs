//! `openapi: {path: schema.json}`: an OpenAPI v2 document whose
//! `definitions` replace the built-in Kubernetes schema for strategic merge
//! patches (merge keys and strategies of custom kinds; built-in kinds the
//! document does not define lose theirs, as in kustomize). kustomize holds
//! the schema as process-wide state, set when a kustomization declaring it
//! is loaded: it then holds for everything patched afterwards, in bases and
//! overlays alike; the build keeps it the same way (see `build.rs`).
//!
//! The merge step reads definitions through [`Schema::add_definitions`],
//! which follows `$ref`s; properties declared inline (an object's nested
//! `properties`, an array's inline `items`) are first lifted into
//! definitions of their own so that their patch extensions count too, as
//! kustomize's schema walk sees them.

use std::path::Path;

use serde_json::{Map, Value as Json};

use crate::error::Error;
use crate::fsys::Loader;
use crate::smp::Schema;

const DEFINITIONS: &str = "#/definitions/";

/// The schema a kustomization's `openapi` field asks for, or `None` when it
/// names only a built-in version (we have the one built-in table).
pub fn load(
    loader: &Loader,
    kfile: &Path,
    dir: &Path,
    field: &Json,
) -> Result<Option<Schema>, Error> {
    let bad = |path: &Path, message: String| Error::Field {
        path: path.to_path_buf(),
        field: "openapi".into(),
        message,
    };
    let Some(reference) = field.get("path").and_then(Json::as_str) else {
        return Ok(None);
    };
    let path = loader.resolve_file(kfile, dir, "openapi", reference)?;
    let text = loader.read(&path)?;
    let doc: Json = if text.trim_start().starts_with('{') {
        serde_json::from_str(&text).map_err(|e| bad(&path, e.to_string()))?
    } else {
        let docs = crate::yaml::parse_documents(&text).map_err(|source| Error::Yaml {
            path: path.clone(),
            source,
        })?;
        docs.into_iter()
            .flatten()
            .next()
            .map_or(Json::Null, |d| crate::yaml::to_json(&d))
    };
    let Some(definitions) = doc.get("definitions").and_then(Json::as_object) else {
        return Err(bad(&path, "the schema has no definitions".into()));
    };
    let mut flat = Map::new();
    for (name, def) in definitions {
        lift(name, def, &mut flat, 0);
    }
    let mut schema = Schema::empty();
    schema.add_definitions(&Json::Object(flat));
    Ok(Some(schema))
}

/// How deep inline schemas are lifted (a bound against hostile documents).
const MAX_INLINE_DEPTH: usize = 64;

/// Adds `def` as definition `name`, its inline object properties and array
/// items lifted into definitions named after their path.
fn lift(name: &str, def: &Json, out: &mut Map<String, Json>, depth: usize) {
    let mut def = def.clone();
    if depth < MAX_INLINE_DEPTH
        && let Some(props) = def.get_mut("properties").and_then(Json::as_object_mut)
    {
        for (field, prop) in props.iter_mut() {
            let own = format!("{name}/{field}");
            if is_inline_object(prop) {
                lift(&own, prop, out, depth + 1);
                set_ref(prop, &own);
            } else if let Some(items) = prop.get_mut("items")
                && is_inline_object(items)
            {
                let item = format!("{own}[]");
                lift(&item, items, out, depth + 1);
                *items = serde_json::json!({ "$ref": format!("{DEFINITIONS}{item}") });
            } else if let Some(values) = prop.get_mut("additionalProperties")
                && is_inline_object(values)
            {
                let value = format!("{own}{{}}");
                lift(&value, values, out, depth + 1);
                *values = serde_json::json!({ "$ref": format!("{DEFINITIONS}{value}") });
            }
        }
    }
    out.insert(name.to_string(), def);
}

fn is_inline_object(schema: &Json) -> bool {
    schema.get("$ref").is_none() && schema.get("properties").is_some_and(Json::is_object)
}

/// Points a property at its lifted definition, keeping its own extensions.
fn set_ref(prop: &mut Json, name: &str) {
    if let Some(map) = prop.as_object_mut() {
        map.remove("properties");
        map.insert("$ref".into(), Json::String(format!("{DEFINITIONS}{name}")));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn inline_properties_and_items_become_definitions_of_their_own() {
        let def = serde_json::json!({"properties": {"spec": {"type": "object", "properties": {
            "items": {"type": "array", "x-kubernetes-patch-merge-key": "key",
                      "items": {"type": "object", "properties": {"key": {"type": "string"}}}}}}}});
        let mut out = Map::new();
        lift("W", &def, &mut out, 0);
        assert_eq!(
            out["W"]["properties"]["spec"]["$ref"],
            "#/definitions/W/spec"
        );
        let items = &out["W/spec"]["properties"]["items"];
        assert_eq!(items["x-kubernetes-patch-merge-key"], "key");
        assert_eq!(items["items"]["$ref"], "#/definitions/W/spec/items[]");
        assert!(out.contains_key("W/spec/items[]"));
    }
}
