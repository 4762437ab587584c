//! Which client applies a Kustomization: Flux's impersonation rules (kubeConfig by Secret or by
//! ConfigMap, then serviceAccountName or `--default-service-account`, then the controller's own
//! client) live in
//! [`driftless_runtime::target_client`]; this module adds the kind resolver of the chosen cluster.

use driftless_api::kustomize::Kustomization;
use driftless_runtime::ratelimit::Limits;
use driftless_runtime::target_client::{Target, TargetClients, TargetError, WorkloadIdentity};
use driftless_ssa::resolve::Resolver;
use kube::ResourceExt;

use crate::error::ReconcileError;

/// Builds (and caches, per identity) the clients Kustomizations apply with.
pub struct Clients {
    targets: TargetClients,
    /// Discovery cache for the controller's own cluster, shared by every reconcile there.
    resolver: Resolver,
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
            resolver: Resolver::new(client.clone()),
            targets: TargetClients::new(base, client, limits, default_service_account),
        }
    }

    /// How tokens for `spec.kubeConfig.configMapRef` clusters are obtained.
    pub fn with_workload_identity(mut self, identity: WorkloadIdentity) -> Self {
        self.targets = self.targets.with_workload_identity(identity);
        self
    }

    /// The controller's own client.
    pub fn own(&self) -> &kube::Client {
        self.targets.own()
    }

    /// The kind resolver for `ks`'s cluster: the shared one for the controller's own cluster
    /// (impersonation does not change what the cluster serves), a fresh one over `client` for a
    /// `kubeConfig` cluster.
    pub fn resolver(&self, ks: &Kustomization, client: &kube::Client) -> Resolver {
        let namespace = ks.namespace().unwrap_or_default();
        if target(ks, &namespace).is_remote() {
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
        self.targets
            .client(&target(ks, &namespace))
            .await
            .map_err(|e| match e {
                TargetError::Read { subject, source } => ReconcileError::Read { subject, source },
                TargetError::Client { message } => ReconcileError::Client { message },
                TargetError::Unsupported { message, .. } => {
                    ReconcileError::UnsupportedTarget { message }
                }
            })
    }
}

fn target<'a>(ks: &'a Kustomization, namespace: &'a str) -> Target<'a> {
    Target {
        namespace,
        service_account_name: ks.spec.service_account_name.as_deref(),
        kube_config: ks.spec.kube_config.as_ref(),
    }
}
