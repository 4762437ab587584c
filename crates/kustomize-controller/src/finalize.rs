//! Deletion, as Flux's `finalize`: with `deletionPolicy` `MirrorPrune` (the default) and
//! `spec.prune` on, or with `Delete` / `WaitForTermination`, delete every object of the
//! inventory (only objects still carrying this Kustomization's ownership labels); with `Orphan`,
//! or a suspended Kustomization under `MirrorPrune`, leave them. Then remove the finalizer.

use driftless_api::kustomize::{DeletionPolicy, Kustomization};
use driftless_runtime::events::EventType;
use driftless_runtime::object::object_key;
use driftless_runtime::patch::{remove_finalizer, status_field_manager};
use driftless_runtime::summary::Next;
use kube::api::Api;

use crate::apply;
use crate::error::ReconcileError;
use crate::reconcile::Context;

/// Whether the inventory is deleted with the Kustomization.
pub fn deletes_inventory(ks: &Kustomization) -> bool {
    match ks.spec.deletion_policy.unwrap_or_default() {
        DeletionPolicy::MirrorPrune => ks.spec.prune && !ks.spec.suspend.unwrap_or(false),
        DeletionPolicy::Delete | DeletionPolicy::WaitForTermination => true,
        DeletionPolicy::Orphan => false,
    }
}

/// Cleans up after a deleted Kustomization and lets the API server remove it.
pub async fn finalize(
    ctx: &Context,
    api: &Api<Kustomization>,
    ks: &Kustomization,
) -> Result<Next, ReconcileError> {
    let entries = apply::entries(ks.status.as_ref().and_then(|s| s.inventory.as_ref()));
    if deletes_inventory(ks) && !entries.is_empty() {
        let client = ctx.clients.for_kustomization(ks).await?;
        let manager = apply::manager(client.clone(), ctx.clients.resolver(ks, &client), ks);
        let deleted = manager
            .delete_stale(&entries)
            .await
            .map_err(|source| ReconcileError::Prune { source })?;
        if !deleted.entries.is_empty() {
            ctx.recorder
                .event(
                    ks,
                    EventType::Normal,
                    "Progressing",
                    &deleted.to_string(),
                    &[],
                )
                .await;
        }
        if ks.spec.deletion_policy == Some(DeletionPolicy::WaitForTermination) {
            let targets: Vec<_> = deleted
                .entries
                .iter()
                .map(|e| driftless_ssa::wait::Target::new(e.object.clone(), e.version.clone()))
                .collect();
            let report = manager
                .poll(&targets)
                .await
                .map_err(|source| ReconcileError::Prune { source })?;
            let gone = report
                .entries
                .iter()
                .all(|e| e.status == driftless_ssa::kstatus::Status::NotFound);
            if !gone {
                // Look again shortly; the finalizer stays until the objects are gone.
                return Ok(Next::After(std::time::Duration::from_secs(2)));
            }
        }
    }
    remove_finalizer(api, ks, &status_field_manager(crate::CONTROLLER_NAME))
        .await
        .map_err(|source| ReconcileError::Patch {
            source: Box::new(source),
        })?;
    if let Some(metrics) = &ctx.metrics {
        metrics.delete_object(ks);
    }
    ctx.scheduler.forget(&object_key(ks));
    Ok(Next::AwaitChange)
}

#[cfg(test)]
mod tests {
    use driftless_api::kustomize::KustomizationSpec;

    use super::*;

    fn ks(prune: bool, suspend: bool, policy: Option<DeletionPolicy>) -> Kustomization {
        Kustomization::new(
            "apps",
            KustomizationSpec {
                prune,
                suspend: Some(suspend),
                deletion_policy: policy,
                ..Default::default()
            },
        )
    }

    #[test]
    fn the_deletion_policy_decides_whether_applied_objects_go_with_the_kustomization() {
        assert!(deletes_inventory(&ks(true, false, None)));
        assert!(!deletes_inventory(&ks(false, false, None)));
        assert!(!deletes_inventory(&ks(true, true, None)));
        assert!(deletes_inventory(&ks(
            false,
            false,
            Some(DeletionPolicy::Delete)
        )));
        assert!(deletes_inventory(&ks(
            false,
            true,
            Some(DeletionPolicy::WaitForTermination)
        )));
        assert!(!deletes_inventory(&ks(
            true,
            false,
            Some(DeletionPolicy::Orphan)
        )));
    }
}
