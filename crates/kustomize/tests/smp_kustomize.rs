//! The kustomize-compatible strategic merge (`smp::apply_kustomize`) on its
//! own: the schema decides how lists merge, by the type of the object
//! walked. The conformance suite checks the same behaviour end to end
//! against the oracle; these pin the rules the cases rely on.

use driftless_kustomize::smp::{FieldMeta, KustomizeSmpError, Schema, Strategy, apply_kustomize};
use driftless_kustomize::yaml::{Node, emit, parse_documents};

fn node(text: &str) -> Node {
    parse_documents(text)
        .expect("test YAML parses")
        .into_iter()
        .flatten()
        .next()
        .expect("one document")
}

fn patched(object: &str, patch: &str, schema: &Schema) -> String {
    let mut target = node(object);
    apply_kustomize(&mut target, &node(patch), schema).expect("the patch applies");
    emit::to_yaml(&target)
}

#[test]
fn explicit_nulls_of_the_object_are_kept_and_nulls_of_the_patch_remove() {
    let out = patched(
        "kind: T\napiVersion: x/v1\na: null\nc: ~\ne: 1\n",
        "kind: T\napiVersion: x/v1\nd: 1\ne: null\nf: null\n",
        &Schema::kubernetes(),
    );
    assert_eq!(out, "a: null\napiVersion: x/v1\nc: null\nd: 1\nkind: T\n");
}

#[test]
fn ports_merge_by_the_key_of_the_type_they_belong_to() {
    let schema = Schema::kubernetes();
    let container = schema
        .field("io.k8s.api.core.v1.Container", "ports")
        .expect("Container.ports has patch metadata");
    assert_eq!(container.merge_key.as_deref(), Some("containerPort"));
    assert_eq!(container.kustomize_keys(), ["containerPort", "protocol"]);
    let service = schema
        .field("io.k8s.api.core.v1.ServiceSpec", "ports")
        .expect("ServiceSpec.ports has patch metadata");
    assert_eq!(service.merge_key.as_deref(), Some("port"));
    assert_eq!(
        schema.kind("apps/v1", "Deployment").as_deref(),
        Some("io.k8s.api.apps.v1.Deployment")
    );
    assert!(schema.kind("example.com/v1", "Thing").is_none());
}

#[test]
fn a_custom_kind_merges_its_lists_once_the_schema_declares_a_merge_key() {
    let object =
        "apiVersion: x.io/v1\nkind: T\nspec:\n  items:\n  - name: a\n    v: 1\n  - name: b\n";
    let patch = "apiVersion: x.io/v1\nkind: T\nspec:\n  items:\n  - name: a\n    v: 2\n";
    let replaced = patched(object, patch, &Schema::kubernetes());
    assert_eq!(
        replaced,
        "apiVersion: x.io/v1\nkind: T\nspec:\n  items:\n  - name: a\n    v: 2\n"
    );

    let mut schema = Schema::kubernetes();
    schema.add_kind("x.io/v1", "T", "io.x.T");
    schema.add_field(
        "io.x.T",
        "spec",
        FieldMeta {
            type_ref: Some("io.x.TSpec".into()),
            ..FieldMeta::default()
        },
    );
    schema.add_field(
        "io.x.TSpec",
        "items",
        FieldMeta {
            strategy: Strategy::parse("merge"),
            merge_key: Some("name".into()),
            ..FieldMeta::default()
        },
    );
    let merged = patched(object, patch, &schema);
    assert_eq!(
        merged,
        "apiVersion: x.io/v1\nkind: T\nspec:\n  items:\n  - name: a\n    v: 2\n  - name: b\n"
    );
}

#[test]
fn openapi_definitions_declare_kinds_and_merge_keys() {
    let mut schema = Schema::empty();
    schema.add_definitions(&serde_json::json!({
        "io.x.T": {
            "x-kubernetes-group-version-kind": [{"group": "x.io", "version": "v1", "kind": "T"}],
            "properties": {"spec": {"$ref": "#/definitions/io.x.TSpec"}}
        },
        "io.x.TSpec": {
            "properties": {"items": {"type": "array", "items": {"$ref": "#/definitions/io.x.Item"},
                                     "x-kubernetes-patch-strategy": "merge",
                                     "x-kubernetes-patch-merge-key": "name"}}
        }
    }));
    let spec = schema.field("io.x.T", "spec").expect("spec is declared");
    assert_eq!(spec.type_ref.as_deref(), Some("io.x.TSpec"));
    let items = schema
        .field("io.x.TSpec", "items")
        .expect("items is declared");
    assert!(items.strategy.merge);
    assert_eq!(items.type_ref.as_deref(), Some("io.x.Item"));
    assert_eq!(schema.kind("x.io/v1", "T").as_deref(), Some("io.x.T"));
}

#[test]
fn a_patch_turning_a_map_into_a_scalar_is_refused_with_kustomizes_message() {
    let mut target = node("apiVersion: x/v1\nkind: T\nspec:\n  obj:\n    a: b\n");
    let patch = node("apiVersion: x/v1\nkind: T\nspec:\n  obj: scalar\n");
    let err = apply_kustomize(&mut target, &patch, &Schema::kubernetes())
        .expect_err("a map cannot become a scalar");
    assert_eq!(
        err,
        KustomizeSmpError::WrongKind {
            expected: "MappingNode",
            got: "ScalarNode",
            contents: "scalar".into()
        }
    );
    assert_eq!(
        err.to_string(),
        "wrong node kind: expected MappingNode but got ScalarNode: node contents:\nscalar"
    );
}

#[test]
fn retain_keys_and_element_order_stay_as_fields_for_kustomize() {
    let out = patched(
        "apiVersion: apps/v1\nkind: Deployment\nspec:\n  strategy:\n    type: RollingUpdate\n",
        "apiVersion: apps/v1\nkind: Deployment\nspec:\n  strategy:\n    $retainKeys: [type]\n    type: Recreate\n",
        &Schema::kubernetes(),
    );
    assert_eq!(
        out,
        "apiVersion: apps/v1\nkind: Deployment\nspec:\n  strategy:\n    $retainKeys:\n    - type\n    type: Recreate\n"
    );
}
