//! Event metadata as Flux's event server treats it: on ingest, keep only the keys the involved
//! object's API group wrote (minus `checksum` and `digest`) and the object's
//! `event.toolkit.fluxcd.io/` annotations, both with their prefix stripped; on dispatch, merge in
//! the Alert's `eventMetadata` and `summary` with Flux's precedence (annotations < eventMetadata <
//! summary < controller keys) and drop the `token` key, which only de-duplicates.

use std::collections::BTreeMap;

use driftless_api::annotations::EVENT_METADATA_PREFIX;
use driftless_notify::Event;

/// Controller keys dropped on ingest: they change on every event and mean nothing in an alert.
const DROPPED_KEYS: [&str; 2] = ["checksum", "digest"];

/// The controller key that only feeds the rate-limit key, never an alert.
pub const TOKEN_KEY: &str = "token";

/// An event after ingest: `event.metadata` holds the controller keys, unprefixed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Ingested {
    /// The event, its metadata reduced to the controller's own keys.
    pub event: Event,
    /// The object's `event.toolkit.fluxcd.io/<key>` annotations, keyed `<key>`.
    pub annotations: BTreeMap<String, String>,
}

/// The API group of `apiVersion` (`kustomize.toolkit.fluxcd.io/v1` gives
/// `kustomize.toolkit.fluxcd.io`; the core `v1` has none).
pub fn group_of(api_version: Option<&str>) -> &str {
    api_version
        .and_then(|v| v.rsplit_once('/'))
        .map(|(group, _)| group)
        .unwrap_or_default()
}

/// Splits and cleans the metadata of an event as received.
pub fn ingest(mut event: Event) -> Ingested {
    let group = group_of(event.involved_object.api_version.as_deref()).to_owned();
    let mut controller = BTreeMap::new();
    let mut annotations = BTreeMap::new();
    for (key, value) in std::mem::take(&mut event.metadata) {
        if let Some(short) = key.strip_prefix(EVENT_METADATA_PREFIX) {
            annotations.insert(short.to_owned(), value);
        } else if let Some(short) = key
            .strip_prefix(group.as_str())
            .and_then(|rest| rest.strip_prefix('/'))
            .filter(|_| !group.is_empty())
            && !DROPPED_KEYS.iter().any(|d| d.eq_ignore_ascii_case(short))
        {
            controller.insert(short.to_owned(), value);
        }
    }
    event.metadata = controller;
    Ingested { event, annotations }
}

/// The metadata sent for one Alert, and the keys a higher-precedence source overrode.
pub fn for_alert(
    ingested: &Ingested,
    event_metadata: Option<&BTreeMap<String, String>>,
    summary: Option<&str>,
) -> (BTreeMap<String, String>, Vec<String>) {
    let mut merged = ingested.annotations.clone();
    let mut conflicts = Vec::new();
    let mut layer = |key: &str, value: &str| {
        if let Some(old) = merged.insert(key.to_owned(), value.to_owned())
            && old != value
        {
            conflicts.push(key.to_owned());
        }
    };
    for (key, value) in event_metadata.into_iter().flatten() {
        layer(key, value);
    }
    if let Some(summary) = summary.filter(|s| !s.is_empty()) {
        layer("summary", summary);
    }
    for (key, value) in &ingested.event.metadata {
        if key != TOKEN_KEY {
            layer(key, value);
        }
    }
    (merged, conflicts)
}

#[cfg(test)]
mod tests {
    use driftless_notify::ObjectRef;

    use super::*;

    fn event(metadata: &[(&str, &str)]) -> Event {
        Event {
            involved_object: ObjectRef {
                kind: "Kustomization".into(),
                namespace: "apps".into(),
                name: "web".into(),
                api_version: Some("kustomize.toolkit.fluxcd.io/v1".into()),
                ..ObjectRef::default()
            },
            severity: "error".into(),
            message: "boom".into(),
            metadata: metadata
                .iter()
                .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                .collect(),
            ..Event::default()
        }
    }

    fn map(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    }

    #[test]
    fn ingest_keeps_the_objects_group_keys_and_event_annotations_without_prefixes() {
        let ingested = ingest(event(&[
            ("kustomize.toolkit.fluxcd.io/revision", "main@sha1:abc"),
            ("kustomize.toolkit.fluxcd.io/checksum", "x"),
            ("kustomize.toolkit.fluxcd.io/digest", "y"),
            ("kustomize.toolkit.fluxcd.io/token", "t"),
            ("source.toolkit.fluxcd.io/revision", "other group"),
            ("event.toolkit.fluxcd.io/deploymentID", "d-1"),
            ("unprefixed", "dropped"),
        ]));
        assert_eq!(
            ingested.event.metadata,
            map(&[("revision", "main@sha1:abc"), ("token", "t")])
        );
        assert_eq!(ingested.annotations, map(&[("deploymentID", "d-1")]));
    }

    #[test]
    fn a_core_object_event_keeps_only_annotations() {
        let mut e = event(&[("v1/revision", "r"), ("event.toolkit.fluxcd.io/a", "b")]);
        e.involved_object.api_version = Some("v1".into());
        let ingested = ingest(e);
        assert!(ingested.event.metadata.is_empty());
        assert_eq!(ingested.annotations, map(&[("a", "b")]));
    }

    #[test]
    fn alert_metadata_merges_with_fluxs_precedence_and_drops_the_token() {
        let ingested = ingest(event(&[
            ("kustomize.toolkit.fluxcd.io/revision", "main@sha1:abc"),
            ("kustomize.toolkit.fluxcd.io/token", "t"),
            ("event.toolkit.fluxcd.io/env", "from-annotation"),
            ("event.toolkit.fluxcd.io/summary", "annotation summary"),
            ("event.toolkit.fluxcd.io/revision", "annotation revision"),
        ]));
        let alert = map(&[("env", "production"), ("cluster", "c1")]);
        let (merged, conflicts) = for_alert(&ingested, Some(&alert), Some("alert summary"));
        assert_eq!(
            merged,
            map(&[
                ("cluster", "c1"),
                ("env", "production"),
                ("revision", "main@sha1:abc"),
                ("summary", "alert summary"),
            ])
        );
        assert_eq!(conflicts, vec!["env", "summary", "revision"]);
    }
}
