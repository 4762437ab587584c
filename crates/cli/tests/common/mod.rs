//! Helpers shared by the tests that install driftless's manifests on the local control plane.
//!
//! CRDs are cluster-scoped and every test binary shares one cluster, so CRDs are only ever
//! applied (server-side, forced, idempotent) and never deleted here.

#![allow(dead_code, reason = "each test binary uses a different subset")]

use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{Context, anyhow};
use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use kube::api::{Api, DynamicObject, Patch, PatchParams};
use kube::core::{GroupVersionKind, TypeMeta};
use kube::discovery::Scope;
use serde_json::Value;
use testkit::{TestCluster, wait};

/// The field manager of everything these tests apply.
pub const FIELD_MANAGER: &str = "driftless-cli-tests";

/// How long the API server gets to establish CRDs or run Deployments.
pub const CONVERGE: Duration = Duration::from_secs(90);

/// The repository root.
pub fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// `shared/reference/flux`, beside the repository.
pub fn flux_reference() -> PathBuf {
    repo_root().join("../shared/reference/flux")
}

/// The YAML documents of a file, as JSON values, skipping empty documents.
pub fn yaml_documents(path: &Path) -> anyhow::Result<Vec<Value>> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    let documents: Vec<Value> = serde_saphyr::from_multiple(&text)
        .with_context(|| format!("parsing {}", path.display()))?;
    Ok(documents.into_iter().filter(|d| !d.is_null()).collect())
}

/// Every `.yaml` file directly in `dir`, sorted.
pub fn yaml_files(dir: &Path) -> anyhow::Result<Vec<PathBuf>> {
    let mut files = Vec::new();
    for entry in std::fs::read_dir(dir).with_context(|| format!("listing {}", dir.display()))? {
        let path = entry?.path();
        if path.extension().is_some_and(|e| e == "yaml") {
            files.push(path);
        }
    }
    files.sort();
    Ok(files)
}

/// Runs the control plane's kubectl against it and returns what it printed.
pub fn kubectl(cluster: &TestCluster, args: &[&str]) -> anyhow::Result<String> {
    let output = std::process::Command::new(cluster.plane.bin_dir().join("kubectl"))
        .env("KUBECONFIG", cluster.plane.kubeconfig_path())
        .args(args)
        .output()?;
    anyhow::ensure!(
        output.status.success(),
        "kubectl {args:?}: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    Ok(String::from_utf8(output.stdout)?)
}

/// The API of `object`'s kind, in `namespace` when the kind is namespaced.
pub async fn api_for(
    cluster: &TestCluster,
    object: &Value,
    namespace: &str,
) -> anyhow::Result<Api<DynamicObject>> {
    let types: TypeMeta = serde_json::from_value(object.clone()).context("apiVersion and kind")?;
    let gvk = GroupVersionKind::try_from(&types)?;
    let (resource, capabilities) = kube::discovery::pinned_kind(&cluster.client, &gvk)
        .await
        .with_context(|| format!("discovering {}", types.kind))?;
    Ok(match capabilities.scope {
        Scope::Namespaced => Api::namespaced_with(cluster.client.clone(), namespace, &resource),
        Scope::Cluster => Api::all_with(cluster.client.clone(), &resource),
    })
}

/// Server-side applies `object` (forced, strict field validation), in `namespace` when it is
/// namespaced; with `dry_run` the API server validates and admits it without storing it.
pub async fn apply(
    cluster: &TestCluster,
    object: &Value,
    namespace: &str,
    dry_run: bool,
) -> anyhow::Result<DynamicObject> {
    let name = object
        .pointer("/metadata/name")
        .and_then(Value::as_str)
        .ok_or_else(|| anyhow!("object without a name: {object}"))?;
    let mut params = PatchParams::apply(FIELD_MANAGER)
        .force()
        .validation_strict();
    if dry_run {
        params = params.dry_run();
    }
    let api = api_for(cluster, object, namespace).await?;
    api.patch(name, &params, &Patch::Apply(object))
        .await
        .with_context(|| format!("applying {}/{name}", object["kind"]))
}

/// Applies the committed CRDs in config/crd/bases and waits until the API server serves them.
pub async fn install_crds(cluster: &TestCluster) -> anyhow::Result<Vec<String>> {
    let mut names = Vec::new();
    for file in yaml_files(&repo_root().join("config/crd/bases"))? {
        for crd in yaml_documents(&file)? {
            let applied = apply(cluster, &crd, "", false).await?;
            names.push(applied.metadata.name.unwrap_or_default());
        }
    }
    let crds: Api<CustomResourceDefinition> = Api::all(cluster.client.clone());
    for name in &names {
        wait::until(CONVERGE, &format!("CRD {name} to be Established"), || {
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
        })
        .await
        .map_err(|e| anyhow!(e))?;
    }
    Ok(names)
}

/// JSON has one number type: Go writes `minimum: 0` where serde writes `0.0`.
pub fn integral_floats_as_integers(value: Value) -> Value {
    match value {
        Value::Number(n) => match n.as_f64() {
            Some(f) if n.is_f64() && f.fract() == 0.0 && f.abs() < 9e15 => Value::from(f as i64),
            _ => Value::Number(n),
        },
        Value::Array(items) => {
            Value::Array(items.into_iter().map(integral_floats_as_integers).collect())
        }
        Value::Object(map) => Value::Object(
            map.into_iter()
                .map(|(k, v)| (k, integral_floats_as_integers(v)))
                .collect(),
        ),
        other => other,
    }
}

/// The path of the first place `a` and `b` differ, with both values there.
pub fn first_difference(a: &Value, b: &Value, path: String) -> Option<String> {
    match (a, b) {
        (Value::Object(x), Value::Object(y)) => {
            let keys: std::collections::BTreeSet<&String> = x.keys().chain(y.keys()).collect();
            keys.into_iter().find_map(|k| {
                first_difference(
                    x.get(k).unwrap_or(&Value::Null),
                    y.get(k).unwrap_or(&Value::Null),
                    format!("{path}/{k}"),
                )
            })
        }
        (Value::Array(x), Value::Array(y)) if x.len() == y.len() => x
            .iter()
            .zip(y)
            .enumerate()
            .find_map(|(i, (x, y))| first_difference(x, y, format!("{path}/{i}"))),
        _ => (a != b).then(|| format!("{path}: {a} != {b}")),
    }
}

/// Cluster-scoped RBAC of a test install, removed whether the test passes or not.
pub async fn delete_cluster_rbac(
    cluster: &TestCluster,
    install: &driftless_cli::manifests::Install,
) {
    let roles: Api<k8s_openapi::api::rbac::v1::ClusterRole> = Api::all(cluster.client.clone());
    let bindings: Api<k8s_openapi::api::rbac::v1::ClusterRoleBinding> =
        Api::all(cluster.client.clone());
    for base in ["crd-controller", "flux-edit", "flux-view"] {
        let _ = roles
            .delete(
                &install.cluster_name(base),
                &kube::api::DeleteParams::default(),
            )
            .await;
    }
    for base in ["crd-controller", "cluster-reconciler"] {
        let _ = bindings
            .delete(
                &install.cluster_name(base),
                &kube::api::DeleteParams::default(),
            )
            .await;
    }
}
