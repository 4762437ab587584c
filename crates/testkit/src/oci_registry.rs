//! An OCI registry on loopback, in memory: the read side of the distribution API v2
//! (`/v2/`, tags with `n`/`last` pagination and `Link` headers, manifests and blobs by digest or
//! tag, GET and HEAD) plus the monolithic push endpoints (blob upload POST/PATCH/PUT, manifest
//! PUT) so real clients can push too. Tests usually push through the in-process API instead:
//! [`OciRegistry::push_artifact`] lays out an artifact as `flux push artifact` does,
//! [`OciRegistry::push_image`] and [`OciRegistry::tag_many`] make image tags fast.
//!
//! Auth is none, Basic, or the Bearer token flow (a `/token` realm that wants Basic credentials),
//! so clients are tested against the challenge each one sends.

use std::collections::{BTreeMap, HashMap};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::response::Response;
use base64::Engine as _;
use http_body_util::BodyExt as _;
use sha2::{Digest as _, Sha256};

/// Media types of an artifact pushed by `flux push artifact`.
pub const FLUX_CONFIG_MEDIA_TYPE: &str = "application/vnd.cncf.flux.config.v1+json";
/// The artifact's tar.gz layer.
pub const FLUX_CONTENT_MEDIA_TYPE: &str = "application/vnd.cncf.flux.content.v1.tar+gzip";
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
            .fallback(handle)
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

/// Every request: log, authenticate, route.
async fn handle(State(state): State<Arc<ServerState>>, request: Request) -> Response {
    let path = request.uri().path().to_owned();
    let query = request.uri().query().unwrap_or_default().to_owned();
    let method = request.method().clone();
    state.lock().log.push(if query.is_empty() {
        format!("{method} {path}")
    } else {
        format!("{method} {path}?{query}")
    });
    if path == "/token" {
        return issue_token(&state, request.headers());
    }
    let Some(rest) = path.strip_prefix("/v2") else {
        return error(StatusCode::NOT_FOUND, "NOT_FOUND", "not a registry path");
    };
    let rest = rest.trim_start_matches('/');
    if let Some(denied) = authenticate(&state, request.headers(), repo_of(rest)) {
        return denied;
    }
    if rest.is_empty() {
        return json(StatusCode::OK, "{}".to_owned());
    }
    let params = parse_query(&query);
    let body = if matches!(method, Method::PUT | Method::PATCH | Method::POST) {
        match request.into_body().collect().await {
            Ok(collected) => collected.to_bytes().to_vec(),
            Err(_) => return error(StatusCode::BAD_REQUEST, "BLOB_UPLOAD_INVALID", "bad body"),
        }
    } else {
        Vec::new()
    };
    route(&state, &method, rest, &params, body)
}

/// `/v2/<rest>` after authentication.
fn route(
    state: &ServerState,
    method: &Method,
    rest: &str,
    params: &HashMap<String, String>,
    body: Vec<u8>,
) -> Response {
    let mut inner = state.lock();
    if let Some(repo) = rest.strip_suffix("/tags/list") {
        let page = params
            .get("n")
            .and_then(|n| n.parse::<usize>().ok())
            .or(inner.default_page_size);
        let Some(stored) = inner.repos.get(repo) else {
            return error(
                StatusCode::NOT_FOUND,
                "NAME_UNKNOWN",
                "repository name not known",
            );
        };
        return tag_page(repo, stored, page, params.get("last"));
    }
    if let Some((repo, reference)) = rest.split_once("/manifests/") {
        if *method == Method::PUT {
            let media_type = serde_json::from_slice::<serde_json::Value>(&body)
                .ok()
                .and_then(|v| v.get("mediaType")?.as_str().map(str::to_owned))
                .unwrap_or_else(|| OCI_MANIFEST_MEDIA_TYPE.to_owned());
            let digest = sha256_digest(&body);
            let stored = inner.repos.entry(repo.to_owned()).or_default();
            stored.manifests.insert(digest.clone(), (media_type, body));
            if !reference.starts_with("sha256:") {
                stored.tags.insert(reference.to_owned(), digest.clone());
            }
            return created(&format!("/v2/{repo}/manifests/{digest}"), &digest);
        }
        let stored = inner.repos.get(repo);
        let digest = if reference.contains(':') {
            Some(reference.to_owned())
        } else {
            stored.and_then(|r| r.tags.get(reference).cloned())
        };
        let Some((media_type, bytes)) = digest
            .as_ref()
            .and_then(|d| stored?.manifests.get(d).cloned())
        else {
            return error(
                StatusCode::NOT_FOUND,
                "MANIFEST_UNKNOWN",
                "manifest unknown",
            );
        };
        let digest = digest.unwrap_or_default();
        return content(method, &media_type, &digest, bytes);
    }
    if let Some(repo) = rest.strip_suffix("/blobs/uploads/") {
        // Start (POST) or, with ?digest=, finish a monolithic upload in one request.
        let id = inner.next_upload;
        inner.next_upload += 1;
        inner
            .uploads
            .insert(id.to_string(), (repo.to_owned(), body));
        let mut response = Response::new(Body::empty());
        *response.status_mut() = StatusCode::ACCEPTED;
        if let Ok(location) = HeaderValue::from_str(&format!("/v2/{repo}/blobs/uploads/{id}")) {
            response.headers_mut().insert(header::LOCATION, location);
        }
        return response;
    }
    if let Some((repo, id)) = rest.split_once("/blobs/uploads/") {
        let Some((_, mut data)) = inner.uploads.remove(id) else {
            return error(
                StatusCode::NOT_FOUND,
                "BLOB_UPLOAD_UNKNOWN",
                "upload unknown",
            );
        };
        data.extend_from_slice(&body);
        let Some(expected) = params.get("digest").filter(|_| *method == Method::PUT) else {
            inner.uploads.insert(id.to_owned(), (repo.to_owned(), data));
            let mut response = Response::new(Body::empty());
            *response.status_mut() = StatusCode::ACCEPTED;
            if let Ok(location) = HeaderValue::from_str(&format!("/v2/{repo}/blobs/uploads/{id}")) {
                response.headers_mut().insert(header::LOCATION, location);
            }
            return response;
        };
        let digest = sha256_digest(&data);
        if &digest != expected {
            return error(StatusCode::BAD_REQUEST, "DIGEST_INVALID", "digest mismatch");
        }
        let stored = inner.repos.entry(repo.to_owned()).or_default();
        stored.blobs.insert(digest.clone(), data);
        return created(&format!("/v2/{repo}/blobs/{digest}"), &digest);
    }
    if let Some((repo, digest)) = rest.split_once("/blobs/") {
        let Some(bytes) = inner
            .repos
            .get(repo)
            .and_then(|r| r.blobs.get(digest))
            .cloned()
        else {
            return error(StatusCode::NOT_FOUND, "BLOB_UNKNOWN", "blob unknown");
        };
        return content(method, "application/octet-stream", digest, bytes);
    }
    error(StatusCode::NOT_FOUND, "NOT_FOUND", "unknown endpoint")
}

/// One page of sorted tags after `last`, with a `Link` to the next when more remain.
fn tag_page(repo: &str, stored: &Repo, page: Option<usize>, last: Option<&String>) -> Response {
    use std::ops::Bound;
    let start = last.map_or(Bound::Unbounded, |last| Bound::Excluded(last.clone()));
    let mut after = stored
        .tags
        .range::<String, _>((start, Bound::Unbounded))
        .map(|(tag, _)| tag);
    let tags: Vec<&String> = match page {
        Some(n) => after.by_ref().take(n).collect(),
        None => after.by_ref().collect(),
    };
    let more = after.next().is_some();
    let mut response = json(
        StatusCode::OK,
        serde_json::json!({"name": repo, "tags": tags}).to_string(),
    );
    if more && let (Some(n), Some(last)) = (page, tags.last()) {
        let link = format!(r#"</v2/{repo}/tags/list?n={n}&last={last}>; rel="next""#);
        if let Ok(value) = HeaderValue::from_str(&link) {
            response.headers_mut().insert(header::LINK, value);
        }
    }
    response
}

/// A manifest or blob: body for GET, headers only for HEAD.
fn content(method: &Method, media_type: &str, digest: &str, bytes: Vec<u8>) -> Response {
    let length = bytes.len();
    let mut response = if *method == Method::HEAD {
        Response::new(Body::empty())
    } else {
        Response::new(Body::from(bytes))
    };
    let headers = response.headers_mut();
    if let Ok(value) = HeaderValue::from_str(media_type) {
        headers.insert(header::CONTENT_TYPE, value);
    }
    if let Ok(value) = HeaderValue::from_str(digest) {
        headers.insert("docker-content-digest", value);
    }
    headers.insert(header::CONTENT_LENGTH, HeaderValue::from(length));
    response
}

fn created(location: &str, digest: &str) -> Response {
    let mut response = Response::new(Body::empty());
    *response.status_mut() = StatusCode::CREATED;
    if let Ok(value) = HeaderValue::from_str(location) {
        response.headers_mut().insert(header::LOCATION, value);
    }
    if let Ok(value) = HeaderValue::from_str(digest) {
        response
            .headers_mut()
            .insert("docker-content-digest", value);
    }
    response
}

/// The repository part of a `/v2/<repo>/<endpoint>/…` path, for the token scope.
fn repo_of(rest: &str) -> Option<&str> {
    ["/tags/", "/manifests/", "/blobs/"]
        .iter()
        .filter_map(|marker| rest.find(marker).map(|i| &rest[..i]))
        .min_by_key(|repo| repo.len())
}

fn authenticate(state: &ServerState, headers: &HeaderMap, repo: Option<&str>) -> Option<Response> {
    let given = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    match &state.auth {
        RegistryAuth::None => None,
        RegistryAuth::Basic { username, password } => {
            (given != basic(username, password)).then(|| {
                challenge(
                    r#"Basic realm="testkit-registry""#.to_owned(),
                    "authentication required",
                )
            })
        }
        RegistryAuth::Token { .. } => (given != format!("Bearer {}", state.token)).then(|| {
            let scope = repo
                .map(|r| format!(r#","scope="repository:{r}:pull""#))
                .unwrap_or_default();
            challenge(
                format!(
                    r#"Bearer realm="http://{}/token",service="testkit-registry"{scope}"#,
                    state.addr
                ),
                "authentication required",
            )
        }),
    }
}

fn issue_token(state: &ServerState, headers: &HeaderMap) -> Response {
    let RegistryAuth::Token { username, password } = &state.auth else {
        return error(StatusCode::NOT_FOUND, "NOT_FOUND", "no token service");
    };
    let given = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    if given != basic(username, password) {
        return error(StatusCode::UNAUTHORIZED, "UNAUTHORIZED", "bad credentials");
    }
    json(
        StatusCode::OK,
        serde_json::json!({"token": state.token, "expires_in": 300}).to_string(),
    )
}

fn basic(username: &str, password: &str) -> String {
    format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(format!("{username}:{password}"))
    )
}

fn challenge(www_authenticate: String, message: &str) -> Response {
    let mut response = error(StatusCode::UNAUTHORIZED, "UNAUTHORIZED", message);
    if let Ok(value) = HeaderValue::from_str(&www_authenticate) {
        response
            .headers_mut()
            .insert(header::WWW_AUTHENTICATE, value);
    }
    response
}

fn parse_query(query: &str) -> HashMap<String, String> {
    query
        .split('&')
        .filter_map(|pair| pair.split_once('='))
        .map(|(k, v)| (k.to_owned(), v.replace("%3A", ":").replace("%3a", ":")))
        .collect()
}

pub(crate) fn json(status: StatusCode, body: String) -> Response {
    let mut response = Response::new(Body::from(body));
    *response.status_mut() = status;
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    response
}

/// A distribution error body.
pub(crate) fn error(status: StatusCode, code: &str, message: &str) -> Response {
    json(
        status,
        serde_json::json!({"errors": [{"code": code, "message": message}]}).to_string(),
    )
}
