//! Correction, as Flux corrects: removed objects are created again (server-side apply with
//! force, field manager `helm-controller`) and changed ones get the JSON patch that takes them
//! back (under the same field manager), so fields the ignore rules leave out stay as the
//! cluster has them. Creations go first, each group in Flux's kind order; one failure does not
//! stop the others.

use driftless_helm::release::kube_cluster::FIELD_MANAGER;
use driftless_ssa::error::api_message;
use driftless_ssa::resolve::Resolver;
use driftless_ssa::stage::sort_key;
use kube::api::{Api, DynamicObject, GroupVersionKind, Patch, PatchParams};

use super::detect::{Drift, Entry, Report};

/// What a correction did: the subjects corrected with their action, and the failures.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Outcome {
    /// `Kind/ns/name created|configured`, as an ssa change set prints.
    pub corrected: Vec<String>,
    /// `Kind/ns/name creation failure: …` or `… patch failure: …`.
    pub errors: Vec<String>,
}

/// Corrects the drift of `report`.
pub async fn correct(client: &kube::Client, report: &Report) -> Outcome {
    let resolver = Resolver::new(client.clone());
    let mut outcome = Outcome::default();
    let mut creates: Vec<&Entry> = report
        .entries
        .iter()
        .filter(|e| matches!(e.drift, Drift::Removed { .. }))
        .collect();
    let mut patches: Vec<&Entry> = report
        .entries
        .iter()
        .filter(|e| matches!(e.drift, Drift::Changed { .. }))
        .collect();
    creates.sort_by_key(|e| sort_key(&e.object));
    patches.sort_by_key(|e| sort_key(&e.object));
    for entry in creates.into_iter().chain(patches) {
        let subject = entry.object.subject();
        let (verb, done) = match &entry.drift {
            Drift::Removed { .. } => ("creation", "created"),
            _ => ("patch", "configured"),
        };
        match apply(client, &resolver, entry).await {
            Ok(()) => outcome.corrected.push(format!("{subject} {done}")),
            Err(e) => outcome
                .errors
                .push(format!("{subject} {verb} failure: {e}")),
        }
    }
    outcome
}

async fn apply(client: &kube::Client, resolver: &Resolver, entry: &Entry) -> Result<(), String> {
    let o = &entry.object;
    let gvk = GroupVersionKind::gvk(&o.group, &entry.version, &o.kind);
    let resolved = resolver.resolve(&gvk).await.map_err(|e| e.to_string())?;
    let api: Api<DynamicObject> = if resolved.namespaced {
        Api::namespaced_with(client.clone(), &o.namespace, &resolved.resource)
    } else {
        Api::all_with(client.clone(), &resolved.resource)
    };
    match &entry.drift {
        Drift::Removed { desired } => {
            let params = PatchParams::apply(FIELD_MANAGER).force();
            api.patch(&o.name, &params, &Patch::Apply(desired.as_ref()))
                .await
                .map(|_| ())
                .map_err(|e| api_message(&e))
        }
        Drift::Changed { patch } => {
            let params = PatchParams {
                field_manager: Some(FIELD_MANAGER.to_owned()),
                ..PatchParams::default()
            };
            api.patch(&o.name, &params, &Patch::Json::<()>(patch.clone()))
                .await
                .map(|_| ())
                .map_err(|e| masked(&o.kind, api_message(&e)))
        }
        Drift::Excluded => Ok(()),
    }
}

/// A failed patch of a Secret may quote the data it carried: keep only the API server's last
/// words (its reason), as Flux does.
fn masked(kind: &str, message: String) -> String {
    if kind != "Secret" {
        return message;
    }
    match message.rsplit_once(':') {
        Some((_, reason)) => reason.trim().to_owned(),
        None => message,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_failed_secret_patch_keeps_only_the_reason() {
        assert_eq!(
            masked(
                "Secret",
                "Secret \"s\" is invalid: data[x]: c2VjcmV0: bad".into()
            ),
            "bad"
        );
        assert_eq!(masked("ConfigMap", "a: b".into()), "a: b");
    }
}
