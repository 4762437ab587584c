//! Apply, prune, health, in Flux's order: decode the documents; validate the whole set with a
//! server-side dry-run and apply it in stages (nothing is applied when any object fails
//! validation); record the new inventory; delete the objects that left it (only those, and only
//! with `spec.prune`); then, with `spec.wait` or `spec.healthChecks`, wait until the objects are
//! Current within `spec.timeout`. Objects of a kind that `spec.healthCheckExprs` covers are
//! judged by those CEL expressions instead of kstatus.

use std::time::{Duration, Instant};

use driftless_api::apply::{ResourceInventory, ResourceRef};
use driftless_api::kustomize::Kustomization;
use driftless_ssa::resolve::Resolver;
use driftless_ssa::wait::{StatusReader, Target};
use driftless_ssa::{ApplyOptions, ChangeSet, ObjMetadata, Owner, ResourceManager, SsaError};
use kube::ResourceExt;
use kube::api::DynamicObject;

use crate::cel::HealthRules;
use crate::error::{ReconcileError, go_duration};

/// What the apply step did.
#[derive(Debug, Default)]
pub struct Applied {
    /// What happened to each applied object.
    pub change_set: ChangeSet,
    /// The inventory to record.
    pub inventory: ResourceInventory,
}

/// The resource manager for `ks`, with Flux's options, resolving kinds through `resolver`.
pub fn manager(client: kube::Client, resolver: Resolver, ks: &Kustomization) -> ResourceManager {
    let namespace = ks.namespace().unwrap_or_default();
    let options = ApplyOptions {
        default_namespace: ks
            .spec
            .target_namespace
            .clone()
            .filter(|n| !n.is_empty())
            .unwrap_or_else(|| "default".to_owned()),
        force: ks.spec.force.unwrap_or(false),
        owner: Some(Owner::kustomization(&ks.name_any(), &namespace)),
        ..ApplyOptions::default()
    };
    ResourceManager::with_resolver(client, options, resolver)
}

/// Decodes `documents`, sets `spec.commonMetadata` on every object (after substitution, as
/// Flux does, so a `${var}` in a common label stays literal) and applies them.
pub async fn apply(
    manager: &ResourceManager,
    ks: &Kustomization,
    documents: &[String],
) -> Result<Applied, ReconcileError> {
    let yaml = documents.join("---\n");
    let mut objects = driftless_ssa::decode::decode_yaml(&yaml)
        .map_err(|source| ReconcileError::Decode { source })?;
    set_common_metadata(&mut objects, ks);
    let change_set = manager
        .apply_all_staged(objects)
        .await
        .map_err(|source| ReconcileError::Apply { source })?;
    let inventory = driftless_ssa::inventory::from_change_set(&change_set);
    Ok(Applied {
        change_set,
        inventory,
    })
}

/// Sets `spec.commonMetadata` labels and annotations on every object.
pub fn set_common_metadata(objects: &mut [DynamicObject], ks: &Kustomization) {
    let Some(common) = &ks.spec.common_metadata else {
        return;
    };
    for object in objects {
        let meta = &mut object.metadata;
        for (key, value) in common.labels.iter().flatten() {
            meta.labels
                .get_or_insert_with(Default::default)
                .insert(key.clone(), value.clone());
        }
        for (key, value) in common.annotations.iter().flatten() {
            meta.annotations
                .get_or_insert_with(Default::default)
                .insert(key.clone(), value.clone());
        }
    }
}

/// Deletes what was in `old` and is not in `new`; returns what was deleted.
pub async fn prune(
    manager: &ResourceManager,
    old: &ResourceInventory,
    new: &ResourceInventory,
) -> Result<ChangeSet, ReconcileError> {
    let stale = driftless_ssa::inventory::diff(old, new);
    if stale.is_empty() {
        return Ok(ChangeSet::default());
    }
    manager
        .delete_stale(&stale)
        .await
        .map_err(|source| ReconcileError::Prune { source })
}

/// The objects health is assessed on: the whole inventory with `spec.wait`, else
/// `spec.healthChecks`; empty when neither is set.
pub fn health_targets(
    ks: &Kustomization,
    inventory: &ResourceInventory,
) -> Result<Vec<Target>, ReconcileError> {
    if ks.spec.wait.unwrap_or(false) {
        return inventory
            .entries
            .iter()
            .map(Target::from_ref)
            .collect::<Result<_, _>>()
            .map_err(|source| ReconcileError::Apply { source });
    }
    let own = ks.namespace().unwrap_or_default();
    Ok(ks
        .spec
        .health_checks
        .iter()
        .flatten()
        .map(|check| {
            let (group, version) = driftless_ssa::object::split_api_version(
                check.api_version.as_deref().unwrap_or_default(),
            );
            let namespace = check.namespace.clone().unwrap_or_else(|| own.clone());
            let object = ObjMetadata {
                namespace,
                name: check.name.clone(),
                group,
                kind: check.kind.clone(),
            };
            Target::new(object, version)
        })
        .collect())
}

/// The parsed `spec.healthCheckExprs`; an expression that does not parse stalls the
/// Kustomization, as Flux checks them before anything else.
pub fn health_rules(ks: &Kustomization) -> Result<HealthRules, ReconcileError> {
    let checks = ks.spec.health_check_exprs.as_deref().unwrap_or_default();
    HealthRules::new(checks).map_err(|message| ReconcileError::InvalidCel { message })
}

/// Waits until `targets` are Current, up to `timeout`; returns how long it took. The kstatus the
/// apply returned (`applied`) is the first observation of each object it wrote that `rules` do
/// not cover.
pub async fn check_health(
    manager: &ResourceManager,
    rules: &HealthRules,
    targets: &[Target],
    applied: &ChangeSet,
    timeout: Duration,
) -> Result<Duration, ReconcileError> {
    let started = Instant::now();
    // Objects of kinds the rules cover are judged by their CEL expressions at every poll.
    let reader = (!rules.is_empty()).then_some(rules as &dyn StatusReader);
    let waited = manager
        .wait_with(targets, &applied.observations(), timeout, reader)
        .await;
    match waited {
        Ok(_) => Ok(started.elapsed()),
        Err(SsaError::HealthCheck { message, .. }) => Err(ReconcileError::HealthCheck {
            elapsed: go_duration(Duration::from_secs(started.elapsed().as_secs())),
            message,
        }),
        Err(source) => Err(ReconcileError::Apply { source }),
    }
}

/// The inventory entries of `inventory` (for deletion).
pub fn entries(inventory: Option<&ResourceInventory>) -> Vec<ResourceRef> {
    inventory.map(|i| i.entries.clone()).unwrap_or_default()
}
