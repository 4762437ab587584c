//! Deletion, as Flux's `reconcileDelete`: remove every stored artifact of the object (its whole
//! storage directory), then the `finalizers.fluxcd.io` finalizer, and forget its metrics series
//! and backoff state.

use driftless_artifact::ObjectKey;
use driftless_runtime::events::EventType;
use driftless_runtime::object::FluxObject;
use driftless_runtime::object::object_key;
use driftless_runtime::patch::{remove_finalizer, status_field_manager};
use kube::api::Api;

use crate::error::ReconcileError;
use crate::reconcile::Context;

/// Event reason Flux records once the artifacts of a deleted object are gone.
pub const GARBAGE_COLLECTION_SUCCEEDED: &str = "GarbageCollectionSucceeded";

/// Cleans up after a deleted object stored under `key` and lets the API server remove it.
pub async fn finalize<K: FluxObject>(
    ctx: &Context,
    api: &Api<K>,
    repo: &K,
    key: ObjectKey,
) -> Result<(), ReconcileError> {
    let store = ctx.storage.clone();
    let removed = tokio::task::spawn_blocking(move || store.remove_object(&key))
        .await
        .map_err(|e| ReconcileError::Task {
            operation: "removing stored artifacts",
            detail: e.to_string(),
        })?
        .map_err(|source| ReconcileError::Storage {
            operation: "garbage collection for deleted resource failed",
            source,
        })?;
    if removed {
        ctx.recorder
            .event(
                repo,
                EventType::Trace,
                GARBAGE_COLLECTION_SUCCEEDED,
                "garbage collected artifacts for deleted resource",
                &[],
            )
            .await;
    }
    remove_finalizer(api, repo, &status_field_manager(crate::CONTROLLER_NAME))
        .await
        .map_err(|source| ReconcileError::Patch {
            source: Box::new(source),
        })?;
    if let Some(metrics) = &ctx.metrics {
        metrics.delete_object(repo);
    }
    ctx.scheduler.forget(&object_key(repo));
    Ok(())
}
