//! How kyaml finds, replaces and removes the items of an associative list
//! by their key values. Its rules are odd in places (an empty key value
//! matches any item that has the field when replacing, but none when looking
//! an item up; an item lacking its key wipes the list it is set into) and
//! kustomize's output depends on every one of them, so they are kept here
//! apart from the walk that uses them.

use crate::yaml::Node;

/// Key fields and the values an item must have in them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ElementKeys {
    pub keys: Vec<String>,
    pub values: Vec<String>,
}

impl ElementKeys {
    pub fn new(keys: Vec<String>, values: Vec<String>) -> Self {
        Self { keys, values }
    }

    /// The keys that have a value in some item of `all`, and this item's
    /// values for them (all keys when none has a value).
    pub fn validated(all: &[Vec<String>], values: &[String], keys: &[String]) -> Self {
        let valid: Vec<bool> = (0..keys.len())
            .map(|i| all.iter().any(|v| v.get(i).is_some_and(|s| !s.is_empty())))
            .collect();
        if !valid.contains(&true) {
            return Self::new(keys.to_vec(), values.to_vec());
        }
        let keep = |i: usize| valid.get(i).copied().unwrap_or(false);
        Self {
            keys: (0..keys.len())
                .filter(|&i| keep(i))
                .filter_map(|i| keys.get(i).cloned())
                .collect(),
            values: values
                .iter()
                .enumerate()
                .filter(|(i, v)| !v.is_empty() || keep(*i))
                .map(|(_, v)| v.clone())
                .collect(),
        }
    }
}

/// A scalar's text as kyaml compares it: empty for null and collections.
fn text(node: &Node) -> &str {
    match node {
        Node::Scalar(s) if !s.is_null() => &s.value,
        _ => "",
    }
}

fn is_empty_map(node: &Node) -> bool {
    node.as_map().is_some_and(|m| m.entries.is_empty())
}

fn wrong_kind(expected: &str, node: &Node) -> String {
    let got = match node {
        Node::Map(..) => "MappingNode",
        Node::Seq(..) => "SequenceNode",
        Node::Scalar(_) => "ScalarNode",
    };
    format!(
        "wrong node kind: expected {expected} but got {got}: node contents:\n{}",
        crate::yaml::emit::to_yaml(node).trim_end()
    )
}

/// The key values of every item of `lists`, in order, without repeats;
/// items with no keys to give are skipped.
pub fn element_values(lists: &[&[Node]], keys: &[String]) -> Vec<Vec<String>> {
    let mut out: Vec<Vec<String>> = Vec::new();
    for item in lists.iter().flat_map(|l| l.iter()) {
        let values: Vec<String> = keys
            .iter()
            .map(|k| {
                item.as_map()
                    .and_then(|m| m.get(k))
                    .map_or("", text)
                    .to_string()
            })
            .collect();
        if !values.is_empty() && !out.contains(&values) {
            out.push(values);
        }
    }
    out
}

/// Unifies key values that agree where both are set and share one value
/// (`80/""` and `80/TCP` name the same port).
pub fn merge_values(all: &mut [Vec<String>]) {
    for i in 0..all.len() {
        let first = all.get(i).cloned().unwrap_or_default();
        for j in 0..all.len() {
            let second = all.get(j).cloned().unwrap_or_default();
            if let Some(unified) = unify(&first, &second) {
                for at in [i, j] {
                    if let Some(slot) = all.get_mut(at) {
                        *slot = unified.clone();
                    }
                }
            }
        }
    }
}

fn unify(a: &[String], b: &[String]) -> Option<Vec<String>> {
    if a.len() != b.len() {
        return None;
    }
    let mut common = false;
    let mut out = Vec::with_capacity(a.len());
    for (x, y) in a.iter().zip(b) {
        if x == y {
            common = true;
            out.push(x.clone());
        } else if !x.is_empty() && !y.is_empty() {
            return None;
        } else if x.is_empty() {
            out.push(y.clone());
        } else {
            out.push(x.clone());
        }
    }
    common.then_some(out)
}

/// The first item whose key fields hold exactly these values (keys whose
/// value is empty are left out of the comparison).
pub fn element_list<'a>(list: &'a [Node], ek: &ElementKeys) -> Option<&'a Node> {
    let ek = ElementKeys::validated(std::slice::from_ref(&ek.values), &ek.values, &ek.keys);
    if ek.keys.first().is_none_or(String::is_empty) {
        let want = ek.values.first().map_or("", String::as_str);
        return list.iter().find(|n| text(n) == want);
    }
    if ek.keys.len() != ek.values.len() {
        return None;
    }
    list.iter().find(|item| {
        let Some(map) = item.as_map() else {
            return false;
        };
        ek.keys.iter().zip(&ek.values).all(|(k, v)| {
            map.entries
                .iter()
                .any(|(key, val)| key.value == *k && text(val) == v)
        })
    })
}

/// Whether `item` has field `name` with text `value` (any value when `value`
/// is empty), or, for a primitive item (`name` empty), is `value`.
fn field_match(item: &Node, name: &str, value: &str) -> Result<bool, String> {
    if item.is_null() {
        return Ok(false);
    }
    if name.is_empty() {
        return match item {
            Node::Scalar(_) => Ok(text(item) == value),
            other => Err(wrong_kind("ScalarNode", other)),
        };
    }
    let Some(map) = item.as_map() else {
        return Err(wrong_kind("MappingNode", item));
    };
    Ok(map
        .entries
        .iter()
        .any(|(k, v)| k.value == name && (value.is_empty() || text(v) == value)))
}

/// Replaces the items matching `ek` with `element`, or removes them when
/// there is none; appends `element` when nothing matched. Null items and
/// empty maps are dropped on the way, as kyaml does.
pub fn element_set(
    list: &mut Vec<Node>,
    element: Option<Node>,
    ek: &ElementKeys,
) -> Result<(), String> {
    let keys: Vec<String> = if ek.keys.is_empty() {
        vec![String::new()]
    } else {
        ek.keys.clone()
    };
    let mapping = keys.first().is_some_and(|k| !k.is_empty());
    let mut out = Vec::with_capacity(list.len() + 1);
    let mut found = false;
    for item in std::mem::take(list) {
        if item.is_null() || is_empty_map(&item) {
            continue;
        }
        if mapping && item.as_map().is_none() {
            out.push(item);
            continue;
        }
        // kyaml compares only as many keys as there are values, and an item
        // matches when the last compared key matched.
        let mut matched = false;
        let mut all = true;
        for (j, key) in keys.iter().enumerate() {
            if let Some(value) = ek.values.get(j) {
                matched = field_match(&item, key, value)?;
            }
            if !matched {
                all = false;
                break;
            }
        }
        if !all {
            if !ek.values.is_empty() {
                out.push(item);
            }
            continue;
        }
        found = true;
        if let Some(e) = &element {
            out.push(e.clone());
        }
    }
    *list = out;
    match element {
        Some(e) if !found && !e.is_null() => list.push(e),
        _ => {}
    }
    Ok(())
}

/// Sets each item of the object's list `dest` into the merged `items`: the
/// object's items end up after the patch-only ones (with several keys they
/// move to the end), as kustomize's prepend direction has it.
pub fn append_list(items: &mut Vec<Node>, dest: &[Node], keys: &[String]) -> Result<(), String> {
    for item in dest {
        if keys.first().is_none_or(String::is_empty) {
            let ek = ElementKeys::new(vec![String::new()], vec![text(item).to_string()]);
            element_set(items, Some(item.clone()), &ek)?;
            continue;
        }
        let mut values = Vec::new();
        for key in keys {
            if item.is_null() {
                items.push(item.clone());
                continue;
            }
            let Some(map) = item.as_map() else {
                return Err(wrong_kind("MappingNode", item));
            };
            match map.get(key) {
                None => items.push(item.clone()),
                Some(v) => values.push(text(v).to_string()),
            }
        }
        let ek = ElementKeys::new(keys.to_vec(), values);
        if keys.len() > 1 {
            element_set(items, None, &ek)?;
        }
        element_set(items, Some(item.clone()), &ek)?;
    }
    Ok(())
}
