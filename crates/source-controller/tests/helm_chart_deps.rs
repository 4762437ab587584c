//! Dependency build of a chart from a GitRepository: a `file://` chart of the same source, an
//! HTTP repository dependency fetched with the credentials of the HelmRepository that declares
//! its URL, and an `oci://` dependency no HelmRepository declares (read anonymously) end up
//! under `charts/` of the packaged artifact; a missing or unreachable dependency is a
//! `DependencyBuildError` naming it.

mod common;
mod helm_common;

use std::collections::BTreeMap;

use common::*;
use driftless_api::source::{GitRepository, HelmChart, HelmRepository};
use helm_common::*;
use k8s_openapi::ByteString;
use k8s_openapi::api::core::v1::Secret;
use kube::api::{Api, PostParams};
use serde_json::json;
use testkit::TestNamespace;
use testkit::git_server::{GitAuth, GitServer};
use testkit::helm_repo::{HelmRepoServer, package};
use testkit::oci_registry::{OciRegistry, RegistryAuth};

fn app_chart(http_url: &str, oci_url: &str) -> String {
    format!(
        "apiVersion: v2\nname: app\nversion: 1.0.0\ndependencies:\n\
         - name: common\n  version: ^1.0.0\n  repository: file://../common\n\
         - name: redis\n  version: '>=2.0.0'\n  repository: {http_url}\n\
         - name: cache\n  version: 0.x\n  repository: {oci_url}\n"
    )
}

#[tokio::test]
async fn file_http_and_oci_dependencies_are_packaged_under_charts() -> anyhow::Result<()> {
    let cluster = testkit::cluster().await?;
    install_crd(&cluster.client).await?;
    install_helm_crds(&cluster.client).await?;
    let ns = TestNamespace::create(&cluster, "sc-helm-deps").await?;
    let helm = HelmRepoServer::start(Some(("deps", "deps-pass-1"))).await?;
    helm.add_chart("redis", "2.1.0", &[("values.yaml", "port: 6379\n")])?;
    helm.add_chart("redis", "1.9.0", &[])?;
    let registry = OciRegistry::start(RegistryAuth::None).await?;
    registry.push_helm_chart(
        "charts/cache",
        "cache",
        "0.4.0",
        package("cache", "0.4.0", &[("values.yaml", "size: 1\n")])?,
    );
    let git = GitServer::start(GitAuth::None).await?;
    let repo = git.create_repo("deps")?;
    let chart_yaml = app_chart(&helm.url(), &registry.oci_url("charts"));
    repo.commit_files(
        "master",
        &[
            ("charts/app/Chart.yaml", chart_yaml.as_str()),
            ("charts/app/templates/cm.yaml", "kind: ConfigMap\n"),
            (
                "charts/common/Chart.yaml",
                "apiVersion: v2\nname: common\nversion: 1.3.0\ntype: library\n",
            ),
            ("charts/common/templates/_h.tpl", "{{- define \"x\" }}x{{ end }}\n"),
            (
                "charts/broken/Chart.yaml",
                "apiVersion: v2\nname: broken\nversion: 1.0.0\ndependencies:\n- name: gone\n  version: '*'\n  repository: file://../gone\n",
            ),
            (
                "charts/aliased/Chart.yaml",
                "apiVersion: v2\nname: aliased\nversion: 1.0.0\ndependencies:\n- name: redis\n  version: '*'\n  repository: '@stable'\n",
            ),
        ],
        "Charts with dependencies",
    )?;
    let controller = RunningController::start(&cluster, ns.name()).await?;
    let gits: Api<GitRepository> = Api::namespaced(cluster.client.clone(), ns.name());
    let repos: Api<HelmRepository> = Api::namespaced(cluster.client.clone(), ns.name());
    let charts: Api<HelmChart> = Api::namespaced(cluster.client.clone(), ns.name());
    let secrets: Api<Secret> = Api::namespaced(cluster.client.clone(), ns.name());
    secrets
        .create(
            &PostParams::default(),
            &Secret {
                metadata: kube::api::ObjectMeta {
                    name: Some("deps-auth".to_owned()),
                    ..Default::default()
                },
                data: Some(BTreeMap::from([
                    ("username".to_owned(), ByteString(b"deps".to_vec())),
                    ("password".to_owned(), ByteString(b"deps-pass-1".to_vec())),
                ])),
                ..Default::default()
            },
        )
        .await?;
    // Declared with a trailing slash: URLs match once normalised.
    create_repository(
        &repos,
        "deps",
        ns.name(),
        &format!("{}/", helm.url().trim_end_matches('/')),
        json!({"secretRef": {"name": "deps-auth"}}),
    )
    .await?;
    repo_ready(&repos, "deps", "True", "Succeeded").await?;
    create(
        &gits,
        &git_repository(
            "deps",
            ns.name(),
            &git.url("deps"),
            json!({"ref": {"branch": "master"}}),
        )?,
    )
    .await?;
    let from_git = |name: &str, path: &str| {
        chart_object(
            name,
            ns.name(),
            json!({
                "chart": path,
                "interval": "1h0m0s",
                "sourceRef": {"kind": "GitRepository", "name": "deps"},
            }),
        )
    };
    charts
        .create(&PostParams::default(), &from_git("app", "charts/app")?)
        .await?;
    let chart = chart_ready_is(&charts, "app", "True", "ChartPackageSucceeded").await?;
    let artifact = chart
        .status
        .as_ref()
        .and_then(|s| s.artifact.clone())
        .expect("artifact");
    assert_eq!(artifact.revision, "1.0.0");
    let (_, tgz) = http_get(&artifact.url).await?;
    let files = driftless_helm::archive::files(&tgz)?;
    let names: Vec<&str> = files.iter().map(|f| f.name.as_str()).collect();
    for expected in [
        "charts/common/Chart.yaml",
        "charts/common/templates/_h.tpl",
        "charts/redis/Chart.yaml",
        "charts/redis/values.yaml",
        "charts/cache/Chart.yaml",
        "charts/cache/values.yaml",
    ] {
        assert!(names.contains(&expected), "{expected} in {names:?}");
    }
    let packaged = driftless_helm::Chart::from_files(files)?;
    let versions: BTreeMap<String, String> = packaged
        .dependencies
        .iter()
        .map(|d| (d.name().to_owned(), d.metadata.version.clone()))
        .collect();
    assert_eq!(
        versions,
        BTreeMap::from([
            ("cache".to_owned(), "0.4.0".to_owned()),
            ("common".to_owned(), "1.3.0".to_owned()),
            ("redis".to_owned(), "2.1.0".to_owned()),
        ])
    );
    driftless_helm::deps::check(&packaged)?;
    // The HTTP dependency went through the HelmRepository's stored index: the chart server
    // saw only the index fetch of the HelmRepository and the chart download.
    let requests = helm.requests();
    assert_eq!(
        requests.iter().filter(|r| r.contains("index.yaml")).count(),
        1,
        "{requests:?}"
    );

    // A missing file:// dependency names itself and the path looked at.
    charts
        .create(
            &PostParams::default(),
            &from_git("broken", "charts/broken")?,
        )
        .await?;
    let chart = chart_ready_is(&charts, "broken", "False", "DependencyBuildError").await?;
    assert_eq!(
        chart_ready(&chart).map(|c| c.message.as_str()),
        Some(
            "dependency build error: failed to build dependencies: failed to add local dependency 'gone': no chart found at '/charts/gone' (reference 'file://../gone')"
        )
    );

    // Repository aliases are not URLs Flux resolves.
    charts
        .create(
            &PostParams::default(),
            &from_git("aliased", "charts/aliased")?,
        )
        .await?;
    let chart = chart_ready_is(&charts, "aliased", "False", "DependencyBuildError").await?;
    assert_eq!(
        chart_ready(&chart).map(|c| c.message.as_str()),
        Some(
            "dependency build error: failed to build dependencies: failed to add remote dependency 'redis': URL validation failed for '@stable': invalid dependency repository URL"
        )
    );

    // Without the HelmRepository's credentials the HTTP repository refuses the anonymous fetch.
    repos.delete("deps", &Default::default()).await?;
    request_reconcile(&gits, "deps", "x").await?;
    merge_spec(
        &charts,
        "app",
        json!({"valuesFiles": ["charts/app/values.yaml"], "ignoreMissingValuesFiles": true}),
    )
    .await?;
    let chart = chart_ready_is(&charts, "app", "False", "DependencyBuildError").await?;
    let message = chart_ready(&chart)
        .map(|c| c.message.clone())
        .unwrap_or_default();
    assert!(
        message.starts_with("dependency build error: failed to build dependencies: failed to add remote dependency 'redis': failed to get chart 'redis' version '>=2.0.0' from '")
            && message.contains("401 Unauthorized"),
        "{message}"
    );
    for name in ["app", "broken", "aliased"] {
        charts.delete(name, &Default::default()).await?;
    }
    controller.stop().await
}
