//! `spec.kubeConfig.configMapRef` (secret-less remote clusters): the Kustomization is applied
//! with a ServiceAccount token the controller requests for the ConfigMap's audiences and sends
//! to the ConfigMap's address. The "remote" cluster is the test plane itself, which accepts
//! tokens for its issuer's audience; RBAC on the token's account shows who applied.

mod common;

use std::collections::BTreeMap;

use common::*;
use k8s_openapi::api::core::v1::{ConfigMap, ServiceAccount};
use k8s_openapi::api::rbac::v1::{Role, RoleBinding};
use kube::api::{Api, PostParams};
use serde_json::json;

/// The only audience the test API server accepts: its issuer (no `--api-audiences`).
const ISSUER: &str = "https://kubernetes.default.svc.cluster.local";

const GATE: &str = "--feature-gates=ObjectLevelWorkloadIdentity=true";

/// ServiceAccount `name` in the fixture's namespace, admin there when `admin`.
async fn account(f: &Fixture, name: &str, admin: bool) -> anyhow::Result<()> {
    let (client, ns, pp) = (&f.cluster.client, f.ns.name(), PostParams::default());
    let accounts: Api<ServiceAccount> = Api::namespaced(client.clone(), ns);
    let sa = json!({"metadata": {"name": name}});
    accounts.create(&pp, &serde_json::from_value(sa)?).await?;
    if !admin {
        return Ok(());
    }
    let roles: Api<Role> = Api::namespaced(client.clone(), ns);
    let role = json!({
        "metadata": {"name": name},
        "rules": [{"apiGroups": ["*"], "resources": ["*"], "verbs": ["*"]}],
    });
    roles.create(&pp, &serde_json::from_value(role)?).await?;
    let bindings: Api<RoleBinding> = Api::namespaced(client.clone(), ns);
    let binding = json!({
        "metadata": {"name": name},
        "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": name},
        "subjects": [{"kind": "ServiceAccount", "name": name, "namespace": ns}],
    });
    bindings
        .create(&pp, &serde_json::from_value(binding)?)
        .await?;
    Ok(())
}

/// ConfigMap `name` with `data`.
async fn settings(f: &Fixture, name: &str, data: &[(&str, &str)]) -> anyhow::Result<()> {
    let data: BTreeMap<&str, &str> = data.iter().copied().collect();
    let cm: ConfigMap = serde_json::from_value(json!({"metadata": {"name": name}, "data": data}))?;
    f.config_maps.create(&PostParams::default(), &cm).await?;
    Ok(())
}

/// The test plane as a remote cluster: its address and CA bundle.
async fn remote(f: &Fixture) -> anyhow::Result<(String, String)> {
    let server = f.cluster.plane.config().await?.cluster_url.to_string();
    let ca = std::fs::read_to_string(f.cluster.plane.state_dir().join("pki/ca.crt"))?;
    Ok((server, ca))
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
    let (server, ca) = remote(&f).await?;
    account(&f, "deployer", true).await?;
    account(&f, "nobody", false).await?;
    let base = [
        ("provider", "generic"),
        ("address", server.as_str()),
        ("ca.crt", ca.as_str()),
        ("audiences", ISSUER),
    ];
    settings(
        &f,
        "as-deployer",
        &[&base[..], &[("serviceAccountName", "deployer")]].concat(),
    )
    .await?;
    settings(
        &f,
        "as-nobody",
        &[&base[..], &[("serviceAccountName", "nobody")]].concat(),
    )
    .await?;

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
    let (server, _) = remote(&f).await?;
    settings(&f, "no-provider", &[("address", &server)]).await?;
    settings(
        &f,
        "eks",
        &[
            ("provider", "aws"),
            ("cluster", "arn:aws:eks:eu-central-1:1:cluster/c"),
        ],
    )
    .await?;
    // A ServiceAccount named in the ConfigMap needs the gate this controller runs without.
    settings(
        &f,
        "object-level",
        &[
            ("provider", "generic"),
            ("address", &server),
            ("serviceAccountName", "x"),
        ],
    )
    .await?;
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
