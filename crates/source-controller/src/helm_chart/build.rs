//! Building a chart from a HelmRepository, as Flux's remote chart builder: resolve
//! `spec.chart` and `spec.version` in the repository's stored index, download the chart
//! (credentials as the repository's client allows), check it against the index digest and
//! that it loads, and — with `spec.valuesFiles` — repackage it with the merged values and the
//! HelmChart's generation as version metadata.

use driftless_api::source::HelmChart;
use driftless_helm::repo::package::effective_values_files;
use driftless_helm::repo::url::resolve_chart_url;
use driftless_helm::repo::{
    ChartVersion, Index, MAX_CHART_SIZE, merge_values_files, verify_digest,
};

use crate::helm_repository::client::RepoClient;
use crate::helm_repository::error::{BuildReason, HelmError};

/// A built chart, ready to store.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Build {
    /// The chart name.
    pub name: String,
    /// The version, the artifact revision.
    pub version: String,
    /// The `.tgz` bytes.
    pub data: Vec<u8>,
    /// Whether it was repackaged with values files.
    pub packaged: bool,
    /// The values files merged, in order.
    pub values_files: Vec<String>,
}

/// The chart version the HelmChart resolves to in `index`.
pub fn resolve<'a>(index: &'a Index, chart: &HelmChart) -> Result<&'a ChartVersion, HelmError> {
    let constraint = chart.spec.version.as_deref().unwrap_or("*");
    index
        .chart_version(&chart.spec.chart, constraint)
        .map_err(|e| {
            HelmError::build(
                BuildReason::ChartReference,
                "failed to get chart version for remote reference",
                e,
            )
        })
}

/// The values files that change the chart.
pub fn values_files(chart: &HelmChart) -> &[String] {
    effective_values_files(chart.spec.values_files.as_deref().unwrap_or_default())
}

/// The revision `chart` will have for chart `version`: with values files, `+<generation>` is
/// added (normalised as semver prints it); a version that is not semver stays as is.
pub fn revision_for(chart: &HelmChart, version: &str) -> String {
    if values_files(chart).is_empty() {
        return version.to_owned();
    }
    let Some(mut semver) = driftless_semver::parse_version(version) else {
        return version.to_owned();
    };
    match semver::BuildMetadata::new(&chart.metadata.generation.unwrap_or_default().to_string()) {
        Ok(build) => semver.build = build,
        Err(_) => return version.to_owned(),
    }
    semver.to_string()
}

/// Flux's `Build.Summary`.
pub fn summary(name: &str, version: &str, packaged: bool, values_files: &[String]) -> String {
    let action = if packaged { "packaged" } else { "pulled" };
    let mut text = format!("{action} '{name}' chart with version '{version}'");
    if !values_files.is_empty() {
        text.push_str(&format!(
            " and merged values files [{}]",
            values_files.join(" ")
        ));
    }
    text
}

/// Downloads and verifies `version` from an HTTP repository.
pub async fn download(
    http: &RepoClient,
    repo_url: &str,
    version: &ChartVersion,
) -> Result<Vec<u8>, HelmError> {
    let first = version.urls.first().ok_or_else(|| {
        pull_error(format!(
            "chart '{}' version '{}' has no downloadable URLs",
            version.name, version.version
        ))
    })?;
    let url = resolve_chart_url(repo_url, first).map_err(|e| pull_error(e.to_string()))?;
    let data = http
        .get(&url, "chart", MAX_CHART_SIZE)
        .await
        .map_err(|e| pull_error(e.to_string()))?;
    if let Some(digest) = &version.digest {
        verify_digest(&data, digest).map_err(|e| pull_error(e.to_string()))?;
    }
    Ok(data)
}

/// Flux's pull failure of a remote chart.
pub fn pull_error(cause: impl std::fmt::Display) -> HelmError {
    HelmError::build(
        BuildReason::ChartPull,
        "failed to download chart for remote reference",
        cause,
    )
}

/// Checks that the downloaded chart `data` (chart `name` at `version`) loads and, with values
/// files, repackages it.
pub async fn finish(
    data: Vec<u8>,
    chart: &HelmChart,
    name: &str,
    version: &str,
) -> Result<Build, HelmError> {
    let files = values_files(chart).to_vec();
    let ignore_missing = chart.spec.ignore_missing_values_files.unwrap_or(false);
    let generation = chart.metadata.generation.unwrap_or_default().to_string();
    let (name, pulled_version) = (name.to_owned(), version.to_owned());
    tokio::task::spawn_blocking(move || {
        driftless_helm::archive::files(&data)
            .and_then(driftless_helm::Chart::from_files)
            .map_err(|e| pull_error(format!("the downloaded chart does not load: {e}")))?;
        if files.is_empty() {
            return Ok(Build {
                name,
                version: pulled_version,
                data,
                packaged: false,
                values_files: Vec::new(),
            });
        }
        let packaged =
            merge_values_files(&data, &files, ignore_missing, &generation).map_err(|e| {
                use driftless_helm::repo::RepoError;
                match e {
                    RepoError::MissingValuesFile(_) | RepoError::ValuesParse { .. } => {
                        HelmError::build(
                            BuildReason::ValuesFiles,
                            "failed to merge chart values",
                            e,
                        )
                    }
                    other => HelmError::build(
                        BuildReason::ChartPackage,
                        "failed to package chart",
                        other,
                    ),
                }
            })?;
        Ok(Build {
            name: packaged.name,
            version: packaged.version,
            data: packaged.data,
            packaged: true,
            values_files: packaged.merged,
        })
    })
    .await
    .map_err(|e| crate::error::ReconcileError::Task {
        operation: "building the chart",
        detail: e.to_string(),
    })?
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_summary_reads_as_fluxs() {
        assert_eq!(
            summary("podinfo", "6.0.3", false, &[]),
            "pulled 'podinfo' chart with version '6.0.3'"
        );
        assert_eq!(
            summary(
                "podinfo",
                "6.0.3+2",
                true,
                &["values.yaml".into(), "prod.yaml".into()]
            ),
            "packaged 'podinfo' chart with version '6.0.3+2' and merged values files [values.yaml prod.yaml]"
        );
    }
}
