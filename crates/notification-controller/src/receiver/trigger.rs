//! What a verified webhook call does: every `spec.resources` entry is resolved (by name, or `*`
//! with `matchLabels`, in the entry's namespace or the Receiver's), filtered by
//! `spec.resourceFilter` and the entry's own `filter`, and each object left gets
//! `reconcile.fluxcd.io/requestedAt` set by a merge patch to the current time written as Go's
//! `metav1.Time.String()`, so its controller reconciles it at once. An entry that fails does not
//! stop the others; the caller answers 500 when any failed.

use driftless_api::annotations::RECONCILE_REQUESTED_AT;
use driftless_api::notification::{Receiver, ReceiverResource, ReceiverType};
use jiff::Timestamp;
use kube::ResourceExt;
use kube::api::{Api, DynamicObject, ListParams, Patch, PatchParams};
use serde_json::{Value, json};

use super::filter::{Filter, FilterError};
use crate::kinds::{api_resource, default_api_version, kind_name};

/// Why one resource entry could not be triggered.
#[derive(Debug, thiserror::Error)]
pub enum TriggerError {
    /// The entry points into another namespace under `--no-cross-namespace-refs`.
    #[error("cross-namespace references are not allowed: {kind} '{namespace}/{name}'")]
    CrossNamespace {
        /// Kind of the entry.
        kind: String,
        /// Its namespace.
        namespace: String,
        /// Its name.
        name: String,
    },
    /// `name: '*'` without `matchLabels` would select every object of the kind.
    #[error("matchLabels must be set when name is '*' ({kind} in '{namespace}')")]
    WildcardWithoutLabels {
        /// Kind of the entry.
        kind: String,
        /// Its namespace.
        namespace: String,
    },
    /// A filter did not compile or evaluate.
    #[error(transparent)]
    Filter(#[from] FilterError),
    /// Reading or patching an object failed.
    #[error("unable to {action} {kind} '{namespace}/{name}'")]
    Api {
        /// `read`, `list` or `annotate`.
        action: &'static str,
        /// Kind.
        kind: String,
        /// Namespace.
        namespace: String,
        /// Name (`*` for lists).
        name: String,
        /// The API error.
        #[source]
        source: kube::Error,
    },
}

/// Go's `time.Time.String()` of `now` in UTC, as `metav1.Now().String()` renders it (without the
/// monotonic clock reading): `2026-01-02 15:04:05.123456 +0000 UTC`.
pub fn requested_at(now: Timestamp) -> String {
    let base = now.strftime("%Y-%m-%d %H:%M:%S").to_string();
    let nanos = now.subsec_nanosecond();
    let fraction = if nanos == 0 {
        String::new()
    } else {
        format!(".{nanos:09}").trim_end_matches('0').to_owned()
    };
    format!("{base}{fraction} +0000 UTC")
}

/// The result of triggering a Receiver's resources.
#[derive(Debug, Default)]
pub struct Triggered {
    /// `Kind/namespace/name` of every object annotated.
    pub annotated: Vec<String>,
    /// Entries that failed.
    pub errors: Vec<TriggerError>,
}

/// Annotates the objects `receiver` lists that pass its filters for request body `req` from a
/// caller with token `claims` (null unless the Receiver is `generic-oidc`).
pub async fn trigger(
    client: &kube::Client,
    receiver: &Receiver,
    req: &Value,
    claims: &Value,
    no_cross_namespace_refs: bool,
) -> Triggered {
    let mut out = Triggered::default();
    let with_claims = has_claims(receiver);
    let global = match receiver
        .spec
        .resource_filter
        .as_deref()
        .map(|f| Filter::compile(f, with_claims))
    {
        Some(Err(e)) => {
            out.errors.push(e.into());
            return out;
        }
        Some(Ok(f)) => Some(f),
        None => None,
    };
    let stamp = requested_at(Timestamp::now());
    for entry in &receiver.spec.resources {
        let result = trigger_entry(
            client,
            receiver,
            entry,
            global.as_ref(),
            (req, claims),
            no_cross_namespace_refs,
            &stamp,
        )
        .await;
        match result {
            Ok(mut names) => out.annotated.append(&mut names),
            Err(e) => out.errors.push(e),
        }
    }
    out
}

/// Whether the Receiver's filters may read `claims`.
pub fn has_claims(receiver: &Receiver) -> bool {
    receiver.spec.type_ == ReceiverType::GenericOidc
}

async fn trigger_entry(
    client: &kube::Client,
    receiver: &Receiver,
    entry: &ReceiverResource,
    global: Option<&Filter>,
    (req, claims): (&Value, &Value),
    no_cross_namespace_refs: bool,
    stamp: &str,
) -> Result<Vec<String>, TriggerError> {
    let own_namespace = receiver.namespace().unwrap_or_default();
    let namespace = entry
        .namespace
        .clone()
        .unwrap_or_else(|| own_namespace.clone());
    let kind = kind_name(entry.kind).to_owned();
    if no_cross_namespace_refs && namespace != own_namespace {
        return Err(TriggerError::CrossNamespace {
            kind,
            namespace,
            name: entry.name.clone(),
        });
    }
    let local = entry
        .filter
        .as_deref()
        .map(|f| Filter::compile(f, has_claims(receiver)))
        .transpose()?;
    let api_version = entry
        .api_version
        .clone()
        .unwrap_or_else(|| default_api_version(entry.kind).to_owned());
    let resource = api_resource(&kind, &api_version);
    let api: Api<DynamicObject> = Api::namespaced_with(client.clone(), &namespace, &resource);
    let api_error = |action: &'static str, name: &str| {
        let (kind, namespace, name) = (kind.clone(), namespace.clone(), name.to_owned());
        move |source| TriggerError::Api {
            action,
            kind,
            namespace,
            name,
            source,
        }
    };
    let objects = if entry.name == "*" {
        let labels = entry
            .match_labels
            .as_ref()
            .filter(|l| !l.is_empty())
            .ok_or_else(|| TriggerError::WildcardWithoutLabels {
                kind: kind.clone(),
                namespace: namespace.clone(),
            })?;
        let selector = labels
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect::<Vec<_>>()
            .join(",");
        api.list(&ListParams::default().labels(&selector))
            .await
            .map_err(api_error("list", "*"))?
            .items
    } else {
        vec![
            api.get(&entry.name)
                .await
                .map_err(api_error("read", &entry.name))?,
        ]
    };
    let mut annotated = Vec::new();
    for object in objects {
        let json = serde_json::to_value(&object).unwrap_or(Value::Null);
        let mut accepted = true;
        for filter in global.iter().copied().chain(local.as_ref()) {
            accepted = accepted && filter.accepts(&json, req, claims)?;
        }
        if !accepted {
            continue;
        }
        let name = object.name_any();
        let patch = json!({"metadata": {"annotations": {RECONCILE_REQUESTED_AT: stamp}}});
        let params = PatchParams {
            field_manager: Some(crate::CONTROLLER_NAME.to_owned()),
            ..PatchParams::default()
        };
        api.patch(&name, &params, &Patch::Merge(&patch))
            .await
            .map_err(api_error("annotate", &name))?;
        annotated.push(format!("{kind}/{namespace}/{name}"));
    }
    Ok(annotated)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requested_at_is_gos_time_string_in_utc() {
        let t: Timestamp = "2026-01-02T15:04:05.123456Z".parse().expect("timestamp");
        assert_eq!(requested_at(t), "2026-01-02 15:04:05.123456 +0000 UTC");
        let whole: Timestamp = "2026-01-02T15:04:05Z".parse().expect("timestamp");
        assert_eq!(requested_at(whole), "2026-01-02 15:04:05 +0000 UTC");
        let nanos: Timestamp = "2026-01-02T15:04:05.000000007Z".parse().expect("timestamp");
        assert_eq!(
            requested_at(nanos),
            "2026-01-02 15:04:05.000000007 +0000 UTC"
        );
    }
}
