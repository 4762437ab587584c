//! Dependency build for charts packaged from a GitRepository or Bucket, as Flux's dependency
//! manager: the dependencies Chart.yaml lists (Chart.lock's, when there is one) that are not
//! vendored under `charts/` are added before packaging, so the artifact carries them.
//!
//! - `file://<path>` (relative to the chart directory) is a chart directory of the same source;
//!   the path is clamped to the source root as a secure join does, so it never leaves it. Its
//!   version must satisfy the dependency's constraint.
//! - `http(s)://` and `oci://` repositories are looked up among the HelmRepositories of the
//!   chart's namespace by normalised URL (their credentials, TLS and stored index are used);
//!   with no such object the repository is read anonymously, as Flux does.
//! - Anything else (`@alias`, `alias:`) fails with Flux's URL validation message.

use std::path::{Path, PathBuf};

use driftless_helm::File;
use driftless_helm::repo::{Index, MAX_CHART_SIZE, MAX_INDEX_SIZE};
use kube::api::{Api, ListParams};

use super::oci::OciCharts;
use crate::helm_repository::client::RepoClient;
use crate::helm_repository::error::{BuildReason, HelmError};
use driftless_api::source::{HelmRepository, HelmRepositorySpec, HelmRepositoryType};

/// A dependency to provide.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Wanted {
    /// The chart name.
    pub name: String,
    /// The version constraint.
    pub version: String,
    /// `file://…`, `https://…`, `oci://…`.
    pub repository: String,
}

/// A dependency chart ready to vendor: its files under its own top directory.
#[derive(Clone, Debug)]
pub struct Provided {
    /// The chart's own name (the directory under `charts/`).
    pub name: String,
    /// Its files, relative to its top directory.
    pub files: Vec<File>,
}

/// The dependencies of `chart` (loaded from `files`) not vendored under `charts/`; Chart.lock
/// takes precedence over Chart.yaml when present.
pub fn missing(chart: &driftless_helm::Chart, files: &[File]) -> Vec<Wanted> {
    let lock = files
        .iter()
        .find(|f| f.name == "Chart.lock")
        .and_then(|f| driftless_helm::values::parse_yaml(&String::from_utf8_lossy(&f.data)).ok());
    let text = |entry: &serde_json::Value, key: &str| {
        entry
            .get(key)
            .and_then(serde_json::Value::as_str)
            .unwrap_or_default()
            .to_owned()
    };
    let locked = lock
        .as_ref()
        .and_then(|l| l.get("dependencies"))
        .and_then(serde_json::Value::as_array);
    let wanted: Vec<Wanted> = match locked {
        Some(entries) => entries
            .iter()
            .map(|d| Wanted {
                name: text(d, "name"),
                version: text(d, "version"),
                repository: text(d, "repository"),
            })
            .collect(),
        None => chart
            .metadata
            .dependencies
            .iter()
            .map(|d| Wanted {
                name: d.name.clone(),
                version: d.version.clone(),
                repository: d.repository.clone(),
            })
            .collect(),
    };
    let mut out: Vec<Wanted> = Vec::new();
    for w in wanted {
        let vendored = chart.dependencies.iter().any(|d| d.name() == w.name);
        if !vendored && !out.iter().any(|o| o.name == w.name) {
            out.push(w);
        }
    }
    out
}

/// Whether the dependency is a chart directory of the same source.
pub fn is_local(repository: &str) -> bool {
    repository.is_empty() || repository.starts_with("file://")
}

/// The directory of a `file://` dependency of the chart at `chart_dir` (relative to `root`),
/// clamped to `root`: `..` never climbs above it.
pub fn local_path(root: &Path, chart_dir: &str, repository: &str) -> PathBuf {
    let relative = repository.strip_prefix("file://").unwrap_or(repository);
    let mut parts: Vec<&str> = Vec::new();
    for seg in chart_dir.split('/').chain(relative.split('/')) {
        match seg {
            "" | "." => {}
            ".." => {
                parts.pop();
            }
            s => parts.push(s),
        }
    }
    parts.iter().fold(root.to_path_buf(), |p, s| p.join(s))
}

/// Loads a `file://` dependency from the extracted source at `root`.
pub fn load_local(root: &Path, chart_dir: &str, wanted: &Wanted) -> Result<Provided, String> {
    if wanted.repository.is_empty() {
        return Err("no repository given and the chart is not vendored under charts/".to_owned());
    }
    let path = local_path(root, chart_dir, &wanted.repository);
    let shown = path
        .strip_prefix(root)
        .map(|p| p.display().to_string())
        .unwrap_or_default();
    if !path.is_dir() {
        return Err(format!(
            "no chart found at '/{shown}' (reference '{}')",
            wanted.repository
        ));
    }
    let constraint = driftless_semver::Constraint::parse(&wanted.version).map_err(|e| {
        format!(
            "invalid version/constraint format '{}': {e}",
            wanted.version
        )
    })?;
    let load_error = |e: &dyn std::fmt::Display| {
        format!(
            "failed to load chart from '/{shown}' (reference '{}'): {e}",
            wanted.repository
        )
    };
    let files = driftless_helm::load::dir_files(&path).map_err(|e| load_error(&e))?;
    let chart = driftless_helm::Chart::from_files(files.clone()).map_err(|e| load_error(&e))?;
    let version = driftless_semver::parse_version(&chart.metadata.version)
        .ok_or_else(|| format!("invalid semantic version '{}'", chart.metadata.version))?;
    if !constraint.matches(&version) {
        return Err(format!(
            "can't get a valid version for constraint '{}'",
            wanted.version
        ));
    }
    Ok(Provided {
        name: chart.metadata.name,
        files,
    })
}

/// Flux's `NormalizeURL`: OCI URLs lose trailing slashes, HTTP ones end in exactly one.
pub fn normalise_url(url: &str) -> String {
    if url.starts_with("oci://") {
        return url.trim_end_matches('/').to_owned();
    }
    format!("{}/", url.trim_end_matches('/'))
}

/// Fetches a remote dependency through the HelmRepository of its URL in `namespace`, or
/// anonymously when there is none.
pub async fn fetch_remote(
    kube: &kube::Client,
    storage: &driftless_artifact::Storage,
    namespace: &str,
    wanted: &Wanted,
) -> Result<Provided, String> {
    let url = normalise_url(&wanted.repository);
    if !["https://", "http://", "oci://"]
        .iter()
        .any(|s| url.starts_with(s))
    {
        return Err(format!(
            "URL validation failed for '{}': invalid dependency repository URL",
            wanted.repository
        ));
    }
    let repo = repository_for(kube, namespace, &url).await?;
    let text = |e: HelmError| driftless_runtime::error::chain(&e);
    let get_version = |e: String| {
        format!(
            "failed to get chart '{}' version '{}' from '{}': {e}",
            wanted.name, wanted.version, wanted.repository
        )
    };
    let (version, data) = if url.starts_with("oci://") {
        let charts = match &repo {
            Some(repo) => OciCharts::for_repository(kube, repo).await.map_err(text)?,
            None => OciCharts::anonymous(&url).map_err(text)?,
        };
        let version = charts
            .resolve(&wanted.name, &wanted.version)
            .await
            .map_err(|e| get_version(e.to_string()))?;
        let data = charts.pull(&version).await.map_err(|e| {
            format!(
                "chart download of version '{}' failed: {e}",
                version.version
            )
        })?;
        (version.version, data)
    } else {
        let repo = repo.unwrap_or_else(|| anonymous_repository(&url));
        let http = RepoClient::for_repository(kube, &repo)
            .await
            .map_err(text)?;
        let index = match repo.status.as_ref().and_then(|s| s.artifact.as_ref()) {
            Some(artifact) => crate::helm_repository::load_stored_index(storage, artifact)
                .await
                .map_err(text)?,
            None => {
                let index_url = driftless_helm::repo::url::index_url(&url)
                    .map_err(|e| get_version(e.to_string()))?;
                let body = http
                    .get(&index_url, "index", MAX_INDEX_SIZE)
                    .await
                    .map_err(|e| get_version(e.to_string()))?;
                Index::load(&body, MAX_INDEX_SIZE).map_err(|e| get_version(e.to_string()))?
            }
        };
        let constraint = if wanted.version.is_empty() {
            "*"
        } else {
            &wanted.version
        };
        let version = index
            .chart_version(&wanted.name, constraint)
            .map_err(|e| get_version(e.to_string()))?;
        let data = super::build::download(&http, &url, version)
            .await
            .map_err(|e| {
                format!(
                    "chart download of version '{}' failed: {}",
                    version.version,
                    text(e)
                )
            })?;
        (version.version.clone(), data)
    };
    if data.len() as u64 > MAX_CHART_SIZE {
        return Err(format!(
            "chart download of version '{version}' failed: too large"
        ));
    }
    let files = driftless_helm::archive::files(&data)
        .map_err(|e| format!("failed to load downloaded archive of version '{version}': {e}"))?;
    let chart = driftless_helm::Chart::from_files(files.clone())
        .map_err(|e| format!("failed to load downloaded archive of version '{version}': {e}"))?;
    Ok(Provided {
        name: chart.metadata.name,
        files,
    })
}

/// The HelmRepository in `namespace` whose normalised URL is `url`, if any.
async fn repository_for(
    kube: &kube::Client,
    namespace: &str,
    url: &str,
) -> Result<Option<HelmRepository>, String> {
    let api: Api<HelmRepository> = Api::namespaced(kube.clone(), namespace);
    let list = api
        .list(&ListParams::default())
        .await
        .map_err(|e| format!("failed to list HelmRepositories: {e}"))?;
    Ok(list
        .items
        .into_iter()
        .find(|r| normalise_url(&r.spec.url) == url))
}

/// A repository object standing for a URL no HelmRepository declares: no credentials.
fn anonymous_repository(url: &str) -> HelmRepository {
    HelmRepository::new(
        "",
        HelmRepositorySpec {
            url: url.to_owned(),
            type_: Some(HelmRepositoryType::Default),
            ..HelmRepositorySpec::default()
        },
    )
}

/// Adds the provided dependencies' files under `charts/<name>/`.
pub fn vendor(files: &mut Vec<File>, provided: Vec<Provided>) {
    for dep in provided {
        for f in dep.files {
            files.push(File {
                name: format!("charts/{}/{}", dep.name, f.name),
                data: f.data,
            });
        }
    }
}

/// Flux's dependency build failure.
pub fn build_error(name: &str, local: bool, cause: String) -> HelmError {
    let kind = if local { "local" } else { "remote" };
    HelmError::build(
        BuildReason::DependencyBuild,
        "failed to build dependencies",
        format!("failed to add {kind} dependency '{name}': {cause}"),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn file(name: &str, text: &str) -> File {
        File {
            name: name.to_owned(),
            data: text.as_bytes().to_vec(),
        }
    }

    #[test]
    fn file_paths_are_relative_to_the_chart_and_never_leave_the_source() {
        let root = Path::new("/src");
        assert_eq!(
            local_path(root, "charts/app", "file://../common"),
            Path::new("/src/charts/common")
        );
        assert_eq!(
            local_path(root, "./charts/app/", "file://../../../../etc"),
            Path::new("/src/etc")
        );
    }

    #[test]
    fn urls_normalise_as_flux_indexes_them() {
        assert_eq!(normalise_url("https://h/charts"), "https://h/charts/");
        assert_eq!(normalise_url("https://h/charts//"), "https://h/charts/");
        assert_eq!(normalise_url("oci://h/charts/"), "oci://h/charts");
    }

    #[test]
    fn vendored_dependencies_are_not_missing_and_the_lock_file_wins() {
        let chart_yaml = "apiVersion: v2\nname: app\nversion: 1.0.0\ndependencies:\n- name: common\n  version: ^1\n  repository: file://../common\n- name: redis\n  version: '*'\n  repository: https://charts.example\n";
        let files = vec![
            file("Chart.yaml", chart_yaml),
            file(
                "charts/redis/Chart.yaml",
                "apiVersion: v2\nname: redis\nversion: 2.0.0\n",
            ),
        ];
        let chart = driftless_helm::Chart::from_files(files.clone()).expect("chart");
        let names: Vec<String> = missing(&chart, &files)
            .into_iter()
            .map(|w| w.name)
            .collect();
        assert_eq!(names, ["common"]);
        let mut locked = files.clone();
        locked.push(file(
            "Chart.lock",
            "dependencies:\n- name: common\n  version: 1.2.0\n  repository: file://../common\n",
        ));
        let wanted = missing(&chart, &locked);
        assert_eq!(wanted.len(), 1);
        assert_eq!(wanted[0].version, "1.2.0");
    }

    #[test]
    fn a_local_dependency_must_exist_and_satisfy_its_constraint() {
        let dir = tempfile::tempdir().expect("tempdir");
        let common = dir.path().join("charts/common");
        std::fs::create_dir_all(common.join("templates")).expect("mkdir");
        std::fs::write(
            common.join("Chart.yaml"),
            "apiVersion: v2\nname: common\nversion: 1.4.0\n",
        )
        .expect("write");
        let wanted = |version: &str, repository: &str| Wanted {
            name: "common".to_owned(),
            version: version.to_owned(),
            repository: repository.to_owned(),
        };
        let ok = load_local(
            dir.path(),
            "charts/app",
            &wanted("^1.0.0", "file://../common"),
        )
        .expect("loads");
        assert_eq!(ok.name, "common");
        let err = load_local(
            dir.path(),
            "charts/app",
            &wanted("^2.0.0", "file://../common"),
        )
        .expect_err("constraint");
        assert_eq!(err, "can't get a valid version for constraint '^2.0.0'");
        let err = load_local(dir.path(), "charts/app", &wanted("*", "file://../absent"))
            .expect_err("absent");
        assert_eq!(
            err,
            "no chart found at '/charts/absent' (reference 'file://../absent')"
        );
    }

    #[test]
    fn the_error_reads_as_fluxs_dependency_build_error() {
        let err = build_error("common", true, "boom".to_owned());
        assert_eq!(
            driftless_runtime::error::chain(&err),
            "dependency build error: failed to build dependencies: failed to add local dependency 'common': boom"
        );
    }
}
