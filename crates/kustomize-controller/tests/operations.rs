//! kustomize-controller as operators and tools see it: `kubectl wait --for=condition=Ready`, the
//! Kubernetes Events (change set and success), `gotk_reconcile_duration_seconds` on `/metrics`,
//! and a controller killed in the middle of applying, restarted, converging with nothing lost
//! and nothing duplicated.

mod common;

use common::*;
use k8s_openapi::api::core::v1::Event;
use kube::api::{Api, ListParams};
use serde_json::json;

/// Runs the control plane's kubectl off the test's runtime thread (the controller under test
/// runs on that thread, and `kubectl wait` waits for it).
async fn kubectl(cluster: &testkit::TestCluster, args: &[&str]) -> anyhow::Result<String> {
    let mut command = tokio::process::Command::new(cluster.plane.bin_dir().join("kubectl"));
    let output = command
        .env("KUBECONFIG", cluster.plane.kubeconfig_path())
        .args(args)
        .output()
        .await?;
    anyhow::ensure!(
        output.status.success(),
        "kubectl {args:?}: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    Ok(String::from_utf8(output.stdout)?)
}

/// A just-released loopback port, for a controller to bind itself.
async fn free_port() -> anyhow::Result<u16> {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    Ok(listener.local_addr()?.port())
}

#[tokio::test]
async fn kubectl_wait_events_and_metrics_see_a_reconciled_kustomization() -> anyhow::Result<()> {
    let metrics_addr = format!("127.0.0.1:{}", free_port().await?);
    let flag = format!("--metrics-addr={metrics_addr}");
    let mut f = fixture("ks-ops", &[&flag]).await?;
    let revision = f
        .source
        .publish(&f.cluster.client, &[("cm.yaml", &config_map("app", "1"))])
        .await?;
    f.create("apps", json!({"targetNamespace": f.ns.name()}))
        .await?;
    kubectl(
        &f.cluster,
        &[
            "wait",
            "--for=condition=Ready",
            "kustomization/apps",
            "-n",
            f.ns.name(),
            "--timeout=60s",
        ],
    )
    .await?;
    wait_applied(&f.api, "apps", &revision).await?;

    let events: Api<Event> = Api::namespaced(f.cluster.client.clone(), f.ns.name());
    let wanted = format!("ConfigMap/{}/app created", f.ns.name());
    let found = testkit::wait::until(WAIT, "the change set and success events", || async {
        let list = events
            .list(&ListParams::default())
            .await
            .map_err(|e| e.to_string())?;
        let change = list.items.iter().any(|e| {
            e.reason.as_deref() == Some("Progressing")
                && e.message.as_deref().is_some_and(|m| m.contains(&wanted))
        });
        let success = list.items.iter().find(|e| {
            e.reason.as_deref() == Some("ReconciliationSucceeded")
                && e.message
                    .as_deref()
                    .is_some_and(|m| m.starts_with("Reconciliation finished in"))
        });
        Ok(success.filter(|_| change).cloned())
    })
    .await
    .map_err(anyhow::Error::msg)?;
    let annotations = found.metadata.annotations.unwrap_or_default();
    assert_eq!(
        annotations
            .get("kustomize.toolkit.fluxcd.io/revision")
            .map(String::as_str),
        Some(revision.as_str())
    );
    assert_eq!(
        found.reporting_component.as_deref(),
        Some("kustomize-controller")
    );

    let series = format!(
        "gotk_reconcile_duration_seconds_count{{kind=\"Kustomization\",name=\"apps\",namespace=\"{}\"}}",
        f.ns.name()
    );
    let url = format!("http://{metrics_addr}/metrics");
    testkit::wait::until(WAIT, "the reconcile duration series", || async {
        let (code, body) = testkit::http_get(&url).await.map_err(|e| e.to_string())?;
        let text = String::from_utf8_lossy(&body).into_owned();
        Ok((code == 200 && text.contains(&series)).then_some(()))
    })
    .await
    .map_err(anyhow::Error::msg)?;
    f.finish().await
}

#[tokio::test]
async fn a_controller_killed_mid_apply_converges_after_restart_with_nothing_lost()
-> anyhow::Result<()> {
    let mut f = fixture("ks-killed", &[]).await?;
    let manifests: Vec<(String, String)> = (0..40)
        .map(|i| {
            (
                format!("cm-{i:02}.yaml"),
                config_map(&format!("cm-{i:02}"), &i.to_string()),
            )
        })
        .collect();
    let files: Vec<(&str, &str)> = manifests
        .iter()
        .map(|(p, c)| (p.as_str(), c.as_str()))
        .collect();
    let revision = f.source.publish(&f.cluster.client, &files).await?;
    f.create("apps", json!({"targetNamespace": f.ns.name()}))
        .await?;
    // Kill as soon as the first objects exist, while the rest are being applied.
    testkit::wait::until(WAIT, "the apply to start", || async {
        let list = f
            .config_maps
            .list(&ListParams::default().labels("kustomize.toolkit.fluxcd.io/name=apps"))
            .await
            .map_err(|e| e.to_string())?;
        Ok((!list.items.is_empty()).then_some(()))
    })
    .await
    .map_err(anyhow::Error::msg)?;
    let shard = f.controller.shard.clone();
    f.controller.abort();
    f.controller = RunningController::start(&f.cluster, &shard, &[]).await?;
    let ks = wait_applied(&f.api, "apps", &revision).await?;
    let list = f
        .config_maps
        .list(&ListParams::default().labels("kustomize.toolkit.fluxcd.io/name=apps"))
        .await?;
    let mut names: Vec<String> = list
        .items
        .iter()
        .filter_map(|c| c.metadata.name.clone())
        .collect();
    names.sort();
    let expected: Vec<String> = (0..40).map(|i| format!("cm-{i:02}")).collect();
    assert_eq!(names, expected);
    assert_eq!(
        ks.status.and_then(|s| s.inventory).map(|i| i.entries.len()),
        Some(40)
    );
    f.finish().await
}
