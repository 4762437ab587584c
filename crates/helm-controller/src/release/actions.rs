//! The Helm actions of a reconcile with their status bookkeeping: render the chart for the
//! release, install or upgrade it, run its tests, and remediate a failure (uninstall or
//! rollback) while retries remain. Each action records its revision in `status.history`, sets
//! Released / TestSuccess / Remediated with Flux's reasons and messages, and queues the event.

use driftless_api::conditions::{reasons, types};
use driftless_api::helm::{HelmRelease, HelmReleaseStatus, ReleaseAction};
use driftless_helm::release::{
    self as helm, Cached, KubeCluster, KubeSecrets, Release, Rendered, Storage,
};
use driftless_helm::{Chart, Options, Values};
use driftless_runtime::draft::StatusDraft;
use k8s_openapi::api::core::v1::Namespace;
use kube::api::{Api, PostParams};

use super::settings;
use super::wait::WaitingAction;
use super::{Desired, ReleaseEvent, attempted, chart_label, revision_name, succeeded_message};
use crate::error::ReconcileError;
use crate::post_render::Pipeline;
use crate::{history, identity};

/// One reconcile's view of the release.
pub struct Run<'a> {
    /// The object.
    pub hr: &'a HelmRelease,
    /// The release storage (`storageNamespace`).
    pub storage: &'a Storage<Cached<KubeSecrets>>,
    /// The cluster the release applies to.
    pub cluster: &'a KubeCluster,
    /// The client behind both.
    pub client: &'a kube::Client,
    /// The release name.
    pub name: &'a str,
    /// What the release should become.
    pub desired: &'a Desired<'a>,
    /// The parsed `spec.healthCheckExprs`, when there are any.
    pub health_rules: Option<std::sync::Arc<driftless_cel_health::HealthRules>>,
}

/// Renders `chart` with `values` for release `name` in `namespace`: what `helm install`
/// applies, with the chart's `crds/` split out, for the cluster's Kubernetes version.
/// `opts` names the release, its namespace and revision; CRDs and the version are set here.
/// With `post`, the templates go through the HelmRelease's post-renderers.
pub async fn render(
    client: &kube::Client,
    chart: &Chart,
    values: &Values,
    mut opts: Options,
    post: Option<Pipeline>,
) -> Result<Rendered, ReconcileError> {
    opts.kube_version = client.apiserver_version().await.ok().map(|v| v.git_version);
    opts.include_crds = true;
    let (chart, values) = (chart.clone(), values.clone());
    tokio::task::spawn_blocking(move || {
        let (mut text, notes) =
            driftless_helm::template_with_notes(chart, values, &opts).map_err(|e| {
                ReconcileError::Render {
                    message: e.to_string(),
                }
            })?;
        if let Some(post) = post {
            text = post.run(&text).map_err(|e| ReconcileError::BeforeRelease {
                upgrade: opts.is_upgrade,
                message: format!("error while running post render on files: {e}"),
            })?;
        }
        let mut rendered =
            Rendered::from_template_output(&text).map_err(|e| ReconcileError::Render {
                message: e.to_string(),
            })?;
        // The chart's NOTES.txt, recorded as the release's `info.notes` as Helm records it.
        rendered.notes = notes;
        Ok(rendered)
    })
    .await
    .map_err(|e| ReconcileError::Render {
        message: format!("the render task failed: {e}"),
    })?
}

/// The action as Flux words it in messages and history.
fn verb(action: ReleaseAction) -> &'static str {
    match action {
        ReleaseAction::Install => "install",
        ReleaseAction::Upgrade => "upgrade",
    }
}

fn bump(counter: &mut Option<i64>) -> i64 {
    let next = counter.unwrap_or(0) + 1;
    *counter = Some(next);
    next
}

pub(super) fn normal(reason: &'static str, message: String) -> ReleaseEvent {
    ReleaseEvent {
        warning: false,
        reason,
        message,
    }
}

pub(super) fn warning(reason: &'static str, message: String) -> ReleaseEvent {
    ReleaseEvent {
        warning: true,
        reason,
        message,
    }
}

impl Run<'_> {
    /// The cluster with `action`'s wait strategy.
    pub(super) fn waiting(&self, action: WaitingAction) -> KubeCluster {
        let strategy = super::wait::strategy(self.hr, self.health_rules.as_ref(), action);
        self.cluster.waiting_by(strategy)
    }

    pub(super) fn namespace(&self) -> String {
        identity::target_namespace(self.hr)
    }

    fn chart_label(&self) -> String {
        let m = &self.desired.chart.metadata;
        format!("{}@{}", m.name, m.version)
    }

    pub(super) fn record(&self, status: &mut HelmReleaseStatus, release: &Release, action: &str) {
        let mut snapshots = status.history.take().unwrap_or_default();
        history::record(
            &mut snapshots,
            history::snapshot(release, action, self.desired.oci_digest.as_deref()),
        );
        status.history = Some(snapshots);
    }

    /// Records the newest stored revision (the one a failed action left) in the history.
    pub(super) async fn record_last(&self, status: &mut HelmReleaseStatus, action: &str) {
        if let Ok(Some(last)) = self.storage.last(self.name).await {
            self.record(status, &last, action);
        }
    }

    /// Installs the release; a failure is remediated by uninstalling while retries remain.
    pub async fn install(
        &self,
        status: &mut HelmReleaseStatus,
        draft: &mut StatusDraft,
        events: &mut Vec<ReleaseEvent>,
        last: Option<&Release>,
    ) -> Result<(), ReconcileError> {
        let (common, crds, create_namespace) = settings::install(self.hr)?;
        let namespace = self.namespace();
        let skip_schema = self
            .hr
            .spec
            .install
            .as_ref()
            .and_then(|i| i.disable_schema_validation);
        let rendered = self
            .prepare(
                status,
                draft,
                events,
                ReleaseAction::Install,
                common.timeout,
                skip_schema,
            )
            .await?;
        if create_namespace {
            self.create_namespace(&namespace).await?;
        }
        let started = std::time::Instant::now();
        let cluster = self.waiting(WaitingAction::Install);
        let result = helm::install(
            self.storage,
            &cluster,
            helm::Install {
                name: self.name.to_owned(),
                namespace,
                chart: self.desired.chart,
                values: self.desired.values.clone(),
                rendered,
                crds,
                // A kept uninstalled (or failed) revision steps aside, as Flux installs.
                replace: last.is_some(),
                labels: Default::default(),
                common,
            },
        )
        .await;
        self.conclude(
            status,
            draft,
            events,
            ReleaseAction::Install,
            started,
            result,
        )
        .await
    }

    /// Upgrades the release; a failure is remediated by rollback (or uninstall) while retries
    /// remain.
    pub async fn upgrade(
        &self,
        status: &mut HelmReleaseStatus,
        draft: &mut StatusDraft,
        events: &mut Vec<ReleaseEvent>,
    ) -> Result<(), ReconcileError> {
        let (common, crds) = settings::upgrade(self.hr)?;
        let skip_schema = self
            .hr
            .spec
            .upgrade
            .as_ref()
            .and_then(|u| u.disable_schema_validation);
        let rendered = self
            .prepare(
                status,
                draft,
                events,
                ReleaseAction::Upgrade,
                common.timeout,
                skip_schema,
            )
            .await?;
        let started = std::time::Instant::now();
        let cluster = self.waiting(WaitingAction::Upgrade);
        let result = helm::upgrade(
            self.storage,
            &cluster,
            helm::Upgrade {
                name: self.name.to_owned(),
                chart: self.desired.chart,
                values: self.desired.values.clone(),
                rendered,
                crds,
                labels: Default::default(),
                common,
            },
        )
        .await;
        self.conclude(
            status,
            draft,
            events,
            ReleaseAction::Upgrade,
            started,
            result,
        )
        .await
    }

    /// Records the attempt and renders the chart for it.
    async fn prepare(
        &self,
        status: &mut HelmReleaseStatus,
        draft: &mut StatusDraft,
        events: &mut Vec<ReleaseEvent>,
        action: ReleaseAction,
        timeout: std::time::Duration,
        skip_schema: Option<bool>,
    ) -> Result<Rendered, ReconcileError> {
        attempted(status, action);
        draft.progressing(format!(
            "Running '{}' action with timeout of {}",
            verb(action),
            crate::error::go_duration(timeout)
        ));
        // The revision this action will record: `.Release.Revision` in the templates.
        let revision = match self.storage.last(self.name).await {
            Ok(Some(last)) => last.version + 1,
            _ => 1,
        };
        let opts = Options {
            release_name: self.name.to_owned(),
            namespace: self.namespace(),
            skip_schema_validation: skip_schema.unwrap_or(false),
            is_upgrade: action == ReleaseAction::Upgrade,
            revision,
            ..Options::default()
        };
        let post = Some(Pipeline::of(self.hr));
        render(
            self.client,
            self.desired.chart,
            &self.desired.values,
            opts,
            post,
        )
        .await
        .map_err(|e| match e {
            // Flux's words: the action failed, before anything was applied. As in Flux (the
            // chart renders and the post-renderer runs inside Helm's action, before a release is
            // stored), the failure is the action's (InstallFailed/UpgradeFailed, "Helm install
            // failed for release …"), counts in `status.failures` and is a warning event, but
            // not against the action's remediation retries (`installFailures`/`upgradeFailures`
            // count stored releases only): there is nothing to remediate, and the next reconcile
            // retries with backoff.
            ReconcileError::BeforeRelease { message, .. } | ReconcileError::Render { message } => {
                let upgrade = action == ReleaseAction::Upgrade;
                let message = format!(
                    "Helm {} failed for release {}/{} with chart {}: {message}",
                    verb(action),
                    self.namespace(),
                    self.name,
                    self.chart_label()
                );
                let reason = if upgrade {
                    reasons::UPGRADE_FAILED
                } else {
                    reasons::INSTALL_FAILED
                };
                draft.mark_false(types::RELEASED, reason, message.clone());
                bump(&mut status.failures);
                events.push(warning(reason, message.clone()));
                ReconcileError::BeforeRelease { upgrade, message }
            }
            other => other,
        })
    }

    /// The status, conditions and events of an install or upgrade that ran, then tests after a
    /// success or remediation after a failure.
    async fn conclude(
        &self,
        status: &mut HelmReleaseStatus,
        draft: &mut StatusDraft,
        events: &mut Vec<ReleaseEvent>,
        action: ReleaseAction,
        started: std::time::Instant,
        result: Result<Release, helm::ReleaseError>,
    ) -> Result<(), ReconcileError> {
        status.last_attempted_release_action_duration = Some(crate::error::go_duration(
            std::time::Duration::from_millis(started.elapsed().as_millis() as u64),
        ));
        let verb = verb(action);
        let (succeeded, failed) = match action {
            ReleaseAction::Install => (reasons::INSTALL_SUCCEEDED, reasons::INSTALL_FAILED),
            ReleaseAction::Upgrade => (reasons::UPGRADE_SUCCEEDED, reasons::UPGRADE_FAILED),
        };
        let release = match result {
            Ok(release) => release,
            Err(e) => {
                self.record_last(status, verb).await;
                let message = format!(
                    "Helm {verb} failed for release {}/{} with chart {}: {e}",
                    self.namespace(),
                    self.name,
                    self.chart_label()
                );
                draft.mark_false(types::RELEASED, failed, message.clone());
                events.push(warning(failed, message.clone()));
                bump(&mut status.failures);
                let (failures, remediation) = match action {
                    ReleaseAction::Install => (
                        bump(&mut status.install_failures),
                        settings::install_remediation(self.hr),
                    ),
                    ReleaseAction::Upgrade => (
                        bump(&mut status.upgrade_failures),
                        settings::upgrade_remediation(self.hr),
                    ),
                };
                // RetryOnFailure: no remediation, no retry limit; the reconcile requeues at
                // the strategy's retryInterval.
                let retrying = settings::retry_on_failure(self.hr, action)?.is_some();
                if !retrying {
                    self.after_failure(status, draft, events, remediation, failures)
                        .await?;
                }
                if !retrying && remediation.exhausted(failures) {
                    return Err(ReconcileError::RetriesExceeded {
                        message: format!("{message}; Failed to {verb} after {failures} attempt(s)"),
                    });
                }
                return Err(match action {
                    ReleaseAction::Install => ReconcileError::InstallFailed { message },
                    ReleaseAction::Upgrade => ReconcileError::UpgradeFailed { message },
                });
            }
        };
        self.refresh_history(status).await;
        self.record(status, &release, verb);
        let message = succeeded_message(verb, &release);
        draft.mark_true(types::RELEASED, succeeded, message.clone());
        draft.delete(types::REMEDIATED);
        events.push(normal(succeeded, message.clone()));
        draft.succeeded_with(succeeded, message);
        self.test(status, draft, events, release, action).await
    }

    /// Refreshes the statuses of the revisions the history holds from the storage.
    pub(super) async fn refresh_history(&self, status: &mut HelmReleaseStatus) {
        if let Ok(stored) = self.storage.history(self.name).await {
            let mut snapshots = status.history.take().unwrap_or_default();
            history::refresh(&mut snapshots, &stored);
            status.history = Some(snapshots);
        }
    }

    /// Runs the release's tests when `spec.test.enable`.
    async fn test(
        &self,
        status: &mut HelmReleaseStatus,
        draft: &mut StatusDraft,
        events: &mut Vec<ReleaseEvent>,
        release: Release,
        action: ReleaseAction,
    ) -> Result<(), ReconcileError> {
        let Some(tests) = settings::test(self.hr, action)? else {
            draft.delete(types::TEST_SUCCESS);
            return Ok(());
        };
        let (timeout, ignore_failures) = (tests.timeout, tests.ignore_failures);
        let action = verb(action);
        draft.progressing(format!(
            "Running 'test' action with timeout of {}",
            crate::error::go_duration(timeout)
        ));
        let result = helm::test_release_filtered(
            self.storage,
            self.cluster,
            self.name,
            timeout,
            &tests.filters,
        )
        .await;
        let tested = match &result {
            Ok(r) => r.clone(),
            Err(_) => self
                .storage
                .last(self.name)
                .await
                .ok()
                .flatten()
                .unwrap_or(release),
        };
        self.record(status, &tested, action);
        let hooks = tested
            .hooks
            .iter()
            .filter(|h| h.events.iter().any(|e| e == "test" || e == "test-success"))
            .count();
        match result {
            Ok(_) => {
                let message = format!(
                    "Helm test succeeded for release {} with chart {}: {}",
                    revision_name(&tested),
                    chart_label(&tested),
                    if hooks == 0 {
                        "no test hooks".to_owned()
                    } else {
                        format!("{hooks} test hook(s) completed successfully")
                    }
                );
                draft.mark_true(
                    types::TEST_SUCCESS,
                    reasons::TEST_SUCCEEDED,
                    message.clone(),
                );
                events.push(normal(reasons::TEST_SUCCEEDED, message.clone()));
                draft.succeeded_with(reasons::TEST_SUCCEEDED, message);
                Ok(())
            }
            Err(e) => {
                let message = format!(
                    "Helm test failed for release {} with chart {}: {e}",
                    revision_name(&tested),
                    chart_label(&tested)
                );
                draft.mark_false(types::TEST_SUCCESS, reasons::TEST_FAILED, message.clone());
                events.push(warning(reasons::TEST_FAILED, message.clone()));
                if ignore_failures {
                    return Ok(());
                }
                bump(&mut status.failures);
                Err(ReconcileError::TestFailed { message })
            }
        }
    }

    async fn create_namespace(&self, namespace: &str) -> Result<(), ReconcileError> {
        let api: Api<Namespace> = Api::all(self.client.clone());
        let object: Namespace = serde_json::from_value(serde_json::json!({
            "apiVersion": "v1", "kind": "Namespace", "metadata": {"name": namespace}
        }))
        .map_err(|e| ReconcileError::Render {
            message: e.to_string(),
        })?;
        match api.create(&PostParams::default(), &object).await {
            Ok(_) => Ok(()),
            Err(kube::Error::Api(e)) if e.code == 409 => Ok(()),
            Err(e) => Err(ReconcileError::InstallFailed {
                message: format!("failed to create namespace '{namespace}': {e}"),
            }),
        }
    }
}
