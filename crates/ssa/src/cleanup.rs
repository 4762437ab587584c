//! Flux's metadata cleanup before apply (`ApplyCleanupOptions` as kustomize-controller sets it):
//! drop kubectl's last-applied annotation and Flux v1 leftovers, and hand the fields owned by
//! `kubectl` (Apply and Update), `before-first-apply` (Update) and our own manager's Update entry
//! to our Apply entry, so fields later removed from the source are removed from the cluster.
//! Objects marked `kustomize.toolkit.fluxcd.io/ssa: Merge` are left as they are.

use kube::api::DynamicObject;
use serde_json::{Map, Value, json};

/// Annotations Flux removes from applied objects.
const ANNOTATIONS: &[&str] = &[
    "kubectl.kubernetes.io/last-applied-configuration",
    "kustomize.toolkit.fluxcd.io/checksum",
    "fluxcd.io/sync-checksum",
];
/// Labels Flux removes from applied objects.
const LABELS: &[&str] = &["fluxcd.io/sync-gc-mark"];

/// `(manager, operation)` pairs whose fields are taken over; `None` means our own manager.
fn taken_over(manager: &str, operation: &str, ours: &str) -> bool {
    matches!(
        (manager, operation),
        ("kubectl", "Apply") | ("kubectl", "Update") | ("before-first-apply", "Update")
    ) || (manager == ours && operation == "Update")
}

/// A JSON merge patch that cleans `live`, or None when it is already clean.
pub(crate) fn cleanup_patch(live: &DynamicObject, field_manager: &str) -> Option<Value> {
    let mut metadata = Map::new();
    let null_out = |map: &Option<std::collections::BTreeMap<String, String>>, keys: &[&str]| {
        let present: Map<String, Value> = keys
            .iter()
            .filter(|k| map.as_ref().is_some_and(|m| m.contains_key(**k)))
            .map(|k| (k.to_string(), Value::Null))
            .collect();
        (!present.is_empty()).then_some(Value::Object(present))
    };
    if let Some(patch) = null_out(&live.metadata.annotations, ANNOTATIONS) {
        metadata.insert("annotations".into(), patch);
    }
    if let Some(patch) = null_out(&live.metadata.labels, LABELS) {
        metadata.insert("labels".into(), patch);
    }
    if let Some(fields) = managed_fields(live, field_manager) {
        metadata.insert("managedFields".into(), fields);
    }
    (!metadata.is_empty()).then(|| json!({ "metadata": metadata }))
}

/// The managed-fields list with taken-over entries merged into our Apply entry, or None when no
/// entry is taken over. Subresource entries (status) are never touched.
fn managed_fields(live: &DynamicObject, ours: &str) -> Option<Value> {
    let entries = serde_json::to_value(live.metadata.managed_fields.as_ref()?).ok()?;
    let entries = entries.as_array()?;
    let text = |e: &Value, k: &str| {
        e.get(k)
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_string()
    };
    let is_taken = |e: &Value| {
        text(e, "subresource").is_empty()
            && taken_over(&text(e, "manager"), &text(e, "operation"), ours)
    };
    if !entries.iter().any(is_taken) {
        return None;
    }
    let is_our_apply = |e: &Value| {
        text(e, "manager") == ours
            && text(e, "operation") == "Apply"
            && text(e, "subresource").is_empty()
    };
    let mut fields = Value::Object(Map::new());
    let mut api_version = None;
    for entry in entries.iter().filter(|e| is_taken(e) || is_our_apply(e)) {
        if let Some(f) = entry.get("fieldsV1") {
            union(&mut fields, f);
        }
        if is_our_apply(entry) || api_version.is_none() {
            api_version = entry.get("apiVersion").cloned();
        }
    }
    let mut kept: Vec<Value> = entries
        .iter()
        .filter(|e| !is_taken(e) && !is_our_apply(e))
        .cloned()
        .collect();
    kept.push(json!({
        "manager": ours,
        "operation": "Apply",
        "apiVersion": api_version.unwrap_or(Value::Null),
        "fieldsType": "FieldsV1",
        "fieldsV1": fields,
    }));
    Some(Value::Array(kept))
}

/// Union of two FieldsV1 trees (nested maps whose leaves are `{}`).
fn union(into: &mut Value, from: &Value) {
    let (Some(into), Some(from)) = (into.as_object_mut(), from.as_object()) else {
        return;
    };
    for (key, value) in from {
        match into.get_mut(key) {
            Some(existing) => union(existing, value),
            None => {
                into.insert(key.clone(), value.clone());
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn object(value: Value) -> DynamicObject {
        serde_json::from_value(value).expect("valid object fixture")
    }

    #[test]
    fn a_clean_object_needs_no_patch() {
        let live = object(json!({"apiVersion": "v1", "kind": "ConfigMap",
            "metadata": {"name": "c", "managedFields": [{"manager": "kustomize-controller",
            "operation": "Apply", "apiVersion": "v1", "fieldsType": "FieldsV1",
            "fieldsV1": {"f:data": {"f:a": {}}}}]}}));
        assert_eq!(cleanup_patch(&live, "kustomize-controller"), None);
    }

    #[test]
    fn kubectl_fields_and_annotations_are_handed_to_our_apply_entry() {
        let live = object(json!({"apiVersion": "v1", "kind": "ConfigMap",
        "metadata": {"name": "c",
        "annotations": {"kubectl.kubernetes.io/last-applied-configuration": "{}", "keep": "x"},
        "managedFields": [
            {"manager": "kubectl", "operation": "Apply", "apiVersion": "v1",
             "fieldsType": "FieldsV1", "fieldsV1": {"f:data": {"f:extra": {}}}},
            {"manager": "kustomize-controller", "operation": "Apply", "apiVersion": "v1",
             "fieldsType": "FieldsV1", "fieldsV1": {"f:data": {"f:a": {}}}},
            {"manager": "kube-controller-manager", "operation": "Update", "apiVersion": "v1",
             "fieldsType": "FieldsV1", "fieldsV1": {"f:metadata": {}}}
        ]}}));
        let patch = cleanup_patch(&live, "kustomize-controller").expect("needs cleanup");
        assert_eq!(
            patch["metadata"]["annotations"],
            json!({"kubectl.kubernetes.io/last-applied-configuration": null})
        );
        let fields = patch["metadata"]["managedFields"].as_array().expect("list");
        assert_eq!(fields.len(), 2);
        assert_eq!(fields[0]["manager"], "kube-controller-manager");
        assert_eq!(fields[1]["manager"], "kustomize-controller");
        assert_eq!(
            fields[1]["fieldsV1"],
            json!({"f:data": {"f:a": {}, "f:extra": {}}})
        );
    }
}
