//! CEL against the local control plane: `spec.healthCheckExprs` deciding the health of a custom
//! resource (current, failed early, in progress until the timeout), an expression that does not
//! parse stalling the Kustomization, and `dependsOn[].readyExpr` replacing the Ready check.

mod common;

use common::*;
use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use kube::api::{Patch, PatchParams, PostParams};
use serde_json::json;

const GROUP: &str = "cel.driftless.test";

/// A tiny CRD without a status subresource, so the manifest itself sets `status.phase`.
async fn install_widget_crd(client: &kube::Client) -> anyhow::Result<()> {
    let crd: CustomResourceDefinition = serde_json::from_value(json!({
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {"name": format!("widgets.{GROUP}")},
        "spec": {
            "group": GROUP,
            "scope": "Namespaced",
            "names": {"plural": "widgets", "singular": "widget", "kind": "Widget", "listKind": "WidgetList"},
            "versions": [{
                "name": "v1", "served": true, "storage": true,
                "schema": {"openAPIV3Schema": {"type": "object", "x-kubernetes-preserve-unknown-fields": true}},
            }],
        },
    }))?;
    testkit::install_crd(client, &crd, "driftless-kustomize-controller-cel-tests").await
}

fn widget(phase: &str) -> String {
    format!(
        "apiVersion: {GROUP}/v1\nkind: Widget\nmetadata:\n  name: gizmo\nstatus:\n  phase: {phase}\n"
    )
}

fn widget_exprs() -> serde_json::Value {
    json!([{
        "apiVersion": format!("{GROUP}/v1"),
        "kind": "Widget",
        "current": "status.phase == 'Ready'",
        "failed": "status.phase == 'Failed'",
    }])
}

#[tokio::test]
async fn a_custom_resource_is_healthy_failed_or_in_progress_as_its_expressions_say()
-> anyhow::Result<()> {
    let mut f = fixture("ks-cel-health", &[]).await?;
    install_widget_crd(&f.cluster.client).await?;
    let ready = f
        .source
        .publish(&f.cluster.client, &[("w.yaml", &widget("Ready"))])
        .await?;
    f.create(
        "apps",
        json!({"targetNamespace": f.ns.name(), "wait": true, "timeout": "6s",
               "healthCheckExprs": widget_exprs()}),
    )
    .await?;
    let ks = wait_applied(&f.api, "apps", &ready).await?;
    let healthy = condition(&ks, "Healthy").expect("Healthy condition");
    assert_eq!(healthy.status, "True", "{}", healthy.message);

    // kstatus alone would call a Widget without conditions Current; the expression says Failed.
    let (message, _) = health_failure(&mut f, "Failed").await?;
    let gizmo = format!("Widget/{}/gizmo", f.ns.name());
    assert!(
        message.contains("failed early due to stalled resources")
            && message.contains(&format!("{gizmo} status: 'Failed'")),
        "{message}"
    );
    // Neither current nor failed: in progress until spec.timeout.
    let (message, ks) = health_failure(&mut f, "Pending").await?;
    assert!(
        message.contains("timeout waiting for")
            && message.contains(&format!("{gizmo} status: 'InProgress'")),
        "{message}"
    );
    assert_eq!(
        ks.status.and_then(|s| s.last_applied_revision).as_deref(),
        Some(ready.as_str())
    );
    f.finish().await
}

#[tokio::test]
async fn an_expression_that_does_not_parse_stalls_the_kustomization() -> anyhow::Result<()> {
    let mut f = fixture("ks-cel-invalid", &[]).await?;
    f.source
        .publish(&f.cluster.client, &[("cm.yaml", &config_map("app", "1"))])
        .await?;
    f.create(
        "apps",
        json!({"targetNamespace": f.ns.name(), "wait": true,
               "healthCheckExprs": [{"apiVersion": format!("{GROUP}/v1"), "kind": "Widget",
                                     "current": "true", "inProgress": "status.phase =="}]}),
    )
    .await?;
    let ks = wait_failing(&f.api, "apps", "InvalidCELExpression").await?;
    let ready = condition(&ks, "Ready").expect("Ready");
    assert!(
        ready.message.starts_with(
            "Reconciliation failed terminally due to configuration error: \
             failed to create custom status reader for healthchecks[0]: \
             failed to parse the expression InProgress: \
             failed to parse the CEL expression 'status.phase =='"
        ),
        "{}",
        ready.message
    );
    let stalled = condition(&ks, "Stalled").expect("Stalled condition");
    assert_eq!(stalled.status, "True");
    assert_eq!(stalled.reason, "InvalidCELExpression");
    assert!(
        f.config_maps.get_opt("app").await?.is_none(),
        "nothing is applied"
    );
    f.finish().await
}

#[tokio::test]
async fn a_ready_expr_replaces_the_ready_check_of_a_dependency() -> anyhow::Result<()> {
    let shard = "ks-cel-depends";
    let mut f = fixture(shard, &["--requeue-dependency=2s"]).await?;
    let revision = f
        .source
        .publish(
            &f.cluster.client,
            &[("apps/cm.yaml", &config_map("app", "1"))],
        )
        .await?;
    let with_version = |name: &str, version: &str, spec| {
        let mut ks = kustomization(name, shard, &f.source, spec);
        ks.metadata.namespace = Some(f.ns.name().to_owned());
        ks.metadata
            .labels
            .get_or_insert_with(Default::default)
            .insert("app/version".into(), version.into());
        ks
    };
    // The dependency never becomes Ready (its path does not exist): only the expression counts.
    let infra = with_version("infra", "v1", json!({"path": "./missing"}));
    f.api.create(&PostParams::default(), &infra).await?;
    let apps = with_version(
        "apps",
        "v2",
        json!({"path": "./apps", "targetNamespace": f.ns.name(),
               "dependsOn": [{"name": "infra", "readyExpr":
                   "dep.metadata.labels['app/version'] == self.metadata.labels['app/version']"}]}),
    );
    f.api.create(&PostParams::default(), &apps).await?;
    let ks = wait_for(&f.api, "apps", "apps waits on readyExpr", |ks| {
        condition(ks, "Ready").is_some_and(|c| {
            c.reason == "DependencyNotReady" && c.message.contains("according to readyExpr eval")
        })
    })
    .await?;
    let message = &condition(&ks, "Ready").expect("Ready").message;
    assert_eq!(
        message,
        &format!(
            "dependency '{}/infra' is not ready according to readyExpr eval",
            f.ns.name()
        )
    );
    assert!(f.config_maps.get_opt("app").await?.is_none());
    wait_failing(&f.api, "infra", "ArtifactFailed").await?;

    f.api
        .patch(
            "infra",
            &PatchParams::default(),
            &Patch::Merge(json!({"metadata": {"labels": {"app/version": "v2"}}})),
        )
        .await?;
    wait_applied(&f.api, "apps", &revision).await?;
    assert!(f.config_maps.get_opt("app").await?.is_some());
    f.finish().await
}

/// Publishes the Widget in `phase` and waits until the health check of that revision failed;
/// returns the Ready message and the Kustomization.
async fn health_failure(
    f: &mut Fixture,
    phase: &str,
) -> anyhow::Result<(String, driftless_api::kustomize::Kustomization)> {
    let revision = f
        .source
        .publish(&f.cluster.client, &[("w.yaml", &widget(phase))])
        .await?;
    let ks = wait_for(&f.api, "apps", &format!("Widget {phase} fails"), |ks| {
        attempted(ks, &revision)
            && condition(ks, "Ready").is_some_and(|c| c.reason == "HealthCheckFailed")
    })
    .await?;
    let message = condition(&ks, "Ready").expect("Ready").message.clone();
    Ok((message, ks))
}

fn attempted(ks: &driftless_api::kustomize::Kustomization, revision: &str) -> bool {
    ks.status
        .as_ref()
        .and_then(|s| s.last_attempted_revision.as_deref())
        == Some(revision)
}
