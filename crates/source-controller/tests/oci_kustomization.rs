//! End to end: an artifact pushed to the loopback registry, pulled by our OCIRepository, applied
//! by our kustomize-controller; a newer tag within the semver range reaches the cluster.

// Not every helper of the shared module is used by this binary.
#[allow(unused_imports)]
mod common;

use anyhow::Context as _;
use clap::Parser;
use common::{RunningController, SHARD_LABEL, WAIT};
use driftless_api::kustomize::Kustomization;
use driftless_api::source::OCIRepository;
use k8s_openapi::api::core::v1::ConfigMap;
use kube::api::{Api, Patch, PatchParams, PostParams};
use serde_json::json;
use testkit::TestNamespace;
use testkit::oci_registry::{OciRegistry, RegistryAuth, tar_gz};

#[derive(Debug, Parser)]
struct KustomizeCli {
    #[command(flatten)]
    args: driftless_kustomize_controller::Args,
}

async fn install_crds(client: &kube::Client) -> anyhow::Result<()> {
    let wanted = [
        "kustomizations.kustomize.toolkit.fluxcd.io",
        "ocirepositories.source.toolkit.fluxcd.io",
        "gitrepositories.source.toolkit.fluxcd.io",
        "buckets.source.toolkit.fluxcd.io",
        "externalartifacts.source.toolkit.fluxcd.io",
        "helmreleases.helm.toolkit.fluxcd.io",
    ];
    for crd in driftless_api::crds()
        .into_iter()
        .filter(|c| wanted.contains(&c.metadata.name.as_deref().unwrap_or_default()))
    {
        testkit::install_crd(client, &crd, "driftless-source-controller-tests").await?;
    }
    Ok(())
}

fn manifests(value: &str) -> anyhow::Result<Vec<u8>> {
    let config_map = format!(
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: app\ndata:\n  value: \"{value}\"\n"
    );
    tar_gz(&[("deploy/app.yaml", config_map.as_bytes())])
}

async fn wait_value(api: &Api<ConfigMap>, value: &str) -> anyhow::Result<()> {
    testkit::wait::until(WAIT, &format!("ConfigMap app value={value}"), || {
        let api = api.clone();
        async move {
            let found = api.get_opt("app").await.map_err(|e| e.to_string())?;
            let current = found
                .and_then(|c| c.data)
                .and_then(|d| d.get("value").cloned());
            Ok((current.as_deref() == Some(value)).then_some(()))
        }
    })
    .await
    .map_err(anyhow::Error::msg)
}

#[tokio::test]
async fn a_kustomization_applies_the_oci_artifact_and_follows_a_new_tag() -> anyhow::Result<()> {
    let cluster = testkit::cluster().await?;
    install_crds(&cluster.client).await?;
    let ns = TestNamespace::create(&cluster, "oci-ks").await?;
    let registry = OciRegistry::start(RegistryAuth::None).await?;
    registry.push_artifact(
        "fleet/app",
        "1.0.0",
        manifests("one")?,
        "git@x",
        "main@sha1:1",
    );
    let sources = RunningController::start(&cluster, ns.name()).await?;
    let argv = [
        "kustomize-controller".to_owned(),
        "--metrics-addr=0".to_owned(),
        "--health-addr=0".to_owned(),
        format!("--watch-label-selector={SHARD_LABEL}={}", ns.name()),
        "--min-retry-delay=100ms".to_owned(),
        "--max-retry-delay=2s".to_owned(),
        "--http-retry=1".to_owned(),
    ];
    let args = KustomizeCli::try_parse_from(argv)?.args;
    let (stop_kustomize, stopped) = tokio::sync::oneshot::channel::<()>();
    let kustomize = tokio::spawn(driftless_kustomize_controller::run(
        args,
        cluster.plane.config().await?,
        async move {
            let _ = stopped.await;
        },
    ));

    let repos: Api<OCIRepository> = Api::namespaced(cluster.client.clone(), ns.name());
    let repo: OCIRepository = serde_json::from_value(json!({
        "apiVersion": "source.toolkit.fluxcd.io/v1", "kind": "OCIRepository",
        "metadata": {"name": "fleet", "labels": {SHARD_LABEL: ns.name()}},
        "spec": {"interval": "1h", "url": registry.oci_url("fleet/app"),
                 "ref": {"semver": "1.x"}, "insecure": true},
    }))?;
    repos.create(&PostParams::default(), &repo).await?;
    let ks: Kustomization = serde_json::from_value(json!({
        "apiVersion": "kustomize.toolkit.fluxcd.io/v1", "kind": "Kustomization",
        "metadata": {"name": "apps", "labels": {SHARD_LABEL: ns.name()}},
        "spec": {"interval": "1h", "path": "./deploy", "prune": true,
                 "targetNamespace": ns.name(),
                 "sourceRef": {"kind": "OCIRepository", "name": "fleet"}},
    }))?;
    let kustomizations: Api<Kustomization> = Api::namespaced(cluster.client.clone(), ns.name());
    kustomizations.create(&PostParams::default(), &ks).await?;
    let config_maps: Api<ConfigMap> = Api::namespaced(cluster.client.clone(), ns.name());
    wait_value(&config_maps, "one").await?;

    let second = registry.push_artifact(
        "fleet/app",
        "1.1.0",
        manifests("two")?,
        "git@x",
        "main@sha1:2",
    );
    repos
        .patch(
            "fleet",
            &PatchParams::default(),
            &Patch::Merge(
                json!({"metadata": {"annotations": {"reconcile.fluxcd.io/requestedAt": "1"}}}),
            ),
        )
        .await?;
    wait_value(&config_maps, "two").await?;
    let applied = kustomizations.get("apps").await?;
    assert_eq!(
        applied
            .status
            .and_then(|s| s.last_applied_revision)
            .as_deref(),
        Some(format!("1.1.0@{}", second.digest).as_str())
    );

    let _ = stop_kustomize.send(());
    tokio::time::timeout(WAIT, kustomize)
        .await
        .context("kustomize-controller stops")???;
    sources.stop().await
}
