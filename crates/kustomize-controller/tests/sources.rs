//! Every source kind a Kustomization may name is read through the same path, and the
//! controller-wide flags that shape how a source is built and applied hold.

mod common;

use common::*;
use serde_json::json;

#[tokio::test]
async fn oci_repositories_and_buckets_are_applied_like_git_repositories() -> anyhow::Result<()> {
    for (shard, kind) in [("ks-oci", "OCIRepository"), ("ks-bucket", "Bucket")] {
        let mut f = fixture_with_source(shard, &[], kind).await?;
        let revision = f
            .source
            .publish(&f.cluster.client, &[("cm.yaml", &config_map("app", kind))])
            .await?;
        f.create("apps", json!({"targetNamespace": f.ns.name()}))
            .await?;
        let ks = wait_applied(&f.api, "apps", &revision).await?;
        let data = f.config_maps.get("app").await?.data.unwrap_or_default();
        assert_eq!(data.get("value").map(String::as_str), Some(kind));
        assert_eq!(
            ks.status.and_then(|s| s.last_attempted_revision).as_deref(),
            Some(revision.as_str())
        );
        f.finish().await?;
    }
    Ok(())
}

#[tokio::test]
async fn a_remote_base_is_refused_under_no_remote_bases() -> anyhow::Result<()> {
    let mut f = fixture("ks-no-remote", &["--no-remote-bases=true"]).await?;
    f.source
        .publish(
            &f.cluster.client,
            &[
                (
                    "kustomization.yaml",
                    "resources:\n- cm.yaml\n- https://github.com/example/fleet//base?ref=main\n",
                ),
                ("cm.yaml", &config_map("app", "1")),
            ],
        )
        .await?;
    f.create("apps", json!({"targetNamespace": f.ns.name()}))
        .await?;
    let ks = wait_failing(&f.api, "apps", "BuildFailed").await?;
    let message = condition(&ks, "Ready")
        .map(|c| c.message.clone())
        .unwrap_or_default();
    assert!(message.contains("github.com/example/fleet"), "{message}");
    assert!(
        f.config_maps.get_opt("app").await?.is_none(),
        "nothing applied"
    );
    f.finish().await
}

#[tokio::test]
async fn the_default_service_account_is_impersonated_when_the_spec_names_none() -> anyhow::Result<()>
{
    let mut f = fixture("ks-default-sa", &["--default-service-account=tenant"]).await?;
    f.source
        .publish(&f.cluster.client, &[("cm.yaml", &config_map("app", "1"))])
        .await?;
    f.create("apps", json!({"targetNamespace": f.ns.name()}))
        .await?;
    let ks = wait_failing(&f.api, "apps", "ReconciliationFailed").await?;
    let message = condition(&ks, "Ready")
        .map(|c| c.message.clone())
        .unwrap_or_default();
    assert!(
        message.contains(&format!("system:serviceaccount:{}:tenant", f.ns.name())),
        "{message}"
    );
    assert!(f.config_maps.get_opt("app").await?.is_none());
    f.finish().await
}
