//! The client an applier (a Kustomization, a HelmRelease) acts with, chosen by Flux's
//! impersonation rules:
//!
//! - `spec.kubeConfig.secretRef` -> a client for the cluster of that kubeconfig; with
//!   `spec.serviceAccountName` set too, that account is impersonated on the remote cluster;
//! - `spec.kubeConfig.configMapRef` -> a client for the cluster that ConfigMap describes,
//!   authenticated by a ServiceAccount token (see [`crate::configmap_target`]), impersonating
//!   `spec.serviceAccountName` there as with a Secret;
//! - else `spec.serviceAccountName` (or `--default-service-account`) -> the controller's client
//!   impersonating `system:serviceaccount:<namespace>:<name>`, so RBAC limits what a tenant's
//!   object may change;
//! - else the controller's own client.
//!
//! Kubeconfig contents never reach an error message: parse errors keep only their position.

use std::collections::HashMap;
use std::sync::Mutex;

use driftless_api::meta::KubeConfigReference;
use k8s_openapi::api::core::v1::Secret;
use kube::api::Api;
use kube::config::{KubeConfigOptions, Kubeconfig};

use crate::configmap_target::ConfigMapClients;
pub use crate::configmap_target::WorkloadIdentity;
use crate::ratelimit::{self, Limits};

/// Why no client could be built for a target.
#[derive(Debug, thiserror::Error)]
pub enum TargetError {
    /// The kubeconfig Secret could not be read (missing, forbidden…).
    #[error("failed to get {subject}")]
    Read {
        /// `kubeconfig Secret 'namespace/name'`.
        subject: String,
        /// The API error.
        #[source]
        source: Box<kube::Error>,
    },
    /// The kubeconfig is unusable, or a client could not be built.
    #[error("{message}")]
    Client {
        /// What is wrong; never the kubeconfig's text.
        message: String,
    },
    /// The kubeconfig ConfigMap names a cloud provider this build cannot authenticate with:
    /// retrying cannot help until the ConfigMap changes.
    #[error("{message}")]
    Unsupported {
        /// `aws`, `azure` or `gcp`.
        provider: &'static str,
        /// What is wrong and what to use instead.
        message: String,
    },
}

/// Whom an object acts as: its namespace, `spec.serviceAccountName`, `spec.kubeConfig`.
#[derive(Clone, Copy, Debug)]
pub struct Target<'a> {
    /// The object's namespace: the service account's and the kubeconfig Secret's.
    pub namespace: &'a str,
    /// `spec.serviceAccountName`.
    pub service_account_name: Option<&'a str>,
    /// `spec.kubeConfig`.
    pub kube_config: Option<&'a KubeConfigReference>,
}

impl Target<'_> {
    /// Whether the target is another cluster, reached through a kubeconfig Secret or the
    /// settings of a ConfigMap.
    pub fn is_remote(&self) -> bool {
        self.secret_ref().is_some() || self.config_map_ref().is_some()
    }

    fn secret_ref(&self) -> Option<&driftless_api::meta::SecretKeyReference> {
        self.kube_config.and_then(|k| k.secret_ref.as_ref())
    }

    fn config_map_ref(&self) -> Option<&driftless_api::meta::LocalObjectReference> {
        self.kube_config.and_then(|k| k.config_map_ref.as_ref())
    }

    fn service_account(&self) -> Option<&str> {
        self.service_account_name.filter(|s| !s.is_empty())
    }
}

/// What a kubeconfig from a Secret may do, as Flux's `--insecure-kubeconfig-exec` and
/// `--insecure-kubeconfig-tls` allow it. Both off by default: a tenant's kubeconfig must not run
/// commands in the controller's pod nor turn off server certificate checks.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct KubeconfigPolicy {
    /// Keep `exec` credential plugins and `auth-provider` entries (which may run `cmd-path`).
    pub allow_exec: bool,
    /// Keep `insecure-skip-tls-verify: true`.
    pub allow_insecure_tls: bool,
}

impl KubeconfigPolicy {
    /// Strips what the policy does not allow, as Flux does (the entries are dropped, not
    /// refused: the kubeconfig then fails on its own if it needed them).
    pub fn apply(&self, kubeconfig: &mut Kubeconfig) {
        if !self.allow_exec {
            for auth in kubeconfig.auth_infos.iter_mut() {
                if let Some(info) = auth.auth_info.as_mut() {
                    info.exec = None;
                    info.auth_provider = None;
                }
            }
        }
        if !self.allow_insecure_tls {
            for cluster in kubeconfig.clusters.iter_mut() {
                if let Some(c) = cluster.cluster.as_mut() {
                    c.insecure_skip_tls_verify = None;
                }
            }
        }
    }
}

/// Builds (and caches, per impersonated user) the clients objects act with.
pub struct TargetClients {
    base: kube::Config,
    client: kube::Client,
    limits: Limits,
    default_service_account: Option<String>,
    kubeconfig_policy: KubeconfigPolicy,
    impersonating: Mutex<HashMap<String, kube::Client>>,
    config_maps: ConfigMapClients,
}

impl TargetClients {
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
            config_maps: ConfigMapClients::new(client.clone(), &WorkloadIdentity::default()),
            client,
            limits,
            default_service_account: default_service_account.filter(|s| !s.is_empty()),
            kubeconfig_policy: KubeconfigPolicy::default(),
            impersonating: Mutex::new(HashMap::new()),
        }
    }

    /// How tokens for `spec.kubeConfig.configMapRef` clusters are obtained (controller-level
    /// only, from the pod's token, unless set).
    pub fn with_workload_identity(mut self, identity: WorkloadIdentity) -> Self {
        self.config_maps = ConfigMapClients::new(self.client.clone(), &identity);
        self
    }

    /// What kubeconfigs from Secrets may do (strict unless set).
    pub fn with_kubeconfig_policy(mut self, policy: KubeconfigPolicy) -> Self {
        self.kubeconfig_policy = policy;
        self
    }

    /// The controller's own client.
    pub fn own(&self) -> &kube::Client {
        &self.client
    }

    /// The client `target` acts with.
    pub async fn client(&self, target: &Target<'_>) -> Result<kube::Client, TargetError> {
        if let Some(secret_ref) = target.secret_ref() {
            let config = self
                .remote_config(
                    target.namespace,
                    &secret_ref.name,
                    secret_ref.key.as_deref(),
                )
                .await?;
            // On a remote cluster only the object's own account is impersonated:
            // `--default-service-account` names an account of the controller's cluster.
            return match target.service_account() {
                Some(account) => {
                    let user = service_account_user(target.namespace, account);
                    impersonated(config, &user, self.limits)
                }
                None => ratelimit::client(config, self.limits)
                    .map_err(|e| invalid(target.namespace, &secret_ref.name, first_line(&e))),
            };
        }
        if let Some(config_map_ref) = target.config_map_ref() {
            // As with a Secret, only the object's own account is impersonated remotely.
            let user = target
                .service_account()
                .map(|account| service_account_user(target.namespace, account));
            return self
                .config_maps
                .client(
                    &self.client,
                    target.namespace,
                    &config_map_ref.name,
                    user,
                    self.limits,
                )
                .await;
        }
        let account = target
            .service_account()
            .or(self.default_service_account.as_deref());
        match account {
            Some(account) => self.impersonate(&service_account_user(target.namespace, account)),
            None => Ok(self.client.clone()),
        }
    }

    fn impersonate(&self, user: &str) -> Result<kube::Client, TargetError> {
        let mut cache = self
            .impersonating
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if let Some(client) = cache.get(user) {
            return Ok(client.clone());
        }
        let client = impersonated(self.base.clone(), user, self.limits)?;
        cache.insert(user.to_owned(), client.clone());
        Ok(client)
    }

    /// The configuration of the kubeconfig in Secret `namespace/name` (key `key`, or `value` /
    /// `value.yaml` as Flux looks them up).
    async fn remote_config(
        &self,
        namespace: &str,
        name: &str,
        key: Option<&str>,
    ) -> Result<kube::Config, TargetError> {
        let api: Api<Secret> = Api::namespaced(self.client.clone(), namespace);
        let secret = api.get(name).await.map_err(|source| TargetError::Read {
            subject: format!("kubeconfig Secret '{namespace}/{name}'"),
            source: Box::new(source),
        })?;
        let data = secret.data.unwrap_or_default();
        let keys: Vec<&str> = match key {
            Some(key) => vec![key],
            None => vec!["value", "value.yaml"],
        };
        let bytes = keys
            .iter()
            .find_map(|k| data.get(*k))
            .ok_or_else(|| TargetError::Client {
                message: format!(
                    "kubeconfig Secret '{namespace}/{name}' has none of the keys {keys:?}"
                ),
            })?;
        let text = std::str::from_utf8(&bytes.0)
            .map_err(|_| invalid(namespace, name, "not UTF-8".to_owned()))?;
        let mut kubeconfig = Kubeconfig::from_yaml(text)
            .map_err(|e| invalid(namespace, name, parse_problem(&e.to_string())))?;
        self.kubeconfig_policy.apply(&mut kubeconfig);
        kube::Config::from_custom_kubeconfig(kubeconfig, &KubeConfigOptions::default())
            .await
            .map_err(|e| invalid(namespace, name, first_line(&e)))
    }
}

fn impersonated(
    mut config: kube::Config,
    user: &str,
    limits: Limits,
) -> Result<kube::Client, TargetError> {
    config.auth_info.impersonate = Some(user.to_owned());
    config.auth_info.impersonate_groups = None;
    ratelimit::client(config, limits).map_err(|e| TargetError::Client {
        message: format!("failed to build a client impersonating '{user}': {e}"),
    })
}

fn invalid(namespace: &str, name: &str, problem: String) -> TargetError {
    TargetError::Client {
        message: format!("invalid kubeconfig in Secret '{namespace}/{name}': {problem}"),
    }
}

/// The API server's own message for an API error (`serviceaccounts "x" not found`), else the
/// first line of the error.
pub(crate) fn api_problem(error: &kube::Error) -> String {
    match error {
        kube::Error::Api(status) if !status.message.is_empty() => status.message.clone(),
        other => first_line(other),
    }
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
fn first_line(error: &impl ToString) -> String {
    error
        .to_string()
        .lines()
        .next()
        .unwrap_or_default()
        .to_owned()
}

#[cfg(test)]
mod tests {
    use driftless_api::meta::SecretKeyReference;

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

    #[test]
    fn exec_plugins_auth_providers_and_insecure_tls_are_stripped_unless_allowed() {
        let text = "apiVersion: v1\nkind: Config\nclusters:\n- name: c\n  cluster:\n    server: https://127.0.0.1:1\n    insecure-skip-tls-verify: true\nusers:\n- name: u\n  user:\n    exec:\n      apiVersion: client.authentication.k8s.io/v1\n      command: /bin/steal\n    auth-provider:\n      name: gcp\n      config:\n        cmd-path: /bin/steal\ncontexts:\n- name: x\n  context:\n    cluster: c\n    user: u\ncurrent-context: x\n";
        let parsed = Kubeconfig::from_yaml(text).expect("a valid kubeconfig");
        let mut strict = parsed.clone();
        KubeconfigPolicy::default().apply(&mut strict);
        let user = strict.auth_infos[0].auth_info.as_ref().expect("user");
        assert!(user.exec.is_none() && user.auth_provider.is_none());
        let cluster = strict.clusters[0].cluster.as_ref().expect("cluster");
        assert_eq!(cluster.insecure_skip_tls_verify, None);
        assert_eq!(cluster.server.as_deref(), Some("https://127.0.0.1:1"));

        let mut lax = parsed;
        KubeconfigPolicy {
            allow_exec: true,
            allow_insecure_tls: true,
        }
        .apply(&mut lax);
        let user = lax.auth_infos[0].auth_info.as_ref().expect("user");
        assert!(user.exec.is_some() && user.auth_provider.is_some());
        let cluster = lax.clusters[0].cluster.as_ref().expect("cluster");
        assert_eq!(cluster.insecure_skip_tls_verify, Some(true));
    }

    #[test]
    fn a_target_is_remote_with_a_kubeconfig_secret_or_config_map() {
        let by_config_map = KubeConfigReference {
            config_map_ref: Some(driftless_api::meta::LocalObjectReference { name: "cm".into() }),
            ..Default::default()
        };
        let by_secret = KubeConfigReference {
            secret_ref: Some(SecretKeyReference {
                name: "kc".into(),
                key: None,
            }),
            ..Default::default()
        };
        let target = |kube_config| Target {
            namespace: "ns",
            service_account_name: Some(""),
            kube_config,
        };
        assert!(!target(None).is_remote());
        let neither = KubeConfigReference::default();
        assert!(!target(Some(&neither)).is_remote());
        assert!(target(Some(&by_config_map)).is_remote());
        assert!(target(Some(&by_secret)).is_remote());
        assert_eq!(target(None).service_account(), None);
    }
}
