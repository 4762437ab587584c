//! Whom a HelmRelease's Helm actions run as: `spec.serviceAccountName` (RBAC decides what the
//! release may change, its storage Secrets included), `--default-service-account` when the
//! spec names none, and `spec.kubeConfig.secretRef` for another cluster (here the test plane
//! itself, reached through a kubeconfig Secret). A missing or invalid kubeconfig is a clear
//! Ready=False that never quotes the kubeconfig.

mod common;

use common::*;

use driftless_api::helm::HelmRelease;
use driftless_helm::release::{KubeSecrets, Status, Storage};
use k8s_openapi::api::core::v1::{Secret, ServiceAccount};
use k8s_openapi::api::rbac::v1::{Role, RoleBinding};
use kube::api::{Api, PostParams};
use serde_json::json;

/// Service account `name` in `ns` allowed everything inside `ns` (and nothing outside).
async fn namespace_admin(client: &kube::Client, ns: &str, name: &str) -> anyhow::Result<()> {
    let pp = PostParams::default();
    let accounts: Api<ServiceAccount> = Api::namespaced(client.clone(), ns);
    accounts
        .create(
            &pp,
            &serde_json::from_value(json!({"metadata": {"name": name}}))?,
        )
        .await?;
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

/// A Secret `name` holding `text` under `key`.
async fn secret(f: &Fixture, name: &str, key: &str, text: &str) -> anyhow::Result<()> {
    let secrets: Api<Secret> = Api::namespaced(f.cluster.client.clone(), &f.ns);
    let object: Secret = serde_json::from_value(json!({
        "metadata": {"name": name},
        "stringData": {key: text},
    }))?;
    secrets.create(&PostParams::default(), &object).await?;
    Ok(())
}

/// Waits for Ready=False whose message contains every one of `parts`.
async fn wait_refused(
    api: &Api<HelmRelease>,
    name: &str,
    parts: &[&str],
) -> anyhow::Result<HelmRelease> {
    let parts: Vec<String> = parts.iter().map(|p| (*p).to_owned()).collect();
    wait_for(
        api,
        name,
        &format!("{name} Ready=False with {parts:?}"),
        |hr| {
            condition(hr, "Ready").is_some_and(|c| {
                c.status == "False" && parts.iter().all(|p| c.message.contains(p.as_str()))
            })
        },
    )
    .await
}

#[tokio::test]
async fn a_release_runs_as_its_service_account_and_the_default_account_without_rbac_is_refused()
-> anyhow::Result<()> {
    let f = Fixture::start_with("hc-sa", &["--default-service-account=nobody"]).await?;
    let client = &f.cluster.client.clone();
    let (ns, api) = (f.ns.clone(), &f.api);
    namespace_admin(client, &ns, "deployer").await?;

    f.create("tenant", json!({"serviceAccountName": "deployer"}))
        .await?;
    f.create("untrusted", json!({})).await?;

    wait_released(api, "tenant", 1).await?;
    assert_eq!(
        greeting(client, &ns, "tenant-cfg").await?.as_deref(),
        Some("hello")
    );
    let storage = Storage::new(KubeSecrets::new(client.clone(), &ns));
    let last = storage
        .last("tenant")
        .await?
        .expect("the release is stored");
    assert_eq!(last.status(), Status::Deployed);

    // No serviceAccountName: --default-service-account's `nobody`, who may not even read the
    // release storage.
    let user = format!("system:serviceaccount:{ns}:nobody");
    let hr = wait_refused(api, "untrusted", &["forbidden", &user]).await?;
    assert_eq!(hr.status.as_ref().and_then(|s| s.history.clone()), None);
    assert_eq!(greeting(client, &ns, "untrusted-cfg").await?, None);
    assert!(storage.last("untrusted").await?.is_none());

    f.finish(&["tenant", "untrusted"]).await?;
    // The tenant's release was uninstalled as the tenant: its objects and storage are gone.
    assert_eq!(greeting(client, &ns, "tenant-cfg").await?, None);
    assert!(storage.last("tenant").await?.is_none());
    Ok(())
}

#[tokio::test]
async fn a_release_applies_through_the_kubeconfig_in_its_secret_and_bad_ones_are_clear_errors()
-> anyhow::Result<()> {
    let f = Fixture::start("hc-kubeconfig").await?;
    let (client, ns, api) = (&f.cluster.client, f.ns.clone(), &f.api);
    let kubeconfig = std::fs::read_to_string(f.cluster.plane.kubeconfig_path())?;
    secret(&f, "remote", "value.yaml", &kubeconfig).await?;
    secret(&f, "garbage", "value", "secret-token-123: [unclosed").await?;

    f.create(
        "remote",
        json!({"kubeConfig": {"secretRef": {"name": "remote"}}}),
    )
    .await?;
    // With a kubeconfig, serviceAccountName is impersonated on that cluster.
    f.create(
        "remote-as-nobody",
        json!({"kubeConfig": {"secretRef": {"name": "remote"}}, "serviceAccountName": "nobody"}),
    )
    .await?;
    f.create(
        "absent",
        json!({"kubeConfig": {"secretRef": {"name": "absent"}}}),
    )
    .await?;
    f.create(
        "garbage",
        json!({"kubeConfig": {"secretRef": {"name": "garbage"}}}),
    )
    .await?;

    wait_released(api, "remote", 1).await?;
    assert_eq!(
        greeting(client, &ns, "remote-cfg").await?.as_deref(),
        Some("hello")
    );

    let user = format!("system:serviceaccount:{ns}:nobody");
    wait_refused(api, "remote-as-nobody", &["forbidden", &user]).await?;
    let absent = wait_failing(api, "absent", "RESTClientError").await?;
    let message = &condition(&absent, "Ready").expect("Ready").message;
    assert!(
        message.contains(&format!("kubeconfig Secret '{ns}/absent'")),
        "{message}"
    );
    let garbage = wait_failing(api, "garbage", "RESTClientError").await?;
    let message = &condition(&garbage, "Ready").expect("Ready").message;
    assert!(message.contains("invalid kubeconfig"), "{message}");
    assert!(!message.contains("secret-token-123"), "{message}");

    f.finish(&["remote", "remote-as-nobody", "absent", "garbage"])
        .await
}
