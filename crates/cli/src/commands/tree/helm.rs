//! The objects a HelmRelease installed, as `flux tree` finds them: from the manifest of the
//! release's latest Helm storage Secret, plus the CRDs labelled as the release's when its
//! install or upgrade CRD policy applies them.

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::Secret;
use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use kube::api::{Api, ListParams};
use kube::core::GroupVersionKind;
use kube::discovery::{Scope, pinned_kind};
use serde_json::Value;

use super::Entry;
use crate::commands::cluster::ClusterError;

/// Label helm-controller puts on the CRDs it applies, with the release's name and namespace.
const NAME_LABEL: &str = "helm.toolkit.fluxcd.io/name";
const NAMESPACE_LABEL: &str = "helm.toolkit.fluxcd.io/namespace";

/// The objects of `release` (a HelmRelease as JSON). Like flux: nothing for a release on a
/// remote cluster, without history, or whose storage Secret is gone.
pub async fn inventory(client: &kube::Client, release: &Value) -> Result<Vec<Entry>, ClusterError> {
    if release
        .pointer("/spec/kubeConfig")
        .is_some_and(|v| !v.is_null())
    {
        return Ok(Vec::new());
    }
    let key = release_key(release);
    let storage_namespace = release
        .pointer("/status/storageNamespace")
        .and_then(Value::as_str)
        .unwrap_or_default();
    let latest = release.pointer("/status/history/0");
    let (Some(latest), false) = (latest, storage_namespace.is_empty()) else {
        return Ok(Vec::new());
    };
    let text = |field: &str| {
        latest
            .get(field)
            .and_then(Value::as_str)
            .unwrap_or_default()
    };
    let version = latest
        .get("version")
        .and_then(Value::as_u64)
        .unwrap_or_default();
    let secret_name = driftless_helm::release::codec::key(text("name"), version as u32);
    let secrets: Api<Secret> = Api::namespaced(client.clone(), storage_namespace);
    let secret = secrets
        .get_opt(&secret_name)
        .await
        .map_err(|source| ClusterError::Api {
            what: format!("failed to find the Helm storage object for HelmRelease '{key}'"),
            source,
        })?;
    let Some(secret) = secret else {
        return Ok(Vec::new());
    };
    let data = secret
        .data
        .as_ref()
        .and_then(|d| d.get("release"))
        .ok_or_else(|| decode_failed(&key, "no release key"))?;
    let record =
        driftless_helm::release::codec::decode(&data.0).map_err(|e| decode_failed(&key, &e))?;
    let objects = manifest_entries(&record.manifest).map_err(|e| decode_failed(&key, &e))?;
    let mut scopes = BTreeMap::new();
    let mut entries = Vec::with_capacity(objects.len());
    for (mut entry, version) in objects {
        if entry.namespace.is_empty() && namespaced(client, &entry, &version, &mut scopes).await {
            entry.namespace = text("namespace").to_owned();
        }
        entries.push(entry);
    }
    if applies_crds(release) {
        crds(client, release, &mut entries).await;
    }
    Ok(entries)
}

fn release_key(release: &Value) -> String {
    let field = |p: &str| {
        release
            .pointer(p)
            .and_then(Value::as_str)
            .unwrap_or_default()
    };
    format!(
        "{}/{}",
        field("/metadata/namespace"),
        field("/metadata/name")
    )
}

fn decode_failed(key: &str, detail: &str) -> ClusterError {
    ClusterError::Failed(format!(
        "failed to decode the Helm storage object for HelmRelease '{key}': {detail}"
    ))
}

/// The objects of a rendered manifest stream with their API versions, in order; empty
/// documents are skipped.
fn manifest_entries(manifest: &str) -> Result<Vec<(Entry, String)>, String> {
    let mut entries = Vec::new();
    for document in manifest.split("\n---") {
        let document = document.trim_start_matches("---");
        let object: Value = match serde_saphyr::from_str(document) {
            Ok(Value::Null) => continue,
            Ok(object) => object,
            Err(e) => return Err(e.to_string()),
        };
        let field = |p: &str| {
            object
                .pointer(p)
                .and_then(Value::as_str)
                .unwrap_or_default()
        };
        let (group, version) = field("/apiVersion")
            .split_once('/')
            .unwrap_or(("", field("/apiVersion")));
        let entry = Entry {
            namespace: field("/metadata/namespace").to_owned(),
            name: field("/metadata/name").to_owned(),
            group: group.to_owned(),
            kind: field("/kind").to_owned(),
        };
        entries.push((entry, version.to_owned()));
    }
    Ok(entries)
}

/// Whether the entry's kind is namespaced, asked of discovery once per kind. A kind the
/// server does not know is taken as cluster-scoped, as flux's REST mapper lookup fails.
async fn namespaced(
    client: &kube::Client,
    entry: &Entry,
    version: &str,
    scopes: &mut BTreeMap<(String, String), bool>,
) -> bool {
    let key = (entry.group.clone(), entry.kind.clone());
    if let Some(known) = scopes.get(&key) {
        return *known;
    }
    let gvk = GroupVersionKind::gvk(&entry.group, version, &entry.kind);
    let scoped = match pinned_kind(client, &gvk).await {
        Ok((_, capabilities)) => capabilities.scope == Scope::Namespaced,
        Err(_) => false,
    };
    scopes.insert(key, scoped);
    scoped
}

fn applies_crds(release: &Value) -> bool {
    ["/spec/install/crds", "/spec/upgrade/crds"]
        .iter()
        .any(|p| {
            release
                .pointer(p)
                .and_then(Value::as_str)
                .is_some_and(|policy| !policy.is_empty() && policy != "Skip")
        })
}

/// CRDs labelled with the release that its manifest does not already list.
async fn crds(client: &kube::Client, release: &Value, entries: &mut Vec<Entry>) {
    let field = |p: &str| {
        release
            .pointer(p)
            .and_then(Value::as_str)
            .unwrap_or_default()
    };
    let selector = format!(
        "{NAME_LABEL}={},{NAMESPACE_LABEL}={}",
        field("/metadata/name"),
        field("/metadata/namespace")
    );
    let api: Api<CustomResourceDefinition> = Api::all(client.clone());
    // flux ignores a failed list here too: the tree is still worth printing.
    let Ok(list) = api.list(&ListParams::default().labels(&selector)).await else {
        return;
    };
    for crd in list {
        let name = crd.metadata.name.unwrap_or_default();
        let listed = entries
            .iter()
            .any(|e| e.kind == "CustomResourceDefinition" && e.name == name);
        if !listed {
            entries.push(Entry {
                namespace: String::new(),
                name,
                group: "apiextensions.k8s.io".to_owned(),
                kind: "CustomResourceDefinition".to_owned(),
            });
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn a_manifest_stream_lists_its_objects_in_order_skipping_empty_documents() {
        let manifest = "---\n# Source: c/templates/sa.yaml\napiVersion: v1\nkind: ServiceAccount\n\
                        metadata:\n  name: app\n---\n# Source: c/templates/empty.yaml\n\
                        ---\napiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: app\n  namespace: other\n";
        let entries = manifest_entries(manifest).expect("parses");
        assert_eq!(
            entries.iter().map(|(e, _)| e.label()).collect::<Vec<_>>(),
            ["ServiceAccount/app", "Deployment/other/app"]
        );
        assert_eq!(
            (entries[1].0.group.as_str(), entries[1].1.as_str()),
            ("apps", "v1")
        );
        assert_eq!(
            (entries[0].0.group.as_str(), entries[0].1.as_str()),
            ("", "v1")
        );
    }

    #[test]
    fn crds_count_only_when_a_crd_policy_other_than_skip_is_set() {
        assert!(!applies_crds(&json!({"spec": {}})));
        assert!(!applies_crds(
            &json!({"spec": {"install": {"crds": "Skip"}}})
        ));
        assert!(applies_crds(
            &json!({"spec": {"upgrade": {"crds": "CreateReplace"}}})
        ));
    }
}
