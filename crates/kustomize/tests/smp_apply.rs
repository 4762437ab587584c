//! The full strategic merge patch on hand-written cases: each directive and
//! strategy, and the exact patch the two-way diff computes for typical
//! changes (the shapes apimachinery's CreateTwoWayMergePatch produces).

use driftless_kustomize::smp::{Schema, SmpError, apply, diff};
use serde_json::{Value, json};

fn deployment(spec: Value) -> Value {
    json!({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "d"}, "spec": spec})
}

fn pod_spec(containers: Value) -> Value {
    deployment(json!({"template": {"spec": {"containers": containers}}}))
}

fn applied(original: &Value, patch: Value) -> Value {
    apply(original, &patch, &Schema::kubernetes()).expect("the patch applies")
}

#[test]
fn removing_and_reordering_containers_diffs_to_delete_items_and_an_element_order() {
    let original = pod_spec(
        json!([{"name": "a", "image": "1"}, {"name": "b", "image": "1"}, {"name": "c", "image": "1"}]),
    );
    let modified = pod_spec(json!([{"name": "c", "image": "2"}, {"name": "a", "image": "1"}]));
    let patch = diff(&original, &modified, &Schema::kubernetes()).expect("the diff is computed");
    assert_eq!(
        patch,
        json!({"spec": {"template": {"spec": {
            "$setElementOrder/containers": [{"name": "c"}, {"name": "a"}],
            "containers": [{"name": "c", "image": "2"}, {"name": "b", "$patch": "delete"}]
        }}}})
    );
    assert_eq!(applied(&original, patch), modified);
}

#[test]
fn container_ports_merge_by_container_port_and_service_ports_by_port() {
    let original =
        pod_spec(json!([{"name": "a", "ports": [{"containerPort": 80, "name": "http"}]}]));
    let patched = applied(
        &original,
        json!({"spec": {"template": {"spec": {"containers": [
            {"name": "a", "ports": [{"containerPort": 80, "protocol": "TCP"}, {"containerPort": 81}]}
        ]}}}}),
    );
    assert_eq!(
        patched["spec"]["template"]["spec"]["containers"][0]["ports"],
        json!([{"containerPort": 80, "name": "http", "protocol": "TCP"}, {"containerPort": 81}])
    );
    let service = json!({"apiVersion": "v1", "kind": "Service", "metadata": {"name": "s"},
                         "spec": {"ports": [{"port": 80, "name": "a"}]}});
    let patched = applied(
        &service,
        json!({"spec": {"ports": [{"port": 80, "targetPort": 8080}]}}),
    );
    assert_eq!(
        patched["spec"]["ports"],
        json!([{"port": 80, "name": "a", "targetPort": 8080}])
    );
}

#[test]
fn a_replace_item_makes_the_patch_list_replace_the_merging_list() {
    let original = pod_spec(json!([{"name": "a"}, {"name": "b"}]));
    let patched = applied(
        &original,
        json!({"spec": {"template": {"spec": {"containers": [
            {"$patch": "replace"}, {"name": "z"}
        ]}}}}),
    );
    assert_eq!(
        patched["spec"]["template"]["spec"]["containers"],
        json!([{"name": "z"}])
    );
}

#[test]
fn map_directives_replace_or_empty_the_map_and_null_removes_a_field() {
    let original =
        deployment(json!({"selector": {"matchLabels": {"a": "1", "b": "2"}}, "replicas": 2}));
    let replaced = applied(
        &original,
        json!({"spec": {"selector": {"$patch": "replace", "matchLabels": {"c": "3"}}}}),
    );
    assert_eq!(
        replaced["spec"]["selector"],
        json!({"matchLabels": {"c": "3"}})
    );
    let deleted = applied(
        &original,
        json!({"spec": {"selector": {"$patch": "delete"}, "replicas": null}}),
    );
    assert_eq!(deleted["spec"], json!({"selector": {}}));
}

#[test]
fn retain_keys_clears_the_fields_of_a_strategy_it_does_not_list() {
    let original = deployment(
        json!({"strategy": {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": 1}}}),
    );
    let modified = deployment(json!({"strategy": {"type": "Recreate"}}));
    let patch = diff(&original, &modified, &Schema::kubernetes()).expect("the diff is computed");
    assert_eq!(
        patch,
        json!({"spec": {"strategy": {"$retainKeys": ["type"], "rollingUpdate": null, "type": "Recreate"}}})
    );
    // $retainKeys alone removes what it does not name.
    let retained = applied(
        &original,
        json!({"spec": {"strategy": {"$retainKeys": ["type"], "type": "Recreate"}}}),
    );
    assert_eq!(retained, modified);
}

#[test]
fn a_retain_keys_list_missing_a_patched_field_is_an_error() {
    let original = deployment(json!({"strategy": {"type": "Recreate"}}));
    let patch =
        json!({"spec": {"strategy": {"$retainKeys": ["type"], "rollingUpdate": {"maxSurge": 1}}}});
    assert_eq!(
        apply(&original, &patch, &Schema::kubernetes()),
        Err(SmpError::BadRetainKeys("rollingUpdate".into()))
    );
}

#[test]
fn finalizers_merge_as_a_set_with_deletions_and_an_order() {
    let original = json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c", "finalizers": ["a", "b", "c"]}});
    let modified = json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c", "finalizers": ["d", "a"]}});
    let patch = diff(&original, &modified, &Schema::kubernetes()).expect("the diff is computed");
    assert_eq!(
        patch,
        json!({"metadata": {"$deleteFromPrimitiveList/finalizers": ["b", "c"],
                            "$setElementOrder/finalizers": ["d", "a"], "finalizers": ["d"]}})
    );
    assert_eq!(applied(&original, patch), modified);
    let merged = applied(&original, json!({"metadata": {"finalizers": ["z", "a"]}}));
    assert_eq!(
        merged["metadata"]["finalizers"],
        json!(["z", "a", "b", "c"])
    );
}

#[test]
fn lists_without_a_merge_strategy_and_custom_kinds_are_replaced() {
    let original = pod_spec(json!([{"name": "a", "args": ["x", "y"]}]));
    let patched = applied(
        &original,
        json!({"spec": {"template": {"spec": {"containers": [{"name": "a", "args": ["z"]}]}}}}),
    );
    assert_eq!(
        patched["spec"]["template"]["spec"]["containers"][0]["args"],
        json!(["z"])
    );
    let thing = json!({"apiVersion": "x.io/v1", "kind": "T", "spec": {"containers": [{"name": "a", "image": "1"}], "m": {"k": 1}}});
    let patched = applied(
        &thing,
        json!({"spec": {"containers": [{"name": "b"}], "m": {"j": 2}}}),
    );
    assert_eq!(
        patched["spec"],
        json!({"containers": [{"name": "b"}], "m": {"k": 1, "j": 2}})
    );
}

#[test]
fn an_unknown_directive_is_refused() {
    let original = deployment(json!({"replicas": 1}));
    let err = apply(
        &original,
        &json!({"spec": {"$patch": "explode"}}),
        &Schema::kubernetes(),
    );
    assert_eq!(err, Err(SmpError::BadDirective("\"explode\"".into())));
}
