//! How a release is retried, tested, forced and labelled: install/upgrade `strategy:
//! RetryOnFailure` (no remediation, no retry limit), `test.filters` and `ignoreFailures`,
//! `reconcile.fluxcd.io/forceAt`, `commonMetadata` on every rendered object, and the chart's
//! NOTES.txt in the release record.

mod common;

use common::*;

use driftless_api::helm::HelmRelease;
use driftless_helm::release::{KubeSecrets, Status, Storage};
use kube::api::Api;
use serde_json::json;

/// Adds chart `suite` to the repository (a ConfigMap, a test Job that passes and a test hook
/// the API server refuses) and makes the HelmRepository index it.
async fn publish_suite(f: &Fixture) -> anyhow::Result<()> {
    let files = [
        (
            "Chart.yaml",
            "apiVersion: v2\nname: suite\nversion: 0.1.0\n",
        ),
        (
            "templates/cm.yaml",
            "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {{ .Release.Name }}-cfg\ndata:\n  greeting: hello\n",
        ),
        ("templates/NOTES.txt", "Release {{ .Release.Name }} is up"),
        (
            "templates/test-ok.yaml",
            "apiVersion: batch/v1\nkind: Job\nmetadata:\n  name: {{ .Release.Name }}-ok\n  annotations:\n    helm.sh/hook: test\nspec:\n  backoffLimit: 0\n  template:\n    spec:\n      restartPolicy: Never\n      containers:\n        - name: t\n          image: busybox\n",
        ),
        (
            "templates/test-bad.yaml",
            "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {{ .Release.Name }}-Bad\n  annotations:\n    helm.sh/hook: test\ndata: {}\n",
        ),
    ];
    f.controllers.repo.add_chart("suite", "0.1.0", &files)?;
    f.reindex_charts("suite").await
}

/// The `chart` block of a HelmRelease of chart `suite`.
fn suite(shard: &str) -> serde_json::Value {
    json!({
        "metadata": {"labels": {SHARD_LABEL: shard}},
        "spec": {
            "chart": "suite",
            "version": "*",
            "interval": "1m",
            "sourceRef": {"kind": "HelmRepository", "name": "charts"},
        },
    })
}

fn retry_strategy() -> serde_json::Value {
    json!({"name": "RetryOnFailure", "retryInterval": "1s"})
}

fn status_of(hr: &HelmRelease) -> driftless_api::helm::HelmReleaseStatus {
    hr.status.clone().unwrap_or_default()
}

#[tokio::test]
async fn retry_on_failure_retries_a_failed_install_by_upgrades_without_remediation_or_stall()
-> anyhow::Result<()> {
    let f = Fixture::start("hc-retry-install").await?;
    let (client, ns, api) = (f.cluster.client.clone(), f.ns.clone(), &f.api);
    f.create(
        "app",
        json!({
            "values": {"broken": true},
            "install": {"strategy": retry_strategy(), "remediation": {"retries": 0}},
            "upgrade": {"strategy": retry_strategy()},
        }),
    )
    .await?;
    // Retried every second: the counters climb past any remediation retries, never stalling.
    let hr = wait_for(api, "app", "app failed three times", |hr| {
        let s = status_of(hr);
        s.install_failures.unwrap_or(0) + s.upgrade_failures.unwrap_or(0) >= 3
    })
    .await?;
    assert!(condition(&hr, "Stalled").is_none());
    assert!(condition(&hr, "Remediated").is_none());
    assert_eq!(status_of(&hr).install_failures, Some(1));
    let ready = condition(&hr, "Ready").expect("Ready");
    assert_eq!(ready.status, "False");
    // Nothing was uninstalled: the failed revisions stay, the install retried as upgrades.
    let storage = Storage::new(KubeSecrets::new(client.clone(), &ns));
    let history = storage.history("app").await?;
    assert!(history.len() >= 2, "{}", history.len());
    assert!(history.iter().all(|r| r.status() == Status::Failed));

    merge(api, "app", json!({"spec": {"values": {"broken": false}}})).await?;
    let hr = wait_for(api, "app", "app Ready after the fix", |hr| {
        condition(hr, "Ready").is_some_and(|c| c.status == "True")
    })
    .await?;
    assert_eq!(
        condition(&hr, "Ready").expect("Ready").reason,
        "UpgradeSucceeded"
    );
    f.finish(&["app"]).await
}

#[tokio::test]
async fn retry_on_failure_does_not_roll_back_a_failed_upgrade() -> anyhow::Result<()> {
    let f = Fixture::start("hc-retry-upgrade").await?;
    let (client, ns, api) = (f.cluster.client.clone(), f.ns.clone(), &f.api);
    f.create(
        "app",
        json!({
            "values": {"greeting": "good"},
            "upgrade": {"strategy": retry_strategy(), "remediation": {"retries": 1}},
        }),
    )
    .await?;
    wait_released(api, "app", 1).await?;
    merge(
        api,
        "app",
        json!({"spec": {"values": {"greeting": "bad", "broken": true}}}),
    )
    .await?;
    let hr = wait_for(api, "app", "app's upgrade failed three times", |hr| {
        status_of(hr).upgrade_failures.unwrap_or(0) >= 3
    })
    .await?;
    assert!(condition(&hr, "Stalled").is_none());
    assert!(condition(&hr, "Remediated").is_none());
    assert_eq!(
        condition(&hr, "Ready").expect("Ready").reason,
        "UpgradeFailed"
    );
    let storage = Storage::new(KubeSecrets::new(client.clone(), &ns));
    let history = storage.history("app").await?;
    assert!(
        history
            .iter()
            .all(|r| r.version == 1 || r.status() == Status::Failed),
        "no rollback revision"
    );
    assert_eq!(
        greeting(&client, &ns, "app-cfg").await?.as_deref(),
        Some("good")
    );
    f.finish(&["app"]).await
}

#[tokio::test]
async fn test_filters_pick_the_hooks_and_ignored_test_failures_leave_the_release_ready()
-> anyhow::Result<()> {
    let f = Fixture::start("hc-test-filters").await?;
    let (client, ns, api) = (f.cluster.client.clone(), f.ns.clone(), &f.api);
    publish_suite(&f).await?;
    let shard = f.controllers.shard.clone();
    f.create(
        "filtered",
        json!({
            "chart": suite(&shard),
            "test": {"enable": true, "filters": [{"name": "filtered-Bad", "exclude": true}]},
        }),
    )
    .await?;
    f.create(
        "included",
        json!({
            "chart": suite(&shard),
            "test": {"enable": true, "filters": [{"name": "included-ok"}]},
        }),
    )
    .await?;
    f.create(
        "ignored",
        json!({"chart": suite(&shard), "test": {"enable": true, "ignoreFailures": true}}),
    )
    .await?;

    for name in ["filtered", "included"] {
        let hr = wait_released(api, name, 1).await?;
        assert_eq!(
            condition(&hr, "Ready").expect("Ready").reason,
            "TestSucceeded"
        );
        let hooks = status_of(&hr).history.expect("history")[0]
            .test_hooks
            .clone()
            .expect("test hooks recorded");
        assert_eq!(
            hooks[&format!("{name}-ok")].phase.as_deref(),
            Some("Succeeded"),
            "{name}"
        );
        assert_eq!(hooks[&format!("{name}-Bad")].phase, None, "{name}");
    }

    let hr = wait_for(api, "ignored", "ignored's test failed", |hr| {
        condition(hr, "TestSuccess").is_some_and(|c| c.status == "False")
    })
    .await?;
    let test = condition(&hr, "TestSuccess").expect("TestSuccess");
    assert_eq!(test.reason, "TestFailed");
    assert!(
        test.message.starts_with(&format!(
            "Helm test failed for release {ns}/ignored.v1 with chart suite@0.1.0"
        )),
        "{}",
        test.message
    );
    let hr = wait_for(api, "ignored", "ignored Ready", |hr| {
        condition(hr, "Ready").is_some_and(|c| c.status == "True")
    })
    .await?;
    assert_eq!(
        condition(&hr, "Ready").expect("Ready").reason,
        "InstallSucceeded"
    );
    assert!(condition(&hr, "Remediated").is_none());
    assert_eq!(status_of(&hr).install_failures, None);
    let storage = Storage::new(KubeSecrets::new(client.clone(), &ns));
    let last = storage.last("ignored").await?.expect("kept");
    assert_eq!(last.status(), Status::Deployed);
    // NOTES.txt is rendered into the release record, where `helm get notes` reads it.
    assert_eq!(
        last.info.clone().unwrap_or_default().notes,
        "Release ignored is up"
    );

    f.finish(&["filtered", "included", "ignored"]).await
}

#[tokio::test]
async fn force_at_upgrades_an_in_sync_release_once_and_common_metadata_labels_every_object()
-> anyhow::Result<()> {
    let f = Fixture::start("hc-force").await?;
    let (client, ns, api) = (f.cluster.client.clone(), f.ns.clone(), &f.api);
    f.create(
        "app",
        json!({"commonMetadata": {"labels": {"team": "a"}, "annotations": {"owner": "ops"}}}),
    )
    .await?;
    let hr = wait_released(api, "app", 1).await?;
    let digest = status_of(&hr).observed_common_metadata_digest;
    assert!(
        digest.as_deref().is_some_and(|d| d.starts_with("sha256:")),
        "{digest:?}"
    );
    let cms: Api<k8s_openapi::api::core::v1::ConfigMap> = Api::namespaced(client.clone(), &ns);
    let cm = cms.get("app-cfg").await?;
    assert_eq!(cm.metadata.labels.clone().unwrap_or_default()["team"], "a");
    assert_eq!(
        cm.metadata.annotations.clone().unwrap_or_default()["owner"],
        "ops"
    );

    // A changed commonMetadata upgrades the otherwise unchanged release.
    merge(
        api,
        "app",
        json!({"spec": {"commonMetadata": {"labels": {"team": "b"}}}}),
    )
    .await?;
    let hr = wait_released(api, "app", 2).await?;
    assert_ne!(status_of(&hr).observed_common_metadata_digest, digest);
    let cm = cms.get("app-cfg").await?;
    assert_eq!(cm.metadata.labels.unwrap_or_default()["team"], "b");

    // forceAt with the same requestedAt: one upgrade although nothing changed.
    let annotate = |token: &str, force: bool| {
        let mut annotations = json!({"reconcile.fluxcd.io/requestedAt": token});
        if force {
            annotations["reconcile.fluxcd.io/forceAt"] = json!(token);
        }
        json!({"metadata": {"annotations": annotations}})
    };
    merge(api, "app", annotate("t1", true)).await?;
    let hr = wait_released(api, "app", 3).await?;
    let status = status_of(&hr);
    assert_eq!(status.last_handled_force_at.as_deref(), Some("t1"));
    assert_eq!(
        cm_value(&client, &ns, "app-cfg", "revision")
            .await?
            .as_deref(),
        Some("3")
    );
    // A plain reconcile request afterwards does not force again.
    merge(api, "app", annotate("t2", false)).await?;
    let hr = wait_for(api, "app", "app handled requestedAt t2", |hr| {
        status_of(hr).last_handled_reconcile_at.as_deref() == Some("t2")
            && condition(hr, "Ready").is_some_and(|c| c.status == "True")
    })
    .await?;
    assert_eq!(latest_version(&hr), Some(3));
    f.finish(&["app"]).await
}
