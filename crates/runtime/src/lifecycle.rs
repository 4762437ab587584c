//! The start of every reconcile, in Flux's order: a deleted object is finalized (or already
//! gone), a new one gets the `finalizers.fluxcd.io` finalizer, a suspended one is left alone,
//! anything else is reconciled — the [`crate::schedule::gate`] decision with its one side effect
//! (adding the finalizer) carried out.

use std::hash::{DefaultHasher, Hash, Hasher};
use std::sync::Arc;

use kube::ResourceExt;
use kube::api::Api;

use crate::object::FluxObject;
use crate::patch::{PatchError, add_finalizer};
use crate::schedule::{Gate, gate};

/// What a reconcile does with the object it was handed.
#[derive(Debug)]
pub enum Entry<K> {
    /// Deletion started and the finalizer is ours: clean up, then remove it.
    Finalize,
    /// Nothing to do: gone, or suspended.
    Skip,
    /// Reconcile this (possibly updated) object.
    Reconcile(Arc<K>),
}

/// Decides what to do with `obj`, adding the finalizer when it is missing.
pub async fn enter<K: FluxObject>(
    api: &Api<K>,
    obj: &Arc<K>,
    field_manager: &str,
) -> Result<Entry<K>, PatchError> {
    let has_finalizer = obj
        .finalizers()
        .iter()
        .any(|f| f == driftless_api::annotations::FINALIZER);
    let deleting = obj.meta().deletion_timestamp.is_some();
    match gate(deleting, has_finalizer, obj.suspended()) {
        Gate::Finalize => Ok(Entry::Finalize),
        Gate::Gone => Ok(Entry::Skip),
        Gate::AddFinalizer => {
            let updated = add_finalizer(api, obj.as_ref(), field_manager).await?;
            if updated.suspended() {
                return Ok(Entry::Skip);
            }
            Ok(Entry::Reconcile(Arc::new(updated)))
        }
        Gate::Suspended => {
            tracing::info!(name = %obj.name_any(), namespace = ?obj.namespace(),
                "reconciliation is suspended for this object");
            Ok(Entry::Skip)
        }
        Gate::Reconcile => Ok(Entry::Reconcile(Arc::clone(obj))),
    }
}

/// What decides whether a watch event of a reconciled object reaches the queue, as Flux's
/// `GenerationChangedPredicate || ReconcileRequestedPredicate`: a new generation (spec change),
/// a new `reconcile.fluxcd.io/requestedAt`, or deletion having started. Status and finalizer
/// updates (the controller's own writes) leave it unchanged.
pub fn reconcile_trigger<K: kube::Resource>(obj: &K) -> Option<u64> {
    let mut hasher = DefaultHasher::new();
    obj.meta().generation.hash(&mut hasher);
    obj.meta()
        .annotations
        .as_ref()
        .and_then(|a| a.get(driftless_api::annotations::RECONCILE_REQUESTED_AT))
        .hash(&mut hasher);
    obj.meta().deletion_timestamp.is_some().hash(&mut hasher);
    Some(hasher.finish())
}
