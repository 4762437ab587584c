//! The event server against the local control plane: a Kustomization failure event produces
//! exactly one signed alert at a loopback generic-hmac endpoint, duplicates are refused, and
//! events the Alert does not select go nowhere; then the same end to end with the real
//! kustomize-controller posting to this server.

mod common;

use std::collections::BTreeMap;
use std::time::Duration;

use clap::Parser;
use common::{RunningController, Sink, WAIT, create_secret, hmac_sha256, http, install_crds};
use driftless_api::notification::{Alert, Provider};
use driftless_runtime::events::FluxEvent;
use k8s_openapi::api::core::v1::ObjectReference;
use kube::api::{Api, DynamicObject, Patch, PatchParams, PostParams};
use serde_json::{Value, json};
use testkit::TestNamespace;

const TOKEN: &str = "alert-hmac-token-2f9c";

/// A Provider of `type_` at `address` signing with `TOKEN`, and an Alert on Kustomizations of
/// `severity` in `ns`.
async fn create_alerting(
    client: &kube::Client,
    ns: &str,
    address: &str,
    severity: &str,
) -> anyhow::Result<()> {
    create_secret(client, ns, "hmac-token", &[("token", TOKEN)]).await?;
    let provider: Provider = serde_json::from_value(json!({
        "apiVersion": "notification.toolkit.fluxcd.io/v1beta3",
        "kind": "Provider",
        "metadata": {"name": "sink"},
        "spec": {"type": "generic-hmac", "address": address, "secretRef": {"name": "hmac-token"}},
    }))?;
    Api::<Provider>::namespaced(client.clone(), ns)
        .create(&PostParams::default(), &provider)
        .await?;
    let alert: Alert = serde_json::from_value(json!({
        "apiVersion": "notification.toolkit.fluxcd.io/v1beta3",
        "kind": "Alert",
        "metadata": {"name": "failures"},
        "spec": {
            "providerRef": {"name": "sink"},
            "eventSeverity": severity,
            "eventSources": [{"kind": "Kustomization", "name": "*"}],
            "eventMetadata": {"cluster": "dev-1"},
        },
    }))?;
    Api::<Alert>::namespaced(client.clone(), ns)
        .create(&PostParams::default(), &alert)
        .await?;
    Ok(())
}

fn failure_event(ns: &str, severity: &str, message: &str) -> FluxEvent {
    FluxEvent {
        involved_object: ObjectReference {
            api_version: Some("kustomize.toolkit.fluxcd.io/v1".into()),
            kind: Some("Kustomization".into()),
            name: Some("webapp".into()),
            namespace: Some(ns.into()),
            uid: Some("7d0cdc51-ddcf-4743-b223-83ca5c699632".into()),
            ..ObjectReference::default()
        },
        severity: severity.into(),
        timestamp: "2026-01-02T03:04:05Z".into(),
        message: message.into(),
        reason: "BuildFailed".into(),
        metadata: BTreeMap::from([
            (
                "kustomize.toolkit.fluxcd.io/revision".into(),
                "main@sha1:731f7ead".into(),
            ),
            (
                "kustomize.toolkit.fluxcd.io/token".into(),
                "de-dup-token".into(),
            ),
            (
                "kustomize.toolkit.fluxcd.io/checksum".into(),
                "c0ffee".into(),
            ),
        ]),
        reporting_controller: "kustomize-controller".into(),
        reporting_instance: "kustomize-controller-0".into(),
    }
}

async fn post(url: &str, event: &FluxEvent) -> anyhow::Result<u16> {
    let body = serde_json::to_vec(event)?;
    Ok(http(
        "POST",
        &format!("{url}/"),
        &[("Content-Type", "application/json")],
        &body,
    )
    .await?
    .status)
}

#[tokio::test]
async fn a_kustomization_failure_produces_exactly_one_signed_alert() -> anyhow::Result<()> {
    let cluster = testkit::cluster().await?;
    install_crds(&cluster.client).await?;
    let ns = TestNamespace::create(&cluster, "nc-events").await?;
    let sink = Sink::start().await?;
    create_alerting(
        &cluster.client,
        ns.name(),
        &format!("{}/alerts", sink.url),
        "error",
    )
    .await?;
    let controller = RunningController::start(&cluster, "nc-events", &[]).await?;
    let url = &controller.events_url;

    let message = "kustomization path not found: ./apps";
    assert_eq!(
        post(
            url,
            &failure_event(ns.name(), "info", "Reconciliation finished")
        )
        .await?,
        202
    );
    assert_eq!(
        post(url, &failure_event("elsewhere", "error", message)).await?,
        202
    );
    let failure = failure_event(ns.name(), "error", message);
    assert_eq!(post(url, &failure).await?, 202);
    assert_eq!(
        post(url, &failure).await?,
        429,
        "a duplicate is rate limited"
    );
    let bad = http("POST", &format!("{url}/"), &[], b"{not json").await?;
    assert_eq!(bad.status, 400);

    let received = sink.wait_for(1).await?;
    // Anything else would have been dispatched together with the failure.
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert_eq!(sink.received().len(), 1, "exactly one alert");
    let alert = &received[0];
    assert_eq!(alert.path, "/alerts");
    assert_eq!(
        alert.headers.get("x-signature"),
        Some(&format!("sha256={}", hmac_sha256(TOKEN, &alert.body)))
    );
    assert_eq!(
        alert.headers.get("gotk-component").map(String::as_str),
        Some("kustomize-controller")
    );
    let body: Value = serde_json::from_slice(&alert.body)?;
    assert_eq!(
        body,
        json!({
            "involvedObject": {
                "apiVersion": "kustomize.toolkit.fluxcd.io/v1",
                "kind": "Kustomization",
                "name": "webapp",
                "namespace": ns.name(),
                "uid": "7d0cdc51-ddcf-4743-b223-83ca5c699632",
            },
            "severity": "error",
            "timestamp": "2026-01-02T03:04:05Z",
            "message": message,
            "reason": "BuildFailed",
            "metadata": {"revision": "main@sha1:731f7ead", "cluster": "dev-1"},
            "reportingController": "kustomize-controller",
            "reportingInstance": "kustomize-controller-0",
        })
    );
    controller.stop().await
}

#[derive(Debug, Parser)]
struct KustomizeCli {
    #[command(flatten)]
    args: driftless_kustomize_controller::Args,
}

#[tokio::test]
async fn a_failing_kustomization_under_the_real_kustomize_controller_alerts_once()
-> anyhow::Result<()> {
    let cluster = testkit::cluster().await?;
    install_crds(&cluster.client).await?;
    let client = &cluster.client;
    let ns = TestNamespace::create(&cluster, "nc-e2e").await?;
    let sink = Sink::start().await?;
    create_alerting(client, ns.name(), &sink.url, "error").await?;
    let controller = RunningController::start(&cluster, "nc-e2e", &[]).await?;

    // A source whose artifact cannot be fetched: every attempt fails the same way.
    let sources = common::flux_api(client, ns.name(), "GitRepository");
    common::create_inert_git_repository(client, ns.name(), "fleet").await?;
    let closed = common::free_port()?;
    let status = json!({"status": {"artifact": {
        "digest": "sha256:0000000000000000000000000000000000000000000000000000000000000000",
        "lastUpdateTime": "2026-01-01T00:00:00Z",
        "path": "gitrepository/fleet/1.tar.gz",
        "revision": "main@sha1:0000000000000000000000000000000000000001",
        "size": 10,
        "url": format!("http://127.0.0.1:{closed}/gitrepository/fleet/1.tar.gz"),
    }}});
    sources
        .patch_status("fleet", &PatchParams::default(), &Patch::Merge(status))
        .await?;

    let shard = "nc-e2e-ks";
    let argv = [
        "kustomize-controller".to_owned(),
        "--metrics-addr=0".to_owned(),
        "--health-addr=0".to_owned(),
        format!("--events-addr={}/", controller.events_url),
        format!("--watch-label-selector=driftless.test/shard={shard}"),
        "--min-retry-delay=200ms".to_owned(),
        "--max-retry-delay=1s".to_owned(),
        "--http-retry=0".to_owned(),
    ];
    let args = KustomizeCli::try_parse_from(argv)?.args;
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    let kustomize = tokio::spawn(driftless_kustomize_controller::run(
        args,
        cluster.plane.config().await?,
        async move {
            let _ = rx.await;
        },
    ));
    let ks: DynamicObject = serde_json::from_value(json!({
        "apiVersion": "kustomize.toolkit.fluxcd.io/v1", "kind": "Kustomization",
        "metadata": {"name": "webapp", "labels": {"driftless.test/shard": shard}},
        "spec": {"interval": "10m", "path": "./", "prune": true,
                 "sourceRef": {"kind": "GitRepository", "name": "fleet"}},
    }))?;
    let kustomizations = common::flux_api(client, ns.name(), "Kustomization");
    kustomizations.create(&PostParams::default(), &ks).await?;

    let received = sink.wait_for(1).await?;
    // The controller retries with backoff (200ms..1s); each retry posts the same failure.
    tokio::time::sleep(Duration::from_secs(4)).await;
    let all = sink.received();
    assert_eq!(all.len(), 1, "retries of one failure alert once: {all:?}");
    let body: Value = serde_json::from_slice(&received[0].body)?;
    assert_eq!(body["involvedObject"]["kind"], "Kustomization");
    assert_eq!(body["involvedObject"]["name"], "webapp");
    assert_eq!(body["severity"], "error");
    assert_eq!(body["reportingController"], "kustomize-controller");
    assert_eq!(body["metadata"]["cluster"], "dev-1");
    assert_eq!(
        received[0].headers.get("x-signature"),
        Some(&format!("sha256={}", hmac_sha256(TOKEN, &received[0].body)))
    );

    common::delete_all(&kustomizations).await?;
    let _ = tx.send(());
    tokio::time::timeout(WAIT, kustomize).await???;
    controller.stop().await
}

#[tokio::test]
async fn labelled_sources_follow_the_live_objects_labels_and_conflicts_are_reported()
-> anyhow::Result<()> {
    let cluster = testkit::cluster().await?;
    install_crds(&cluster.client).await?;
    let client = &cluster.client;
    let ns = TestNamespace::create(&cluster, "nc-labels").await?;
    let sink = Sink::start().await?;
    let provider: Provider = serde_json::from_value(json!({
        "apiVersion": "notification.toolkit.fluxcd.io/v1beta3", "kind": "Provider",
        "metadata": {"name": "plain"},
        "spec": {"type": "generic", "address": sink.url},
    }))?;
    Api::<Provider>::namespaced(client.clone(), ns.name())
        .create(&PostParams::default(), &provider)
        .await?;
    let alert: Alert = serde_json::from_value(json!({
        "apiVersion": "notification.toolkit.fluxcd.io/v1beta3", "kind": "Alert",
        "metadata": {"name": "team-a"},
        "spec": {
            "providerRef": {"name": "plain"},
            "eventSources": [{"kind": "Kustomization", "name": "*", "matchLabels": {"team": "a"}}],
            "eventMetadata": {"revision": "from-the-alert"},
        },
    }))?;
    Api::<Alert>::namespaced(client.clone(), ns.name())
        .create(&PostParams::default(), &alert)
        .await?;
    let kustomizations = common::flux_api(client, ns.name(), "Kustomization");
    for (name, labels) in [("labelled", json!({"team": "a"})), ("plain", json!({}))] {
        // Nobody reconciles these: they only carry labels.
        let ks: DynamicObject = serde_json::from_value(json!({
            "apiVersion": "kustomize.toolkit.fluxcd.io/v1", "kind": "Kustomization",
            "metadata": {"name": name, "labels": labels},
            "spec": {"interval": "1h", "path": "./", "prune": false, "suspend": true,
                     "sourceRef": {"kind": "GitRepository", "name": "none"}},
        }))?;
        kustomizations.create(&PostParams::default(), &ks).await?;
    }
    let controller = RunningController::start(&cluster, "nc-labels", &[]).await?;
    for name in ["plain", "labelled"] {
        let mut event = failure_event(ns.name(), "error", "health check failed");
        event.involved_object.name = Some(name.into());
        assert_eq!(post(&controller.events_url, &event).await?, 202);
    }
    let received = sink.wait_for(1).await?;
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert_eq!(sink.received().len(), 1, "only the labelled object alerts");
    let body: Value = serde_json::from_slice(&received[0].body)?;
    assert_eq!(body["involvedObject"]["name"], "labelled");
    assert_eq!(
        body["metadata"]["revision"], "main@sha1:731f7ead",
        "controller keys win"
    );
    assert!(!received[0].headers.contains_key("x-signature"));

    let events: Api<k8s_openapi::api::core::v1::Event> = Api::namespaced(client.clone(), ns.name());
    testkit::wait::until(
        WAIT,
        "a MetadataAppendFailed event on the Alert",
        || async {
            let list = events
                .list(&Default::default())
                .await
                .map_err(|e| e.to_string())?;
            Ok(list
                .items
                .iter()
                .any(|e| {
                    e.reason.as_deref() == Some("MetadataAppendFailed")
                        && e.involved_object.name.as_deref() == Some("team-a")
                })
                .then_some(()))
        },
    )
    .await
    .map_err(anyhow::Error::msg)?;
    controller.stop().await
}

#[tokio::test]
async fn the_legacy_finalizer_is_removed_from_alerts_and_providers() -> anyhow::Result<()> {
    let cluster = testkit::cluster().await?;
    install_crds(&cluster.client).await?;
    let client = &cluster.client;
    let ns = TestNamespace::create(&cluster, "nc-legacy").await?;
    let finalizers = json!(["finalizers.fluxcd.io", "example.com/keep"]);
    let provider: Provider = serde_json::from_value(json!({
        "apiVersion": "notification.toolkit.fluxcd.io/v1beta3", "kind": "Provider",
        "metadata": {"name": "old", "finalizers": finalizers},
        "spec": {"type": "generic", "address": "http://127.0.0.1:1/"},
    }))?;
    let providers = Api::<Provider>::namespaced(client.clone(), ns.name());
    providers.create(&PostParams::default(), &provider).await?;
    let alert: Alert = serde_json::from_value(json!({
        "apiVersion": "notification.toolkit.fluxcd.io/v1beta3", "kind": "Alert",
        "metadata": {"name": "old", "finalizers": finalizers},
        "spec": {"providerRef": {"name": "old"},
                 "eventSources": [{"kind": "Kustomization", "name": "*"}]},
    }))?;
    let alerts = Api::<Alert>::namespaced(client.clone(), ns.name());
    alerts.create(&PostParams::default(), &alert).await?;
    let controller = RunningController::start(&cluster, "nc-legacy", &[]).await?;
    let only_ours_left =
        |f: &Option<Vec<String>>| f.as_deref() == Some(&["example.com/keep".to_owned()][..]);
    testkit::wait::object(
        &alerts,
        "old",
        WAIT,
        "legacy finalizer gone from the Alert",
        |a| only_ours_left(&a.metadata.finalizers),
    )
    .await?;
    testkit::wait::object(
        &providers,
        "old",
        WAIT,
        "legacy finalizer gone from the Provider",
        |p| only_ours_left(&p.metadata.finalizers),
    )
    .await?;
    // Let the namespace go.
    let clear = Patch::Merge(json!({"metadata": {"finalizers": null}}));
    alerts.patch("old", &PatchParams::default(), &clear).await?;
    providers
        .patch("old", &PatchParams::default(), &clear)
        .await?;
    controller.stop().await
}

#[tokio::test]
async fn a_kustomization_result_is_posted_as_a_github_commit_status() -> anyhow::Result<()> {
    let cluster = testkit::cluster().await?;
    install_crds(&cluster.client).await?;
    let client = &cluster.client;
    let ns = TestNamespace::create(&cluster, "nc-status").await?;
    let api = Sink::start().await?;
    create_secret(
        client,
        ns.name(),
        "github-token",
        &[("token", "ghp-test-token")],
    )
    .await?;
    let provider: Provider = serde_json::from_value(json!({
        "apiVersion": "notification.toolkit.fluxcd.io/v1beta3", "kind": "Provider",
        "metadata": {"name": "github"},
        "spec": {"type": "github", "address": format!("{}/org/fleet", api.url),
                 "secretRef": {"name": "github-token"}},
    }))?;
    let provider = Api::<Provider>::namespaced(client.clone(), ns.name())
        .create(&PostParams::default(), &provider)
        .await?;
    let uid = provider.metadata.uid.clone().unwrap_or_default();
    let alert: Alert = serde_json::from_value(json!({
        "apiVersion": "notification.toolkit.fluxcd.io/v1beta3", "kind": "Alert",
        "metadata": {"name": "status"},
        "spec": {"providerRef": {"name": "github"},
                 "eventSources": [{"kind": "Kustomization", "name": "*"}]},
    }))?;
    Api::<Alert>::namespaced(client.clone(), ns.name())
        .create(&PostParams::default(), &alert)
        .await?;
    let controller = RunningController::start(&cluster, "nc-status", &[]).await?;
    let sha = "731f7eaddfb6af01cb2173e18f0f75b0ba780ef1";
    let mut event = failure_event(
        ns.name(),
        "info",
        &format!("Applied revision: main@sha1:{sha}"),
    );
    event.reason = "ReconciliationSucceeded".into();
    event.metadata = BTreeMap::from([(
        "kustomize.toolkit.fluxcd.io/revision".into(),
        format!("main@sha1:{sha}"),
    )]);
    assert_eq!(post(&controller.events_url, &event).await?, 202);

    let statuses = format!("/api/v3/repos/org/fleet/statuses/{sha}");
    let requests = testkit::wait::until(WAIT, "the commit status POST", || async {
        let got = api.received();
        if got.iter().any(|r| r.path == statuses) {
            Ok(Some(got))
        } else {
            Err(format!(
                "{:?}",
                got.iter().map(|r| &r.path).collect::<Vec<_>>()
            ))
        }
    })
    .await
    .map_err(anyhow::Error::msg)?;
    let status = requests
        .iter()
        .find(|r| r.path == statuses)
        .expect("found above");
    assert_eq!(
        status.headers.get("authorization").map(String::as_str),
        Some("Bearer ghp-test-token")
    );
    let body: Value = serde_json::from_slice(&status.body)?;
    assert_eq!(body["state"], "success");
    let first = uid.split('-').next().unwrap_or_default();
    assert_eq!(body["context"], format!("kustomization/webapp/{first}"));
    controller.stop().await
}
