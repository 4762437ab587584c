//! Output order. Without sortOptions kustomize uses its "legacy" order:
//! kinds from a fixed first list, then all others, then webhooks, ties
//! broken by group/version/kind and then namespace and name.

use std::cmp::Ordering;

use crate::kustomization::SortOptions;
use crate::resource::Resource;

const ORDER_FIRST: &[&str] = &[
    "Namespace",
    "ResourceQuota",
    "StorageClass",
    "CustomResourceDefinition",
    "ServiceAccount",
    "PodSecurityPolicy",
    "Role",
    "ClusterRole",
    "RoleBinding",
    "ClusterRoleBinding",
    "ConfigMap",
    "Secret",
    "Endpoints",
    "Service",
    "LimitRange",
    "PriorityClass",
    "PersistentVolume",
    "PersistentVolumeClaim",
    "Deployment",
    "StatefulSet",
    "CronJob",
    "PodDisruptionBudget",
];
const ORDER_LAST: &[&str] = &[
    "MutatingWebhookConfiguration",
    "ValidatingWebhookConfiguration",
];

pub fn sort(res: &mut [Resource], options: Option<&SortOptions>) {
    if options.and_then(|o| o.order.as_deref()) == Some("fifo") {
        return;
    }
    let legacy = options.and_then(|o| o.legacy_sort_options.as_ref());
    let first: Vec<&str> = match legacy {
        Some(l) if !l.order_first.is_empty() => l.order_first.iter().map(String::as_str).collect(),
        _ => ORDER_FIRST.to_vec(),
    };
    let last: Vec<&str> = match legacy {
        Some(l) if !l.order_last.is_empty() => l.order_last.iter().map(String::as_str).collect(),
        _ => ORDER_LAST.to_vec(),
    };
    let rank = |kind: &str| -> i64 {
        if let Some(i) = first.iter().position(|k| *k == kind) {
            return i as i64 - first.len() as i64;
        }
        last.iter()
            .position(|k| *k == kind)
            .map_or(0, |i| i as i64 + 1)
    };
    res.sort_by(|a, b| {
        let (ga, va) = a.group_version();
        let (gb, vb) = b.group_version();
        let gvk_eq = ga == gb && va == vb && a.kind() == b.kind();
        if !gvk_eq {
            let (ra, rb) = (rank(a.kind()), rank(b.kind()));
            if ra != rb {
                return ra.cmp(&rb);
            }
            let (sa, sb) = (gvk_sort(ga, va, a.kind()), gvk_sort(gb, vb, b.kind()));
            if a.kind() == "Namespace"
                && b.kind() == "Namespace"
                && (ga.is_empty() || gb.is_empty())
            {
                return sb.cmp(&sa);
            }
            return sa.cmp(&sb);
        }
        id_sort(a).cmp(&id_sort(b)).then(Ordering::Equal)
    });
}

fn or<'a>(s: &'a str, empty: &'a str) -> &'a str {
    if s.is_empty() { empty } else { s }
}

fn gvk_sort(group: &str, version: &str, kind: &str) -> String {
    format!(
        "{}_{}_{}",
        or(group, "~G"),
        or(version, "~V"),
        or(kind, "~K")
    )
}

fn id_sort(r: &Resource) -> String {
    let (g, v) = r.group_version();
    format!(
        "{}.{}.{}|{}|{}",
        or(r.kind(), "[noKind]"),
        or(v, "[noVer]"),
        or(g, "[noGrp]"),
        or(r.namespace(), "~X"),
        or(r.name(), "~N")
    )
}
