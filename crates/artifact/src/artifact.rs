//! The Artifact value type: Flux's `status.artifact` fields, without Kubernetes types.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// A stored file and how to fetch it, field for field as Flux's `meta.Artifact`.
///
/// Controllers convert it to the API crate's type; `last_update_time` is a [`jiff::Timestamp`],
/// the type `k8s_openapi`'s `Time` wraps.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Artifact {
    /// Path relative to the storage root: `<kind>/<namespace>/<name>/<file>`.
    pub path: String,
    /// HTTP address consumers download the file from.
    pub url: String,
    /// Origin revision, e.g. `main@sha1:<hex>`; its format is the producing kind's business.
    pub revision: String,
    /// `<algorithm>:<hex>` of the stored file bytes.
    pub digest: String,
    /// When the file was written, whole seconds (Kubernetes `Time` precision).
    pub last_update_time: jiff::Timestamp,
    /// Size of the stored file in bytes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub size: Option<i64>,
    /// Free-form metadata, e.g. OCI annotations.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub metadata: Option<BTreeMap<String, String>>,
}

impl Artifact {
    /// The file name part of `path`.
    pub fn file_name(&self) -> &str {
        self.path.rsplit('/').next().unwrap_or(&self.path)
    }

    /// True when both name the same stored content: same path, revision and digest. Flux uses this
    /// to decide that nothing new needs writing.
    pub fn has_same_content(&self, other: &Artifact) -> bool {
        self.path == other.path && self.revision == other.revision && self.digest == other.digest
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn serialises_with_flux_field_names() {
        let artifact = Artifact {
            path: "gitrepository/ns/n/abc.tar.gz".into(),
            url: "http://h/gitrepository/ns/n/abc.tar.gz".into(),
            revision: "main@sha1:abc".into(),
            digest: format!("sha256:{}", "0".repeat(64)),
            last_update_time: jiff::Timestamp::from_second(1_700_000_000).expect("in range"),
            size: Some(42),
            metadata: None,
        };
        let json = serde_json::to_value(&artifact).expect("serialise");
        assert_eq!(json["lastUpdateTime"], "2023-11-14T22:13:20Z");
        assert_eq!(json["size"], 42);
        assert!(json.get("metadata").is_none());
        assert_eq!(artifact.file_name(), "abc.tar.gz");
        let back: Artifact = serde_json::from_value(json).expect("deserialise");
        assert_eq!(back, artifact);
    }
}
