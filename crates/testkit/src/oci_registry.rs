//! An OCI registry on loopback, in memory: the read side of the distribution API v2
//! (`/v2/`, tags with `n`/`last` pagination and `Link` headers, manifests and blobs by digest or
//! tag, GET and HEAD) plus the monolithic push endpoints (blob upload POST/PATCH/PUT, manifest
//! PUT) so real clients can push too. Tests usually push through the in-process API instead:
//! [`OciRegistry::push_artifact`] lays out an artifact as `flux push artifact` does,
//! [`OciRegistry::push_image`] and [`OciRegistry::tag_many`] make image tags fast.
//!
//! Auth is none, Basic, or the Bearer token flow (a `/token` realm that wants Basic credentials),
//! so clients are tested against the challenge each one sends.

mod server;

use std::collections::{BTreeMap, HashMap};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use sha2::{Digest as _, Sha256};

/// Media types of an artifact pushed by `flux push artifact`.
pub const FLUX_CONFIG_MEDIA_TYPE: &str = "application/vnd.cncf.flux.config.v1+json";
/// The artifact's tar.gz layer.
pub const FLUX_CONTENT_MEDIA_TYPE: &str = "application/vnd.cncf.flux.content.v1.tar+gzip";
/// Config of a chart pushed by `helm push`.
pub const HELM_CONFIG_MEDIA_TYPE: &str = "application/vnd.cncf.helm.config.v1+json";
/// The chart layer of a chart pushed by `helm push`.
pub const HELM_CHART_MEDIA_TYPE: &str = "application/vnd.cncf.helm.chart.content.v1.tar+gzip";
/// OCI image manifest.
pub const OCI_MANIFEST_MEDIA_TYPE: &str = "application/vnd.oci.image.manifest.v1+json";

/// What the registry demands.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub enum RegistryAuth {
    /// Anonymous access.
    #[default]
    None,
    /// `Authorization: Basic` with these credentials on every request.
    Basic {
        /// User name.
        username: String,
        /// Password.
        password: String,
    },
    /// A `Bearer` challenge pointing at `/token`, which issues a token for these credentials.
    Token {
        /// User name.
        username: String,
        /// Password.
        password: String,
    },
}

#[derive(Default)]
struct Repo {
    blobs: HashMap<String, Vec<u8>>,
    manifests: HashMap<String, (String, Vec<u8>)>,
    tags: BTreeMap<String, String>,
}

#[derive(Default)]
struct Inner {
    repos: HashMap<String, Repo>,
    uploads: HashMap<String, (String, Vec<u8>)>,
    log: Vec<String>,
    next_upload: u64,
    default_page_size: Option<usize>,
}

struct ServerState {
    auth: RegistryAuth,
    token: String,
    addr: SocketAddr,
    inner: Mutex<Inner>,
}

impl ServerState {
    fn lock(&self) -> MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// A pushed artifact's digests.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PushedArtifact {
    /// The manifest digest (`sha256:…`).
    pub digest: String,
    /// The tar.gz layer's digest.
    pub layer_digest: String,
}

/// The registry, serving until dropped.
pub struct OciRegistry {
    state: Arc<ServerState>,
    _shutdown: tokio::sync::oneshot::Sender<()>,
}

/// `sha256:<hex>` of `bytes`.
pub fn sha256_digest(bytes: &[u8]) -> String {
    format!("sha256:{}", hex::encode(Sha256::digest(bytes)))
}

impl OciRegistry {
    /// Start on an ephemeral loopback port; needs a Tokio runtime.
    pub async fn start(auth: RegistryAuth) -> anyhow::Result<OciRegistry> {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let addr = listener.local_addr()?;
        let token = format!("testkit-{:x}", rand_u64());
        let state = Arc::new(ServerState {
            auth,
            token,
            addr,
            inner: Mutex::new(Inner::default()),
        });
        let app = axum::Router::new()
            .fallback(server::handle)
            .with_state(state.clone());
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        tokio::spawn(async move {
            let _ = axum::serve(listener, app)
                .with_graceful_shutdown(async {
                    let _ = rx.await;
                })
                .await;
        });
        Ok(OciRegistry {
            state,
            _shutdown: tx,
        })
    }

    /// `127.0.0.1:<port>`, the registry part of references.
    pub fn host(&self) -> String {
        self.state.addr.to_string()
    }

    /// `oci://127.0.0.1:<port>/<repo>`, as an OCIRepository's `spec.url`.
    pub fn oci_url(&self, repo: &str) -> String {
        format!("oci://{}/{repo}", self.host())
    }

    /// Serve at most `n` tags per page when a client does not ask for `n` (None: all at once).
    pub fn set_default_page_size(&self, n: Option<usize>) {
        self.state.lock().default_page_size = n;
    }

    /// Store a blob; returns its digest.
    pub fn push_blob(&self, repo: &str, bytes: Vec<u8>) -> String {
        let digest = sha256_digest(&bytes);
        let mut inner = self.state.lock();
        let repo = inner.repos.entry(repo.to_owned()).or_default();
        repo.blobs.insert(digest.clone(), bytes);
        digest
    }

    /// Store a manifest, optionally tagging it; returns its digest.
    pub fn push_manifest(
        &self,
        repo: &str,
        tag: Option<&str>,
        media_type: &str,
        bytes: Vec<u8>,
    ) -> String {
        let digest = sha256_digest(&bytes);
        let mut inner = self.state.lock();
        let repo = inner.repos.entry(repo.to_owned()).or_default();
        repo.manifests
            .insert(digest.clone(), (media_type.to_owned(), bytes));
        if let Some(tag) = tag {
            repo.tags.insert(tag.to_owned(), digest.clone());
        }
        digest
    }

    /// Point `tag` at an existing manifest `digest`.
    pub fn tag(&self, repo: &str, tag: &str, digest: &str) {
        let mut inner = self.state.lock();
        let repo = inner.repos.entry(repo.to_owned()).or_default();
        repo.tags.insert(tag.to_owned(), digest.to_owned());
    }

    /// Point every tag of `tags` at `digest`, in one lock (a million tags in a second or two).
    pub fn tag_many(&self, repo: &str, tags: impl IntoIterator<Item = String>, digest: &str) {
        let mut inner = self.state.lock();
        let repo = inner.repos.entry(repo.to_owned()).or_default();
        for tag in tags {
            repo.tags.insert(tag, digest.to_owned());
        }
    }

    /// Remove a tag.
    pub fn delete_tag(&self, repo: &str, tag: &str) {
        if let Some(repo) = self.state.lock().repos.get_mut(repo) {
            repo.tags.remove(tag);
        }
    }

    /// Replace the bytes served for blob `digest` (they no longer match it), for tests of
    /// digest verification.
    pub fn corrupt_blob(&self, repo: &str, digest: &str, bytes: Vec<u8>) {
        let mut inner = self.state.lock();
        let repo = inner.repos.entry(repo.to_owned()).or_default();
        repo.blobs.insert(digest.to_owned(), bytes);
    }

    /// Push a tar.gz as `flux push artifact` lays it out: an OCI manifest with the Flux config
    /// media type, one Flux content layer, and the `org.opencontainers.image.source`,
    /// `.revision` and `.created` annotations. Tagged `tag`.
    pub fn push_artifact(
        &self,
        repo: &str,
        tag: &str,
        tar_gz: Vec<u8>,
        source: &str,
        revision: &str,
    ) -> PushedArtifact {
        let layer_size = tar_gz.len();
        let layer_digest = self.push_blob(repo, tar_gz);
        let config = b"{}".to_vec();
        let config_digest = self.push_blob(repo, config);
        let manifest = serde_json::json!({
            "schemaVersion": 2,
            "mediaType": OCI_MANIFEST_MEDIA_TYPE,
            "config": {"mediaType": FLUX_CONFIG_MEDIA_TYPE, "digest": config_digest, "size": 2},
            "layers": [{"mediaType": FLUX_CONTENT_MEDIA_TYPE, "digest": layer_digest, "size": layer_size}],
            "annotations": {
                "org.opencontainers.image.created": "2026-01-01T00:00:00Z",
                "org.opencontainers.image.source": source,
                "org.opencontainers.image.revision": revision,
            },
        });
        let digest = self.push_manifest(
            repo,
            Some(tag),
            OCI_MANIFEST_MEDIA_TYPE,
            manifest.to_string().into_bytes(),
        );
        PushedArtifact {
            digest,
            layer_digest,
        }
    }

    /// Push a packaged chart (`.tgz`) as `helm push` lays it out: a Helm config blob holding
    /// the chart's name and version, one chart content layer, tagged with the version (`+`
    /// written `_`, as OCI tags cannot hold `+`). Returns the manifest digest.
    pub fn push_helm_chart(&self, repo: &str, name: &str, version: &str, tgz: Vec<u8>) -> String {
        let layer_size = tgz.len();
        let layer_digest = self.push_blob(repo, tgz);
        let config =
            serde_json::json!({"apiVersion": "v2", "name": name, "version": version}).to_string();
        let config_size = config.len();
        let config_digest = self.push_blob(repo, config.into_bytes());
        let manifest = serde_json::json!({
            "schemaVersion": 2,
            "mediaType": OCI_MANIFEST_MEDIA_TYPE,
            "config": {"mediaType": HELM_CONFIG_MEDIA_TYPE, "digest": config_digest, "size": config_size},
            "layers": [{"mediaType": HELM_CHART_MEDIA_TYPE, "digest": layer_digest, "size": layer_size}],
        });
        self.push_manifest(
            repo,
            Some(&version.replace('+', "_")),
            OCI_MANIFEST_MEDIA_TYPE,
            manifest.to_string().into_bytes(),
        )
    }

    /// Push a small image manifest unique to `tag` (its digest differs per tag) and tag it.
    pub fn push_image(&self, repo: &str, tag: &str) -> String {
        let config = format!(r#"{{"architecture":"amd64","os":"linux","tag":"{tag}"}}"#);
        let config_size = config.len();
        let config_digest = self.push_blob(repo, config.into_bytes());
        let manifest = serde_json::json!({
            "schemaVersion": 2,
            "mediaType": OCI_MANIFEST_MEDIA_TYPE,
            "config": {"mediaType": "application/vnd.oci.image.config.v1+json",
                       "digest": config_digest, "size": config_size},
            "layers": [],
        });
        self.push_manifest(
            repo,
            Some(tag),
            OCI_MANIFEST_MEDIA_TYPE,
            manifest.to_string().into_bytes(),
        )
    }

    /// The tags of `repo`, sorted.
    pub fn tags(&self, repo: &str) -> Vec<String> {
        self.state
            .lock()
            .repos
            .get(repo)
            .map(|r| r.tags.keys().cloned().collect())
            .unwrap_or_default()
    }

    /// Every request served so far, as `METHOD /path?query`.
    pub fn requests(&self) -> Vec<String> {
        self.state.lock().log.clone()
    }
}

/// A tar.gz of `files` (path, content), for [`OciRegistry::push_artifact`].
pub fn tar_gz(files: &[(&str, &[u8])]) -> anyhow::Result<Vec<u8>> {
    let encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    let mut builder = tar::Builder::new(encoder);
    for (path, content) in files {
        let mut header = tar::Header::new_gnu();
        header.set_size(content.len() as u64);
        header.set_mode(0o644);
        header.set_mtime(0);
        header.set_cksum();
        builder.append_data(&mut header, path, *content)?;
    }
    Ok(builder.into_inner()?.finish()?)
}

fn rand_u64() -> u64 {
    use std::hash::{BuildHasher, Hasher};
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u64(std::process::id().into());
    h.finish()
}
