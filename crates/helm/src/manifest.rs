//! Rendered files into what `helm template` prints: each file split into
//! YAML documents, documents with a `helm.sh/hook` annotation set aside as
//! hooks (unknown hook names dropped), the rest sorted stably by Helm's
//! install order of kinds (unknown kinds last, alphabetically), files
//! taken in path order. Each document is printed under a
//! `# Source: <template path>` header; hooks follow the manifests.

use std::collections::BTreeMap;

use serde_json::Value as Json;

use crate::error::Error;
use crate::render::HelmVersion;
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

/// Kinds Helm 4 installs after [`INSTALL_ORDER`] (Helm 3 counts them as
/// unknown, sorted last by name): webhooks last, so they cannot reject the
/// release's own objects.
pub const INSTALL_ORDER_V4_TAIL: &[&str] = &[
    "MutatingWebhookConfiguration",
    "ValidatingWebhookConfiguration",
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

/// Splits a YAML stream as Helm 4's `SplitManifests` does: at `---` (and
/// spaces or tabs) at the start of any line, each document trimmed only at
/// its start, blank ones gone. Trailing blank lines stay with the document,
/// so printed documents keep them (one more empty line before the next `---`).
pub fn split_documents_v4(text: &str) -> Vec<String> {
    static SEP: std::sync::OnceLock<Option<regex::Regex>> = std::sync::OnceLock::new();
    let sep = SEP.get_or_init(|| regex::Regex::new(r"(?m)^---[ \t]*").ok());
    let t = text.trim_start();
    match sep {
        Some(re) => re
            .split(t)
            .filter(|d| !d.trim().is_empty())
            .map(|d| d.trim_start().to_string())
            .collect(),
        None => vec![t.to_string()],
    }
}

/// Rendered files into (hooks, manifests), each sorted by install order, as
/// Helm 3 splits them.
pub fn sort(files: &BTreeMap<String, String>) -> Result<(Vec<Manifest>, Vec<Manifest>), Error> {
    sort_as(files, HelmVersion::V3)
}

/// [`sort`] with the given Helm release's document splitting.
pub fn sort_as(
    files: &BTreeMap<String, String>,
    version: HelmVersion,
) -> Result<(Vec<Manifest>, Vec<Manifest>), Error> {
    let split = match version {
        HelmVersion::V3 => split_documents,
        HelmVersion::V4 => split_documents_v4,
    };
    let mut hooks = Vec::new();
    let mut generic = Vec::new();
    for (path, content) in files {
        let base = path.rsplit('/').next().unwrap_or(path);
        if base.starts_with('_') || content.trim().is_empty() {
            continue;
        }
        for doc in split(content) {
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
    sort_by_kind(&mut hooks, version);
    sort_by_kind(&mut generic, version);
    Ok((hooks, generic))
}

fn sort_by_kind(ms: &mut [Manifest], version: HelmVersion) {
    let tail: &[&str] = match version {
        HelmVersion::V3 => &[],
        HelmVersion::V4 => INSTALL_ORDER_V4_TAIL,
    };
    let rank = |k: &str| INSTALL_ORDER.iter().chain(tail).position(|o| *o == k);
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
    fn helm_4_splits_only_at_line_starts_and_keeps_trailing_blank_lines() {
        assert_eq!(
            split_documents_v4("\n---\na: 1\n\n---\n\nb: 2  \n---\t \nc: 3\n"),
            vec!["a: 1\n\n", "b: 2  \n", "c: 3\n"]
        );
        // A `---` that is not at a line start stays in the document.
        assert_eq!(split_documents_v4("a: x ---\n"), vec!["a: x ---\n"]);
        assert_eq!(split_documents_v4("a: 1\n--- \n  \n"), vec!["a: 1\n"]);
        // Text glued to the separator becomes its own document, as in Helm 3.
        assert_eq!(split_documents_v4("---a: 1\n"), vec!["a: 1\n"]);
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
    fn helm_4_installs_webhook_configurations_after_every_known_kind() {
        let mut files = BTreeMap::new();
        files.insert(
            "c/templates/a.yaml".to_string(),
            "kind: ValidatingWebhookConfiguration\n---\nkind: Alpha\n---\nkind: MutatingWebhookConfiguration\n---\nkind: APIService\n".to_string(),
        );
        let kinds = |v| {
            let (_, ms) = sort_as(&files, v).expect("sorts");
            ms.into_iter().map(|m| m.kind).collect::<Vec<_>>()
        };
        assert_eq!(
            kinds(HelmVersion::V3),
            [
                "APIService",
                "Alpha",
                "MutatingWebhookConfiguration",
                "ValidatingWebhookConfiguration"
            ]
        );
        assert_eq!(
            kinds(HelmVersion::V4),
            [
                "APIService",
                "MutatingWebhookConfiguration",
                "ValidatingWebhookConfiguration",
                "Alpha"
            ]
        );
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
