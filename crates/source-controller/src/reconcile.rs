//! One source reconcile in Flux's order, for every kind this controller serves: lifecycle gate
//! (deletion, finalizer, suspend), then the kind's steps editing a status draft, then one
//! summary into Ready/Reconciling/Stalled and the next action, ONE status patch, and the event
//! the steps asked for (`NewArtifact`, `ArtifactUpToDate`, …) or a Warning with the failure
//! reason. A kind plugs in through [`SourceKind`]; GitRepository's steps are below.

use std::future::Future;
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
use driftless_runtime::patch::{PatchError, patch_status, status_field_manager};
use driftless_runtime::schedule::Scheduler;
use driftless_runtime::summary::{Next, Outcome, Schedule, SummaryRules, summarize};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use kube::ResourceExt;
use kube::api::Api;
use kube::runtime::controller::Action;

use crate::artifact::{Build, Stored, reconcile_artifact};
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

/// The event a successful reconcile records.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Notice {
    /// Normal for a new artifact, Trace for "up to date".
    pub event_type: EventType,
    /// The Flux reason, e.g. `NewArtifact`.
    pub reason: &'static str,
    /// The event message.
    pub message: String,
    /// Event metadata (`revision`, `digest`).
    pub metadata: Vec<(&'static str, String)>,
}

impl Notice {
    /// Flux's Trace event for an artifact already at the upstream revision.
    pub fn up_to_date(revision: &str) -> Notice {
        Notice {
            event_type: EventType::Trace,
            reason: driftless_api::conditions::reasons::ARTIFACT_UP_TO_DATE,
            message: format!("artifact up-to-date with remote revision: '{revision}'"),
            metadata: Vec::new(),
        }
    }
}

/// A failed step of any kind: its Flux reason and class ([`Classify`]), the condition it marks,
/// and how a failed status write is wrapped.
pub trait StepError: Classify + Send + Sync + 'static {
    /// The condition type the failed step marks True (or False for `SourceVerified`), or `None`
    /// when only Ready reports it.
    fn condition(&self) -> Option<&'static str>;
    /// The error for a failed status or finalizer write.
    fn patch(source: PatchError) -> Self;
}

/// A source kind: its steps between the lifecycle gate and the summary.
pub trait SourceKind:
    FluxObject<Status: Send + Sync>
    + kube::Resource<Scope = k8s_openapi::NamespaceResourceScope>
    + Send
    + Sync
    + 'static
{
    /// Why a step failed.
    type Error: StepError;
    /// The metrics and workqueue name (lower-case kind).
    const METRICS: &'static str;
    /// The conditions Ready is summarised from.
    const RULES: SummaryRules;
    /// `spec.interval`.
    fn interval(&self) -> Result<Duration, Self::Error>;
    /// The revision of `status.artifact`, for the metadata of Warning events.
    fn artifact_revision(status: &Self::Status) -> Option<String>;
    /// The kind's steps in Flux's order; each edits `status` and `draft`.
    fn run_steps(
        &self,
        ctx: &Context,
        status: &mut Self::Status,
        draft: &mut StatusDraft,
    ) -> impl Future<Output = Result<Notice, Self::Error>> + Send;
    /// Deletion: remove stored artifacts and the finalizer.
    fn finalize(
        &self,
        ctx: &Context,
        api: &Api<Self>,
    ) -> impl Future<Output = Result<(), Self::Error>> + Send;
}

/// Reconciles one object; errors returned here are only failures to write the status or
/// finalizer, which [`error_policy`] retries with backoff.
pub async fn reconcile<K: SourceKind>(obj: Arc<K>, ctx: Arc<Context>) -> Result<Action, K::Error> {
    // A timer dropped without `finish` records the reconcile as an error.
    let timer = ctx
        .metrics
        .as_ref()
        .map(|m| m.start(K::METRICS, obj.as_ref()));
    let (action, next) = reconcile_object(obj, &ctx).await?;
    if let Some(timer) = timer {
        timer.finish(next);
    }
    Ok(action)
}

async fn reconcile_object<K: SourceKind>(
    obj: Arc<K>,
    ctx: &Context,
) -> Result<(Action, Next), K::Error> {
    let done = (Action::await_change(), Next::AwaitChange);
    let api: Api<K> = Api::namespaced(ctx.client.clone(), &obj.namespace().unwrap_or_default());
    let manager = status_field_manager(crate::CONTROLLER_NAME);
    let obj = match enter(&api, &obj, &manager).await.map_err(K::Error::patch)? {
        Entry::Finalize => {
            obj.finalize(ctx, &api).await?;
            return Ok(done);
        }
        Entry::Skip => return Ok(done),
        Entry::Reconcile(obj) => obj,
    };

    let mut draft = obj.begin_draft(Time(jiff::Timestamp::now()));
    let mut status = obj.status().cloned().unwrap_or_default();
    let result = match obj.interval() {
        Ok(_) => obj.run_steps(ctx, &mut status, &mut draft).await,
        Err(err) => Err(err),
    };
    let outcome = match &result {
        Ok(_) => Outcome::Success,
        Err(err) => {
            record_failure(&mut draft, err);
            Outcome::Failed(err)
        }
    };
    let schedule = Schedule {
        interval: obj.interval().unwrap_or(FALLBACK_INTERVAL),
        retry_interval: None,
        requeue_dependency: ctx.requeue_dependency,
    };
    let summary = summarize(draft, outcome, &K::RULES, &schedule);
    status.apply_summary(&summary);
    patch_status(&api, obj.as_ref(), &status, &manager)
        .await
        .map_err(K::Error::patch)?;

    match &result {
        Ok(notice) => {
            let metadata: Vec<(&str, &str)> = notice
                .metadata
                .iter()
                .map(|(k, v)| (*k, v.as_str()))
                .collect();
            ctx.recorder
                .event(
                    obj.as_ref(),
                    notice.event_type,
                    notice.reason,
                    &notice.message,
                    &metadata,
                )
                .await;
        }
        Err(err) => {
            tracing::error!(kind = K::METRICS, name = %obj.name_any(), namespace = ?obj.namespace(),
                reason = err.reason(), error = %chain(err), "reconciliation failed");
            let revision = K::artifact_revision(&status);
            let metadata: Vec<(&str, &str)> =
                revision.iter().map(|r| ("revision", r.as_str())).collect();
            ctx.recorder
                .event(
                    obj.as_ref(),
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
        .action(&object_key(obj.as_ref()), summary.next);
    Ok((action, summary.next))
}

/// Marks the condition that names a failed step: abnormal-true types True, SourceVerified False.
fn record_failure<E: StepError>(draft: &mut StatusDraft, err: &E) {
    let message = chain(err);
    match err.condition() {
        Some(types::SOURCE_VERIFIED) => {
            draft.mark_false(types::SOURCE_VERIFIED, err.reason(), message);
        }
        Some(condition) => draft.mark_true(condition, err.reason(), message),
        None => {}
    }
}

/// A spec duration (`spec.interval`, `spec.timeout`) as a duration.
pub fn parse_duration(field: &'static str, value: &str) -> Result<Duration, ReconcileError> {
    value
        .parse::<driftless_runtime::flags::GoDuration>()
        .map(|d| d.get())
        .map_err(|e| ReconcileError::InvalidDuration {
            field,
            value: value.to_owned(),
            problem: e.to_string(),
        })
}

/// A failed status or finalizer write: retry with the per-object backoff.
pub fn error_policy<K: SourceKind>(obj: Arc<K>, err: &K::Error, ctx: Arc<Context>) -> Action {
    tracing::warn!(kind = K::METRICS, name = %obj.name_any(), namespace = ?obj.namespace(),
        error = %chain(err), "reconcile failed; retrying with backoff");
    Action::requeue(ctx.scheduler.failure(&object_key(obj.as_ref())))
}

impl StepError for ReconcileError {
    fn condition(&self) -> Option<&'static str> {
        ReconcileError::condition(self)
    }

    fn patch(source: PatchError) -> Self {
        ReconcileError::Patch {
            source: Box::new(source),
        }
    }
}

impl SourceKind for GitRepository {
    type Error = ReconcileError;
    const METRICS: &'static str = METRICS_CONTROLLER;
    const RULES: SummaryRules = READY_RULES;

    fn interval(&self) -> Result<Duration, ReconcileError> {
        parse_duration("spec.interval", &self.spec.interval)
    }

    fn artifact_revision(status: &GitRepositoryStatus) -> Option<String> {
        status.artifact.as_ref().map(|a| a.revision.clone())
    }

    async fn run_steps(
        &self,
        ctx: &Context,
        status: &mut GitRepositoryStatus,
        draft: &mut StatusDraft,
    ) -> Result<Notice, ReconcileError> {
        reconcile_storage(
            &ctx.storage,
            ctx.retention,
            crate::storage::object_key(self)?,
            &mut status.artifact,
            draft,
        )
        .await?;
        let stored_revision = status.artifact.as_ref().map(|a| a.revision.clone());
        let includes = crate::include::fetch_includes(&ctx.client, self, draft).await?;
        // Decided before the steps touch the status: a changed content configuration or a
        // commit not yet verified in this mode rebuilds the artifact of an unchanged revision.
        let rebuild = crate::source::content_config_changed(self, status, &includes)
            || crate::verify::requires_verification(self, status, draft);
        let fetched = reconcile_source(
            &ctx.client,
            self,
            status,
            draft,
            stored_revision.as_deref(),
            rebuild,
        )
        .await?;
        let stored = reconcile_artifact(
            &ctx.storage,
            ctx.retention,
            self,
            status,
            draft,
            Build {
                fetched,
                includes,
                rebuild,
            },
        )
        .await?;
        Ok(match stored {
            Stored::New {
                message,
                revision,
                digest,
            } => Notice {
                event_type: EventType::Normal,
                reason: driftless_api::conditions::reasons::NEW_ARTIFACT,
                message,
                metadata: vec![("revision", revision), ("digest", digest)],
            },
            Stored::UpToDate { revision } => Notice::up_to_date(&revision),
        })
    }

    async fn finalize(&self, ctx: &Context, api: &Api<Self>) -> Result<(), ReconcileError> {
        crate::finalize::finalize(ctx, api, self, crate::storage::object_key(self)?).await
    }
}
