//! HelmChart from a GitRepository: the chart directory of the Git artifact packaged with
//! values files from the source root, the `Revision` strategy's commit metadata, a new commit
//! followed through the GitRepository watch, and a chart path that is not there.

mod common;
mod helm_common;

use common::*;
use driftless_api::source::{GitRepository, HelmChart};
use helm_common::*;
use kube::api::{Api, PostParams};
use serde_json::json;
use testkit::TestNamespace;
use testkit::git_server::{GitAuth, GitServer};

const CHART_YAML: &str = "apiVersion: v2\nname: podinfo\nversion: 6.5.0\n";

#[tokio::test]
async fn a_chart_directory_in_git_is_packaged_with_values_files_and_follows_new_commits()
-> anyhow::Result<()> {
    let cluster = testkit::cluster().await?;
    install_crd(&cluster.client).await?;
    install_helm_crds(&cluster.client).await?;
    let ns = TestNamespace::create(&cluster, "sc-helm-git").await?;
    let git = GitServer::start(GitAuth::None).await?;
    let repo = git.create_repo("charts")?;
    let first = repo.commit_files(
        "master",
        &[
            ("charts/podinfo/Chart.yaml", CHART_YAML),
            ("charts/podinfo/values.yaml", "replicas: 1\n"),
            ("charts/podinfo/templates/cm.yaml", "kind: ConfigMap\n"),
            ("env/prod.yaml", "replicas: 5\n"),
        ],
        "Add podinfo chart",
    )?;
    let controller = RunningController::start(&cluster, ns.name()).await?;
    let repos: Api<GitRepository> = Api::namespaced(cluster.client.clone(), ns.name());
    let charts: Api<HelmChart> = Api::namespaced(cluster.client.clone(), ns.name());
    create(
        &repos,
        &git_repository(
            "charts",
            ns.name(),
            &git.url("charts"),
            json!({"ref": {"branch": "master"}}),
        )?,
    )
    .await?;
    let chart = chart_object(
        "podinfo",
        ns.name(),
        json!({
            "chart": "./charts/podinfo",
            "interval": "1h0m0s",
            "reconcileStrategy": "Revision",
            "sourceRef": {"kind": "GitRepository", "name": "charts"},
            "valuesFiles": ["charts/podinfo/values.yaml", "env/prod.yaml"],
        }),
    )?;
    charts.create(&PostParams::default(), &chart).await?;
    let expected = format!("6.5.0+{}.1", &first[..12]);
    let chart = chart_ready_is(&charts, "podinfo", "True", "ChartPackageSucceeded").await?;
    let status = chart.status.clone().expect("status");
    let artifact = status.artifact.clone().expect("artifact");
    assert_eq!(artifact.revision, expected);
    assert_eq!(
        chart_ready(&chart).map(|c| c.message.clone()),
        Some(format!(
            "packaged 'podinfo' chart with version '{expected}' and merged values files [charts/podinfo/values.yaml env/prod.yaml]"
        ))
    );
    assert_eq!(
        status.observed_source_artifact_revision,
        Some(format!("master@sha1:{first}"))
    );
    let (_, tgz) = http_get(&artifact.url).await?;
    let packaged = driftless_helm::Chart::from_files(driftless_helm::archive::files(&tgz)?)?;
    assert_eq!(packaged.metadata.version, expected);
    assert_eq!(
        serde_json::to_value(&packaged.values)?,
        json!({"replicas": 5.0})
    );
    assert_eq!(packaged.templates.len(), 1);

    // A new commit reaches the chart through the GitRepository watch (its interval is 1h).
    let second = repo.commit_files("master", &[("env/prod.yaml", "replicas: 7\n")], "Scale")?;
    request_reconcile(&repos, "charts", "one").await?;
    let expected = format!("6.5.0+{}.1", &second[..12]);
    chart_until(
        &charts,
        "podinfo",
        "chart rebuilt from the new commit",
        |c| {
            c.status
                .as_ref()
                .and_then(|s| s.artifact.as_ref())
                .is_some_and(|a| a.revision == expected)
        },
    )
    .await?;

    // A path that is not in the source is a chart reference error.
    merge_spec(&charts, "podinfo", json!({"chart": "./charts/absent"})).await?;
    let chart = chart_ready_is(&charts, "podinfo", "False", "InvalidChartReference").await?;
    assert_eq!(
        chart_ready(&chart).map(|c| c.message.as_str()),
        Some("invalid chart reference: path not found: ./charts/absent")
    );
    controller.stop().await
}

#[tokio::test]
async fn a_chart_waits_for_a_missing_source_and_builds_once_it_has_an_artifact()
-> anyhow::Result<()> {
    let cluster = testkit::cluster().await?;
    install_crd(&cluster.client).await?;
    install_helm_crds(&cluster.client).await?;
    let ns = TestNamespace::create(&cluster, "sc-helm-wait").await?;
    let git = GitServer::start(GitAuth::None).await?;
    let repo = git.create_repo("charts")?;
    repo.commit_files("master", &[("podinfo/Chart.yaml", CHART_YAML)], "Add chart")?;
    let controller = RunningController::start(&cluster, ns.name()).await?;
    let repos: Api<GitRepository> = Api::namespaced(cluster.client.clone(), ns.name());
    let charts: Api<HelmChart> = Api::namespaced(cluster.client.clone(), ns.name());
    let chart = chart_object(
        "podinfo",
        ns.name(),
        json!({
            "chart": "podinfo",
            "interval": "1h0m0s",
            "sourceRef": {"kind": "GitRepository", "name": "charts"},
        }),
    )?;
    charts.create(&PostParams::default(), &chart).await?;
    let waiting = chart_ready_is(&charts, "podinfo", "False", "SourceUnavailable").await?;
    assert_eq!(
        chart_ready(&waiting).map(|c| c.message.as_str()),
        Some("failed to get source: GitRepository.source.toolkit.fluxcd.io \"charts\" not found")
    );
    // The source appears; its artifact reaches the chart through the GitRepository watch.
    create(
        &repos,
        &git_repository(
            "charts",
            ns.name(),
            &git.url("charts"),
            json!({"ref": {"branch": "master"}}),
        )?,
    )
    .await?;
    let chart = chart_ready_is(&charts, "podinfo", "True", "ChartPackageSucceeded").await?;
    assert_eq!(
        chart
            .status
            .and_then(|s| s.artifact)
            .map(|a| a.revision)
            .as_deref(),
        Some("6.5.0")
    );
    controller.stop().await
}
