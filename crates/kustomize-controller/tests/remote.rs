//! `spec.kubeConfig.secretRef`: the Kustomization is applied with a client built from the
//! kubeconfig in that Secret, not with the controller's own. The "remote" cluster here is the
//! test plane itself, reached through kubeconfigs that differ from the controller's in ways the
//! test can observe.

mod common;

use common::*;
use k8s_openapi::api::core::v1::Secret;
use kube::api::{Api, PostParams};
use serde_json::json;

/// A Secret `name` holding `kubeconfig` under `key`.
async fn kubeconfig_secret(
    f: &Fixture,
    name: &str,
    key: &str,
    kubeconfig: &str,
) -> anyhow::Result<()> {
    let secrets: Api<Secret> = Api::namespaced(f.cluster.client.clone(), f.ns.name());
    let secret: Secret = serde_json::from_value(json!({
        "metadata": {"name": name},
        "stringData": {key: kubeconfig},
    }))?;
    secrets.create(&PostParams::default(), &secret).await?;
    Ok(())
}

fn ready_message(ks: &driftless_api::kustomize::Kustomization) -> String {
    condition(ks, "Ready")
        .map(|c| c.message.clone())
        .unwrap_or_default()
}

#[tokio::test]
async fn a_kustomization_applies_through_the_kubeconfig_in_its_secret() -> anyhow::Result<()> {
    let mut f = fixture("ks-remote", &[]).await?;
    let revision = f
        .source
        .publish(&f.cluster.client, &[("cm.yaml", &config_map("app", "1"))])
        .await?;
    let kubeconfig = std::fs::read_to_string(f.cluster.plane.kubeconfig_path())?;
    kubeconfig_secret(&f, "remote", "value", &kubeconfig).await?;
    // The same cluster, but as a service account without RBAC: only a client built from this
    // kubeconfig can be refused.
    let restricted = kubeconfig.replacen(
        "  user:\n",
        &format!(
            "  user:\n    as: system:serviceaccount:{}:nobody\n",
            f.ns.name()
        ),
        1,
    );
    assert_ne!(restricted, kubeconfig, "the kubeconfig has a user entry");
    kubeconfig_secret(&f, "restricted", "config", &restricted).await?;

    f.create(
        "apps",
        json!({"targetNamespace": f.ns.name(), "kubeConfig": {"secretRef": {"name": "remote"}}}),
    )
    .await?;
    wait_applied(&f.api, "apps", &revision).await?;
    assert!(f.config_maps.get_opt("app").await?.is_some());

    f.create(
        "denied",
        json!({
            "targetNamespace": f.ns.name(),
            "kubeConfig": {"secretRef": {"name": "restricted", "key": "config"}}
        }),
    )
    .await?;
    let ks = wait_failing(&f.api, "denied", "ReconciliationFailed").await?;
    let message = ready_message(&ks);
    assert!(message.contains("forbidden"), "{message}");
    assert!(message.contains("system:serviceaccount"), "{message}");
    f.finish().await
}

#[tokio::test]
async fn a_missing_or_invalid_kubeconfig_is_a_clear_error_without_its_contents()
-> anyhow::Result<()> {
    let mut f = fixture("ks-remote-bad", &[]).await?;
    f.source
        .publish(&f.cluster.client, &[("cm.yaml", &config_map("app", "1"))])
        .await?;
    kubeconfig_secret(&f, "wrong-key", "kubeconfig", "irrelevant").await?;
    kubeconfig_secret(&f, "garbage", "value", "secret-token-123: [unclosed").await?;

    f.create(
        "missing",
        json!({"kubeConfig": {"secretRef": {"name": "absent"}}}),
    )
    .await?;
    f.create(
        "wrong-key",
        json!({"kubeConfig": {"secretRef": {"name": "wrong-key"}}}),
    )
    .await?;
    f.create(
        "garbage",
        json!({"kubeConfig": {"secretRef": {"name": "garbage"}}}),
    )
    .await?;
    for (name, expected) in [
        ("missing", "kubeconfig Secret"),
        ("wrong-key", "has none of the keys"),
        ("garbage", "invalid kubeconfig in Secret"),
    ] {
        let ks = wait_for(&f.api, name, "Ready=False", |ks| {
            condition(ks, "Ready").is_some_and(|c| c.status == "False")
        })
        .await?;
        let message = ready_message(&ks);
        assert!(message.contains(expected), "{name}: {message}");
        assert!(!message.contains("secret-token-123"), "{name}: {message}");
    }
    assert!(f.config_maps.get_opt("app").await?.is_none());
    f.finish().await
}
