//! One ImageUpdateAutomation reconcile: lifecycle gate, then the GitRepository, credentials
//! and ImagePolicies from the cluster, the Git work on a blocking thread ([`crate::git`]),
//! one status patch (`lastAutomationRunTime`, `observedPolicies`, `observedSourceRevision`,
//! `lastPushCommit`, `lastPushTime`, conditions) and the events.

use std::sync::Arc;
use std::time::Duration;

use driftless_api::conditions::{reasons, types};
use driftless_api::image::ImageUpdateAutomation;
use driftless_git::PushTarget;
use driftless_runtime::error::{Classify, chain};
use driftless_runtime::events::{EventType, Recorder};
use driftless_runtime::lifecycle::{Entry, enter};
use driftless_runtime::metrics::Metrics;
use driftless_runtime::object::{FluxObject, ReconcileStatus, object_key};
use driftless_runtime::patch::{patch_status, remove_finalizer, status_field_manager};
use driftless_runtime::schedule::Scheduler;
use driftless_runtime::summary::{Outcome, Schedule, SummaryRules, summarize};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use kube::ResourceExt;
use kube::api::Api;
use kube::runtime::controller::Action;

use crate::error::ReconcileError;
use crate::git::{MessageInput, Outcome as GitOutcome, Plan};
use crate::update::clean_update_path;

/// The metrics and workqueue name of this controller.
pub const METRICS_CONTROLLER: &str = "imageupdateautomation";

const READY_RULES: SummaryRules = SummaryRules {
    summarize: &[types::RECONCILING, types::STALLED],
    negative_polarity: &[types::RECONCILING, types::STALLED],
};

/// Used only when `spec.interval` does not parse.
const FALLBACK_INTERVAL: Duration = Duration::from_secs(600);

/// What every reconcile shares.
pub struct Context {
    pub client: kube::Client,
    pub scheduler: Scheduler,
    pub recorder: Recorder,
    pub metrics: Option<Arc<Metrics>>,
    pub no_cross_namespace_refs: bool,
    pub shallow_clone: bool,
    pub force_push_branch: bool,
}

/// Reconciles one ImageUpdateAutomation; only status and finalizer writes fail it.
pub async fn reconcile(
    obj: Arc<ImageUpdateAutomation>,
    ctx: Arc<Context>,
) -> Result<Action, ReconcileError> {
    let timer = ctx
        .metrics
        .as_ref()
        .map(|m| m.start(METRICS_CONTROLLER, obj.as_ref()));
    let patch_err = |source| ReconcileError::Patch {
        source: Box::new(source),
    };
    let api: Api<ImageUpdateAutomation> =
        Api::namespaced(ctx.client.clone(), &obj.namespace().unwrap_or_default());
    // Start from the object as the API server has it: when a run follows right after the
    // previous one, the cache may not hold that run's status write yet, and the status is
    // rebuilt whole from this copy (a stale one would drop lastPushCommit and lastPushTime).
    let obj = match api.get_opt(&obj.name_any()).await {
        Ok(Some(fresh)) => Arc::new(fresh),
        Ok(None) => return Ok(Action::await_change()),
        Err(source) => {
            return Err(ReconcileError::Kube {
                what: "ImageUpdateAutomation",
                namespace: obj.namespace().unwrap_or_default(),
                name: obj.name_any(),
                source: Box::new(source),
            });
        }
    };
    let manager = status_field_manager(crate::CONTROLLER_NAME);
    let obj = match enter(&api, &obj, &manager).await.map_err(patch_err)? {
        // Nothing outside the object to clean up.
        Entry::Finalize => {
            remove_finalizer(&api, obj.as_ref(), &manager)
                .await
                .map_err(patch_err)?;
            return Ok(Action::await_change());
        }
        Entry::Skip => return Ok(Action::await_change()),
        Entry::Reconcile(obj) => obj,
    };
    let now = Time(jiff::Timestamp::now());
    let draft = obj.begin_draft(now.clone());
    let mut status = obj.status.clone().unwrap_or_default();
    status.last_automation_run_time = Some(now.clone());
    let result = run(&ctx, &obj, &mut status, now).await;
    let mut draft = draft;
    let outcome = match &result {
        Ok(_) => {
            draft.succeeded_with(reasons::SUCCEEDED, "repository up-to-date");
            Outcome::Success
        }
        Err(err) => Outcome::Failed(err),
    };
    let interval = obj
        .spec
        .interval
        .parse::<driftless_runtime::flags::GoDuration>()
        .map(|d| d.get())
        .unwrap_or(FALLBACK_INTERVAL);
    let schedule = Schedule {
        interval,
        retry_interval: None,
        requeue_dependency: interval,
    };
    let summary = summarize(draft, outcome, &READY_RULES, &schedule);
    status.apply_summary(&summary);
    patch_status(&api, obj.as_ref(), &status, &manager)
        .await
        .map_err(patch_err)?;
    emit_events(&ctx.recorder, &obj, &result).await;
    if let Some(timer) = timer {
        timer.finish(summary.next);
    }
    Ok(ctx
        .scheduler
        .action(&object_key(obj.as_ref()), summary.next))
}

/// What a successful run did, for the events.
#[derive(Debug)]
pub struct Done {
    /// `(short commit, destinations)` when a commit was pushed.
    pub pushed: Option<(String, String)>,
}

async fn run(
    ctx: &Context,
    obj: &ImageUpdateAutomation,
    status: &mut driftless_api::image::ImageUpdateAutomationStatus,
    now: Time,
) -> Result<Done, ReconcileError> {
    let repo = crate::source::git_repository(&ctx.client, obj, ctx.no_cross_namespace_refs).await?;
    let auth = crate::source::auth(&ctx.client, &repo).await?;
    let images = crate::source::latest_images(&ctx.client, obj).await?;
    let signing_key = crate::source::signing_key(&ctx.client, obj).await?;
    let namespace = obj.namespace().unwrap_or_default();
    let mut plan = plan(ctx, obj, &repo, auth, &images, &namespace)?;
    plan.signing_key = signing_key;
    let policies_unchanged = status.observed_policies.as_ref() == Some(&images);
    let generation_unchanged = status.observed_generation == obj.metadata.generation;
    if policies_unchanged && generation_unchanged {
        plan.unchanged_since = status.observed_source_revision.clone();
    }
    let outcome = tokio::task::spawn_blocking(move || crate::git::run(&plan))
        .await
        .map_err(|_| ReconcileError::Worker)??;
    status.observed_policies = Some(images);
    match outcome {
        GitOutcome::UpToDate { revision } => {
            status.observed_source_revision = Some(revision);
            Ok(Done { pushed: None })
        }
        GitOutcome::Pushed {
            commit, revision, ..
        } => {
            status.observed_source_revision = Some(revision);
            status.last_push_commit = Some(commit.clone());
            status.last_push_time = Some(now);
            let destinations = push_targets(ctx.force_push_branch, obj, &repo)?
                .iter()
                .map(|t| t.destination.trim_start_matches("refs/heads/").to_string())
                .collect::<Vec<_>>()
                .join("', '");
            Ok(Done {
                pushed: Some((commit.chars().take(7).collect(), destinations)),
            })
        }
    }
}

/// The checkout branch: `spec.git.checkout.ref.branch`, else the GitRepository's.
pub fn checkout_branch(
    obj: &ImageUpdateAutomation,
    repo: &driftless_api::source::GitRepository,
) -> Result<String, ReconcileError> {
    let reference = obj
        .spec
        .git
        .as_ref()
        .and_then(|g| g.checkout.as_ref())
        .map(|c| &c.reference)
        .or(repo.spec.reference.as_ref());
    match reference.map(|r| r.branch.clone()) {
        // A GitRepository without `spec.ref` follows `master`, as source-controller does.
        None => Ok("master".to_string()),
        Some(Some(branch)) if !branch.is_empty() => Ok(branch),
        _ => Err(ReconcileError::InvalidSource {
            reason: "the checkout reference must name a branch (tags, semver and commits \
                     are not supported for automation yet)"
                .into(),
        }),
    }
}

/// `spec.git.push`: the branch (the checkout branch when unset) and the refspec.
pub fn push_targets(
    force_push_branch: bool,
    obj: &ImageUpdateAutomation,
    repo: &driftless_api::source::GitRepository,
) -> Result<Vec<PushTarget>, ReconcileError> {
    let checkout = checkout_branch(obj, repo)?;
    let push = obj.spec.git.as_ref().and_then(|g| g.push.as_ref());
    let branch = push
        .and_then(|p| p.branch.clone())
        .filter(|b| !b.is_empty())
        .unwrap_or_else(|| checkout.clone());
    let mut target = PushTarget::branch(&branch);
    // Flux's GitForcePushBranch: a separate push branch is rebuilt from the checkout.
    target.force = branch != checkout && force_push_branch;
    let mut targets = vec![target];
    if let Some(spec) = push.and_then(|p| p.refspec.as_deref()) {
        targets.push(PushTarget::from_refspec(spec, &checkout)?);
    }
    Ok(targets)
}

fn plan(
    ctx: &Context,
    obj: &ImageUpdateAutomation,
    repo: &driftless_api::source::GitRepository,
    auth: driftless_git::Auth,
    images: &std::collections::BTreeMap<String, driftless_api::image::ImageRef>,
    namespace: &str,
) -> Result<Plan, ReconcileError> {
    let git = obj
        .spec
        .git
        .as_ref()
        .ok_or_else(|| ReconcileError::InvalidSource {
            reason: "spec.git is required".into(),
        })?;
    let push_options = git
        .push
        .as_ref()
        .and_then(|p| p.options.as_ref())
        .map(|o| {
            o.iter()
                .map(|(k, v)| {
                    if v.is_empty() {
                        k.clone()
                    } else {
                        format!("{k}={v}")
                    }
                })
                .collect()
        })
        .unwrap_or_default();
    Ok(Plan {
        url: repo.spec.url.clone(),
        auth,
        timeout: crate::source::timeout(repo),
        shallow: ctx.shallow_clone,
        checkout_branch: checkout_branch(obj, repo)?,
        targets: push_targets(ctx.force_push_branch, obj, repo)?,
        push_options,
        update_path: clean_update_path(obj.spec.update.as_ref().and_then(|u| u.path.as_deref())),
        images: images
            .iter()
            .map(|(name, image)| (format!("{namespace}:{name}"), image.clone()))
            .collect(),
        author_name: git.commit.author.name.clone().unwrap_or_default(),
        author_email: git.commit.author.email.clone(),
        message: MessageInput {
            template: git.commit.message_template.clone(),
            namespace: namespace.to_string(),
            name: obj.name_any(),
            values: git
                .commit
                .message_template_values
                .clone()
                .unwrap_or_default(),
        },
        unchanged_since: None,
        signing_key: None,
    })
}

async fn emit_events(
    recorder: &Recorder,
    obj: &ImageUpdateAutomation,
    result: &Result<Done, ReconcileError>,
) {
    match result {
        Ok(done) => {
            if let Some((short, destinations)) = &done.pushed {
                let message = format!("pushed commit '{short}' to branch '{destinations}'");
                recorder
                    .event(obj, EventType::Normal, reasons::SUCCEEDED, &message, &[])
                    .await;
            }
        }
        Err(err) => {
            let message = chain(err);
            tracing::error!(name = %obj.name_any(), namespace = ?obj.namespace(),
                reason = err.reason(), error = %message, "automation failed");
            recorder
                .event(obj, EventType::Warning, err.reason(), &message, &[])
                .await;
        }
    }
}

/// A failed status or finalizer write: retry with the per-object backoff.
pub fn error_policy(
    obj: Arc<ImageUpdateAutomation>,
    err: &ReconcileError,
    ctx: Arc<Context>,
) -> Action {
    tracing::warn!(name = %obj.name_any(), namespace = ?obj.namespace(),
        error = %chain(err), "reconcile failed; retrying with backoff");
    Action::requeue(ctx.scheduler.failure(&object_key(obj.as_ref())))
}

#[cfg(test)]
#[path = "reconcile_tests.rs"]
mod tests;
