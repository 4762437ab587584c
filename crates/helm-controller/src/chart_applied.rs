//! Whether the HelmChart of `spec.chart` already is what this controller would apply.
//!
//! Every pass of a release reads its HelmChart for the artifact anyway; when the object read
//! already carries the template, the server-side apply is skipped (with a thousand releases
//! the applies, not the Helm work, filled the HelmChart API's request budget). "Carries" is
//! judged from this controller's own managed fields, so a label or spec field it applied
//! before and the template no longer has still leads to an apply that removes it.

use kube::api::DynamicObject;
use serde_json::{Map, Value};

/// Whether applying `template` as `manager` would leave `live` unchanged.
pub fn already_applied(live: &DynamicObject, template: &Value, manager: &str) -> bool {
    let Some(owned) = owned_fields(live, manager) else {
        return false;
    };
    let metadata_matches =
        |field: &str, live_map: Option<&std::collections::BTreeMap<String, String>>| {
            let wanted = template["metadata"][field]
                .as_object()
                .cloned()
                .unwrap_or_default();
            let owned_keys = field_keys(&owned["f:metadata"][format!("f:{field}")]);
            let wanted_keys: Vec<&str> = wanted.keys().map(String::as_str).collect();
            same_keys(&owned_keys, &wanted_keys)
                && wanted
                    .iter()
                    .all(|(k, v)| live_map.and_then(|m| m.get(k)).map(String::as_str) == v.as_str())
        };
    let wanted_spec = template["spec"].as_object().cloned().unwrap_or_default();
    let live_spec = live.data["spec"].as_object().cloned().unwrap_or_default();
    let owned_spec = field_keys(&owned["f:spec"]);
    let spec_matches = wanted_spec.iter().all(|(k, v)| live_spec.get(k) == Some(v))
        && owned_spec.iter().all(|k| wanted_spec.contains_key(*k));
    spec_matches
        && metadata_matches("labels", live.metadata.labels.as_ref())
        && metadata_matches("annotations", live.metadata.annotations.as_ref())
}

/// The fields `manager` owns through Apply (`fieldsV1`), if it has applied this object.
fn owned_fields(live: &DynamicObject, manager: &str) -> Option<Value> {
    live.metadata
        .managed_fields
        .as_ref()?
        .iter()
        .find(|entry| {
            entry.manager.as_deref() == Some(manager) && entry.operation.as_deref() == Some("Apply")
        })
        .and_then(|entry| entry.fields_v1.as_ref())
        .map(|fields| fields.0.clone())
}

/// The field names at one level of a `fieldsV1` set (`f:<name>` keys; `.` is the set itself).
fn field_keys(set: &Value) -> Vec<&str> {
    set.as_object()
        .map(Map::keys)
        .into_iter()
        .flatten()
        .filter_map(|k| k.strip_prefix("f:"))
        .collect()
}

fn same_keys(a: &[&str], b: &[&str]) -> bool {
    a.len() == b.len() && a.iter().all(|k| b.contains(k))
}

#[cfg(test)]
mod tests {
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::{FieldsV1, ManagedFieldsEntry};
    use serde_json::json;

    use super::*;

    fn template() -> Value {
        json!({
            "metadata": {"name": "ns-app", "labels": {"a": "1"}, "annotations": {}},
            "spec": {"chart": "app", "version": "*", "interval": "5m"},
        })
    }

    fn live(spec: Value, labels: Value, owned: Value) -> DynamicObject {
        let mut object: DynamicObject = serde_json::from_value(json!({
            "apiVersion": "source.toolkit.fluxcd.io/v1",
            "kind": "HelmChart",
            "metadata": {"name": "ns-app", "labels": labels},
            "spec": spec,
        }))
        .expect("object");
        object.metadata.managed_fields = Some(vec![ManagedFieldsEntry {
            manager: Some("helm-controller".into()),
            operation: Some("Apply".into()),
            fields_v1: Some(FieldsV1(owned)),
            ..ManagedFieldsEntry::default()
        }]);
        object
    }

    fn owned(spec_keys: &[&str], label_keys: &[&str]) -> Value {
        let set = |keys: &[&str]| {
            Value::Object(keys.iter().map(|k| (format!("f:{k}"), json!({}))).collect())
        };
        json!({"f:metadata": {"f:labels": set(label_keys)}, "f:spec": set(spec_keys)})
    }

    #[test]
    fn a_chart_carrying_the_template_needs_no_apply() {
        let spec = json!({"chart": "app", "version": "*", "interval": "5m", "sourceRef": {}});
        let object = live(
            spec,
            json!({"a": "1", "other": "x"}),
            owned(&["chart", "version", "interval"], &["a"]),
        );
        assert!(already_applied(&object, &template(), "helm-controller"));
    }

    #[test]
    fn a_changed_spec_field_needs_an_apply() {
        let spec = json!({"chart": "app", "version": "1.x", "interval": "5m"});
        let object = live(
            spec,
            json!({"a": "1"}),
            owned(&["chart", "version", "interval"], &["a"]),
        );
        assert!(!already_applied(&object, &template(), "helm-controller"));
    }

    #[test]
    fn a_field_applied_before_and_dropped_from_the_template_needs_an_apply() {
        let spec = json!({"chart": "app", "version": "*", "interval": "5m", "valuesFiles": ["x"]});
        let object = live(
            spec,
            json!({"a": "1"}),
            owned(&["chart", "version", "interval", "valuesFiles"], &["a"]),
        );
        assert!(!already_applied(&object, &template(), "helm-controller"));
        let spec = json!({"chart": "app", "version": "*", "interval": "5m"});
        let object = live(
            spec,
            json!({"a": "1", "gone": "y"}),
            owned(&["chart", "version", "interval"], &["a", "gone"]),
        );
        assert!(!already_applied(&object, &template(), "helm-controller"));
    }

    #[test]
    fn a_chart_another_manager_made_needs_an_apply() {
        let spec = json!({"chart": "app", "version": "*", "interval": "5m"});
        let object = live(
            spec,
            json!({"a": "1"}),
            owned(&["chart", "version", "interval"], &["a"]),
        );
        assert!(!already_applied(&object, &template(), "someone-else"));
    }
}
