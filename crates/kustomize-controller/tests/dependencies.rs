//! `dependsOn` naming a HelmRelease (a driftless extension: Flux's dependencies are always of
//! the referrer's own kind): the Kustomization waits until the release has observed its
//! generation and is Ready, and follows it the moment it is.

mod common;

use common::*;
use kube::api::{
    Api, ApiResource, DynamicObject, GroupVersionKind, Patch, PatchParams, PostParams,
};
use serde_json::json;

fn helm_releases(client: &kube::Client, namespace: &str) -> Api<DynamicObject> {
    let resource = ApiResource::from_gvk(&GroupVersionKind::gvk(
        "helm.toolkit.fluxcd.io",
        "v2",
        "HelmRelease",
    ));
    Api::namespaced_with(client.clone(), namespace, &resource)
}

#[tokio::test]
async fn a_kustomization_waits_for_a_helm_release_and_follows_it_at_once() -> anyhow::Result<()> {
    // With --requeue-dependency=1h only the release's own status change can wake `apps` up.
    let mut f = fixture("ks-dep-helm", &["--requeue-dependency=1h"]).await?;
    let revision = f
        .source
        .publish(
            &f.cluster.client,
            &[("apps/cm.yaml", &config_map("app", "1"))],
        )
        .await?;
    let releases = helm_releases(&f.cluster.client, f.ns.name());
    let release: DynamicObject = serde_json::from_value(json!({
        "apiVersion": "helm.toolkit.fluxcd.io/v2",
        "kind": "HelmRelease",
        "metadata": {"name": "redis", "namespace": f.ns.name()},
        "spec": {
            "interval": "10m",
            "chart": {"spec": {"chart": "redis", "sourceRef": {"kind": "HelmRepository", "name": "charts"}}}
        }
    }))?;
    let release = releases.create(&PostParams::default(), &release).await?;
    let generation = release.metadata.generation.unwrap_or(1);

    f.create(
        "apps",
        json!({
            "path": "./apps",
            "targetNamespace": f.ns.name(),
            "dependsOn": [{"kind": "HelmRelease", "name": "redis"}]
        }),
    )
    .await?;
    let ks = wait_failing(&f.api, "apps", "DependencyNotReady").await?;
    let message = condition(&ks, "Ready")
        .map(|c| c.message.clone())
        .unwrap_or_default();
    assert!(
        message.contains(&format!(
            "dependency 'HelmRelease/{}/redis' is not ready",
            f.ns.name()
        )),
        "{message}"
    );
    assert!(f.config_maps.get_opt("app").await?.is_none());

    // Ready, but for an older generation: still waiting.
    let status = |observed: i64| {
        json!({"status": {
            "observedGeneration": observed,
            "conditions": [{
                "type": "Ready", "status": "True", "reason": "InstallSucceeded",
                "message": "Helm install succeeded", "lastTransitionTime": "2026-01-01T00:00:00Z",
                "observedGeneration": observed
            }]
        }})
    };
    releases
        .patch_status(
            "redis",
            &PatchParams::default(),
            &Patch::Merge(status(generation - 1)),
        )
        .await?;
    tokio::time::sleep(std::time::Duration::from_secs(2)).await;
    assert!(f.config_maps.get_opt("app").await?.is_none());

    releases
        .patch_status(
            "redis",
            &PatchParams::default(),
            &Patch::Merge(status(generation)),
        )
        .await?;
    wait_applied(&f.api, "apps", &revision).await?;
    assert!(f.config_maps.get_opt("app").await?.is_some());
    f.finish().await
}

#[tokio::test]
async fn the_api_server_refuses_a_dependency_kind_we_do_not_know() -> anyhow::Result<()> {
    let f = fixture("ks-dep-kind", &[]).await?;
    let mut ks = serde_json::to_value(kustomization(
        "apps",
        &f.controller.shard,
        &f.source,
        json!({"path": "./apps"}),
    ))?;
    ks["metadata"]["namespace"] = json!(f.ns.name());
    ks["spec"]["dependsOn"] = json!([{"kind": "Deployment", "name": "web"}]);
    let resource = ApiResource::from_gvk(&GroupVersionKind::gvk(
        "kustomize.toolkit.fluxcd.io",
        "v1",
        "Kustomization",
    ));
    let api: Api<DynamicObject> =
        Api::namespaced_with(f.cluster.client.clone(), f.ns.name(), &resource);
    let refused = api
        .create(&PostParams::default(), &serde_json::from_value(ks)?)
        .await
        .expect_err("an unknown kind is refused by the CRD schema");
    assert!(
        refused.to_string().contains("spec.dependsOn[0].kind"),
        "{refused}"
    );
    f.finish().await
}
