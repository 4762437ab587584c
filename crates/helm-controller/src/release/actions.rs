//! The Helm actions of a reconcile with their status bookkeeping: render the chart for the
//! release, install or upgrade it, run its tests, and remediate a failure (uninstall or
//! rollback) while retries remain. Each action records its revision in `status.history`, sets
//! Released / TestSuccess / Remediated with Flux's reasons and messages, and queues the event.

use driftless_api::conditions::{reasons, types};
use driftless_api::helm::{HelmRelease, HelmReleaseStatus, ReleaseAction};
use driftless_helm::release::{
    self as helm, KubeCluster, KubeSecrets, Release, Rendered, Status, Storage,
};
use driftless_helm::{Chart, Options, Values};
use driftless_runtime::draft::StatusDraft;
use k8s_openapi::api::core::v1::Namespace;
use kube::api::{Api, PostParams};

use super::settings::{self, Remediation};
use super::{Desired, ReleaseEvent, attempted, chart_label, revision_name, succeeded_message};
use crate::error::ReconcileError;
use crate::{history, identity};

/// One reconcile's view of the release.
pub struct Run<'a> {
    /// The object.
    pub hr: &'a HelmRelease,
    /// The release storage (`storageNamespace`).
    pub storage: &'a Storage<KubeSecrets>,
    /// The cluster the release applies to.
    pub cluster: &'a KubeCluster,
    /// The client behind both.
    pub client: &'a kube::Client,
    /// The release name.
    pub name: &'a str,
    /// What the release should become.
    pub desired: &'a Desired<'a>,
}

/// Renders `chart` with `values` for release `name` in `namespace`: what `helm install`
/// applies, with the chart's `crds/` split out, for the cluster's Kubernetes version.
pub async fn render(
    client: &kube::Client,
    chart: &Chart,
    values: &Values,
    name: &str,
    namespace: &str,
    skip_schema_validation: bool,
) -> Result<Rendered, ReconcileError> {
    let kube_version = client.apiserver_version().await.ok().map(|v| v.git_version);
    let opts = Options {
        release_name: name.to_owned(),
        namespace: namespace.to_owned(),
        kube_version,
        include_crds: true,
        skip_schema_validation,
        ..Options::default()
    };
    let (chart, values) = (chart.clone(), values.clone());
    tokio::task::spawn_blocking(move || {
        let text =
            driftless_helm::template(chart, values, &opts).map_err(|e| ReconcileError::Render {
                message: e.to_string(),
            })?;
        Rendered::from_template_output(&text).map_err(|e| ReconcileError::Render {
            message: e.to_string(),
        })
    })
    .await
    .map_err(|e| ReconcileError::Render {
        message: format!("the render task failed: {e}"),
    })?
}

fn bump(counter: &mut Option<i64>) -> i64 {
    let next = counter.unwrap_or(0) + 1;
    *counter = Some(next);
    next
}

fn normal(reason: &'static str, message: String) -> ReleaseEvent {
    ReleaseEvent {
        warning: false,
        reason,
        message,
    }
}

fn warning(reason: &'static str, message: String) -> ReleaseEvent {
    ReleaseEvent {
        warning: true,
        reason,
        message,
    }
}

impl Run<'_> {
    fn namespace(&self) -> String {
        identity::target_namespace(self.hr)
    }

    fn chart_label(&self) -> String {
        let m = &self.desired.chart.metadata;
        format!("{}@{}", m.name, m.version)
    }

    fn record(&self, status: &mut HelmReleaseStatus, release: &Release, action: &str) {
        let mut snapshots = status.history.take().unwrap_or_default();
        history::record(
            &mut snapshots,
            history::snapshot(release, action, self.desired.oci_digest.as_deref()),
        );
        status.history = Some(snapshots);
    }

    /// Records the newest stored revision (the one a failed action left) in the history.
    async fn record_last(&self, status: &mut HelmReleaseStatus, action: &str) {
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
        attempted(status, ReleaseAction::Install);
        draft.progressing(format!(
            "Running 'install' action with timeout of {}",
            crate::error::go_duration(common.timeout)
        ));
        if create_namespace {
            self.create_namespace(&namespace).await?;
        }
        let skip_schema = self
            .hr
            .spec
            .install
            .as_ref()
            .and_then(|i| i.disable_schema_validation)
            .unwrap_or(false);
        let rendered = render(
            self.client,
            self.desired.chart,
            &self.desired.values,
            self.name,
            &namespace,
            skip_schema,
        )
        .await?;
        let started = std::time::Instant::now();
        let result = helm::install(
            self.storage,
            self.cluster,
            helm::Install {
                name: self.name.to_owned(),
                namespace: namespace.clone(),
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
        status.last_attempted_release_action_duration = Some(crate::error::go_duration(
            std::time::Duration::from_millis(started.elapsed().as_millis() as u64),
        ));
        match result {
            Ok(release) => {
                self.record(status, &release, "install");
                let message = succeeded_message("install", &release);
                draft.mark_true(types::RELEASED, reasons::INSTALL_SUCCEEDED, message.clone());
                draft.delete(types::REMEDIATED);
                events.push(normal(reasons::INSTALL_SUCCEEDED, message.clone()));
                draft.succeeded_with(reasons::INSTALL_SUCCEEDED, message);
                self.test(status, draft, events, release, "install").await
            }
            Err(e) => {
                self.record_last(status, "install").await;
                let message = format!(
                    "Helm install failed for release {namespace}/{} with chart {}: {e}",
                    self.name,
                    self.chart_label()
                );
                draft.mark_false(types::RELEASED, reasons::INSTALL_FAILED, message.clone());
                events.push(warning(reasons::INSTALL_FAILED, message.clone()));
                bump(&mut status.failures);
                let failures = bump(&mut status.install_failures);
                let remediation = settings::install_remediation(self.hr);
                self.after_failure(status, draft, events, remediation, failures)
                    .await?;
                if remediation.exhausted(failures) {
                    return Err(ReconcileError::RetriesExceeded {
                        message: format!(
                            "{message}; Failed to install after {failures} attempt(s)"
                        ),
                    });
                }
                Err(ReconcileError::InstallFailed { message })
            }
        }
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
        let namespace = self.namespace();
        attempted(status, ReleaseAction::Upgrade);
        draft.progressing(format!(
            "Running 'upgrade' action with timeout of {}",
            crate::error::go_duration(common.timeout)
        ));
        let skip_schema = self
            .hr
            .spec
            .upgrade
            .as_ref()
            .and_then(|u| u.disable_schema_validation)
            .unwrap_or(false);
        let rendered = render(
            self.client,
            self.desired.chart,
            &self.desired.values,
            self.name,
            &namespace,
            skip_schema,
        )
        .await?;
        let started = std::time::Instant::now();
        let result = helm::upgrade(
            self.storage,
            self.cluster,
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
        status.last_attempted_release_action_duration = Some(crate::error::go_duration(
            std::time::Duration::from_millis(started.elapsed().as_millis() as u64),
        ));
        match result {
            Ok(release) => {
                self.refresh_history(status).await;
                self.record(status, &release, "upgrade");
                let message = succeeded_message("upgrade", &release);
                draft.mark_true(types::RELEASED, reasons::UPGRADE_SUCCEEDED, message.clone());
                draft.delete(types::REMEDIATED);
                events.push(normal(reasons::UPGRADE_SUCCEEDED, message.clone()));
                draft.succeeded_with(reasons::UPGRADE_SUCCEEDED, message);
                self.test(status, draft, events, release, "upgrade").await
            }
            Err(e) => {
                self.record_last(status, "upgrade").await;
                let message = format!(
                    "Helm upgrade failed for release {namespace}/{} with chart {}: {e}",
                    self.name,
                    self.chart_label()
                );
                draft.mark_false(types::RELEASED, reasons::UPGRADE_FAILED, message.clone());
                events.push(warning(reasons::UPGRADE_FAILED, message.clone()));
                bump(&mut status.failures);
                let failures = bump(&mut status.upgrade_failures);
                let remediation = settings::upgrade_remediation(self.hr);
                self.after_failure(status, draft, events, remediation, failures)
                    .await?;
                if remediation.exhausted(failures) {
                    return Err(ReconcileError::RetriesExceeded {
                        message: format!(
                            "{message}; Failed to upgrade after {failures} attempt(s)"
                        ),
                    });
                }
                Err(ReconcileError::UpgradeFailed { message })
            }
        }
    }

    /// Refreshes the statuses of the revisions the history holds from the storage.
    async fn refresh_history(&self, status: &mut HelmReleaseStatus) {
        if let Ok(stored) = self.storage.history(self.name).await {
            let mut snapshots = status.history.take().unwrap_or_default();
            history::refresh(&mut snapshots, &stored);
            status.history = Some(snapshots);
        }
    }

    /// Remediates failure number `failures` when the remediation says so.
    async fn after_failure(
        &self,
        status: &mut HelmReleaseStatus,
        draft: &mut StatusDraft,
        events: &mut Vec<ReleaseEvent>,
        remediation: Remediation,
        failures: i64,
    ) -> Result<(), ReconcileError> {
        if !remediation.remediates(failures) {
            return Ok(());
        }
        if remediation.uninstall {
            return self.remediate_uninstall(status, draft, events).await;
        }
        self.remediate_rollback(status, draft, events).await
    }

    async fn remediate_uninstall(
        &self,
        status: &mut HelmReleaseStatus,
        draft: &mut StatusDraft,
        events: &mut Vec<ReleaseEvent>,
    ) -> Result<(), ReconcileError> {
        let (common, keep_history) = settings::uninstall(self.hr)?;
        let result = helm::uninstall(
            self.storage,
            self.cluster,
            helm::Uninstall {
                name: self.name.to_owned(),
                keep_history,
                common,
            },
        )
        .await;
        match result {
            Ok(done) => {
                let mut release = done.release;
                if let Some(info) = release.info.as_mut() {
                    info.status = Status::Uninstalled;
                }
                self.record(status, &release, "uninstall-remediation");
                let message = format!(
                    "Helm uninstall remediation for release {} with chart {} succeeded",
                    revision_name(&release),
                    chart_label(&release)
                );
                draft.mark_true(
                    types::REMEDIATED,
                    reasons::UNINSTALL_SUCCEEDED,
                    message.clone(),
                );
                events.push(normal(reasons::UNINSTALL_SUCCEEDED, message));
                Ok(())
            }
            Err(helm::ReleaseError::NotFound) => Ok(()),
            Err(e) => {
                let message = format!(
                    "Helm uninstall remediation for release {}/{} failed: {e}",
                    self.namespace(),
                    self.name
                );
                draft.mark_false(
                    types::REMEDIATED,
                    reasons::UNINSTALL_FAILED,
                    message.clone(),
                );
                events.push(warning(reasons::UNINSTALL_FAILED, message.clone()));
                Err(ReconcileError::UninstallFailed { message })
            }
        }
    }

    async fn remediate_rollback(
        &self,
        status: &mut HelmReleaseStatus,
        draft: &mut StatusDraft,
        events: &mut Vec<ReleaseEvent>,
    ) -> Result<(), ReconcileError> {
        let stored =
            self.storage
                .history(self.name)
                .await
                .map_err(|e| ReconcileError::Storage {
                    message: e.to_string(),
                })?;
        // The newest revision that was released successfully, before the failed one.
        let Some(target) = stored
            .iter()
            .rev()
            .skip(1)
            .find(|r| matches!(r.status(), Status::Deployed | Status::Superseded))
            .map(|r| r.version)
        else {
            return Ok(());
        };
        let result = helm::rollback(
            self.storage,
            self.cluster,
            helm::Rollback {
                name: self.name.to_owned(),
                version: target,
                common: settings::rollback(self.hr)?,
            },
        )
        .await;
        self.refresh_history(status).await;
        match result {
            Ok(release) => {
                self.record(status, &release, "rollback");
                let message = format!(
                    "Helm rollback to previous release {}/{}.v{target} with chart {} succeeded",
                    release.namespace,
                    release.name,
                    chart_label(&release)
                );
                draft.mark_true(
                    types::REMEDIATED,
                    reasons::ROLLBACK_SUCCEEDED,
                    message.clone(),
                );
                events.push(normal(reasons::ROLLBACK_SUCCEEDED, message));
                Ok(())
            }
            Err(e) => {
                self.record_last(status, "rollback").await;
                let message = format!(
                    "Helm rollback to previous release {}/{}.v{target} failed: {e}",
                    self.namespace(),
                    self.name
                );
                draft.mark_false(types::REMEDIATED, reasons::ROLLBACK_FAILED, message.clone());
                events.push(warning(reasons::ROLLBACK_FAILED, message.clone()));
                Err(ReconcileError::RollbackFailed { message })
            }
        }
    }

    /// Runs the release's tests when `spec.test.enable`.
    async fn test(
        &self,
        status: &mut HelmReleaseStatus,
        draft: &mut StatusDraft,
        events: &mut Vec<ReleaseEvent>,
        release: Release,
        action: &str,
    ) -> Result<(), ReconcileError> {
        let Some((timeout, ignore_failures)) = settings::test(self.hr)? else {
            draft.delete(types::TEST_SUCCESS);
            return Ok(());
        };
        draft.progressing(format!(
            "Running 'test' action with timeout of {}",
            crate::error::go_duration(timeout)
        ));
        let result = helm::test_release(self.storage, self.cluster, self.name, timeout).await;
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

/// Uninstalls the release the history names when the object now names another release,
/// target namespace or storage namespace (Flux uninstalls the old one and installs the new).
pub async fn move_release(
    client: &kube::Client,
    hr: &HelmRelease,
    status: &mut HelmReleaseStatus,
    events: &mut Vec<ReleaseEvent>,
) -> Result<(), ReconcileError> {
    let Some(previous) = status.history.as_ref().and_then(|h| h.first()).cloned() else {
        return Ok(());
    };
    let old_storage = status
        .storage_namespace
        .clone()
        .unwrap_or_else(|| identity::storage_namespace(hr));
    let moved = previous.name != identity::release_name(hr)
        || previous.namespace != identity::target_namespace(hr)
        || old_storage != identity::storage_namespace(hr);
    if !moved {
        return Ok(());
    }
    let storage = Storage::new(KubeSecrets::new(client.clone(), &old_storage));
    let (common, _) = settings::uninstall(hr)?;
    match helm::uninstall(
        &storage,
        &KubeCluster::new(client.clone()),
        helm::Uninstall {
            name: previous.name.clone(),
            keep_history: false,
            common,
        },
    )
    .await
    {
        Ok(_) | Err(helm::ReleaseError::NotFound) => {}
        Err(e) => {
            return Err(ReconcileError::UninstallFailed {
                message: format!(
                    "failed to uninstall the previous release {}/{}: {e}",
                    previous.namespace, previous.name
                ),
            });
        }
    }
    events.push(normal(
        reasons::UNINSTALL_SUCCEEDED,
        format!(
            "Helm uninstall succeeded for the previous release {}/{}.v{}",
            previous.namespace, previous.name, previous.version
        ),
    ));
    status.history = None;
    Ok(())
}
