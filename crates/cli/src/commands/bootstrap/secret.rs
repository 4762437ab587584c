//! The source Secret bootstrap writes, in the keys source-controller reads: `identity`,
//! `identity.pub`, `known_hosts` (and `password`) over SSH; `username`/`password` or
//! `bearerToken` over HTTPS.

use driftless_git::Auth;
use kube::api::{Api, Patch, PatchParams};
use serde_json::{Value, json};

use super::{FIELD_MANAGER, GitBootstrap};
use crate::commands::cluster::ClusterError;

/// Writes the credentials the clone used; over SSH `known_hosts` is the one the cluster's
/// host gets (`--ssh-hostname`).
pub(super) async fn apply_secret(
    client: &kube::Client,
    git: &GitBootstrap,
    auth: &Auth,
    known_hosts: Option<&str>,
    namespace: &str,
) -> Result<(), ClusterError> {
    let auth = auth.clone();
    if let (Some(identity), Some(known_hosts)) = (&auth.ssh_identity, known_hosts) {
        let public = driftless_git::identity_public_key(identity, auth.ssh_password.as_deref())
            .map_err(|e| ClusterError::Invalid(e.to_string()))?;
        let mut data = json!({
            "identity": String::from_utf8_lossy(identity),
            "identity.pub": public,
            "known_hosts": known_hosts,
        });
        if let Some(password) = &auth.ssh_password {
            data["password"] = json!(password);
        }
        return apply_secret_data(client, git, namespace, data).await;
    }
    let data = match (auth.bearer_token, auth.basic) {
        (Some(token), _) => json!({"bearerToken": token}),
        (None, Some(basic)) => json!({"username": basic.username, "password": basic.password}),
        (None, None) => return Ok(()),
    };
    apply_secret_data(client, git, namespace, data).await
}

/// Applies `stringData` as the Secret `--secret-name`, replacing what it held.
pub(super) async fn apply_secret_data(
    client: &kube::Client,
    git: &GitBootstrap,
    namespace: &str,
    data: Value,
) -> Result<(), ClusterError> {
    let secret = json!({"apiVersion": "v1", "kind": "Secret",
        "metadata": {"name": git.secret_name, "namespace": namespace}, "stringData": data});
    let api: Api<k8s_openapi::api::core::v1::Secret> = Api::namespaced(client.clone(), namespace);
    api.patch(
        &git.secret_name,
        &PatchParams::apply(FIELD_MANAGER).force(),
        &Patch::Apply(&secret),
    )
    .await
    .map_err(|e| ClusterError::api(format!("applying Secret {}", git.secret_name), e))?;
    Ok(())
}
