//! The two-way diff: the strategic merge patch that turns `original` into
//! `modified` (what `kubectl` computes), so that
//! `apply(original, diff(original, modified)) == modified`.
//!
//! Removed fields become `null`; merging lists carry their changed and new
//! items, `{key: …, $patch: delete}` for removed items (or
//! `$deleteFromPrimitiveList/f` for primitives) and `$setElementOrder/f`
//! with the modified order; maps whose strategy includes `retainKeys` list
//! the fields they keep in `$retainKeys`. Lists and maps are compared in
//! the merge key's text order, as apimachinery does, so the patch is the
//! same whatever the input order.

use serde_json::{Map, Value};

use super::apply::{
    DELETE_PRIMITIVE, DIRECTIVE, RETAIN_KEYS, SET_ORDER, SmpError, item_meta, items_are_maps,
    root_meta, same_type,
};
use super::schema::{FieldMeta, Schema};

/// The patch from `original` to `modified`.
pub fn diff(original: &Value, modified: &Value, schema: &Schema) -> Result<Value, SmpError> {
    let meta = root_meta(original, modified, schema);
    let (Value::Object(o), Value::Object(m)) = (original, modified) else {
        return Err(SmpError::NotAnObject);
    };
    let differ = Differ { schema };
    differ
        .diff_maps(o, m, meta.as_ref(), false)
        .map(Value::Object)
}

struct Differ<'s> {
    schema: &'s Schema,
}

/// A value's text as Go's `%v` prints it, which orders items.
fn text(value: &Value) -> String {
    match value {
        Value::String(s) => s.clone(),
        Value::Null => "<nil>".into(),
        other => other.to_string(),
    }
}

impl Differ<'_> {
    fn diff_maps(
        &self,
        original: &Map<String, Value>,
        modified: &Map<String, Value>,
        meta: Option<&FieldMeta>,
        retain_keys: bool,
    ) -> Result<Map<String, Value>, SmpError> {
        let mut patch = Map::new();
        let mut retained = Vec::new();
        for (key, new) in modified {
            if retain_keys && !new.is_null() {
                retained.push(Value::String(key.clone()));
            }
            let Some(old) = original.get(key) else {
                patch.insert(key.clone(), new.clone());
                continue;
            };
            if key == DIRECTIVE || !same_type(old, new) {
                if old != new {
                    patch.insert(key.clone(), new.clone());
                }
                continue;
            }
            match (old, new) {
                (Value::Object(o), Value::Object(m)) => {
                    self.map_field(key, o, m, meta, &mut patch)?
                }
                (Value::Array(o), Value::Array(m)) => {
                    self.list_field(key, o, m, meta, &mut patch)?
                }
                _ if old != new => {
                    patch.insert(key.clone(), new.clone());
                }
                _ => {}
            }
        }
        for key in original.keys() {
            if !modified.contains_key(key) {
                patch.insert(key.clone(), Value::Null);
            }
        }
        let dropped = original
            .iter()
            .any(|(k, v)| !v.is_null() && !modified.contains_key(k));
        if !retained.is_empty() && (!patch.is_empty() || dropped) {
            retained.sort_by_key(text);
            patch.insert(RETAIN_KEYS.into(), Value::Array(retained));
        }
        Ok(patch)
    }

    fn map_field(
        &self,
        key: &str,
        original: &Map<String, Value>,
        modified: &Map<String, Value>,
        meta: Option<&FieldMeta>,
        patch: &mut Map<String, Value>,
    ) -> Result<(), SmpError> {
        let child = self.schema.child(meta, key);
        let strategy = child.as_ref().map(|c| c.strategy).unwrap_or_default();
        if strategy.replace {
            patch.insert(key.into(), Value::Object(modified.clone()));
            return Ok(());
        }
        let inner = self.diff_maps(original, modified, child.as_ref(), strategy.retain_keys)?;
        if !inner.is_empty() {
            patch.insert(key.into(), Value::Object(inner));
        }
        Ok(())
    }

    fn list_field(
        &self,
        key: &str,
        original: &[Value],
        modified: &[Value],
        meta: Option<&FieldMeta>,
        patch: &mut Map<String, Value>,
    ) -> Result<(), SmpError> {
        let child = self.schema.child(meta, key);
        let strategy = child.as_ref().map(|c| c.strategy).unwrap_or_default();
        if !strategy.merge {
            if original != modified {
                patch.insert(key.into(), Value::Array(modified.to_vec()));
            }
            return Ok(());
        }
        let Lists { add, delete, order } = self.diff_lists(
            key,
            original,
            modified,
            child.as_ref(),
            strategy.retain_keys,
        )?;
        if !add.is_empty() {
            patch.insert(key.into(), Value::Array(add));
        }
        if !delete.is_empty() {
            patch.insert(format!("{DELETE_PRIMITIVE}{key}"), Value::Array(delete));
        }
        if !order.is_empty() {
            patch.insert(format!("{SET_ORDER}{key}"), Value::Array(order));
        }
        Ok(())
    }

    fn diff_lists(
        &self,
        field: &str,
        original: &[Value],
        modified: &[Value],
        meta: Option<&FieldMeta>,
        retain_keys: bool,
    ) -> Result<Lists, SmpError> {
        if original.is_empty() {
            return Ok(Lists {
                add: modified.to_vec(),
                ..Lists::default()
            });
        }
        if !items_are_maps(field, &[original, modified])? {
            let (add, delete) = diff_scalars(original, modified);
            let changed = !delete.is_empty() || original != modified;
            return Ok(Lists {
                add: in_order(add, modified, ""),
                delete,
                order: if changed {
                    modified.to_vec()
                } else {
                    Vec::new()
                },
            });
        }
        let key = meta
            .and_then(|m| m.merge_key.clone())
            .ok_or_else(|| SmpError::NoMergeKeyInSchema(field.to_string()))?;
        let (changed, deleted) =
            self.diff_maps_lists(original, modified, &key, meta, retain_keys)?;
        let mut add = in_order(changed, modified, &key);
        add.extend(deleted);
        let same_order = original.len() == modified.len()
            && original
                .iter()
                .zip(modified)
                .all(|(o, m)| o.get(&key) == m.get(&key));
        let order = if !add.is_empty() || !same_order {
            modified
                .iter()
                .map(|m| {
                    let mut entry = Map::new();
                    entry.insert(key.clone(), m.get(&key).cloned().unwrap_or_default());
                    Value::Object(entry)
                })
                .collect()
        } else {
            Vec::new()
        };
        Ok(Lists {
            add,
            delete: Vec::new(),
            order,
        })
    }

    /// Changed or new items, and deletion items, walking both lists in the
    /// merge key's text order.
    fn diff_maps_lists(
        &self,
        original: &[Value],
        modified: &[Value],
        key: &str,
        meta: Option<&FieldMeta>,
        retain_keys: bool,
    ) -> Result<(Vec<Value>, Vec<Value>), SmpError> {
        let item = item_meta(meta);
        let sorted = |list: &[Value]| {
            let mut list = list.to_vec();
            list.sort_by_key(|v| text(v.get(key).unwrap_or(&Value::Null)));
            list
        };
        let (original, modified) = (sorted(original), sorted(modified));
        let key_text = |v: &Value| text(v.get(key).unwrap_or(&Value::Null));
        let (mut changed, mut deleted) = (Vec::new(), Vec::new());
        let (mut o, mut m) = (original.iter().peekable(), modified.iter().peekable());
        loop {
            match (o.peek(), m.peek()) {
                (None, None) => break,
                (Some(ov), Some(mv)) if key_text(ov) == key_text(mv) => {
                    let (Value::Object(om), Value::Object(mm)) = (ov, mv) else {
                        return Err(SmpError::MixedList(key.to_string()));
                    };
                    let mut inner = self.diff_maps(om, mm, item.as_ref(), retain_keys)?;
                    if !inner.is_empty() {
                        inner.insert(key.into(), mv.get(key).cloned().unwrap_or_default());
                        changed.push(Value::Object(inner));
                    }
                    o.next();
                    m.next();
                }
                (None, Some(mv)) => {
                    changed.push((*mv).clone());
                    m.next();
                }
                (Some(ov), Some(mv)) if key_text(ov) > key_text(mv) => {
                    changed.push((*mv).clone());
                    m.next();
                }
                (Some(ov), _) => {
                    let mut entry = Map::new();
                    entry.insert(key.into(), ov.get(key).cloned().unwrap_or_default());
                    entry.insert(DIRECTIVE.into(), Value::String("delete".into()));
                    deleted.push(Value::Object(entry));
                    o.next();
                }
            }
        }
        Ok((changed, deleted))
    }
}

#[derive(Default)]
struct Lists {
    add: Vec<Value>,
    delete: Vec<Value>,
    order: Vec<Value>,
}

/// Additions and removals of primitive lists, compared as sorted texts.
fn diff_scalars(original: &[Value], modified: &[Value]) -> (Vec<Value>, Vec<Value>) {
    let sorted = |list: &[Value]| {
        let mut list = list.to_vec();
        list.sort_by_key(text);
        list
    };
    let (original, modified) = (sorted(original), sorted(modified));
    let (mut add, mut delete) = (Vec::new(), Vec::<Value>::new());
    let (mut o, mut m) = (original.iter().peekable(), modified.iter().peekable());
    loop {
        match (o.peek(), m.peek()) {
            (None, None) => break,
            (Some(ov), Some(mv)) if text(ov) == text(mv) => {
                o.next();
                m.next();
            }
            (None, Some(mv)) => {
                add.push((*mv).clone());
                m.next();
            }
            (Some(ov), Some(mv)) if text(ov) > text(mv) => {
                add.push((*mv).clone());
                m.next();
            }
            (Some(ov), _) => {
                if !delete.contains(ov) {
                    delete.push((*ov).clone());
                }
                o.next();
            }
        }
    }
    (add, delete)
}

/// `items` in the order they have in `order` (by merge key for maps).
fn in_order(mut items: Vec<Value>, order: &[Value], key: &str) -> Vec<Value> {
    items.sort_by_key(|v| super::apply::position(order, v, key).unwrap_or(usize::MAX));
    items
}
