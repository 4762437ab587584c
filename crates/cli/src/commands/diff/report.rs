//! The human report of one drifted object, in the shape of the dyff report flux prints: one
//! block per changed path (dots between keys, list items named by their `name`), then the
//! change: a value change with the old and new value, or map entries / list items added or
//! removed. Flux compares one document at a time, so dyff names no document and, as of the
//! Flux 2.7 goldens, indents nothing but the YAML of added or removed entries. Server bookkeeping
//! (`metadata.resourceVersion`, `metadata.generation`) is not drift and is left out.

use std::collections::BTreeSet;

use serde_json::{Map, Value};

use crate::yaml;

enum Change {
    Value {
        old: Value,
        new: Value,
    },
    Entries {
        added: bool,
        entries: Map<String, Value>,
    },
    Items {
        added: bool,
        items: Vec<Value>,
    },
}

/// Paths whose changes are the server's doing.
const IGNORED: [&str; 2] = ["metadata.resourceVersion", "metadata.generation"];

/// The report of the differences from `live` to `merged`.
pub fn report(live: &Value, merged: &Value) -> String {
    let mut changes = Vec::new();
    walk(&mut Vec::new(), live, merged, &mut changes);
    let mut out = String::new();
    for (path, change) in changes {
        if IGNORED.contains(&path.as_str()) {
            continue;
        }
        let shown = if path.is_empty() {
            "(root level)"
        } else {
            &path
        };
        out.push_str(&format!("\n{shown}\n"));
        match change {
            Change::Value { old, new } => {
                out.push_str("± value change\n");
                out.push_str(&indented(&old, "- "));
                out.push_str(&indented(&new, "+ "));
            }
            Change::Entries { added, entries } => {
                let (sign, verb) = if added {
                    ('+', "added")
                } else {
                    ('-', "removed")
                };
                let noun = if entries.len() == 1 {
                    "entry"
                } else {
                    "entries"
                };
                out.push_str(&format!(
                    "{sign} {} map {noun} {verb}:\n",
                    count(entries.len())
                ));
                out.push_str(&indented(&Value::Object(entries), "  "));
            }
            Change::Items { added, items } => {
                let (sign, verb) = if added {
                    ('+', "added")
                } else {
                    ('-', "removed")
                };
                let noun = if items.len() == 1 {
                    "list entry"
                } else {
                    "list entries"
                };
                out.push_str(&format!("{sign} {} {noun} {verb}:\n", count(items.len())));
                out.push_str(&indented(&Value::Array(items), "  "));
            }
        }
    }
    if !out.is_empty() {
        out.push('\n');
    }
    out
}

fn count(n: usize) -> String {
    const WORDS: [&str; 12] = [
        "one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten", "eleven",
        "twelve",
    ];
    n.checked_sub(1)
        .and_then(|i| WORDS.get(i))
        .map_or_else(|| n.to_string(), |w| (*w).to_owned())
}

/// `value` as YAML (scalars bare), every line prefixed.
fn indented(value: &Value, prefix: &str) -> String {
    let text = match value {
        Value::String(s) => s.clone(),
        Value::Null => "<nil>".to_owned(),
        Value::Bool(_) | Value::Number(_) => value.to_string(),
        _ => yaml::go_document(value).unwrap_or_else(|_| value.to_string()),
    };
    text.lines().map(|l| format!("{prefix}{l}\n")).collect()
}

fn walk(path: &mut Vec<String>, old: &Value, new: &Value, out: &mut Vec<(String, Change)>) {
    match (old, new) {
        (Value::Object(a), Value::Object(b)) => {
            let removed: Map<String, Value> = a
                .iter()
                .filter(|(k, _)| !b.contains_key(*k))
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect();
            let added: Map<String, Value> = b
                .iter()
                .filter(|(k, _)| !a.contains_key(*k))
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect();
            if !removed.is_empty() {
                out.push((
                    path.join("."),
                    Change::Entries {
                        added: false,
                        entries: removed,
                    },
                ));
            }
            if !added.is_empty() {
                out.push((
                    path.join("."),
                    Change::Entries {
                        added: true,
                        entries: added,
                    },
                ));
            }
            for (key, value) in a {
                if let Some(other) = b.get(key) {
                    path.push(key.clone());
                    walk(path, value, other, out);
                    path.pop();
                }
            }
        }
        (Value::Array(a), Value::Array(b)) if a != b => match (names(a), names(b)) {
            (Some(left), Some(right)) => {
                let items = |list: &[Value], keep: &BTreeSet<String>| -> Vec<Value> {
                    list.iter()
                        .filter(|v| !keep.contains(v["name"].as_str().unwrap_or_default()))
                        .cloned()
                        .collect()
                };
                let removed = items(a, &right);
                let added = items(b, &left);
                if !removed.is_empty() {
                    out.push((
                        path.join("."),
                        Change::Items {
                            added: false,
                            items: removed,
                        },
                    ));
                }
                if !added.is_empty() {
                    out.push((
                        path.join("."),
                        Change::Items {
                            added: true,
                            items: added,
                        },
                    ));
                }
                for item in a {
                    let name = item["name"].as_str().unwrap_or_default();
                    if let Some(other) = b.iter().find(|o| o["name"].as_str() == Some(name)) {
                        path.push(name.to_owned());
                        walk(path, item, other, out);
                        path.pop();
                    }
                }
            }
            _ if a.len() == b.len() => {
                for (index, (x, y)) in a.iter().zip(b).enumerate() {
                    path.push(index.to_string());
                    walk(path, x, y, out);
                    path.pop();
                }
            }
            _ => out.push((
                path.join("."),
                Change::Value {
                    old: old.clone(),
                    new: new.clone(),
                },
            )),
        },
        _ if old != new => out.push((
            path.join("."),
            Change::Value {
                old: old.clone(),
                new: new.clone(),
            },
        )),
        _ => {}
    }
}

/// The `name` of every item, when every item is a map with a distinct one.
fn names(list: &[Value]) -> Option<BTreeSet<String>> {
    let names: BTreeSet<String> = list
        .iter()
        .map(|v| v.get("name").and_then(Value::as_str).map(str::to_owned))
        .collect::<Option<_>>()?;
    (names.len() == list.len()).then_some(names)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn deployment(replicas: i64, image: &str, labels: Value) -> Value {
        json!({"apiVersion": "apps/v1", "kind": "Deployment",
               "metadata": {"name": "web", "namespace": "apps", "labels": labels,
                            "resourceVersion": "1", "generation": 1},
               "spec": {"replicas": replicas, "template": {"spec": {"containers": [
                   {"name": "web", "image": image}]}}}})
    }

    #[test]
    fn a_changed_value_is_shown_at_its_path_with_list_items_named() {
        let live = deployment(1, "nginx:1.25", json!({"app": "web"}));
        let mut merged = deployment(3, "nginx:1.27", json!({"app": "web"}));
        merged["metadata"]["resourceVersion"] = json!("2");
        merged["metadata"]["generation"] = json!(2);
        assert_eq!(
            report(&live, &merged),
            "\nspec.replicas\n± value change\n- 1\n+ 3\n\
             \nspec.template.spec.containers.web.image\n\
             ± value change\n- nginx:1.25\n+ nginx:1.27\n\n"
        );
    }

    #[test]
    fn added_and_removed_map_entries_are_listed() {
        let live = deployment(1, "x", json!({"app": "web", "old": "yes"}));
        let merged = deployment(1, "x", json!({"app": "web", "team": "a", "tier": "b"}));
        let text = report(&live, &merged);
        assert!(
            text.contains("metadata.labels\n- one map entry removed:\n  old: \"yes\"\n"),
            "{text}"
        );
        assert!(
            text.contains("+ two map entries added:\n  team: a\n  tier: b\n"),
            "{text}"
        );
    }

    #[test]
    fn identical_objects_and_server_bookkeeping_report_nothing() {
        let live = deployment(1, "x", json!({}));
        let mut merged = live.clone();
        merged["metadata"]["resourceVersion"] = json!("9");
        assert_eq!(report(&live, &merged), "");
    }
}
