//! Objects in a namespace that does not exist yet. The apply stages Namespaces first, so the
//! controller creates them; a diff cannot: flux dry-runs each object on its own, and the API
//! server refuses one whose namespace is missing, as `kubectl diff --server-side` does. Such
//! an object is a diff error (`ConfigMap/new-ns/app-config not found: namespaces "new-ns" not
//! found`), not a created object.

use std::collections::BTreeMap;

use driftless_ssa::Action;
use driftless_ssa::diff::ObjectDiff;
use k8s_openapi::api::core::v1::Namespace;
use kube::Api;

use super::super::CommandError;
use super::super::cluster::ClusterError;

/// `diffs` without the objects to be created in namespaces the cluster does not have, and
/// flux's error for each of them.
pub(super) async fn in_missing_namespaces(
    client: &kube::Client,
    diffs: Vec<ObjectDiff>,
) -> Result<(Vec<ObjectDiff>, Vec<String>), CommandError> {
    let api: Api<Namespace> = Api::all(client.clone());
    // The API server's words for a missing namespace, by name.
    let mut missing: BTreeMap<String, Option<String>> = BTreeMap::new();
    let mut kept = Vec::with_capacity(diffs.len());
    let mut errors = Vec::new();
    for entry in diffs {
        let namespace = &entry.object.namespace;
        if entry.action != Action::Created || namespace.is_empty() {
            kept.push(entry);
            continue;
        }
        if !missing.contains_key(namespace) {
            let found = match api.get(namespace).await {
                Ok(_) => None,
                Err(kube::Error::Api(status)) if status.code == 404 => Some(status.message),
                Err(e) => {
                    return Err(
                        ClusterError::api(format!("reading namespace {namespace}"), e).into(),
                    );
                }
            };
            missing.insert(namespace.clone(), found);
        }
        match missing.get(namespace).and_then(Option::as_ref) {
            Some(message) => {
                errors.push(format!("{} not found: {message}", entry.object.subject()))
            }
            None => kept.push(entry),
        }
    }
    Ok((kept, errors))
}
