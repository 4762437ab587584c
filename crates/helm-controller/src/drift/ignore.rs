//! What drift detection leaves out: objects labelled or annotated
//! `helm.toolkit.fluxcd.io/driftDetection: disabled`, the fields the API server owns
//! (`metadata.managedFields`, `resourceVersion`, `generation`, …, and `status`), and the JSON
//! pointers of `spec.driftDetection.ignore` rules whose target selects the object.

use driftless_api::apply::{IgnoreRule, Selector};
use driftless_kustomize::selector::Selector as LabelSelector;
use regex::Regex;
use serde_json::Value;

/// The label or annotation that excludes an object from drift detection, and its value.
pub const EXCLUDE_KEY: &str = "helm.toolkit.fluxcd.io/driftDetection";
/// See [`EXCLUDE_KEY`].
pub const EXCLUDE_VALUE: &str = "disabled";

/// Metadata the API server writes; a difference there is not drift.
const SERVER_METADATA: [&str; 6] = [
    "managedFields",
    "resourceVersion",
    "generation",
    "creationTimestamp",
    "uid",
    "selfLink",
];

/// An ignore rule with its target compiled.
#[derive(Debug)]
pub struct Rule {
    paths: Vec<String>,
    target: Option<Target>,
}

#[derive(Debug)]
struct Target {
    group: Option<Regex>,
    version: Option<Regex>,
    kind: Option<Regex>,
    name: Option<Regex>,
    namespace: Option<Regex>,
    labels: Option<LabelSelector>,
    annotations: Option<LabelSelector>,
}

/// Compiles `rules`; a bad regular expression or selector names the rule's field.
pub fn compile(rules: &[IgnoreRule]) -> Result<Vec<Rule>, String> {
    rules
        .iter()
        .map(|r| {
            Ok(Rule {
                paths: r.paths.clone(),
                target: r.target.as_ref().map(target).transpose()?,
            })
        })
        .collect()
}

fn target(s: &Selector) -> Result<Target, String> {
    let regex = |field: &str, v: &Option<String>| {
        v.as_deref()
            .filter(|v| !v.is_empty())
            .map(|v| {
                Regex::new(&format!("^(?:{v})$"))
                    .map_err(|e| format!("invalid {field} regular expression '{v}': {e}"))
            })
            .transpose()
    };
    let selector = |field: &str, v: &Option<String>| {
        v.as_deref()
            .filter(|v| !v.is_empty())
            .map(|v| LabelSelector::parse(v).map_err(|e| format!("invalid {field} '{v}': {e}")))
            .transpose()
    };
    Ok(Target {
        group: regex("group", &s.group)?,
        version: regex("version", &s.version)?,
        kind: regex("kind", &s.kind)?,
        name: regex("name", &s.name)?,
        namespace: regex("namespace", &s.namespace)?,
        labels: selector("labelSelector", &s.label_selector)?,
        annotations: selector("annotationSelector", &s.annotation_selector)?,
    })
}

/// The string pairs of `metadata.<field>`.
fn pairs(object: &Value, field: &str) -> Vec<(String, String)> {
    object
        .get("metadata")
        .and_then(|m| m.get(field))
        .and_then(Value::as_object)
        .map(|m| {
            m.iter()
                .filter_map(|(k, v)| Some((k.clone(), v.as_str()?.to_owned())))
                .collect()
        })
        .unwrap_or_default()
}

impl Target {
    fn matches(&self, object: &Value) -> bool {
        let text = |pointer: &str| {
            object
                .pointer(pointer)
                .and_then(Value::as_str)
                .unwrap_or_default()
        };
        let api_version = text("/apiVersion");
        let (group, version) = api_version.rsplit_once('/').unwrap_or(("", api_version));
        let is = |re: &Option<Regex>, value: &str| re.as_ref().is_none_or(|re| re.is_match(value));
        is(&self.group, group)
            && is(&self.version, version)
            && is(&self.kind, text("/kind"))
            && is(&self.name, text("/metadata/name"))
            && is(&self.namespace, text("/metadata/namespace"))
            && self
                .labels
                .as_ref()
                .is_none_or(|s| s.matches(&pairs(object, "labels")))
            && self
                .annotations
                .as_ref()
                .is_none_or(|s| s.matches(&pairs(object, "annotations")))
    }
}

/// Whether `object` opts out of drift detection by label or annotation.
pub fn excluded(object: &Value) -> bool {
    ["labels", "annotations"].iter().any(|field| {
        pairs(object, field)
            .iter()
            .any(|(k, v)| k == EXCLUDE_KEY && v == EXCLUDE_VALUE)
    })
}

/// `live` and `merged` as drift compares them: server-written fields and the paths of the
/// rules that select `desired` removed from both.
pub fn comparable(rules: &[Rule], desired: &Value, live: &mut Value, merged: &mut Value) {
    for side in [&mut *live, &mut *merged] {
        if let Some(meta) = side.get_mut("metadata").and_then(Value::as_object_mut) {
            for field in SERVER_METADATA {
                meta.remove(field);
            }
        }
        if let Some(object) = side.as_object_mut() {
            object.remove("status");
        }
    }
    for rule in rules {
        if rule.target.as_ref().is_some_and(|t| !t.matches(desired)) {
            continue;
        }
        for path in &rule.paths {
            remove(live, path);
            remove(merged, path);
        }
    }
}

/// Removes what the JSON pointer `path` names (RFC 6901; `""` is the whole document). A path
/// that names nothing is no error: it may exist on one side only.
pub fn remove(doc: &mut Value, path: &str) {
    if path.is_empty() {
        *doc = Value::Null;
        return;
    }
    let Some(rest) = path.strip_prefix('/') else {
        return;
    };
    let tokens: Vec<String> = rest
        .split('/')
        .map(|t| t.replace("~1", "/").replace("~0", "~"))
        .collect();
    let Some((last, parents)) = tokens.split_last() else {
        return;
    };
    let mut node = doc;
    for token in parents {
        node = match node {
            Value::Object(map) => match map.get_mut(token) {
                Some(next) => next,
                None => return,
            },
            Value::Array(items) => match token.parse::<usize>().ok().and_then(|i| items.get_mut(i))
            {
                Some(next) => next,
                None => return,
            },
            _ => return,
        };
    }
    match node {
        Value::Object(map) => {
            map.remove(last);
        }
        Value::Array(items) => {
            if let Some(i) = last.parse::<usize>().ok().filter(|i| *i < items.len()) {
                items.remove(i);
            }
        }
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn rule(paths: &[&str], target: Value) -> IgnoreRule {
        serde_json::from_value(json!({"paths": paths, "target": target})).expect("a rule")
    }

    fn deployment() -> Value {
        json!({
            "apiVersion": "apps/v1", "kind": "Deployment",
            "metadata": {"name": "web", "namespace": "team", "labels": {"tier": "front"},
                          "generation": 4, "resourceVersion": "12", "managedFields": []},
            "spec": {"replicas": 3, "template": {"metadata": {"annotations": {"a/b": "x"}}}},
            "status": {"replicas": 3},
        })
    }

    #[test]
    fn pointers_remove_keys_escaped_keys_and_array_items_and_ignore_missing_paths() {
        let mut doc = json!({"a": {"b/c": 1, "d~e": 2, "list": [1, 2, 3]}});
        remove(&mut doc, "/a/b~1c");
        remove(&mut doc, "/a/d~0e");
        remove(&mut doc, "/a/list/1");
        remove(&mut doc, "/a/missing/deeper");
        remove(&mut doc, "/a/list/9");
        assert_eq!(doc, json!({"a": {"list": [1, 3]}}));
        remove(&mut doc, "");
        assert_eq!(doc, Value::Null);
    }

    #[test]
    fn server_fields_and_selected_rule_paths_are_left_out_of_the_comparison() {
        let rules = compile(&[
            rule(
                &["/spec/replicas"],
                json!({"kind": "Deploy.*", "group": "apps"}),
            ),
            rule(&["/spec/template"], json!({"kind": "StatefulSet"})),
        ])
        .expect("compiles");
        let desired = deployment();
        let (mut live, mut merged) = (deployment(), deployment());
        merged["spec"]["replicas"] = json!(1);
        merged["metadata"]["generation"] = json!(5);
        comparable(&rules, &desired, &mut live, &mut merged);
        assert_eq!(live, merged);
        assert_eq!(live["spec"].get("replicas"), None);
        assert!(live["spec"].get("template").is_some());
        assert_eq!(live.get("status"), None);
    }

    #[test]
    fn targets_are_anchored_regular_expressions_and_label_selectors() {
        let d = deployment();
        let matches = |target: Value| {
            let rules = compile(&[rule(&[""], target)]).expect("compiles");
            rules[0].target.as_ref().expect("a target").matches(&d)
        };
        assert!(matches(json!({"kind": "Deployment", "version": "v1"})));
        assert!(!matches(json!({"kind": "Deploy"})));
        assert!(matches(json!({"namespace": "te.*", "name": "web"})));
        assert!(matches(json!({"labelSelector": "tier in (front,back)"})));
        assert!(!matches(json!({"labelSelector": "tier=back"})));
        assert!(!matches(json!({"annotationSelector": "x"})));
        assert!(compile(&[rule(&[""], json!({"kind": "("}))]).is_err());
    }

    #[test]
    fn the_driftdetection_disabled_label_or_annotation_excludes_an_object() {
        let mut d = deployment();
        assert!(!excluded(&d));
        d["metadata"]["annotations"] = json!({EXCLUDE_KEY: "disabled"});
        assert!(excluded(&d));
        let mut d = deployment();
        d["metadata"]["labels"][EXCLUDE_KEY] = json!("disabled");
        assert!(excluded(&d));
    }
}
