//! How a release waits: `spec.healthCheckExprs` judge a chart's custom resources under the
//! `poller` strategy (a release waits until `current` holds, fails naming the object when
//! `failed` holds, and an expression that does not parse stalls the HelmRelease before anything
//! is released); `spec.waitStrategy.name: legacy` waits by Helm 3's rules instead (a
//! LoadBalancer Service needs an ingress) and ignores the expressions.

mod common;

use common::*;

use driftless_api::helm::HelmRelease;
use driftless_helm::release::{KubeSecrets, Storage};
use kube::api::{Api, ApiResource, DynamicObject, GroupVersionKind, Patch, PatchParams};
use serde_json::{Value, json};

const WIDGET_CRD: &str = "apiVersion: apiextensions.k8s.io/v1\nkind: CustomResourceDefinition\nmetadata:\n  name: widgets.health.driftless.test\nspec:\n  group: health.driftless.test\n  names:\n    kind: Widget\n    plural: widgets\n    singular: widget\n  scope: Namespaced\n  versions:\n    - name: v1\n      served: true\n      storage: true\n      subresources:\n        status: {}\n      schema:\n        openAPIV3Schema:\n          type: object\n          x-kubernetes-preserve-unknown-fields: true\n";

/// Adds charts `widget` (a CRD in `crds/` and one Widget) and `lb` (a LoadBalancer Service)
/// to the repository and makes the HelmRepository index them.
async fn publish_charts(f: &Fixture) -> anyhow::Result<()> {
    f.controllers.repo.add_chart(
        "widget",
        "0.1.0",
        &[
            ("Chart.yaml", "apiVersion: v2\nname: widget\nversion: 0.1.0\n"),
            ("crds/widget.yaml", WIDGET_CRD),
            (
                "templates/widget.yaml",
                "apiVersion: health.driftless.test/v1\nkind: Widget\nmetadata:\n  name: {{ .Release.Name }}-w\nspec:\n  size: 1\n",
            ),
        ],
    )?;
    f.controllers.repo.add_chart(
        "lb",
        "0.1.0",
        &[
            ("Chart.yaml", "apiVersion: v2\nname: lb\nversion: 0.1.0\n"),
            (
                "templates/svc.yaml",
                "apiVersion: v1\nkind: Service\nmetadata:\n  name: {{ .Release.Name }}-lb\nspec:\n  type: LoadBalancer\n  ports:\n    - port: 80\n  selector:\n    app: none\n",
            ),
        ],
    )?;
    f.reindex_charts("health-charts").await
}

/// The `chart` block of a HelmRelease of chart `name`.
fn chart(shard: &str, name: &str) -> Value {
    json!({
        "metadata": {"labels": {SHARD_LABEL: shard}},
        "spec": {
            "chart": name,
            "version": "*",
            "interval": "1m",
            "sourceRef": {"kind": "HelmRepository", "name": "charts"},
        },
    })
}

/// Entries judging Widgets by `status.phase`; the API version differs from the served one on
/// purpose (only the group counts).
fn widget_exprs() -> Value {
    json!([
        {"apiVersion": "health.driftless.test/v9", "kind": "Widget",
         "current": "status.phase == 'Ready'", "failed": "status.phase == 'Broken'"},
        // A group-only entry the kind entry beats: on its own it would make Widgets Current.
        {"apiVersion": "health.driftless.test/v1", "current": "true"},
    ])
}

fn widgets(client: &kube::Client, ns: &str) -> Api<DynamicObject> {
    let gvk = GroupVersionKind::gvk("health.driftless.test", "v1", "Widget");
    Api::namespaced_with(client.clone(), ns, &ApiResource::from_gvk(&gvk))
}

/// Waits until Widget `name` exists.
async fn widget_applied(f: &Fixture, name: &str) -> anyhow::Result<()> {
    let api = widgets(&f.cluster.client, &f.ns);
    testkit::wait::until(WAIT, &format!("Widget {name} to exist"), || {
        let api = api.clone();
        async move {
            match api.get_opt(name).await {
                Ok(Some(_)) => Ok(Some(())),
                Ok(None) => Err("not yet".to_owned()),
                Err(e) => Err(e.to_string()),
            }
        }
    })
    .await
    .map_err(anyhow::Error::msg)
}

/// Waits until Widget `name` exists, then sets its `status.phase`.
async fn set_phase(f: &Fixture, name: &str, phase: &str) -> anyhow::Result<()> {
    widget_applied(f, name).await?;
    widgets(&f.cluster.client, &f.ns)
        .patch_status(
            name,
            &PatchParams::default(),
            &Patch::Merge(json!({"status": {"phase": phase}})),
        )
        .await?;
    Ok(())
}

/// Waits for Released=False with reason InstallFailed (Ready then says the retries ran out).
async fn wait_install_failed(f: &Fixture, name: &str) -> anyhow::Result<HelmRelease> {
    wait_for(&f.api, name, &format!("{name} Released=False"), |hr| {
        condition(hr, "Released")
            .is_some_and(|c| c.status == "False" && c.reason == "InstallFailed")
    })
    .await
}

fn ready_status(hr: &driftless_api::helm::HelmRelease) -> Option<String> {
    condition(hr, "Ready").map(|c| c.status.clone())
}

#[tokio::test]
async fn a_release_waits_until_its_custom_resource_is_current_by_the_health_expressions()
-> anyhow::Result<()> {
    let f = Fixture::start("hc-health-current").await?;
    publish_charts(&f).await?;
    let shard = f.controllers.shard.clone();
    f.create(
        "app",
        json!({"chart": chart(&shard, "widget"), "healthCheckExprs": widget_exprs()}),
    )
    .await?;
    // The Widget is applied, and the install waits on it (no phase: not current).
    widget_applied(&f, "app-w").await?;
    tokio::time::sleep(std::time::Duration::from_secs(3)).await;
    let waiting = f.api.get("app").await?;
    assert_ne!(ready_status(&waiting).as_deref(), Some("True"));
    assert!(condition(&waiting, "Released").is_none());

    set_phase(&f, "app-w", "Ready").await?;
    let hr = wait_released(&f.api, "app", 1).await?;
    assert_eq!(
        condition(&hr, "Ready").expect("Ready").reason,
        "InstallSucceeded"
    );
    f.finish(&["app"]).await
}

#[tokio::test]
async fn a_failed_expression_fails_the_release_naming_the_object() -> anyhow::Result<()> {
    let f = Fixture::start("hc-health-failed").await?;
    publish_charts(&f).await?;
    let shard = f.controllers.shard.clone();
    f.create(
        "app",
        json!({"chart": chart(&shard, "widget"), "healthCheckExprs": widget_exprs()}),
    )
    .await?;
    set_phase(&f, "app-w", "Broken").await?;
    let hr = wait_install_failed(&f, "app").await?;
    let released = condition(&hr, "Released").expect("Released");
    assert_eq!(released.reason, "InstallFailed");
    assert!(
        released.message.contains("Widget/")
            && released.message.contains("app-w")
            && released.message.contains("Failed"),
        "{}",
        released.message
    );
    f.finish(&["app"]).await
}

#[tokio::test]
async fn an_expression_that_does_not_parse_stalls_the_release_before_anything_is_applied()
-> anyhow::Result<()> {
    let f = Fixture::start("hc-health-invalid").await?;
    publish_charts(&f).await?;
    let shard = f.controllers.shard.clone();
    f.create(
        "app",
        json!({
            "chart": chart(&shard, "widget"),
            "healthCheckExprs": [{"apiVersion": "health.driftless.test/v1", "current": "status.("}],
        }),
    )
    .await?;
    let hr = wait_failing(&f.api, "app", "InvalidCELExpression").await?;
    let ready = condition(&hr, "Ready").expect("Ready");
    assert!(
        ready.message.starts_with(
            "Reconciliation failed terminally due to configuration error: failed to create custom status reader for healthchecks[0]"
        ),
        "{}",
        ready.message
    );
    let stalled = condition(&hr, "Stalled").expect("Stalled");
    assert_eq!(stalled.reason, "InvalidCELExpression");
    let storage = Storage::new(KubeSecrets::new(f.cluster.client.clone(), &f.ns));
    assert!(storage.history("app").await?.is_empty());
    assert!(
        widgets(&f.cluster.client, &f.ns)
            .get_opt("app-w")
            .await
            .ok()
            .flatten()
            .is_none()
    );
    f.finish(&["app"]).await
}

#[tokio::test]
async fn legacy_waits_by_helm_3_rules_and_ignores_the_health_expressions() -> anyhow::Result<()> {
    let f = Fixture::start("hc-health-legacy").await?;
    publish_charts(&f).await?;
    let shard = f.controllers.shard.clone();
    // A LoadBalancer Service never gets an ingress here: Current for kstatus, never ready for
    // Helm 3.
    f.create("poller", json!({"chart": chart(&shard, "lb")}))
        .await?;
    f.create(
        "legacy",
        json!({
            "chart": chart(&shard, "lb"),
            "waitStrategy": {"name": "legacy"},
            "timeout": "3s",
        }),
    )
    .await?;
    // Under legacy the expressions are ignored: the Widget never gets a phase, yet the release
    // is ready.
    f.create(
        "widget",
        json!({
            "chart": chart(&shard, "widget"),
            "waitStrategy": {"name": "legacy"},
            "healthCheckExprs": widget_exprs(),
        }),
    )
    .await?;
    // A Deployment is ready once its newest ReplicaSet has its pods ready (kwok runs them).
    f.create(
        "deploy",
        json!({
            "values": {"deployment": true, "replicas": 2},
            "waitStrategy": {"name": "legacy"},
        }),
    )
    .await?;
    wait_released(&f.api, "poller", 1).await?;
    wait_released(&f.api, "widget", 1).await?;
    wait_released(&f.api, "deploy", 1).await?;
    let apps: Api<k8s_openapi::api::apps::v1::Deployment> =
        Api::namespaced(f.cluster.client.clone(), &f.ns);
    let deployment = apps.get("deploy-app").await?;
    let ready = deployment
        .status
        .and_then(|s| s.ready_replicas)
        .unwrap_or(0);
    assert!(
        ready >= 2 - 1,
        "legacy let the release go with {ready} ready pods"
    );
    let hr = wait_install_failed(&f, "legacy").await?;
    let released = condition(&hr, "Released").expect("Released");
    assert!(
        released.message.contains("context deadline exceeded"),
        "{}",
        released.message
    );
    f.finish(&["poller", "legacy", "widget", "deploy"]).await
}
