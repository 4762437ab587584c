//! The values of a release, composed as Flux composes them: each `valuesFrom` document merged
//! in order (ConfigMap or Secret key, `values.yaml` by default, a missing object or key skipped
//! when `optional`), then the inline `spec.values` over them, then the `targetPath` entries set
//! at their path with Helm's `--set` syntax (verbatim with `literal`), which win over
//! everything before. The digest of the result (`sha256:` over Go's JSON encoding, as Flux's
//! `DigestValues`) is `lastAttemptedConfigDigest` and decides whether an upgrade is due.

use std::collections::BTreeMap;

use driftless_api::helm::{HelmRelease, ValuesReference};
use driftless_api::meta::ConfigSourceKind;
use driftless_helm::Values;
use driftless_helm::strvals::{Kind, parse_into};
use k8s_openapi::api::core::v1::{ConfigMap, Secret};
use kube::ResourceExt;
use kube::api::Api;
use serde_json::Value as Json;
use sha2::{Digest as _, Sha256};

use crate::error::ReconcileError;

/// The data key read when `valuesKey` is unset.
pub const DEFAULT_VALUES_KEY: &str = "values.yaml";

/// Composes the values of `hr`, reading its `valuesFrom` objects from its namespace.
pub async fn compose(client: &kube::Client, hr: &HelmRelease) -> Result<Values, ReconcileError> {
    let namespace = hr.namespace().unwrap_or_default();
    let mut documents = Vec::new();
    for reference in hr.spec.values_from.iter().flatten() {
        let data = read(client, &namespace, reference).await?;
        documents.push((reference.clone(), data));
    }
    let inline = match &hr.spec.values {
        Some(Json::Object(map)) => map.clone(),
        _ => Values::new(),
    };
    merge(&documents, inline)
}

/// The text of one reference's key, `None` when it is optional and missing.
async fn read(
    client: &kube::Client,
    namespace: &str,
    reference: &ValuesReference,
) -> Result<Option<String>, ReconcileError> {
    let key = reference
        .values_key
        .clone()
        .filter(|k| !k.is_empty())
        .unwrap_or_else(|| DEFAULT_VALUES_KEY.to_owned());
    let kind = kind_name(reference.kind);
    let read_err = |source: kube::Error| ReconcileError::Read {
        subject: format!("{kind} '{namespace}/{}'", reference.name),
        source: Box::new(source),
    };
    let data: Option<BTreeMap<String, String>> = match reference.kind {
        ConfigSourceKind::ConfigMap => {
            let api: Api<ConfigMap> = Api::namespaced(client.clone(), namespace);
            api.get_opt(&reference.name)
                .await
                .map_err(read_err)?
                .map(|cm| cm.data.unwrap_or_default())
        }
        ConfigSourceKind::Secret => {
            let api: Api<Secret> = Api::namespaced(client.clone(), namespace);
            api.get_opt(&reference.name)
                .await
                .map_err(read_err)?
                .map(|secret| {
                    secret
                        .data
                        .unwrap_or_default()
                        .into_iter()
                        .map(|(k, v)| (k, String::from_utf8_lossy(&v.0).into_owned()))
                        .collect()
                })
        }
    };
    let optional = reference.optional.unwrap_or(false);
    let missing = |what: String| {
        if optional {
            Ok(None)
        } else {
            Err(ReconcileError::Values { message: what })
        }
    };
    let Some(data) = data else {
        return missing(format!(
            "could not find {kind} '{namespace}/{}'",
            reference.name
        ));
    };
    match data.get(&key) {
        Some(text) => Ok(Some(text.clone())),
        None => missing(format!(
            "missing key '{key}' in {kind} '{namespace}/{}'",
            reference.name
        )),
    }
}

/// The pure part of [`compose`]: the documents read (in `valuesFrom` order), then `inline`,
/// then the `targetPath` entries.
pub fn merge(
    documents: &[(ValuesReference, Option<String>)],
    inline: Values,
) -> Result<Values, ReconcileError> {
    let mut result = Values::new();
    let mut targeted = Vec::new();
    for (reference, text) in documents {
        let Some(text) = text else { continue };
        match reference.target_path.as_deref().filter(|p| !p.is_empty()) {
            Some(path) => targeted.push((reference, path, text)),
            None => {
                let document =
                    driftless_helm::values::parse_values(text.as_bytes()).map_err(|e| {
                        ReconcileError::Values {
                            message: format!(
                                "unable to read values from key '{}' in {} '{}': {e}",
                                reference
                                    .values_key
                                    .as_deref()
                                    .unwrap_or(DEFAULT_VALUES_KEY),
                                kind_name(reference.kind),
                                reference.name
                            ),
                        }
                    })?;
                result = driftless_helm::values::merge_maps(result, document);
            }
        }
    }
    result = driftless_helm::values::merge_maps(result, inline);
    for (reference, path, text) in targeted {
        set_path(&mut result, path, text, reference.literal.unwrap_or(false)).map_err(|e| {
            ReconcileError::Values {
                message: format!(
                    "unable to replace value at path '{path}' from {} '{}': {e}",
                    kind_name(reference.kind),
                    reference.name
                ),
            }
        })?;
    }
    Ok(result)
}

/// Sets `value` at the `--set` path `path`. Typed as `--set` types it, unless `literal`: then
/// the text is the value, commas and brackets included.
fn set_path(values: &mut Values, path: &str, value: &str, literal: bool) -> Result<(), String> {
    let path = path.trim();
    if !literal {
        // The value is one flat value: its commas must not start another assignment.
        let escaped = value.trim().replace(',', "\\,");
        return parse_into(&format!("{path}={escaped}"), values, Kind::Typed);
    }
    // Build the path with a placeholder, then put the verbatim text in its place.
    let mut shaped = Values::new();
    parse_into(&format!("{path}=placeholder"), &mut shaped, Kind::Str)?;
    replace_leaf(&mut shaped, value);
    *values = driftless_helm::values::merge_maps(std::mem::take(values), shaped);
    Ok(())
}

/// Replaces the one string leaf of a freshly parsed path with `value`.
fn replace_leaf(values: &mut Values, value: &str) {
    for v in values.values_mut() {
        replace_json_leaf(v, value);
    }
}

fn replace_json_leaf(v: &mut Json, value: &str) {
    match v {
        Json::Object(map) => replace_leaf(map, value),
        Json::Array(items) => items.iter_mut().for_each(|i| replace_json_leaf(i, value)),
        Json::String(_) => *v = Json::String(value.to_owned()),
        _ => {}
    }
}

/// `sha256:<hex>` of the values as Go's `json.Encoder` writes them (sorted keys, HTML
/// characters escaped, a trailing newline); empty values digest nothing.
pub fn digest(values: &Values) -> String {
    let mut hasher = Sha256::new();
    if !values.is_empty() {
        let mut text = String::new();
        go_json(&Json::Object(values.clone()), &mut text);
        text.push('\n');
        hasher.update(text.as_bytes());
    }
    format!("sha256:{}", hex::encode(hasher.finalize()))
}

/// Go's `encoding/json` output: map keys sorted, `<`, `>`, `&` and U+2028/9 escaped.
fn go_json(v: &Json, out: &mut String) {
    match v {
        Json::Object(map) => {
            out.push('{');
            let mut keys: Vec<&String> = map.keys().collect();
            keys.sort();
            for (i, key) in keys.into_iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                go_string(key, out);
                out.push(':');
                if let Some(value) = map.get(key) {
                    go_json(value, out);
                }
            }
            out.push('}');
        }
        Json::Array(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                go_json(item, out);
            }
            out.push(']');
        }
        Json::String(s) => go_string(s, out),
        other => out.push_str(&other.to_string()),
    }
}

fn go_string(s: &str, out: &mut String) {
    let encoded = Json::String(s.to_owned()).to_string();
    for c in encoded.chars() {
        match c {
            '<' => out.push_str("\\u003c"),
            '>' => out.push_str("\\u003e"),
            '&' => out.push_str("\\u0026"),
            '\u{2028}' => out.push_str("\\u2028"),
            '\u{2029}' => out.push_str("\\u2029"),
            c => out.push(c),
        }
    }
}

/// The kind as Flux spells it.
pub fn kind_name(kind: ConfigSourceKind) -> &'static str {
    match kind {
        ConfigSourceKind::ConfigMap => "ConfigMap",
        ConfigSourceKind::Secret => "Secret",
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn reference(name: &str, target: Option<&str>) -> ValuesReference {
        ValuesReference {
            kind: ConfigSourceKind::ConfigMap,
            name: name.into(),
            target_path: target.map(str::to_owned),
            ..Default::default()
        }
    }

    fn map(v: Json) -> Values {
        match v {
            Json::Object(m) => m,
            _ => Values::new(),
        }
    }

    #[test]
    fn references_merge_in_order_then_inline_values_then_target_paths_win() {
        let documents = vec![
            (
                reference("a", None),
                Some("image:\n  tag: a\n  repo: r\nreplicas: 1\n".to_owned()),
            ),
            (reference("b", None), Some("image:\n  tag: b\n".to_owned())),
            (reference("c", Some("replicas")), Some("3\n".to_owned())),
            (reference("d", None), None),
        ];
        let inline = map(json!({"replicas": 2, "extra": true}));
        let merged = merge(&documents, inline).expect("merges");
        assert_eq!(
            Json::Object(merged),
            json!({"image": {"tag": "b", "repo": "r"}, "replicas": 3, "extra": true})
        );
    }

    #[test]
    fn a_literal_target_path_keeps_commas_and_brackets() {
        let mut r = reference("c", Some("config.text"));
        r.literal = Some(true);
        let merged = merge(&[(r, Some("a,b=[c]".to_owned()))], Values::new()).expect("merges");
        assert_eq!(Json::Object(merged), json!({"config": {"text": "a,b=[c]"}}));
        let plain = merge(
            &[(reference("c", Some("list[0]")), Some("x,y".to_owned()))],
            Values::new(),
        )
        .expect("merges");
        assert_eq!(Json::Object(plain), json!({"list": ["x,y"]}));
    }

    #[test]
    fn a_values_document_that_is_not_a_map_is_an_error_naming_the_object() {
        let err = merge(
            &[(reference("bad", None), Some("- 1\n".to_owned()))],
            Values::new(),
        )
        .expect_err("a list is not values");
        assert!(err.to_string().contains("ConfigMap 'bad'"), "{err}");
    }

    #[test]
    fn the_digest_is_over_gos_json_encoding_and_ignores_key_order() {
        let a = map(json!({"b": 1, "a": {"y": "<x>", "x": [1, 2]}}));
        let b = map(json!({"a": {"x": [1, 2], "y": "<x>"}, "b": 1}));
        assert_eq!(digest(&a), digest(&b));
        let expected = hex::encode(Sha256::digest(
            b"{\"a\":{\"x\":[1,2],\"y\":\"\\u003cx\\u003e\"},\"b\":1}\n",
        ));
        assert_eq!(digest(&a), format!("sha256:{expected}"));
        assert_eq!(
            digest(&Values::new()),
            "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
        );
    }
}
