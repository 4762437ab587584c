//! Drift detection and correction against the local control plane: a release's Deployment
//! scaled by another field manager, a ConfigMap edited or deleted behind Helm's back, judged by
//! the cluster's objects, the `Drifted` condition and the events, with `driftDetection` off,
//! `warn`, `enabled`, with ignore rules and with the opt-out annotation.

mod common;

use std::time::Duration;

use common::*;
use driftless_api::helm::HelmRelease;
use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::{ConfigMap, Event};
use kube::api::{Api, DeleteParams, Patch, PatchParams};
use serde_json::{Value, json};

/// Another field manager (as `kubectl scale`, `kubectl edit` or an HPA would) merges `patch`
/// into object `name`.
async fn intrude<K>(client: &kube::Client, ns: &str, name: &str, patch: Value) -> anyhow::Result<()>
where
    K: kube::Resource<Scope = k8s_openapi::NamespaceResourceScope>
        + Clone
        + serde::de::DeserializeOwned
        + std::fmt::Debug,
    K::DynamicType: Default,
{
    let api: Api<K> = Api::namespaced(client.clone(), ns);
    let params = PatchParams {
        field_manager: Some("intruder".into()),
        ..PatchParams::default()
    };
    api.patch(name, &params, &Patch::Merge(patch)).await?;
    Ok(())
}

/// `spec.replicas` of Deployment `name` changed by another field manager.
async fn scale(client: &kube::Client, ns: &str, name: &str, replicas: i32) -> anyhow::Result<()> {
    intrude::<Deployment>(client, ns, name, json!({"spec": {"replicas": replicas}})).await
}

/// `data.greeting` of ConfigMap `name` changed by another field manager.
async fn tamper(client: &kube::Client, ns: &str, name: &str) -> anyhow::Result<()> {
    intrude::<ConfigMap>(client, ns, name, json!({"data": {"greeting": "tampered"}})).await
}

async fn replicas(client: &kube::Client, ns: &str, name: &str) -> anyhow::Result<Option<i32>> {
    let api: Api<Deployment> = Api::namespaced(client.clone(), ns);
    Ok(api.get(name).await?.spec.replicas)
}

/// Asks for a reconcile with token `token` and waits until it is handled with `check` true.
async fn reconcile_until(
    api: &Api<HelmRelease>,
    name: &str,
    token: &str,
    what: &str,
    check: impl Fn(&HelmRelease) -> bool,
) -> anyhow::Result<HelmRelease> {
    merge(
        api,
        name,
        json!({"metadata": {"annotations": {"reconcile.fluxcd.io/requestedAt": token}}}),
    )
    .await?;
    wait_for(api, name, what, |hr| {
        hr.status
            .as_ref()
            .and_then(|s| s.last_handled_reconcile_at.as_deref())
            == Some(token)
            && check(hr)
    })
    .await
}

fn drifted(hr: &HelmRelease) -> Option<(String, String, String)> {
    condition(hr, "Drifted").map(|c| (c.status.clone(), c.reason.clone(), c.message.clone()))
}

fn ready(hr: &HelmRelease) -> bool {
    condition(hr, "Ready").is_some_and(|c| c.status == "True")
}

/// The messages of the events with `reason` in `ns`.
async fn events(client: &kube::Client, ns: &str, reason: &str) -> anyhow::Result<Vec<String>> {
    let api: Api<Event> = Api::namespaced(client.clone(), ns);
    Ok(api
        .list(&Default::default())
        .await?
        .items
        .into_iter()
        .filter(|e| e.reason.as_deref() == Some(reason))
        .filter_map(|e| e.message)
        .collect())
}

/// Polls `check` until it holds.
async fn eventually<F, Fut>(what: &str, check: F) -> anyhow::Result<()>
where
    F: Fn() -> Fut,
    Fut: std::future::Future<Output = anyhow::Result<bool>>,
{
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        if check().await? {
            return Ok(());
        }
        if tokio::time::Instant::now() >= deadline {
            anyhow::bail!("timed out waiting for {what}");
        }
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
}

fn spec(mode: &str, ignore: Value) -> Value {
    json!({
        "values": {"deployment": true},
        "driftDetection": {"mode": mode, "ignore": ignore},
    })
}

#[tokio::test]
async fn with_drift_detection_enabled_a_scaled_deployment_is_scaled_back_and_a_deleted_object_is_recreated()
-> anyhow::Result<()> {
    let f = Fixture::start("hc-drift-on").await?;
    let (client, ns) = (f.cluster.client.clone(), f.ns.clone());
    f.create("web", spec("enabled", json!([]))).await?;
    wait_released(&f.api, "web", 1).await?;
    let hr = reconcile_until(&f.api, "web", "1", "no drift", |hr| {
        drifted(hr).is_some_and(|d| d.1 == "NoDriftDetected")
    })
    .await?;
    assert_eq!(
        drifted(&hr),
        Some((
            "False".into(),
            "NoDriftDetected".into(),
            "No drift detected against the cluster state.".into()
        ))
    );

    scale(&client, &ns, "web-app", 3).await?;
    let hr = reconcile_until(&f.api, "web", "2", "drift detected", |hr| {
        drifted(hr).is_some_and(|d| d.1 == "DriftDetected")
    })
    .await?;
    assert!(ready(&hr), "drift correction keeps the release Ready");
    assert_eq!(latest_version(&hr), Some(1), "corrected without an upgrade");
    assert_eq!(
        drifted(&hr).map(|d| d.2),
        Some(format!(
            "Cluster state of release {ns}/web.v1 has drifted from the desired state:\nDeployment/{ns}/web-app changed (0 additions, 1 changes, 0 removals)"
        ))
    );
    assert_eq!(replicas(&client, &ns, "web-app").await?, Some(1));
    let want = format!(
        "Cluster state of release {ns}/web.v1 has been corrected:\nDeployment/{ns}/web-app configured"
    );
    eventually("a DriftCorrected event", || async {
        Ok(events(&client, &ns, "DriftCorrected")
            .await?
            .contains(&want))
    })
    .await?;

    let cms: Api<ConfigMap> = Api::namespaced(client.clone(), &ns);
    cms.delete("web-cfg", &DeleteParams::default()).await?;
    reconcile_until(&f.api, "web", "3", "the ConfigMap recreated", |hr| {
        drifted(hr).is_some_and(|d| d.2.contains("ConfigMap"))
    })
    .await?;
    assert_eq!(
        greeting(&client, &ns, "web-cfg").await?.as_deref(),
        Some("hello")
    );
    let recreated = cms.get("web-cfg").await?;
    let labels = recreated.metadata.labels.unwrap_or_default();
    assert_eq!(
        labels
            .get("app.kubernetes.io/managed-by")
            .map(String::as_str),
        Some("Helm")
    );
    assert_eq!(
        labels
            .get("helm.toolkit.fluxcd.io/name")
            .map(String::as_str),
        Some("web")
    );

    reconcile_until(&f.api, "web", "4", "no drift after the corrections", |hr| {
        drifted(hr).is_some_and(|d| d.1 == "NoDriftDetected")
    })
    .await?;
    f.finish(&["web"]).await
}

#[tokio::test]
async fn with_drift_detection_in_warn_mode_drift_is_reported_and_left_in_place()
-> anyhow::Result<()> {
    let f = Fixture::start("hc-drift-warn").await?;
    let (client, ns) = (f.cluster.client.clone(), f.ns.clone());
    f.create("web", spec("warn", json!([]))).await?;
    wait_released(&f.api, "web", 1).await?;
    scale(&client, &ns, "web-app", 3).await?;
    let hr = reconcile_until(&f.api, "web", "1", "drift detected", |hr| {
        drifted(hr).is_some_and(|d| d.1 == "DriftDetected")
    })
    .await?;
    assert!(ready(&hr), "warn mode keeps the release Ready");
    let want = format!("Deployment/{ns}/web-app changed");
    eventually("a DriftDetected event", || async {
        let warned = events(&client, &ns, "DriftDetected").await?;
        Ok(warned.iter().any(|m| m.contains(&want)))
    })
    .await?;
    // Nothing corrects it, now or at the next reconcile.
    reconcile_until(&f.api, "web", "2", "drift still detected", |hr| {
        drifted(hr).is_some_and(|d| d.0 == "True")
    })
    .await?;
    assert_eq!(replicas(&client, &ns, "web-app").await?, Some(3));
    assert!(events(&client, &ns, "DriftCorrected").await?.is_empty());

    // Turned off: no detection, no condition.
    merge(
        &f.api,
        "web",
        json!({"spec": {"driftDetection": {"mode": "disabled"}}}),
    )
    .await?;
    wait_for(&f.api, "web", "no Drifted condition", |hr| {
        drifted(hr).is_none() && ready(hr)
    })
    .await?;
    assert_eq!(replicas(&client, &ns, "web-app").await?, Some(3));
    f.finish(&["web"]).await
}

#[tokio::test]
async fn ignored_paths_and_opted_out_objects_are_left_as_the_cluster_has_them() -> anyhow::Result<()>
{
    let f = Fixture::start("hc-drift-ignore").await?;
    let (client, ns) = (f.cluster.client.clone(), f.ns.clone());
    let ignore = json!([{"paths": ["/spec/replicas"], "target": {"kind": "Deploy.*"}}]);
    f.create("web", spec("enabled", ignore)).await?;
    wait_released(&f.api, "web", 1).await?;

    // The ignored path alone is no drift.
    scale(&client, &ns, "web-app", 3).await?;
    reconcile_until(&f.api, "web", "1", "no drift", |hr| {
        drifted(hr).is_some_and(|d| d.1 == "NoDriftDetected")
    })
    .await?;
    // With other drift in the same release, the ignored path is still left alone.
    tamper(&client, &ns, "web-cfg").await?;
    reconcile_until(&f.api, "web", "2", "the ConfigMap corrected", |hr| {
        drifted(hr).is_some_and(|d| d.1 == "DriftDetected")
    })
    .await?;
    assert_eq!(
        greeting(&client, &ns, "web-cfg").await?.as_deref(),
        Some("hello")
    );
    assert_eq!(replicas(&client, &ns, "web-app").await?, Some(3));

    // An object annotated helm.toolkit.fluxcd.io/driftDetection: disabled is not compared.
    let cms: Api<ConfigMap> = Api::namespaced(client.clone(), &ns);
    cms.patch(
        "web-cfg",
        &PatchParams::default(),
        &Patch::Merge(json!({"metadata": {"annotations": {
            "helm.toolkit.fluxcd.io/driftDetection": "disabled"}}})),
    )
    .await?;
    tamper(&client, &ns, "web-cfg").await?;
    reconcile_until(&f.api, "web", "3", "no drift", |hr| {
        drifted(hr).is_some_and(|d| d.1 == "NoDriftDetected")
    })
    .await?;
    eventually("the tampered ConfigMap left alone", || async {
        Ok(greeting(&client, &ns, "web-cfg").await?.as_deref() == Some("tampered"))
    })
    .await?;
    f.finish(&["web"]).await
}
