//! One ImageRepository reconcile in Flux's order: lifecycle gate (deletion removes the store
//! entry, then the finalizer), the image name, then a scan when one is due (never scanned, a
//! reconcile requested, a new image name or exclusion list, no tags in the store, or
//! `spec.interval` elapsed), then `canonicalImageName`, `observedExclusionList` and Ready
//! "successful scan: found N tags with checksum C", requeued for the next scan.

use std::sync::Arc;
use std::time::Duration;

use driftless_api::image::{ImageRepository, ImageRepositoryStatus, ScanResult};
use driftless_runtime::draft::StatusDraft;
use driftless_runtime::lifecycle::{Entry, enter};
use driftless_runtime::object::FluxObject;
use driftless_runtime::patch::{remove_finalizer, status_field_manager};
use driftless_runtime::summary::Next;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use kube::ResourceExt;
use kube::api::Api;
use kube::runtime::controller::Action;

use crate::error::{ReconcileError, duration, go_duration};
use crate::policy::filter::go_regex;
use crate::reconcile::{Context, Done, conclude, key};
use crate::{image_ref, registry};

/// The metrics and workqueue name of this reconciler.
pub const METRICS_CONTROLLER: &str = "imagerepository";

/// Flux's default `spec.exclusionList`: cosign signature tags.
pub const DEFAULT_EXCLUSION_LIST: &[&str] = &["^.*\\.sig$"];

/// How many tags `status.lastScanResult.latestTags` keeps.
pub const LATEST_TAGS_COUNT: usize = 10;

/// Reconciles one ImageRepository; errors returned here are only failures to write the status
/// or finalizer.
pub async fn reconcile(
    repo: Arc<ImageRepository>,
    ctx: Arc<Context>,
) -> Result<Action, ReconcileError> {
    let timer = ctx
        .metrics
        .as_ref()
        .map(|m| m.start(METRICS_CONTROLLER, repo.as_ref()));
    let namespace = repo.namespace().unwrap_or_default();
    let api: Api<ImageRepository> = Api::namespaced(ctx.client.clone(), &namespace);
    let manager = status_field_manager(crate::CONTROLLER_NAME);
    let next = match enter(&api, &repo, &manager)
        .await
        .map_err(ReconcileError::patch)?
    {
        Entry::Finalize => {
            remove_entry(&ctx, &namespace, &repo.name_any()).await?;
            remove_finalizer(&api, repo.as_ref(), &manager)
                .await
                .map_err(ReconcileError::patch)?;
            if let Some(metrics) = &ctx.metrics {
                metrics.delete_object(repo.as_ref());
            }
            Next::AwaitChange
        }
        Entry::Skip => Next::AwaitChange,
        Entry::Reconcile(repo) => {
            let now = jiff::Timestamp::now();
            let mut draft = repo.begin_draft(Time(now));
            let mut status = repo.status.clone().unwrap_or_default();
            let result = run(&ctx, &repo, &mut status, &mut draft, now).await;
            conclude(&ctx, &api, repo.as_ref(), status, draft, result).await?
        }
    };
    if let Some(timer) = timer {
        timer.finish(next);
    }
    Ok(ctx.scheduler.action(&key(repo.as_ref()), next))
}

/// Removes the store entry of a deleted ImageRepository.
async fn remove_entry(ctx: &Context, namespace: &str, name: &str) -> Result<(), ReconcileError> {
    let store = Arc::clone(&ctx.store);
    let (namespace, name) = (namespace.to_owned(), name.to_owned());
    tokio::task::spawn_blocking(move || store.remove(&namespace, &name))
        .await
        .map_err(|e| ReconcileError::Task {
            message: e.to_string(),
        })?
        .map_err(|source| ReconcileError::StoreRemove { source })?;
    ctx.record_store_size();
    Ok(())
}

/// `spec.exclusionList`, or Flux's default when unset.
pub fn exclusion_list(repo: &ImageRepository) -> Vec<String> {
    match &repo.spec.exclusion_list {
        Some(list) => list.clone(),
        None => DEFAULT_EXCLUSION_LIST
            .iter()
            .map(|s| (*s).to_owned())
            .collect(),
    }
}

/// Why a scan is due now, or `None` with the time left until the next one.
pub fn scan_reason(
    status: &ImageRepositoryStatus,
    draft: &StatusDraft,
    canonical: &str,
    exclusions: &[String],
    has_tags: bool,
    interval: Duration,
    now: jiff::Timestamp,
) -> Result<&'static str, Duration> {
    let Some(last) = &status.last_scan_result else {
        return Ok("first scan");
    };
    if draft.reconcile_requested() {
        return Ok("reconcile requested");
    }
    if status.canonical_image_name.as_deref() != Some(canonical) {
        return Ok("new image name");
    }
    let observed = status.observed_exclusion_list.clone().unwrap_or_default();
    let same_list =
        observed.len() == exclusions.len() && exclusions.iter().all(|e| observed.contains(e));
    if !same_list {
        return Ok("updated exclusion list");
    }
    if !has_tags {
        return Ok("no tags in database");
    }
    let elapsed = last
        .scan_time
        .as_ref()
        .map(|t| now.duration_since(t.0))
        .and_then(|d| Duration::try_from(d).ok())
        .unwrap_or(interval);
    let left = interval.saturating_sub(elapsed);
    if left < Duration::from_secs(1) {
        return Ok("triggered by interval");
    }
    Err(left)
}

/// The tags left after `spec.exclusionList`.
pub fn exclude(tags: Vec<String>, patterns: &[String]) -> Result<Vec<String>, ReconcileError> {
    let regexes = patterns
        .iter()
        .map(|p| {
            go_regex(p).map_err(|e| ReconcileError::Exclusion {
                pattern: p.clone(),
                problem: e.to_string(),
            })
        })
        .collect::<Result<Vec<_>, _>>()?;
    Ok(tags
        .into_iter()
        .filter(|t| !regexes.iter().any(|r| r.is_match(t)))
        .collect())
}

/// The tags that are valid OCI tags (`[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}`) and how many were
/// not. A registry that lists anything else is broken or hostile; such entries could never be
/// pulled, and a newline in one would split it in the line-based store.
pub fn valid_tags(tags: Vec<String>) -> (Vec<String>, usize) {
    let before = tags.len();
    let valid: Vec<String> = tags
        .into_iter()
        .filter(|t| driftless_oci::reference::valid_tag(t))
        .collect();
    let dropped = before - valid.len();
    (valid, dropped)
}

/// Sorts `tags` as Flux stores them (reverse byte order) and returns the first ten.
pub fn sort_and_latest(tags: &mut [String]) -> Vec<String> {
    tags.sort_by(|a, b| b.cmp(a));
    tags.iter().take(LATEST_TAGS_COUNT).cloned().collect()
}

/// Flux's progressive status: before a scan, Ready=Unknown "Reconciliation in progress" and
/// Reconciling=True "scanning: <reason>" are written, so `kubectl wait` and `flux get` see the
/// scan under way; the final patch replaces both.
async fn show_progress(
    ctx: &Context,
    repo: &ImageRepository,
    status: &ImageRepositoryStatus,
    draft: &StatusDraft,
) -> Result<(), ReconcileError> {
    let mut snapshot = status.clone();
    snapshot.conditions = Some(draft.in_progress_conditions());
    let api: Api<ImageRepository> =
        Api::namespaced(ctx.client.clone(), &repo.namespace().unwrap_or_default());
    let manager = status_field_manager(crate::CONTROLLER_NAME);
    driftless_runtime::patch::patch_status(&api, repo, &snapshot, &manager)
        .await
        .map_err(ReconcileError::patch)?;
    Ok(())
}

async fn run(
    ctx: &Context,
    repo: &ImageRepository,
    status: &mut ImageRepositoryStatus,
    draft: &mut StatusDraft,
    now: jiff::Timestamp,
) -> Result<Done, ReconcileError> {
    let interval = duration(&repo.spec.interval, "spec.interval")?;
    let timeout = match repo.spec.timeout.as_deref() {
        Some(value) => duration(value, "spec.timeout")?,
        None => interval,
    };
    let reference = image_ref::parse(&repo.spec.image)?;
    registry::check_provider(repo)?;
    let canonical = image_ref::canonical(&reference);
    let exclusions = exclusion_list(repo);
    let namespace = repo.namespace().unwrap_or_default();
    let name = repo.name_any();
    let has_tags = ctx.store.contains(&namespace, &name);

    let old_revision = status
        .last_scan_result
        .as_ref()
        .and_then(|r| r.revision.clone());
    let (trace, next) = match scan_reason(
        status,
        draft,
        &canonical,
        &exclusions,
        has_tags,
        interval,
        now,
    ) {
        Ok(reason) => {
            draft.progressing(format!("scanning: {reason}"));
            show_progress(ctx, repo, status, draft).await?;
            let client = registry::client_for(&ctx.client, repo, &reference, timeout).await?;
            let listed = tokio::time::timeout(timeout, client.list_tags(&reference))
                .await
                .map_err(|_| ReconcileError::ScanTimeout {
                    timeout: go_duration(timeout),
                })?
                .map_err(|source| ReconcileError::Scan { source })?;
            let (listed, invalid) = valid_tags(listed);
            if invalid > 0 {
                tracing::warn!(name = %name, namespace = %namespace, invalid,
                    "the registry listed tags that are not valid OCI tags; they are left out");
            }
            let mut tags = exclude(listed, &exclusions)?;
            let latest = sort_and_latest(&mut tags);
            let count = tags.len();
            let store = Arc::clone(&ctx.store);
            let (ns, n) = (namespace.clone(), name.clone());
            let revision = tokio::task::spawn_blocking(move || store.set_tags(&ns, &n, &tags))
                .await
                .map_err(|e| ReconcileError::Task {
                    message: e.to_string(),
                })?
                .map_err(|source| ReconcileError::StoreWrite {
                    canonical: canonical.clone(),
                    source,
                })?;
            ctx.record_store_size();
            let same = old_revision.as_deref() == Some(revision.as_str());
            status.last_scan_result = Some(ScanResult {
                latest_tags: (!latest.is_empty()).then_some(latest),
                revision: Some(revision),
                scan_time: Some(Time(now)),
                tag_count: i64::try_from(count).unwrap_or(i64::MAX),
            });
            let next = format!("next scan in {}", go_duration(interval));
            let trace = if same {
                format!("tags did not change, {next}")
            } else {
                format!("successful scan, {next}")
            };
            (trace, interval)
        }
        Err(left) => (
            format!(
                "no change in repository configuration since last scan, next scan in {}",
                go_duration(Duration::from_secs(left.as_secs()))
            ),
            left,
        ),
    };
    status.canonical_image_name = Some(canonical);
    status.observed_exclusion_list = Some(exclusions);
    let result = status.last_scan_result.clone().unwrap_or_default();
    Ok(Done {
        message: format!(
            "successful scan: found {} tags with checksum {}",
            result.tag_count,
            result.revision.unwrap_or_default()
        ),
        next: Some(next.max(Duration::from_secs(1))),
        trace,
    })
}

#[cfg(test)]
mod tests;
