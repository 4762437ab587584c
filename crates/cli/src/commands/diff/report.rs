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

/// dyff's table layout is used while its lines fit this width: flux prints to a pipe, where
/// dyff's terminal width falls back to 80 columns.
const WIDTH: usize = 80;

/// What separates blocks laid out side by side.
const SEPARATOR: &str = "   ";

/// The report of the differences from `live` to `merged`.
pub fn report(live: &Value, merged: &Value) -> String {
    let mut changes = Vec::new();
    walk(&mut Vec::new(), live, merged, &mut changes);
    changes.retain(|(path, _)| !IGNORED.contains(&path.as_str()));
    let mut out = String::new();
    let mut index = 0;
    while index < changes.len() {
        // dyff reports every change of one path together: removals, then additions.
        let path = changes[index].0.clone();
        let mut blocks = Vec::new();
        while index < changes.len() && changes[index].0 == path {
            blocks.push(block(&changes[index].1));
            index += 1;
        }
        let shown = if path.is_empty() {
            "(root level)"
        } else {
            &path
        };
        out.push_str(&format!("\n{shown}\n"));
        out.push_str(&side_by_side(&blocks));
    }
    if !out.is_empty() {
        out.push('\n');
    }
    out
}

/// One change as dyff words it; every line ends with a line break.
fn block(change: &Change) -> String {
    match change {
        Change::Value { old, new } => {
            format!(
                "± value change\n{}{}",
                indented(old, "- "),
                indented(new, "+ ")
            )
        }
        Change::Entries { added, entries } => {
            let noun = if entries.len() == 1 {
                "entry"
            } else {
                "entries"
            };
            let (head, indent) = heading(*added, &format!("{} map {noun}", count(entries.len())));
            head + &indented(&Value::Object(entries.clone()), indent)
        }
        Change::Items { added, items } => {
            let noun = if items.len() == 1 {
                "list entry"
            } else {
                "list entries"
            };
            let (head, indent) = heading(*added, &format!("{} {noun}", count(items.len())));
            head + &indented(&Value::Array(items.clone()), indent)
        }
    }
}

/// The first line of an addition or removal, and the indent of its YAML: dyff indents what
/// was added by two, what was removed by the report's indent, which is none in flux.
fn heading(added: bool, what: &str) -> (String, &'static str) {
    if added {
        (format!("+ {what} added:\n"), "  ")
    } else {
        (format!("- {what} removed:\n"), "")
    }
}

/// Blocks next to each other, each column as wide as its widest line, while that fits in
/// [`WIDTH`]; otherwise one after the other.
fn side_by_side(blocks: &[String]) -> String {
    let width = |line: &str| line.chars().count();
    let widths: Vec<usize> = blocks
        .iter()
        .map(|b| b.lines().map(width).max().unwrap_or(0))
        .collect();
    let total = widths.iter().sum::<usize>() + SEPARATOR.len() * blocks.len().saturating_sub(1);
    if blocks.len() < 2 || total > WIDTH {
        return blocks.concat();
    }
    let rows = blocks.iter().map(|b| b.lines().count()).max().unwrap_or(0);
    let mut out = String::new();
    for row in 0..rows {
        let cells: Vec<String> = blocks
            .iter()
            .zip(&widths)
            .map(|(block, w)| {
                let line = block.lines().nth(row).unwrap_or_default();
                format!("{line}{}", " ".repeat(w - width(line)))
            })
            .collect();
        out.push_str(cells.join(SEPARATOR).trim_end());
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
    // dyff prints an empty string in a map or list bare (`key:`), where YAML writes `""`.
    text.lines()
        .map(|l| {
            let l = l
                .strip_suffix(": \"\"")
                .map(|k| format!("{k}:"))
                .or_else(|| (l.trim_start() == "- \"\"").then(|| l.replace("- \"\"", "-")))
                .unwrap_or_else(|| l.to_owned());
            format!("{prefix}{}\n", double_quoted(&l))
        })
        .collect()
}

/// dyff writes YAML with Go's yaml.v3, which double-quotes a string that cannot be plain where
/// our YAML (yaml.v2's style, flux's build output) single-quotes it: a line ending in a
/// single-quoted scalar is rewritten in the double-quoted style.
fn double_quoted(line: &str) -> String {
    let start = match line.find(": '") {
        Some(i) => i + 2,
        None if line.trim_start().starts_with("- '") => line.len() - line.trim_start().len() + 2,
        None => return line.to_owned(),
    };
    let quoted = &line[start..];
    let Some(inner) = quoted
        .strip_prefix('\'')
        .and_then(|q| q.strip_suffix('\''))
        .filter(|i| !i.replace("''", "").contains('\''))
    else {
        return line.to_owned();
    };
    let text = inner.replace("''", "'");
    let escaped = text.replace('\\', "\\\\").replace('"', "\\\"");
    format!("{}\"{escaped}\"", &line[..start])
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
        // dyff's side-by-side layout: removals left, additions (indented) right.
        assert_eq!(
            text,
            "\nmetadata.labels\n\
             - one map entry removed:   + two map entries added:\n\
             old: \"yes\"                   team: a\n\
             \x20                            tier: b\n\n"
        );
    }

    #[test]
    fn single_quoted_scalars_are_shown_double_quoted_as_dyff_shows_them() {
        assert_eq!(double_quoted("token: '*****'"), "token: \"*****\"");
        assert_eq!(double_quoted("- 'it''s'"), "- \"it's\"");
        assert_eq!(double_quoted("plain: value"), "plain: value");
    }

    #[test]
    fn identical_objects_and_server_bookkeeping_report_nothing() {
        let live = deployment(1, "x", json!({}));
        let mut merged = live.clone();
        merged["metadata"]["resourceVersion"] = json!("9");
        assert_eq!(report(&live, &merged), "");
    }
}
