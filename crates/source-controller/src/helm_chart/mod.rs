//! HelmChart, as Flux's `HelmChartReconciler`. From an HTTP HelmRepository: wait for the
//! repository's index artifact, resolve the chart version from it, and when the resulting
//! revision (the version, `+<generation>` with values files) differs from the stored
//! artifact, pull the chart (digest checked), repackage it with `spec.valuesFiles`, and store
//! it as `<name>-<version>.tgz` with `latest.tar.gz` for `status.url`. From an `oci`
//! HelmRepository the version is resolved against the registry's tags instead ([`oci`]).
//! Ready reads `pulled|packaged '<name>' chart with version '<version>'` with reason
//! `ChartPullSucceeded`/`ChartPackageSucceeded`. Charts from a GitRepository or Bucket artifact
//! are packaged from the chart directory ([`local`]) with their missing dependencies added
//! ([`dependencies`]). `spec.verify` stalls with a message saying it is not implemented yet.
//!
//! A source that gets a new artifact revision requeues its HelmCharts ([`charts_for_source`],
//! used by the controller's watches).

pub mod build;
pub mod dependencies;
pub mod local;
pub mod oci;

use std::time::Duration;

use driftless_api::conditions::{reasons, types};
use driftless_api::source::{
    HelmChart, HelmChartSourceKind, HelmChartStatus, HelmRepository, HelmRepositoryType,
};
use driftless_artifact::ObjectKey;
use driftless_artifact::layout::{KIND_HELM_CHART, LATEST_TAR_GZ, helm_chart_file};
use driftless_runtime::draft::StatusDraft;
use driftless_runtime::events::EventType;
use driftless_runtime::summary::SummaryRules;
use kube::ResourceExt;
use kube::api::Api;
use kube::runtime::reflector::{ObjectRef, Store};

use self::build::{Build, resolve, revision_for, summary, values_files};
use crate::error::ReconcileError;
use crate::helm_repository::client::RepoClient;
use crate::helm_repository::error::{BuildReason, HelmError};
use crate::helm_repository::load_stored_index;
use crate::reconcile::{Context, Notice, SourceKind, parse_duration};
use crate::storage::{key_for, link_url, reconcile_storage, to_api};

/// Ready of a HelmChart is summarised from these (Flux's `helmChartReadyCondition`).
pub const READY_RULES: SummaryRules = SummaryRules {
    summarize: &[
        types::STORAGE_OPERATION_FAILED,
        types::BUILD_FAILED,
        types::FETCH_FAILED,
        types::ARTIFACT_OUTDATED,
        types::ARTIFACT_IN_STORAGE,
        types::SOURCE_VERIFIED,
        types::RECONCILING,
        types::STALLED,
    ],
    negative_polarity: &[
        types::STORAGE_OPERATION_FAILED,
        types::BUILD_FAILED,
        types::FETCH_FAILED,
        types::ARTIFACT_OUTDATED,
        types::RECONCILING,
        types::STALLED,
    ],
};

/// Flux's reason for an artifact-outdated HelmChart.
pub const NEW_CHART: &str = "NewChart";

/// The storage key of a HelmChart (`helmchart/<ns>/<name>`).
pub fn object_key(chart: &HelmChart) -> Result<ObjectKey, HelmError> {
    Ok(key_for(KIND_HELM_CHART, chart)?)
}

impl SourceKind for HelmChart {
    type Error = HelmError;
    const METRICS: &'static str = "helmchart";
    const RULES: SummaryRules = READY_RULES;

    fn interval(&self) -> Result<Duration, HelmError> {
        Ok(parse_duration("spec.interval", &self.spec.interval)?)
    }

    fn artifact_revision(status: &HelmChartStatus) -> Option<String> {
        status.artifact.as_ref().map(|a| a.revision.clone())
    }

    async fn run_steps(
        &self,
        ctx: &Context,
        status: &mut HelmChartStatus,
        draft: &mut StatusDraft,
    ) -> Result<Notice, HelmError> {
        let key = object_key(self)?;
        reconcile_storage(
            &ctx.storage,
            ctx.retention,
            key.clone(),
            &mut status.artifact,
            draft,
        )
        .await?;
        check_supported(self)?;
        let notice = match self.spec.source_ref.kind {
            HelmChartSourceKind::HelmRepository => {
                from_repository(self, ctx, status, draft, &key).await?
            }
            HelmChartSourceKind::GitRepository | HelmChartSourceKind::Bucket => {
                from_source_artifact(self, ctx, status, draft, &key).await?
            }
        };
        draft.delete(types::BUILD_FAILED);
        status.url = Some(link_url(&ctx.storage, &key, LATEST_TAR_GZ)?);
        Ok(notice)
    }

    async fn finalize(&self, ctx: &Context, api: &Api<Self>) -> Result<(), HelmError> {
        Ok(crate::finalize::finalize(ctx, api, self, object_key(self)?).await?)
    }
}

/// A chart from a HelmRepository: resolved in the stored index, pulled when its revision is new.
async fn from_repository(
    chart: &HelmChart,
    ctx: &Context,
    status: &mut HelmChartStatus,
    draft: &mut StatusDraft,
    key: &ObjectKey,
) -> Result<Notice, HelmError> {
    let repo = source_repository(ctx, chart).await?;
    if repo.spec.type_ == Some(HelmRepositoryType::Oci) {
        return from_oci_repository(chart, ctx, status, draft, key, &repo).await;
    }
    let Some(repo_artifact) = repo.status.as_ref().and_then(|s| s.artifact.clone()) else {
        return Err(HelmError::NoSourceArtifact {
            kind: "HelmRepository",
            name: chart.spec.source_ref.name.clone(),
        });
    };
    let index = load_stored_index(&ctx.storage, &repo_artifact).await?;
    draft.delete(types::FETCH_FAILED);
    let version = resolve(&index, chart)?;
    let notice = pull_when_new(
        chart,
        ctx,
        status,
        draft,
        key,
        &version.name,
        &version.version,
        || async {
            let http = RepoClient::for_repository(&ctx.client, &repo).await?;
            build::download(&http, &repo.spec.url, version).await
        },
    )
    .await?;
    status.observed_source_artifact_revision = Some(repo_artifact.revision.clone());
    Ok(notice)
}

/// A chart from an `oci` HelmRepository: the version resolved against the registry's tags at
/// every reconcile, pulled when its revision is new. Such a repository has no artifact, so
/// `observedSourceArtifactRevision` stays unset, as in Flux.
async fn from_oci_repository(
    chart: &HelmChart,
    ctx: &Context,
    status: &mut HelmChartStatus,
    draft: &mut StatusDraft,
    key: &ObjectKey,
    repo: &HelmRepository,
) -> Result<Notice, HelmError> {
    let charts = oci::OciCharts::for_repository(&ctx.client, repo).await?;
    let constraint = chart.spec.version.as_deref().unwrap_or_default();
    let version = charts
        .resolve(&chart.spec.chart, constraint)
        .await
        .map_err(|e| match e {
            // An unreachable registry is retried; a constraint nothing matches waits for a
            // spec change.
            oci::OciChartError::Tags { .. } => HelmError::build(
                BuildReason::ChartPull,
                "failed to get chart version for remote reference",
                e,
            ),
            other => HelmError::build(
                BuildReason::ChartReference,
                "failed to get chart version for remote reference",
                other,
            ),
        })?;
    draft.delete(types::FETCH_FAILED);
    pull_when_new(
        chart,
        ctx,
        status,
        draft,
        key,
        &version.name,
        &version.version,
        || async { charts.pull(&version).await.map_err(build::pull_error) },
    )
    .await
}

/// Downloads chart `name` at `version` with `download` and stores it, unless the artifact
/// already has the revision that version gives.
#[allow(clippy::too_many_arguments)]
async fn pull_when_new<F, Fut>(
    chart: &HelmChart,
    ctx: &Context,
    status: &mut HelmChartStatus,
    draft: &mut StatusDraft,
    key: &ObjectKey,
    name: &str,
    version: &str,
    download: F,
) -> Result<Notice, HelmError>
where
    F: FnOnce() -> Fut,
    Fut: std::future::Future<Output = Result<Vec<u8>, HelmError>>,
{
    let revision = revision_for(chart, version);
    let current = status.artifact.as_ref().map(|a| a.revision.clone());
    let packaged = !values_files(chart).is_empty();
    let notice = if current.as_deref() == Some(revision.as_str())
        && status.observed_chart_name.as_deref() == Some(name)
    {
        let merged = status
            .observed_values_files
            .clone()
            .unwrap_or_else(|| values_files(chart).to_vec());
        up_to_date(draft, name, &revision, packaged, &merged)
    } else {
        let planned = summary(name, &revision, packaged, values_files(chart));
        draft.mark_true(types::ARTIFACT_OUTDATED, NEW_CHART, &planned);
        draft.progressing(format!("building artifact: {planned}"));
        let data = download().await?;
        let built = build::finish(data, chart, name, version).await?;
        store_build(ctx, key, status, draft, &built).await?
    };
    status.observed_chart_name = Some(name.to_owned());
    Ok(notice)
}

/// A chart from a GitRepository or Bucket artifact: rebuilt when the source revision or the
/// generation changed, stored when the built version differs from the artifact's.
async fn from_source_artifact(
    chart: &HelmChart,
    ctx: &Context,
    status: &mut HelmChartStatus,
    draft: &mut StatusDraft,
    key: &ObjectKey,
) -> Result<Notice, HelmError> {
    let artifact = local::source_artifact(ctx, chart).await?;
    draft.delete(types::FETCH_FAILED);
    let current = status.artifact.as_ref().map(|a| a.revision.clone());
    let merged_before = status.observed_values_files.clone().unwrap_or_default();
    let unchanged = status.observed_source_artifact_revision.as_deref()
        == Some(artifact.revision.as_str())
        && status.observed_generation == chart.metadata.generation;
    let notice = match (current, status.observed_chart_name.clone()) {
        (Some(revision), Some(name)) if unchanged => {
            up_to_date(draft, &name, &revision, true, &merged_before)
        }
        (current, name) => {
            let built = local::build(ctx, chart, &artifact).await?;
            if current.as_deref() == Some(built.version.as_str())
                && name.as_deref() == Some(built.name.as_str())
            {
                up_to_date(
                    draft,
                    &built.name,
                    &built.version,
                    true,
                    &built.values_files,
                )
            } else {
                let planned = summary(&built.name, &built.version, true, &built.values_files);
                draft.mark_true(types::ARTIFACT_OUTDATED, NEW_CHART, &planned);
                draft.progressing(format!("building artifact: {planned}"));
                let notice = store_build(ctx, key, status, draft, &built).await?;
                status.observed_chart_name = Some(built.name.clone());
                notice
            }
        }
    };
    status.observed_source_artifact_revision = Some(artifact.revision.clone());
    Ok(notice)
}

/// The artifact already has the build's revision.
fn up_to_date(
    draft: &mut StatusDraft,
    name: &str,
    revision: &str,
    packaged: bool,
    merged: &[String],
) -> Notice {
    let merged = if packaged { merged } else { &[] };
    mark_stored(draft, packaged, &summary(name, revision, packaged, merged));
    Notice::up_to_date(revision)
}

/// Stores a new build and records it in the status.
async fn store_build(
    ctx: &Context,
    key: &ObjectKey,
    status: &mut HelmChartStatus,
    draft: &mut StatusDraft,
    built: &Build,
) -> Result<Notice, HelmError> {
    draft.delete(types::BUILD_FAILED);
    let text = summary(
        &built.name,
        &built.version,
        built.packaged,
        &built.values_files,
    );
    let stored = store_chart(ctx, key.clone(), built).await?;
    status.artifact = Some(to_api(&stored));
    status.observed_values_files =
        Some(built.values_files.clone()).filter(|files| !files.is_empty());
    mark_stored(draft, built.packaged, &text);
    Ok(Notice {
        event_type: EventType::Normal,
        reason: success_reason(built.packaged),
        message: text,
        metadata: vec![
            ("revision", stored.revision.clone()),
            ("digest", stored.digest.clone()),
        ],
    })
}

fn success_reason(packaged: bool) -> &'static str {
    if packaged {
        reasons::CHART_PACKAGE_SUCCEEDED
    } else {
        reasons::CHART_PULL_SUCCEEDED
    }
}

/// ArtifactInStorage carries the build summary, as Flux sets it once the artifact has the
/// build's revision.
fn mark_stored(draft: &mut StatusDraft, packaged: bool, summary: &str) {
    draft.delete(types::ARTIFACT_OUTDATED);
    draft.delete(types::STORAGE_OPERATION_FAILED);
    draft.mark_true(
        types::ARTIFACT_IN_STORAGE,
        success_reason(packaged),
        summary,
    );
}

/// Sources and features not implemented yet stall with a message naming them.
fn check_supported(chart: &HelmChart) -> Result<(), HelmError> {
    if chart.spec.verify.is_some() {
        return Err(HelmError::Unsupported {
            feature: "spec.verify",
            detail: "chart signature verification (cosign/notation) is not implemented",
        });
    }
    Ok(())
}

/// The HelmRepository the chart pulls from (same namespace).
async fn source_repository(ctx: &Context, chart: &HelmChart) -> Result<HelmRepository, HelmError> {
    let api: Api<HelmRepository> =
        Api::namespaced(ctx.client.clone(), &chart.namespace().unwrap_or_default());
    let name = &chart.spec.source_ref.name;
    let repo = api.get(name).await.map_err(|e| {
        let not_found = matches!(&e, kube::Error::Api(s) if s.code == 404);
        HelmError::GetSource {
            detail: if not_found {
                format!("HelmRepository.source.toolkit.fluxcd.io \"{name}\" not found")
            } else {
                e.to_string()
            },
            not_found,
        }
    })?;
    Ok(repo)
}

async fn store_chart(
    ctx: &Context,
    key: ObjectKey,
    built: &Build,
) -> Result<driftless_artifact::Artifact, HelmError> {
    let file = helm_chart_file(&built.name, &built.version);
    let revision = built.version.clone();
    let data = built.data.clone();
    let (stored, _) = crate::artifact::store_locked(
        &ctx.storage,
        ctx.retention,
        key,
        LATEST_TAR_GZ,
        move |lock| {
            lock.store_bytes(&file, &revision, &data)
                .map_err(|source| ReconcileError::Storage {
                    operation: "failed to write chart artifact",
                    source,
                })
        },
    )
    .await?;
    Ok(stored)
}

/// The HelmCharts to requeue when a source of theirs changed: those in its namespace that
/// reference it and were not built from its current artifact revision (Flux's
/// `requestsForHelmRepositoryChange` / `requestsForGitRepositoryChange`).
pub fn charts_for_source<S>(
    charts: &Store<HelmChart>,
    kind: HelmChartSourceKind,
    source: &S,
    revision: Option<&str>,
) -> Vec<ObjectRef<HelmChart>>
where
    S: kube::Resource,
{
    let Some(revision) = revision else {
        return Vec::new();
    };
    charts
        .state()
        .iter()
        .filter(|chart| {
            chart.spec.source_ref.kind == kind
                && chart.spec.source_ref.name == source.name_any()
                && chart.namespace() == source.namespace()
                && chart
                    .status
                    .as_ref()
                    .and_then(|s| s.observed_source_artifact_revision.as_deref())
                    != Some(revision)
        })
        .map(|chart| ObjectRef::from_obj(chart.as_ref()))
        .collect()
}
