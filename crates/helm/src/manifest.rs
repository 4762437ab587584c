//! Rendered files into what `helm template` prints: each file split into
//! YAML documents, documents with a `helm.sh/hook` annotation set aside as
//! hooks (unknown hook names dropped), the rest sorted stably by Helm's
//! install order of kinds (unknown kinds last, alphabetically), files
//! taken in path order. Each document is printed under a
//! `# Source: <template path>` header; hooks follow the manifests.

use std::collections::BTreeMap;

use serde_json::Value as Json;

use crate::error::Error;
use crate::values::json_kind;

/// Helm's install order of kinds.
pub const INSTALL_ORDER: &[&str] = &[
    "PriorityClass",
    "Namespace",
    "NetworkPolicy",
    "ResourceQuota",
    "LimitRange",
    "PodSecurityPolicy",
    "PodDisruptionBudget",
    "ServiceAccount",
    "Secret",
    "SecretList",
    "ConfigMap",
    "StorageClass",
    "PersistentVolume",
    "PersistentVolumeClaim",
    "CustomResourceDefinition",
    "ClusterRole",
    "ClusterRoleList",
    "ClusterRoleBinding",
    "ClusterRoleBindingList",
    "Role",
    "RoleList",
    "RoleBinding",
    "RoleBindingList",
    "Service",
    "DaemonSet",
    "Pod",
    "ReplicationController",
    "ReplicaSet",
    "Deployment",
    "HorizontalPodAutoscaler",
    "StatefulSet",
    "Job",
    "CronJob",
    "IngressClass",
    "Ingress",
    "APIService",
];

/// The annotation that makes a document a hook.
pub const HOOK_ANNOTATION: &str = "helm.sh/hook";

const HOOK_EVENTS: &[&str] = &[
    "pre-install",
    "post-install",
    "pre-delete",
    "post-delete",
    "pre-upgrade",
    "post-upgrade",
    "pre-rollback",
    "post-rollback",
    "test",
    "test-success",
];

/// One YAML document of a rendered template.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Manifest {
    /// The template path (`chart/templates/x.yaml`).
    pub path: String,
    pub content: String,
    pub kind: String,
    /// Hook events (lower-cased); empty for plain manifests.
    pub events: Vec<String>,
}

impl Manifest {
    pub fn is_test_hook(&self) -> bool {
        self.events
            .iter()
            .any(|e| e == "test" || e == "test-success")
    }
}

/// Splits a YAML stream the way Helm's `SplitManifests` does: at its
/// separator `(?:^|\s*\n)---\s*`, each document trimmed, empty ones gone.
pub fn split_documents(text: &str) -> Vec<String> {
    static SEP: std::sync::OnceLock<Option<regex::Regex>> = std::sync::OnceLock::new();
    let sep = SEP.get_or_init(|| regex::Regex::new(r"(?:^|\s*\n)---\s*").ok());
    let t = text.trim();
    match sep {
        Some(re) => re
            .split(t)
            .filter(|d| !d.is_empty())
            .map(|d| d.trim().to_string())
            .collect(),
        None => vec![t.to_string()],
    }
}

/// Rendered files into (hooks, manifests), each sorted by install order.
pub fn sort(files: &BTreeMap<String, String>) -> Result<(Vec<Manifest>, Vec<Manifest>), Error> {
    let mut hooks = Vec::new();
    let mut generic = Vec::new();
    for (path, content) in files {
        let base = path.rsplit('/').next().unwrap_or(path);
        if base.starts_with('_') || content.trim().is_empty() {
            continue;
        }
        for doc in split_documents(content) {
            let head = head(&doc).map_err(|message| Error::Manifest {
                file: path.clone(),
                message,
            })?;
            let m = Manifest {
                path: path.clone(),
                content: doc,
                kind: head.kind,
                events: Vec::new(),
            };
            let Some(hook) = head.annotations.get(HOOK_ANNOTATION) else {
                generic.push(m);
                continue;
            };
            let events: Vec<String> = hook.split(',').map(|e| e.trim().to_lowercase()).collect();
            if events.iter().any(|e| !HOOK_EVENTS.contains(&e.as_str())) {
                // Helm logs and skips a hook it does not know.
                continue;
            }
            hooks.push(Manifest { events, ..m });
        }
    }
    sort_by_kind(&mut hooks);
    sort_by_kind(&mut generic);
    Ok((hooks, generic))
}

fn sort_by_kind(ms: &mut [Manifest]) {
    let rank = |k: &str| INSTALL_ORDER.iter().position(|o| *o == k);
    ms.sort_by(|a, b| match (rank(&a.kind), rank(&b.kind)) {
        (Some(x), Some(y)) => x.cmp(&y),
        (Some(_), None) => std::cmp::Ordering::Less,
        (None, Some(_)) => std::cmp::Ordering::Greater,
        (None, None) => a.kind.cmp(&b.kind),
    });
}

struct Head {
    kind: String,
    annotations: BTreeMap<String, String>,
}

/// What Helm reads of a document (`SimpleHead`): kind and annotations,
/// decoded strictly enough to fail where Helm's JSON decoding fails.
fn head(doc: &str) -> Result<Head, String> {
    let v = crate::values::parse_yaml(doc)
        .map_err(|e| format!("error converting YAML to JSON: {e}"))?;
    let obj = match v {
        Json::Object(o) => o,
        Json::Null => Default::default(),
        other => {
            return Err(format!(
                "error unmarshaling JSON: while decoding JSON: json: cannot unmarshal {} into Go value of type releaseutil.SimpleHead",
                json_kind(&other)
            ));
        }
    };
    let kind = match obj.get("kind") {
        None | Some(Json::Null) => String::new(),
        Some(Json::String(s)) => s.clone(),
        Some(other) => return Err(field_type_error(other, "kind", "string")),
    };
    let mut annotations = BTreeMap::new();
    match obj.get("metadata") {
        None | Some(Json::Null) => {}
        Some(Json::Object(md)) => match md.get("annotations") {
            None | Some(Json::Null) => {}
            Some(Json::Object(a)) => {
                for (k, v) in a {
                    match v {
                        Json::String(s) => {
                            annotations.insert(k.clone(), s.clone());
                        }
                        Json::Null => {
                            annotations.insert(k.clone(), String::new());
                        }
                        other => {
                            return Err(field_type_error(other, "metadata.annotations", "string"));
                        }
                    }
                }
            }
            Some(other) => {
                return Err(field_type_error(
                    other,
                    "metadata.annotations",
                    "map[string]string",
                ));
            }
        },
        Some(other) => {
            return Err(field_type_error(
                other,
                "metadata",
                "struct { Name string \"json:\\\"name\\\"\"; Annotations map[string]string \"json:\\\"annotations\\\"\" }",
            ));
        }
    }
    Ok(Head { kind, annotations })
}

fn field_type_error(v: &Json, field: &str, ty: &str) -> String {
    format!(
        "error unmarshaling JSON: while decoding JSON: json: cannot unmarshal {} into Go struct field SimpleHead.{field} of type {ty}",
        json_kind(v)
    )
}

/// `---\n# Source: path\ncontent\n` for each document.
pub fn print(out: &mut String, path: &str, content: &str) {
    out.push_str("---\n# Source: ");
    out.push_str(path);
    out.push('\n');
    out.push_str(content);
    out.push('\n');
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn documents_split_at_separator_lines_and_are_trimmed() {
        assert_eq!(
            split_documents("---\na: 1\n---\n\nb: 2  \n---   \nc: 3\n"),
            vec!["a: 1", "b: 2", "c: 3"]
        );
        assert_eq!(split_documents("a: 1\n--- \n"), vec!["a: 1"]);
    }

    #[test]
    fn kinds_sort_by_install_order_with_unknown_kinds_last() {
        let mut files = BTreeMap::new();
        files.insert(
            "c/templates/a.yaml".to_string(),
            "kind: Zed\n---\nkind: Deployment\n---\nkind: Alpha\n---\nkind: Namespace\n"
                .to_string(),
        );
        let (_, ms) = sort(&files).expect("sorts");
        let kinds: Vec<&str> = ms.iter().map(|m| m.kind.as_str()).collect();
        assert_eq!(kinds, vec!["Namespace", "Deployment", "Alpha", "Zed"]);
    }

    #[test]
    fn hooks_are_set_apart_and_unknown_hooks_dropped() {
        let mut files = BTreeMap::new();
        files.insert(
            "c/templates/h.yaml".to_string(),
            "kind: Job\nmetadata:\n  annotations:\n    helm.sh/hook: pre-install\n---\nkind: Job\nmetadata:\n  annotations:\n    helm.sh/hook: nope\n".to_string(),
        );
        let (hooks, ms) = sort(&files).expect("sorts");
        assert_eq!((hooks.len(), ms.len()), (1, 0));
    }
}
