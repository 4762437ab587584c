//! Remediation of a failed install or upgrade, as Flux's: uninstall (always after an install,
//! or with `upgrade.remediation.strategy: uninstall`) or roll back to the newest revision that
//! was released successfully; and the uninstall of a release the object no longer names (its
//! release name, target namespace or storage namespace changed).

use driftless_api::conditions::{reasons, types};
use driftless_api::helm::{HelmRelease, HelmReleaseStatus};
use driftless_helm::release::{self as helm, KubeCluster, KubeSecrets, Status, Storage};
use driftless_runtime::draft::StatusDraft;

use super::actions::{Run, normal, warning};
use super::settings::{self, Remediation};
use super::{ReleaseEvent, chart_label, revision_name};
use crate::error::ReconcileError;
use crate::identity;

impl Run<'_> {
    /// Remediates failure number `failures` when the remediation says so.
    pub(super) async fn after_failure(
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
        let cluster = self.waiting(super::wait::WaitingAction::Rollback);
        let result = helm::rollback(
            self.storage,
            &cluster,
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
