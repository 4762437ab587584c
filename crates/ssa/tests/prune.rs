//! Garbage collection against the local control plane: only objects that left the inventory are
//! deleted, never lookalikes created outside it, and Flux's exclusions are honoured.

mod common;

use common::{apply, config_map, config_maps, config_value, manager};
use driftless_ssa::inventory;
use kube::api::{Patch, PatchParams, PostParams};
use testkit::TestNamespace;

#[tokio::test]
async fn prune_deletes_only_what_left_the_inventory_and_never_a_lookalike_created_outside_it()
-> anyhow::Result<()> {
    let cluster = testkit::cluster().await?;
    let ns = TestNamespace::create(&cluster, "ssa-prune").await?;
    let mgr = manager(&cluster, &ns, "apps");
    let both = format!(
        "{}{}",
        config_map("kept", "a", ""),
        config_map("dropped", "b", "")
    );
    let old = inventory::from_change_set(&apply(&mgr, &both).await?);

    // A lookalike carrying our ownership labels, created by someone else: not in any inventory.
    let cms = config_maps(&cluster, &ns);
    let lookalike = serde_json::from_value(serde_json::json!({
        "metadata": {"name": "lookalike", "labels": {
            "kustomize.toolkit.fluxcd.io/name": "apps",
            "kustomize.toolkit.fluxcd.io/namespace": ns.name()}},
        "data": {"key": "theirs"}
    }))?;
    cms.create(&PostParams::default(), &lookalike).await?;

    let new = inventory::from_change_set(&apply(&mgr, &config_map("kept", "a", "")).await?);
    let stale = inventory::diff(&old, &new);
    assert_eq!(stale.len(), 1);
    assert_eq!(stale[0].id, format!("{}_dropped__ConfigMap", ns.name()));

    let pruned = mgr.delete_stale(&stale).await?;
    assert_eq!(
        pruned.to_string(),
        format!("ConfigMap/{}/dropped deleted", ns.name())
    );
    assert_eq!(config_value(&cms, "kept").await?.as_deref(), Some("a"));
    assert_eq!(
        config_value(&cms, "lookalike").await?.as_deref(),
        Some("theirs")
    );
    testkit::wait::until(std::time::Duration::from_secs(30), "dropped gone", || {
        let cms = cms.clone();
        async move {
            let gone = cms.get_opt("dropped").await.map_err(|e| e.to_string())?;
            Ok(gone.is_none().then_some(()))
        }
    })
    .await
    .map_err(anyhow::Error::msg)?;

    // Pruning the same stale entries again finds nothing left to delete.
    assert!(mgr.delete_stale(&stale).await?.entries.is_empty());
    Ok(())
}

#[tokio::test]
async fn prune_skips_objects_marked_prune_disabled_and_objects_another_owner_took_over()
-> anyhow::Result<()> {
    let cluster = testkit::cluster().await?;
    let ns = TestNamespace::create(&cluster, "ssa-prune-skip").await?;
    let mgr = manager(&cluster, &ns, "apps");
    let protected = "  annotations:\n    kustomize.toolkit.fluxcd.io/prune: disabled\n";
    let set = format!(
        "{}{}",
        config_map("protected", "a", protected),
        config_map("adopted", "b", "")
    );
    let old = inventory::from_change_set(&apply(&mgr, &set).await?);

    // Another Kustomization now owns `adopted` (its labels were rewritten by that owner).
    let cms = config_maps(&cluster, &ns);
    let relabel = serde_json::json!({"metadata": {"labels": {
        "kustomize.toolkit.fluxcd.io/name": "other"}}});
    cms.patch("adopted", &PatchParams::default(), &Patch::Merge(&relabel))
        .await?;

    let stale = inventory::diff(&old, &Default::default());
    let pruned = mgr.delete_stale(&stale).await?;
    let ns_name = ns.name();
    assert_eq!(
        pruned.action_of(&format!("ConfigMap/{ns_name}/protected")),
        Some(driftless_ssa::Action::Skipped)
    );
    assert_eq!(
        pruned.action_of(&format!("ConfigMap/{ns_name}/adopted")),
        Some(driftless_ssa::Action::Skipped)
    );
    assert_eq!(config_value(&cms, "protected").await?.as_deref(), Some("a"));
    assert_eq!(config_value(&cms, "adopted").await?.as_deref(), Some("b"));
    Ok(())
}
