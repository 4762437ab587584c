//! `helm upgrade`: refused while the last revision is pending; the current release is the last
//! one when deployed, else the last deployed one, else a last failed or superseded one. The
//! new revision is recorded `pending-upgrade`, objects it would newly create checked for
//! ownership, then pre-upgrade hooks, the apply, deletion of what the new manifest dropped, the
//! optional wait and post-upgrade hooks; on success the current revision becomes `superseded`
//! and the new one `deployed`, on failure the new one `failed`.

use std::collections::BTreeMap;

use super::cluster::{Cluster, CrdPolicy, objects};
use super::error::ReleaseError;
use super::hooks::HookEvent;
use super::record::{ChartRecord, Info, Release, Status, now};
use super::rendered::Rendered;
use super::storage::{SecretStore, Storage};
use super::{Common, Step, fail, transition, validate_name};
use crate::Values;
use crate::chart::Chart;

/// What to upgrade to.
#[derive(Debug, Clone)]
pub struct Upgrade<'a> {
    pub name: String,
    pub chart: &'a Chart,
    pub values: Values,
    pub rendered: Rendered,
    /// Flux's `upgrade.crds` (Helm itself never touches CRDs on upgrade: [`CrdPolicy::Skip`]).
    pub crds: CrdPolicy,
    /// Custom labels, merged over the last revision's.
    pub labels: BTreeMap<String, String>,
    pub common: Common,
}

/// The revision an upgrade or rollback starts from, and the one it replaces.
pub(crate) async fn current<S: SecretStore>(
    storage: &Storage<S>,
    name: &str,
) -> Result<(Release, Release), ReleaseError> {
    let Some(last) = storage.last(name).await? else {
        return Err(ReleaseError::NoDeployedReleases { name: name.into() });
    };
    if last.status().is_pending() {
        return Err(ReleaseError::Pending);
    }
    if last.status() == Status::Deployed {
        return Ok((last.clone(), last));
    }
    match storage.deployed(name).await? {
        Some(d) => Ok((last, d)),
        None if matches!(last.status(), Status::Failed | Status::Superseded) => {
            Ok((last.clone(), last))
        }
        None => Err(ReleaseError::NoDeployedReleases { name: name.into() }),
    }
}

/// Upgrades a release; returns the new revision.
pub async fn upgrade<S: SecretStore, C: Cluster>(
    storage: &Storage<S>,
    cluster: &C,
    req: Upgrade<'_>,
) -> Result<Release, ReleaseError> {
    validate_name(&req.name)?;
    super::codec::check_labels(&req.labels)?;
    let (last, mut current) = current(storage, &req.name).await?;
    let namespace = current.namespace.clone();
    let first_deployed = current
        .info
        .as_ref()
        .map(|i| i.first_deployed.clone())
        .unwrap_or_default();
    let chart = ChartRecord::for_release(req.chart, &req.values)?;
    let mut labels = last.labels.clone();
    labels.extend(req.labels);
    let mut rel = Release {
        name: req.name.clone(),
        namespace: namespace.clone(),
        version: last.version + 1,
        info: Some(Info {
            first_deployed,
            last_deployed: now(),
            notes: req.rendered.notes.clone(),
            ..Info::default()
        }),
        chart: Some(chart),
        config: Some(super::chart_record::go_numbers(&req.values)),
        manifest: req.rendered.manifest.clone(),
        hooks: req.rendered.hooks.clone(),
        labels,
        ..Release::default()
    };
    rel.set_status(Status::PendingUpgrade, "Preparing upgrade");

    if req.crds != CrdPolicy::Skip && !req.rendered.crds.is_empty() {
        cluster.install_crds(&req.rendered.crds, req.crds).await?;
    }
    let old = objects(&current.manifest, &namespace)?;
    let new = objects(&rel.manifest, &namespace)?;
    let created: Vec<_> = new
        .iter()
        .filter(|n| !old.iter().any(|o| o.same_object(n)))
        .cloned()
        .collect();
    cluster
        .check_ownership(&req.name, &namespace, &created)
        .await
        .map_err(|e| ReleaseError::Cluster(format!("unable to continue with update: {e}")))?;
    storage.create(&rel).await?;

    let c = &req.common;
    let failed = |e: &str| format!("Upgrade {:?} failed: {e}", req.name);
    let events = (HookEvent::PreUpgrade, HookEvent::PostUpgrade);
    if let Err(step) = transition(storage, cluster, &mut rel, &current.manifest, events, c).await {
        let (e, created) = match step {
            Step::PreHooks(e) => (format!("pre-upgrade hooks failed: {e}"), Vec::new()),
            Step::Objects(e, created) => (e.to_string(), created),
            Step::PostHooks(e, created) => (format!("post-upgrade hooks failed: {e}"), created),
        };
        let recorded = fail(storage, &mut rel, failed(&e), e.clone()).await;
        if c.cleanup_on_fail
            && !created.is_empty()
            && let Err(d) = cluster.delete(&created, None).await
        {
            return Err(ReleaseError::Failed(format!(
                "an error occurred while cleaning up resources. original upgrade error: {e}: unable to cleanup resources: {d}"
            )));
        }
        return Err(recorded);
    }
    current.info.get_or_insert_with(Info::default).status = Status::Superseded;
    storage.update(&current).await?;
    rel.set_status(Status::Deployed, c.success("Upgrade complete"));
    storage.update(&rel).await?;
    Ok(rel)
}
