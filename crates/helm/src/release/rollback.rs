//! `helm rollback`: a new revision copying the chart, values, manifest and hooks of the target
//! revision (the one before the last by default), described `Rollback to <n>` and recorded
//! `pending-rollback`; pre-rollback hooks, the apply, deletion of what the target does not
//! have, the optional wait, post-rollback hooks; then every deployed revision becomes
//! `superseded` and the new one `deployed`. When the apply or wait fails, the last revision is
//! superseded and the new one failed, as Helm records it. Unlike Helm, a failing rollback hook
//! also marks the revision failed rather than leaving it pending, so no later operation finds
//! the release "in progress".

use super::cluster::Cluster;
use super::error::ReleaseError;
use super::hooks::HookEvent;
use super::record::{Info, Release, Status, now};
use super::storage::{SecretStore, Storage};
use super::{Common, Step, fail, transition, validate_name};

/// What to roll back.
#[derive(Debug, Clone, Default)]
pub struct Rollback {
    pub name: String,
    /// The revision to return to; 0 is the one before the last.
    pub version: u32,
    pub common: Common,
}

/// Rolls a release back; returns the new revision.
pub async fn rollback<S: SecretStore, C: Cluster>(
    storage: &Storage<S>,
    cluster: &C,
    req: Rollback,
) -> Result<Release, ReleaseError> {
    validate_name(&req.name)?;
    let history = storage.history(&req.name).await?;
    let Some(mut current) = history.last().cloned() else {
        return Err(ReleaseError::NotFound);
    };
    if current.status().is_pending() {
        return Err(ReleaseError::Pending);
    }
    let wanted = if req.version == 0 {
        current.version.saturating_sub(1)
    } else {
        req.version
    };
    let Some(previous) = history.iter().find(|r| r.version == wanted).cloned() else {
        return Err(ReleaseError::NoVersion(wanted.to_string()));
    };
    let namespace = previous.namespace.clone();
    let first_deployed = current
        .info
        .as_ref()
        .map(|i| i.first_deployed.clone())
        .unwrap_or_default();
    let mut rel = Release {
        name: req.name.clone(),
        namespace: namespace.clone(),
        version: current.version + 1,
        info: Some(Info {
            first_deployed,
            last_deployed: now(),
            notes: previous
                .info
                .as_ref()
                .map(|i| i.notes.clone())
                .unwrap_or_default(),
            ..Info::default()
        }),
        chart: previous.chart.clone(),
        config: previous.config.clone(),
        manifest: previous.manifest.clone(),
        hooks: previous.hooks.clone(),
        labels: previous.labels.clone(),
        ..Release::default()
    };
    rel.set_status(Status::PendingRollback, format!("Rollback to {wanted}"));
    storage.create(&rel).await?;

    let c = &req.common;
    let failed = |e: &str| format!("Rollback {:?} failed: {e}", req.name);
    let events = (HookEvent::PreRollback, HookEvent::PostRollback);
    if let Err(step) = transition(storage, cluster, &mut rel, &current.manifest, events, c).await {
        let e = match step {
            Step::Objects(e, _) => {
                // Helm supersedes the revision it rolled back from even when the apply fails.
                current.info.get_or_insert_with(Info::default).status = Status::Superseded;
                storage.update(&current).await?;
                e.to_string()
            }
            Step::PreHooks(e) | Step::PostHooks(e, _) => e.to_string(),
        };
        return Err(fail(storage, &mut rel, failed(&e), e).await);
    }
    for mut deployed in storage.deployed_all(&req.name).await? {
        deployed.info.get_or_insert_with(Info::default).status = Status::Superseded;
        storage.update(&deployed).await?;
    }
    rel.set_status(
        Status::Deployed,
        c.success(&format!("Rollback to {wanted}")),
    );
    storage.update(&rel).await?;
    Ok(rel)
}
