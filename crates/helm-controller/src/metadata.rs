//! `spec.commonMetadata`: labels and annotations set on every object the chart renders (each
//! object's own `metadata` only, replacing keys it has), as Flux's common-metadata
//! post-renderer does after the `spec.postRenderers` and before the origin labels.
//!
//! [`digest`] is `status.observedCommonMetadataDigest`: `sha256:` over the JSON Go's encoder
//! writes for the field (map keys sorted, HTML characters escaped, a newline after), recorded
//! once the HelmRelease is Ready; a change of the field upgrades an otherwise in-sync release.

use std::collections::BTreeMap;

use driftless_api::conditions::types;
use driftless_api::helm::{HelmRelease, HelmReleaseStatus};
use driftless_api::meta::CommonMetadata;
use driftless_kustomize::yaml::Node;
use sha2::{Digest, Sha256};

/// Sets `metadata`'s labels and annotations on the object `node`.
pub fn apply(node: &mut Node, metadata: &CommonMetadata) {
    let Some(object) = node.as_map_mut() else {
        return;
    };
    let fields = [
        ("labels", metadata.labels.as_ref()),
        ("annotations", metadata.annotations.as_ref()),
    ];
    for (field, pairs) in fields {
        let Some(pairs) = pairs.filter(|p| !p.is_empty()) else {
            continue;
        };
        let map = object.map_entry("metadata").map_entry(field);
        for (key, value) in pairs {
            map.insert(key, Node::string(value.clone()));
        }
    }
}

/// `status.observedCommonMetadataDigest` of `spec.commonMetadata`, `None` when unset.
pub fn digest(metadata: Option<&CommonMetadata>) -> Option<String> {
    let json = go_json(metadata?);
    Some(format!("sha256:{}", hex::encode(Sha256::digest(json))))
}

/// Whether `spec.commonMetadata` changed since a release was last made with it; asked only
/// while a new generation is unprocessed, like the post-renderers' digest.
pub fn changed(hr: &HelmRelease, status: &HelmReleaseStatus) -> bool {
    hr.metadata.generation != status.observed_generation
        && digest(hr.spec.common_metadata.as_ref()) != status.observed_common_metadata_digest
}

/// Records the digest once the HelmRelease is Ready with it.
pub fn observe(hr: &HelmRelease, status: &mut HelmReleaseStatus) {
    let ready =
        status.conditions.iter().flatten().any(|c| {
            c.type_ == types::READY && c.status == driftless_api::conditions::status::TRUE
        });
    if ready {
        status.observed_common_metadata_digest = digest(hr.spec.common_metadata.as_ref());
    }
}

/// What Go's `json.Encoder` writes for the field: `annotations` then `labels` (declaration
/// order), empty maps omitted, keys sorted.
fn go_json(metadata: &CommonMetadata) -> String {
    let mut fields = Vec::new();
    for (name, map) in [
        ("annotations", metadata.annotations.as_ref()),
        ("labels", metadata.labels.as_ref()),
    ] {
        if let Some(map) = map.filter(|m| !m.is_empty()) {
            fields.push(format!("\"{name}\":{}", go_map(map)));
        }
    }
    format!("{{{}}}\n", fields.join(","))
}

fn go_map(map: &BTreeMap<String, String>) -> String {
    let pairs: Vec<String> = map
        .iter()
        .map(|(k, v)| format!("{}:{}", go_string(k), go_string(v)))
        .collect();
    format!("{{{}}}", pairs.join(","))
}

/// A JSON string as Go escapes it: serde's escapes plus `<`, `>`, `&`, U+2028 and U+2029.
fn go_string(s: &str) -> String {
    let json = serde_json::Value::String(s.to_owned()).to_string();
    json.replace('<', "\\u003c")
        .replace('>', "\\u003e")
        .replace('&', "\\u0026")
        .replace('\u{2028}', "\\u2028")
        .replace('\u{2029}', "\\u2029")
}

#[cfg(test)]
mod tests {
    use driftless_kustomize::yaml;

    use super::*;

    fn common(labels: &[(&str, &str)], annotations: &[(&str, &str)]) -> CommonMetadata {
        let map = |pairs: &[(&str, &str)]| {
            (!pairs.is_empty()).then(|| {
                pairs
                    .iter()
                    .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                    .collect()
            })
        };
        CommonMetadata {
            labels: map(labels),
            annotations: map(annotations),
        }
    }

    #[test]
    fn labels_and_annotations_land_on_the_objects_own_metadata_replacing_existing_keys() {
        let docs = yaml::parse_documents(
            "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: web\n  labels:\n    team: old\nspec:\n  template:\n    metadata:\n      labels:\n        app: web\n",
        )
        .expect("yaml");
        let mut node = docs.into_iter().flatten().next().expect("one document");
        apply(
            &mut node,
            &common(&[("team", "new"), ("env", "prod")], &[("owner", "ops")]),
        );
        let text = yaml::emit::to_yaml(&node);
        let value: serde_json::Value = serde_saphyr::from_str(&text).expect("yaml");
        assert_eq!(value["metadata"]["labels"]["team"], "new");
        assert_eq!(value["metadata"]["labels"]["env"], "prod");
        assert_eq!(value["metadata"]["annotations"]["owner"], "ops");
        // Selectors and pod templates are left alone.
        assert_eq!(
            value["spec"]["template"]["metadata"]["labels"],
            serde_json::json!({"app": "web"})
        );
    }

    #[test]
    fn the_digest_is_over_gos_json_encoding_and_absent_without_the_field() {
        assert_eq!(digest(None), None);
        let m = common(&[("b", "2"), ("a", "<1>")], &[("x", "y")]);
        assert_eq!(
            go_json(&m),
            "{\"annotations\":{\"x\":\"y\"},\"labels\":{\"a\":\"\\u003c1\\u003e\",\"b\":\"2\"}}\n"
        );
        assert_eq!(go_json(&CommonMetadata::default()), "{}\n");
        let d = digest(Some(&m)).expect("digest");
        assert!(d.starts_with("sha256:") && d.len() == 7 + 64, "{d}");
        assert_ne!(digest(Some(&common(&[("a", "1")], &[]))), Some(d));
    }

    /// Expected values printed by Flux helm-controller v1.6.4's own
    /// `internal/postrender.CommonMetadataDigest(digest.Canonical, …)`, run on these inputs by a
    /// throwaway Go program (the function is what sets `status.observedCommonMetadataDigest`).
    #[test]
    fn digests_equal_those_flux_helm_controller_computes() {
        let cases = [
            (
                common(
                    &[("team", "platform"), ("env", "prod")],
                    &[("owner", "ops")],
                ),
                "sha256:08706e50078a59263f95c93c8278cb815037bc018e4d2f511f55f89bfedf6857",
            ),
            (
                common(&[("app.kubernetes.io/part-of", "shop")], &[]),
                "sha256:10b137ead0ca452d5265065c6db841012a562ebc7b30b4dd306fd913081e2194",
            ),
            (
                common(
                    &[("a", "<1>&b")],
                    &[
                        ("note", "h\u{e9}llo \u{2713} \u{2028} \"q\" \\ \t"),
                        ("z/key", "\u{65e5}\u{672c}"),
                    ],
                ),
                "sha256:e863e791efa65d4937bcf4ed858d1bd12838e8cc020ecd30e39fdd4001c23a11",
            ),
            (
                common(&[("c", "\u{8}\u{c}\u{1}\u{7f}\r\n\u{2029}")], &[]),
                "sha256:12a764f912c99eafaca0f4999b0b31046eb924673f14b69c2e9baffd93d96849",
            ),
            // Empty maps are omitted like absent ones: both encode as `{}`.
            (
                CommonMetadata {
                    labels: Some(BTreeMap::new()),
                    annotations: Some(BTreeMap::new()),
                },
                "sha256:ca3d163bab055381827226140568f3bef7eaac187cebd76878e0b63e9e442356",
            ),
            (
                CommonMetadata::default(),
                "sha256:ca3d163bab055381827226140568f3bef7eaac187cebd76878e0b63e9e442356",
            ),
        ];
        for (metadata, flux) in cases {
            assert_eq!(
                digest(Some(&metadata)).as_deref(),
                Some(flux),
                "{metadata:?}"
            );
        }
    }
}
