//! `spec.kubeConfig.configMapRef` (secret-less remote clusters): the Kustomization is applied
//! with a ServiceAccount token the controller requests for the ConfigMap's audiences and sends
//! to the ConfigMap's address. The "remote" cluster is the test plane itself, which accepts
//! tokens for its issuer's audience; RBAC on the token's account shows who applied.

mod common;

use std::collections::BTreeMap;

use common::*;
use k8s_openapi::api::core::v1::ConfigMap;
use kube::api::PostParams;
use serde_json::json;
use testkit::identity::{generic_access, namespace_admin, remote_endpoint, service_account};

const GATE: &str = "--feature-gates=ObjectLevelWorkloadIdentity=true";

/// ConfigMap `name` with `data`.
async fn settings(f: &Fixture, name: &str, data: BTreeMap<String, String>) -> anyhow::Result<()> {
    let cm: ConfigMap = serde_json::from_value(json!({"metadata": {"name": name}, "data": data}))?;
    f.config_maps.create(&PostParams::default(), &cm).await?;
    Ok(())
}

/// `pairs` as ConfigMap data.
fn data(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
    pairs
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect()
}

fn ready_message(ks: &driftless_api::kustomize::Kustomization) -> String {
    condition(ks, "Ready")
        .map(|c| c.message.clone())
        .unwrap_or_default()
}

#[tokio::test]
async fn a_kustomization_applies_through_a_config_map_as_the_token_account() -> anyhow::Result<()> {
    let mut f = fixture("ks-cm-remote", &[GATE]).await?;
    let revision = f
        .source
        .publish(&f.cluster.client, &[("cm.yaml", &config_map("app", "1"))])
        .await?;
    let (client, ns) = (&f.cluster.client, f.ns.name());
    service_account(client, ns, "deployer", namespace_admin()).await?;
    service_account(client, ns, "nobody", json!([])).await?;
    for account in ["deployer", "nobody"] {
        let access = generic_access(&f.cluster, true, Some(account)).await?;
        settings(&f, &format!("as-{account}"), access).await?;
    }

    f.create(
        "apps",
        json!({"targetNamespace": f.ns.name(), "kubeConfig": {"configMapRef": {"name": "as-deployer"}}}),
    )
    .await?;
    f.create(
        "denied",
        json!({"targetNamespace": f.ns.name(), "kubeConfig": {"configMapRef": {"name": "as-nobody"}}}),
    )
    .await?;
    wait_applied(&f.api, "apps", &revision).await?;
    assert!(f.config_maps.get_opt("app").await?.is_some());

    // The same objects, applied with the other ConfigMap's token: refused for its account.
    let ks = wait_failing(&f.api, "denied", "ReconciliationFailed").await?;
    let message = ready_message(&ks);
    let nobody = format!("system:serviceaccount:{}:nobody", f.ns.name());
    assert!(message.contains("forbidden"), "{message}");
    assert!(message.contains(&nobody), "{message}");
    assert!(
        !message.contains("eyJ"),
        "no token in the status: {message}"
    );
    assert!(!message.contains("BEGIN CERTIFICATE"), "{message}");
    f.finish().await
}

#[tokio::test]
async fn bad_config_maps_and_cloud_providers_are_clear_conditions() -> anyhow::Result<()> {
    let mut f = fixture("ks-cm-bad", &[]).await?;
    f.source
        .publish(&f.cluster.client, &[("cm.yaml", &config_map("app", "1"))])
        .await?;
    let (server, _) = remote_endpoint(&f.cluster).await?;
    settings(&f, "no-provider", data(&[("address", &server)])).await?;
    let eks = [
        ("provider", "aws"),
        ("cluster", "arn:aws:eks:eu-central-1:1:cluster/c"),
    ];
    settings(&f, "eks", data(&eks)).await?;
    // A ServiceAccount named in the ConfigMap needs the gate this controller runs without.
    let object_level = generic_access(&f.cluster, true, Some("x")).await?;
    settings(&f, "object-level", object_level).await?;
    for name in ["no-provider", "eks", "object-level", "absent"] {
        f.create(
            name,
            json!({"kubeConfig": {"configMapRef": {"name": name}}}),
        )
        .await?;
    }

    let ks = wait_for(&f.api, "eks", "Stalled=True", |ks| {
        condition(ks, "Stalled").is_some_and(|c| c.status == "True")
    })
    .await?;
    let message = ready_message(&ks);
    assert!(
        message.contains("provider 'aws' is not supported"),
        "{message}"
    );
    for (name, expected) in [
        ("no-provider", "provider '' not implemented"),
        (
            "object-level",
            "ObjectLevelWorkloadIdentity feature gate is not enabled",
        ),
        ("absent", "kubeconfig ConfigMap"),
    ] {
        let ks = wait_failing(&f.api, name, "ReconciliationFailed").await?;
        let message = ready_message(&ks);
        assert!(message.contains(expected), "{name}: {message}");
        assert!(condition(&ks, "Stalled").is_none(), "{name} retries");
    }
    assert!(f.config_maps.get_opt("app").await?.is_none());
    f.finish().await
}
