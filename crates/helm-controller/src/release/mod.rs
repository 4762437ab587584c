//! The release step, as Flux's atomic release: recover a release a crash left pending, decide
//! what the release needs (install when there is none, upgrade when its chart or values differ
//! or it failed, nothing when in sync), run that action, test it when asked, and remediate a
//! failure (uninstall after a failed install, rollback or uninstall after a failed upgrade)
//! while retries remain; once they are used up the HelmRelease stalls with `RetriesExceeded`
//! until its spec, chart or values change (or `reconcile.fluxcd.io/resetAt`).

pub mod actions;
pub mod remediate;
pub mod settings;
pub mod wait;

use driftless_api::conditions::{reasons, types};
use driftless_api::helm::{HelmRelease, HelmReleaseStatus, ReleaseAction};
use driftless_helm::release::{
    self as helm, Cached, KubeCluster, KubeSecrets, Release, Status, Storage,
};
use driftless_helm::{Chart, Values};
use driftless_runtime::draft::StatusDraft;
use driftless_ssa::resolve::Resolver;
use kube::ResourceExt;

use crate::error::ReconcileError;
use crate::{history, identity, values};

/// What the release should become.
pub struct Desired<'a> {
    /// The loaded chart.
    pub chart: &'a Chart,
    /// The composed values.
    pub values: Values,
    /// `lastAttemptedRevision`: the chart version (`+<digest>` for OCI charts).
    pub revision: String,
    /// The OCI manifest digest of the chart, for OCI sources.
    pub oci_digest: Option<String>,
}

/// An event the reconcile emits about the release.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ReleaseEvent {
    /// Warning (a failure) or Normal.
    pub warning: bool,
    /// The Flux reason.
    pub reason: &'static str,
    /// The message.
    pub message: String,
}

/// What the release needs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Need {
    /// No release (or an uninstalled one): install.
    Install,
    /// Chart or values changed, or the last revision failed: upgrade.
    Upgrade,
    /// Deployed with this chart and these values.
    InSync,
}

/// Decides what the last stored revision needs to match `desired`.
pub fn need(last: Option<&Release>, chart: &Chart, values: &Values) -> Need {
    let Some(last) = last else {
        return Need::Install;
    };
    match last.status() {
        Status::Uninstalled => Need::Install,
        Status::Deployed if in_sync(last, chart, values) => Need::InSync,
        _ => Need::Upgrade,
    }
}

/// Whether `release` runs `chart` (name and version) with `values` (by digest, as stored).
pub fn in_sync(release: &Release, chart: &Chart, values: &Values) -> bool {
    let metadata = release.chart.as_ref().and_then(|c| c.metadata.as_ref());
    let same_chart = metadata
        .is_some_and(|m| m.name == chart.metadata.name && m.version == chart.metadata.version);
    let stored = release.config.clone().unwrap_or_default();
    let wanted = driftless_helm::release::chart_record::go_numbers(values);
    same_chart && values::digest(&stored) == values::digest(&wanted)
}

/// Resets the failure counters when what is released changed since the last attempt (a new
/// generation, chart revision or values), or on a handled `reconcile.fluxcd.io/resetAt`.
pub fn reset_counters(
    hr: &HelmRelease,
    status: &mut HelmReleaseStatus,
    revision: &str,
    digest: &str,
) {
    let changed = status.last_attempted_generation != hr.metadata.generation
        || status.last_attempted_revision.as_deref() != Some(revision)
        || status.last_attempted_config_digest.as_deref() != Some(digest);
    let last_reconcile = status.last_handled_reconcile_at.clone();
    let reset = handle_request(
        hr,
        driftless_api::annotations::RECONCILE_RESET_AT,
        &mut status.last_handled_reset_at,
        last_reconcile.as_deref(),
    );
    if changed || reset {
        status.failures = None;
        status.install_failures = None;
        status.upgrade_failures = None;
    }
}

/// Whether the request in `annotation` (`resetAt`, `forceAt`) is to be acted on now, as Flux
/// decides it: the annotation's value equals `reconcile.fluxcd.io/requestedAt`, that reconcile
/// request is not handled yet, and neither is this value. Whenever the annotation is present,
/// its value becomes `last_handled` (`status.lastHandledResetAt` / `lastHandledForceAt`).
pub fn handle_request(
    hr: &HelmRelease,
    annotation: &str,
    last_handled: &mut Option<String>,
    last_handled_reconcile: Option<&str>,
) -> bool {
    let annotations = hr.annotations();
    let Some(request) = annotations.get(annotation) else {
        return false;
    };
    let previous = last_handled.replace(request.clone());
    let reconcile = annotations.get(driftless_api::annotations::RECONCILE_REQUESTED_AT);
    reconcile == Some(request)
        && last_handled_reconcile != Some(request.as_str())
        && previous.as_deref() != Some(request.as_str())
}

/// Brings the release of `hr` in line with `desired`.
pub async fn reconcile(
    client: &kube::Client,
    resolver: Resolver,
    hr: &HelmRelease,
    status: &mut HelmReleaseStatus,
    draft: &mut StatusDraft,
    desired: Desired<'_>,
    events: &mut Vec<ReleaseEvent>,
) -> Result<(), ReconcileError> {
    // A bad expression stops the reconcile before anything is released.
    let health_rules = wait::health_rules(hr)?;
    let name = identity::release_name(hr);
    let storage_ns = identity::storage_namespace(hr);
    let digest = values::digest(&desired.values);
    reset_counters(hr, status, &desired.revision, &digest);
    let last_reconcile = status.last_handled_reconcile_at.clone();
    let forced = handle_request(
        hr,
        driftless_api::annotations::RECONCILE_FORCE_AT,
        &mut status.last_handled_force_at,
        last_reconcile.as_deref(),
    );
    status.last_attempted_generation = hr.metadata.generation;
    status.last_attempted_revision = Some(desired.revision.clone());
    status.last_attempted_revision_digest = desired.oci_digest.clone();
    status.last_attempted_config_digest = Some(digest);

    remediate::move_release(client, hr, status, events).await?;
    status.storage_namespace = Some(storage_ns.clone());

    // Cached for this reconcile only: one LIST of the release's Secrets instead of one per
    // read (the decision, the action, the status all read the history).
    let mut storage = Storage::new(Cached::new(KubeSecrets::new(client.clone(), &storage_ns)));
    storage.max_history = max_history(hr);
    let cluster = KubeCluster::with_resolver(client.clone(), resolver);
    let storage_err = |e: helm::ReleaseError| ReconcileError::Storage {
        message: e.to_string(),
    };
    if let Some(unlocked) = helm::unlock(&storage, &name).await.map_err(storage_err)? {
        let message = unlocked.info.clone().unwrap_or_default().description;
        tracing::warn!(release = %name, %message, "unlocked a release left pending");
        events.push(ReleaseEvent {
            warning: true,
            reason: reasons::UPGRADE_FAILED,
            message,
        });
    }
    let stored = storage.history(&name).await.map_err(storage_err)?;
    let mut snapshots = status.history.clone().unwrap_or_default();
    history::refresh(&mut snapshots, &stored);
    status.history = Some(snapshots);

    let run = actions::Run {
        hr,
        storage: &storage,
        cluster: &cluster,
        client,
        name: &name,
        desired: &desired,
        health_rules,
    };
    let mut need = need(stored.last(), desired.chart, &desired.values);
    if need == Need::InSync
        && (crate::post_render::changed(hr, status) || crate::metadata::changed(hr, status))
    {
        need = Need::Upgrade;
    }
    // `reconcile.fluxcd.io/forceAt`: a one-off upgrade of an in-sync release (an install when
    // there is none), whatever retries remain.
    if forced && need == Need::InSync {
        need = Need::Upgrade;
    }
    if need != Need::InSync && !forced {
        check_retries(hr, status)?;
    }
    match need {
        Need::InSync => {
            in_sync_conditions(draft, stored.last(), hr);
            crate::drift::reconcile(client, hr, stored.last(), draft, events).await?;
        }
        Need::Install => run.install(status, draft, events, stored.last()).await?,
        Need::Upgrade => run.upgrade(status, draft, events).await?,
    }
    // The inventory changes only with a release action: an in-sync release keeps its own.
    if need != Need::InSync || status.inventory.is_none() {
        let current = match need {
            Need::InSync => stored.last().cloned(),
            _ => storage.last(&name).await.ok().flatten(),
        };
        if let Some(current) = current
            && let Some(inventory) = crate::inventory::of_release(client, &current).await
        {
            status.inventory = Some(inventory);
        }
    }
    Ok(())
}

/// Stalls when the last attempted action used up its retries: nothing changed since (the
/// counters reset on any change), so another attempt would fail the same way.
fn check_retries(hr: &HelmRelease, status: &HelmReleaseStatus) -> Result<(), ReconcileError> {
    let (action, remediation, failures) = match status.last_attempted_release_action {
        Some(ReleaseAction::Install) => (
            "install",
            settings::install_remediation(hr),
            status.install_failures,
        ),
        Some(ReleaseAction::Upgrade) => (
            "upgrade",
            settings::upgrade_remediation(hr),
            status.upgrade_failures,
        ),
        None => return Ok(()),
    };
    if let Some(action) = status.last_attempted_release_action
        && settings::retry_on_failure(hr, action)?.is_some()
    {
        return Ok(());
    }
    let failures = failures.unwrap_or(0);
    if failures > 0 && remediation.exhausted(failures) {
        return Err(exceeded(action, failures));
    }
    Ok(())
}

/// The stall once no retries remain.
fn exceeded(action: &str, failures: i64) -> ReconcileError {
    ReconcileError::RetriesExceeded {
        message: format!("Failed to {action} after {failures} attempt(s)"),
    }
}

/// The requeue after a failed install or upgrade under `RetryOnFailure`: that strategy's
/// `retryInterval` instead of the failure backoff.
pub fn retry_interval(
    hr: &HelmRelease,
    status: &HelmReleaseStatus,
    error: &ReconcileError,
) -> Option<std::time::Duration> {
    let failed_action = matches!(
        error,
        ReconcileError::InstallFailed { .. } | ReconcileError::UpgradeFailed { .. }
    );
    let action = status.last_attempted_release_action?;
    if !failed_action {
        return None;
    }
    settings::retry_on_failure(hr, action).ok().flatten()
}

/// `spec.maxHistory`: 5 when unset, 0 for no limit.
pub fn max_history(hr: &HelmRelease) -> usize {
    usize::try_from(hr.spec.max_history.unwrap_or(5)).unwrap_or(0)
}

/// Ready of an in-sync release: Released as recorded, or recreated for a release this object
/// did not make (adopted, or the status was lost).
fn in_sync_conditions(draft: &mut StatusDraft, last: Option<&Release>, hr: &HelmRelease) {
    let released = draft
        .get(types::RELEASED)
        .filter(|c| c.status == driftless_api::conditions::status::TRUE)
        .map(|c| (c.reason.clone(), c.message.clone()));
    let (reason, message) = released.unwrap_or_else(|| {
        let (reason, verb) = match last.map(|l| l.version) {
            Some(1) => (reasons::INSTALL_SUCCEEDED, "install"),
            _ => (reasons::UPGRADE_SUCCEEDED, "upgrade"),
        };
        let message = last.map(|l| succeeded_message(verb, l)).unwrap_or_default();
        draft.mark_true(types::RELEASED, reason, message.clone());
        (reason.to_owned(), message)
    });
    draft.delete(types::REMEDIATED);
    let tested = draft
        .get(types::TEST_SUCCESS)
        .filter(|c| c.status == driftless_api::conditions::status::TRUE)
        .map(|c| (c.reason.clone(), c.message.clone()));
    if hr.spec.test.as_ref().and_then(|t| t.enable) != Some(true) {
        draft.delete(types::TEST_SUCCESS);
    }
    match tested.filter(|_| draft.get(types::TEST_SUCCESS).is_some()) {
        Some((r, m)) => draft.succeeded_with(&r, m),
        None => draft.succeeded_with(&reason, message),
    }
}

/// `<namespace>/<name>.v<version>`, as Flux names a release revision in messages.
pub fn revision_name(release: &Release) -> String {
    format!(
        "{}/{}.v{}",
        release.namespace, release.name, release.version
    )
}

/// `<chart>@<version>` of a release.
pub fn chart_label(release: &Release) -> String {
    release
        .chart
        .as_ref()
        .and_then(|c| c.metadata.as_ref())
        .map(|m| format!("{}@{}", m.name, m.version))
        .unwrap_or_default()
}

/// Flux's success message of `verb` (`install`, `upgrade`) for `release`.
pub fn succeeded_message(verb: &str, release: &Release) -> String {
    format!(
        "Helm {verb} succeeded for release {} with chart {}",
        revision_name(release),
        chart_label(release)
    )
}

/// The action of the last attempt.
pub fn attempted(status: &mut HelmReleaseStatus, action: ReleaseAction) {
    status.last_attempted_release_action = Some(action);
}

#[cfg(test)]
mod tests {
    use driftless_helm::release::record::MetadataRecord;
    use driftless_helm::release::{ChartRecord, Info};
    use serde_json::json;

    use super::*;

    fn chart(version: &str) -> Chart {
        let mut c = Chart::default();
        c.metadata.name = "podinfo".into();
        c.metadata.version = version.into();
        c
    }

    fn values(v: serde_json::Value) -> Values {
        match v {
            serde_json::Value::Object(m) => m,
            _ => Values::new(),
        }
    }

    fn stored(status: Status, version: &str, config: Values) -> Release {
        let mut r = Release {
            name: "web".into(),
            namespace: "team".into(),
            version: 1,
            info: Some(Info::default()),
            chart: Some(ChartRecord {
                metadata: Some(MetadataRecord {
                    name: "podinfo".into(),
                    version: version.into(),
                    ..Default::default()
                }),
                ..Default::default()
            }),
            config: Some(driftless_helm::release::chart_record::go_numbers(&config)),
            ..Release::default()
        };
        r.set_status(status, "x");
        r
    }

    #[test]
    fn the_release_is_installed_upgraded_or_left_by_chart_values_and_status() {
        let v = values(json!({"replicas": 2, "image": {"tag": "a"}}));
        let c = chart("6.0.0");
        assert_eq!(need(None, &c, &v), Need::Install);
        let deployed = stored(Status::Deployed, "6.0.0", v.clone());
        assert_eq!(need(Some(&deployed), &c, &v), Need::InSync);
        assert_eq!(need(Some(&deployed), &chart("6.0.1"), &v), Need::Upgrade);
        let other = values(json!({"replicas": 3, "image": {"tag": "a"}}));
        assert_eq!(need(Some(&deployed), &c, &other), Need::Upgrade);
        let failed = stored(Status::Failed, "6.0.0", v.clone());
        assert_eq!(need(Some(&failed), &c, &v), Need::Upgrade);
        let gone = stored(Status::Uninstalled, "6.0.0", v.clone());
        assert_eq!(need(Some(&gone), &c, &v), Need::Install);
    }

    #[test]
    fn failure_counters_reset_when_the_chart_values_or_generation_change() {
        let mut hr = HelmRelease::new("web", Default::default());
        hr.metadata.generation = Some(2);
        let mut status = HelmReleaseStatus {
            last_attempted_generation: Some(2),
            last_attempted_revision: Some("6.0.0".into()),
            last_attempted_config_digest: Some("sha256:a".into()),
            install_failures: Some(3),
            failures: Some(3),
            ..Default::default()
        };
        reset_counters(&hr, &mut status, "6.0.0", "sha256:a");
        assert_eq!(status.install_failures, Some(3));
        reset_counters(&hr, &mut status, "6.0.0", "sha256:b");
        assert_eq!(status.install_failures, None);
        assert_eq!(status.failures, None);
    }

    #[test]
    fn a_request_is_handled_once_only_with_a_matching_unhandled_reconcile_request() {
        let annotated = |pairs: &[(&str, &str)]| {
            let mut hr = HelmRelease::new("web", Default::default());
            hr.metadata.annotations = Some(
                pairs
                    .iter()
                    .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                    .collect(),
            );
            hr
        };
        let force = driftless_api::annotations::RECONCILE_FORCE_AT;
        let requested = driftless_api::annotations::RECONCILE_REQUESTED_AT;
        let hr = annotated(&[(force, "t1"), (requested, "t1")]);
        let mut last = None;
        assert!(handle_request(&hr, force, &mut last, None));
        assert_eq!(last.as_deref(), Some("t1"));
        // Handled already: not again.
        assert!(!handle_request(&hr, force, &mut last, None));
        // The reconcile request was handled before (a later reconcile of the same request).
        let mut fresh = None;
        assert!(!handle_request(&hr, force, &mut fresh, Some("t1")));
        // Values that differ: recorded, not acted on.
        let hr = annotated(&[(force, "t2"), (requested, "other")]);
        let mut last = Some("t1".to_owned());
        assert!(!handle_request(&hr, force, &mut last, None));
        assert_eq!(last.as_deref(), Some("t2"));
        // No annotation: nothing recorded.
        let hr = annotated(&[(requested, "t3")]);
        let mut last = Some("t2".to_owned());
        assert!(!handle_request(&hr, force, &mut last, None));
        assert_eq!(last.as_deref(), Some("t2"));
    }

    #[test]
    fn messages_name_the_revision_and_chart_as_flux_does() {
        let r = stored(Status::Deployed, "6.0.0", Values::new());
        assert_eq!(
            succeeded_message("install", &r),
            "Helm install succeeded for release team/web.v1 with chart podinfo@6.0.0"
        );
    }
}
