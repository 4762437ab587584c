//! Applying a strategic merge patch with the full Kubernetes semantics
//! (what the API server and kubectl do), on JSON values:
//!
//! - `null` removes a field; `$patch: replace` replaces a map, `$patch:
//!   delete` empties it; a field whose strategy is `replace` is replaced;
//! - lists with the `merge` strategy merge items by the merge key (`$patch:
//!   delete` items remove, a `$patch: replace` item makes the rest replace the
//!   list), primitive merge lists are sets, with `$deleteFromPrimitiveList/f`
//!   removing values; other lists are replaced;
//! - `$setElementOrder/f` orders the merged list; `$retainKeys` clears the
//!   fields it does not list.
//!
//! Objects of kinds the schema does not know merge plainly: maps merge,
//! lists are replaced.

use serde_json::{Map, Value};

use super::schema::{FieldMeta, Schema};

pub(super) const DIRECTIVE: &str = "$patch";
pub(super) const RETAIN_KEYS: &str = "$retainKeys";
pub(super) const SET_ORDER: &str = "$setElementOrder/";
pub(super) const DELETE_PRIMITIVE: &str = "$deleteFromPrimitiveList/";

/// Why a patch cannot be applied or computed.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum SmpError {
    #[error("unknown patch directive {0:?}")]
    BadDirective(String),
    #[error("the patch and the object must both be maps")]
    NotAnObject,
    #[error("{field}: a list item has no merge key {key:?}")]
    NoMergeKey { field: String, key: String },
    #[error("{0}: a merging list needs a merge key for items that are maps")]
    NoMergeKeyInSchema(String),
    #[error("{0}: list items mix maps and other values")]
    MixedList(String),
    #[error("{0}: lists of lists cannot be merged")]
    ListOfLists(String),
    #[error("{0}: $retainKeys must be a list naming every field the patch sets")]
    BadRetainKeys(String),
    #[error("{0}: {1} must be a list")]
    NotAList(String, String),
    #[error("merging lists cannot be specified with `$patch: merge`")]
    MergeItem,
}

/// The meta of a whole object, from its kind.
pub(super) fn root_meta(a: &Value, b: &Value, schema: &Schema) -> Option<FieldMeta> {
    [a, b]
        .into_iter()
        .find_map(|v| schema.root(v.get("apiVersion")?.as_str()?, v.get("kind")?.as_str()?))
}

/// The meta of a list's items.
pub(super) fn item_meta(meta: Option<&FieldMeta>) -> Option<FieldMeta> {
    meta.and_then(|m| m.type_ref.clone()).map(|t| FieldMeta {
        type_ref: Some(t),
        ..FieldMeta::default()
    })
}

/// Whether the items of these lists are maps (all of them) or not (none).
pub(super) fn items_are_maps(field: &str, lists: &[&[Value]]) -> Result<bool, SmpError> {
    let mut kind = None;
    for item in lists.iter().flat_map(|l| l.iter()).filter(|v| !v.is_null()) {
        if item.is_array() {
            return Err(SmpError::ListOfLists(field.to_string()));
        }
        let map = item.is_object();
        if kind.is_some_and(|k| k != map) {
            return Err(SmpError::MixedList(field.to_string()));
        }
        kind = Some(map);
    }
    Ok(kind.unwrap_or(false))
}

/// Whether two values have the same JSON type (a type change replaces).
pub(super) fn same_type(a: &Value, b: &Value) -> bool {
    std::mem::discriminant(a) == std::mem::discriminant(b)
}

/// Applies `patch` to `original`.
pub fn apply(original: &Value, patch: &Value, schema: &Schema) -> Result<Value, SmpError> {
    let meta = root_meta(original, patch, schema);
    let (Value::Object(o), Value::Object(p)) = (original, patch) else {
        return Err(SmpError::NotAnObject);
    };
    let applier = Applier { schema };
    applier
        .merge_map(o.clone(), p.clone(), meta.as_ref())
        .map(Value::Object)
}

struct Applier<'s> {
    schema: &'s Schema,
}

impl Applier<'_> {
    fn merge_map(
        &self,
        mut original: Map<String, Value>,
        mut patch: Map<String, Value>,
        meta: Option<&FieldMeta>,
    ) -> Result<Map<String, Value>, SmpError> {
        if let Some(directive) = patch.get(DIRECTIVE) {
            return match directive.as_str() {
                Some("replace") => {
                    patch.remove(DIRECTIVE);
                    Ok(patch)
                }
                Some("delete") => Ok(Map::new()),
                _ => Err(SmpError::BadDirective(directive.to_string())),
            };
        }
        retain_keys(&mut original, &mut patch)?;
        self.set_element_orders(&mut original, &mut patch, meta)?;
        for (key, value) in patch {
            let (key, delete_list) = match key.strip_prefix(DELETE_PRIMITIVE) {
                Some(field) => (field.to_string(), true),
                None => (key, false),
            };
            if value.is_null() {
                original.remove(&key);
                continue;
            }
            let existing = original.get(&key).filter(|o| same_type(o, &value));
            let Some(existing) = existing.cloned() else {
                if !delete_list {
                    set_without_directives(&mut original, &key, value);
                }
                continue;
            };
            let child = self.schema.child(meta, &key);
            let strategy = child.as_ref().map(|c| c.strategy).unwrap_or_default();
            let merged = match (existing, value) {
                (Value::Object(o), Value::Object(p)) if !strategy.replace => {
                    Value::Object(self.merge_map(o, p, child.as_ref())?)
                }
                (Value::Array(o), Value::Array(p)) if strategy.merge || delete_list => {
                    Value::Array(self.merge_list(&key, o, p, child.as_ref(), delete_list)?)
                }
                (Value::Object(_), p) | (Value::Array(_), p) => p,
                (_, p) => {
                    set_without_directives(&mut original, &key, p);
                    continue;
                }
            };
            original.insert(key, merged);
        }
        Ok(original)
    }

    /// Merges the lists a `$setElementOrder/f` names, then orders them.
    fn set_element_orders(
        &self,
        original: &mut Map<String, Value>,
        patch: &mut Map<String, Value>,
        meta: Option<&FieldMeta>,
    ) -> Result<(), SmpError> {
        let keys: Vec<String> = patch
            .keys()
            .filter(|k| k.starts_with(SET_ORDER))
            .cloned()
            .collect();
        for key in keys {
            let order = patch.remove(&key).unwrap_or_default();
            let field = key.trim_start_matches(SET_ORDER).to_string();
            let Value::Array(order) = order else {
                return Err(SmpError::NotAList(field, key));
            };
            let child = self.schema.child(meta, &field);
            let merge_key = child.as_ref().and_then(|c| c.merge_key.clone());
            let strategy = child.as_ref().map(|c| c.strategy).unwrap_or_default();
            let from_original = original.get(&field).and_then(Value::as_array).cloned();
            let from_patch = patch.get(&field).and_then(Value::as_array).cloned();
            let merged = match (from_original.clone(), from_patch.clone()) {
                (Some(o), None) => o,
                (None, Some(p)) => match remove_directives(Value::Array(p)) {
                    Some(Value::Array(v)) => v,
                    _ => continue,
                },
                (Some(o), Some(p)) if strategy.merge => {
                    self.merge_list(&field, o, p, child.as_ref(), false)?
                }
                (Some(_), Some(p)) => p,
                (None, None) => continue,
            };
            let key_name = merge_key.as_deref().unwrap_or_default();
            let (in_order, server_only): (Vec<Value>, Vec<Value>) = merged
                .into_iter()
                .partition(|item| position(&order, item, key_name).is_some());
            let both = normalize_order(
                in_order,
                server_only,
                &order,
                from_original.as_deref().unwrap_or_default(),
                key_name,
            );
            original.insert(field.clone(), Value::Array(both));
            patch.remove(&field);
        }
        Ok(())
    }

    fn merge_list(
        &self,
        field: &str,
        original: Vec<Value>,
        patch: Vec<Value>,
        meta: Option<&FieldMeta>,
        delete_list: bool,
    ) -> Result<Vec<Value>, SmpError> {
        if original.is_empty() && patch.is_empty() {
            return Ok(original);
        }
        let maps = items_are_maps(field, &[&original, &patch])?;
        if !maps {
            if delete_list {
                return Ok(original
                    .into_iter()
                    .filter(|v| !patch.contains(v))
                    .collect());
            }
            let mut merged: Vec<Value> = Vec::with_capacity(original.len() + patch.len());
            for v in original.iter().chain(&patch) {
                if !merged.contains(v) {
                    merged.push(v.clone());
                }
            }
            let (in_patch, server_only) = merged.into_iter().partition(|v| patch.contains(v));
            return Ok(normalize_order(
                in_patch,
                server_only,
                &patch,
                &original,
                "",
            ));
        }
        let key = meta
            .and_then(|m| m.merge_key.clone())
            .ok_or_else(|| SmpError::NoMergeKeyInSchema(field.to_string()))?;
        let (original, patch) = special_items(field, original, patch, &key)?;
        let item = item_meta(meta);
        let mut merged = original.clone();
        for p in &patch {
            let value = p.get(&key).ok_or_else(|| SmpError::NoMergeKey {
                field: field.to_string(),
                key: key.clone(),
            })?;
            match merged.iter().position(|o| o.get(&key) == Some(value)) {
                Some(at) => {
                    let (Some(Value::Object(o)), Value::Object(pm)) = (merged.get(at), p) else {
                        return Err(SmpError::MixedList(field.to_string()));
                    };
                    let m = self.merge_map(o.clone(), pm.clone(), item.as_ref())?;
                    if let Some(slot) = merged.get_mut(at) {
                        *slot = Value::Object(m);
                    }
                }
                None => merged.push(p.clone()),
            }
        }
        let (in_patch, server_only) = merged
            .into_iter()
            .partition(|v| position(&patch, v, &key).is_some());
        Ok(normalize_order(
            in_patch,
            server_only,
            &patch,
            &original,
            &key,
        ))
    }
}

/// Applies the `$patch` items of a patch list: deletions remove from the
/// original, a replace item makes the other items the whole list.
fn special_items(
    field: &str,
    mut original: Vec<Value>,
    patch: Vec<Value>,
    key: &str,
) -> Result<(Vec<Value>, Vec<Value>), SmpError> {
    let mut plain = Vec::with_capacity(patch.len());
    let mut replace = false;
    for item in patch {
        match item.get(DIRECTIVE).map(|d| d.as_str()) {
            None => plain.push(item),
            Some(Some("delete")) => {
                let value = item.get(key).ok_or_else(|| SmpError::NoMergeKey {
                    field: field.to_string(),
                    key: key.to_string(),
                })?;
                original.retain(|o| o.get(key) != Some(value));
            }
            Some(Some("replace")) => replace = true,
            Some(Some("merge")) => return Err(SmpError::MergeItem),
            Some(other) => return Err(SmpError::BadDirective(format!("{other:?}"))),
        }
    }
    Ok(if replace {
        (plain, Vec::new())
    } else {
        (original, plain)
    })
}

/// Where `item` is in `list`: by the merge key's value for maps, by value
/// otherwise.
pub(super) fn position(list: &[Value], item: &Value, key: &str) -> Option<usize> {
    if key.is_empty() {
        return list.iter().position(|v| v == item);
    }
    let value = item.get(key);
    list.iter().position(|v| v.get(key) == value)
}

/// Orders the patch's items by `patch_order` and the others by
/// `server_order`, then interleaves the two by their server positions.
fn normalize_order(
    mut patched: Vec<Value>,
    mut server_only: Vec<Value>,
    patch_order: &[Value],
    server_order: &[Value],
    key: &str,
) -> Vec<Value> {
    let deletes: Vec<Value> = if key.is_empty() {
        Vec::new()
    } else {
        let (deletes, rest): (Vec<Value>, Vec<Value>) = patched
            .into_iter()
            .partition(|v| v.get(DIRECTIVE).and_then(Value::as_str) == Some("delete"));
        patched = rest;
        deletes
    };
    patched.sort_by_key(|v| position(patch_order, v, key).unwrap_or(usize::MAX));
    patched.extend(deletes);
    server_only.sort_by_key(|v| position(server_order, v, key).unwrap_or(usize::MAX));
    let mut out = Vec::with_capacity(patched.len() + server_only.len());
    let (mut left, mut right) = (
        server_only.into_iter().peekable(),
        patched.into_iter().peekable(),
    );
    loop {
        let take_left = match (left.peek(), right.peek()) {
            (None, None) => break,
            (Some(_), None) => true,
            (None, Some(_)) => false,
            (Some(l), Some(r)) => matches!(
                (position(server_order, l, key), position(server_order, r, key)),
                (Some(li), Some(ri)) if li < ri
            ),
        };
        let next = if take_left { left.next() } else { right.next() };
        out.extend(next);
    }
    out
}

/// `$retainKeys`: every field the patch sets must be listed; the original
/// loses the fields not listed.
fn retain_keys(
    original: &mut Map<String, Value>,
    patch: &mut Map<String, Value>,
) -> Result<(), SmpError> {
    let Some(list) = patch.remove(RETAIN_KEYS) else {
        return Ok(());
    };
    let Value::Array(list) = list else {
        return Err(SmpError::BadRetainKeys(RETAIN_KEYS.into()));
    };
    let listed = |k: &str| list.iter().any(|v| v.as_str() == Some(k));
    for (k, v) in patch.iter() {
        let directive = k.starts_with(DELETE_PRIMITIVE) || k.starts_with(SET_ORDER);
        if !v.is_null() && !directive && !listed(k) {
            return Err(SmpError::BadRetainKeys(k.clone()));
        }
    }
    original.retain(|k, _| listed(k));
    Ok(())
}

/// Sets a patch value that has nothing to merge with: nulls inside it are
/// dropped, and a map carrying a directive is not set at all.
fn set_without_directives(original: &mut Map<String, Value>, key: &str, mut value: Value) {
    discard_nulls(&mut value);
    match remove_directives(value) {
        Some(v) => {
            original.insert(key.to_string(), v);
        }
        None => {
            original.remove(key);
        }
    }
}

fn discard_nulls(value: &mut Value) {
    match value {
        Value::Object(m) => {
            m.retain(|_, v| !v.is_null());
            m.values_mut().for_each(discard_nulls);
        }
        Value::Array(items) => items.iter_mut().for_each(discard_nulls),
        _ => {}
    }
}

/// The value without maps that carry a `$patch`; `None` when it is one.
fn remove_directives(value: Value) -> Option<Value> {
    match value {
        Value::Object(m) if m.contains_key(DIRECTIVE) => None,
        Value::Object(m) => Some(Value::Object(
            m.into_iter()
                .filter_map(|(k, v)| remove_directives(v).map(|v| (k, v)))
                .collect(),
        )),
        Value::Array(items) => Some(Value::Array(
            items.into_iter().filter_map(remove_directives).collect(),
        )),
        other => Some(other),
    }
}
