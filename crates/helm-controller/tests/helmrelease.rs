//! HelmRelease end to end: source-controller and helm-controller in-process against the local
//! control plane and a loopback Helm repository, driven as a user drives them (create, change
//! values, change a referenced ConfigMap, publish a chart, suspend, delete) and judged by what
//! the cluster, Helm's own storage and the real `helm` binary show.

mod common;

use std::time::Duration;

use common::*;
use driftless_api::helm::HelmRelease;
use driftless_api::source::HelmChart;
use driftless_helm::release::{KubeSecrets, Status, Storage};
use k8s_openapi::api::core::v1::ConfigMap;
use kube::api::{Api, DeleteParams, PostParams};
use serde_json::json;
use testkit::TestNamespace;

#[tokio::test]
async fn a_helmrelease_installs_upgrades_on_values_valuesfrom_and_chart_changes_and_uninstalls_on_deletion()
-> anyhow::Result<()> {
    let cluster = testkit::cluster().await?;
    install_crds(&cluster.client).await?;
    let ns = TestNamespace::create(&cluster, "hc-life").await?;
    let ns = ns.name().to_owned();
    let controllers = Controllers::start(&cluster, &ns, &ns).await?;
    let api: Api<HelmRelease> = Api::namespaced(cluster.client.clone(), &ns);
    let cms: Api<ConfigMap> = Api::namespaced(cluster.client.clone(), &ns);
    let overrides: ConfigMap = serde_json::from_value(json!({
        "apiVersion": "v1", "kind": "ConfigMap",
        "metadata": {"name": "overrides"},
        "data": {"values.yaml": "greeting: from-configmap\n"},
    }))?;
    cms.create(&PostParams::default(), &overrides).await?;

    let hr = helm_release(
        "web",
        &controllers.shard,
        json!({"valuesFrom": [{"kind": "ConfigMap", "name": "overrides"}]}),
    );
    api.create(&PostParams::default(), &hr).await?;
    let hr = wait_released(&api, "web", 1).await?;
    let ready = condition(&hr, "Ready").expect("Ready");
    assert_eq!(ready.reason, "InstallSucceeded");
    assert_eq!(
        ready.message,
        format!("Helm install succeeded for release {ns}/web.v1 with chart demo@0.1.0")
    );
    let released = condition(&hr, "Released").expect("Released");
    assert_eq!(
        (released.status.as_str(), released.reason.as_str()),
        ("True", "InstallSucceeded")
    );
    let status = hr.status.clone().expect("status");
    assert_eq!(status.last_attempted_revision.as_deref(), Some("0.1.0"));
    assert_eq!(
        status.last_attempted_release_action,
        Some(driftless_api::helm::ReleaseAction::Install)
    );
    assert_eq!(status.storage_namespace.as_deref(), Some(ns.as_str()));
    assert_eq!(status.helm_chart, Some(format!("{ns}/{ns}-web")));
    let snapshot = &status.history.as_ref().expect("history")[0];
    assert_eq!(
        (
            snapshot.chart_name.as_str(),
            snapshot.chart_version.as_str(),
            snapshot.status.as_str()
        ),
        ("demo", "0.1.0", "deployed")
    );
    assert_eq!(snapshot.app_version.as_deref(), Some("1.0.0"));
    assert_eq!(
        Some(snapshot.config_digest.clone()),
        status.last_attempted_config_digest
    );
    assert_eq!(
        greeting(&cluster.client, &ns, "web-cfg").await?.as_deref(),
        Some("from-configmap")
    );

    // The HelmChart the release made, labelled with its owner.
    let charts: Api<HelmChart> = Api::namespaced(cluster.client.clone(), &ns);
    let chart = charts.get(&format!("{ns}-web")).await?;
    let labels = chart.metadata.labels.clone().unwrap_or_default();
    assert_eq!(
        labels
            .get("helm.toolkit.fluxcd.io/name")
            .map(String::as_str),
        Some("web")
    );
    assert_eq!(labels.get("helm.toolkit.fluxcd.io/namespace"), Some(&ns));

    // Helm's own storage, and the helm CLI, see the release.
    let storage = Storage::new(KubeSecrets::new(cluster.client.clone(), &ns));
    let stored = storage.last("web").await?.expect("stored release");
    assert_eq!((stored.version, stored.status()), (1, Status::Deployed));
    kubectl(
        &cluster,
        &[
            "wait",
            "-n",
            &ns,
            "--for=condition=Ready",
            "helmrelease/web",
            "--timeout=30s",
        ],
    )?;
    let helm = Helm::new(&cluster)?;
    let list = helm.json(&["list", "-n", &ns, "-o", "json"])?;
    assert_eq!(list[0]["name"], "web");
    assert_eq!(list[0]["status"], "deployed");
    assert_eq!(list[0]["chart"], "demo-0.1.0");

    // Inline values win over valuesFrom: an upgrade to revision 2.
    merge(
        &api,
        "web",
        json!({"spec": {"values": {"greeting": "inline"}}}),
    )
    .await?;
    let hr = wait_released(&api, "web", 2).await?;
    // The templates saw the upgrade and its revision.
    assert_eq!(
        cm_value(&cluster.client, &ns, "web-cfg", "revision")
            .await?
            .as_deref(),
        Some("2")
    );
    assert_eq!(
        cm_value(&cluster.client, &ns, "web-cfg", "upgrade")
            .await?
            .as_deref(),
        Some("true")
    );
    assert_eq!(
        condition(&hr, "Ready").expect("Ready").reason,
        "UpgradeSucceeded"
    );
    assert_eq!(
        greeting(&cluster.client, &ns, "web-cfg").await?.as_deref(),
        Some("inline")
    );

    // A change in the referenced ConfigMap alone triggers an upgrade (no watch label needed).
    merge(&api, "web", json!({"spec": {"values": null}})).await?;
    wait_released(&api, "web", 3).await?;
    cms.patch(
        "overrides",
        &kube::api::PatchParams::default(),
        &kube::api::Patch::Merge(json!({"data": {"values.yaml": "greeting: changed\n"}})),
    )
    .await?;
    let hr = wait_released(&api, "web", 4).await?;
    assert_eq!(
        greeting(&cluster.client, &ns, "web-cfg").await?.as_deref(),
        Some("changed")
    );
    let history: Vec<(i64, String)> = hr
        .status
        .as_ref()
        .and_then(|s| s.history.clone())
        .unwrap_or_default()
        .iter()
        .map(|s| (s.version, s.status.clone()))
        .collect();
    assert_eq!(
        history,
        vec![(4, "deployed".into()), (3, "superseded".into())]
    );

    // A new chart version in the repository reaches the release through its HelmChart.
    controllers.publish_v2()?;
    kubectl(
        &cluster,
        &[
            "annotate",
            "-n",
            &ns,
            "helmrepository/charts",
            "--overwrite",
            "reconcile.fluxcd.io/requestedAt=v2",
        ],
    )?;
    let hr = wait_released(&api, "web", 5).await?;
    assert_eq!(
        hr.status
            .as_ref()
            .and_then(|s| s.last_attempted_revision.as_deref()),
        Some("0.2.0")
    );
    let helm_history = helm.json(&["history", "web", "-n", &ns, "-o", "json"])?;
    let rows: Vec<(i64, String, String)> = helm_history
        .as_array()
        .expect("array")
        .iter()
        .map(|h| {
            (
                h["revision"].as_i64().unwrap_or_default(),
                h["status"].as_str().unwrap_or_default().to_owned(),
                h["chart"].as_str().unwrap_or_default().to_owned(),
            )
        })
        .collect();
    assert_eq!(
        rows.last(),
        Some(&(5, "deployed".to_owned(), "demo-0.2.0".to_owned()))
    );
    assert_eq!(rows.len(), 5, "maxHistory defaults to 5: {rows:?}");

    // Suspended: a values change is not released.
    merge(&api, "web", json!({"spec": {"suspend": true}})).await?;
    merge(
        &api,
        "web",
        json!({"spec": {"values": {"greeting": "while-suspended"}}}),
    )
    .await?;
    tokio::time::sleep(Duration::from_secs(4)).await;
    assert_eq!(storage.last("web").await?.map(|r| r.version), Some(5));
    assert_eq!(
        greeting(&cluster.client, &ns, "web-cfg").await?.as_deref(),
        Some("changed")
    );
    merge(&api, "web", json!({"spec": {"suspend": false}})).await?;
    wait_released(&api, "web", 6).await?;
    assert_eq!(
        greeting(&cluster.client, &ns, "web-cfg").await?.as_deref(),
        Some("while-suspended")
    );

    // Deletion uninstalls: objects, release Secrets and the HelmChart go.
    api.delete("web", &DeleteParams::default()).await?;
    wait_gone(&api, "web").await?;
    assert_eq!(greeting(&cluster.client, &ns, "web-cfg").await?, None);
    assert!(storage.history("web").await?.is_empty());
    assert!(charts.get_opt(&format!("{ns}-web")).await?.is_none());
    controllers.stop().await
}

#[tokio::test]
async fn tests_run_after_a_release_and_values_breaking_the_schema_apply_nothing()
-> anyhow::Result<()> {
    let f = Fixture::start("hc-test").await?;
    let (cluster, ns, api) = (&f.cluster, f.ns.clone(), &f.api);
    f.create(
        "tested",
        json!({"values": {"withTest": true}, "test": {"enable": true}}),
    )
    .await?;
    let hr = wait_released(api, "tested", 1).await?;
    let ready = condition(&hr, "Ready").expect("Ready");
    assert_eq!(ready.reason, "TestSucceeded");
    let test = condition(&hr, "TestSuccess").expect("TestSuccess");
    assert_eq!(
        (test.status.as_str(), test.reason.as_str()),
        ("True", "TestSucceeded")
    );
    assert_eq!(
        test.message,
        format!(
            "Helm test succeeded for release {ns}/tested.v1 with chart demo@0.1.0: 1 test hook(s) completed successfully"
        )
    );
    let hooks = hr
        .status
        .as_ref()
        .and_then(|s| s.history.as_ref())
        .and_then(|h| h[0].test_hooks.clone())
        .expect("test hooks recorded");
    assert_eq!(hooks["tested-test"].phase.as_deref(), Some("Succeeded"));
    // The install event carries the chart version as revision metadata.
    let events: Api<k8s_openapi::api::core::v1::Event> =
        Api::namespaced(cluster.client.clone(), &ns);
    let installed = events
        .list(&Default::default())
        .await?
        .items
        .into_iter()
        .find(|e| e.reason.as_deref() == Some("InstallSucceeded"))
        .expect("an InstallSucceeded event");
    assert_eq!(
        installed
            .metadata
            .annotations
            .unwrap_or_default()
            .get("helm.toolkit.fluxcd.io/revision")
            .map(String::as_str),
        Some("0.1.0")
    );

    // Values that break values.schema.json: a clear condition, no new revision.
    merge(api, "tested", json!({"spec": {"values": {"greeting": 5}}})).await?;
    let hr = wait_failing(api, "tested", "UpgradeFailed").await?;
    let message = &condition(&hr, "Ready").expect("Ready").message;
    assert!(message.contains("greeting"), "{message}");
    assert_eq!(latest_version(&hr), Some(1));
    assert_eq!(
        greeting(&cluster.client, &ns, "tested-cfg")
            .await?
            .as_deref(),
        Some("hello")
    );

    f.finish(&["tested"]).await
}
