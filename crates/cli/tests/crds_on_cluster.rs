//! The generated CRDs on a real API server: they install, accept every Flux sample, and reject
//! what Flux's CRDs reject.

mod common;

use common::{
    apply, first_difference, flux_reference, install_crds, integral_floats_as_integers, kubectl,
    repo_root, yaml_documents, yaml_files,
};
use driftless_cli::manifests::CONTROLLERS;
use kube::api::{DynamicObject, PostParams};
use serde_json::{Value, json};
use testkit::{TestNamespace, cluster};

#[tokio::test]
async fn generated_crds_install_and_become_established() {
    let cluster = cluster().await.unwrap();
    let names = install_crds(&cluster).await.unwrap();
    assert_eq!(names.len(), driftless_api::crds().len());
}

#[tokio::test]
async fn kubectl_reads_the_committed_crd_files_as_exactly_the_api_crates_crds() {
    // A second YAML reader (Go's, through kubectl) must see what serde-saphyr wrote.
    let cluster = cluster().await.unwrap();
    let bases = repo_root().join("config/crd/bases");
    let json = kubectl(
        &cluster,
        &[
            "create",
            "--dry-run=client",
            "-o",
            "json",
            "-f",
            bases.to_str().unwrap(),
        ],
    )
    .unwrap();
    let mut read: Vec<Value> = serde_json::Deserializer::from_str(&json)
        .into_iter::<Value>()
        .collect::<Result<_, _>>()
        .unwrap();
    let mut expected: Vec<Value> = driftless_api::crds()
        .iter()
        .map(|crd| serde_json::to_value(crd).unwrap())
        .collect();
    let by_name = |v: &Value| {
        v["metadata"]["name"]
            .as_str()
            .unwrap_or_default()
            .to_owned()
    };
    read.sort_by_key(by_name);
    expected.sort_by_key(by_name);
    let read = integral_floats_as_integers(Value::Array(read));
    let expected = integral_floats_as_integers(Value::Array(expected));
    assert_eq!(first_difference(&read, &expected, String::new()), None);
}

#[tokio::test]
async fn every_flux_sample_is_accepted_by_the_api_server() {
    let cluster = cluster().await.unwrap();
    install_crds(&cluster).await.unwrap();
    let ns = TestNamespace::create(&cluster, "samples").await.unwrap();
    let mut applied = 0;
    // Flux keeps samples per controller; source-watcher's (ArtifactGenerator) are not ours.
    for controller in CONTROLLERS {
        let folder = flux_reference().join("samples").join(controller.name);
        for file in yaml_files(&folder).unwrap() {
            for mut sample in yaml_documents(&file).unwrap() {
                sample["metadata"]["namespace"] = json!(ns.name());
                apply(&cluster, &sample, ns.name(), false)
                    .await
                    .unwrap_or_else(|e| panic!("{}: {e:#}", file.display()));
                applied += 1;
            }
        }
    }
    assert!(applied >= 20, "only {applied} samples found");

    // Flux's printer columns, as `kubectl get` shows them.
    let table = kubectl(&cluster, &["get", "gitrepositories", "-n", ns.name()]).unwrap();
    let header = table.lines().next().unwrap_or_default();
    for column in ["NAME", "URL", "AGE", "READY", "STATUS"] {
        assert!(header.contains(column), "{header}");
    }
}

fn git_repository(spec: Value) -> Value {
    json!({
        "apiVersion": "source.toolkit.fluxcd.io/v1",
        "kind": "GitRepository",
        "metadata": {"name": "invalid"},
        "spec": spec,
    })
}

fn kustomization_with_kubeconfig(kube_config: Value) -> Value {
    json!({
        "apiVersion": "kustomize.toolkit.fluxcd.io/v1",
        "kind": "Kustomization",
        "metadata": {"name": "invalid"},
        "spec": {
            "interval": "10m",
            "prune": true,
            "sourceRef": {"kind": "GitRepository", "name": "podinfo"},
            "kubeConfig": kube_config,
        },
    })
}

const URL: &str = "https://github.com/stefanprodan/podinfo";

#[tokio::test]
async fn objects_that_break_crd_validation_are_rejected_with_422() {
    let cluster = cluster().await.unwrap();
    install_crds(&cluster).await.unwrap();
    let ns = TestNamespace::create(&cluster, "invalid").await.unwrap();

    // The valid shapes the cases below break, to show the 422s come from the broken part.
    for valid in [
        git_repository(
            json!({"interval": "5m", "url": URL, "provider": "azure", "serviceAccountName": "sa"}),
        ),
        kustomization_with_kubeconfig(json!({"secretRef": {"name": "kubeconfig"}})),
    ] {
        apply(&cluster, &valid, ns.name(), true).await.unwrap();
    }

    let cases = [
        (
            "an interval that is not a Go duration",
            git_repository(json!({"interval": "5 minutes", "url": URL})),
            "spec.interval",
        ),
        (
            "a provider outside the enum",
            git_repository(json!({"interval": "5m", "url": URL, "provider": "gitea"})),
            "spec.provider",
        ),
        (
            "a missing required url",
            git_repository(json!({"interval": "5m"})),
            "spec.url",
        ),
        (
            "a serviceAccountName without the azure or aws provider (CEL)",
            git_repository(json!({"interval": "5m", "url": URL, "serviceAccountName": "sa"})),
            "serviceAccountName can only be set",
        ),
        (
            "a kubeConfig with both configMapRef and secretRef (CEL)",
            kustomization_with_kubeconfig(json!({
                "configMapRef": {"name": "a"},
                "secretRef": {"name": "b"},
            })),
            "exactly one of spec.kubeConfig.configMapRef or spec.kubeConfig.secretRef",
        ),
        (
            "a kubeConfig with neither configMapRef nor secretRef (CEL)",
            kustomization_with_kubeconfig(json!({})),
            "exactly one of spec.kubeConfig.configMapRef or spec.kubeConfig.secretRef",
        ),
    ];
    for (what, object, message) in cases {
        let api = common::api_for(&cluster, &object, ns.name()).await.unwrap();
        let object: DynamicObject = serde_json::from_value(object).unwrap();
        match api.create(&PostParams::default(), &object).await {
            Err(kube::Error::Api(status)) => {
                assert_eq!(status.code, 422, "{what}: {status:?}");
                assert!(
                    status.message.contains(message),
                    "{what}: {}",
                    status.message
                );
            }
            other => panic!("{what} was not rejected: {other:?}"),
        }
    }
}

#[tokio::test]
async fn the_config_samples_cover_every_kind_and_are_admitted_with_kubectl_apply_k() {
    let cluster = cluster().await.unwrap();
    install_crds(&cluster).await.unwrap();
    let ns = TestNamespace::create(&cluster, "config-samples")
        .await
        .unwrap();
    let samples = repo_root().join("config/samples");
    let out = kubectl(
        &cluster,
        &[
            "apply",
            "-k",
            samples.to_str().unwrap(),
            "-n",
            ns.name(),
            "--server-side",
            "--field-manager=driftless-test",
        ],
    )
    .unwrap();
    // One object per served kind, each created for real.
    let kinds: std::collections::BTreeSet<String> = driftless_api::crds()
        .iter()
        .map(|crd| crd.spec.names.singular.clone().unwrap_or_default())
        .collect();
    for kind in &kinds {
        assert!(
            out.lines().any(|l| l.starts_with(&format!("{kind}."))),
            "no {kind} in config/samples:\n{out}"
        );
    }
    assert_eq!(out.lines().count(), kinds.len(), "{out}");
}
