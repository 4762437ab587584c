//! Strategic merge patch, the part kustomize applies without a schema
//! lookup of its own: maps merge recursively, `null` and `$patch: delete`
//! remove, `$patch: replace` replaces a map, and lists merge by key only
//! where the Kubernetes API declares a merge key for a built-in kind
//! (containers by name, volumeMounts by mountPath…). Every other list, and
//! every list of a custom resource, is replaced whole, as kustomize does.
//! The table below is the common part of the OpenAPI merge keys; the full
//! generated table is still to come.

use crate::yaml::Node;

/// API groups of built-in kinds, whose lists merge by their merge keys.
const BUILTIN_GROUPS: &[&str] = &[
    "",
    "apps",
    "batch",
    "autoscaling",
    "policy",
    "networking.k8s.io",
    "rbac.authorization.k8s.io",
    "storage.k8s.io",
    "scheduling.k8s.io",
    "coordination.k8s.io",
    "admissionregistration.k8s.io",
    "certificates.k8s.io",
    "discovery.k8s.io",
    "node.k8s.io",
];

/// The merge key of a list field in a built-in kind, by the field's name.
fn merge_key(field: &str, items: &[Node]) -> Option<&'static str> {
    match field {
        "containers"
        | "initContainers"
        | "ephemeralContainers"
        | "env"
        | "volumes"
        | "imagePullSecrets"
        | "resourceClaims"
        | "readinessGates" => Some("name"),
        // Container ports merge by containerPort, Service ports by port.
        "ports" if items.iter().any(|i| i.at(&["containerPort"]).is_some()) => {
            Some("containerPort")
        }
        "ports" => Some("port"),
        "volumeMounts" => Some("mountPath"),
        "volumeDevices" => Some("devicePath"),
        "hostAliases" => Some("ip"),
        "conditions" => Some("type"),
        _ => None,
    }
}

/// Merges `patch` into the object `target`.
pub fn smp(target: &mut Node, patch: &Node) {
    let group = target
        .str_at(&["apiVersion"])
        .map(|a| a.split_once('/').map_or("", |(g, _)| g))
        .unwrap_or_default();
    merge(target, patch, "", BUILTIN_GROUPS.contains(&group));
}

fn merge(target: &mut Node, patch: &Node, field: &str, builtin: bool) {
    match (target, patch) {
        (target @ Node::Map(..), patch @ Node::Map(..))
            if patch.str_at(&["$patch"]) == Some("replace") =>
        {
            *target = strip_directives(patch);
        }
        (Node::Map(t, _), Node::Map(p, _)) => {
            for (k, v) in &p.entries {
                // Only `$patch` is a directive to kustomize: `$setElementOrder/…`
                // and `$retainKeys` are kept as fields (checked against the oracle).
                if k.value == "$patch" {
                    continue;
                }
                if v.is_null() || v.str_at(&["$patch"]) == Some("delete") {
                    t.remove(&k.value);
                    continue;
                }
                match t.get_mut(&k.value) {
                    Some(existing) => merge(existing, v, &k.value, builtin),
                    None => t.entries.push((k.clone(), strip_directives(v))),
                }
            }
        }
        (Node::Seq(t, _), Node::Seq(p, _)) => {
            // A `- $patch: replace` item makes the rest of the patch list
            // replace the original list.
            let replace = p.iter().any(|i| i.str_at(&["$patch"]) == Some("replace"));
            let key = if builtin && !replace {
                merge_key(field, t)
            } else {
                None
            };
            // Finalizers are a set: the patch's entries come first, then
            // the original ones it did not list (checked against the oracle).
            if builtin && !replace && field == "finalizers" {
                let mut merged: Vec<Node> = p.iter().map(strip_directives).collect();
                merged.extend(t.iter().filter(|i| !p.contains(i)).cloned());
                *t = merged;
                return;
            }
            match key {
                Some(key) => *t = merge_list(std::mem::take(t), p, key, builtin),
                None => {
                    *t = p
                        .iter()
                        .filter(|i| i.str_at(&["$patch"]) != Some("replace"))
                        .map(strip_directives)
                        .collect();
                }
            }
        }
        (target, patch) => *target = strip_directives(patch),
    }
}

/// The merged list takes the patch's order first, then the original items
/// the patch did not mention, in their order (checked against the oracle).
fn merge_list(mut original: Vec<Node>, patch: &[Node], key: &str, builtin: bool) -> Vec<Node> {
    let key_of = |n: &Node| n.at(&[key]).and_then(Node::as_str).map(str::to_string);
    let mut merged = Vec::with_capacity(original.len() + patch.len());
    for item in patch {
        let id = key_of(item);
        let at = id
            .as_ref()
            .and_then(|id| original.iter().position(|x| key_of(x).as_ref() == Some(id)));
        let existing = at.map(|i| original.remove(i));
        if item.str_at(&["$patch"]) == Some("delete") {
            continue;
        }
        merged.push(match existing {
            Some(mut old) => {
                merge(&mut old, item, "", builtin);
                old
            }
            None => strip_directives(item),
        });
    }
    merged.append(&mut original);
    merged
}

pub fn strip_directives(node: &Node) -> Node {
    match node {
        Node::Map(m, f) => {
            let mut out = m.clone();
            out.entries.retain(|(k, _)| k.value != "$patch");
            for (_, v) in out.entries.iter_mut() {
                *v = strip_directives(v);
            }
            Node::Map(out, *f)
        }
        Node::Seq(items, f) => Node::Seq(items.iter().map(strip_directives).collect(), *f),
        other => other.clone(),
    }
}
