//! Clients for `spec.kubeConfig.configMapRef`: read the ConfigMap from the controller's own
//! cluster, get a ServiceAccount token for the remote cluster's audiences, and talk to its
//! `address` trusting its `ca.crt`, impersonating `spec.serviceAccountName` there when set.
//!
//! Clients are cached per resolved settings (a changed ConfigMap gives a new client); each
//! request takes its token from the shared [`TokenSource`] cache.

use std::collections::{BTreeMap, HashMap};
use std::path::PathBuf;
use std::sync::{Arc, Mutex, PoisonError};

use k8s_openapi::api::core::v1::ConfigMap;
use kube::api::Api;
use kube::client::ClientBuilder;

use crate::bearer::BearerLayer;
use crate::cluster_access::{self, AccessError, ClusterAccess};
use crate::ratelimit::{Limits, RateLimitLayer};
use crate::sa_token::{Account, OBJECT_LEVEL_GATE, POD_TOKEN_FILE, TokenSource};
use crate::target_client::TargetError;

/// How the controller gets tokens for secret-less remote clusters.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WorkloadIdentity {
    /// Flux's `ObjectLevelWorkloadIdentity` feature gate: may a ConfigMap name the
    /// ServiceAccount whose token is used (`serviceAccountName`)?
    pub object_level: bool,
    /// The pod's mounted token, whose subject is the controller's own account.
    pub pod_token_file: PathBuf,
}

impl Default for WorkloadIdentity {
    fn default() -> Self {
        Self {
            object_level: false,
            pod_token_file: PathBuf::from(POD_TOKEN_FILE),
        }
    }
}

impl WorkloadIdentity {
    /// The settings `--feature-gates` ask for.
    pub fn from_feature_gates(gates: &BTreeMap<String, bool>) -> Self {
        Self {
            object_level: gates.get(OBJECT_LEVEL_GATE).copied().unwrap_or(false),
            ..Self::default()
        }
    }
}

/// Past this many cached clients the cache starts over: a bound for fleets whose ConfigMaps
/// keep changing, far above what a stable fleet needs.
const MAX_CACHED: usize = 512;

#[derive(Clone, Debug, PartialEq, Eq, Hash)]
struct Key {
    access: ClusterAccess,
    account: Account,
    impersonate: Option<String>,
}

/// Builds and caches clients for ConfigMap-described clusters.
pub(crate) struct ConfigMapClients {
    tokens: Arc<TokenSource>,
    clients: Mutex<HashMap<Key, kube::Client>>,
}

impl ConfigMapClients {
    /// Tokens are issued with `own`, the controller's client.
    pub(crate) fn new(own: kube::Client, identity: &WorkloadIdentity) -> Self {
        Self {
            tokens: Arc::new(TokenSource::new(
                own,
                identity.pod_token_file.clone(),
                identity.object_level,
            )),
            clients: Mutex::new(HashMap::new()),
        }
    }

    /// The client for the cluster ConfigMap `namespace/name` describes, acting as
    /// `impersonate` there when set.
    pub(crate) async fn client(
        &self,
        own: &kube::Client,
        namespace: &str,
        name: &str,
        impersonate: Option<String>,
        limits: Limits,
    ) -> Result<kube::Client, TargetError> {
        let subject = format!("kubeconfig ConfigMap '{namespace}/{name}'");
        let api: Api<ConfigMap> = Api::namespaced(own.clone(), namespace);
        let config_map = api.get(name).await.map_err(|source| TargetError::Read {
            subject: subject.clone(),
            source: Box::new(source),
        })?;
        let access = cluster_access::parse(&config_map.data.unwrap_or_default()).map_err(|e| {
            let message = format!("invalid {subject}: {e}");
            match e {
                AccessError::UnsupportedProvider(provider) => TargetError::Unsupported {
                    provider: provider.name(),
                    message,
                },
                _ => TargetError::Client { message },
            }
        })?;
        let account = match &access.service_account {
            Some(account) => Account::Named {
                namespace: namespace.to_owned(),
                name: account.clone(),
            },
            None => Account::Controller,
        };
        // A token now, before any client: a missing account or a refused TokenRequest is this
        // reconcile's error, not a failure deep inside an apply.
        self.tokens
            .token(&account, &access.audiences)
            .await
            .map_err(|e| TargetError::Client {
                message: e.to_string(),
            })?;
        let key = Key {
            access,
            account,
            impersonate,
        };
        let mut clients = self.clients.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(client) = clients.get(&key) {
            return Ok(client.clone());
        }
        let client = self.build(&key, limits).map_err(|e| TargetError::Client {
            message: format!("failed to build a client for {subject}: {e}"),
        })?;
        if clients.len() >= MAX_CACHED {
            clients.clear();
        }
        clients.insert(key, client.clone());
        Ok(client)
    }

    fn build(&self, key: &Key, limits: Limits) -> Result<kube::Client, kube::Error> {
        let uri = key
            .access
            .server
            .parse()
            .map_err(|e: http::uri::InvalidUri| kube::Error::Service(e.into()))?;
        let mut config = kube::Config::new(uri);
        config.root_cert = key.access.ca_certs.clone();
        config.auth_info.impersonate = key.impersonate.clone();
        let bearer = BearerLayer::new(
            self.tokens.clone(),
            key.account.clone(),
            key.access.audiences.clone(),
        );
        let builder = ClientBuilder::try_from(config)?.with_layer(&bearer);
        Ok(if limits.qps > 0.0 && limits.qps.is_finite() {
            builder.with_layer(&RateLimitLayer::new(limits)).build()
        } else {
            builder.build()
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_object_level_gate_follows_the_feature_gates_flag() {
        let mut gates = BTreeMap::new();
        assert_eq!(
            WorkloadIdentity::from_feature_gates(&gates),
            WorkloadIdentity::default()
        );
        gates.insert("ObjectLevelWorkloadIdentity".to_owned(), true);
        let identity = WorkloadIdentity::from_feature_gates(&gates);
        assert!(identity.object_level);
        assert_eq!(identity.pod_token_file, PathBuf::from(POD_TOKEN_FILE));
    }
}
