//! Identities for tests of impersonation and of secret-less remote access: ServiceAccounts
//! with namespace RBAC, and the plane seen as a "remote" cluster that accepts ServiceAccount
//! tokens (the settings a `spec.kubeConfig.configMapRef` ConfigMap holds).

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::ServiceAccount;
use k8s_openapi::api::rbac::v1::{Role, RoleBinding};
use kube::api::{Api, PostParams};
use serde_json::{Value, json};

use crate::TestCluster;

/// The only audience the plane's API server accepts in tokens: its issuer (it runs without
/// `--api-audiences`, which then defaults to `--service-account-issuer`).
pub const ISSUER_AUDIENCE: &str = "https://kubernetes.default.svc.cluster.local";

/// RBAC rules allowing everything in a namespace (impersonating its accounts included).
pub fn namespace_admin() -> Value {
    json!([{"apiGroups": ["*"], "resources": ["*"], "verbs": ["*"]}])
}

/// ServiceAccount `name` in `namespace`, bound to a Role `name` with `rules` (no Role at all
/// when `rules` is an empty list).
pub async fn service_account(
    client: &kube::Client,
    namespace: &str,
    name: &str,
    rules: Value,
) -> anyhow::Result<()> {
    let pp = PostParams::default();
    let accounts: Api<ServiceAccount> = Api::namespaced(client.clone(), namespace);
    let account = json!({"metadata": {"name": name}});
    accounts
        .create(&pp, &serde_json::from_value(account)?)
        .await?;
    if rules.as_array().is_some_and(Vec::is_empty) {
        return Ok(());
    }
    let roles: Api<Role> = Api::namespaced(client.clone(), namespace);
    let role = json!({"metadata": {"name": name}, "rules": rules});
    roles.create(&pp, &serde_json::from_value(role)?).await?;
    let bindings: Api<RoleBinding> = Api::namespaced(client.clone(), namespace);
    let binding = json!({
        "metadata": {"name": name},
        "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": name},
        "subjects": [{"kind": "ServiceAccount", "name": name, "namespace": namespace}],
    });
    bindings
        .create(&pp, &serde_json::from_value(binding)?)
        .await?;
    Ok(())
}

/// The plane as a remote cluster: its API server URL and CA bundle (PEM).
pub async fn remote_endpoint(cluster: &TestCluster) -> anyhow::Result<(String, String)> {
    let server = cluster.plane.config().await?.cluster_url.to_string();
    let ca = std::fs::read_to_string(cluster.plane.state_dir().join("pki/ca.crt"))?;
    Ok((server, ca))
}

/// ConfigMap data for the `generic` provider reaching the plane: address, CA, the issuer
/// audience when `audience`, and `serviceAccountName` when `account` is set.
pub async fn generic_access(
    cluster: &TestCluster,
    audience: bool,
    account: Option<&str>,
) -> anyhow::Result<BTreeMap<String, String>> {
    let (server, ca) = remote_endpoint(cluster).await?;
    let mut data = BTreeMap::from([
        ("provider".to_owned(), "generic".to_owned()),
        ("address".to_owned(), server),
        ("ca.crt".to_owned(), ca),
    ]);
    if audience {
        data.insert("audiences".to_owned(), ISSUER_AUDIENCE.to_owned());
    }
    if let Some(account) = account {
        data.insert("serviceAccountName".to_owned(), account.to_owned());
    }
    Ok(data)
}
