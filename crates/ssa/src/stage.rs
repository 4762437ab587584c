//! Flux's apply stages and sort order (`ResourceManager.ApplyAllStaged`, `ssa/utils` sort):
//! definitions first so everything after them can be admitted.

use crate::object::ObjMetadata;

/// The stage an object is applied in; stages run in this order and the first two are waited on.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Stage {
    /// CustomResourceDefinitions, Namespaces and ClusterRoles: waited on until Established/Active.
    Definitions,
    /// Kinds whose name ends in `Class` (StorageClass, IngressClass, PriorityClass…).
    Classes,
    /// Kinds listed in `--custom-apply-stage-kinds`.
    Custom,
    /// Everything else.
    Rest,
}

impl Stage {
    /// Name used in errors and logs.
    pub fn describe(self) -> &'static str {
        match self {
            Stage::Definitions => "CustomResourceDefinitions, Namespaces and ClusterRoles",
            Stage::Classes => "class kinds",
            Stage::Custom => "custom stage kinds",
            Stage::Rest => "resources",
        }
    }
}

/// The stage of an object; `custom` holds `group/Kind` entries (core group as `/Kind` or `Kind`).
pub fn stage_of(object: &ObjMetadata, custom: &[String]) -> Stage {
    let definition = matches!(
        (object.group.as_str(), object.kind.as_str()),
        ("apiextensions.k8s.io", "CustomResourceDefinition")
            | ("", "Namespace")
            | ("rbac.authorization.k8s.io", "ClusterRole")
    );
    if definition {
        Stage::Definitions
    } else if object.kind.ends_with("Class") {
        Stage::Classes
    } else if custom.iter().any(|entry| {
        let (group, kind) = entry.rsplit_once('/').unwrap_or(("", entry.as_str()));
        group == object.group && kind == object.kind
    }) {
        Stage::Custom
    } else {
        Stage::Rest
    }
}

/// Kinds in Flux's apply/delete order; others sort after them by group and kind, and webhook
/// configurations come last so they cannot block the objects before them.
const ORDER: &[&str] = &[
    "CustomResourceDefinition",
    "Namespace",
    "ClusterRole",
    "ClusterClass",
    "RuntimeClass",
    "PriorityClass",
    "StorageClass",
    "VolumeSnapshotClass",
    "IngressClass",
    "GatewayClass",
    "ClusterRoleBinding",
    "ResourceQuota",
    "ServiceAccount",
    "Role",
    "RoleBinding",
    "ConfigMap",
    "Secret",
    "Service",
    "LimitRange",
    "Deployment",
    "StatefulSet",
    "CronJob",
    "PodDisruptionBudget",
];

const LAST: &[&str] = &[
    "MutatingWebhookConfiguration",
    "ValidatingWebhookConfiguration",
];

/// Sort key implementing Flux's order; ties break by namespace then name.
pub fn sort_key(object: &ObjMetadata) -> (usize, String, String, String, String) {
    let rank = if let Some(i) = ORDER.iter().position(|k| *k == object.kind) {
        i
    } else if let Some(i) = LAST.iter().position(|k| *k == object.kind) {
        ORDER.len() + 1 + i
    } else {
        ORDER.len()
    };
    let (group, kind) = if rank == ORDER.len() {
        (object.group.clone(), object.kind.clone())
    } else {
        (String::new(), String::new())
    };
    (
        rank,
        group,
        kind,
        object.namespace.clone(),
        object.name.clone(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn meta(group: &str, kind: &str, name: &str) -> ObjMetadata {
        ObjMetadata {
            namespace: String::new(),
            name: name.into(),
            group: group.into(),
            kind: kind.into(),
        }
    }

    #[test]
    fn definitions_then_classes_then_custom_kinds_then_the_rest() {
        let custom = vec!["example.com/Widget".to_string()];
        let stage = |g, k| stage_of(&meta(g, k, "x"), &custom);
        assert_eq!(
            stage("apiextensions.k8s.io", "CustomResourceDefinition"),
            Stage::Definitions
        );
        assert_eq!(stage("", "Namespace"), Stage::Definitions);
        assert_eq!(
            stage("rbac.authorization.k8s.io", "ClusterRole"),
            Stage::Definitions
        );
        assert_eq!(stage("storage.k8s.io", "StorageClass"), Stage::Classes);
        assert_eq!(stage("example.com", "Widget"), Stage::Custom);
        assert_eq!(stage("apps", "Deployment"), Stage::Rest);
        assert_eq!(
            stage("rbac.authorization.k8s.io", "ClusterRoleBinding"),
            Stage::Rest
        );
    }

    #[test]
    fn the_sort_puts_known_kinds_in_flux_order_and_webhooks_last() {
        let mut objects = [
            meta(
                "admissionregistration.k8s.io",
                "ValidatingWebhookConfiguration",
                "v",
            ),
            meta("example.com", "Widget", "w"),
            meta("apps", "Deployment", "d"),
            meta("", "ConfigMap", "b"),
            meta("", "ConfigMap", "a"),
            meta("", "Namespace", "n"),
        ];
        objects.sort_by_key(sort_key);
        let order: Vec<String> = objects.iter().map(ObjMetadata::subject).collect();
        assert_eq!(
            order,
            [
                "Namespace/n",
                "ConfigMap/a",
                "ConfigMap/b",
                "Deployment/d",
                "Widget/w",
                "ValidatingWebhookConfiguration/v"
            ]
        );
    }
}
