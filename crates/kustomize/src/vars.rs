//! `vars`: `$(NAME)` references in a fixed set of fields (container
//! command, args, env values and mount paths, a few Ingress, Service and
//! NFS fields, labels and annotations) are replaced by a field of a named
//! object. Vars from every kustomization in the tree are resolved once, at
//! the top, after name references, so they see final names.

use std::path::{Path, PathBuf};

use serde::Deserialize;

use crate::error::Error;
use crate::replacements::first_at;
use crate::resource::{ObjectRef, Resource, split_path, visit};
use crate::yaml::Node;

#[derive(Debug, Deserialize, Clone)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Var {
    pub name: String,
    pub objref: ObjRef,
    pub fieldref: Option<FieldRef>,
}

#[derive(Debug, Default, Deserialize, Clone)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ObjRef {
    pub api_version: Option<String>,
    pub group: Option<String>,
    pub version: Option<String>,
    pub kind: Option<String>,
    pub name: Option<String>,
    pub namespace: Option<String>,
}

#[derive(Debug, Default, Deserialize, Clone)]
#[serde(deny_unknown_fields)]
pub struct FieldRef {
    pub fieldpath: Option<String>,
}

/// Workloads and where their pod spec is.
const POD_SPECS: &[(&str, &str)] = &[
    ("CronJob", "spec/jobTemplate/spec/template/spec"),
    ("DaemonSet", "spec/template/spec"),
    ("Deployment", "spec/template/spec"),
    ("Job", "spec/template/spec"),
    ("Pod", "spec"),
    ("ReplicaSet", "spec/template/spec"),
    ("StatefulSet", "spec/template/spec"),
];

/// Fields inside a pod spec that may hold `$(NAME)`.
const IN_POD_SPEC: &[&str] = &[
    "containers/args",
    "containers/command",
    "containers/env/value",
    "containers/volumeMounts/mountPath",
    "initContainers/args",
    "initContainers/command",
    "initContainers/env/value",
    "initContainers/volumeMounts/mountPath",
    "volumes/nfs/server",
];

/// Other fields that may hold `$(NAME)`: (kind, or any kind, path).
const OTHER: &[(Option<&str>, &str)] = &[
    (Some("Ingress"), "spec/rules/host"),
    (Some("Ingress"), "spec/tls/hosts"),
    (Some("Ingress"), "spec/tls/secretName"),
    (Some("Service"), "spec/ports/port"),
    (Some("Service"), "spec/ports/targetPort"),
    (
        Some("StatefulSet"),
        "spec/volumeClaimTemplates/spec/nfs/server",
    ),
    (Some("PersistentVolume"), "spec/nfs/server"),
    (None, "metadata/labels"),
    (None, "metadata/annotations"),
];

fn err(kfile: &Path, message: String) -> Error {
    Error::Field {
        path: kfile.to_path_buf(),
        field: "vars".into(),
        message,
    }
}

/// Resolves every var (with the kustomization file that declared it) and
/// substitutes the references.
pub fn resolve(vars: &[(PathBuf, Var)], res: &mut [Resource]) -> Result<(), Error> {
    let mut values: Vec<(String, Node)> = Vec::new();
    for (kfile, var) in vars {
        if values.iter().any(|(n, _)| *n == var.name) {
            return Err(err(kfile, format!("var {:?} is declared twice", var.name)));
        }
        values.push((var.name.clone(), value_of(kfile, var, res)?));
    }
    if values.is_empty() {
        return Ok(());
    }
    for r in res.iter_mut() {
        let mut paths: Vec<String> = Vec::new();
        for (kind, spec) in POD_SPECS {
            if *kind == r.kind() {
                paths.extend(IN_POD_SPEC.iter().map(|p| format!("{spec}/{p}")));
            }
        }
        for (kind, path) in OTHER {
            if kind.is_none_or(|k| k == r.kind()) {
                paths.push((*path).to_string());
            }
        }
        for path in paths {
            let parts = split_path(&path);
            let parts: Vec<&str> = parts.iter().map(String::as_str).collect();
            visit(&mut r.node, &parts, false, &mut |node| {
                substitute(node, &values);
            });
        }
    }
    Ok(())
}

fn value_of(kfile: &Path, var: &Var, res: &[Resource]) -> Result<Node, Error> {
    let o = &var.objref;
    let (group, version) = match o.api_version.as_deref().map(|a| a.split_once('/')) {
        Some(Some((g, v))) => (Some(g), Some(v)),
        Some(None) => (Some(""), o.api_version.as_deref()),
        None => (o.group.as_deref(), o.version.as_deref()),
    };
    let wanted = ObjectRef {
        group,
        version,
        kind: o.kind.as_deref(),
        name: o.name.as_deref(),
        namespace: o.namespace.as_deref(),
    };
    let r = wanted
        .find_one(res)
        .map_err(|why| err(kfile, format!("var {:?}: its objref {why}", var.name)))?;
    let path = var
        .fieldref
        .as_ref()
        .and_then(|f| f.fieldpath.as_deref())
        .filter(|p| !p.is_empty())
        .unwrap_or("metadata.name");
    match first_at(&r.node, &brackets_to_dots(path)) {
        Some(value @ Node::Scalar(_)) => Ok(value),
        Some(_) => Err(err(
            kfile,
            format!("var {:?}: {path} is not a scalar", var.name),
        )),
        None => Err(err(
            kfile,
            format!("var {:?}: {path} is missing in {}", var.name, r.id()),
        )),
    }
}

/// Var field paths may index lists as `containers[0]`.
fn brackets_to_dots(path: &str) -> String {
    let mut out = String::with_capacity(path.len());
    let mut chars = path.chars().peekable();
    while let Some(c) = chars.next() {
        if c == '[' && !out.is_empty() && !out.ends_with('.') {
            let rest: String = chars.clone().take_while(|c| *c != ']').collect();
            if !rest.is_empty() && rest.chars().all(|c| c.is_ascii_digit()) {
                out.push('.');
                out.push_str(&rest);
                for _ in 0..=rest.len() {
                    chars.next();
                }
                continue;
            }
        }
        out.push(c);
    }
    out
}

/// Substitutes in one field: a string, or each value of a map (labels).
fn substitute(node: &mut Node, values: &[(String, Node)]) {
    match node {
        Node::Map(m, _) => {
            for (_, v) in m.entries.iter_mut() {
                substitute(v, values);
            }
        }
        Node::Scalar(s) if s.is_string() => {
            // A field that is exactly one reference takes the value with
            // its own type; otherwise the text is spliced in.
            if let Some(name) = s.value.strip_prefix("$(").and_then(|v| v.strip_suffix(')'))
                && let Some((_, value)) = values.iter().find(|(n, _)| n == name)
            {
                *node = value.clone();
                return;
            }
            let expanded = expand(&s.value, values);
            if expanded != s.value {
                *node = Node::string(expanded);
            }
        }
        _ => {}
    }
}

/// `$(NAME)` becomes the var's text when NAME is a var and stays as written
/// otherwise; `$$` is an escaped `$`.
fn expand(text: &str, values: &[(String, Node)]) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(at) = rest.find('$') {
        out.push_str(&rest[..at]);
        let after = &rest[at + 1..];
        if let Some(tail) = after.strip_prefix('$') {
            out.push('$');
            rest = tail;
        } else if let Some(inner) = after.strip_prefix('(')
            && let Some(end) = inner.find(')')
        {
            let name = &inner[..end];
            match values.iter().find(|(n, _)| n == name) {
                Some((_, value)) => out.push_str(value.as_str().unwrap_or_default()),
                None => {
                    out.push_str("$(");
                    out.push_str(name);
                    out.push(')');
                }
            }
            rest = &inner[end + 1..];
        } else {
            out.push('$');
            rest = after;
        }
    }
    out.push_str(rest);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn values() -> Vec<(String, Node)> {
        vec![("SVC".into(), Node::string("db"))]
    }

    #[test]
    fn a_known_reference_is_spliced_into_surrounding_text() {
        assert_eq!(expand("--db=$(SVC):5432", &values()), "--db=db:5432");
    }

    #[test]
    fn an_unknown_reference_stays_as_written() {
        assert_eq!(expand("$(OTHER)-$(SVC)", &values()), "$(OTHER)-db");
    }

    #[test]
    fn a_doubled_dollar_escapes_a_reference() {
        assert_eq!(expand("$$(SVC) costs $5 $", &values()), "$(SVC) costs $5 $");
    }

    #[test]
    fn bracket_indexes_become_path_segments() {
        assert_eq!(
            brackets_to_dots("spec.containers[0].image"),
            "spec.containers.0.image"
        );
        assert_eq!(brackets_to_dots("a.[name=x].b"), "a.[name=x].b");
    }
}
