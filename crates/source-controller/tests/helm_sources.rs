//! HelmRepository and HelmChart end to end: the controller in-process against the local control
//! plane and a loopback chart repository, as a user drives them (publish charts, constrain
//! versions, add credentials, list values files) and as consumers read them (the artifact
//! URL, its digest, the packaged chart).

mod common;
mod helm_common;

use std::collections::BTreeMap;

use common::*;
use driftless_api::source::{HelmChart, HelmRepository};
use helm_common::*;
use k8s_openapi::ByteString;
use k8s_openapi::api::core::v1::Secret;
use kube::api::{Api, PostParams};
use serde_json::json;
use testkit::TestNamespace;
use testkit::helm_repo::HelmRepoServer;

const CHART_VALUES: &str = "replicas: 1\nimage:\n  tag: stable\n";

#[tokio::test]
async fn a_helmrepository_stores_its_index_and_a_helmchart_follows_the_newest_matching_version()
-> anyhow::Result<()> {
    let cluster = testkit::cluster().await?;
    install_helm_crds(&cluster.client).await?;
    let ns = TestNamespace::create(&cluster, "sc-helm").await?;
    let server = HelmRepoServer::start(None).await?;
    server.add_chart("podinfo", "6.0.0", &[("values.yaml", CHART_VALUES)])?;
    server.add_chart("podinfo", "6.1.0", &[("values.yaml", CHART_VALUES)])?;
    server.add_chart("podinfo", "7.0.0-rc.1", &[("values.yaml", CHART_VALUES)])?;
    server.add_chart("podinfo", "5.9.0", &[("values.yaml", CHART_VALUES)])?;
    let controller = RunningController::start(&cluster, ns.name()).await?;
    let repos: Api<HelmRepository> = Api::namespaced(cluster.client.clone(), ns.name());
    let charts: Api<HelmChart> = Api::namespaced(cluster.client.clone(), ns.name());

    create_repository(&repos, "podinfo", ns.name(), &server.url(), json!({})).await?;
    let repo = repo_ready(&repos, "podinfo", "True", "Succeeded").await?;
    let status = repo.status.clone().expect("status");
    let artifact = status.artifact.clone().expect("artifact");
    assert!(artifact.revision.starts_with("sha256:"), "{artifact:?}");
    assert_eq!(
        artifact.revision, artifact.digest,
        "revision is the digest of the stored index"
    );
    assert!(
        artifact.path.ends_with(&format!(
            "index-{}.yaml",
            artifact.revision.trim_start_matches("sha256:")
        )),
        "{}",
        artifact.path
    );
    let ready = find(status.conditions.as_ref(), "Ready").expect("Ready");
    assert_eq!(
        ready.message,
        format!("stored artifact: revision '{}'", artifact.revision)
    );
    // The index is served by the artifact server, matches its digest and lists every version.
    let (code, body) = http_get(&artifact.url).await?;
    assert_eq!(code, 200);
    assert_eq!(sha256(&body), artifact.digest);
    let index: serde_json::Value = serde_json::from_slice(&body)?;
    assert_eq!(
        index["entries"]["podinfo"].as_array().map(Vec::len),
        Some(4)
    );
    let (code, linked) = http_get(status.url.as_deref().expect("status.url")).await?;
    assert_eq!((code, linked), (200, body));
    let (event, _) = wait_event(&cluster.client, ns.name(), "NewArtifact event", |e| {
        e.reason.as_deref() == Some("NewArtifact")
            && e.involved_object.kind.as_deref() == Some("HelmRepository")
    })
    .await?;
    let message = event.message.unwrap_or_default();
    assert!(
        message.starts_with("stored fetched index of size ")
            && message.ends_with(&format!("from '{}'", server.url())),
        "{message}"
    );

    create_chart(
        &charts,
        "podinfo",
        ns.name(),
        "podinfo",
        "podinfo",
        json!({"version": "6.x"}),
    )
    .await?;
    let chart = chart_ready_is(&charts, "podinfo", "True", "ChartPullSucceeded").await?;
    let chart_status = chart.status.clone().expect("status");
    let chart_artifact = chart_status.artifact.clone().expect("artifact");
    assert_eq!(chart_artifact.revision, "6.1.0");
    assert!(
        chart_artifact.path.ends_with("/podinfo-6.1.0.tgz"),
        "{}",
        chart_artifact.path
    );
    assert_eq!(
        chart_ready(&chart).map(|c| c.message.as_str()),
        Some("pulled 'podinfo' chart with version '6.1.0'")
    );
    assert_eq!(chart_status.observed_chart_name.as_deref(), Some("podinfo"));
    assert_eq!(
        chart_status.observed_source_artifact_revision.as_deref(),
        Some(artifact.revision.as_str())
    );
    // The stored chart is the published one, byte for byte.
    let (code, tgz) = http_get(&chart_artifact.url).await?;
    assert_eq!(code, 200);
    assert_eq!(sha256(&tgz), chart_artifact.digest);
    assert!(
        server
            .requests()
            .iter()
            .any(|p| p == "/charts/podinfo-6.1.0.tgz")
    );

    // A newer matching version: the repository's next fetch finds it, the chart follows.
    server.add_chart("podinfo", "6.2.0", &[("values.yaml", CHART_VALUES)])?;
    request_reconcile_helm(&repos, "podinfo", "one").await?;
    let chart = chart_until(&charts, "podinfo", "podinfo moves to 6.2.0", |c| {
        c.status
            .as_ref()
            .and_then(|s| s.artifact.as_ref())
            .is_some_and(|a| a.revision == "6.2.0")
    })
    .await?;
    assert_eq!(chart_ready(&chart).map(|c| c.status.as_str()), Some("True"));

    // A constraint nothing satisfies stalls with Flux's message.
    merge_spec(&charts, "podinfo", json!({"version": "9.*"})).await?;
    let chart = chart_ready_is(&charts, "podinfo", "False", "InvalidChartReference").await?;
    assert_eq!(
        chart_ready(&chart).map(|c| c.message.as_str()),
        Some(
            "invalid chart reference: failed to get chart version for remote reference: no 'podinfo' chart with version matching '9.*' found"
        )
    );
    let stalled = find(
        chart.status.as_ref().and_then(|s| s.conditions.as_ref()),
        "Stalled",
    );
    assert_eq!(stalled.map(|c| c.status.as_str()), Some("True"));

    // Deleting both removes their stored artifacts before the objects go.
    let storage = controller.storage.path().to_path_buf();
    let dirs = [
        storage.join("helmchart").join(ns.name()).join("podinfo"),
        storage
            .join("helmrepository")
            .join(ns.name())
            .join("podinfo"),
    ];
    assert!(dirs.iter().all(|d| d.is_dir()), "{dirs:?}");
    charts.delete("podinfo", &Default::default()).await?;
    repos.delete("podinfo", &Default::default()).await?;
    testkit::wait::until(WAIT, "both objects gone", || {
        let (charts, repos) = (charts.clone(), repos.clone());
        async move {
            let gone = charts
                .get_opt("podinfo")
                .await
                .map_err(|e| e.to_string())?
                .is_none()
                && repos
                    .get_opt("podinfo")
                    .await
                    .map_err(|e| e.to_string())?
                    .is_none();
            Ok(gone.then_some(()))
        }
    })
    .await
    .map_err(anyhow::Error::msg)?;
    assert!(dirs.iter().all(|d| !d.exists()), "{dirs:?}");
    controller.stop().await
}

#[tokio::test]
async fn credentials_are_required_and_a_wrong_password_fails_without_leaking_it()
-> anyhow::Result<()> {
    let cluster = testkit::cluster().await?;
    install_helm_crds(&cluster.client).await?;
    let ns = TestNamespace::create(&cluster, "sc-helm-auth").await?;
    let server = HelmRepoServer::start(Some(("helm", "s3cret-pass"))).await?;
    server.add_chart("podinfo", "1.0.0", &[])?;
    let controller = RunningController::start(&cluster, ns.name()).await?;
    let repos: Api<HelmRepository> = Api::namespaced(cluster.client.clone(), ns.name());
    let charts: Api<HelmChart> = Api::namespaced(cluster.client.clone(), ns.name());
    let secrets: Api<Secret> = Api::namespaced(cluster.client.clone(), ns.name());
    let secret = |name: &str, password: &str| Secret {
        metadata: kube::api::ObjectMeta {
            name: Some(name.to_owned()),
            ..Default::default()
        },
        data: Some(BTreeMap::from([
            ("username".to_owned(), ByteString(b"helm".to_vec())),
            (
                "password".to_owned(),
                ByteString(password.as_bytes().to_vec()),
            ),
        ])),
        ..Default::default()
    };
    secrets
        .create(
            &PostParams::default(),
            &secret("wrong", "not-the-pass-word"),
        )
        .await?;
    secrets
        .create(&PostParams::default(), &secret("right", "s3cret-pass"))
        .await?;

    create_repository(&repos, "anonymous", ns.name(), &server.url(), json!({})).await?;
    let repo = repo_ready(&repos, "anonymous", "False", "Failed").await?;
    let ready = find(
        repo.status.as_ref().and_then(|s| s.conditions.as_ref()),
        "Ready",
    )
    .expect("Ready")
    .message
    .clone();
    assert!(
        ready.starts_with("failed to fetch Helm repository index: failed to fetch ")
            && ready.ends_with(" : 401 Unauthorized"),
        "{ready}"
    );

    create_repository(
        &repos,
        "wrong",
        ns.name(),
        &server.url(),
        json!({"secretRef": {"name": "wrong"}}),
    )
    .await?;
    let repo = repo_ready(&repos, "wrong", "False", "Failed").await?;
    let conditions = repo
        .status
        .as_ref()
        .and_then(|s| s.conditions.clone())
        .unwrap_or_default();
    let fetch_failed = find(Some(&conditions), "FetchFailed").expect("FetchFailed");
    assert!(
        fetch_failed.message.contains("401 Unauthorized"),
        "{}",
        fetch_failed.message
    );
    for condition in &conditions {
        assert!(
            !condition.message.contains("not-the-pass-word"),
            "{condition:?}"
        );
    }

    create_repository(
        &repos,
        "missing",
        ns.name(),
        &server.url(),
        json!({"secretRef": {"name": "nope"}}),
    )
    .await?;
    let repo = repo_ready(&repos, "missing", "False", "AuthenticationFailed").await?;
    let message = find(
        repo.status.as_ref().and_then(|s| s.conditions.as_ref()),
        "Ready",
    )
    .expect("Ready")
    .message
    .clone();
    assert!(
        message.starts_with(&format!("failed to get secret '{}/nope'", ns.name())),
        "{message}"
    );

    // With the right password the index and the chart (same host) both download.
    create_repository(
        &repos,
        "right",
        ns.name(),
        &server.url(),
        json!({"secretRef": {"name": "right"}}),
    )
    .await?;
    repo_ready(&repos, "right", "True", "Succeeded").await?;
    create_chart(&charts, "podinfo", ns.name(), "right", "podinfo", json!({})).await?;
    let chart = chart_ready_is(&charts, "podinfo", "True", "ChartPullSucceeded").await?;
    assert_eq!(
        chart
            .status
            .and_then(|s| s.artifact)
            .map(|a| a.revision)
            .as_deref(),
        Some("1.0.0")
    );
    controller.stop().await
}

#[tokio::test]
async fn a_chart_whose_digest_differs_from_the_index_is_refused() -> anyhow::Result<()> {
    let cluster = testkit::cluster().await?;
    install_helm_crds(&cluster.client).await?;
    let ns = TestNamespace::create(&cluster, "sc-helm-digest").await?;
    let server = HelmRepoServer::start(None).await?;
    let data = testkit::helm_repo::package("podinfo", "1.0.0", &[])?;
    server.publish("podinfo", "1.0.0", data, Some(&"0".repeat(64)));
    let controller = RunningController::start(&cluster, ns.name()).await?;
    let repos: Api<HelmRepository> = Api::namespaced(cluster.client.clone(), ns.name());
    let charts: Api<HelmChart> = Api::namespaced(cluster.client.clone(), ns.name());
    create_repository(&repos, "podinfo", ns.name(), &server.url(), json!({})).await?;
    repo_ready(&repos, "podinfo", "True", "Succeeded").await?;
    create_chart(
        &charts,
        "podinfo",
        ns.name(),
        "podinfo",
        "podinfo",
        json!({}),
    )
    .await?;
    let chart = chart_ready_is(&charts, "podinfo", "False", "ChartPullError").await?;
    let message = chart_ready(&chart)
        .map(|c| c.message.clone())
        .unwrap_or_default();
    assert!(
        message.starts_with(
            "chart pull error: failed to download chart for remote reference: chart digest mismatch"
        ),
        "{message}"
    );
    assert!(
        chart.status.and_then(|s| s.artifact).is_none(),
        "nothing stored"
    );
    controller.stop().await
}

#[tokio::test]
async fn values_files_are_merged_into_a_repackaged_chart_versioned_by_generation()
-> anyhow::Result<()> {
    let cluster = testkit::cluster().await?;
    install_helm_crds(&cluster.client).await?;
    let ns = TestNamespace::create(&cluster, "sc-helm-values").await?;
    let server = HelmRepoServer::start(None).await?;
    server.add_chart(
        "podinfo",
        "6.0.3",
        &[
            ("values.yaml", CHART_VALUES),
            (
                "values-prod.yaml",
                "replicas: 3\nimage:\n  pullPolicy: Always\n",
            ),
        ],
    )?;
    let controller = RunningController::start(&cluster, ns.name()).await?;
    let repos: Api<HelmRepository> = Api::namespaced(cluster.client.clone(), ns.name());
    let charts: Api<HelmChart> = Api::namespaced(cluster.client.clone(), ns.name());
    create_repository(&repos, "podinfo", ns.name(), &server.url(), json!({})).await?;
    create_chart(
        &charts,
        "podinfo",
        ns.name(),
        "podinfo",
        "podinfo",
        json!({"valuesFiles": ["values.yaml", "values-prod.yaml", "absent.yaml"], "ignoreMissingValuesFiles": true}),
    )
    .await?;
    let chart = chart_ready_is(&charts, "podinfo", "True", "ChartPackageSucceeded").await?;
    let status = chart.status.clone().expect("status");
    let artifact = status.artifact.clone().expect("artifact");
    assert_eq!(artifact.revision, "6.0.3+1");
    assert!(
        artifact.path.ends_with("/podinfo-6.0.3+1.tgz"),
        "{}",
        artifact.path
    );
    assert_eq!(
        chart_ready(&chart).map(|c| c.message.as_str()),
        Some(
            "packaged 'podinfo' chart with version '6.0.3+1' and merged values files [values.yaml values-prod.yaml]"
        )
    );
    assert_eq!(
        status.observed_values_files,
        Some(vec![
            "values.yaml".to_owned(),
            "values-prod.yaml".to_owned()
        ])
    );
    let (_, tgz) = http_get(&artifact.url).await?;
    let packaged = driftless_helm::Chart::from_files(driftless_helm::archive::files(&tgz)?)?;
    assert_eq!(packaged.metadata.version, "6.0.3+1");
    assert_eq!(
        serde_json::to_value(&packaged.values)?,
        json!({"replicas": 3.0, "image": {"tag": "stable", "pullPolicy": "Always"}})
    );

    // Without ignoreMissingValuesFiles the absent file is an error naming it.
    merge_spec(
        &charts,
        "podinfo",
        json!({"ignoreMissingValuesFiles": false}),
    )
    .await?;
    let chart = chart_ready_is(&charts, "podinfo", "False", "ValuesFilesError").await?;
    assert_eq!(
        chart_ready(&chart).map(|c| c.message.as_str()),
        Some(
            "values files merge error: failed to merge chart values: no values file found at path 'absent.yaml'"
        )
    );
    controller.stop().await
}

#[tokio::test]
async fn an_unreadable_index_fails_indexation_and_an_oci_repository_stays_static()
-> anyhow::Result<()> {
    let cluster = testkit::cluster().await?;
    install_helm_crds(&cluster.client).await?;
    let ns = TestNamespace::create(&cluster, "sc-helm-index").await?;
    let server = HelmRepoServer::start(None).await?;
    server.set_raw_index(b"entries:\n  podinfo: []\n".to_vec());
    let controller = RunningController::start(&cluster, ns.name()).await?;
    let repos: Api<HelmRepository> = Api::namespaced(cluster.client.clone(), ns.name());
    create_repository(&repos, "broken", ns.name(), &server.url(), json!({})).await?;
    let repo = repo_ready(&repos, "broken", "False", "IndexationFailed").await?;
    let conditions = repo.status.and_then(|s| s.conditions).unwrap_or_default();
    assert_eq!(
        find(Some(&conditions), "FetchFailed").map(|c| c.message.as_str()),
        Some("failed to load Helm repository from index YAML: no API version specified")
    );

    // An OCI HelmRepository is a pointer only: no finalizer, no artifact, no conditions.
    create_repository(
        &repos,
        "oci",
        ns.name(),
        "oci://ghcr.io/stefanprodan/charts",
        json!({"type": "oci"}),
    )
    .await?;
    // The broken repository's next events prove the controller has seen both objects.
    request_reconcile_helm(&repos, "oci", "seen").await?;
    request_reconcile_helm(&repos, "broken", "after-oci").await?;
    testkit::wait::object(&repos, "broken", WAIT, "broken reconciled again", |r| {
        r.status
            .as_ref()
            .and_then(|s| s.last_handled_reconcile_at.as_deref())
            == Some("after-oci")
    })
    .await?;
    let oci = repos.get("oci").await?;
    assert!(oci.metadata.finalizers.unwrap_or_default().is_empty());
    assert!(
        oci.status
            .is_none_or(|s| s.artifact.is_none() && s.conditions.is_none_or(|c| c.is_empty())),
        "an oci HelmRepository gets no status"
    );
    controller.stop().await
}
