//! The validator against what helm v3.22.0 prints for the same schema and values.
use super::*;
use serde_json::json;

fn errors(schema: Json, v: Json) -> Vec<String> {
    let mut e = Vec::new();
    check(&schema, &schema, &v, "", &mut e, 0);
    e
}

#[test]
fn a_wrong_type_names_the_path_and_both_types() {
    let s = json!({"properties": {"replicas": {"type": "integer"}}});
    assert_eq!(
        errors(s, json!({"replicas": "two"})),
        vec!["at '/replicas': got string, want integer"]
    );
}

#[test]
fn a_whole_float_counts_as_an_integer() {
    let s = json!({"properties": {"replicas": {"type": "integer"}}});
    assert!(errors(s, json!({"replicas": 2.0})).is_empty());
}

#[test]
fn missing_required_and_enum_misses_are_reported() {
    let s = json!({"required": ["a"], "properties": {"b": {"enum": ["x", "y"]}}});
    assert_eq!(
        errors(s, json!({"b": "z"})),
        vec![
            "at '': missing property 'a'",
            "at '/b': value must be one of 'x', 'y'"
        ]
    );
}

#[test]
fn a_self_referencing_schema_is_bounded() {
    let s = json!({"$ref": "#"});
    assert!(!errors(s, json!({})).is_empty());
}

/// Each message below is what helm v3.22.0 printed for the same schema and values.
#[test]
fn object_keywords_are_checked_as_helm_checks_them() {
    let table = [
        (
            json!({"maxProperties": 1}),
            json!({"a": 1, "b": 2}),
            "at '': maxProperties: got 2, want 1",
        ),
        (
            json!({"minProperties": 2}),
            json!({"a": 1}),
            "at '': minProperties: got 1, want 2",
        ),
        (
            json!({"dependencies": {"a": ["b"]}}),
            json!({"a": 1}),
            "at '': properties 'b' required, if 'a' exists",
        ),
        (
            json!({"dependentRequired": {"a": ["b"]}}),
            json!({"a": 1}),
            "at '': properties 'b' required, if 'a' exists",
        ),
        (
            json!({"dependencies": {"c": {"required": ["d"]}}}),
            json!({"c": 1}),
            "at '': missing property 'd'",
        ),
        (
            json!({"dependentSchemas": {"a": {"required": ["z"]}}}),
            json!({"a": 1}),
            "at '': missing property 'z'",
        ),
        (
            json!({"propertyNames": {"pattern": "^[a-z]+$"}}),
            json!({"Bad": 1, "good": 2}),
            "at '': invalid propertyName 'Bad'",
        ),
        (
            json!({"if": {"properties": {"kind": {"const": "x"}}}, "then": {"required": ["xval"]}, "else": {"required": ["yval"]}}),
            json!({"kind": "x"}),
            "at '': missing property 'xval'",
        ),
        (
            json!({"if": {"properties": {"kind": {"const": "x"}}}, "then": {"required": ["xval"]}, "else": {"required": ["yval"]}}),
            json!({"kind": "y"}),
            "at '': missing property 'yval'",
        ),
    ];
    for (schema, value, want) in table {
        assert_eq!(errors(schema.clone(), value), vec![want], "{schema}");
    }
}

#[test]
fn pattern_properties_check_matching_keys_and_are_not_additional() {
    let s =
        json!({"patternProperties": {"^x-": {"type": "integer"}}, "additionalProperties": false});
    assert_eq!(
        errors(s.clone(), json!({"x-a": "s", "other": 1})),
        vec![
            "at '/x-a': got string, want integer",
            "at '': additional properties 'other' not allowed"
        ]
    );
    assert!(errors(s, json!({"x-a": 1})).is_empty());
}

#[test]
fn array_and_number_keywords_are_checked_as_helm_checks_them() {
    let table = [
        (
            json!({"multipleOf": 2}),
            json!(7),
            "at '': multipleOf: got 7, want 2",
        ),
        (
            json!({"uniqueItems": true}),
            json!([1, 2, 1]),
            "at '': items at 0 and 2 are equal",
        ),
        (
            json!({"contains": {"type": "string"}}),
            json!([1, 2]),
            "at '': no items match contains schema",
        ),
        (
            json!({"prefixItems": [{"type": "integer"}], "items": false}),
            json!([1, 2]),
            "at '/1': false schema",
        ),
        (
            json!({"items": [{"type": "integer"}], "additionalItems": false}),
            json!([1, 2]),
            "at '': last 1 additionalItem(s) not allowed",
        ),
    ];
    for (schema, value, want) in table {
        assert_eq!(errors(schema.clone(), value), vec![want], "{schema}");
    }
    assert!(errors(json!({"multipleOf": 0.1}), json!(0.3)).is_empty());
    assert!(errors(json!({"format": "email"}), json!("not-an-email")).is_empty());
}
