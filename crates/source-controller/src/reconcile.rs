//! One GitRepository reconcile in Flux's order: lifecycle gate (deletion, finalizer, suspend),
//! then the steps `reconcile_storage`, `reconcile_source`, `reconcile_artifact` editing a status
//! draft, then one summary into Ready/Reconciling/Stalled and the next action, ONE status patch,
//! and the events (`NewArtifact`, `ArtifactUpToDate`, or a Warning with the failure reason).

use std::sync::Arc;
use std::time::Duration;

use driftless_api::conditions::types;
use driftless_api::source::{GitRepository, GitRepositoryStatus};
use driftless_artifact::{Retention, Storage};
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

use crate::artifact::{Stored, reconcile_artifact};
use crate::error::ReconcileError;
use crate::source::reconcile_source;
use crate::storage::reconcile_storage;

/// The metrics and workqueue name of this controller (lower-case kind, as controller-runtime).
pub const METRICS_CONTROLLER: &str = "gitrepository";

/// Ready of a GitRepository is summarised from these, as Flux's `gitRepositoryReadyCondition`.
pub const READY_RULES: SummaryRules = SummaryRules {
    summarize: &[
        types::STORAGE_OPERATION_FAILED,
        types::FETCH_FAILED,
        types::INCLUDE_UNAVAILABLE,
        types::ARTIFACT_OUTDATED,
        types::ARTIFACT_IN_STORAGE,
        types::SOURCE_VERIFIED,
        types::RECONCILING,
        types::STALLED,
    ],
    negative_polarity: &[
        types::STORAGE_OPERATION_FAILED,
        types::FETCH_FAILED,
        types::INCLUDE_UNAVAILABLE,
        types::ARTIFACT_OUTDATED,
        types::RECONCILING,
        types::STALLED,
    ],
};

/// Used only to schedule an object whose `spec.interval` does not parse; such an object stalls
/// and waits for a spec change anyway.
const FALLBACK_INTERVAL: Duration = Duration::from_secs(600);

/// What every reconcile shares.
pub struct Context {
    /// The API client.
    pub client: kube::Client,
    /// Artifact storage under `--storage-path`, advertised as `--storage-adv-addr`.
    pub storage: Storage,
    /// `--artifact-retention-records` / `--artifact-retention-ttl`.
    pub retention: Retention,
    /// Requeue timing and per-object failure backoff.
    pub scheduler: Scheduler,
    /// Kubernetes Events and the `--events-addr` webhook.
    pub recorder: Recorder,
    /// Prometheus series, when `--metrics-addr` is enabled.
    pub metrics: Option<Arc<Metrics>>,
    /// `--requeue-dependency`.
    pub requeue_dependency: Duration,
}

/// Reconciles one GitRepository; errors returned here are only failures to write the status or
/// finalizer, which [`error_policy`] retries with backoff.
pub async fn reconcile(
    repo: Arc<GitRepository>,
    ctx: Arc<Context>,
) -> Result<Action, ReconcileError> {
    // A timer dropped without `finish` records the reconcile as an error.
    let timer = ctx
        .metrics
        .as_ref()
        .map(|m| m.start(METRICS_CONTROLLER, repo.as_ref()));
    let (action, next) = reconcile_object(repo, &ctx).await?;
    if let Some(timer) = timer {
        timer.finish(next);
    }
    Ok(action)
}

async fn reconcile_object(
    repo: Arc<GitRepository>,
    ctx: &Context,
) -> Result<(Action, Next), ReconcileError> {
    let done = (Action::await_change(), Next::AwaitChange);
    let api: Api<GitRepository> =
        Api::namespaced(ctx.client.clone(), &repo.namespace().unwrap_or_default());
    let manager = status_field_manager(crate::CONTROLLER_NAME);
    let repo = match enter(&api, &repo, &manager)
        .await
        .map_err(|source| ReconcileError::Patch {
            source: Box::new(source),
        })? {
        Entry::Finalize => {
            crate::finalize::finalize(ctx, &api, &repo).await?;
            return Ok(done);
        }
        Entry::Skip => return Ok(done),
        Entry::Reconcile(repo) => repo,
    };

    let mut draft = repo.begin_draft(Time(jiff::Timestamp::now()));
    let mut status = repo.status.clone().unwrap_or_default();
    let result = run_steps(ctx, &repo, &mut status, &mut draft).await;
    let interval = interval(&repo);
    let outcome = match &result {
        Ok(_) => Outcome::Success,
        Err(err) => {
            record_failure(&mut draft, err);
            Outcome::Failed(err)
        }
    };
    let schedule = Schedule {
        interval: interval.unwrap_or(FALLBACK_INTERVAL),
        retry_interval: None,
        requeue_dependency: ctx.requeue_dependency,
    };
    let summary = summarize(draft, outcome, &READY_RULES, &schedule);
    status.apply_summary(&summary);
    patch_status(&api, repo.as_ref(), &status, &manager)
        .await
        .map_err(|source| ReconcileError::Patch {
            source: Box::new(source),
        })?;

    match &result {
        Ok(Stored::New {
            message,
            revision,
            digest,
        }) => {
            ctx.recorder
                .event(
                    repo.as_ref(),
                    EventType::Normal,
                    driftless_api::conditions::reasons::NEW_ARTIFACT,
                    message,
                    &[("revision", revision.as_str()), ("digest", digest.as_str())],
                )
                .await;
        }
        Ok(Stored::UpToDate { revision }) => {
            ctx.recorder
                .event(
                    repo.as_ref(),
                    EventType::Trace,
                    driftless_api::conditions::reasons::ARTIFACT_UP_TO_DATE,
                    &format!("artifact up-to-date with remote revision: '{revision}'"),
                    &[],
                )
                .await;
        }
        Err(err) => {
            tracing::error!(name = %repo.name_any(), namespace = ?repo.namespace(),
                reason = err.reason(), error = %chain(err), "reconciliation failed");
            let revision = status.artifact.as_ref().map(|a| a.revision.clone());
            let metadata: Vec<(&str, &str)> =
                revision.iter().map(|r| ("revision", r.as_str())).collect();
            ctx.recorder
                .event(
                    repo.as_ref(),
                    EventType::Warning,
                    err.reason(),
                    &chain(err),
                    &metadata,
                )
                .await;
        }
    }
    let action = ctx
        .scheduler
        .action(&object_key(repo.as_ref()), summary.next);
    Ok((action, summary.next))
}

/// The steps in Flux's order; each edits `status` and `draft`.
async fn run_steps(
    ctx: &Context,
    repo: &GitRepository,
    status: &mut GitRepositoryStatus,
    draft: &mut StatusDraft,
) -> Result<Stored, ReconcileError> {
    interval(repo)?;
    reconcile_storage(&ctx.storage, ctx.retention, repo, status, draft).await?;
    let stored_revision = status.artifact.as_ref().map(|a| a.revision.clone());
    let fetched =
        reconcile_source(&ctx.client, repo, status, draft, stored_revision.as_deref()).await?;
    reconcile_artifact(&ctx.storage, ctx.retention, repo, status, draft, fetched).await
}

/// Marks the condition that names a failed step: abnormal-true types True, SourceVerified False.
fn record_failure(draft: &mut StatusDraft, err: &ReconcileError) {
    let message = chain(err);
    match err.condition() {
        Some(types::SOURCE_VERIFIED) => {
            draft.mark_false(types::SOURCE_VERIFIED, err.reason(), message);
        }
        Some(condition) => draft.mark_true(condition, err.reason(), message),
        None => {}
    }
}

/// `spec.interval` as a duration.
fn interval(repo: &GitRepository) -> Result<Duration, ReconcileError> {
    repo.spec
        .interval
        .parse::<driftless_runtime::flags::GoDuration>()
        .map(|d| d.get())
        .map_err(|e| ReconcileError::InvalidDuration {
            field: "spec.interval",
            value: repo.spec.interval.clone(),
            problem: e.to_string(),
        })
}

/// A failed status or finalizer write: retry with the per-object backoff.
pub fn error_policy(repo: Arc<GitRepository>, err: &ReconcileError, ctx: Arc<Context>) -> Action {
    tracing::warn!(name = %repo.name_any(), namespace = ?repo.namespace(),
        error = %chain(err), "reconcile failed; retrying with backoff");
    Action::requeue(ctx.scheduler.failure(&object_key(repo.as_ref())))
}
