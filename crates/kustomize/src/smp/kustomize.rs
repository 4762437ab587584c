//! The strategic merge `kustomize build` applies (kyaml's merge walker),
//! step for step, because its output is what we must print:
//!
//! - fields are walked in sorted order; a patch value of another node kind
//!   than the object's is refused ("wrong node kind");
//! - only `$patch` (merge, replace, delete) is a directive: `$retainKeys`,
//!   `$setElementOrder/…` and `$deleteFromPrimitiveList/…` stay as fields;
//! - lists merge only where the schema gives the field the `merge` strategy,
//!   keyed by its list-map keys or merge key (primitive lists as sets); other
//!   lists, and every list of a kind the schema does not know, are replaced by
//!   the patch's list verbatim;
//! - a merged list holds the patch's items first, then the object's others.
//!
//! Where kyaml has quirks (items matching on only some of several keys,
//! an item-level `$patch: replace` that the object's item wins over), we
//! follow them: the oracle's output is the specification.

use super::kmatch::{ElementKeys, element_list, element_set, element_values, merge_values};
use super::schema::{FieldMeta, Schema};
use crate::yaml::{Node, Style, emit};

/// Why kustomize refuses a strategic merge patch.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum KustomizeSmpError {
    #[error("wrong node kind: expected {expected} but got {got}: node contents:\n{contents}")]
    WrongKind {
        expected: &'static str,
        got: &'static str,
        contents: String,
    },
    #[error("unknown patch strategy '{0}'")]
    UnknownDirective(String),
    #[error("{0}")]
    List(String),
}

/// Merges `patch` into the object `target` as `kustomize build` does.
pub fn smp(target: &mut Node, patch: &Node, schema: &Schema) -> Result<(), KustomizeSmpError> {
    let walker = Walker { schema };
    match walker.walk(Some(target), Some(patch), None)? {
        Res::Dest => {}
        Res::New(node) => *target = node,
        // A patch deleting the whole object is handled by the caller.
        Res::Clear => *target = Node::map(),
    }
    Ok(())
}

/// A walk's result: the destination, changed in place, or a new value, or
/// nothing (the field is cleared).
enum Res {
    Dest,
    New(Node),
    Clear,
}

#[derive(Clone, Copy, PartialEq)]
enum Directive {
    Merge,
    Replace,
    Delete,
}

struct Walker<'s> {
    schema: &'s Schema,
}

fn kind_name(node: &Node) -> &'static str {
    match node {
        Node::Map(..) => "MappingNode",
        Node::Seq(..) => "SequenceNode",
        Node::Scalar(_) => "ScalarNode",
    }
}

fn present(node: Option<&Node>) -> Option<&Node> {
    node.filter(|n| !n.is_null())
}

impl Walker<'_> {
    fn walk(
        &self,
        dest: Option<&mut Node>,
        origin: Option<&Node>,
        meta: Option<FieldMeta>,
    ) -> Result<Res, KustomizeSmpError> {
        // Without a schema from the parent, an object's own apiVersion and
        // kind may name one (an embedded object of a built-in kind).
        let meta = meta.or_else(|| {
            [dest.as_deref(), origin]
                .into_iter()
                .flatten()
                .find_map(|n| {
                    self.schema
                        .root(n.str_at(&["apiVersion"])?, n.str_at(&["kind"])?)
                })
        });
        let first = present(dest.as_deref()).or(present(origin));
        if let Some(first) = first {
            for other in [dest.as_deref(), origin].into_iter().flatten() {
                if !other.is_null() && kind_name(other) != kind_name(first) {
                    return Err(KustomizeSmpError::WrongKind {
                        expected: kind_name(first),
                        got: kind_name(other),
                        contents: emit::to_yaml(other).trim_end().to_string(),
                    });
                }
            }
        }
        match first {
            Some(Node::Seq(..)) if meta.as_ref().is_some_and(|m| m.strategy.merge) => {
                self.walk_associative(dest, origin, meta.unwrap_or_default())
            }
            Some(Node::Seq(..)) | Some(Node::Scalar(_)) => Ok(match origin {
                Some(o) => Res::New(o.clone()),
                None if dest.is_some() => Res::Dest,
                None => Res::Clear,
            }),
            _ => self.walk_map(dest, origin, meta),
        }
    }

    fn walk_map(
        &self,
        dest: Option<&mut Node>,
        origin: Option<&Node>,
        meta: Option<FieldMeta>,
    ) -> Result<Res, KustomizeSmpError> {
        let mut origin = origin.cloned();
        match dest {
            Some(d) if !d.is_null() => {
                if origin.as_ref().is_some_and(Node::is_null) {
                    return Ok(Res::Clear);
                }
                match map_directive(origin.as_mut())? {
                    Directive::Delete => Ok(Res::Clear),
                    Directive::Replace => self.walk_new(origin, meta.as_ref()),
                    Directive::Merge => {
                        self.walk_fields(d, origin.as_ref(), meta.as_ref())?;
                        Ok(Res::Dest)
                    }
                }
            }
            dest => {
                // Adding: an unknown directive is not an error here.
                if map_directive(origin.as_mut()).ok() == Some(Directive::Delete) {
                    return Ok(Res::Clear);
                }
                match (&origin, dest) {
                    // An explicit `null` in the object stays when the patch
                    // does not mention the field; an empty value does not.
                    (None, Some(d)) if d.as_str().is_some_and(|s| !s.is_empty()) => Ok(Res::Dest),
                    _ => self.walk_new(origin, meta.as_ref()),
                }
            }
        }
    }

    /// The patch's own map becomes the value, its fields walked against
    /// themselves (which drops nulls and applies nested directives).
    fn walk_new(
        &self,
        origin: Option<Node>,
        meta: Option<&FieldMeta>,
    ) -> Result<Res, KustomizeSmpError> {
        let Some(origin) = origin else {
            return Ok(Res::Clear);
        };
        let mut node = origin.clone();
        self.walk_fields(&mut node, Some(&origin), meta)?;
        Ok(Res::New(node))
    }

    fn walk_fields(
        &self,
        dest: &mut Node,
        origin: Option<&Node>,
        meta: Option<&FieldMeta>,
    ) -> Result<(), KustomizeSmpError> {
        let mut names: Vec<String> = [Some(&*dest), origin]
            .into_iter()
            .flatten()
            .filter_map(Node::as_map)
            .flat_map(|m| m.entries.iter().map(|(k, _)| k.value.clone()))
            .collect();
        names.sort();
        names.dedup();
        for name in names {
            let child = self.schema.child(meta, &name);
            let from = origin.and_then(Node::as_map).and_then(|m| m.get(&name));
            let Some(map) = dest.as_map_mut() else {
                return Ok(());
            };
            let res = self.walk(map.get_mut(&name), from, child)?;
            match res {
                Res::Dest => {}
                Res::New(node) if !node.is_null() => {
                    if let Some(slot) = map.get_mut(&name) {
                        *slot = keep_style(slot, node);
                    } else {
                        let key = origin
                            .and_then(Node::as_map)
                            .and_then(|m| m.entries.iter().find(|(k, _)| k.value == name))
                            .map(|(k, _)| k.clone())
                            .unwrap_or_else(|| crate::yaml::Scalar::plain(name.as_str()));
                        map.entries.push((key, node));
                    }
                }
                Res::New(_) | Res::Clear => {
                    map.remove(&name);
                }
            }
        }
        Ok(())
    }

    fn walk_associative(
        &self,
        dest: Option<&mut Node>,
        origin: Option<&Node>,
        meta: FieldMeta,
    ) -> Result<Res, KustomizeSmpError> {
        let mut origin = origin.cloned();
        let mut list: Vec<Node> = match dest {
            // Adding: the patch's list as written, directives and all.
            None => return self.merge_items(origin.clone(), origin.as_ref(), &meta),
            Some(d) if d.is_null() => {
                return self.merge_items(origin.clone(), origin.as_ref(), &meta);
            }
            Some(d) => {
                if origin.as_ref().is_some_and(Node::is_null) {
                    return Ok(Res::Clear);
                }
                match seq_directive(origin.as_mut())? {
                    Directive::Delete => return Ok(Res::Clear),
                    Directive::Replace => {
                        return self.merge_items(origin.clone(), origin.as_ref(), &meta);
                    }
                    Directive::Merge => d.as_seq().cloned().unwrap_or_default(),
                }
            }
        };
        let merged = self.merge_list(&mut list, origin.as_ref(), &meta)?;
        Ok(merged)
    }

    /// A new list (added or replacing) merged with itself.
    fn merge_items(
        &self,
        list: Option<Node>,
        origin: Option<&Node>,
        meta: &FieldMeta,
    ) -> Result<Res, KustomizeSmpError> {
        let Some(list) = list else {
            return Ok(Res::Clear);
        };
        let mut items = list.as_seq().cloned().unwrap_or_default();
        self.merge_list(&mut items, origin, meta)
    }

    /// kyaml's associative list merge of `origin` into `dest`.
    fn merge_list(
        &self,
        dest: &mut Vec<Node>,
        origin: Option<&Node>,
        meta: &FieldMeta,
    ) -> Result<Res, KustomizeSmpError> {
        let patch: &[Node] = origin.and_then(Node::as_seq).map_or(&[], Vec::as_slice);
        let keys = meta.kustomize_keys();
        // The patch's items come first.
        let mut values = element_values(&[patch, dest.as_slice()], &keys);
        let keys = if values.is_empty() && keys.is_empty() {
            values = primitive_values(&[patch, dest.as_slice()]);
            vec![String::new()]
        } else {
            keys
        };
        if values.is_empty() {
            return Ok(Res::New(Node::Seq(
                std::mem::take(dest),
                Default::default(),
            )));
        }
        if keys.len() > 1 {
            merge_values(&mut values);
        }
        let item_meta = meta.type_ref.clone().map(|t| FieldMeta {
            type_ref: Some(t),
            ..FieldMeta::default()
        });
        let mut items: Vec<Node> = Vec::new();
        let mut last = ElementKeys::new(keys.clone(), Vec::new());
        for vals in &values {
            if vals.is_empty() {
                continue;
            }
            let ek = ElementKeys::validated(&values, vals, &keys);
            let from = element_list(patch, &ek).cloned();
            let at = element_list(dest, &ek).map(|found| {
                dest.iter()
                    .position(|n| std::ptr::eq(n, found))
                    .unwrap_or_default()
            });
            let res = self.walk(
                at.and_then(|i| dest.get_mut(i)),
                from.as_ref(),
                item_meta.clone(),
            )?;
            let val = match res {
                Res::Dest => at.and_then(|i| dest.get(i)).cloned(),
                Res::New(n) => Some(n),
                Res::Clear => None,
            };
            last = ek.clone();
            let mut val = match val {
                Some(v) if !v.is_null() && v.as_map().is_none_or(|m| !m.entries.is_empty()) => v,
                _ => {
                    element_set(dest, None, &ek).map_err(KustomizeSmpError::List)?;
                    continue;
                }
            };
            if let Node::Map(m, _) = &mut val {
                for (key, value) in ek.keys.iter().zip(&ek.values) {
                    if m.get(key).is_none() && !value.is_empty() {
                        m.entries.push((
                            crate::yaml::Scalar::plain(key.as_str()),
                            Node::Scalar(crate::yaml::Scalar::plain(value.as_str())),
                        ));
                    }
                }
            }
            element_set(&mut items, Some(val), &ek).map_err(KustomizeSmpError::List)?;
        }
        super::kmatch::append_list(&mut items, dest, &last.keys)
            .map_err(KustomizeSmpError::List)?;
        Ok(Res::New(Node::Seq(items, Default::default())))
    }
}

/// The `$patch` item of a patch list, removed from it when it is a known
/// directive. Only an item holding nothing but `$patch` counts.
fn seq_directive(origin: Option<&mut Node>) -> Result<Directive, KustomizeSmpError> {
    let Some(Node::Seq(items, _)) = origin else {
        return Ok(Directive::Merge);
    };
    let Some(item) = items
        .iter()
        .filter_map(Node::as_map)
        .find(|m| m.get("$patch").is_some())
    else {
        return Ok(Directive::Merge);
    };
    if item.entries.len() > 1 {
        return Ok(Directive::Merge);
    }
    let text = item
        .get("$patch")
        .and_then(Node::as_str)
        .unwrap_or_default()
        .to_string();
    let directive = parse_directive(&text)?;
    items.retain(|i| i.str_at(&["$patch"]) != Some(text.as_str()));
    Ok(directive)
}

/// The distinct scalar texts of primitive lists, each as a one-value key.
fn primitive_values(lists: &[&[Node]]) -> Vec<Vec<String>> {
    let mut out: Vec<Vec<String>> = Vec::new();
    for item in lists.iter().flat_map(|l| l.iter()) {
        let text = vec![item.as_str().unwrap_or_default().to_string()];
        if !out.contains(&text) {
            out.push(text);
        }
    }
    out
}

/// kyaml gives a replaced scalar the style of the value it replaces, and
/// the style decides the type: `0755` over a quoted value stays the string
/// "0755", a quoted `"2"` over a plain value stays a string though plain.
fn keep_style(old: &Node, mut new: Node) -> Node {
    if let (Node::Scalar(old), Node::Scalar(new)) = (old, &mut new) {
        if old.style == Style::Plain && new.style != Style::Plain && new.tag.is_none() {
            new.tag = Some("!!str".into());
        }
        new.style = old.style;
    }
    new
}

/// The `$patch` of a patch map, removed from it when it is a known directive.
fn map_directive(origin: Option<&mut Node>) -> Result<Directive, KustomizeSmpError> {
    let Some(Node::Map(m, _)) = origin else {
        return Ok(Directive::Merge);
    };
    let Some(value) = m.get("$patch") else {
        return Ok(Directive::Merge);
    };
    let directive = parse_directive(value.as_str().unwrap_or_default())?;
    m.remove("$patch");
    Ok(directive)
}

fn parse_directive(text: &str) -> Result<Directive, KustomizeSmpError> {
    match text {
        "merge" => Ok(Directive::Merge),
        "replace" => Ok(Directive::Replace),
        "delete" => Ok(Directive::Delete),
        other => Err(KustomizeSmpError::UnknownDirective(other.to_string())),
    }
}
