//! `cargo xtask bench helm`: N HelmReleases from one HelmRepository to Ready, run by driftless
//! (source-controller + helm-controller) and by Flux's own pair built from their Go modules
//! (the shared run in [`super::pair`]), plus the floor of plain server-side apply.
//!
//! Shaped as fluxcd/flux-benchmark's `flux-hr-bench` module shapes it: N HelmReleases in ONE
//! namespace, each with its own `releaseName` and `targetNamespace`/`storageNamespace` set to
//! that namespace, all installing the same chart version from one HelmRepository through a
//! chart template (each HelmRelease gets its HelmChart, `interval: 600m`), `interval: 60m`,
//! `install.crds: Create`, `upgrade.crds: CreateReplace`, `values.replicaCount` as
//! `--replicas`. Install waits for the objects to be ready (Helm's default in a HelmRelease).
//! The chart is the kustomize benchmark's app (Deployment, headless Service, ConfigMap) as
//! templates named after the release, served by testkit's loopback chart repository.

use driftless_api::helm::HelmRelease;
use driftless_api::source::{HelmChart, HelmRepository};
use kube::api::ApiResource;
use serde_json::{Value, json};
use testkit::helm_repo::HelmRepoServer;

use super::pair::{self, Options, Workload};
use super::report::Block;
use super::workload;

/// The HelmRepository every HelmRelease's chart comes from.
const SOURCE_NAME: &str = "bench";
const CHART: &str = "app";
const CHART_VERSION: &str = "1.0.0";

const WORKLOAD: &str = "The workload of fluxcd/flux-benchmark's HelmRelease benchmark \
    (`flux-hr-bench`), on a loopback chart repository instead of an OCI registry: ONE \
    HelmRepository (testkit's HTTP chart repository) serving one chart (a Deployment scaled \
    to zero, a headless Service, a ConfigMap, each named after the release), and N \
    HelmReleases in one namespace, each installing it as its own release (`releaseName: \
    app-<i>`, `targetNamespace` and `storageNamespace` that namespace) through a chart \
    template, so each side's helm-controller creates N HelmCharts that its source-controller \
    packages (`interval: 60m`, chart `interval: 600m`, `install.crds: Create`, \
    `upgrade.crds: CreateReplace`, values `replicaCount: 0`; install waits for the objects as \
    a HelmRelease does by default, `timeout` the default 5m).";

pub(super) async fn run(opts: Options) -> anyhow::Result<()> {
    let repo = HelmRepoServer::start(None).await?;
    let values = format!("replicaCount: {}\n", opts.replicas);
    let templates = workload::chart_templates();
    let files: Vec<(&str, &str)> = std::iter::once(("values.yaml", values.as_str()))
        .chain(templates.iter().map(|(p, t)| (*p, t.as_str())))
        .collect();
    repo.add_chart(CHART, CHART_VERSION, &files)?;
    let url = repo.url();
    let replicas = opts.replicas;

    let bench = Workload {
        source: ApiResource::erase::<HelmRepository>(&()),
        source_name: SOURCE_NAME,
        source_object: Box::new(move |namespace| helm_repository(namespace, &url)),
        objects: ApiResource::erase::<HelmRelease>(&()),
        object: Box::new(move |i, namespace| helm_release(i, namespace, replicas)),
        derived: vec![ApiResource::erase::<HelmChart>(&())],
        block: Block {
            name: "helm",
            heading: "helm-controller: N HelmReleases to Ready",
            workload: WORKLOAD,
            controller: "helm-controller",
            controller_flags: Vec::new(),
            object_kind: "HelmRelease",
            source_kind: "HelmRepository",
            floor_lacks: "no chart fetch, no templating, no release records",
        },
    };
    pair::run(&opts, &bench).await
}

fn helm_repository(namespace: &str, url: &str) -> Value {
    json!({
        "apiVersion": "source.toolkit.fluxcd.io/v1",
        "kind": "HelmRepository",
        "metadata": {"name": SOURCE_NAME, "namespace": namespace},
        "spec": {"url": url, "interval": "60m"},
    })
}

/// HelmRelease `i` of the workload in `namespace`; its release (and so its objects) is
/// `app-<i>`, as the kustomize workload names its objects.
fn helm_release(i: usize, namespace: &str, replicas: u32) -> Value {
    let name = format!("app-{}", workload::index(i));
    json!({
        "apiVersion": "helm.toolkit.fluxcd.io/v2",
        "kind": "HelmRelease",
        "metadata": {"name": name, "namespace": namespace},
        "spec": {
            "interval": "60m",
            "releaseName": name,
            "targetNamespace": namespace,
            "storageNamespace": namespace,
            "chart": {"spec": {
                "chart": CHART,
                "version": CHART_VERSION,
                "sourceRef": {"kind": "HelmRepository", "name": SOURCE_NAME},
                "interval": "600m",
            }},
            "install": {"crds": "Create"},
            "upgrade": {"crds": "CreateReplace"},
            "values": {"replicaCount": replicas},
        },
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_helm_release_is_its_own_release_of_the_one_chart() {
        let object: HelmRelease =
            serde_json::from_value(helm_release(7, "ns", 0)).expect("a valid HelmRelease");
        assert_eq!(object.metadata.name.as_deref(), Some("app-0007"));
        assert_eq!(object.spec.release_name.as_deref(), Some("app-0007"));
        assert_eq!(object.spec.target_namespace.as_deref(), Some("ns"));
        assert_eq!(object.spec.storage_namespace.as_deref(), Some("ns"));
        let chart = object.spec.chart.expect("a chart template").spec;
        assert_eq!(chart.chart, CHART);
        assert_eq!(chart.source_ref.name, SOURCE_NAME);
        assert_eq!(object.spec.values, Some(json!({"replicaCount": 0})));
    }

    #[test]
    fn the_helm_repository_is_the_one_every_release_names() {
        let repo: HelmRepository =
            serde_json::from_value(helm_repository("ns", "http://127.0.0.1:1/charts"))
                .expect("a valid HelmRepository");
        assert_eq!(repo.metadata.name.as_deref(), Some(SOURCE_NAME));
        assert_eq!(repo.spec.url, "http://127.0.0.1:1/charts");
    }
}
