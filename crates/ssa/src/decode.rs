//! Decoding a multi-document YAML set (kustomize build output, rendered charts) into objects, as
//! `ssautil.ReadObjects` does: empty documents are skipped, every other document must be a
//! Kubernetes object with `apiVersion`, `kind` and `metadata.name`.

use kube::api::DynamicObject;
use serde_json::Value;

use crate::error::SsaError;

/// Decodes every document of `yaml`. serde-saphyr's defaults bound alias expansion and reject
/// duplicate keys, so hostile input fails with an error instead of exhausting memory.
pub fn decode_yaml(yaml: &str) -> Result<Vec<DynamicObject>, SsaError> {
    let documents: Vec<Value> =
        serde_saphyr::from_multiple(yaml).map_err(|source| SsaError::Yaml { source })?;
    decode_values(documents)
}

/// Turns JSON values into objects, checking each carries the fields an apply needs.
pub fn decode_values(documents: Vec<Value>) -> Result<Vec<DynamicObject>, SsaError> {
    let mut objects = Vec::new();
    for (index, document) in documents.into_iter().enumerate() {
        if document.is_null() {
            continue;
        }
        let invalid = |message: &str| SsaError::InvalidObject {
            index,
            message: message.to_string(),
        };
        let Some(map) = document.as_object() else {
            return Err(invalid("not a Kubernetes object (expected a mapping)"));
        };
        for field in ["apiVersion", "kind"] {
            if map
                .get(field)
                .and_then(Value::as_str)
                .is_none_or(str::is_empty)
            {
                return Err(invalid(&format!("missing or empty {field}")));
            }
        }
        let has_name = map
            .get("metadata")
            .and_then(|m| m.get("name"))
            .and_then(Value::as_str)
            .is_some_and(|s| !s.is_empty());
        if !has_name {
            return Err(invalid("missing metadata.name"));
        }
        let object: DynamicObject =
            serde_json::from_value(document).map_err(|e| invalid(&e.to_string()))?;
        objects.push(object);
    }
    Ok(objects)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn documents_decode_in_order_and_empty_documents_are_skipped() {
        let yaml = "---\napiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: a\ndata:\n  k: v\n---\n---\napiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: b\n  namespace: x\n";
        let objects = decode_yaml(yaml).expect("valid set");
        assert_eq!(objects.len(), 2);
        assert_eq!(objects[0].metadata.name.as_deref(), Some("a"));
        assert_eq!(
            objects[1].types.as_ref().map(|t| t.kind.as_str()),
            Some("Deployment")
        );
        assert_eq!(objects[1].metadata.namespace.as_deref(), Some("x"));
    }

    #[test]
    fn a_document_without_name_or_kind_is_rejected_with_its_position() {
        let err =
            decode_yaml("apiVersion: v1\nkind: ConfigMap\nmetadata: {}\n").expect_err("no name");
        assert_eq!(err.to_string(), "document 0: missing metadata.name");
        let err =
            decode_yaml("a: 1\n---\napiVersion: v1\nmetadata:\n  name: x\n").expect_err("no kind");
        assert_eq!(err.to_string(), "document 0: missing or empty apiVersion");
    }

    #[test]
    fn broken_yaml_is_an_error_not_a_partial_set() {
        assert!(matches!(
            decode_yaml("apiVersion: v1\nkind: [\n"),
            Err(SsaError::Yaml { .. })
        ));
    }
}
