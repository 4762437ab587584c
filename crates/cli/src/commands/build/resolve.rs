//! Which Flux Kustomization a local build is for: the one in `--kustomization-file`, the one in
//! the cluster, or (for `diff --ignore-not-found` and nested Kustomizations) one given when the
//! cluster has none. With both a file and a cluster, the file's spec is used with the live
//! status, so a diff knows the inventory to prune from.

use std::path::Path;

use driftless_api::kustomize::Kustomization;
use kube::api::Api;
use serde_json::Value;

use super::super::CommandError;
use super::super::cluster::{ClusterError, is_not_found};

/// The Kustomization to build for: `file` takes precedence over the live object; `fallback`
/// stands in when the cluster has none (`client` None is a dry run: nothing is read).
pub async fn resolve(
    client: Option<&kube::Client>,
    name: &str,
    namespace: &str,
    file: Option<&Path>,
    fallback: Option<Kustomization>,
    ignore_not_found: bool,
) -> Result<Kustomization, CommandError> {
    let live = match client {
        None => fallback,
        Some(client) => match get(client, name, namespace).await {
            Ok(live) => Some(live),
            Err(e) if is_not_found(&e) && (fallback.is_some() || ignore_not_found) => fallback,
            Err(e) => {
                return Err(ClusterError::Failed(format!(
                    "failed to get kustomization object: {}",
                    api_message(&e)
                ))
                .into());
            }
        },
    };
    match (file, live) {
        (Some(file), live) => {
            let mut ks = from_file(file, name, namespace)?;
            if client.is_some()
                && let Some(status) = live.and_then(|l| l.status)
                && status.inventory.is_some()
            {
                ks.status = Some(status);
            }
            Ok(ks)
        }
        (None, Some(live)) => Ok(live),
        (None, None) => {
            Err(ClusterError::Failed("kustomization file is required for dry-run".into()).into())
        }
    }
}

/// kube's words for an API error, as Go's client words them (`<kind> "<name>" not found`).
fn api_message(error: &kube::Error) -> String {
    match error {
        kube::Error::Api(status) => status.message.clone(),
        other => other.to_string(),
    }
}

async fn get(
    client: &kube::Client,
    name: &str,
    namespace: &str,
) -> Result<Kustomization, kube::Error> {
    let api: Api<Kustomization> = Api::namespaced(client.clone(), namespace);
    api.get(name).await
}

/// The Kustomization named `name` in the multi-document `file`.
pub fn from_file(file: &Path, name: &str, namespace: &str) -> Result<Kustomization, CommandError> {
    let failed = |message: String| CommandError::from(ClusterError::Failed(message));
    let text = std::fs::read_to_string(file).map_err(|e| {
        failed(format!(
            "failed to read kustomization file {}: {e}",
            file.display()
        ))
    })?;
    let documents: Vec<Value> = serde_saphyr::from_multiple(&text).map_err(|e| {
        failed(format!(
            "failed to unmarshall kustomization file {}: {e}",
            file.display()
        ))
    })?;
    for value in documents {
        let matches = value["apiVersion"]
            .as_str()
            .is_some_and(|v| v.starts_with("kustomize.toolkit.fluxcd.io/"))
            && value["kind"] == "Kustomization"
            && value["metadata"]["name"] == name
            && value["metadata"]["namespace"]
                .as_str()
                .is_none_or(|ns| ns == namespace);
        if matches {
            let ks: Kustomization = serde_json::from_value(value).map_err(|e| {
                failed(format!(
                    "failed to unmarshall kustomization file {}: {e}",
                    file.display()
                ))
            })?;
            // A file without a namespace leaves it empty, as flux does: the owner label then
            // reads `kustomize.toolkit.fluxcd.io/namespace: ""`.
            return Ok(ks);
        }
    }
    Err(failed(format!(
        "failed find kustomization with name '{name}' and namespace '{namespace}' in file '{}'",
        file.display()
    )))
}
