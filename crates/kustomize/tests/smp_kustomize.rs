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
