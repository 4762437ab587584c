//! `helm uninstall`: the last revision marked `uninstalling` (deletion time recorded), pre-delete
//! hooks, the release's objects deleted in Helm's uninstall order of kinds except those kept by
//! `helm.sh/resource-policy: keep`, optionally waited until gone, post-delete hooks; then the
//! history purged, or with `keep_history` the revision recorded `uninstalled`.

use super::cluster::{Cluster, ObjectKey, objects};
use super::error::ReleaseError;
use super::hooks::HookEvent;
use super::record::{Release, Status, now};
use super::storage::{SecretStore, Storage};
use super::{Common, run_hooks, validate_name};

/// Helm's uninstall order of kinds; unknown kinds go last, by name.
pub const UNINSTALL_ORDER: &[&str] = &[
    "APIService",
    "Ingress",
    "IngressClass",
    "Service",
    "CronJob",
    "Job",
    "StatefulSet",
    "HorizontalPodAutoscaler",
    "Deployment",
    "ReplicaSet",
    "ReplicationController",
    "Pod",
    "DaemonSet",
    "RoleBindingList",
    "RoleBinding",
    "RoleList",
    "Role",
    "ClusterRoleBindingList",
    "ClusterRoleBinding",
    "ClusterRoleList",
    "ClusterRole",
    "CustomResourceDefinition",
    "PersistentVolumeClaim",
    "PersistentVolume",
    "StorageClass",
    "ConfigMap",
    "SecretList",
    "Secret",
    "ServiceAccount",
    "PodDisruptionBudget",
    "PodSecurityPolicy",
    "LimitRange",
    "ResourceQuota",
    "NetworkPolicy",
    "Namespace",
    "PriorityClass",
];

/// What to uninstall.
#[derive(Debug, Clone, Default)]
pub struct Uninstall {
    pub name: String,
    /// Keep the history, the last revision marked `uninstalled` (`--keep-history`).
    pub keep_history: bool,
    pub common: Common,
}

/// The outcome of an uninstall.
#[derive(Debug, Clone)]
pub struct Uninstalled {
    pub release: Release,
    /// Objects left in place by their resource policy.
    pub kept: Vec<ObjectKey>,
}

/// `objects` in uninstall order (stable within a kind).
pub fn uninstall_order(objects: &mut [ObjectKey]) {
    let rank = |k: &str| UNINSTALL_ORDER.iter().position(|o| *o == k);
    objects.sort_by(|a, b| match (rank(&a.kind), rank(&b.kind)) {
        (Some(x), Some(y)) => x.cmp(&y),
        (Some(_), None) => std::cmp::Ordering::Less,
        (None, Some(_)) => std::cmp::Ordering::Greater,
        (None, None) => a.kind.cmp(&b.kind),
    });
}

/// Uninstalls a release.
pub async fn uninstall<S: SecretStore, C: Cluster>(
    storage: &Storage<S>,
    cluster: &C,
    req: Uninstall,
) -> Result<Uninstalled, ReleaseError> {
    validate_name(&req.name)?;
    let history = storage.history(&req.name).await?;
    let Some(mut rel) = history.last().cloned() else {
        return Err(ReleaseError::NotFound);
    };
    if rel.status() == Status::Uninstalled {
        if req.keep_history {
            return Err(ReleaseError::AlreadyDeleted(req.name));
        }
        purge(storage, &history).await?;
        return Ok(Uninstalled {
            release: rel,
            kept: Vec::new(),
        });
    }
    rel.set_status(
        Status::Uninstalling,
        "Deletion in progress (or silently failed)",
    );
    if let Some(info) = rel.info.as_mut() {
        info.deleted = now();
    }
    storage.update(&rel).await?;

    let c = &req.common;
    run_hooks(storage, cluster, &mut rel, HookEvent::PreDelete, c).await?;
    let (kept, mut doomed): (Vec<_>, Vec<_>) = objects(&rel.manifest, &rel.namespace)?
        .into_iter()
        .partition(|o| o.keep);
    uninstall_order(&mut doomed);
    let mut errors = Vec::new();
    let wait = c.wait.then_some(c.timeout);
    if let Err(e) = cluster.delete(&doomed, wait).await {
        errors.push(e.to_string());
    }
    if let Err(e) = run_hooks(storage, cluster, &mut rel, HookEvent::PostDelete, c).await {
        errors.push(e.to_string());
    }
    rel.set_status(Status::Uninstalled, c.success("Uninstallation complete"));
    if req.keep_history {
        if let Err(e) = storage.update(&rel).await {
            errors.push(format!("uninstall: Failed to update release: {e}"));
        }
    } else if let Err(e) = purge(storage, &history).await {
        errors.push(format!("uninstall: Failed to purge the release: {e}"));
    }
    if !errors.is_empty() {
        return Err(ReleaseError::Failed(format!(
            "uninstallation completed with {} error(s): {}",
            errors.len(),
            errors.join("; ")
        )));
    }
    Ok(Uninstalled { release: rel, kept })
}

async fn purge<S: SecretStore>(
    storage: &Storage<S>,
    history: &[Release],
) -> Result<(), ReleaseError> {
    for r in history {
        match storage.delete(&r.name, r.version).await {
            Ok(()) | Err(ReleaseError::NotFound) => {}
            Err(e) => return Err(e),
        }
    }
    Ok(())
}
