//! The client a HelmRelease's Helm actions and release storage use, as Flux builds its REST
//! client getter: the cluster of `spec.kubeConfig.secretRef` or of the settings in
//! `spec.kubeConfig.configMapRef` (a ServiceAccount token, no Secret), else the controller's
//! own, acting as `spec.serviceAccountName` (or `--default-service-account` on the own
//! cluster) when set.
//! Everything else (sources, values, the HelmChart, the status) stays on the controller's own
//! client.

use driftless_api::helm::HelmRelease;
use driftless_runtime::target_client::{Target, TargetClients};
use driftless_ssa::resolve::Resolver;
use kube::ResourceExt;

use crate::error::ReconcileError;
use crate::reconcile::Context;

/// The client the release of `hr` is installed, upgraded, tested, rolled back, uninstalled and
/// stored with.
pub async fn client(
    targets: &TargetClients,
    hr: &HelmRelease,
) -> Result<kube::Client, ReconcileError> {
    let namespace = hr.namespace().unwrap_or_default();
    Ok(targets.client(&target(hr, &namespace)).await?)
}

/// The kind resolver for `hr`'s cluster: the shared one on the controller's own cluster
/// (impersonation does not change what the cluster serves), a fresh one for a `kubeConfig`
/// cluster.
pub fn resolver(ctx: &Context, hr: &HelmRelease, client: &kube::Client) -> Resolver {
    let namespace = hr.namespace().unwrap_or_default();
    if target(hr, &namespace).is_remote() {
        Resolver::new(client.clone())
    } else {
        ctx.resolver.clone()
    }
}

/// Whom `hr` acts as.
pub fn target<'a>(hr: &'a HelmRelease, namespace: &'a str) -> Target<'a> {
    Target {
        namespace,
        service_account_name: hr.spec.service_account_name.as_deref(),
        kube_config: hr.spec.kube_config.as_ref(),
    }
}
