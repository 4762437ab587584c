//! `tree` expands a HelmRelease into the objects of its Helm release, read from the release's
//! storage Secret as flux does. The objects are made by hand (no controller runs): a
//! Kustomization whose inventory lists the HelmRelease, the HelmRelease's status naming its
//! storage, and the storage Secret written by driftless-helm's codec.

mod commands_common;

use commands_common::{capture, kube};
use driftless_cli::commands::tree::{TreeArgs, TreeWhat, tree};
use driftless_helm::release::{Release, codec};
use k8s_openapi::api::core::v1::Secret;
use kube::api::{Api, DynamicObject, Patch, PatchParams, PostParams};
use kube::core::GroupVersionKind;
use kube::discovery::ApiResource;
use serde_json::json;
use testkit::{TestNamespace, cluster, install_crd};

const MANAGER: &str = "driftless-cli-tree-tests";

fn api(
    client: &kube::Client,
    ns: &str,
    group: &str,
    version: &str,
    kind: &str,
) -> Api<DynamicObject> {
    let resource = ApiResource::from_gvk(&GroupVersionKind::gvk(group, version, kind));
    Api::namespaced_with(client.clone(), ns, &resource)
}

#[tokio::test(flavor = "multi_thread")]
async fn a_helm_release_in_the_tree_shows_the_objects_of_its_latest_release() {
    let cluster = cluster().await.expect("the control plane");
    let client = cluster.client.clone();
    for crd in driftless_api::crd::crds()
        .into_iter()
        .filter(|crd| ["Kustomization", "HelmRelease"].contains(&crd.spec.names.kind.as_str()))
    {
        install_crd(&client, &crd, MANAGER)
            .await
            .expect("CRD installed");
    }
    let ns_guard = TestNamespace::create(&cluster, "cli-tree-helm")
        .await
        .expect("namespace");
    let ns = ns_guard.name().to_owned();

    // Revision 2 is the latest: its manifest is what the tree shows, with the release's
    // namespace put on the namespaced objects that name none.
    let release = Release {
        name: "podinfo".into(),
        namespace: ns.clone(),
        version: 2,
        manifest: "---\n# Source: podinfo/templates/service.yaml\napiVersion: v1\nkind: Service\n\
                   metadata:\n  name: podinfo\n---\n# Source: podinfo/templates/role.yaml\n\
                   apiVersion: rbac.authorization.k8s.io/v1\nkind: ClusterRole\nmetadata:\n  name: podinfo-reader\n\
                   ---\n# Source: podinfo/templates/deployment.yaml\napiVersion: apps/v1\nkind: Deployment\n\
                   metadata:\n  name: podinfo\n"
            .into(),
        ..Release::default()
    };
    let secret: Secret = serde_json::from_value(json!({
        "metadata": {"name": codec::key("podinfo", 2)},
        "type": "helm.sh/release.v1",
        "stringData": {"release": codec::encode(&release).expect("encoded")},
    }))
    .expect("a Secret");
    Api::<Secret>::namespaced(client.clone(), &ns)
        .create(&PostParams::default(), &secret)
        .await
        .expect("storage Secret created");

    let releases = api(&client, &ns, "helm.toolkit.fluxcd.io", "v2", "HelmRelease");
    let hr: DynamicObject = serde_json::from_value(json!({
        "apiVersion": "helm.toolkit.fluxcd.io/v2",
        "kind": "HelmRelease",
        "metadata": {"name": "podinfo"},
        "spec": {"interval": "10m", "chartRef": {"kind": "OCIRepository", "name": "podinfo"}},
    }))
    .expect("a HelmRelease");
    releases
        .create(&PostParams::default(), &hr)
        .await
        .expect("HelmRelease created");
    let snapshot = |version: u32| {
        json!({
            "chartName": "podinfo", "chartVersion": "6.5.0", "configDigest": "sha256:00",
            "digest": "sha256:11", "firstDeployed": "2026-11-26T10:00:00Z",
            "lastDeployed": "2026-11-26T10:00:00Z", "name": "podinfo", "namespace": ns,
            "status": "deployed", "version": version,
        })
    };
    let status = json!({"status": {"storageNamespace": ns, "history": [snapshot(2), snapshot(1)]}});
    releases
        .patch_status("podinfo", &PatchParams::default(), &Patch::Merge(&status))
        .await
        .expect("HelmRelease status");

    let kustomizations = api(
        &client,
        &ns,
        "kustomize.toolkit.fluxcd.io",
        "v1",
        "Kustomization",
    );
    let ks: DynamicObject = serde_json::from_value(json!({
        "apiVersion": "kustomize.toolkit.fluxcd.io/v1",
        "kind": "Kustomization",
        "metadata": {"name": "apps"},
        "spec": {"interval": "10m", "prune": true,
                 "sourceRef": {"kind": "GitRepository", "name": "fleet"}},
    }))
    .expect("a Kustomization");
    kustomizations
        .create(&PostParams::default(), &ks)
        .await
        .expect("Kustomization created");
    let inventory = json!({"status": {"inventory": {"entries": [
        {"id": format!("{ns}_podinfo_helm.toolkit.fluxcd.io_HelmRelease"), "v": "v2"},
        {"id": format!("{ns}_apps_kustomize.toolkit.fluxcd.io_Kustomization"), "v": "v1"},
    ]}}});
    kustomizations
        .patch_status("apps", &PatchParams::default(), &Patch::Merge(&inventory))
        .await
        .expect("Kustomization inventory");

    let mut args = TreeArgs {
        kube: kube(&ns),
        compact: false,
        output: String::new(),
        what: TreeWhat::Kustomization {
            name: "apps".into(),
        },
    };
    let run = capture(async |p| tree(&client, &args, p).await).await;
    run.result.expect("tree");
    // The Kustomization's own inventory entry is left out, as flux leaves it out.
    assert_eq!(
        run.out,
        format!(
            "Kustomization/{ns}/apps\n└── HelmRelease/{ns}/podinfo\n    \
             ├── Service/{ns}/podinfo\n    ├── ClusterRole/podinfo-reader\n    \
             └── Deployment/{ns}/podinfo\n\n"
        )
    );

    args.compact = true;
    let run = capture(async |p| tree(&client, &args, p).await).await;
    run.result.expect("tree --compact");
    assert_eq!(
        run.out,
        format!("Kustomization/{ns}/apps\n└── HelmRelease/{ns}/podinfo\n\n")
    );
}
