//! `spec.commonMetadata`: not a kustomize transformer in Flux. After the
//! build (and after post-build substitution) kustomize-controller sets its
//! labels and annotations on each object's own `metadata` (fluxcd/pkg/ssa
//! `SetCommonMetadata`), replacing existing keys; selectors and pod
//! templates are not touched.

use std::collections::BTreeMap;

use crate::resource::Resource;
use crate::yaml::{Node, Scalar};

/// Sets `labels` and `annotations` on each object's own metadata, replacing
/// keys it has (fluxcd/pkg/ssa `SetCommonMetadata`).
pub fn set_common_metadata(
    resources: &mut [Resource],
    labels: &BTreeMap<String, String>,
    annotations: &BTreeMap<String, String>,
) {
    for r in resources {
        let Some(object) = r.node.as_map_mut() else {
            continue;
        };
        let metadata = object.map_entry("metadata");
        for (field, pairs) in [("labels", labels), ("annotations", annotations)] {
            if pairs.is_empty() {
                continue;
            }
            let map = metadata.map_entry(field);
            for (key, value) in pairs {
                map.insert(key, Node::Scalar(Scalar::string(value)));
            }
        }
    }
}

/// [`set_common_metadata`] for objects held as JSON (after post-build
/// substitution): non-object values are left alone.
pub fn set_common_metadata_json(
    objects: &mut [serde_json::Value],
    labels: &BTreeMap<String, String>,
    annotations: &BTreeMap<String, String>,
) {
    use serde_json::Value;
    for object in objects {
        let Some(object) = object.as_object_mut() else {
            continue;
        };
        let metadata = object
            .entry("metadata")
            .or_insert_with(|| Value::Object(Default::default()));
        if !metadata.is_object() {
            *metadata = Value::Object(Default::default());
        }
        let Some(metadata) = metadata.as_object_mut() else {
            continue;
        };
        for (field, pairs) in [("labels", labels), ("annotations", annotations)] {
            if pairs.is_empty() {
                continue;
            }
            let map = metadata
                .entry(field)
                .or_insert_with(|| Value::Object(Default::default()));
            if !map.is_object() {
                *map = Value::Object(Default::default());
            }
            if let Some(map) = map.as_object_mut() {
                for (key, value) in pairs {
                    map.insert(key.clone(), Value::String(value.clone()));
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn common_metadata_on_json_touches_only_the_objects_own_metadata() {
        let mut objects = vec![
            serde_json::json!({
                "kind": "Deployment",
                "metadata": { "name": "web", "labels": { "app": "web" } },
                "spec": { "selector": { "matchLabels": { "app": "web" } } }
            }),
            serde_json::json!({ "kind": "ConfigMap", "metadata": { "name": "c" } }),
        ];
        let labels: BTreeMap<String, String> = [("app".to_string(), "flux".to_string())]
            .into_iter()
            .collect();
        let annotations: BTreeMap<String, String> = [("owner".to_string(), "ops".to_string())]
            .into_iter()
            .collect();
        set_common_metadata_json(&mut objects, &labels, &annotations);
        assert_eq!(objects[0]["metadata"]["labels"]["app"], "flux");
        assert_eq!(objects[0]["spec"]["selector"]["matchLabels"]["app"], "web");
        assert_eq!(objects[1]["metadata"]["annotations"]["owner"], "ops");
        assert_eq!(objects[1]["metadata"]["labels"]["app"], "flux");
    }
}
