//! Manifests by tag or digest: OCI image manifests and indexes, Docker schema 2 manifests and
//! manifest lists. The bytes are hashed as they arrived: a manifest fetched by digest must hash
//! to it, one fetched by tag must hash to the `Docker-Content-Digest` the registry announced.

use std::collections::BTreeMap;

use driftless_artifact::digest::Hasher;
use driftless_artifact::{Digest, DigestAlgorithm};
use reqwest::Method;
use reqwest::header::CONTENT_TYPE;
use serde::{Deserialize, Serialize};

use crate::client::{Client, Request, read_limited, safe};
use crate::error::OciError;
use crate::reference::Reference;

/// Media types this crate and its users name.
pub mod media_types {
    /// OCI image manifest.
    pub const OCI_MANIFEST: &str = "application/vnd.oci.image.manifest.v1+json";
    /// OCI image index.
    pub const OCI_INDEX: &str = "application/vnd.oci.image.index.v1+json";
    /// Docker image manifest, schema 2.
    pub const DOCKER_MANIFEST: &str = "application/vnd.docker.distribution.manifest.v2+json";
    /// Docker manifest list.
    pub const DOCKER_MANIFEST_LIST: &str =
        "application/vnd.docker.distribution.manifest.list.v2+json";
    /// OCI image config.
    pub const OCI_CONFIG: &str = "application/vnd.oci.image.config.v1+json";
    /// OCI gzip layer.
    pub const OCI_LAYER_GZIP: &str = "application/vnd.oci.image.layer.v1.tar+gzip";
    /// Docker gzip layer.
    pub const DOCKER_LAYER_GZIP: &str = "application/vnd.docker.image.rootfs.diff.tar.gzip";
    /// Config of an artifact pushed by `flux push artifact`.
    pub const FLUX_CONFIG: &str = "application/vnd.cncf.flux.config.v1+json";
    /// The tar.gz layer of an artifact pushed by `flux push artifact`.
    pub const FLUX_CONTENT: &str = "application/vnd.cncf.flux.content.v1.tar+gzip";
    /// Config of a Helm chart pushed by `helm push`.
    pub const HELM_CONFIG: &str = "application/vnd.cncf.helm.config.v1+json";
    /// The chart layer of a Helm chart pushed by `helm push`.
    pub const HELM_CHART_CONTENT: &str = "application/vnd.cncf.helm.chart.content.v1.tar+gzip";
}

/// Every manifest type this client reads, for `Accept`.
const ACCEPT: &[&str] = &[
    media_types::OCI_MANIFEST,
    media_types::OCI_INDEX,
    media_types::DOCKER_MANIFEST,
    media_types::DOCKER_MANIFEST_LIST,
];

/// A content descriptor.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Descriptor {
    /// The content's media type.
    pub media_type: String,
    /// `<algorithm>:<hex>` of the content.
    pub digest: String,
    /// Size in bytes.
    pub size: i64,
    /// Annotations.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub annotations: BTreeMap<String, String>,
    /// The platform of an index entry.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub platform: Option<Platform>,
}

/// An index entry's platform.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Platform {
    /// `architecture`, e.g. `amd64`.
    pub architecture: String,
    /// `os`, e.g. `linux`.
    pub os: String,
    /// `variant`, e.g. `v8`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub variant: Option<String>,
}

/// An image (or artifact) manifest.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ImageManifest {
    /// Always 2.
    pub schema_version: u32,
    /// The manifest's own media type, when written in it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub media_type: Option<String>,
    /// OCI 1.1 artifact type.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub artifact_type: Option<String>,
    /// The config blob.
    pub config: Descriptor,
    /// The layers, in order.
    #[serde(default)]
    pub layers: Vec<Descriptor>,
    /// Annotations (`org.opencontainers.image.revision`…).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub annotations: BTreeMap<String, String>,
}

/// An image index or manifest list.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ImageIndex {
    /// Always 2.
    pub schema_version: u32,
    /// The index's own media type, when written in it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub media_type: Option<String>,
    /// The manifests it lists.
    #[serde(default)]
    pub manifests: Vec<Descriptor>,
    /// Annotations.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub annotations: BTreeMap<String, String>,
}

impl ImageIndex {
    /// The entry for `os`/`architecture` (go-containerregistry's default is linux/amd64).
    pub fn for_platform(&self, os: &str, architecture: &str) -> Option<&Descriptor> {
        self.manifests.iter().find(|d| {
            d.platform
                .as_ref()
                .is_some_and(|p| p.os == os && p.architecture == architecture)
        })
    }
}

/// What a manifest is.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ManifestKind {
    /// An image or artifact manifest.
    Image(ImageManifest),
    /// An index or manifest list.
    Index(ImageIndex),
}

/// A fetched, verified manifest.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Manifest {
    /// The digest of [`Manifest::bytes`].
    pub digest: String,
    /// Its media type.
    pub media_type: String,
    /// The bytes as served.
    pub bytes: Vec<u8>,
    /// The parsed content.
    pub kind: ManifestKind,
}

impl Client {
    /// The manifest `reference` points to (its digest if pinned, else its tag).
    pub async fn get_manifest(&self, reference: &Reference) -> Result<Manifest, OciError> {
        let path = format!("manifests/{}", reference.manifest_reference());
        let request = Request {
            method: Method::GET,
            path: &path,
            accept: ACCEPT,
        };
        let (response, url) = self.send(reference, &request).await?;
        let url = safe(&url);
        let announced = response
            .headers()
            .get("docker-content-digest")
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        let content_type = response
            .headers()
            .get(CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .map(|v| v.split(';').next().unwrap_or(v).trim().to_owned());
        let bytes =
            read_limited(response, "manifest", &url, self.options().max_manifest_size).await?;
        let expected = match reference.digest() {
            Some(pinned) => Some(pinned.to_owned()),
            None => announced,
        };
        let digest = match expected {
            Some(expected) => verify(&bytes, &expected, "manifest", &url)?,
            None => digest_of(&bytes, DigestAlgorithm::Sha256),
        };
        let (media_type, kind) = parse(&bytes, content_type.as_deref(), &url)?;
        Ok(Manifest {
            digest,
            media_type,
            bytes,
            kind,
        })
    }

    /// The digest of the manifest `reference` points to, by HEAD (falling back to GET when the
    /// registry does not announce it). Cheap: no body is read.
    pub async fn resolve_digest(&self, reference: &Reference) -> Result<String, OciError> {
        if let Some(pinned) = reference.digest() {
            return Ok(pinned.to_owned());
        }
        let path = format!("manifests/{}", reference.manifest_reference());
        let request = Request {
            method: Method::HEAD,
            path: &path,
            accept: ACCEPT,
        };
        // Like go-containerregistry's callers in Flux: a HEAD that fails for any reason but
        // refused credentials falls back to GET, as does one without the digest header.
        let response = match self.send(reference, &request).await {
            Ok((response, _)) => response,
            Err(e) if e.is_unauthorized() => return Err(e),
            Err(_) => return Ok(self.get_manifest(reference).await?.digest),
        };
        let announced = response
            .headers()
            .get("docker-content-digest")
            .and_then(|v| v.to_str().ok())
            .filter(|d| d.parse::<Digest>().is_ok())
            .map(str::to_owned);
        match announced {
            Some(digest) => Ok(digest),
            None => Ok(self.get_manifest(reference).await?.digest),
        }
    }
}

/// Check `bytes` against `expected`; returns the normalised digest.
pub(crate) fn verify(
    bytes: &[u8],
    expected: &str,
    what: &'static str,
    url: &str,
) -> Result<String, OciError> {
    let parsed: Digest = expected.parse().map_err(|e| OciError::InvalidDigest {
        digest: expected.to_owned(),
        reason: format!("{e}"),
    })?;
    let actual = digest_of(bytes, parsed.algorithm());
    if actual != parsed.to_string() {
        return Err(OciError::DigestMismatch {
            what,
            url: url.to_owned(),
            expected: parsed.to_string(),
            actual,
        });
    }
    Ok(actual)
}

/// `<algorithm>:<hex>` of `bytes`.
pub fn digest_of(bytes: &[u8], algorithm: DigestAlgorithm) -> String {
    let mut hasher = Hasher::new(algorithm);
    hasher.update(bytes);
    hasher.finish().to_string()
}

/// The media type and content of manifest `bytes`; the body's `mediaType` wins over a generic
/// `Content-Type`, and a body without one is recognised by its shape.
fn parse(
    bytes: &[u8],
    content_type: Option<&str>,
    url: &str,
) -> Result<(String, ManifestKind), OciError> {
    let invalid = |reason: String| OciError::Invalid {
        what: "manifest",
        url: url.to_owned(),
        reason,
    };
    let value: serde_json::Value =
        serde_json::from_slice(bytes).map_err(|e| invalid(format!("not JSON: {e}")))?;
    let declared = value
        .get("mediaType")
        .and_then(|m| m.as_str())
        .map(str::to_owned)
        .or_else(|| content_type.map(str::to_owned))
        .filter(|m| m != "application/json" && !m.is_empty());
    let media_type = match declared {
        Some(m) => m,
        None if value.get("manifests").is_some() => media_types::OCI_INDEX.to_owned(),
        None if value.get("config").is_some() => media_types::OCI_MANIFEST.to_owned(),
        None => return Err(invalid("neither a manifest nor an index".to_owned())),
    };
    let kind = match media_type.as_str() {
        media_types::OCI_INDEX | media_types::DOCKER_MANIFEST_LIST => ManifestKind::Index(
            serde_json::from_value(value).map_err(|e| invalid(format!("bad index: {e}")))?,
        ),
        media_types::OCI_MANIFEST | media_types::DOCKER_MANIFEST => ManifestKind::Image(
            serde_json::from_value(value).map_err(|e| invalid(format!("bad manifest: {e}")))?,
        ),
        other => return Err(invalid(format!("unsupported media type '{other}'"))),
    };
    Ok((media_type, kind))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_oci_manifest_is_read_with_its_layers_and_annotations() {
        let body = br#"{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json",
            "config":{"mediaType":"application/vnd.cncf.flux.config.v1+json","digest":"sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a","size":2},
            "layers":[{"mediaType":"application/vnd.cncf.flux.content.v1.tar+gzip","digest":"sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a","size":2}],
            "annotations":{"org.opencontainers.image.revision":"main@sha1:abc"}}"#;
        let (media_type, kind) = parse(body, None, "u").expect("manifest");
        assert_eq!(media_type, media_types::OCI_MANIFEST);
        let ManifestKind::Image(manifest) = kind else {
            panic!("an image manifest")
        };
        assert_eq!(manifest.layers[0].media_type, media_types::FLUX_CONTENT);
        assert_eq!(
            manifest.annotations["org.opencontainers.image.revision"],
            "main@sha1:abc"
        );
    }

    #[test]
    fn a_docker_manifest_list_is_an_index_with_platforms() {
        let body = br#"{"schemaVersion":2,"mediaType":"application/vnd.docker.distribution.manifest.list.v2+json",
            "manifests":[{"mediaType":"application/vnd.docker.distribution.manifest.v2+json","digest":"sha256:aa","size":1,"platform":{"architecture":"arm64","os":"linux"}},
                         {"mediaType":"application/vnd.docker.distribution.manifest.v2+json","digest":"sha256:bb","size":1,"platform":{"architecture":"amd64","os":"linux"}}]}"#;
        let (_, kind) = parse(body, None, "u").expect("index");
        let ManifestKind::Index(index) = kind else {
            panic!("an index")
        };
        assert_eq!(
            index
                .for_platform("linux", "amd64")
                .map(|d| d.digest.as_str()),
            Some("sha256:bb")
        );
    }

    #[test]
    fn a_body_without_media_type_is_recognised_by_its_shape_and_garbage_is_refused() {
        let (media_type, _) = parse(
            br#"{"schemaVersion":2,"manifests":[]}"#,
            Some("application/json"),
            "u",
        )
        .expect("index");
        assert_eq!(media_type, media_types::OCI_INDEX);
        assert!(parse(b"{}", None, "u").is_err());
        assert!(parse(b"<html>", None, "u").is_err());
        assert!(parse(br#"{"mediaType":"text/plain"}"#, None, "u").is_err());
    }

    #[test]
    fn content_that_does_not_hash_to_its_digest_is_refused() {
        let good = digest_of(b"hello", DigestAlgorithm::Sha256);
        assert_eq!(verify(b"hello", &good, "blob", "u").expect("match"), good);
        let err = verify(b"hellO", &good, "blob", "u").expect_err("mismatch");
        assert!(matches!(err, OciError::DigestMismatch { .. }), "{err}");
        assert!(matches!(
            verify(b"x", "md5:abc", "blob", "u"),
            Err(OciError::InvalidDigest { .. })
        ));
    }
}
