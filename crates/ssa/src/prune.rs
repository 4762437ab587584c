//! Garbage collection of objects that left the inventory, as Flux's `ResourceManager.DeleteAll`
//! prunes: only stale inventory entries are candidates, never anything else; objects marked
//! `prune: disabled`, `reconcile: disabled` or `ssa: Ignore`, and objects whose ownership labels
//! name another owner, are skipped; deletion propagates in the background.

use driftless_api::apply::ResourceRef;
use kube::api::{DeleteParams, DynamicObject, GroupVersionKind};

use crate::apply::ResourceManager;
use crate::changeset::{Action, ChangeSet};
use crate::error::{SsaError, api_message, is_not_found};
use crate::metadata::{SsaPolicy, prune_disabled, reconcile_disabled, ssa_policy};
use crate::options::Owner;
use crate::stage::sort_key;
use crate::wait::Target;

fn owned_by(object: &DynamicObject, owner: &Owner) -> bool {
    let labels = object.metadata.labels.as_ref();
    let label = |key: &str| labels.and_then(|l| l.get(key)).map(String::as_str);
    label(&owner.name_label) == Some(owner.name.as_str())
        && label(&owner.namespace_label) == Some(owner.namespace.as_str())
}

impl ResourceManager {
    /// Deletes the objects of `stale` (from [`crate::inventory::diff`]). Objects already gone are
    /// left out of the change set; a failed delete is reported after trying all the others.
    pub async fn delete_stale(&self, stale: &[ResourceRef]) -> Result<ChangeSet, SsaError> {
        let mut targets = stale
            .iter()
            .map(Target::from_ref)
            .collect::<Result<Vec<_>, _>>()?;
        // Reverse apply order: dependents before the namespaces and definitions they live in.
        targets.sort_by_key(|t| std::cmp::Reverse(sort_key(&t.object)));
        let mut change_set = ChangeSet::default();
        let mut failures = Vec::new();
        for target in &targets {
            match self.prune_one(target).await {
                Ok(Some(action)) => change_set.push(target.object.clone(), &target.version, action),
                Ok(None) => {}
                Err(message) => failures.push(format!("{} {message}", target.object.subject())),
            }
        }
        if failures.is_empty() {
            Ok(change_set)
        } else {
            Err(SsaError::Prune { failures })
        }
    }

    async fn prune_one(&self, target: &Target) -> Result<Option<Action>, String> {
        let object = &target.object;
        let gvk = GroupVersionKind::gvk(&object.group, &target.version, &object.kind);
        // A kind no longer served (its CRD is gone) has no objects left to delete.
        let Ok(resolved) = self.resolver.resolve(&gvk).await else {
            return Ok(None);
        };
        let api = self.dynamic_api(&resolved, &object.namespace);
        let Some(live) = api
            .get_opt(&object.name)
            .await
            .map_err(|e| api_message(&e))?
        else {
            return Ok(None);
        };
        let meta = &live.metadata;
        if prune_disabled(meta) || reconcile_disabled(meta) || ssa_policy(meta) == SsaPolicy::Ignore
        {
            return Ok(Some(Action::Skipped));
        }
        if let Some(owner) = &self.options.owner
            && !owned_by(&live, owner)
        {
            return Ok(Some(Action::Skipped));
        }
        if meta.deletion_timestamp.is_some() {
            return Ok(Some(Action::Deleted));
        }
        match api.delete(&object.name, &DeleteParams::background()).await {
            Ok(_) => Ok(Some(Action::Deleted)),
            Err(e) if is_not_found(&e) => Ok(None),
            Err(e) => Err(format!("delete failed: {}", api_message(&e))),
        }
    }
}
