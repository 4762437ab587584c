//! One Kustomization reconcile in Flux's order: lifecycle gate (deletion, finalizer, suspend),
//! then the steps (source artifact, dependencies, build, apply, prune, health) editing a status
//! draft, then one summary into Ready/Reconciling/Stalled and the next action, ONE status patch,
//! and the events (the change set, `ReconciliationSucceeded`, or a Warning with the reason).

use std::sync::Arc;
use std::time::{Duration, Instant};

use driftless_api::conditions::{reasons, types};
use driftless_api::kustomize::{Kustomization, KustomizationStatus};
use driftless_artifact::Fetcher;
use driftless_runtime::draft::StatusDraft;
use driftless_runtime::error::{Classify, chain};
use driftless_runtime::events::{EventType, Recorder};
use driftless_runtime::lifecycle::{Entry, enter};
use driftless_runtime::metrics::Metrics;
use driftless_runtime::object::{FluxObject, ReconcileStatus, object_key};
use driftless_runtime::patch::{patch_status, status_field_manager};
use driftless_runtime::schedule::Scheduler;
use driftless_runtime::summary::{Next, Outcome, Schedule, SummaryRules, summarize};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use kube::ResourceExt;
use kube::api::Api;
use kube::runtime::controller::Action;

use crate::error::{ReconcileError, go_duration};
use crate::impersonation::Clients;
use crate::steps::{Done, run_steps};

/// The metrics and workqueue name of this controller (lower-case kind, as controller-runtime).
pub const METRICS_CONTROLLER: &str = "kustomization";

/// Ready of a Kustomization: from the steps' outcome; Healthy is reported beside it.
pub const READY_RULES: SummaryRules = SummaryRules {
    summarize: &[types::RECONCILING, types::STALLED],
    negative_polarity: &[types::RECONCILING, types::STALLED],
};

/// Used only to schedule an object whose `spec.interval` does not parse; such an object stalls.
const FALLBACK_INTERVAL: Duration = Duration::from_secs(600);

/// What every reconcile shares.
pub struct Context {
    /// The clients Kustomizations apply with (own, impersonating, remote).
    pub clients: Clients,
    /// Downloads and verifies artifacts.
    pub fetcher: Fetcher,
    /// Requeue timing and per-object failure backoff.
    pub scheduler: Scheduler,
    /// Kubernetes Events and the `--events-addr` webhook.
    pub recorder: Recorder,
    /// Prometheus series, when `--metrics-addr` is enabled.
    pub metrics: Option<Arc<Metrics>>,
    /// `--requeue-dependency`.
    pub requeue_dependency: Duration,
    /// `--no-cross-namespace-refs`.
    pub no_cross_namespace_refs: bool,
    /// The `StrictPostBuildSubstitutions` feature gate.
    pub strict_substitutions: bool,
    /// The `AdditiveCELDependencyCheck` feature gate.
    pub additive_cel_dependency_check: bool,
}

/// Reconciles one Kustomization; errors returned here are only failures to write the status or
/// finalizer, which [`error_policy`] retries with backoff.
pub async fn reconcile(
    ks: Arc<Kustomization>,
    ctx: Arc<Context>,
) -> Result<Action, ReconcileError> {
    let timer = ctx
        .metrics
        .as_ref()
        .map(|m| m.start(METRICS_CONTROLLER, ks.as_ref()));
    let (action, next) = reconcile_object(ks, &ctx).await?;
    if let Some(timer) = timer {
        timer.finish(next);
    }
    Ok(action)
}

async fn reconcile_object(
    ks: Arc<Kustomization>,
    ctx: &Context,
) -> Result<(Action, Next), ReconcileError> {
    let done = (Action::await_change(), Next::AwaitChange);
    let api: Api<Kustomization> = Api::namespaced(
        ctx.clients.own().clone(),
        &ks.namespace().unwrap_or_default(),
    );
    let manager = status_field_manager(crate::CONTROLLER_NAME);
    let ks = match enter(&api, &ks, &manager)
        .await
        .map_err(|source| ReconcileError::Patch {
            source: Box::new(source),
        })? {
        Entry::Finalize => {
            let next = crate::finalize::finalize(ctx, &api, &ks).await?;
            let action = ctx.scheduler.action(&object_key(ks.as_ref()), next);
            return Ok((action, next));
        }
        Entry::Skip => return Ok(done),
        Entry::Reconcile(ks) => ks,
    };

    let started = Instant::now();
    let mut draft = ks.begin_draft(Time(jiff::Timestamp::now()));
    let mut status = ks.status.clone().unwrap_or_default();
    let result = run_steps(ctx, &ks, &mut status, &mut draft).await;
    let outcome = match &result {
        Ok(_) => Outcome::Success,
        Err(err) => {
            record_failure(&mut draft, err);
            Outcome::Failed(err)
        }
    };
    let schedule = Schedule {
        interval: duration(&ks.spec.interval, "spec.interval").unwrap_or(FALLBACK_INTERVAL),
        retry_interval: retry_interval(&ks),
        requeue_dependency: ctx.requeue_dependency,
    };
    let summary = summarize(draft, outcome, &READY_RULES, &schedule);
    status.apply_summary(&summary);
    patch_status(&api, ks.as_ref(), &status, &manager)
        .await
        .map_err(|source| ReconcileError::Patch {
            source: Box::new(source),
        })?;
    let action = ctx.scheduler.action(&object_key(ks.as_ref()), summary.next);
    emit_events(ctx, &ks, &status, &result, started, summary.next).await;
    Ok((action, summary.next))
}

/// The events of one reconcile, as kustomize-controller emits them.
async fn emit_events(
    ctx: &Context,
    ks: &Kustomization,
    status: &KustomizationStatus,
    result: &Result<Done, ReconcileError>,
    started: Instant,
    next: Next,
) {
    let revision = status.last_attempted_revision.clone().unwrap_or_default();
    let mut metadata = vec![("revision", revision.as_str())];
    if let Some(origin) = status.last_applied_origin_revision.as_deref() {
        metadata.push(("originRevision", origin));
    }
    match result {
        Ok(done) => {
            if let Some(changes) = &done.changes {
                ctx.recorder
                    .event(
                        ks,
                        EventType::Normal,
                        reasons::PROGRESSING,
                        changes,
                        &metadata,
                    )
                    .await;
            }
            let next_run = match next {
                Next::Interval(d) | Next::After(d) => go_duration(d),
                Next::Retry | Next::AwaitChange => "on change".to_owned(),
            };
            let message = format!(
                "Reconciliation finished in {}, next run in {next_run}",
                go_duration(Duration::from_millis(started.elapsed().as_millis() as u64))
            );
            metadata.push(("commit_status", "update"));
            ctx.recorder
                .event(
                    ks,
                    EventType::Normal,
                    reasons::RECONCILIATION_SUCCEEDED,
                    &message,
                    &metadata,
                )
                .await;
        }
        Err(err) => {
            let message = chain(err);
            tracing::error!(name = %ks.name_any(), namespace = ?ks.namespace(),
                reason = err.reason(), error = %message, "reconciliation failed");
            let event_type = match err.class() {
                driftless_runtime::error::ErrorClass::Waiting { .. } => EventType::Trace,
                _ => EventType::Warning,
            };
            ctx.recorder
                .event(ks, event_type, err.reason(), &message, &metadata)
                .await;
        }
    }
}

/// A failed health check leaves Healthy=False beside Ready=False.
fn record_failure(draft: &mut StatusDraft, err: &ReconcileError) {
    if let ReconcileError::HealthCheck { .. } = err {
        draft.mark_false(types::HEALTHY, err.reason(), chain(err));
    }
}

/// A spec duration.
pub fn duration(value: &str, field: &'static str) -> Result<Duration, ReconcileError> {
    value
        .parse::<driftless_runtime::flags::GoDuration>()
        .map(|d| d.get())
        .map_err(|e| ReconcileError::InvalidDuration {
            field,
            value: value.to_owned(),
            problem: e.to_string(),
        })
}

/// `spec.retryInterval`, Flux's retry period after a failure; `spec.interval` when unset.
fn retry_interval(ks: &Kustomization) -> Option<Duration> {
    let value = ks
        .spec
        .retry_interval
        .as_deref()
        .unwrap_or(&ks.spec.interval);
    duration(value, "spec.retryInterval").ok()
}

/// A failed status or finalizer write: retry with the per-object backoff.
pub fn error_policy(ks: Arc<Kustomization>, err: &ReconcileError, ctx: Arc<Context>) -> Action {
    tracing::warn!(name = %ks.name_any(), namespace = ?ks.namespace(),
        error = %chain(err), "reconcile failed; retrying with backoff");
    Action::requeue(ctx.scheduler.failure(&object_key(ks.as_ref())))
}
