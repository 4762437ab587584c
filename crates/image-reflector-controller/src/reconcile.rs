//! What both reconcilers share: the context, the end of a reconcile (summary into
//! Ready/Reconciling/Stalled, one status patch, the events), and Flux's event rule for the image
//! kinds (its `notify`): a Normal event when an object turns Ready or its Ready message changes,
//! a Warning when it is not Ready, and otherwise a Trace with the no-op message.

use std::sync::Arc;
use std::time::Duration;

use driftless_api::conditions::{HasConditions, reasons, status, types};
use driftless_runtime::draft::StatusDraft;
use driftless_runtime::error::{Classify, chain};
use driftless_runtime::events::{EventType, Recorder};
use driftless_runtime::metrics::Metrics;
use driftless_runtime::object::{FluxObject, ReconcileStatus};
use driftless_runtime::patch::{patch_status, status_field_manager};
use driftless_runtime::schedule::Scheduler;
use driftless_runtime::summary::{Next, Outcome, Schedule, SummaryRules, summarize};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Condition;
use kube::ResourceExt;
use kube::api::Api;

use crate::error::ReconcileError;
use crate::store::TagStore;

/// Ready of both kinds comes from the outcome; Stalled and Reconciling are the only others.
pub const READY_RULES: SummaryRules = SummaryRules {
    summarize: &[types::RECONCILING, types::STALLED],
    negative_polarity: &[types::RECONCILING, types::STALLED],
};

/// What every reconcile shares.
pub struct Context {
    /// The controller's client.
    pub client: kube::Client,
    /// The tag store.
    pub store: Arc<TagStore>,
    /// Requeue timing and per-object failure backoff (keys carry the kind).
    pub scheduler: Scheduler,
    /// Kubernetes Events and the `--events-addr` webhook.
    pub recorder: Recorder,
    /// Prometheus series, when `--metrics-addr` is enabled.
    pub metrics: Option<Arc<Metrics>>,
    /// `--requeue-dependency`.
    pub requeue_dependency: Duration,
    /// `--no-cross-namespace-refs`.
    pub no_cross_namespace_refs: bool,
    /// `driftless_image_tag_store_bytes`, when `--metrics-addr` is enabled.
    pub store_bytes: Option<prometheus::IntGauge>,
}

/// The gauge of the tag store's size: what the caps bound, for alerting before they bite.
pub fn store_gauge(
    registry: &prometheus::Registry,
) -> Result<prometheus::IntGauge, prometheus::Error> {
    let gauge = prometheus::IntGauge::new(
        "driftless_image_tag_store_bytes",
        "Bytes of image tags held in the tag store under --storage-path.",
    )?;
    registry.register(Box::new(gauge.clone()))?;
    Ok(gauge)
}

impl Context {
    /// Publishes the store's size after it changed.
    pub fn record_store_size(&self) {
        if let Some(gauge) = &self.store_bytes {
            gauge.set(i64::try_from(self.store.total_bytes()).unwrap_or(i64::MAX));
        }
    }
}

/// The scheduler key of `obj`: kind and `namespace/name`, so an ImageRepository and an
/// ImagePolicy of the same name keep separate backoffs.
pub fn key<K: kube::Resource<DynamicType = ()>>(obj: &K) -> String {
    format!(
        "{}/{}",
        K::kind(&()),
        driftless_runtime::object::object_key(obj)
    )
}

/// A successful reconcile: its Ready message, when the next one is due, and the Trace message
/// for a reconcile that changed nothing.
pub struct Done {
    /// Ready's message.
    pub message: String,
    /// `None` to wait for a change (an ImagePolicy without `spec.interval`).
    pub next: Option<Duration>,
    /// Trace event text when Ready stays as it was.
    pub trace: String,
}

fn ready(conditions: &[Condition]) -> Option<&Condition> {
    conditions.iter().find(|c| c.type_ == types::READY)
}

/// Summarises, writes the status once, records the events and returns the next step.
pub async fn conclude<K>(
    ctx: &Context,
    api: &Api<K>,
    obj: &K,
    mut status: K::Status,
    mut draft: StatusDraft,
    result: Result<Done, ReconcileError>,
) -> Result<Next, ReconcileError>
where
    K: FluxObject,
{
    let (outcome, interval) = match &result {
        Ok(done) => {
            draft.succeeded_with(reasons::SUCCEEDED, done.message.clone());
            (Outcome::Success, done.next)
        }
        Err(err) => (Outcome::Failed(err), None),
    };
    let schedule = Schedule {
        interval: interval.unwrap_or(Duration::ZERO),
        retry_interval: None,
        requeue_dependency: ctx.requeue_dependency,
    };
    let mut summary = summarize(draft, outcome, &READY_RULES, &schedule);
    if result.is_ok() && interval.is_none() {
        summary.next = Next::AwaitChange;
    }
    status.apply_summary(&summary);
    let manager = status_field_manager(crate::CONTROLLER_NAME);
    patch_status(api, obj, &status, &manager)
        .await
        .map_err(ReconcileError::patch)?;
    let old = obj
        .status()
        .map(|s| s.conditions().to_vec())
        .unwrap_or_default();
    notify(&ctx.recorder, obj, &old, status.conditions(), &result).await;
    Ok(summary.next)
}

fn is_true(condition: Option<&Condition>) -> bool {
    condition.is_some_and(|c| c.status == status::TRUE)
}

/// Flux's `notify` for the image kinds.
async fn notify<K: FluxObject>(
    recorder: &Recorder,
    obj: &K,
    old: &[Condition],
    new: &[Condition],
    result: &Result<Done, ReconcileError>,
) {
    let (old_ready, new_ready) = (ready(old), ready(new));
    let (event_type, reason, message) = match new_ready {
        Some(now) if is_true(new_ready) => {
            let changed =
                !is_true(old_ready) || old_ready.map(|c| &c.message) != Some(&now.message);
            if changed {
                (EventType::Normal, now.reason.clone(), now.message.clone())
            } else {
                let trace = result.as_ref().map(|d| d.trace.clone()).unwrap_or_default();
                (EventType::Trace, reasons::SUCCEEDED.to_owned(), trace)
            }
        }
        Some(now) => (EventType::Warning, now.reason.clone(), now.message.clone()),
        None => return,
    };
    if let Err(err) = result {
        tracing::error!(kind = %K::kind(&()), name = %obj.name_any(), namespace = ?obj.namespace(),
            reason = err.reason(), error = %chain(err), "reconciliation failed");
    } else if event_type == EventType::Normal {
        tracing::info!(kind = %K::kind(&()), name = %obj.name_any(), namespace = ?obj.namespace(),
            "{message}");
    }
    recorder
        .event(obj, event_type, &reason, &message, &[])
        .await;
}
