//! Cluster roles, bindings and the quota that lets critical pods run outside kube-system.

use serde_json::{Value, json};

use super::Install;
use super::controllers::CONTROLLERS;

/// Every API group a Flux controller serves, including source-watcher's, which Flux's roles grant
/// even when source-watcher is not installed.
const FLUX_GROUPS: [&str; 6] = [
    "source.toolkit.fluxcd.io",
    "kustomize.toolkit.fluxcd.io",
    "helm.toolkit.fluxcd.io",
    "notification.toolkit.fluxcd.io",
    "image.toolkit.fluxcd.io",
    "source.extensions.fluxcd.io",
];

/// The order Flux's aggregated roles list the groups in.
const AGGREGATED_GROUPS: [&str; 6] = [
    "notification.toolkit.fluxcd.io",
    "source.toolkit.fluxcd.io",
    "source.extensions.fluxcd.io",
    "helm.toolkit.fluxcd.io",
    "image.toolkit.fluxcd.io",
    "kustomize.toolkit.fluxcd.io",
];

const READ: [&str; 3] = ["get", "list", "watch"];
const READ_WRITE: [&str; 7] = [
    "get", "list", "watch", "create", "update", "patch", "delete",
];

/// `critical-pods-<namespace>`: the API server admits `system-*-critical` pods outside
/// kube-system only under a quota scoped to those priority classes.
pub fn resource_quota(install: &Install) -> Value {
    json!({
        "apiVersion": "v1",
        "kind": "ResourceQuota",
        "metadata": {
            "name": install.cluster_name("critical-pods"),
            "namespace": install.namespace,
            "labels": install.labels(None),
        },
        "spec": {
            "hard": {"pods": "1000"},
            "scopeSelector": {"matchExpressions": [{
                "operator": "In",
                "scopeName": "PriorityClass",
                "values": ["system-node-critical", "system-cluster-critical"],
            }]},
        },
    })
}

/// `crd-controller` (what every controller needs) and the aggregated `flux-edit` / `flux-view`
/// roles that give the built-in edit, admin and view roles access to Flux objects.
pub fn cluster_roles(install: &Install) -> Vec<Value> {
    let mut rules: Vec<Value> = FLUX_GROUPS
        .iter()
        .map(|group| json!({"apiGroups": [group], "resources": ["*"], "verbs": ["*"]}))
        .collect();
    rules.extend([
        json!({"apiGroups": [""], "resources": ["namespaces", "secrets", "configmaps", "serviceaccounts"], "verbs": READ}),
        json!({"apiGroups": [""], "resources": ["events"], "verbs": ["create", "patch"]}),
        // Leader election.
        json!({"apiGroups": [""], "resources": ["configmaps"], "verbs": READ_WRITE}),
        json!({"apiGroups": [""], "resources": ["configmaps/status"], "verbs": ["get", "update", "patch"]}),
        json!({"apiGroups": ["coordination.k8s.io"], "resources": ["leases"], "verbs": READ_WRITE}),
        // Object-level workload identity: tokens for the ServiceAccount an object names.
        json!({"apiGroups": [""], "resources": ["serviceaccounts/token"], "verbs": ["create"]}),
        // API priority and fairness detection.
        json!({"nonResourceURLs": ["/livez/ping"], "verbs": ["head"]}),
    ]);
    let aggregated = |base: &str, aggregate_to: &[&str], verbs: &[&str]| {
        let mut labels = install.labels(None);
        for role in aggregate_to {
            labels.insert(
                format!("rbac.authorization.k8s.io/aggregate-to-{role}"),
                json!("true"),
            );
        }
        json!({
            "apiVersion": "rbac.authorization.k8s.io/v1",
            "kind": "ClusterRole",
            "metadata": {"name": install.cluster_name(base), "labels": labels},
            "rules": [{"apiGroups": AGGREGATED_GROUPS, "resources": ["*"], "verbs": verbs}],
        })
    };
    vec![
        json!({
            "apiVersion": "rbac.authorization.k8s.io/v1",
            "kind": "ClusterRole",
            "metadata": {"name": install.cluster_name("crd-controller"), "labels": install.labels(None)},
            "rules": rules,
        }),
        aggregated(
            "flux-edit",
            &["edit", "admin"],
            &["create", "delete", "deletecollection", "patch", "update"],
        ),
        aggregated("flux-view", &["admin", "edit", "view"], &READ),
    ]
}

/// `crd-controller` for every controller, and `cluster-reconciler` (cluster-admin) for the two
/// controllers that apply whatever the user's sources contain.
pub fn cluster_role_bindings(install: &Install) -> Vec<Value> {
    let subject = |name: &str| json!({"kind": "ServiceAccount", "name": name, "namespace": install.namespace});
    let binding = |base: &str, role: String, subjects: Vec<Value>| {
        json!({
            "apiVersion": "rbac.authorization.k8s.io/v1",
            "kind": "ClusterRoleBinding",
            "metadata": {"name": install.cluster_name(base), "labels": install.labels(None)},
            "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": role},
            "subjects": subjects,
        })
    };
    vec![
        binding(
            "crd-controller",
            install.cluster_name("crd-controller"),
            CONTROLLERS.iter().map(|c| subject(c.name)).collect(),
        ),
        binding(
            "cluster-reconciler",
            "cluster-admin".to_owned(),
            CONTROLLERS
                .iter()
                .filter(|c| c.cluster_reconciler)
                .map(|c| subject(c.name))
                .collect(),
        ),
    ]
}
