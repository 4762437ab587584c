//! Which client applies a Kustomization, as Flux's impersonation rules choose it:
//! `spec.kubeConfig.secretRef` -> a client for the remote cluster in that kubeconfig;
//! else `spec.serviceAccountName` (or `--default-service-account`) -> the controller's client
//! impersonating `system:serviceaccount:<namespace>:<name>`, so RBAC limits what a tenant's
//! Kustomization may change; else the controller's own client.

use std::collections::HashMap;
use std::sync::Mutex;

use driftless_api::kustomize::Kustomization;
use driftless_runtime::ratelimit::{self, Limits};
use driftless_ssa::resolve::Resolver;
use k8s_openapi::api::core::v1::Secret;
use kube::ResourceExt;
use kube::api::Api;
use kube::config::{KubeConfigOptions, Kubeconfig};

use crate::error::ReconcileError;

/// Builds (and caches, per identity) the clients Kustomizations apply with.
pub struct Clients {
    base: kube::Config,
    client: kube::Client,
    /// Discovery cache for the controller's own cluster, shared by every reconcile there.
    resolver: Resolver,
    limits: Limits,
    default_service_account: Option<String>,
    impersonating: Mutex<HashMap<String, kube::Client>>,
}

impl Clients {
    /// `base` is the controller's own configuration; `client` is built from it. Clients built
    /// here get the same `limits` (`--kube-api-qps`/`--kube-api-burst`) as the controller's own.
    pub fn new(
        base: kube::Config,
        client: kube::Client,
        limits: Limits,
        default_service_account: Option<String>,
    ) -> Self {
        Self {
            base,
            resolver: Resolver::new(client.clone()),
            client,
            limits,
            default_service_account,
            impersonating: Mutex::new(HashMap::new()),
        }
    }

    /// The controller's own client.
    pub fn own(&self) -> &kube::Client {
        &self.client
    }

    /// The kind resolver for `ks`'s cluster: the shared one for the controller's own cluster
    /// (impersonation does not change what the cluster serves), a fresh one over `client` for a
    /// `kubeConfig` cluster.
    pub fn resolver(&self, ks: &Kustomization, client: &kube::Client) -> Resolver {
        if remote_secret(ks).is_some() {
            Resolver::new(client.clone())
        } else {
            self.resolver.clone()
        }
    }

    /// The client that applies, prunes and health-checks `ks`.
    pub async fn for_kustomization(
        &self,
        ks: &Kustomization,
    ) -> Result<kube::Client, ReconcileError> {
        let namespace = ks.namespace().unwrap_or_default();
        if let Some(secret_ref) = remote_secret(ks) {
            return self
                .remote(&namespace, &secret_ref.name, secret_ref.key.as_deref())
                .await;
        }
        let account = ks
            .spec
            .service_account_name
            .clone()
            .filter(|s| !s.is_empty())
            .or_else(|| self.default_service_account.clone());
        match account {
            Some(account) => self.impersonate(&service_account_user(&namespace, &account)),
            None => Ok(self.client.clone()),
        }
    }

    fn impersonate(&self, user: &str) -> Result<kube::Client, ReconcileError> {
        let mut cache = self
            .impersonating
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if let Some(client) = cache.get(user) {
            return Ok(client.clone());
        }
        let mut config = self.base.clone();
        config.auth_info.impersonate = Some(user.to_owned());
        config.auth_info.impersonate_groups = None;
        let client =
            ratelimit::client(config, self.limits).map_err(|e| ReconcileError::Client {
                message: format!("failed to build a client impersonating '{user}': {e}"),
            })?;
        cache.insert(user.to_owned(), client.clone());
        Ok(client)
    }

    /// A client for the cluster of the kubeconfig in Secret `namespace/name` (key `key`, or
    /// `value` / `value.yaml` as Flux looks them up).
    async fn remote(
        &self,
        namespace: &str,
        name: &str,
        key: Option<&str>,
    ) -> Result<kube::Client, ReconcileError> {
        let api: Api<Secret> = Api::namespaced(self.client.clone(), namespace);
        let secret = api.get(name).await.map_err(|source| ReconcileError::Read {
            subject: format!("kubeconfig Secret '{namespace}/{name}'"),
            source: Box::new(source),
        })?;
        let data = secret.data.unwrap_or_default();
        let keys: Vec<&str> = match key {
            Some(key) => vec![key],
            None => vec!["value", "value.yaml"],
        };
        let bytes =
            keys.iter()
                .find_map(|k| data.get(*k))
                .ok_or_else(|| ReconcileError::Client {
                    message: format!(
                        "kubeconfig Secret '{namespace}/{name}' has none of the keys {keys:?}"
                    ),
                })?;
        let invalid = |problem: String| ReconcileError::Client {
            message: format!("invalid kubeconfig in Secret '{namespace}/{name}': {problem}"),
        };
        let text = std::str::from_utf8(&bytes.0).map_err(|_| invalid("not UTF-8".to_owned()))?;
        let kubeconfig =
            Kubeconfig::from_yaml(text).map_err(|e| invalid(parse_problem(&e.to_string())))?;
        let config =
            kube::Config::from_custom_kubeconfig(kubeconfig, &KubeConfigOptions::default())
                .await
                .map_err(|e| invalid(first_line(&e.to_string())))?;
        ratelimit::client(config, self.limits).map_err(|e| invalid(first_line(&e.to_string())))
    }
}

/// The kubeconfig Secret reference of a Kustomization that applies to another cluster.
fn remote_secret(ks: &Kustomization) -> Option<&driftless_api::meta::SecretKeyReference> {
    ks.spec
        .kube_config
        .as_ref()
        .and_then(|k| k.secret_ref.as_ref())
}

/// The user name Kubernetes gives a service account.
pub fn service_account_user(namespace: &str, name: &str) -> String {
    format!("system:serviceaccount:{namespace}:{name}")
}

/// A kubeconfig parse error without the text it quotes: YAML and serde errors echo the offending
/// input (a token, a key), which must not reach status or events. Only the position stays.
fn parse_problem(error: &str) -> String {
    let position = error.find("line ").and_then(|at| {
        let rest = &error[at..];
        let end = rest.find([':', '\n']).unwrap_or(rest.len());
        let position = &rest[..end];
        position
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == ' ' || c == ',')
            .then(|| position.to_owned())
    });
    match position {
        Some(position) => format!("not a valid kubeconfig (YAML error at {position})"),
        None => "not a valid kubeconfig".to_owned(),
    }
}

/// The first line of an error: the rest is a quoted excerpt of the input, if anything.
fn first_line(error: &str) -> String {
    error.lines().next().unwrap_or_default().to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn service_accounts_are_impersonated_by_their_kubernetes_user_name() {
        assert_eq!(
            service_account_user("team-a", "reconciler"),
            "system:serviceaccount:team-a:reconciler"
        );
    }

    #[test]
    fn a_kubeconfig_parse_error_keeps_its_position_and_drops_the_quoted_input() {
        let raw = "failed to parse kubeconfig YAML: error: line 1 column 19: unclosed bracket '['\n \
                   --> <input>:1:19\n1 | token-abc: [unclosed";
        let problem = parse_problem(raw);
        assert_eq!(
            problem,
            "not a valid kubeconfig (YAML error at line 1 column 19)"
        );
        assert_eq!(
            parse_problem("invalid type: string \"token-abc\", expected a map"),
            "not a valid kubeconfig"
        );
    }
}
