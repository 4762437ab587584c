//! One HelmRelease reconcile in Flux's order: lifecycle gate (deletion, finalizer, suspend),
//! then the steps (dependencies, chart source and artifact, values, release) editing a status
//! draft, then one summary into Ready/Reconciling/Stalled and the next action, ONE status
//! patch, and the events (each Helm action's, or a Warning with the failure's reason).

use std::sync::Arc;
use std::time::Duration;

use driftless_api::conditions::types;
use driftless_api::helm::{ChartRefKind, HelmRelease, HelmReleaseStatus};
use driftless_artifact::Fetcher;
use driftless_runtime::draft::StatusDraft;
use driftless_runtime::error::{Classify, ErrorClass, chain};
use driftless_runtime::events::{EventType, Recorder};
use driftless_runtime::lifecycle::{Entry, enter};
use driftless_runtime::metrics::Metrics;
use driftless_runtime::object::{FluxObject, ReconcileStatus, object_key};
use driftless_runtime::patch::{patch_status_if_changed, status_field_manager};
use driftless_runtime::schedule::Scheduler;
use driftless_runtime::summary::{Next, Outcome, Schedule, SummaryRules, summarize};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use kube::ResourceExt;
use kube::api::Api;
use kube::runtime::controller::Action;

use crate::chart::{self, ChartSource};
use crate::error::ReconcileError;
use crate::release::{self, Desired, ReleaseEvent, settings};

/// The metrics and workqueue name of this controller (lower-case kind, as controller-runtime).
pub const METRICS_CONTROLLER: &str = "helmrelease";

/// Ready of a HelmRelease: the steps' outcome, with Remediated (True means a failure was
/// undone, so not Ready) before TestSuccess and Released.
pub const READY_RULES: SummaryRules = SummaryRules {
    summarize: &[
        types::STALLED,
        types::RECONCILING,
        types::REMEDIATED,
        types::TEST_SUCCESS,
        types::RELEASED,
    ],
    negative_polarity: &[types::RECONCILING, types::STALLED, types::REMEDIATED],
};

/// [`READY_RULES`] when test failures are ignored (`spec.test.ignoreFailures`): TestSuccess
/// is reported but does not decide Ready.
pub const READY_RULES_IGNORING_TESTS: SummaryRules = SummaryRules {
    summarize: &[
        types::STALLED,
        types::RECONCILING,
        types::REMEDIATED,
        types::RELEASED,
    ],
    negative_polarity: &[types::RECONCILING, types::STALLED, types::REMEDIATED],
};

/// Used only to schedule an object whose `spec.interval` does not parse; such an object stalls.
const FALLBACK_INTERVAL: Duration = Duration::from_secs(600);

/// What every reconcile shares.
pub struct Context {
    /// The controller's client.
    pub client: kube::Client,
    /// The clients Helm actions run with (`serviceAccountName`, `kubeConfig`).
    pub targets: driftless_runtime::target_client::TargetClients,
    /// Discovery cache of the controller's own cluster, shared by every release installed there.
    pub resolver: driftless_ssa::resolve::Resolver,
    /// Downloads and verifies chart artifacts.
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
}

/// Reconciles one HelmRelease; errors returned here are only failures to write the status or
/// finalizer, which [`error_policy`] retries with backoff.
pub async fn reconcile(hr: Arc<HelmRelease>, ctx: Arc<Context>) -> Result<Action, ReconcileError> {
    let timer = ctx
        .metrics
        .as_ref()
        .map(|m| m.start(METRICS_CONTROLLER, hr.as_ref()));
    let (action, next) = reconcile_object(hr, &ctx).await?;
    if let Some(timer) = timer {
        timer.finish(next);
    }
    Ok(action)
}

fn patch_err(source: driftless_runtime::patch::PatchError) -> ReconcileError {
    ReconcileError::Patch {
        source: Box::new(source),
    }
}

async fn reconcile_object(
    hr: Arc<HelmRelease>,
    ctx: &Context,
) -> Result<(Action, Next), ReconcileError> {
    let api: Api<HelmRelease> =
        Api::namespaced(ctx.client.clone(), &hr.namespace().unwrap_or_default());
    let manager = status_field_manager(crate::CONTROLLER_NAME);
    let hr = match enter(&api, &hr, &manager).await.map_err(patch_err)? {
        Entry::Finalize => {
            let next = crate::finalize::finalize(ctx, &api, &hr).await?;
            return Ok((ctx.scheduler.action(&object_key(hr.as_ref()), next), next));
        }
        Entry::Skip => return Ok((Action::await_change(), Next::AwaitChange)),
        Entry::Reconcile(hr) => hr,
    };

    let mut draft = hr.begin_draft(Time(jiff::Timestamp::now()));
    let mut status = hr.status.clone().unwrap_or_default();
    // The status as stored: what was read, then what this reconcile last wrote.
    let mut live = hr.status.clone();
    let result = run_steps(ctx, &api, &hr, &mut live, &mut status, &mut draft).await;
    let (events, outcome) = match &result {
        Ok(events) => (events.clone(), Outcome::Success),
        Err((events, err)) => (events.clone(), Outcome::Failed(err)),
    };
    let schedule = Schedule {
        interval: settings::duration(&hr.spec.interval, "spec.interval")
            .unwrap_or(FALLBACK_INTERVAL),
        retry_interval: result
            .as_ref()
            .err()
            .and_then(|(_, e)| release::retry_interval(&hr, &status, e)),
        requeue_dependency: ctx.requeue_dependency,
    };
    let rules = if settings::tests_count_for_ready(&hr) {
        &READY_RULES
    } else {
        &READY_RULES_IGNORING_TESTS
    };
    let summary = summarize(draft, outcome, rules, &schedule);
    status.apply_summary(&summary);
    crate::post_render::observe(&hr, &mut status);
    crate::metadata::observe(&hr, &mut status);
    patch_status_if_changed(&api, hr.as_ref(), &mut live, &status, &manager)
        .await
        .map_err(patch_err)?;
    let action = ctx.scheduler.action(&object_key(hr.as_ref()), summary.next);
    emit_events(
        ctx,
        &hr,
        &status,
        &events,
        result.as_ref().err().map(|(_, e)| e),
    )
    .await;
    Ok((action, summary.next))
}

type StepResult = Result<Vec<ReleaseEvent>, (Vec<ReleaseEvent>, ReconcileError)>;

/// Runs the steps; on failure, the events the release step queued come back with the error.
async fn run_steps(
    ctx: &Context,
    api: &Api<HelmRelease>,
    hr: &HelmRelease,
    live: &mut Option<HelmReleaseStatus>,
    status: &mut HelmReleaseStatus,
    draft: &mut StatusDraft,
) -> StepResult {
    let desired = match prepare(ctx, hr, status).await {
        Ok(d) => d,
        Err(e) => return Err((Vec::new(), e)),
    };
    let (chart, values, revision, oci_digest) = desired;
    // Flux's progressive status: Ready=Unknown while the Helm action runs.
    draft.progressing(format!(
        "Reconciling release with chart revision {revision}"
    ));
    let mut snapshot = status.clone();
    snapshot.conditions = Some(draft.in_progress_conditions());
    let manager = status_field_manager(crate::CONTROLLER_NAME);
    if let Err(e) = patch_status_if_changed(api, hr, live, &snapshot, &manager).await {
        return Err((Vec::new(), patch_err(e)));
    }
    let desired = Desired {
        chart: &chart,
        values,
        revision,
        oci_digest,
    };
    let client = match crate::target::client(&ctx.targets, hr).await {
        Ok(client) => client,
        Err(e) => return Err((Vec::new(), e)),
    };
    let resolver = crate::target::resolver(ctx, hr, &client);
    let mut events = Vec::new();
    let result = release::reconcile(&client, resolver, hr, status, draft, desired, &mut events);
    match result.await {
        Ok(()) => Ok(events),
        Err(e) => Err((events, e)),
    }
}

/// Everything before the release: spec checks, dependencies, the chart and the values.
async fn prepare(
    ctx: &Context,
    hr: &HelmRelease,
    status: &mut HelmReleaseStatus,
) -> Result<
    (
        driftless_helm::Chart,
        driftless_helm::Values,
        String,
        Option<String>,
    ),
    ReconcileError,
> {
    settings::duration(&hr.spec.interval, "spec.interval")?;
    settings::timeout(hr)?;
    unsupported(hr)?;
    crate::dependencies::check(&ctx.client, hr).await?;

    let source = ChartSource::of(hr).ok_or(ReconcileError::Unsupported {
        feature: "a HelmRelease without spec.chart or spec.chartRef",
    })?;
    let own = hr.namespace().unwrap_or_default();
    if ctx.no_cross_namespace_refs && source.namespace != own {
        return Err(ReconcileError::CrossNamespace {
            kind: source.kind.clone(),
            namespace: source.namespace.clone(),
            name: source.name.clone(),
        });
    }
    chart::collect_stale(&ctx.client, hr, Some(&source)).await?;
    let applied = if hr.spec.chart.is_some() {
        let applied = chart::apply_template(&ctx.client, hr, &source).await?;
        status.helm_chart = Some(format!("{}/{}", source.namespace, source.name));
        applied
    } else {
        status.helm_chart = None;
        None
    };
    // The applied (or read) HelmChart already holds its status: no second read.
    let artifact = match applied {
        Some(object) => chart::ready_artifact(&source, &object)?,
        None => chart::artifact(&ctx.client, &source).await?,
    };
    let loaded = chart::load(&ctx.fetcher, &artifact).await?;
    let values = crate::values::compose(&ctx.client, hr).await?;
    let mut revision = loaded.metadata.version.clone();
    if let Some(digest) = &artifact.oci_digest {
        let hex = digest.trim_start_matches("sha256:");
        revision = format!("{revision}+{}", &hex[..hex.len().min(12)]);
    }
    Ok((loaded, values, revision, artifact.oci_digest))
}

/// Spec fields this controller refuses rather than silently ignores.
fn unsupported(hr: &HelmRelease) -> Result<(), ReconcileError> {
    let spec = &hr.spec;
    let feature = if spec
        .chart_ref
        .as_ref()
        .is_some_and(|r| r.kind == ChartRefKind::ExternalArtifact)
    {
        Some("spec.chartRef of kind ExternalArtifact")
    } else {
        None
    };
    match feature {
        Some(feature) => Err(ReconcileError::Unsupported { feature }),
        None => Ok(()),
    }
}

/// The events of one reconcile: each Helm action's, then a failure's own when no action
/// reported it.
async fn emit_events(
    ctx: &Context,
    hr: &HelmRelease,
    status: &HelmReleaseStatus,
    events: &[ReleaseEvent],
    error: Option<&ReconcileError>,
) {
    let latest = status.history.as_ref().and_then(|h| h.first());
    let revision = status.last_attempted_revision.clone().unwrap_or_default();
    let app_version = latest
        .and_then(|s| s.app_version.clone())
        .unwrap_or_default();
    let oci = status
        .last_attempted_revision_digest
        .clone()
        .unwrap_or_default();
    let mut metadata = vec![("revision", revision.as_str())];
    if !app_version.is_empty() {
        metadata.push(("app-version", app_version.as_str()));
    }
    if !oci.is_empty() {
        metadata.push(("oci-digest", oci.as_str()));
    }
    for event in events {
        let kind = if event.warning {
            EventType::Warning
        } else {
            EventType::Normal
        };
        ctx.recorder
            .event(hr, kind, event.reason, &event.message, &metadata)
            .await;
    }
    let Some(err) = error else { return };
    let message = chain(err);
    tracing::error!(name = %hr.name_any(), namespace = ?hr.namespace(),
        reason = err.reason(), error = %message, "reconciliation failed");
    if events.iter().any(|e| e.warning) {
        return;
    }
    let kind = match err.class() {
        ErrorClass::Waiting { .. } => EventType::Trace,
        _ => EventType::Warning,
    };
    ctx.recorder
        .event(hr, kind, err.reason(), &message, &metadata)
        .await;
}

/// A failed status or finalizer write: retry with the per-object backoff.
pub fn error_policy(hr: Arc<HelmRelease>, err: &ReconcileError, ctx: Arc<Context>) -> Action {
    tracing::warn!(name = %hr.name_any(), namespace = ?hr.namespace(),
        error = %chain(err), "reconcile failed; retrying with backoff");
    Action::requeue(ctx.scheduler.failure(&object_key(hr.as_ref())))
}
