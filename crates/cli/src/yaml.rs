//! Stable YAML for everything driftless prints or commits.
//!
//! Generated files are compared byte for byte by `cargo xtask generate --check`, so the same input
//! must always give the same text: every object goes through `serde_json::Value` and its map keys
//! are sorted at every depth before serde-saphyr writes it. Sorted keys also happen to put
//! `apiVersion`, `kind`, `metadata`, `spec` in the order people expect.

use serde::Serialize;
use serde_json::{Map, Value};

/// Why objects could not be written as YAML.
#[derive(Debug, thiserror::Error)]
pub enum YamlError {
    /// The object has no JSON form (a map with non-string keys, a failing `Serialize`).
    #[error("converting {what} to JSON: {source}")]
    ToJson {
        what: String,
        #[source]
        source: serde_json::Error,
    },
    /// serde-saphyr refused the value.
    #[error("writing {what} as YAML: {source}")]
    ToYaml {
        what: String,
        #[source]
        source: serde_saphyr::ser::Error,
    },
}

/// `value` with the keys of every map, at every depth, in sorted order.
pub fn sorted(value: Value) -> Value {
    match value {
        Value::Object(map) => {
            let mut entries: Vec<(String, Value)> = map.into_iter().collect();
            entries.sort_by(|a, b| a.0.cmp(&b.0));
            Value::Object(
                entries
                    .into_iter()
                    .map(|(k, v)| (k, sorted(v)))
                    .collect::<Map<String, Value>>(),
            )
        }
        Value::Array(items) => Value::Array(items.into_iter().map(sorted).collect()),
        scalar => scalar,
    }
}

/// One object as a YAML document (no `---` marker), keys sorted.
pub fn document<T: Serialize>(object: &T) -> Result<String, YamlError> {
    let value = serde_json::to_value(object).map_err(|source| YamlError::ToJson {
        what: describe(object),
        source,
    })?;
    serde_saphyr::to_string(&sorted(value)).map_err(|source| YamlError::ToYaml {
        what: describe(object),
        source,
    })
}

/// Objects as a YAML stream, each document introduced by `---` the way `kubectl` and Flux's
/// release manifests write multi-document files.
pub fn stream<T: Serialize>(objects: &[T]) -> Result<String, YamlError> {
    let mut out = String::new();
    for object in objects {
        out.push_str("---\n");
        out.push_str(&document(object)?);
    }
    Ok(out)
}

/// One object as the `flux` CLI prints it: `sigs.k8s.io/yaml` goes through JSON and go-yaml
/// v2, so keys follow v2's order, strings are quoted only when YAML 1.1 would read them as
/// another type (`tag: 6.3.5` stays plain, `'>6.0.0'` takes single quotes) and long scalars
/// fold at column 80. The printer is crates/kustomize's, proven against kustomize, which
/// prints through the same path.
pub fn go_document<T: Serialize>(object: &T) -> Result<String, YamlError> {
    let value = serde_json::to_value(object).map_err(|source| YamlError::ToJson {
        what: describe(object),
        source,
    })?;
    Ok(driftless_kustomize::yaml::emit::to_yaml(
        &driftless_kustomize::yaml::from_json(&value),
    ))
}

/// Objects as the `flux` CLI prints a stream: each [`go_document`] introduced by `---`.
pub fn go_stream<T: Serialize>(objects: &[T]) -> Result<String, YamlError> {
    let mut out = String::new();
    for object in objects {
        out.push_str("---\n");
        out.push_str(&go_document(object)?);
    }
    Ok(out)
}

/// `Kind/name` of a Kubernetes object, for error messages; `object` otherwise.
fn describe<T: Serialize>(object: &T) -> String {
    let value = serde_json::to_value(object).unwrap_or(Value::Null);
    match (value.get("kind"), value.pointer("/metadata/name")) {
        (Some(Value::String(kind)), Some(Value::String(name))) => format!("{kind}/{name}"),
        _ => "object".to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn map_keys_are_sorted_at_every_depth() {
        let value = json!({"b": {"z": 1, "a": [{"q": 1, "p": 2}]}, "a": true});
        let yaml = document(&value).expect("renders");
        assert_eq!(yaml, "a: true\nb:\n  a:\n  - p: 2\n    q: 1\n  z: 1\n");
    }

    #[test]
    fn strings_that_look_like_other_types_stay_strings() {
        let value = json!({"port": "8080", "scrape": "true", "empty": "", "star": "*"});
        let yaml = stream(std::slice::from_ref(&value)).expect("renders");
        let back: Vec<Value> = serde_saphyr::from_multiple(&yaml).expect("parses");
        assert_eq!(back, vec![value]);
    }

    #[test]
    fn every_document_starts_with_a_marker() {
        let yaml = stream(&[json!({"a": 1}), json!({"b": 2})]).expect("renders");
        assert_eq!(yaml, "---\na: 1\n---\nb: 2\n");
    }
}
