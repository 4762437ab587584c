//! A dropped test namespace does not hang in Terminating because of a Flux
//! finalizer that no controller is left to remove.

use std::time::Duration;

use driftless_api::source::GitRepository;
use kube::api::{Api, DynamicObject, PostParams};
use kube::discovery::ApiResource;
use serde_json::json;
use testkit::{TestNamespace, cluster, install_crd, wait};

const CONVERGE: Duration = Duration::from_secs(60);

#[tokio::test]
async fn a_dropped_namespace_goes_away_although_its_flux_objects_carry_a_finalizer() {
    let cluster = cluster().await.expect("the control plane");
    let crd = driftless_api::crd::crds()
        .into_iter()
        .find(|crd| crd.spec.names.kind == "GitRepository")
        .expect("the GitRepository CRD is generated");
    install_crd(&cluster.client, &crd, "testkit-tests")
        .await
        .expect("the GitRepository CRD is installed");
    let ns = TestNamespace::create(&cluster, "release")
        .await
        .expect("a namespace");
    let name = ns.name().to_string();

    // What a controller leaves behind when a test stops it: its finalizer,
    // and no controller to remove it.
    let resource = ApiResource::erase::<GitRepository>(&());
    let repos: Api<DynamicObject> = Api::namespaced_with(cluster.client.clone(), &name, &resource);
    let repo: DynamicObject = serde_json::from_value(json!({
        "apiVersion": "source.toolkit.fluxcd.io/v1",
        "kind": "GitRepository",
        "metadata": {"name": "left-behind", "finalizers": ["finalizers.fluxcd.io"]},
        "spec": {"url": "https://git.invalid/repo", "interval": "1m"}
    }))
    .expect("a GitRepository");
    repos
        .create(&PostParams::default(), &repo)
        .await
        .expect("the GitRepository is created");

    drop(ns);

    let namespaces: Api<k8s_openapi::api::core::v1::Namespace> = Api::all(cluster.client.clone());
    wait::until(CONVERGE, "the dropped namespace to be gone", || {
        let namespaces = namespaces.clone();
        let name = name.clone();
        async move {
            match namespaces.get_opt(&name).await.map_err(|e| e.to_string())? {
                None => Ok(Some(())),
                Some(ns) => Err(format!("phase {:?}", ns.status.and_then(|s| s.phase))),
            }
        }
    })
    .await
    .expect("the namespace finalizes without a controller");
}
