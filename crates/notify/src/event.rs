//! The event every Flux controller POSTs to notification-controller
//! (fluxcd/pkg/apis/event/v1beta1 `Event`), and the readings providers take from it.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// The object an event is about (a core/v1 ObjectReference as Flux sends it).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ObjectRef {
    /// Kind, e.g. `Kustomization`.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub kind: String,
    /// Namespace of the object.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub namespace: String,
    /// Name of the object.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub name: String,
    /// UID of the object.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub uid: Option<String>,
    /// `group/version` of the object.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub api_version: Option<String>,
    /// Resource version the event was recorded at.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resource_version: Option<String>,
    /// Field path inside the object, unused by Flux controllers.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub field_path: Option<String>,
}

/// A Flux event (fluxcd/pkg/apis/event/v1beta1), as every controller POSTs it.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Event {
    /// The object the event is about.
    pub involved_object: ObjectRef,
    /// `info`, `error` or `trace`.
    pub severity: String,
    /// RFC 3339 time the event was recorded.
    pub timestamp: String,
    /// Human-readable description.
    pub message: String,
    /// Machine-readable reason (a Flux condition reason).
    pub reason: String,
    /// Revision, digest, summary… keyed `<api group>/<key>`.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub metadata: BTreeMap<String, String>,
    /// The controller that recorded the event, e.g. `kustomize-controller`.
    pub reporting_controller: String,
    /// The instance (pod) that recorded it.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub reporting_instance: String,
}

/// Flux's severity for a failure.
pub(crate) const SEVERITY_ERROR: &str = "error";
/// Flux's severity for a success.
pub(crate) const SEVERITY_INFO: &str = "info";

impl Event {
    /// True when the event reports a failure.
    pub fn is_error(&self) -> bool {
        self.severity == SEVERITY_ERROR
    }

    /// `Kind/name.namespace`, the way Flux titles an event's object in chat messages.
    pub fn object_title(&self) -> String {
        let o = &self.involved_object;
        format!("{}/{}.{}", o.kind, o.name, o.namespace)
    }

    /// The value of the metadata key `<any group>/<key>` (e.g. `revision`), the way Flux
    /// looks it up: the group prefix is whatever API group reported the event.
    pub fn metadata_value(&self, key: &str) -> Option<&str> {
        // notification-controller strips the group on ingest, so the plain key comes first.
        if let Some(value) = self.metadata.get(key) {
            return Some(value.as_str());
        }
        self.metadata.iter().find_map(|(k, v)| {
            let (_, suffix) = k.rsplit_once('/')?;
            (suffix == key).then_some(v.as_str())
        })
    }

    /// The source revision the event reports, if any.
    pub fn revision(&self) -> Option<&str> {
        self.metadata_value("revision")
    }

    /// True for the commit-status `update` events kustomize-controller emits while progressing;
    /// Flux's chat providers drop them (metadata `commit_status: update`).
    pub fn is_commit_status_update(&self) -> bool {
        self.metadata_value("commit_status") == Some("update")
    }

    /// True when the reason is Flux's `Progressing`.
    pub fn is_progressing(&self) -> bool {
        self.reason == "Progressing"
    }

    /// `kind/name.namespace` with the kind lower-cased, as Flux's chat providers title an event.
    pub fn lower_object_title(&self) -> String {
        let o = &self.involved_object;
        format!("{}/{}.{}", o.kind.to_lowercase(), o.name, o.namespace)
    }

    /// Flux's `kind/name` (lower-cased) and the reason split into lower-case words
    /// (`ReconciliationFailed` becomes `reconciliation failed`): commit-status names and
    /// incident summaries.
    pub fn name_and_description(&self) -> (String, String) {
        let o = &self.involved_object;
        let name = format!("{}/{}", o.kind, o.name).to_lowercase();
        let description = split_camel_case(&self.reason).join(" ").to_lowercase();
        (name, description)
    }

    /// The timestamp as Unix seconds, when it is RFC 3339.
    pub fn unix_seconds(&self) -> Option<i64> {
        self.timestamp
            .parse::<jiff::Timestamp>()
            .ok()
            .map(|t| t.as_second())
    }
}

/// Splits `src` where the character class (lower, upper, digit, other) changes, keeping an
/// upper-case run's last letter with the lower-case run after it (`HTTPServer` gives `HTTP`,
/// `Server`), as Flux's camel-case splitter does.
fn split_camel_case(src: &str) -> Vec<String> {
    fn class(c: char) -> u8 {
        if c.is_lowercase() {
            1
        } else if c.is_uppercase() {
            2
        } else if c.is_numeric() {
            3
        } else {
            4
        }
    }
    let mut runs: Vec<Vec<char>> = Vec::new();
    let mut last = 0;
    for c in src.chars() {
        let current = class(c);
        match runs.last_mut() {
            Some(run) if current == last => run.push(c),
            _ => runs.push(vec![c]),
        }
        last = current;
    }
    for i in 0..runs.len().saturating_sub(1) {
        let upper_then_lower = runs[i].first().is_some_and(|c| c.is_uppercase())
            && runs[i + 1].first().is_some_and(|c| c.is_lowercase());
        if upper_then_lower && let Some(moved) = runs[i].pop() {
            runs[i + 1].insert(0, moved);
        }
    }
    runs.into_iter()
        .filter(|r| !r.is_empty())
        .map(|r| r.into_iter().collect())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_event_in_flux_json_round_trips() {
        let json = r#"{"involvedObject":{"kind":"Kustomization","namespace":"flux-system","name":"apps","uid":"u1","apiVersion":"kustomize.toolkit.fluxcd.io/v1"},"severity":"error","timestamp":"2026-01-01T00:00:00Z","message":"boom","reason":"BuildFailed","metadata":{"kustomize.toolkit.fluxcd.io/revision":"main@sha1:abc"},"reportingController":"kustomize-controller","reportingInstance":"kc-0"}"#;
        let event: Event = serde_json::from_str(json).expect("parses");
        assert_eq!(event.involved_object.kind, "Kustomization");
        assert_eq!(event.revision(), Some("main@sha1:abc"));
        assert!(event.is_error());
        let back: serde_json::Value = serde_json::to_value(&event).expect("encodes");
        let orig: serde_json::Value = serde_json::from_str(json).expect("parses");
        assert_eq!(back, orig);
    }

    #[test]
    fn reasons_split_into_lower_case_words_as_flux_splits_them() {
        let mut event = Event {
            reason: "ReconciliationFailed".into(),
            ..Event::default()
        };
        event.involved_object.kind = "Kustomization".into();
        event.involved_object.name = "Apps".into();
        assert_eq!(
            event.name_and_description(),
            ("kustomization/apps".into(), "reconciliation failed".into())
        );
        assert_eq!(
            split_camel_case("HTTPServer2Go"),
            ["HTTP", "Server", "2", "Go"]
        );
        assert_eq!(split_camel_case("PDFLoader"), ["PDF", "Loader"]);
        assert_eq!(split_camel_case(""), Vec::<String>::new());
    }

    #[test]
    fn an_event_without_metadata_or_instance_parses() {
        let json = r#"{"involvedObject":{"kind":"GitRepository","name":"a","namespace":"b"},"severity":"info","timestamp":"t","message":"m","reason":"r","reportingController":"source-controller"}"#;
        let event: Event = serde_json::from_str(json).expect("parses");
        assert!(event.metadata.is_empty());
        assert_eq!(event.object_title(), "GitRepository/a.b");
    }
}
