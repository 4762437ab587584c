//! Helpers shared by the integration tests.

use kube::api::{Api, PostParams};
use serde_json::json;

use driftless_api::source::GitRepository;

/// Installs the GitRepository CRD idempotently (CRDs are cluster-scoped and shared with other
/// tests: applied with force, never deleted) and waits until it is Established.
pub async fn install_gitrepository_crd(client: &kube::Client) -> anyhow::Result<()> {
    let name = "gitrepositories.source.toolkit.fluxcd.io";
    let crd = driftless_api::crds()
        .into_iter()
        .find(|c| c.metadata.name.as_deref() == Some(name))
        .ok_or_else(|| anyhow::anyhow!("driftless_api::crds() has no {name}"))?;
    testkit::install_crd(client, &crd, "driftless-runtime-tests").await
}

/// Creates a GitRepository named `name` in `namespace`.
pub async fn create_gitrepository(
    client: &kube::Client,
    namespace: &str,
    name: &str,
    annotations: serde_json::Value,
) -> anyhow::Result<GitRepository> {
    let obj: GitRepository = serde_json::from_value(json!({
        "apiVersion": "source.toolkit.fluxcd.io/v1",
        "kind": "GitRepository",
        "metadata": {"name": name, "namespace": namespace, "annotations": annotations},
        "spec": {"url": "https://example.invalid/repo.git", "interval": "1m0s", "ref": {"branch": "main"}},
    }))?;
    let api: Api<GitRepository> = Api::namespaced(client.clone(), namespace);
    Ok(api.create(&PostParams::default(), &obj).await?)
}
