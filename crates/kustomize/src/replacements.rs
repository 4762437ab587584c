//! `replacements`: copy one field of one object (the source) into fields of
//! other objects (the targets), optionally into one part of a delimited
//! string. Field paths are kustomize's: dot-separated keys, `[key=value]`
//! to pick list items, `*` for every item, a number for one item.

use std::path::Path;

use serde::Deserialize;

use crate::error::Error;
use crate::fsys::Loader;
use crate::kustomization::Selector;
use crate::patch::Target;
use crate::resource::{ObjectRef, Resource};
use crate::yaml::{self, Node, Scalar};

#[derive(Debug, Default, Deserialize, Clone)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Replacement {
    pub path: Option<String>,
    pub source: Option<Source>,
    #[serde(default)]
    pub targets: Vec<TargetSpec>,
}

#[derive(Debug, Default, Deserialize, Clone)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Source {
    pub group: Option<String>,
    pub version: Option<String>,
    pub kind: Option<String>,
    pub name: Option<String>,
    pub namespace: Option<String>,
    pub field_path: Option<String>,
    pub options: Option<FieldOptions>,
}

#[derive(Debug, Default, Deserialize, Clone)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct TargetSpec {
    pub select: Option<Selector>,
    #[serde(default)]
    pub reject: Vec<Selector>,
    #[serde(default)]
    pub field_paths: Vec<String>,
    pub options: Option<FieldOptions>,
}

#[derive(Debug, Default, Deserialize, Clone)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct FieldOptions {
    pub delimiter: Option<String>,
    #[serde(default)]
    pub index: i64,
    pub encoding: Option<String>,
    #[serde(default)]
    pub create: bool,
}

fn err(kfile: &Path, message: String) -> Error {
    Error::Field {
        path: kfile.to_path_buf(),
        field: "replacements".into(),
        message,
    }
}

/// Runs the replacements of one kustomization, loading `path:` entries.
pub fn run(
    loader: &Loader,
    kfile: &Path,
    dir: &Path,
    list: &[Replacement],
    res: &mut [Resource],
) -> Result<(), Error> {
    for entry in list {
        match &entry.path {
            Some(path) => {
                for loaded in load_file(loader, kfile, dir, path)? {
                    apply(kfile, &loaded, res)?;
                }
            }
            None => apply(kfile, entry, res)?,
        }
    }
    Ok(())
}

/// A replacements file holds one replacement or a list of them.
fn load_file(
    loader: &Loader,
    kfile: &Path,
    dir: &Path,
    path: &str,
) -> Result<Vec<Replacement>, Error> {
    let file = loader.resolve_file(kfile, dir, "replacements", path)?;
    let text = loader.read(&file)?;
    let docs = yaml::parse_documents(&text).map_err(|source| Error::Yaml {
        path: file.clone(),
        source,
    })?;
    let mut out = Vec::new();
    for doc in docs.into_iter().flatten().filter(|d| !d.is_null()) {
        let json = yaml::to_json(&doc);
        let decoded = if json.is_array() {
            serde_json::from_value::<Vec<Replacement>>(json)
        } else {
            serde_json::from_value::<Replacement>(json).map(|r| vec![r])
        };
        out.extend(decoded.map_err(|e| err(&file, e.to_string()))?);
    }
    Ok(out)
}

pub fn apply(kfile: &Path, rep: &Replacement, res: &mut [Resource]) -> Result<(), Error> {
    let source = rep
        .source
        .as_ref()
        .ok_or_else(|| err(kfile, "a replacement needs a source".into()))?;
    let value = source_value(kfile, source, res)?;
    for target in &rep.targets {
        let select = target
            .select
            .as_ref()
            .ok_or_else(|| err(kfile, "a replacement target needs select".into()))?;
        let select = Target::new(kfile, select)?;
        let rejects = target
            .reject
            .iter()
            .map(|s| Target::new(kfile, s))
            .collect::<Result<Vec<_>, _>>()?;
        for r in res.iter_mut() {
            if !select.selects(r) || rejects.iter().any(|x| x.selects(r)) {
                continue;
            }
            for path in &target.field_paths {
                set_target(kfile, r, path, &value, target.options.as_ref())?;
            }
        }
    }
    Ok(())
}

fn source_value(kfile: &Path, s: &Source, res: &[Resource]) -> Result<Node, Error> {
    let wanted = ObjectRef {
        group: s.group.as_deref(),
        version: s.version.as_deref(),
        kind: s.kind.as_deref(),
        name: s.name.as_deref(),
        namespace: s.namespace.as_deref(),
    };
    let r = wanted
        .find_one(res)
        .map_err(|why| err(kfile, format!("source {} {why}", wanted.describe())))?;
    let path = s.field_path.as_deref().unwrap_or("metadata.name");
    let Some(value) = first_at(&r.node, path) else {
        return Err(err(
            kfile,
            format!("fieldPath {path:?} is missing in source {}", r.id()),
        ));
    };
    match s.options.as_ref().and_then(|o| o.delimiter.as_deref()) {
        Some(delimiter) if !delimiter.is_empty() => {
            let text = value.as_str().unwrap_or_default();
            let index = s.options.as_ref().map_or(0, |o| o.index);
            let part = usize::try_from(index)
                .ok()
                .and_then(|i| text.split(delimiter).nth(i))
                .ok_or_else(|| {
                    err(
                        kfile,
                        format!("options.index {index} is out of bounds for value {text:?}"),
                    )
                })?;
            Ok(Node::string(part))
        }
        _ => Ok(value),
    }
}

fn set_target(
    kfile: &Path,
    r: &mut Resource,
    path: &str,
    value: &Node,
    options: Option<&FieldOptions>,
) -> Result<(), Error> {
    let create = options.is_some_and(|o| o.create).then_some(value);
    let mut outcome: Result<usize, String> = Ok(0);
    let id = r.id();
    walk(&mut r.node, &parse_path(path), create, &mut |field| {
        if let Ok(count) = outcome.as_mut() {
            match set_field(field, value, options) {
                Ok(()) => *count += 1,
                Err(e) => outcome = Err(e),
            }
        }
    });
    match outcome {
        Ok(0) => Err(err(
            kfile,
            format!("fieldPath {path:?} is missing in target {id}"),
        )),
        Ok(_) => Ok(()),
        Err(e) => Err(err(kfile, format!("{id}: {path}: {e}"))),
    }
}

/// Writes `value` into one target field. A scalar target keeps its own
/// kind: a string stays a string even when the value looks like a number.
fn set_field(field: &mut Node, value: &Node, options: Option<&FieldOptions>) -> Result<(), String> {
    let mut value = value.clone();
    if let Some(delimiter) = options
        .and_then(|o| o.delimiter.as_deref())
        .filter(|d| !d.is_empty())
    {
        let Node::Scalar(current) = &*field else {
            return Err("delimiter can only be used with scalar fields".into());
        };
        let mut parts: Vec<String> = current.value.split(delimiter).map(str::to_string).collect();
        let part = value.as_str().unwrap_or_default().to_string();
        let index = options.map_or(0, |o| o.index);
        match usize::try_from(index) {
            Err(_) => parts.insert(0, part),
            Ok(i) if i >= parts.len() => parts.push(part),
            Ok(i) => parts[i] = part,
        }
        value = Node::string(parts.join(delimiter));
    }
    match (&mut *field, value) {
        (Node::Scalar(target), Node::Scalar(v)) => {
            if target.is_string() {
                target.tag = Some("!!str".into());
            }
            target.value = v.value;
        }
        (field, value) => *field = value,
    }
    Ok(())
}

enum Seg {
    Key(String),
    Match(String, String),
    Index(usize),
    All,
}

/// The first node at a field path.
pub(crate) fn first_at(node: &Node, path: &str) -> Option<Node> {
    let mut node = node.clone();
    let mut first = None;
    walk(&mut node, &parse_path(path), None, &mut |n| {
        if first.is_none() {
            first = Some(n.clone());
        }
    });
    first
}

/// Splits a field path on dots outside `[...]`.
fn parse_path(path: &str) -> Vec<Seg> {
    let mut parts = Vec::new();
    let mut current = String::new();
    let mut depth = 0usize;
    for c in path.chars() {
        match c {
            '[' => {
                depth += 1;
                current.push(c);
            }
            ']' => {
                depth = depth.saturating_sub(1);
                current.push(c);
            }
            '.' if depth == 0 => parts.push(std::mem::take(&mut current)),
            _ => current.push(c),
        }
    }
    parts.push(current);
    parts
        .into_iter()
        .map(|p| {
            if p == "*" || p == "[*]" {
                return Seg::All;
            }
            if let Some(inner) = p.strip_prefix('[').and_then(|p| p.strip_suffix(']'))
                && let Some((k, v)) = inner.split_once('=')
            {
                return Seg::Match(k.to_string(), v.to_string());
            }
            // `[example.com/role]` quotes a key that holds dots.
            if let Some(key) = p.strip_prefix('[').and_then(|p| p.strip_suffix(']')) {
                return Seg::Key(key.to_string());
            }
            match p.parse::<usize>() {
                Ok(i) => Seg::Index(i),
                Err(_) => Seg::Key(p),
            }
        })
        .collect()
}

/// Calls `f` on every node at `segs`; with `create`, missing map keys and
/// `[key=value]` items are added on the way, and a missing leaf is added
/// for `f` to fill (an untyped scalar, or a copy of a non-scalar `create`).
fn walk(node: &mut Node, segs: &[Seg], create: Option<&Node>, f: &mut dyn FnMut(&mut Node)) {
    let Some((head, rest)) = segs.split_first() else {
        f(node);
        return;
    };
    match (head, node) {
        (Seg::Key(key), Node::Map(m, _)) => {
            if m.get(key).is_none_or(Node::is_null) {
                let Some(leaf) = create else { return };
                let fresh = match rest.first() {
                    // A created scalar has no type of its own: the copied
                    // text decides it (checked against the oracle).
                    None if matches!(leaf, Node::Scalar(_)) => Node::Scalar(Scalar::plain("")),
                    None => leaf.clone(),
                    Some(Seg::Key(_)) => Node::map(),
                    Some(_) => Node::Seq(Vec::new(), Default::default()),
                };
                m.insert(key, fresh);
            }
            if let Some(child) = m.get_mut(key) {
                walk(child, rest, create, f);
            }
        }
        (Seg::Match(k, v), Node::Seq(items, _)) => {
            let matches = |i: &Node| i.str_at(&[k.as_str()]) == Some(v.as_str());
            if !items.iter().any(&matches) && create.is_some() {
                let mut item = Node::map();
                if let Some(m) = item.as_map_mut() {
                    m.insert(k, Node::Scalar(Scalar::string(v)));
                }
                items.push(item);
            }
            for item in items.iter_mut().filter(|i| matches(i)) {
                walk(item, rest, create, f);
            }
        }
        (Seg::Index(i), Node::Seq(items, _)) => {
            if let Some(item) = items.get_mut(*i) {
                walk(item, rest, create, f);
            }
        }
        (Seg::All, Node::Seq(items, _)) => {
            for item in items.iter_mut() {
                walk(item, rest, create, f);
            }
        }
        _ => {}
    }
}
