//! `spec.kubeConfig.configMapRef` (secret-less remote clusters): a HelmRelease's actions and
//! release storage go through a ServiceAccount token the controller requests for the
//! ConfigMap's audiences and sends to the ConfigMap's address. The "remote" cluster is the test
//! plane itself, which accepts tokens for its issuer's audience; `spec.serviceAccountName` is
//! impersonated there by the token's account. A cloud provider stalls with a clear condition.

mod common;

use std::collections::BTreeMap;

use common::*;

use driftless_helm::release::{KubeSecrets, Status, Storage};
use k8s_openapi::api::core::v1::ConfigMap;
use kube::api::{Api, PostParams};
use serde_json::json;
use testkit::identity::{generic_access, namespace_admin, service_account};

/// ConfigMap `name` with `data`.
async fn settings(f: &Fixture, name: &str, data: BTreeMap<String, String>) -> anyhow::Result<()> {
    let cms: Api<ConfigMap> = Api::namespaced(f.cluster.client.clone(), &f.ns);
    let cm: ConfigMap = serde_json::from_value(json!({"metadata": {"name": name}, "data": data}))?;
    cms.create(&PostParams::default(), &cm).await?;
    Ok(())
}

fn ready_message(hr: &driftless_api::helm::HelmRelease) -> String {
    condition(hr, "Ready")
        .map(|c| c.message.clone())
        .unwrap_or_default()
}

#[tokio::test]
async fn a_release_is_installed_through_a_config_map_as_the_token_account() -> anyhow::Result<()> {
    let f = Fixture::start_with(
        "hc-cm-remote",
        &["--feature-gates=ObjectLevelWorkloadIdentity=true"],
    )
    .await?;
    let client = &f.cluster.client.clone();
    let (ns, api) = (f.ns.clone(), &f.api);
    service_account(client, &ns, "deployer", namespace_admin()).await?;
    let access = generic_access(&f.cluster, true, Some("deployer")).await?;
    settings(&f, "remote", access).await?;
    let eks = [
        ("provider", "aws"),
        ("cluster", "arn:aws:eks:eu-central-1:1:cluster/c"),
    ];
    settings(
        &f,
        "eks",
        eks.iter()
            .map(|(k, v)| ((*k).into(), (*v).into()))
            .collect(),
    )
    .await?;

    let by_config_map = |name: &str| json!({"configMapRef": {"name": name}});
    f.create("remote", json!({"kubeConfig": by_config_map("remote")}))
        .await?;
    f.create(
        "remote-as-tenant",
        json!({"kubeConfig": by_config_map("remote"), "serviceAccountName": "tenant"}),
    )
    .await?;
    f.create("eks", json!({"kubeConfig": by_config_map("eks")}))
        .await?;

    wait_released(api, "remote", 1).await?;
    assert_eq!(
        greeting(client, &ns, "remote-cfg").await?.as_deref(),
        Some("hello")
    );
    let storage = Storage::new(KubeSecrets::new(client.clone(), &ns));
    let last = storage
        .last("remote")
        .await?
        .expect("the release is stored");
    assert_eq!(last.status(), Status::Deployed);

    // The token's account impersonates the HelmRelease's, which has no RBAC at all.
    let tenant = format!("system:serviceaccount:{ns}:tenant");
    let hr = wait_for(api, "remote-as-tenant", "refused as the tenant", |hr| {
        condition(hr, "Ready").is_some_and(|c| c.status == "False" && c.message.contains(&tenant))
    })
    .await?;
    let message = ready_message(&hr);
    assert!(message.contains("forbidden"), "{message}");
    assert!(
        !message.contains("eyJ"),
        "no token in the status: {message}"
    );
    assert_eq!(greeting(client, &ns, "remote-as-tenant-cfg").await?, None);

    let hr = wait_for(api, "eks", "Stalled=True", |hr| {
        condition(hr, "Stalled").is_some_and(|c| c.status == "True")
    })
    .await?;
    let message = ready_message(&hr);
    assert!(
        message.contains(&format!("invalid kubeconfig ConfigMap '{ns}/eks'")),
        "{message}"
    );
    assert!(
        message.contains("provider 'aws' is not supported"),
        "{message}"
    );
    assert!(!message.contains("BEGIN CERTIFICATE"), "{message}");

    f.finish(&["remote", "remote-as-tenant", "eks"]).await?;
    // Uninstalled through the same token: objects and storage are gone.
    assert_eq!(greeting(client, &ns, "remote-cfg").await?, None);
    assert!(storage.last("remote").await?.is_none());
    Ok(())
}

#[tokio::test]
async fn a_config_map_naming_an_account_needs_the_object_level_gate() -> anyhow::Result<()> {
    let f = Fixture::start("hc-cm-gate").await?;
    let access = generic_access(&f.cluster, false, Some("deployer")).await?;
    settings(&f, "remote", access).await?;
    f.create(
        "gated",
        json!({"kubeConfig": {"configMapRef": {"name": "remote"}}}),
    )
    .await?;
    let hr = wait_failing(&f.api, "gated", "RESTClientError").await?;
    let message = ready_message(&hr);
    assert_eq!(
        message,
        "failed to get access token for cluster: ObjectLevelWorkloadIdentity feature gate is not enabled"
    );
    assert!(condition(&hr, "Stalled").is_none(), "retried, not stalled");
    f.finish(&["gated"]).await
}
