//! Name references: after prefixes, suffixes and hashes changed names, every
//! field that names another object (a ConfigMap in a Deployment's volumes,
//! a ServiceAccount in a pod spec, a Service in an Ingress…) is updated to
//! the referenced object's final name, as kustomize's nameReference config does.

use crate::resource::{Resource, split_path, visit};
use crate::yaml::Node;

/// Pod spec locations by workload kind.
const POD_SPECS: &[(&str, &str)] = &[
    ("Pod", "spec"),
    ("PodTemplate", "template/spec"),
    ("Deployment", "spec/template/spec"),
    ("ReplicaSet", "spec/template/spec"),
    ("ReplicationController", "spec/template/spec"),
    ("DaemonSet", "spec/template/spec"),
    ("StatefulSet", "spec/template/spec"),
    ("Job", "spec/template/spec"),
    ("CronJob", "spec/jobTemplate/spec/template/spec"),
];

/// Paths inside a pod spec that name an object of the given kind.
const IN_POD_SPEC: &[(&str, &str)] = &[
    ("ConfigMap", "volumes/configMap/name"),
    ("ConfigMap", "containers/env/valueFrom/configMapKeyRef/name"),
    (
        "ConfigMap",
        "initContainers/env/valueFrom/configMapKeyRef/name",
    ),
    ("ConfigMap", "containers/envFrom/configMapRef/name"),
    ("ConfigMap", "initContainers/envFrom/configMapRef/name"),
    ("ConfigMap", "volumes/projected/sources/configMap/name"),
    ("Secret", "volumes/secret/secretName"),
    ("Secret", "containers/env/valueFrom/secretKeyRef/name"),
    ("Secret", "initContainers/env/valueFrom/secretKeyRef/name"),
    ("Secret", "containers/envFrom/secretRef/name"),
    ("Secret", "initContainers/envFrom/secretRef/name"),
    ("Secret", "imagePullSecrets/name"),
    ("Secret", "volumes/projected/sources/secret/name"),
    ("ServiceAccount", "serviceAccountName"),
    (
        "PersistentVolumeClaim",
        "volumes/persistentVolumeClaim/claimName",
    ),
    ("PriorityClass", "priorityClassName"),
];

/// Other references: (referenced kind, referrer kind, path).
const OTHER: &[(&str, &str, &str)] = &[
    (
        "Deployment",
        "HorizontalPodAutoscaler",
        "spec/scaleTargetRef/name",
    ),
    (
        "StatefulSet",
        "HorizontalPodAutoscaler",
        "spec/scaleTargetRef/name",
    ),
    (
        "ReplicaSet",
        "HorizontalPodAutoscaler",
        "spec/scaleTargetRef/name",
    ),
    ("Secret", "Ingress", "spec/tls/secretName"),
    ("Secret", "ServiceAccount", "imagePullSecrets/name"),
    ("Service", "StatefulSet", "spec/serviceName"),
    (
        "Service",
        "Ingress",
        "spec/rules/http/paths/backend/service/name",
    ),
    ("Service", "Ingress", "spec/defaultBackend/service/name"),
    (
        "Service",
        "Ingress",
        "spec/rules/http/paths/backend/serviceName",
    ),
    ("Service", "Ingress", "spec/backend/serviceName"),
    ("Service", "APIService", "spec/service/name"),
    ("Role", "RoleBinding", "roleRef/name"),
    ("ClusterRole", "RoleBinding", "roleRef/name"),
    ("ClusterRole", "ClusterRoleBinding", "roleRef/name"),
    (
        "PersistentVolume",
        "PersistentVolumeClaim",
        "spec/volumeName",
    ),
    ("StorageClass", "PersistentVolume", "spec/storageClassName"),
    (
        "StorageClass",
        "PersistentVolumeClaim",
        "spec/storageClassName",
    ),
    (
        "StorageClass",
        "StatefulSet",
        "spec/volumeClaimTemplates/spec/storageClassName",
    ),
];

struct Renamed {
    affixes: Vec<(String, String)>,
    kind: String,
    orig_name: String,
    orig_namespace: String,
    name: String,
    namespace: String,
}

/// Updates references; `extra` adds (referenced kind, referrer field) rules
/// from `configurations`.
pub fn fix(res: &mut [Resource], extra: &[(String, crate::builtin::Spec)]) {
    let renamed: Vec<Renamed> = res
        .iter()
        .filter(|r| r.orig_name != r.name() || r.orig_namespace != r.namespace())
        .map(|r| Renamed {
            affixes: r.affixes.clone(),
            kind: r.kind().to_string(),
            orig_name: r.orig_name.clone(),
            orig_namespace: r.orig_namespace.clone(),
            name: r.name().to_string(),
            namespace: r.namespace().to_string(),
        })
        .collect();
    if renamed.is_empty() {
        return;
    }
    for r in res.iter_mut() {
        let kind = r.kind().to_string();
        // A cluster-scoped referrer names objects of any namespace.
        let from = Referrer {
            ns: (!crate::transform::is_cluster_scoped(r)).then(|| r.namespace().to_string()),
            affixes: r.affixes.clone(),
        };
        let mut rules: Vec<(String, String)> = Vec::new();
        for (workload, spec) in POD_SPECS {
            if *workload == kind {
                for (target, path) in IN_POD_SPEC {
                    rules.push(((*target).into(), format!("{spec}/{path}")));
                }
            }
        }
        for (target, referrer, path) in OTHER {
            if *referrer == kind {
                rules.push(((*target).into(), (*path).into()));
            }
        }
        for (target, path) in rules {
            let parts = split_path(&path);
            let parts: Vec<&str> = parts.iter().map(String::as_str).collect();
            visit(&mut r.node, &parts, false, &mut |node| {
                rename(node, &target, &from, &renamed);
            });
        }
        for (referrer, path, target) in MAP_REFS {
            if *referrer == kind {
                let path: Vec<&str> = path.split('/').collect();
                visit(&mut r.node, &path, false, &mut |node| {
                    fix_map_ref(node, target, &renamed);
                });
            }
        }
        let extra: Vec<&(String, crate::builtin::Spec)> = extra
            .iter()
            .filter(|(_, spec)| spec.applies_to(r))
            .collect();
        for (target, spec) in extra {
            let parts = split_path(&spec.path);
            let parts: Vec<&str> = parts.iter().map(String::as_str).collect();
            visit(&mut r.node, &parts, false, &mut |node| {
                if node.as_map().is_some() {
                    fix_map_ref(node, target, &renamed);
                } else {
                    rename(node, target, &from, &renamed);
                }
            });
        }
    }
}

/// Where a reference is: the referrer's namespace (none for a cluster-scoped
/// referrer, which names objects of any namespace) and its affixes.
struct Referrer {
    ns: Option<String>,
    affixes: Vec<(String, String)>,
}

fn rename(node: &mut Node, kind: &str, from: &Referrer, renamed: &[Renamed]) {
    let ns = &from.ns;
    let Some(current) = node.as_str().map(str::to_string) else {
        return;
    };
    let cluster_wide = matches!(
        kind,
        "ClusterRole" | "PersistentVolume" | "StorageClass" | "IngressClass" | "PriorityClass"
    );
    let found: Vec<&Renamed> = renamed
        .iter()
        .filter(|x| x.kind == kind && x.orig_name == current)
        .filter(|x| cluster_wide || ns.as_ref().is_none_or(|ns| x.namespace == *ns))
        .collect();
    let found = if found.len() > 1 {
        found
            .into_iter()
            .filter(|x| x.affixes == from.affixes)
            .collect()
    } else {
        found
    };
    if let [one] = found.as_slice() {
        *node = Node::string(&one.name);
    }
}

/// References that are a map of name and namespace: (referrer kind, path to
/// the map, referenced kind).
const MAP_REFS: &[(&str, &str, &str)] = &[
    ("RoleBinding", "subjects", "ServiceAccount"),
    ("ClusterRoleBinding", "subjects", "ServiceAccount"),
    (
        "ValidatingWebhookConfiguration",
        "webhooks/clientConfig/service",
        "Service",
    ),
    (
        "MutatingWebhookConfiguration",
        "webhooks/clientConfig/service",
        "Service",
    ),
];

/// A name-and-namespace reference follows the object it names: kustomize
/// matches on the two fields alone (for subjects whatever their kind), an
/// empty namespace meaning `default`, and sets both.
fn fix_map_ref(node: &mut Node, kind: &str, renamed: &[Renamed]) {
    let or_default = |ns: &str| {
        if ns.is_empty() {
            "default".to_string()
        } else {
            ns.to_string()
        }
    };
    let Some(name) = node.str_at(&["name"]) else {
        return;
    };
    let ns = or_default(node.str_at(&["namespace"]).unwrap_or_default());
    let found: Vec<&Renamed> = renamed
        .iter()
        .filter(|x| x.kind == kind && x.orig_name == name)
        .filter(|x| or_default(&x.orig_namespace) == ns)
        .collect();
    let ([one], Some(m)) = (found.as_slice(), node.as_map_mut()) else {
        return;
    };
    m.insert("name", Node::string(&one.name));
    if !one.namespace.is_empty() {
        m.insert("namespace", Node::string(&one.namespace));
    }
}
