//! patches, patchesStrategicMerge and patchesJson6902: which objects a
//! patch selects, and JSON 6902 operations. The strategic merge itself is
//! in smp.rs.

use std::path::Path;

use crate::build::parse_objects;
use crate::error::Error;
use crate::fsys::Loader;
use crate::kustomization::{Kustomization, Patch, Selector};
use crate::resource::Resource;
use crate::smp::{Schema, apply_kustomize};
use crate::yaml::{self, Node};

fn patch_err(kfile: &Path, message: String) -> Error {
    Error::Patch {
        path: kfile.to_path_buf(),
        message,
    }
}

pub fn strategic_merge_files(
    loader: &Loader,
    kfile: &Path,
    dir: &Path,
    k: &Kustomization,
    res: &mut Vec<Resource>,
    schema: &Schema,
) -> Result<(), Error> {
    for entry in &k.patches_strategic_merge {
        let text = if entry.contains('\n') || entry.contains(": ") {
            entry.clone()
        } else {
            let path = loader.resolve_file(kfile, dir, "patchesStrategicMerge", entry)?;
            loader.read(&path)?
        };
        for p in parse_objects(kfile, &text)? {
            apply_smp_by_id(kfile, &p.node, res, schema)?;
        }
    }
    Ok(())
}

fn apply_smp_by_id(
    kfile: &Path,
    patch: &Node,
    res: &mut Vec<Resource>,
    schema: &Schema,
) -> Result<(), Error> {
    let kind = patch.str_at(&["kind"]).unwrap_or_default();
    let name = patch.str_at(&["metadata", "name"]).unwrap_or_default();
    let ns = patch.str_at(&["metadata", "namespace"]);
    let selected = |r: &Resource| {
        let ns_ok = ns.is_none_or(|n| n == r.namespace() || n == r.orig_namespace);
        r.kind() == kind && (r.name() == name || r.orig_name == name) && ns_ok
    };
    let hit = res.iter().any(selected);
    if deletes_object(patch) {
        res.retain(|r| !selected(r));
    } else {
        for r in res.iter_mut().filter(|r| selected(r)) {
            apply_kustomize(&mut r.node, patch, schema)
                .map_err(|e| patch_err(kfile, e.to_string()))?;
        }
    }
    if hit {
        Ok(())
    } else {
        Err(patch_err(
            kfile,
            format!("no resource matches the strategic merge patch for {kind} {name:?}"),
        ))
    }
}

pub fn patches(
    loader: &Loader,
    kfile: &Path,
    dir: &Path,
    list: &[Patch],
    res: &mut Vec<Resource>,
    schema: &Schema,
) -> Result<(), Error> {
    for p in list {
        let text = match (&p.patch, &p.path) {
            (Some(_), Some(_)) => {
                return Err(patch_err(kfile, "patch and path cannot both be set".into()));
            }
            (Some(inline), None) => inline.clone(),
            (None, Some(path)) => {
                let file = loader.resolve_file(kfile, dir, "patches", path)?;
                loader.read(&file)?
            }
            (None, None) => return Err(patch_err(kfile, "a patch needs patch or path".into())),
        };
        let docs = yaml::parse_documents(&text).map_err(|source| Error::Yaml {
            path: kfile.to_path_buf(),
            source,
        })?;
        let mut docs: Vec<Node> = docs.into_iter().flatten().collect();
        match docs.first_mut() {
            Some(Node::Seq(ops, _)) => {
                ops.iter_mut().for_each(yaml::resolve::yaml11_booleans);
                let target = p
                    .target
                    .as_ref()
                    .ok_or_else(|| patch_err(kfile, "a JSON 6902 patch needs a target".into()))?;
                let target = Target::new(kfile, target)?;
                for r in res.iter_mut().filter(|r| target.selects(r)) {
                    r.ensure_annotations();
                    json6902(&mut r.node, ops)
                        .map_err(|m| patch_err(kfile, format!("{}: {m}", r.id())))?;
                }
            }
            // A file of several strategic merge patches applies each in turn.
            Some(Node::Map(..)) => {
                for node in &docs {
                    smp_patch(kfile, p, node, res, schema)?;
                }
            }
            _ => return Err(patch_err(kfile, "empty patch".into())),
        }
    }
    Ok(())
}

fn smp_patch(
    kfile: &Path,
    p: &Patch,
    node: &Node,
    res: &mut Vec<Resource>,
    schema: &Schema,
) -> Result<(), Error> {
    let Some(target) = &p.target else {
        return apply_smp_by_id(kfile, node, res, schema);
    };
    let target = Target::new(kfile, target)?;
    if deletes_object(node) {
        res.retain(|r| !target.selects(r));
        return Ok(());
    }
    let option = |key: &str| {
        p.options
            .as_ref()
            .and_then(|o| o.get(key).copied())
            .unwrap_or(false)
    };
    let keep = (option("allowNameChange"), option("allowKindChange"));
    for r in res.iter_mut().filter(|r| target.selects(r)) {
        let own = with_identity_of(node, r, keep);
        apply_kustomize(&mut r.node, &own, schema).map_err(|e| patch_err(kfile, e.to_string()))?;
    }
    Ok(())
}

/// A compiled patch target. Name and namespace are anchored regular
/// expressions in kustomize (`name: web-.*`), and so are group, version and
/// kind (`kind: Config.*`); an object is selected by its current or its
/// original name.
pub struct Target {
    group: Option<regex::Regex>,
    version: Option<regex::Regex>,
    kind: Option<regex::Regex>,
    name: Option<regex::Regex>,
    namespace: Option<regex::Regex>,
    labels: crate::selector::Selector,
    annotations: crate::selector::Selector,
}

impl Target {
    pub fn new(kfile: &Path, selector: &Selector) -> Result<Self, Error> {
        let compile = |field: &str, pattern: &Option<String>| {
            pattern
                .as_deref()
                .filter(|p| !p.is_empty())
                .map(|p| {
                    regex::Regex::new(&format!("^(?:{p})$")).map_err(|e| {
                        patch_err(
                            kfile,
                            format!("target {field} {p:?} is not a valid regex: {e}"),
                        )
                    })
                })
                .transpose()
        };
        let parse = |field: &str, text: &Option<String>| {
            crate::selector::Selector::parse(text.as_deref().unwrap_or_default())
                .map_err(|e| patch_err(kfile, format!("target {field}: {e}")))
        };
        Ok(Self {
            group: compile("group", &selector.group)?,
            version: compile("version", &selector.version)?,
            kind: compile("kind", &selector.kind)?,
            labels: parse("labelSelector", &selector.label_selector)?,
            annotations: parse("annotationSelector", &selector.annotation_selector)?,
            name: compile("name", &selector.name)?,
            namespace: compile("namespace", &selector.namespace)?,
        })
    }

    pub fn selects(&self, r: &Resource) -> bool {
        let (group, version) = r.group_version();
        let re = |pattern: &Option<regex::Regex>, now: &str, orig: &str| {
            pattern
                .as_ref()
                .is_none_or(|p| p.is_match(now) || p.is_match(orig))
        };
        re(&self.group, group, group)
            && re(&self.version, version, version)
            && re(&self.kind, r.kind(), r.kind())
            && re(&self.name, r.name(), &r.orig_name)
            && re(&self.namespace, r.namespace(), &r.orig_namespace)
            && self.labels.matches(&r.labels())
            && self.annotations.matches(&r.annotations())
    }
}

/// `$patch: delete` at the top of a strategic merge patch removes the
/// objects it selects.
fn deletes_object(patch: &Node) -> bool {
    patch.str_at(&["$patch"]) == Some("delete")
}

/// A targeted strategic merge patch does not rename or re-kind what it
/// patches unless its options allow it (`allowNameChange`,
/// `allowKindChange`): otherwise its apiVersion, kind, name and namespace
/// become the target's.
fn with_identity_of(patch: &Node, r: &Resource, (allow_name, allow_kind): (bool, bool)) -> Node {
    let mut own = patch.clone();
    let patch_name = patch.str_at(&["metadata", "name"]).filter(|_| allow_name);
    let patch_kind = patch.str_at(&["kind"]).filter(|_| allow_kind);
    if let Some(m) = own.as_map_mut() {
        if patch_kind.is_none() {
            m.insert("apiVersion", Node::string(r.api_version()));
            m.insert("kind", Node::string(r.kind()));
        }
        let meta = m.map_entry("metadata");
        meta.insert("name", Node::string(patch_name.unwrap_or(r.name())));
        if r.namespace().is_empty() {
            meta.remove("namespace");
        } else {
            meta.insert("namespace", Node::string(r.namespace()));
        }
    }
    own
}

/// Applies RFC 6902 operations to a node.
pub fn json6902(doc: &mut Node, ops: &[Node]) -> Result<(), String> {
    for op in ops {
        let kind = op.str_at(&["op"]).ok_or("operation without op")?;
        let path = pointer(op.str_at(&["path"]).ok_or("operation without path")?);
        match kind {
            "add" => add(
                doc,
                &path,
                op.at(&["value"]).cloned().ok_or("add without value")?,
            )?,
            "replace" => {
                let value = op.at(&["value"]).cloned().ok_or("replace without value")?;
                // A key missing from an existing map is added, as kustomize's
                // JSON patch library does; a missing parent is an error.
                let parent_is_map = path
                    .split_last()
                    .is_some_and(|(_, parent)| matches!(get_mut(doc, parent), Ok(Node::Map(..))));
                if parent_is_map {
                    add(doc, &path, value)?;
                } else {
                    *get_mut(doc, &path)? = value;
                }
            }
            "remove" => {
                remove(doc, &path)?;
            }
            "move" | "copy" => {
                let from = pointer(op.str_at(&["from"]).ok_or("move without from")?);
                let value = if kind == "move" {
                    remove(doc, &from)?
                } else {
                    get_mut(doc, &from)?.clone()
                };
                add(doc, &path, value)?;
            }
            "test" => {
                let want = op.at(&["value"]).ok_or("test without value")?;
                if yaml::to_json(get_mut(doc, &path)?) != yaml::to_json(want) {
                    return Err(format!("test failed at {}", path.join("/")));
                }
            }
            other => return Err(format!("unknown op {other:?}")),
        }
    }
    Ok(())
}

fn pointer(p: &str) -> Vec<String> {
    p.split('/')
        .skip(1)
        .map(|s| s.replace("~1", "/").replace("~0", "~"))
        .collect()
}

fn get_mut<'n>(doc: &'n mut Node, path: &[String]) -> Result<&'n mut Node, String> {
    let mut node = doc;
    for seg in path {
        node = match node {
            Node::Map(m, _) => m.get_mut(seg),
            Node::Seq(s, _) => seg.parse::<usize>().ok().and_then(|i| s.get_mut(i)),
            Node::Scalar(_) => None,
        }
        .ok_or_else(|| format!("path /{} does not exist", path.join("/")))?;
    }
    Ok(node)
}

fn add(doc: &mut Node, path: &[String], value: Node) -> Result<(), String> {
    let Some((last, parent)) = path.split_last() else {
        *doc = value;
        return Ok(());
    };
    match get_mut(doc, parent)? {
        Node::Map(m, _) => m.insert(last, value),
        Node::Seq(s, _) if last == "-" => s.push(value),
        Node::Seq(s, _) => {
            let i: usize = last.parse().map_err(|_| format!("bad index {last:?}"))?;
            if i > s.len() {
                return Err(format!("index {i} out of range"));
            }
            s.insert(i, value);
        }
        Node::Scalar(_) => return Err(format!("cannot add under a scalar at {last:?}")),
    }
    Ok(())
}

fn remove(doc: &mut Node, path: &[String]) -> Result<Node, String> {
    let (last, parent) = path.split_last().ok_or("cannot remove the root")?;
    match get_mut(doc, parent)? {
        Node::Map(m, _) => m.remove(last).ok_or_else(|| format!("no key {last:?}")),
        Node::Seq(s, _) => {
            let i: usize = last.parse().map_err(|_| format!("bad index {last:?}"))?;
            if i >= s.len() {
                return Err(format!("index {i} out of range"));
            }
            Ok(s.remove(i))
        }
        Node::Scalar(_) => Err("cannot remove under a scalar".into()),
    }
}
