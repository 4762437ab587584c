//! Helpers shared by the integration tests.

use std::time::Duration;

use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use kube::api::{Api, Patch, PatchParams, PostParams};
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
    let crds: Api<CustomResourceDefinition> = Api::all(client.clone());
    crds.patch(
        name,
        &PatchParams::apply("driftless-runtime-tests").force(),
        &Patch::Apply(&crd),
    )
    .await?;
    testkit::wait::until(
        Duration::from_secs(60),
        "GitRepository CRD Established",
        || {
            let crds = crds.clone();
            async move {
                let crd = crds.get(name).await.map_err(|e| e.to_string())?;
                let established = crd
                    .status
                    .and_then(|s| s.conditions)
                    .unwrap_or_default()
                    .iter()
                    .any(|c| c.type_ == "Established" && c.status == "True");
                Ok(established.then_some(()))
            }
        },
    )
    .await
    .map_err(anyhow::Error::msg)?;
    // Discovery can lag Established by a moment; wait until the resource is served.
    let probe: Api<GitRepository> = Api::all(client.clone());
    testkit::wait::until(Duration::from_secs(60), "GitRepository served", || {
        let probe = probe.clone();
        async move {
            match probe.list(&Default::default()).await {
                Ok(_) => Ok(Some(())),
                Err(e) => Err(e.to_string()),
            }
        }
    })
    .await
    .map_err(anyhow::Error::msg)?;
    Ok(())
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
