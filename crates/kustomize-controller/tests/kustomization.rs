//! kustomize-controller against the local control plane: apply, status, inventory, prune only
//! what we created, all-or-nothing validation, dependsOn, suspend, requestedAt, health timeout,
//! impersonation, substitution, deletion, and an artifact server that goes away.

mod common;

use common::*;
use k8s_openapi::api::core::v1::{ConfigMap, Secret};
use kube::api::{Api, DeleteParams, Patch, PatchParams, PostParams};
use serde_json::json;

#[tokio::test]
async fn a_kustomization_applies_its_path_and_records_status_and_inventory() -> anyhow::Result<()> {
    let mut f = fixture("ks-apply", &[]).await?;
    let revision = f
        .source
        .publish(
            &f.cluster.client,
            &[
                ("apps/a.yaml", &config_map("alpha", "1")),
                ("apps/b.yaml", &config_map("beta", "2")),
                ("other/c.yaml", &config_map("gamma", "3")),
            ],
        )
        .await?;
    f.create(
        "apps",
        json!({"path": "./apps", "targetNamespace": f.ns.name()}),
    )
    .await?;
    let ks = wait_applied(&f.api, "apps", &revision).await?;
    let status = ks.status.clone().expect("status");
    let ready = condition(&ks, "Ready").expect("Ready");
    assert_eq!(ready.reason, "ReconciliationSucceeded");
    assert_eq!(ready.message, format!("Applied revision: {revision}"));
    assert_eq!(
        status.last_attempted_revision.as_deref(),
        Some(revision.as_str())
    );
    assert_eq!(status.observed_generation, ks.metadata.generation);
    let mut ids: Vec<String> = status
        .inventory
        .expect("inventory")
        .entries
        .into_iter()
        .map(|e| e.id)
        .collect();
    ids.sort();
    let ns = f.ns.name();
    assert_eq!(
        ids,
        vec![
            format!("{ns}_alpha__ConfigMap"),
            format!("{ns}_beta__ConfigMap")
        ]
    );
    let alpha = f.config_maps.get("alpha").await?;
    let labels = alpha.metadata.labels.unwrap_or_default();
    assert_eq!(
        labels
            .get("kustomize.toolkit.fluxcd.io/name")
            .map(String::as_str),
        Some("apps")
    );
    assert_eq!(
        labels
            .get("kustomize.toolkit.fluxcd.io/namespace")
            .map(String::as_str),
        Some(ns)
    );
    let managers: Vec<String> = alpha
        .metadata
        .managed_fields
        .unwrap_or_default()
        .into_iter()
        .filter_map(|m| m.manager)
        .collect();
    assert!(
        managers.contains(&"kustomize-controller".to_owned()),
        "{managers:?}"
    );
    assert!(f.config_maps.get_opt("gamma").await?.is_none());
    f.finish().await
}

#[tokio::test]
async fn a_commit_that_removes_a_file_prunes_its_object_and_nothing_else() -> anyhow::Result<()> {
    let mut f = fixture("ks-prune", &[]).await?;
    // An identical object someone else created: never ours to delete.
    let mut bystander: ConfigMap = serde_json::from_value(json!({
        "metadata": {"name": "bystander"}, "data": {"value": "1"}}))?;
    bystander.metadata.namespace = Some(f.ns.name().to_owned());
    f.config_maps
        .create(&PostParams::default(), &bystander)
        .await?;
    let first = f
        .source
        .publish(
            &f.cluster.client,
            &[
                ("keep.yaml", &config_map("keep", "1")),
                ("drop.yaml", &config_map("drop", "1")),
            ],
        )
        .await?;
    f.create("apps", json!({"targetNamespace": f.ns.name()}))
        .await?;
    wait_applied(&f.api, "apps", &first).await?;
    assert!(f.config_maps.get_opt("drop").await?.is_some());

    let second = f
        .source
        .publish(
            &f.cluster.client,
            &[("keep.yaml", &config_map("keep", "2"))],
        )
        .await?;
    let ks = wait_applied(&f.api, "apps", &second).await?;
    testkit::wait::until(WAIT, "drop is pruned", || async {
        let gone = f
            .config_maps
            .get_opt("drop")
            .await
            .map_err(|e| e.to_string())?
            .is_none();
        Ok(gone.then_some(()))
    })
    .await
    .map_err(anyhow::Error::msg)?;
    assert_eq!(
        f.config_maps
            .get("keep")
            .await?
            .data
            .unwrap_or_default()
            .get("value")
            .map(String::as_str),
        Some("2")
    );
    assert!(f.config_maps.get_opt("bystander").await?.is_some());
    assert_eq!(
        ks.status.and_then(|s| s.inventory).map(|i| i.entries.len()),
        Some(1)
    );
    f.finish().await
}

#[tokio::test]
async fn broken_yaml_or_a_failing_dry_run_applies_nothing_and_names_the_culprit()
-> anyhow::Result<()> {
    let mut f = fixture("ks-invalid", &[]).await?;
    f.source
        .publish(
            &f.cluster.client,
            &[
                ("good.yaml", &config_map("good", "1")),
                (
                    "broken.yaml",
                    "apiVersion: v1\nkind: ConfigMap\nmetadata: [unclosed\n",
                ),
            ],
        )
        .await?;
    f.create("apps", json!({"targetNamespace": f.ns.name()}))
        .await?;
    let ks = wait_failing(&f.api, "apps", "BuildFailed").await?;
    let message = condition(&ks, "Ready")
        .map(|c| c.message.clone())
        .unwrap_or_default();
    assert!(message.contains("broken.yaml"), "{message}");
    assert!(f.config_maps.get_opt("good").await?.is_none());

    // Valid YAML, but the API server refuses one object: still nothing is applied.
    let bad_name =
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: Not_A_Valid_Name\ndata:\n  a: b\n";
    f.source
        .publish(
            &f.cluster.client,
            &[
                ("good.yaml", &config_map("good", "1")),
                ("bad.yaml", bad_name),
            ],
        )
        .await?;
    let ks = wait_failing(&f.api, "apps", "ReconciliationFailed").await?;
    let message = condition(&ks, "Ready")
        .map(|c| c.message.clone())
        .unwrap_or_default();
    assert!(message.contains("ConfigMap/"), "{message}");
    assert!(message.contains("Not_A_Valid_Name"), "{message}");
    assert!(f.config_maps.get_opt("good").await?.is_none());
    f.finish().await
}

#[tokio::test]
async fn a_dependent_waits_for_its_dependency_and_follows_it_at_once() -> anyhow::Result<()> {
    let mut f = fixture("ks-depends", &["--requeue-dependency=1h"]).await?;
    let revision = f
        .source
        .publish(
            &f.cluster.client,
            &[
                ("infra/cm.yaml", &config_map("infra", "1")),
                ("apps/cm.yaml", &config_map("app", "1")),
            ],
        )
        .await?;
    f.create(
        "apps",
        json!({"path": "./apps", "targetNamespace": f.ns.name(), "dependsOn": [{"name": "infra"}]}),
    )
    .await?;
    let ks = wait_failing(&f.api, "apps", "DependencyNotReady").await?;
    assert!(
        f.config_maps.get_opt("app").await?.is_none(),
        "{:?}",
        ks.status
    );
    // With --requeue-dependency=1h only the dependency's own Ready event can wake `apps` up.
    f.create(
        "infra",
        json!({"path": "./infra", "targetNamespace": f.ns.name()}),
    )
    .await?;
    wait_applied(&f.api, "infra", &revision).await?;
    wait_applied(&f.api, "apps", &revision).await?;
    assert!(f.config_maps.get_opt("app").await?.is_some());
    f.finish().await
}

#[tokio::test]
async fn suspend_stops_reconciling_and_requested_at_forces_a_reconcile() -> anyhow::Result<()> {
    let mut f = fixture("ks-suspend", &[]).await?;
    let first = f
        .source
        .publish(&f.cluster.client, &[("cm.yaml", &config_map("app", "1"))])
        .await?;
    f.create("apps", json!({"targetNamespace": f.ns.name()}))
        .await?;
    wait_applied(&f.api, "apps", &first).await?;
    f.api
        .patch(
            "apps",
            &PatchParams::default(),
            &Patch::Merge(json!({"spec": {"suspend": true}})),
        )
        .await?;
    // Let the suspended generation be seen before the new revision appears.
    tokio::time::sleep(std::time::Duration::from_secs(2)).await;
    let second = f
        .source
        .publish(&f.cluster.client, &[("cm.yaml", &config_map("app", "2"))])
        .await?;
    tokio::time::sleep(std::time::Duration::from_secs(3)).await;
    let ks = f.api.get("apps").await?;
    assert_eq!(
        ks.status.and_then(|s| s.last_applied_revision).as_deref(),
        Some(first.as_str())
    );
    f.api
        .patch(
            "apps",
            &PatchParams::default(),
            &Patch::Merge(json!({"spec": {"suspend": false}})),
        )
        .await?;
    wait_applied(&f.api, "apps", &second).await?;
    f.api
        .patch(
            "apps",
            &PatchParams::default(),
            &Patch::Merge(
                json!({"metadata": {"annotations": {"reconcile.fluxcd.io/requestedAt": "now-1"}}}),
            ),
        )
        .await?;
    wait_for(&f.api, "apps", "requestedAt handled", |ks| {
        ks.status
            .as_ref()
            .and_then(|s| s.last_handled_reconcile_at.as_deref())
            == Some("now-1")
    })
    .await?;
    f.finish().await
}

#[tokio::test]
async fn a_deployment_that_never_becomes_ready_shows_progress_then_fails_the_health_check()
-> anyhow::Result<()> {
    let mut f = fixture("ks-health", &[]).await?;
    // No node matches the selector: the pod stays Pending and the Deployment never rolls out.
    let deployment = "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: stuck\nspec:\n  progressDeadlineSeconds: 600\n  selector:\n    matchLabels:\n      app: stuck\n  template:\n    metadata:\n      labels:\n        app: stuck\n    spec:\n      nodeSelector:\n        driftless.test/none: \"true\"\n      containers:\n      - name: app\n        image: example.invalid/app:1\n";
    let revision = f
        .source
        .publish(&f.cluster.client, &[("deploy.yaml", deployment)])
        .await?;
    f.create(
        "apps",
        json!({"targetNamespace": f.ns.name(), "wait": true, "timeout": "5s"}),
    )
    .await?;
    // While it waits, the status says so, as Flux's progressive status does.
    let in_progress = wait_for(&f.api, "apps", "Ready=Unknown while waiting", |ks| {
        condition(ks, "Ready").is_some_and(|c| c.status == "Unknown")
    })
    .await?;
    let ready = condition(&in_progress, "Ready").expect("Ready");
    assert_eq!(
        (ready.reason.as_str(), ready.message.as_str()),
        ("Progressing", "Reconciliation in progress")
    );
    let reconciling = condition(&in_progress, "Reconciling").expect("Reconciling");
    assert_eq!(reconciling.status, "True");
    assert_eq!(
        reconciling.message,
        format!("Fetching manifests for revision {revision} with a timeout of 5s")
    );
    let ks = wait_failing(&f.api, "apps", "HealthCheckFailed").await?;
    let healthy = condition(&ks, "Healthy").expect("Healthy condition");
    assert_eq!(healthy.status, "False");
    assert!(
        healthy.message.contains("Deployment/"),
        "{}",
        healthy.message
    );
    assert!(healthy.message.contains("stuck"), "{}", healthy.message);
    assert_eq!(
        ks.status
            .as_ref()
            .and_then(|s| s.last_attempted_revision.as_deref()),
        Some(revision.as_str())
    );
    assert_eq!(ks.status.and_then(|s| s.last_applied_revision), None);
    f.finish().await
}

#[tokio::test]
async fn impersonating_a_service_account_without_rbac_is_denied() -> anyhow::Result<()> {
    let mut f = fixture("ks-impersonate", &[]).await?;
    let revision = f
        .source
        .publish(&f.cluster.client, &[("cm.yaml", &config_map("app", "1"))])
        .await?;
    f.create(
        "apps",
        json!({"targetNamespace": f.ns.name(), "serviceAccountName": "nobody"}),
    )
    .await?;
    let ks = wait_failing(&f.api, "apps", "ReconciliationFailed").await?;
    let message = condition(&ks, "Ready")
        .map(|c| c.message.clone())
        .unwrap_or_default();
    assert!(message.contains("forbidden"), "{message}");
    assert!(message.contains("system:serviceaccount"), "{message}");
    assert!(f.config_maps.get_opt("app").await?.is_none());
    assert_ne!(
        ks.status.and_then(|s| s.last_applied_revision).as_deref(),
        Some(revision.as_str())
    );
    f.finish().await
}

#[tokio::test]
async fn post_build_variables_come_from_configmaps_secrets_and_the_spec() -> anyhow::Result<()> {
    let mut f = fixture("ks-substitute", &[]).await?;
    let ns = f.ns.name().to_owned();
    let vars: ConfigMap = serde_json::from_value(json!({
        "metadata": {"name": "vars", "namespace": ns},
        "data": {"region": "eu-1", "tier": "from-configmap"}}))?;
    f.config_maps.create(&PostParams::default(), &vars).await?;
    let secrets: Api<Secret> = Api::namespaced(f.cluster.client.clone(), &ns);
    let secret: Secret = serde_json::from_value(json!({
        "metadata": {"name": "secret-vars", "namespace": ns},
        "stringData": {"password": "s3cr3t"}}))?;
    secrets.create(&PostParams::default(), &secret).await?;
    let manifest = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: app\ndata:\n  region: ${region}\n  tier: ${tier}\n  password: ${password}\n  owner: ${owner:=platform}\n";
    let revision = f
        .source
        .publish(&f.cluster.client, &[("cm.yaml", manifest)])
        .await?;
    f.create(
        "apps",
        json!({"targetNamespace": ns, "postBuild": {
            "substitute": {"tier": "from-spec"},
            "substituteFrom": [
                {"kind": "ConfigMap", "name": "vars"},
                {"kind": "Secret", "name": "secret-vars"},
                {"kind": "ConfigMap", "name": "missing", "optional": true}]}}),
    )
    .await?;
    wait_applied(&f.api, "apps", &revision).await?;
    let data = f.config_maps.get("app").await?.data.unwrap_or_default();
    assert_eq!(data.get("region").map(String::as_str), Some("eu-1"));
    assert_eq!(data.get("tier").map(String::as_str), Some("from-spec"));
    assert_eq!(data.get("password").map(String::as_str), Some("s3cr3t"));
    assert_eq!(data.get("owner").map(String::as_str), Some("platform"));
    f.finish().await
}

#[tokio::test]
async fn deleting_a_kustomization_with_prune_deletes_what_it_applied() -> anyhow::Result<()> {
    let mut f = fixture("ks-delete", &[]).await?;
    let revision = f
        .source
        .publish(&f.cluster.client, &[("cm.yaml", &config_map("app", "1"))])
        .await?;
    f.create("apps", json!({"targetNamespace": f.ns.name()}))
        .await?;
    wait_applied(&f.api, "apps", &revision).await?;
    f.api.delete("apps", &DeleteParams::default()).await?;
    testkit::wait::until(
        WAIT,
        "the Kustomization and its ConfigMap are gone",
        || async {
            let ks = f.api.get_opt("apps").await.map_err(|e| e.to_string())?;
            let cm = f
                .config_maps
                .get_opt("app")
                .await
                .map_err(|e| e.to_string())?;
            Ok((ks.is_none() && cm.is_none()).then_some(()))
        },
    )
    .await
    .map_err(anyhow::Error::msg)?;
    f.finish().await
}

#[tokio::test]
async fn an_artifact_server_that_is_down_fails_then_recovers() -> anyhow::Result<()> {
    let mut f = fixture("ks-artifact-down", &[]).await?;
    f.source
        .publish(&f.cluster.client, &[("cm.yaml", &config_map("app", "1"))])
        .await?;
    f.source.stop_serving();
    f.create(
        "apps",
        json!({"targetNamespace": f.ns.name(), "retryInterval": "2s"}),
    )
    .await?;
    let ks = wait_failing(&f.api, "apps", "ArtifactFailed").await?;
    let reconciling = condition(&ks, "Reconciling").expect("Reconciling while retrying");
    assert_eq!(reconciling.reason, "ProgressingWithRetry");
    // A new source-controller comes up and serves again.
    f.source.serve().await?;
    let revision = f
        .source
        .publish(&f.cluster.client, &[("cm.yaml", &config_map("app", "2"))])
        .await?;
    wait_applied(&f.api, "apps", &revision).await?;
    f.finish().await
}

#[tokio::test]
async fn the_overlay_fields_rename_relabel_patch_and_retag_what_the_path_builds()
-> anyhow::Result<()> {
    let mut f = fixture("ks-overlay", &[]).await?;
    let ns = f.ns.name().to_owned();
    // An explicit namespace in Git is overridden by targetNamespace, as in Flux.
    let deployment = "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: web\n  namespace: elsewhere\nspec:\n  selector:\n    matchLabels:\n      app: web\n  template:\n    metadata:\n      labels:\n        app: web\n    spec:\n      containers:\n      - name: web\n        image: nginx:1.0\n";
    let revision = f
        .source
        .publish(
            &f.cluster.client,
            &[
                ("web.yaml", deployment),
                ("cm.yaml", &config_map("settings", "1")),
            ],
        )
        .await?;
    f.create(
        "apps",
        json!({
            "targetNamespace": ns,
            "namePrefix": "team-",
            "commonMetadata": {"labels": {"team": "a"}, "annotations": {"owner": "${not_substituted}"}},
            "images": [{"name": "nginx", "newTag": "1.27"}],
            "patches": [{"target": {"kind": "ConfigMap"},
                "patch": "- op: replace\n  path: /data/value\n  value: patched\n"}],
            "postBuild": {"substitute": {"not_substituted": "oops"}},
        }),
    )
    .await?;
    wait_applied(&f.api, "apps", &revision).await?;
    let cm = f.config_maps.get("team-settings").await?;
    assert_eq!(
        cm.data.unwrap_or_default().get("value").map(String::as_str),
        Some("patched")
    );
    let labels = cm.metadata.labels.unwrap_or_default();
    assert_eq!(labels.get("team").map(String::as_str), Some("a"));
    let annotations = cm.metadata.annotations.unwrap_or_default();
    assert_eq!(
        annotations.get("owner").map(String::as_str),
        Some("${not_substituted}")
    );
    let deployments: Api<k8s_openapi::api::apps::v1::Deployment> =
        Api::namespaced(f.cluster.client.clone(), &ns);
    let web = deployments.get("team-web").await?;
    let image = web
        .spec
        .template
        .spec
        .and_then(|s| s.containers.first().and_then(|c| c.image.clone()));
    assert_eq!(image.as_deref(), Some("nginx:1.27"));
    f.finish().await
}

#[tokio::test]
async fn an_external_artifact_is_applied_like_any_other_source() -> anyhow::Result<()> {
    let mut f = fixture_with_source("ks-external", &[], "ExternalArtifact").await?;
    let revision = f
        .source
        .publish(&f.cluster.client, &[("cm.yaml", &config_map("app", "1"))])
        .await?;
    f.create("apps", json!({"targetNamespace": f.ns.name()}))
        .await?;
    wait_applied(&f.api, "apps", &revision).await?;
    assert!(f.config_maps.get_opt("app").await?.is_some());
    f.finish().await
}

#[tokio::test]
async fn a_source_in_another_namespace_is_refused_when_cross_namespace_refs_are_blocked()
-> anyhow::Result<()> {
    let mut f = fixture("ks-no-cross", &["--no-cross-namespace-refs=true"]).await?;
    f.source
        .publish(&f.cluster.client, &[("cm.yaml", &config_map("app", "1"))])
        .await?;
    f.create(
        "apps",
        json!({"sourceRef": {"kind": "GitRepository", "name": "fleet", "namespace": "flux-system"}}),
    )
    .await?;
    let ks = wait_failing(&f.api, "apps", "AccessDenied").await?;
    assert_eq!(
        condition(&ks, "Stalled").map(|c| c.status.as_str()),
        Some("True")
    );
    f.finish().await
}
