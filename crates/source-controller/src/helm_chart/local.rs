//! Building a chart from a GitRepository or Bucket artifact, as Flux's local chart builder:
//! the source artifact (read from this controller's storage, digest checked) is extracted,
//! `spec.chart` is the chart directory inside it (`.helmignore` applied), `spec.valuesFiles`
//! are paths from the source root merged into `values.yaml`, and the chart is packaged with
//! build metadata on its version: the first 12 hex characters of the source revision with
//! `reconcileStrategy: Revision`, then the HelmChart's generation when values files are set.
//! Dependencies not vendored under `charts/` are provided first ([`super::dependencies`]).

use std::path::Path;

use driftless_api::meta;
use driftless_api::source::{
    Bucket, GitRepository, HelmChart, HelmChartSourceKind, ReconcileStrategy,
};
use driftless_artifact::{ExtractLimits, Storage};
use driftless_helm::repo::{merge_values, repackage};
use kube::ResourceExt;
use kube::api::Api;

use super::build::{Build, values_files};
use super::dependencies;
use crate::error::ReconcileError;
use crate::helm_repository::error::{BuildReason, HelmError};
use crate::reconcile::Context;
use crate::storage::from_api;

/// The artifact of the chart's GitRepository or Bucket.
pub async fn source_artifact(
    ctx: &Context,
    chart: &HelmChart,
) -> Result<meta::Artifact, HelmError> {
    let namespace = chart.namespace().unwrap_or_default();
    let name = &chart.spec.source_ref.name;
    let not_found = |kind: &str, e: kube::Error| {
        let missing = matches!(&e, kube::Error::Api(s) if s.code == 404);
        HelmError::GetSource {
            detail: if missing {
                format!("{kind}.source.toolkit.fluxcd.io \"{name}\" not found")
            } else {
                e.to_string()
            },
            not_found: missing,
        }
    };
    let (kind, artifact) = match chart.spec.source_ref.kind {
        HelmChartSourceKind::Bucket => {
            let api: Api<Bucket> = Api::namespaced(ctx.client.clone(), &namespace);
            let bucket = api.get(name).await.map_err(|e| not_found("Bucket", e))?;
            ("Bucket", bucket.status.and_then(|s| s.artifact))
        }
        _ => {
            let api: Api<GitRepository> = Api::namespaced(ctx.client.clone(), &namespace);
            let repo = api
                .get(name)
                .await
                .map_err(|e| not_found("GitRepository", e))?;
            ("GitRepository", repo.status.and_then(|s| s.artifact))
        }
    };
    artifact.ok_or_else(|| HelmError::NoSourceArtifact {
        kind,
        name: name.clone(),
    })
}

/// The version metadata Flux adds for this chart and source revision, if any.
pub fn version_metadata(chart: &HelmChart, source_revision: &str) -> Option<String> {
    let mut parts = Vec::new();
    if chart.spec.reconcile_strategy == Some(ReconcileStrategy::Revision) {
        // `main@sha1:<hex>`, `sha256:<hex>` or the old `main/<hex>`.
        let hex = source_revision
            .rsplit([':', '/'])
            .next()
            .unwrap_or(source_revision);
        parts.push(hex.chars().take(12).collect::<String>());
    }
    if !values_files(chart).is_empty() {
        parts.push(chart.metadata.generation.unwrap_or_default().to_string());
    }
    (!parts.is_empty()).then(|| parts.join("."))
}

/// Extracts the source artifact, provides the chart's missing dependencies ([`dependencies`])
/// and packages the chart directory.
pub async fn build(
    ctx: &Context,
    chart: &HelmChart,
    artifact: &meta::Artifact,
) -> Result<Build, HelmError> {
    let storage = ctx.storage.clone();
    let metadata = version_metadata(chart, &artifact.revision);
    let artifact = from_api(artifact);
    let chart_path = chart.spec.chart.clone();
    let blocking = |operation: &'static str| {
        move |e: tokio::task::JoinError| ReconcileError::Task {
            operation,
            detail: e.to_string(),
        }
    };
    // Extract, load, and add the dependencies found in the source itself.
    let prepared = tokio::task::spawn_blocking(move || prepare(&storage, &artifact, &chart_path))
        .await
        .map_err(blocking("building the chart"))??;
    let Prepared {
        dir,
        mut chart_files,
        remote,
    } = prepared;
    let namespace = chart.namespace().unwrap_or_default();
    let mut fetched = Vec::new();
    for wanted in &remote {
        let provided = dependencies::fetch_remote(&ctx.client, &ctx.storage, &namespace, wanted)
            .await
            .map_err(|cause| dependencies::build_error(&wanted.name, false, cause))?;
        fetched.push(provided);
    }
    dependencies::vendor(&mut chart_files, fetched);
    let files = values_files(chart).to_vec();
    let ignore_missing = chart.spec.ignore_missing_values_files.unwrap_or(false);
    tokio::task::spawn_blocking(move || {
        let package = |context: &str, cause: String| {
            HelmError::build(BuildReason::ChartPackage, context, cause)
        };
        let loaded = driftless_helm::Chart::from_files(chart_files.clone())
            .map_err(|e| package("failed to load chart", e.to_string()))?;
        driftless_helm::deps::check(&loaded).map_err(|e| {
            HelmError::build(
                BuildReason::DependencyBuild,
                "failed to build chart dependencies",
                e,
            )
        })?;
        let (values, merged) = if files.is_empty() {
            (None, Vec::new())
        } else {
            let (values, merged) =
                merge_values(&files, ignore_missing, |path| read_in(dir.path(), path)).map_err(
                    |e| {
                        HelmError::build(
                            BuildReason::ValuesFiles,
                            "failed to merge chart values",
                            e,
                        )
                    },
                )?;
            (Some(values), merged)
        };
        let packaged = repackage(chart_files, values, metadata.as_deref())
            .map_err(|e| package("failed to package chart", e.to_string()))?;
        Ok(Build {
            name: packaged.name,
            version: packaged.version,
            data: packaged.data,
            packaged: true,
            values_files: merged,
        })
    })
    .await
    .map_err(blocking("packaging the chart"))?
}

/// The extracted source, the chart's files with its local dependencies vendored, and the
/// dependencies still to download.
struct Prepared {
    dir: tempfile::TempDir,
    chart_files: Vec<driftless_helm::File>,
    remote: Vec<dependencies::Wanted>,
}

fn prepare(
    storage: &Storage,
    artifact: &driftless_artifact::Artifact,
    chart_path: &str,
) -> Result<Prepared, HelmError> {
    let package =
        |context: &str, cause: String| HelmError::build(BuildReason::ChartPackage, context, cause);
    let dir = tempfile::Builder::new()
        .prefix("helmchart-")
        .tempdir()
        .map_err(|e| package("failed to create a working directory", e.to_string()))?;
    let archive = storage
        .local_path(artifact)
        .map_err(|source| ReconcileError::Storage {
            operation: "failed to locate the source artifact",
            source,
        })?;
    driftless_artifact::extract::extract_verified(
        &archive,
        &artifact.digest,
        dir.path(),
        &ExtractLimits::default(),
    )
    .map_err(|e| package("failed to extract the source artifact", e.to_string()))?;
    let relative = inside(chart_path).ok_or_else(|| {
        HelmError::build(
            BuildReason::ChartReference,
            "invalid chart path",
            format!("'{chart_path}' is outside the source"),
        )
    })?;
    let chart_dir = dir.path().join(&relative);
    if !chart_dir.is_dir() {
        return Err(HelmError::build(
            BuildReason::ChartReference,
            "path not found",
            chart_path,
        ));
    }
    let mut chart_files = driftless_helm::load::dir_files(&chart_dir)
        .map_err(|e| package("failed to load chart", e.to_string()))?;
    let loaded = driftless_helm::Chart::from_files(chart_files.clone())
        .map_err(|e| package("failed to load chart", e.to_string()))?;
    let mut local = Vec::new();
    let mut remote = Vec::new();
    for wanted in dependencies::missing(&loaded, &chart_files) {
        if dependencies::is_local(&wanted.repository) {
            let provided = dependencies::load_local(dir.path(), &relative, &wanted)
                .map_err(|cause| dependencies::build_error(&wanted.name, true, cause))?;
            local.push(provided);
        } else {
            remote.push(wanted);
        }
    }
    dependencies::vendor(&mut chart_files, local);
    Ok(Prepared {
        dir,
        chart_files,
        remote,
    })
}

/// `path` cleaned, or `None` when it leaves the source root.
fn inside(path: &str) -> Option<String> {
    let mut out: Vec<&str> = Vec::new();
    for seg in path.split('/') {
        match seg {
            "" | "." => {}
            ".." => {
                out.pop()?;
            }
            s => out.push(s),
        }
    }
    Some(out.join("/"))
}

/// A values file from the source root; `None` when missing or outside the source.
fn read_in(root: &Path, path: &str) -> Option<Vec<u8>> {
    let relative = inside(path)?;
    std::fs::read(root.join(relative)).ok()
}

#[cfg(test)]
mod tests {
    use driftless_api::source::HelmChartSpec;

    use super::*;

    fn chart(strategy: Option<ReconcileStrategy>, values: &[&str]) -> HelmChart {
        let mut chart = HelmChart::new(
            "c",
            HelmChartSpec {
                reconcile_strategy: strategy,
                values_files: Some(values.iter().map(|v| (*v).to_owned()).collect()),
                ..HelmChartSpec::default()
            },
        );
        chart.metadata.generation = Some(3);
        chart
    }

    #[test]
    fn the_revision_strategy_adds_the_short_commit_and_values_files_the_generation() {
        let rev = format!("main@sha1:{}", "abcdef0123456789".repeat(2));
        assert_eq!(version_metadata(&chart(None, &[]), &rev), None);
        assert_eq!(
            version_metadata(&chart(Some(ReconcileStrategy::Revision), &[]), &rev).as_deref(),
            Some("abcdef012345")
        );
        assert_eq!(
            version_metadata(&chart(Some(ReconcileStrategy::Revision), &["a.yaml"]), &rev)
                .as_deref(),
            Some("abcdef012345.3")
        );
        assert_eq!(version_metadata(&chart(None, &["values.yaml"]), &rev), None);
    }

    #[test]
    fn paths_may_not_leave_the_source() {
        assert_eq!(
            inside("./charts/podinfo/").as_deref(),
            Some("charts/podinfo")
        );
        assert_eq!(inside("charts/../charts/x").as_deref(), Some("charts/x"));
        assert_eq!(inside("../etc"), None);
    }
}
