//! The per-object switches against the local control plane: `kustomize.toolkit.fluxcd.io/ssa`
//! (`IfNotPresent`, `Ignore`, `Merge`), `force` and `spec.force`, and Flux's metadata cleanup.

mod common;

use common::{apply, config_map, config_maps, config_value, manager};
use driftless_ssa::Action;
use k8s_openapi::api::core::v1::ConfigMap;
use kube::api::{Patch, PatchParams};
use testkit::TestNamespace;

#[tokio::test]
async fn if_not_present_objects_are_created_once_and_then_left_as_they_are() -> anyhow::Result<()> {
    let cluster = testkit::cluster().await?;
    let ns = TestNamespace::create(&cluster, "ssa-ifnp").await?;
    let mgr = manager(&cluster, &ns, "ifnp");
    let meta = "  annotations:\n    kustomize.toolkit.fluxcd.io/ssa: IfNotPresent\n";
    let created = apply(&mgr, &config_map("seed", "initial", meta)).await?;
    assert_eq!(created.entries[0].action, Action::Created);

    let later = apply(&mgr, &config_map("seed", "changed", meta)).await?;
    assert_eq!(later.entries[0].action, Action::Skipped);
    let cms = config_maps(&cluster, &ns);
    assert_eq!(
        config_value(&cms, "seed").await?.as_deref(),
        Some("initial")
    );
    Ok(())
}

#[tokio::test]
async fn ignored_objects_are_never_applied() -> anyhow::Result<()> {
    let cluster = testkit::cluster().await?;
    let ns = TestNamespace::create(&cluster, "ssa-ignore").await?;
    let mgr = manager(&cluster, &ns, "ignore");
    let meta = "  annotations:\n    kustomize.toolkit.fluxcd.io/ssa: ignore\n";
    let changes = apply(&mgr, &config_map("hands-off", "x", meta)).await?;
    assert_eq!(
        changes.to_string(),
        format!("ConfigMap/{}/hands-off skipped", ns.name())
    );
    assert_eq!(
        config_value(&config_maps(&cluster, &ns), "hands-off").await?,
        None
    );
    Ok(())
}

#[tokio::test]
async fn an_immutable_field_change_fails_validation_unless_force_recreates_the_object()
-> anyhow::Result<()> {
    let cluster = testkit::cluster().await?;
    let ns = TestNamespace::create(&cluster, "ssa-force").await?;
    let mgr = manager(&cluster, &ns, "force");
    let immutable = |value: &str, metadata: &str| {
        format!("{}immutable: true\n", config_map("frozen", value, metadata))
    };
    apply(&mgr, &immutable("one", "")).await?;
    let cms = config_maps(&cluster, &ns);
    let first_uid = cms.get("frozen").await?.metadata.uid;

    let err = apply(&mgr, &immutable("two", ""))
        .await
        .expect_err("immutable without force");
    assert!(err.to_string().contains("immutable"), "{err}");
    assert_eq!(config_value(&cms, "frozen").await?.as_deref(), Some("one"));

    let forced = "  annotations:\n    kustomize.toolkit.fluxcd.io/force: enabled\n";
    let changes = apply(&mgr, &immutable("two", forced)).await?;
    assert_eq!(
        changes.to_string(),
        format!("ConfigMap/{}/frozen created", ns.name())
    );
    let recreated: ConfigMap = cms.get("frozen").await?;
    assert_ne!(
        recreated.metadata.uid, first_uid,
        "the object was recreated"
    );
    assert_eq!(config_value(&cms, "frozen").await?.as_deref(), Some("two"));

    // `spec.force` does the same for every object, without the annotation.
    let mut options = mgr.options().clone();
    options.force = true;
    let forced_mgr = driftless_ssa::ResourceManager::new(cluster.client.clone(), options);
    let changes = apply(&forced_mgr, &immutable("three", "")).await?;
    assert_eq!(changes.entries[0].action, Action::Created);
    assert_eq!(
        config_value(&cms, "frozen").await?.as_deref(),
        Some("three")
    );
    Ok(())
}

#[tokio::test]
async fn fields_kubectl_applied_are_taken_over_and_removed_unless_the_object_says_merge()
-> anyhow::Result<()> {
    let cluster = testkit::cluster().await?;
    let ns = TestNamespace::create(&cluster, "ssa-cleanup").await?;
    let mgr = manager(&cluster, &ns, "cleanup");
    let cms = config_maps(&cluster, &ns);
    // `kubectl apply --server-side` first, with a field our manifest does not have.
    let by_kubectl = |name: &str| {
        serde_json::json!({"apiVersion": "v1", "kind": "ConfigMap",
            "metadata": {"name": name, "annotations": {
                "kubectl.kubernetes.io/last-applied-configuration": "{}"}},
            "data": {"key": "old", "extra": "from-kubectl"}})
    };
    for name in ["migrated", "merged"] {
        cms.patch(
            name,
            &PatchParams::apply("kubectl").force(),
            &Patch::Apply(by_kubectl(name)),
        )
        .await?;
    }

    let merge = "  annotations:\n    kustomize.toolkit.fluxcd.io/ssa: Merge\n";
    let set = format!(
        "{}{}",
        config_map("migrated", "new", ""),
        config_map("merged", "new", merge)
    );
    let changes = apply(&mgr, &set).await?;
    assert!(
        changes
            .entries
            .iter()
            .all(|e| e.action == Action::Configured),
        "{changes}"
    );

    let managers = |cm: &ConfigMap| -> Vec<String> {
        let fields = cm.metadata.managed_fields.clone().unwrap_or_default();
        fields.into_iter().filter_map(|m| m.manager).collect()
    };
    let migrated = cms.get("migrated").await?;
    assert_eq!(managers(&migrated), ["kustomize-controller"]);
    let data = migrated.data.clone().unwrap_or_default();
    assert_eq!(data.get("key").map(String::as_str), Some("new"));
    assert_eq!(
        data.get("extra"),
        None,
        "kubectl's field now ours and removed"
    );
    let annotations = migrated.metadata.annotations.clone().unwrap_or_default();
    assert!(!annotations.contains_key("kubectl.kubernetes.io/last-applied-configuration"));

    let merged = cms.get("merged").await?;
    assert!(managers(&merged).contains(&"kubectl".to_string()));
    let data = merged.data.unwrap_or_default();
    assert_eq!(data.get("extra").map(String::as_str), Some("from-kubectl"));

    let again = apply(&mgr, &set).await?;
    assert!(
        again.entries.iter().all(|e| e.action == Action::Unchanged),
        "{again}"
    );
    Ok(())
}
