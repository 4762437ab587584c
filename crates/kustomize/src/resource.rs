//! One Kubernetes object in a build, with the identity kustomize tracks for
//! it: its name and namespace when it was loaded (name references are
//! matched against those) and whether a generator made it.

use crate::yaml::{Node, Scalar};

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum Behavior {
    #[default]
    Create,
    Merge,
    Replace,
}

#[derive(Debug, Clone)]
pub struct Resource {
    pub node: Node,
    /// Name and namespace as loaded, before any prefix, suffix or namespace.
    pub orig_name: String,
    pub orig_namespace: String,
    /// (prefix, suffix) of every namePrefix/nameSuffix applied, innermost
    /// first: when a reference could name several renamed objects, the one
    /// renamed like the referrer is meant (two overlays of one base).
    pub affixes: Vec<(String, String)>,
    /// Generated objects get a content hash appended to their name at the end.
    pub needs_hash: bool,
    pub behavior: Behavior,
    /// The file or generator it came from (buildMetadata).
    pub origin: Option<crate::origin::Origin>,
    /// The transformers that ran over it, in order (buildMetadata).
    pub transformations: Vec<crate::origin::Origin>,
}

impl Resource {
    pub fn new(mut node: Node) -> Self {
        // kustomize rewrites every annotation as a string on load, so
        // `n: 0755` prints as `"0755"` (checked against the oracle).
        if let Some(Node::Map(annotations, _)) = node.at_mut(&["metadata", "annotations"]) {
            for (_, v) in annotations.entries.iter_mut() {
                if let Node::Scalar(s) = v {
                    s.tag = Some("!!str".into());
                }
            }
        }
        let orig_name = node
            .str_at(&["metadata", "name"])
            .unwrap_or_default()
            .to_string();
        let orig_namespace = node
            .str_at(&["metadata", "namespace"])
            .unwrap_or_default()
            .to_string();
        Self {
            node,
            orig_name,
            orig_namespace,
            affixes: Vec::new(),
            needs_hash: false,
            behavior: Behavior::Create,
            origin: None,
            transformations: Vec::new(),
        }
    }

    pub fn kind(&self) -> &str {
        self.node.str_at(&["kind"]).unwrap_or_default()
    }

    pub fn api_version(&self) -> &str {
        self.node.str_at(&["apiVersion"]).unwrap_or_default()
    }

    /// (group, version) of `apiVersion`.
    pub fn group_version(&self) -> (&str, &str) {
        match self.api_version().split_once('/') {
            Some((g, v)) => (g, v),
            None => ("", self.api_version()),
        }
    }

    pub fn name(&self) -> &str {
        self.node.str_at(&["metadata", "name"]).unwrap_or_default()
    }

    pub fn namespace(&self) -> &str {
        self.node
            .str_at(&["metadata", "namespace"])
            .unwrap_or_default()
    }

    pub fn set_name(&mut self, name: &str) {
        if let Some(meta) = self.node.as_map_mut() {
            meta.map_entry("metadata")
                .insert("name", Node::Scalar(Scalar::string(name)));
        }
    }

    pub fn set_namespace(&mut self, namespace: &str) {
        if let Some(meta) = self.node.as_map_mut() {
            meta.map_entry("metadata")
                .insert("namespace", Node::Scalar(Scalar::string(namespace)));
        }
    }

    /// kustomize's resource id, used for duplicate detection and messages.
    pub fn id(&self) -> String {
        let (group, version) = self.group_version();
        let gvk = format!("{}.{}.{}", self.kind(), version, group)
            .trim_end_matches('.')
            .to_string();
        let ns = if self.namespace().is_empty() {
            "[noNs]"
        } else {
            self.namespace()
        };
        format!("{gvk}/{}.{ns}", self.name())
    }

    /// kustomize keeps its own bookkeeping annotations on every object during
    /// a build, so `metadata/annotations` always exists for JSON patches, and
    /// an annotations map left empty is dropped from the output.
    pub fn ensure_annotations(&mut self) {
        if let Some(Node::Map(meta, _)) = self.node.at_mut(&["metadata"])
            && meta.get("annotations").is_none_or(Node::is_null)
        {
            meta.insert("annotations", Node::map());
        }
    }

    /// See [`Resource::ensure_annotations`].
    pub fn drop_empty_annotations(&mut self) {
        if let Some(Node::Map(meta, _)) = self.node.at_mut(&["metadata"]) {
            let empty = meta
                .get("annotations")
                .is_some_and(|a| a.is_null() || a.as_map().is_some_and(|m| m.entries.is_empty()));
            if empty {
                meta.remove("annotations");
            }
        }
    }

    pub fn labels(&self) -> Vec<(String, String)> {
        string_map(self.node.at(&["metadata", "labels"]))
    }

    pub fn annotations(&self) -> Vec<(String, String)> {
        string_map(self.node.at(&["metadata", "annotations"]))
    }
}

fn string_map(node: Option<&Node>) -> Vec<(String, String)> {
    node.and_then(Node::as_map)
        .map(|m| {
            m.entries
                .iter()
                .map(|(k, v)| (k.value.clone(), v.as_str().unwrap_or_default().to_string()))
                .collect()
        })
        .unwrap_or_default()
}

/// One object named by a replacement source or a var's objref: unset parts
/// match anything, name and namespace match the current or the loaded ones.
#[derive(Debug, Default, Clone, Copy)]
pub struct ObjectRef<'a> {
    pub group: Option<&'a str>,
    pub version: Option<&'a str>,
    pub kind: Option<&'a str>,
    pub name: Option<&'a str>,
    pub namespace: Option<&'a str>,
}

impl ObjectRef<'_> {
    fn matches(&self, r: &Resource) -> bool {
        let eq = |want: Option<&str>, have: &str| want.is_none_or(|w| w.is_empty() || w == have);
        let (group, version) = r.group_version();
        eq(self.group, group)
            && eq(self.version, version)
            && eq(self.kind, r.kind())
            && (eq(self.name, r.name()) || eq(self.name, &r.orig_name))
            && (eq(self.namespace, r.namespace()) || eq(self.namespace, &r.orig_namespace))
    }

    /// The one object this names; the error says whether none or several matched.
    pub fn find_one<'r>(&self, res: &'r [Resource]) -> Result<&'r Resource, &'static str> {
        let mut found = res.iter().filter(|r| self.matches(r));
        match (found.next(), found.next()) {
            (Some(one), None) => Ok(one),
            (None, _) => Err("selects nothing"),
            (Some(_), Some(_)) => Err("selects more than one object"),
        }
    }

    /// `Kind/name` for messages.
    pub fn describe(&self) -> String {
        format!("{}/{}", self.kind.unwrap_or("*"), self.name.unwrap_or("*"))
    }
}

/// A field path in kustomize's fieldSpec form (`spec/template/metadata/labels`),
/// limited to objects of one kind (and group) when those are set.
#[derive(Debug, Clone, Copy)]
pub struct FieldSpec {
    pub group: Option<&'static str>,
    pub kind: Option<&'static str>,
    pub path: &'static str,
    pub create: bool,
}

impl FieldSpec {
    pub const fn any(path: &'static str, create: bool) -> Self {
        Self {
            group: None,
            kind: None,
            path,
            create,
        }
    }

    pub const fn kind(kind: &'static str, path: &'static str, create: bool) -> Self {
        Self {
            group: None,
            kind: Some(kind),
            path,
            create,
        }
    }

    pub const fn gk(
        group: &'static str,
        kind: &'static str,
        path: &'static str,
        create: bool,
    ) -> Self {
        Self {
            group: Some(group),
            kind: Some(kind),
            path,
            create,
        }
    }

    pub fn applies_to(&self, res: &Resource) -> bool {
        self.kind.is_none_or(|k| k == res.kind())
            && self.group.is_none_or(|g| g == res.group_version().0)
    }
}

/// Calls `f` on every node at `path` (sequences are walked through, `[]`
/// suffixes ignored), creating missing maps on the way when `create` is set.
pub fn visit(node: &mut Node, path: &[&str], create: bool, f: &mut dyn FnMut(&mut Node)) {
    if let Node::Seq(items, _) = node {
        for item in items {
            visit(item, path, create, f);
        }
        return;
    }
    let Some((head, rest)) = path.split_first() else {
        f(node);
        return;
    };
    let key = head.trim_end_matches("[]");
    let Some(map) = node.as_map_mut() else {
        return;
    };
    if map.get(key).is_none_or(Node::is_null) {
        if !create {
            return;
        }
        map.insert(key, Node::map());
    }
    if let Some(child) = map.get_mut(key) {
        visit(child, rest, create, f);
    }
}

/// Splits a fieldSpec path on `/`, keeping `\/` escapes inside one key.
pub fn split_path(path: &str) -> Vec<String> {
    let mut parts = vec![String::new()];
    let mut chars = path.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\\' if chars.peek() == Some(&'/') => {
                chars.next();
                if let Some(last) = parts.last_mut() {
                    last.push('/');
                }
            }
            '/' => parts.push(String::new()),
            _ => {
                if let Some(last) = parts.last_mut() {
                    last.push(c);
                }
            }
        }
    }
    parts
}
