//! Post-renderers against the local control plane: kustomize patches and images change what is
//! applied and what Helm stores, every object carries the origin labels, a change of the
//! post-renderers upgrades the release, and a patch that cannot apply fails the upgrade with
//! nothing applied (counted in `status.failures`, not against remediation retries, as Flux).

mod common;

use common::*;
use driftless_helm::release::{KubeSecrets, Storage};
use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::ConfigMap;
use kube::api::Api;
use serde_json::{Value, json};

fn post_renderers(value: &str) -> Value {
    json!([
        {"kustomize": {
            "patches": [
                {"target": {"version": "v1", "kind": "ConfigMap", "name": "web-cfg"},
                 "patch": format!("- op: add\n  path: /data/patched\n  value: {value}\n")},
                {"patch": "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: web-app\nspec:\n  minReadySeconds: 5\n"},
            ],
        }},
        {"kustomize": {"images": [{"name": "nginx", "newTag": "1.27"}]}},
    ])
}

async fn patched(client: &kube::Client, ns: &str) -> anyhow::Result<Option<String>> {
    cm_value(client, ns, "web-cfg", "patched").await
}

fn observed_digest(hr: &driftless_api::helm::HelmRelease) -> Option<String> {
    hr.status
        .as_ref()
        .and_then(|s| s.observed_post_renderers_digest.clone())
}

#[tokio::test]
async fn post_renderers_patch_what_is_applied_and_stored_and_a_change_of_them_upgrades()
-> anyhow::Result<()> {
    let f = Fixture::start("hc-postrender").await?;
    let (client, ns) = (f.cluster.client.clone(), f.ns.clone());
    f.create(
        "web",
        json!({"values": {"deployment": true}, "postRenderers": post_renderers("first")}),
    )
    .await?;
    let hr = wait_released(&f.api, "web", 1).await?;
    assert_eq!(patched(&client, &ns).await?.as_deref(), Some("first"));
    let deployments: Api<Deployment> = Api::namespaced(client.clone(), &ns);
    let deploy = deployments.get("web-app").await?;
    assert_eq!(deploy.spec.min_ready_seconds, Some(5));
    let image = deploy
        .spec
        .template
        .spec
        .map(|s| s.containers[0].image.clone());
    assert_eq!(image.flatten().as_deref(), Some("nginx:1.27"));
    let cms: Api<ConfigMap> = Api::namespaced(client.clone(), &ns);
    let labels = cms
        .get("web-cfg")
        .await?
        .metadata
        .labels
        .unwrap_or_default();
    assert_eq!(
        labels
            .get("helm.toolkit.fluxcd.io/name")
            .map(String::as_str),
        Some("web")
    );
    assert_eq!(
        labels
            .get("helm.toolkit.fluxcd.io/namespace")
            .map(String::as_str),
        Some(ns.as_str())
    );
    // The inventory lists the release's objects with their namespaces, sorted by id.
    let inventory = hr.status.as_ref().and_then(|s| s.inventory.clone());
    let ids: Vec<(String, String)> = inventory
        .expect("status.inventory")
        .entries
        .into_iter()
        .map(|e| (e.id, e.v))
        .collect();
    assert_eq!(
        ids,
        vec![
            (format!("{ns}_web-app_apps_Deployment"), "v1".to_owned()),
            (format!("{ns}_web-cfg__ConfigMap"), "v1".to_owned()),
        ]
    );
    let first = observed_digest(&hr).expect("observedPostRenderersDigest");
    assert!(first.starts_with("sha256:"), "{first}");
    // Helm's record holds the post-rendered manifest under its template paths.
    let storage = Storage::new(KubeSecrets::new(client.clone(), &ns));
    let stored = storage.last("web").await?.expect("stored release");
    assert!(
        stored
            .manifest
            .contains("# Source: demo/templates/cm.yaml\n"),
        "{}",
        stored.manifest
    );
    assert!(stored.manifest.contains("patched: first"));
    assert!(!stored.manifest.contains("postrender-filename"));

    // Another patch value: the release is out of sync and upgraded.
    merge(
        &f.api,
        "web",
        json!({"spec": {"postRenderers": post_renderers("second")}}),
    )
    .await?;
    let hr = wait_released(&f.api, "web", 2).await?;
    assert_eq!(patched(&client, &ns).await?.as_deref(), Some("second"));
    let second = observed_digest(&hr).expect("observedPostRenderersDigest");
    assert_ne!(first, second);

    // A patch that cannot apply: the upgrade fails, nothing is applied or recorded.
    let bad = json!([{"kustomize": {"patches": [{"target": {"kind": "ConfigMap"},
        "patch": "- op: replace\n  path: /spec/missing\n  value: 1\n"}]}}]);
    merge(&f.api, "web", json!({"spec": {"postRenderers": bad}})).await?;
    let hr = wait_failing(&f.api, "web", "UpgradeFailed").await?;
    let message = condition(&hr, "Ready").expect("Ready").message.clone();
    assert!(
        message.starts_with(&format!(
            "Helm upgrade failed for release {ns}/web with chart demo@0.1.0: error while running post render on files:"
        )),
        "{message}"
    );
    let released = condition(&hr, "Released").expect("Released");
    assert_eq!(
        (released.status.as_str(), released.reason.as_str()),
        ("False", "UpgradeFailed")
    );
    assert_eq!(latest_version(&hr), Some(2));
    assert_eq!(storage.last("web").await?.map(|r| r.version), Some(2));
    assert_eq!(patched(&client, &ns).await?.as_deref(), Some("second"));
    assert_eq!(observed_digest(&hr), Some(second));
    // Counted as Flux counts it: in `failures`, not against the upgrade's remediation retries
    // (no release was stored, nothing to remediate); retried with backoff, never stalled.
    let hr = wait_for(&f.api, "web", "a second post-render failure", |hr| {
        hr.status
            .as_ref()
            .is_some_and(|s| s.failures.unwrap_or(0) >= 2)
    })
    .await?;
    let status = hr.status.clone().unwrap_or_default();
    assert_eq!(status.upgrade_failures.unwrap_or(0), 0);
    assert!(condition(&hr, "Stalled").is_none());
    assert!(condition(&hr, "Remediated").is_none());

    // Without post-renderers: upgraded again, the patch gone, no digest.
    merge(&f.api, "web", json!({"spec": {"postRenderers": null}})).await?;
    let hr = wait_released(&f.api, "web", 3).await?;
    assert_eq!(patched(&client, &ns).await?, None);
    assert_eq!(observed_digest(&hr), None);
    f.finish(&["web"]).await
}

#[tokio::test]
async fn hooks_are_post_rendered_unless_the_strategy_is_nohooks() -> anyhow::Result<()> {
    let f = Fixture::start("hc-postrender-hooks").await?;
    let (client, ns) = (f.cluster.client.clone(), f.ns.clone());
    // The test hook Job runs on a kwok node: its image is what the post-renderer made it.
    let images = json!([{"kustomize": {"images": [{"name": "busybox", "newTag": "1.36"}]}}]);
    for (name, strategy, rendered) in [
        ("combined", "combined", true),
        ("nohooks", "nohooks", false),
    ] {
        f.create(
            name,
            json!({"values": {"withTest": true}, "postRenderers": images,
                   "postRenderStrategy": strategy}),
        )
        .await?;
        wait_released(&f.api, name, 1).await?;
        let storage = Storage::new(KubeSecrets::new(client.clone(), &ns));
        let stored = storage.last(name).await?.expect("stored release");
        let hook = stored
            .hooks
            .iter()
            .find(|h| h.kind == "Job")
            .expect("the test hook");
        assert_eq!(
            hook.manifest.contains("image: busybox:1.36"),
            rendered,
            "{strategy}: {}",
            hook.manifest
        );
        assert_eq!(
            hook.manifest.contains("helm.toolkit.fluxcd.io/name"),
            rendered,
            "{strategy}: hooks bypass the origin labels too: {}",
            hook.manifest
        );
    }
    f.finish(&["combined", "nohooks"]).await
}
