//! What the runtime needs from a Flux kind: its status fields and `spec.suspend`, implemented here
//! for every reconciled kind of `driftless-api` so controllers get them for free.

use driftless_api::conditions::HasConditions;
use driftless_api::{helm, image, kustomize, notification, source};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use kube::{Resource, ResourceExt};
use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::draft::{DraftInput, StatusDraft};
use crate::summary::Summary;

/// A status with Flux's common fields: conditions, `observedGeneration`, `lastHandledReconcileAt`.
pub trait ReconcileStatus: HasConditions + Clone + Default + Serialize {
    /// `status.observedGeneration`.
    fn observed_generation(&self) -> Option<i64>;
    /// Sets `status.observedGeneration`.
    fn set_observed_generation(&mut self, generation: Option<i64>);
    /// `status.lastHandledReconcileAt`.
    fn last_handled_reconcile_at(&self) -> Option<&str>;
    /// Sets `status.lastHandledReconcileAt`.
    fn set_last_handled_reconcile_at(&mut self, value: Option<String>);

    /// Writes the summary's conditions, observedGeneration and lastHandledReconcileAt.
    fn apply_summary(&mut self, summary: &Summary) {
        *self.conditions_mut() = summary.conditions.clone();
        self.set_observed_generation(summary.observed_generation);
        self.set_last_handled_reconcile_at(summary.last_handled_reconcile_at.clone());
    }
}

/// A reconciled Flux kind.
pub trait FluxObject:
    Resource<DynamicType = ()> + Clone + std::fmt::Debug + Serialize + DeserializeOwned
{
    /// The kind's status type.
    type Status: ReconcileStatus;
    /// `.status`, if set.
    fn status(&self) -> Option<&Self::Status>;
    /// `.spec.suspend`.
    fn suspended(&self) -> bool;

    /// Starts a status draft from this object as stored.
    fn begin_draft(&self, now: Time) -> StatusDraft {
        let status = self.status();
        StatusDraft::begin(
            DraftInput {
                generation: self.meta().generation,
                requested_at: self
                    .annotations()
                    .get(driftless_api::annotations::RECONCILE_REQUESTED_AT)
                    .cloned(),
                conditions: status.map(|s| s.conditions().to_vec()).unwrap_or_default(),
                observed_generation: status.and_then(ReconcileStatus::observed_generation),
                last_handled_reconcile_at: status
                    .and_then(|s| s.last_handled_reconcile_at().map(str::to_owned)),
            },
            now,
        )
    }
}

macro_rules! impl_flux_object {
    ($($kind:ty => $status:ty),+ $(,)?) => {$(
        impl ReconcileStatus for $status {
            fn observed_generation(&self) -> Option<i64> {
                self.observed_generation
            }
            fn set_observed_generation(&mut self, generation: Option<i64>) {
                self.observed_generation = generation;
            }
            fn last_handled_reconcile_at(&self) -> Option<&str> {
                self.last_handled_reconcile_at.as_deref()
            }
            fn set_last_handled_reconcile_at(&mut self, value: Option<String>) {
                self.last_handled_reconcile_at = value;
            }
        }

        impl FluxObject for $kind {
            type Status = $status;
            fn status(&self) -> Option<&$status> {
                self.status.as_ref()
            }
            fn suspended(&self) -> bool {
                self.spec.suspend.unwrap_or(false)
            }
        }
    )+};
}

impl_flux_object!(
    source::GitRepository => source::GitRepositoryStatus,
    source::OCIRepository => source::OCIRepositoryStatus,
    source::HelmRepository => source::HelmRepositoryStatus,
    source::HelmChart => source::HelmChartStatus,
    source::Bucket => source::BucketStatus,
    kustomize::Kustomization => kustomize::KustomizationStatus,
    helm::HelmRelease => helm::HelmReleaseStatus,
    notification::Receiver => notification::ReceiverStatus,
    image::ImageRepository => image::ImageRepositoryStatus,
    image::ImagePolicy => image::ImagePolicyStatus,
    image::ImageUpdateAutomation => image::ImageUpdateAutomationStatus,
);

/// `namespace/name`, the key the scheduler and metrics use for an object.
pub fn object_key<K: Resource>(obj: &K) -> String {
    format!(
        "{}/{}",
        obj.meta().namespace.as_deref().unwrap_or_default(),
        obj.meta().name.as_deref().unwrap_or_default()
    )
}
