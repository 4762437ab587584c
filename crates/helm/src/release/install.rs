//! `helm install`: the name checked free (or, with `replace`, held only by an uninstalled or
//! failed release), the chart's CRDs installed under the policy, objects that exist outside the
//! release refused, revision 1 recorded `pending-install`, then pre-install hooks, the apply,
//! the optional wait and post-install hooks; `deployed` on success, `failed` with Helm's
//! description otherwise.

use std::collections::BTreeMap;

use super::cluster::{Cluster, CrdPolicy, objects};
use super::error::ReleaseError;
use super::hooks::HookEvent;
use super::record::{ChartRecord, Info, Release, Status, now};
use super::rendered::Rendered;
use super::storage::{SecretStore, Storage};
use super::{Common, fail, run_hooks, validate_name};
use crate::Values;
use crate::chart::Chart;

/// What to install.
#[derive(Debug, Clone)]
pub struct Install<'a> {
    pub name: String,
    pub namespace: String,
    pub chart: &'a Chart,
    /// The values the user supplied (stored as the release's config).
    pub values: Values,
    pub rendered: Rendered,
    pub crds: CrdPolicy,
    /// Re-use the name of an uninstalled (history kept) or failed release.
    pub replace: bool,
    /// Custom labels for the release Secrets.
    pub labels: BTreeMap<String, String>,
    pub common: Common,
}

/// Installs a release; returns the recorded release.
pub async fn install<S: SecretStore, C: Cluster>(
    storage: &Storage<S>,
    cluster: &C,
    req: Install<'_>,
) -> Result<Release, ReleaseError> {
    validate_name(&req.name)?;
    super::codec::check_labels(&req.labels)?;
    let history = storage.history(&req.name).await?;
    let mut version = 1;
    let mut replaced = None;
    if let Some(last) = history.last() {
        let status = last.status();
        if !(req.replace && matches!(status, Status::Uninstalled | Status::Failed)) {
            return Err(ReleaseError::NameInUse);
        }
        version = last.version + 1;
        replaced = Some(last.clone());
    }
    if req.crds != CrdPolicy::Skip && !req.rendered.crds.is_empty() {
        cluster.install_crds(&req.rendered.crds, req.crds).await?;
    }
    let targets = objects(&req.rendered.manifest, &req.namespace)?;
    cluster
        .check_ownership(&req.name, &req.namespace, &targets)
        .await
        .map_err(|e| ReleaseError::Cluster(format!("Unable to continue with install: {e}")))?;

    let chart = ChartRecord::for_release(req.chart, &req.values)?;
    let stamp = now();
    let mut rel = Release {
        name: req.name.clone(),
        namespace: req.namespace.clone(),
        version,
        info: Some(Info {
            first_deployed: stamp.clone(),
            last_deployed: stamp,
            notes: req.rendered.notes.clone(),
            ..Info::default()
        }),
        chart: Some(chart),
        config: Some(super::chart_record::go_numbers(&req.values)),
        manifest: req.rendered.manifest.clone(),
        hooks: req.rendered.hooks.clone(),
        labels: req.labels,
        ..Release::default()
    };
    rel.set_status(Status::PendingInstall, "Initial install underway");
    if let Some(mut old) = replaced {
        // Helm's replace: the old revision steps aside before the new one is stored.
        old.info.get_or_insert_with(Info::default).status = Status::Superseded;
        storage.update(&old).await?;
    }
    storage.create(&rel).await?;

    let c = &req.common;
    let failed = |e: String| format!("Release {:?} failed: {e}", req.name);
    if let Err(e) = run_hooks(storage, cluster, &mut rel, HookEvent::PreInstall, c).await {
        let e = format!("failed pre-install: {e}");
        return Err(fail(storage, &mut rel, failed(e.clone()), e).await);
    }
    if let Err(e) = cluster
        .apply(&req.name, &req.namespace, &rel.manifest, c.force)
        .await
    {
        return Err(fail(storage, &mut rel, failed(e.to_string()), e.to_string()).await);
    }
    if c.wait
        && let Err(e) = cluster
            .wait_ready(&req.namespace, &rel.manifest, c.timeout)
            .await
    {
        return Err(fail(storage, &mut rel, failed(e.to_string()), e.to_string()).await);
    }
    if let Err(e) = run_hooks(storage, cluster, &mut rel, HookEvent::PostInstall, c).await {
        let e = format!("failed post-install: {e}");
        return Err(fail(storage, &mut rel, failed(e.clone()), e).await);
    }
    rel.set_status(Status::Deployed, c.success("Install complete"));
    storage.update(&rel).await?;
    Ok(rel)
}
