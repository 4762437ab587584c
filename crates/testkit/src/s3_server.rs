//! An S3-compatible server on loopback for Bucket tests: path-style HeadBucket, ListObjectsV2
//! (with `prefix`, `max-keys`, continuation tokens and a server-side page size a test can
//! shrink to force paging) and GetObject with ETags, over buckets held in memory. Requests
//! must carry a valid AWS Signature V4 for the configured key pair (recomputed with
//! `driftless_s3::sigv4`, whose signing is checked against AWS's published vectors); failures
//! answer S3's XML errors (`InvalidAccessKeyId`, `SignatureDoesNotMatch`, `NoSuchBucket`, …).

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::Path;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{HeaderMap, Method, StatusCode, header};
use axum::response::Response;
use driftless_s3::sigv4;
use driftless_s3::xml::escape;
use sha2::{Digest as _, Sha256};

/// S3's own page size when a client asks for none or more.
pub const DEFAULT_PAGE_SIZE: usize = 1000;

#[derive(Clone)]
struct Object {
    data: Vec<u8>,
    etag: String,
}

struct Store {
    buckets: BTreeMap<String, BTreeMap<String, Object>>,
    credentials: Option<(String, String)>,
    region: Option<String>,
    page_size: usize,
    requests: Vec<String>,
}

/// The running server; stops when dropped.
pub struct S3Server {
    addr: SocketAddr,
    store: Arc<Mutex<Store>>,
    ca_pem: Option<String>,
    _shutdown: tokio::sync::oneshot::Sender<()>,
}

impl S3Server {
    /// Starts an empty server on an ephemeral loopback port. With `credentials` (access key,
    /// secret key) every request must be signed with them; without, requests are anonymous.
    /// Needs a Tokio runtime.
    pub async fn start(credentials: Option<(&str, &str)>) -> anyhow::Result<S3Server> {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let addr = listener.local_addr()?;
        Ok(Self::serve(listener, addr, credentials, None))
    }

    /// [`S3Server::start`] over HTTPS, with a certificate for `127.0.0.1` from a fresh CA
    /// ([`S3Server::ca_pem`]).
    pub async fn start_tls(credentials: Option<(&str, &str)>) -> anyhow::Result<S3Server> {
        let (ca_pem, config) = tls_config()?;
        let tcp = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let addr = tcp.local_addr()?;
        let listener = TlsListener {
            tcp,
            acceptor: tokio_rustls::TlsAcceptor::from(Arc::new(config)),
        };
        Ok(Self::serve(listener, addr, credentials, Some(ca_pem)))
    }

    fn serve<L>(
        listener: L,
        addr: SocketAddr,
        credentials: Option<(&str, &str)>,
        ca_pem: Option<String>,
    ) -> S3Server
    where
        L: axum::serve::Listener,
        L::Addr: std::fmt::Debug,
    {
        let store = Arc::new(Mutex::new(Store {
            buckets: BTreeMap::new(),
            credentials: credentials.map(|(a, s)| (a.to_owned(), s.to_owned())),
            region: None,
            page_size: DEFAULT_PAGE_SIZE,
            requests: Vec::new(),
        }));
        let app = axum::Router::new()
            .fallback(serve)
            .with_state(Arc::clone(&store));
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        tokio::spawn(async move {
            let served = axum::serve(listener, app).with_graceful_shutdown(async {
                let _ = rx.await;
            });
            if let Err(err) = served.await {
                tracing::warn!(%err, "s3 server stopped");
            }
        });
        S3Server {
            addr,
            store,
            ca_pem,
            _shutdown: tx,
        }
    }

    /// The PEM of the CA that signed the HTTPS certificate (`ca.crt` of a `certSecretRef`).
    pub fn ca_pem(&self) -> Option<&str> {
        self.ca_pem.as_deref()
    }

    /// `127.0.0.1:<port>`, a Bucket's `spec.endpoint` (with `spec.insecure: true`).
    pub fn endpoint(&self) -> String {
        self.addr.to_string()
    }

    /// Requires requests to be signed for `region` (others get `AuthorizationHeaderMalformed`).
    pub fn set_region(&self, region: &str) {
        self.lock().region = Some(region.to_owned());
    }

    /// Caps every listing page at `size` keys, whatever `max-keys` asks.
    pub fn set_page_size(&self, size: usize) {
        self.lock().page_size = size.max(1);
    }

    /// Creates `bucket` (no-op when it exists).
    pub fn create_bucket(&self, bucket: &str) {
        self.lock().buckets.entry(bucket.to_owned()).or_default();
    }

    /// Writes `key` in `bucket` (created if needed); returns the new ETag (unquoted).
    pub fn put_object(&self, bucket: &str, key: &str, data: impl Into<Vec<u8>>) -> String {
        let data = data.into();
        let etag = hex::encode(&Sha256::digest(&data)[..16]);
        self.lock()
            .buckets
            .entry(bucket.to_owned())
            .or_default()
            .insert(
                key.to_owned(),
                Object {
                    data,
                    etag: etag.clone(),
                },
            );
        etag
    }

    /// Uploads every file under `dir` as `<prefix><relative path>`.
    pub fn put_dir(&self, bucket: &str, prefix: &str, dir: &Path) -> anyhow::Result<()> {
        let mut pending = vec![dir.to_path_buf()];
        while let Some(current) = pending.pop() {
            for entry in std::fs::read_dir(&current)? {
                let path = entry?.path();
                if path.is_dir() {
                    pending.push(path);
                } else {
                    let rel = path.strip_prefix(dir)?.to_string_lossy().replace('\\', "/");
                    self.put_object(bucket, &format!("{prefix}{rel}"), std::fs::read(&path)?);
                }
            }
        }
        Ok(())
    }

    /// Removes `key` from `bucket`; true when it existed.
    pub fn delete_object(&self, bucket: &str, key: &str) -> bool {
        self.lock()
            .buckets
            .get_mut(bucket)
            .is_some_and(|objects| objects.remove(key).is_some())
    }

    /// `METHOD /path?query` of every request that passed authentication.
    pub fn requests(&self) -> Vec<String> {
        self.lock().requests.clone()
    }

    fn lock(&self) -> MutexGuard<'_, Store> {
        self.store.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// TLS on accepted connections; a failed handshake drops that connection only.
struct TlsListener {
    tcp: tokio::net::TcpListener,
    acceptor: tokio_rustls::TlsAcceptor,
}

impl axum::serve::Listener for TlsListener {
    type Io = tokio_rustls::server::TlsStream<tokio::net::TcpStream>;
    type Addr = SocketAddr;

    async fn accept(&mut self) -> (Self::Io, SocketAddr) {
        loop {
            let Ok((tcp, addr)) = self.tcp.accept().await else {
                tokio::time::sleep(std::time::Duration::from_millis(10)).await;
                continue;
            };
            if let Ok(tls) = self.acceptor.accept(tcp).await {
                return (tls, addr);
            }
        }
    }

    fn local_addr(&self) -> std::io::Result<SocketAddr> {
        self.tcp.local_addr()
    }
}

/// A fresh CA and a server certificate for `127.0.0.1` signed by it: the CA PEM and the
/// server configuration (ring provider).
fn tls_config() -> anyhow::Result<(String, rustls::ServerConfig)> {
    use rcgen::{BasicConstraints, CertificateParams, IsCa, Issuer, KeyPair};
    use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};

    let ca_key = KeyPair::generate()?;
    let mut ca_params = CertificateParams::new(Vec::<String>::new())?;
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    let ca_cert = ca_params.self_signed(&ca_key)?;
    let issuer = Issuer::new(ca_params, &ca_key);
    let server_key = KeyPair::generate()?;
    let server_cert = CertificateParams::new(vec!["127.0.0.1".to_owned(), "localhost".to_owned()])?
        .signed_by(&server_key, &issuer)?;
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()?
        .with_no_client_auth()
        .with_single_cert(
            vec![CertificateDer::from(server_cert.der().to_vec())],
            PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(server_key.serialize_der())),
        )?;
    Ok((ca_cert.pem(), config))
}

/// An S3 error response; HEAD responses carry no body, as S3's do not.
fn error(
    method: &Method,
    status: StatusCode,
    code: &str,
    message: &str,
    resource: &str,
) -> Response {
    let body = if *method == Method::HEAD {
        Vec::new()
    } else {
        format!(
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error><Code>{code}</Code><Message>{}</Message><Resource>{}</Resource><RequestId>loopback</RequestId></Error>",
            escape(message),
            escape(resource)
        )
        .into_bytes()
    };
    let mut response = Response::new(Body::from(body));
    *response.status_mut() = status;
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        header::HeaderValue::from_static("application/xml"),
    );
    response
}

/// `%XX` decoding of a query component (`+` stays `+`, as S3 signs it).
fn percent_decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = bytes
            .get(i + 1..i + 3)
            .and_then(|h| std::str::from_utf8(h).ok());
        match (bytes[i], hex.and_then(|h| u8::from_str_radix(h, 16).ok())) {
            (b'%', Some(byte)) => {
                out.push(byte);
                i += 3;
            }
            (byte, _) => {
                out.push(byte);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn query_pairs(raw: Option<&str>) -> Vec<(String, String)> {
    raw.unwrap_or_default()
        .split('&')
        .filter(|p| !p.is_empty())
        .map(|p| {
            let (k, v) = p.split_once('=').unwrap_or((p, ""));
            (percent_decode(k), percent_decode(v))
        })
        .collect()
}

/// Checks the request's SigV4 signature; `Err` is the S3 error to answer.
fn authenticate(
    store: &Store,
    method: &Method,
    headers: &HeaderMap,
    path: &str,
    query: &[(String, String)],
) -> Result<(), (StatusCode, &'static str, String)> {
    let Some((access_key, secret_key)) = &store.credentials else {
        return Ok(());
    };
    let denied = |code, message: &str| Err((StatusCode::FORBIDDEN, code, message.to_owned()));
    let Some(value) = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
    else {
        return denied("AccessDenied", "Access Denied.");
    };
    let Some(auth) = sigv4::parse_authorization(value) else {
        return Err((
            StatusCode::BAD_REQUEST,
            "AuthorizationHeaderMalformed",
            "The authorization header is malformed.".to_owned(),
        ));
    };
    if auth.access_key != *access_key {
        return denied(
            "InvalidAccessKeyId",
            "The Access Key Id you provided does not exist in our records.",
        );
    }
    if let Some(region) = &store.region
        && auth.region != *region
    {
        return Err((
            StatusCode::BAD_REQUEST,
            "AuthorizationHeaderMalformed",
            format!(
                "the region '{}' is wrong; expecting '{region}'",
                auth.region
            ),
        ));
    }
    let header = |name: &str| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_owned()
    };
    let amz_date = header("x-amz-date");
    if !amz_date.starts_with(&auth.date) {
        return denied(
            "SignatureDoesNotMatch",
            "The credential date does not match x-amz-date.",
        );
    }
    let signed: Vec<(String, String)> = auth
        .signed_headers
        .iter()
        .map(|name| (name.clone(), header(name)))
        .collect();
    let payload = header("x-amz-content-sha256");
    let scope = sigv4::Scope {
        amz_date: &amz_date,
        region: &auth.region,
        service: &auth.service,
    };
    let expected = sigv4::sign(
        &sigv4::Request {
            method: method.as_str(),
            path,
            query,
            headers: &signed,
            payload_sha256: &payload,
        },
        secret_key,
        &scope,
    );
    if !sigv4::signatures_match(&expected.signature, &auth.signature) {
        return denied(
            "SignatureDoesNotMatch",
            "The request signature we calculated does not match the signature you provided. Check your key and signing method.",
        );
    }
    Ok(())
}

async fn serve(State(store): State<Arc<Mutex<Store>>>, request: Request) -> Response {
    let mut store = store.lock().unwrap_or_else(PoisonError::into_inner);
    let method = request.method().clone();
    let path = request.uri().path().to_owned();
    let query = query_pairs(request.uri().query());
    if let Err((status, code, message)) =
        authenticate(&store, &method, request.headers(), &path, &query)
    {
        let mut response = error(&method, status, code, &message, &path);
        // Amazon S3 names the bucket's region on refusals, so clients can re-sign.
        if let Some(region) = &store.region
            && let Ok(value) = header::HeaderValue::from_str(region)
        {
            response.headers_mut().insert("x-amz-bucket-region", value);
        }
        return response;
    }
    store.requests.push(match request.uri().query() {
        Some(q) => format!("{method} {path}?{q}"),
        None => format!("{method} {path}"),
    });
    let trimmed = path.trim_start_matches('/');
    let (bucket, key) = match trimmed.split_once('/') {
        Some((bucket, key)) => (percent_decode(bucket), percent_decode(key)),
        None => (percent_decode(trimmed), String::new()),
    };
    let Some(objects) = store.buckets.get(&bucket) else {
        return error(
            &method,
            StatusCode::NOT_FOUND,
            "NoSuchBucket",
            "The specified bucket does not exist",
            &path,
        );
    };
    match (&method, key.is_empty()) {
        (&Method::HEAD, true) => Response::new(Body::empty()),
        (&Method::GET, true) => list(objects, &bucket, &query, store.page_size),
        (&Method::GET | &Method::HEAD, false) => match objects.get(&key) {
            Some(object) => {
                let body = if method == Method::HEAD {
                    Body::empty()
                } else {
                    Body::from(object.data.clone())
                };
                let mut response = Response::new(body);
                let headers = response.headers_mut();
                if let Ok(etag) = header::HeaderValue::from_str(&format!("\"{}\"", object.etag)) {
                    headers.insert(header::ETAG, etag);
                }
                headers.insert(header::CONTENT_LENGTH, object.data.len().into());
                response
            }
            None => error(
                &method,
                StatusCode::NOT_FOUND,
                "NoSuchKey",
                "The specified key does not exist.",
                &path,
            ),
        },
        _ => error(
            &method,
            StatusCode::METHOD_NOT_ALLOWED,
            "MethodNotAllowed",
            "The specified method is not allowed against this resource.",
            &path,
        ),
    }
}

/// A ListObjectsV2 page; the continuation token is the hex of the last key returned.
fn list(
    objects: &BTreeMap<String, Object>,
    bucket: &str,
    query: &[(String, String)],
    page_size: usize,
) -> Response {
    let get = |name: &str| {
        query
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    };
    if get("list-type") != Some("2") {
        return error(
            &Method::GET,
            StatusCode::NOT_IMPLEMENTED,
            "NotImplemented",
            "Only ListObjectsV2 (list-type=2) is implemented.",
            bucket,
        );
    }
    let prefix = get("prefix").unwrap_or_default();
    let after = match get("continuation-token").map(hex::decode) {
        None => None,
        Some(Ok(bytes)) => Some(String::from_utf8_lossy(&bytes).into_owned()),
        Some(Err(_)) => {
            return error(
                &Method::GET,
                StatusCode::BAD_REQUEST,
                "InvalidArgument",
                "The continuation token provided is incorrect",
                bucket,
            );
        }
    };
    let max_keys = get("max-keys")
        .and_then(|m| m.parse::<usize>().ok())
        .unwrap_or(DEFAULT_PAGE_SIZE)
        .min(page_size);
    let mut matching = objects
        .iter()
        .filter(|(key, _)| key.starts_with(prefix))
        .filter(|(key, _)| after.as_ref().is_none_or(|a| key.as_str() > a.as_str()));
    let page: Vec<(&String, &Object)> = matching.by_ref().take(max_keys).collect();
    let truncated = matching.next().is_some();
    let mut body = format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<ListBucketResult xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\"><Name>{}</Name><Prefix>{}</Prefix><KeyCount>{}</KeyCount><MaxKeys>{max_keys}</MaxKeys><IsTruncated>{truncated}</IsTruncated>",
        escape(bucket),
        escape(prefix),
        page.len()
    );
    for (key, object) in &page {
        body.push_str(&format!(
            "<Contents><Key>{}</Key><LastModified>2026-01-01T00:00:00.000Z</LastModified><ETag>&quot;{}&quot;</ETag><Size>{}</Size><StorageClass>STANDARD</StorageClass></Contents>",
            escape(key),
            object.etag,
            object.data.len()
        ));
    }
    if truncated && let Some((last, _)) = page.last() {
        body.push_str(&format!(
            "<NextContinuationToken>{}</NextContinuationToken>",
            hex::encode(last.as_bytes())
        ));
    }
    body.push_str("</ListBucketResult>");
    let mut response = Response::new(Body::from(body));
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        header::HeaderValue::from_static("application/xml"),
    );
    response
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use driftless_s3::{Addressing, Client, ClientOptions, Credentials, S3Error};

    use super::*;

    fn client(server: &S3Server, secret: Option<&str>) -> Client {
        Client::new(ClientOptions {
            endpoint: server.endpoint(),
            insecure: true,
            region: None,
            credentials: secret.map(|s| Credentials {
                access_key: "AKIDTEST".into(),
                secret_key: s.into(),
                session_token: None,
            }),
            tls: None,
            proxy: None,
            timeout: Duration::from_secs(10),
            addressing: Addressing::Path,
        })
        .expect("client")
    }

    async fn server() -> S3Server {
        let server = S3Server::start(Some(("AKIDTEST", "s3cr3t")))
            .await
            .expect("server starts");
        server.create_bucket("flux");
        server
    }

    #[tokio::test]
    async fn listing_follows_continuation_tokens_across_small_pages() {
        let server = server().await;
        for i in 0..7 {
            server.put_object("flux", &format!("dir/file {i}&.yaml"), format!("n: {i}"));
        }
        server.put_object("flux", "other.txt", "x");
        server.set_page_size(3);
        let client = client(&server, Some("s3cr3t"));
        let listed = client.list_all("flux", Some("dir/")).await.expect("lists");
        assert_eq!(listed.len(), 7);
        assert_eq!(listed[0].key, "dir/file 0&.yaml");
        let pages = server
            .requests()
            .iter()
            .filter(|r| r.starts_with("GET /flux?"))
            .count();
        assert_eq!(pages, 3);
    }

    #[tokio::test]
    async fn objects_download_with_their_etag_and_missing_ones_are_not_found() {
        let server = server().await;
        let etag = server.put_object("flux", "a/b.yaml", "hello");
        let client = client(&server, Some("s3cr3t"));
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("a/b.yaml");
        let got = client
            .get_object_to("flux", "a/b.yaml", &path, 1024)
            .await
            .expect("downloads");
        assert_eq!(got, etag);
        assert_eq!(std::fs::read(&path).expect("written"), b"hello");
        let err = client
            .get_object_to("flux", "nope", &dir.path().join("nope"), 1024)
            .await
            .expect_err("missing");
        assert!(err.is_not_found(), "{err}");
        let err = client
            .get_object_to("flux", "a/b.yaml", &path, 2)
            .await
            .expect_err("too large");
        assert!(matches!(err, S3Error::TooLarge { .. }), "{err}");
    }

    #[tokio::test]
    async fn a_wrong_secret_is_refused_with_signature_does_not_match() {
        let server = server().await;
        let client = client(&server, Some("wrong"));
        let err = client.bucket_exists("flux").await.expect_err("refused");
        let text = err.to_string();
        assert!(text.contains("SignatureDoesNotMatch"), "{text}");
        assert!(!text.contains("wrong"), "{text}");
        assert!(server.requests().is_empty());
    }

    #[tokio::test]
    async fn anonymous_requests_to_a_private_server_are_denied() {
        let server = server().await;
        let err = client(&server, None)
            .list_all("flux", None)
            .await
            .expect_err("denied");
        assert!(err.is_auth_failure(), "{err}");
    }

    #[tokio::test]
    async fn a_missing_bucket_does_not_exist_and_a_present_one_does() {
        let server = server().await;
        let client = client(&server, Some("s3cr3t"));
        assert!(client.bucket_exists("flux").await.expect("head"));
        assert!(!client.bucket_exists("absent").await.expect("head"));
    }

    #[tokio::test]
    async fn https_works_with_the_servers_ca_and_fails_without_it() {
        use rustls::pki_types::CertificateDer;
        use rustls::pki_types::pem::PemObject as _;

        let server = S3Server::start_tls(Some(("AKIDTEST", "s3cr3t")))
            .await
            .expect("server starts");
        server.create_bucket("flux");
        let mut roots = rustls::RootCertStore::empty();
        let ca = CertificateDer::from_pem_slice(server.ca_pem().expect("ca").as_bytes())
            .expect("ca parses");
        roots.add(ca).expect("root");
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let tls = rustls::ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .expect("versions")
            .with_root_certificates(roots)
            .with_no_client_auth();
        let options = |tls| ClientOptions {
            endpoint: server.endpoint(),
            insecure: false,
            region: None,
            credentials: Some(Credentials {
                access_key: "AKIDTEST".into(),
                secret_key: "s3cr3t".into(),
                session_token: None,
            }),
            tls,
            proxy: None,
            timeout: Duration::from_secs(10),
            addressing: Addressing::Path,
        };
        let trusted = Client::new(options(Some(tls))).expect("client");
        assert!(trusted.bucket_exists("flux").await.expect("head over TLS"));
        let untrusted = Client::new(options(None)).expect("client");
        let err = untrusted
            .bucket_exists("flux")
            .await
            .expect_err("unknown CA");
        assert!(matches!(err, S3Error::Transport { .. }), "{err}");
    }

    #[tokio::test]
    async fn a_client_without_a_region_learns_it_from_head_bucket() {
        let server = server().await;
        server.put_object("flux", "a", "1");
        server.set_region("eu-west-1");
        let client = client(&server, Some("s3cr3t"));
        assert!(
            client
                .bucket_exists("flux")
                .await
                .expect("head after re-signing")
        );
        assert_eq!(client.region(), "eu-west-1");
        assert_eq!(client.list_all("flux", None).await.expect("lists").len(), 1);
    }

    #[tokio::test]
    async fn a_region_mismatch_is_reported_as_a_malformed_authorization() {
        let server = server().await;
        server.set_region("eu-west-1");
        let err = client(&server, Some("s3cr3t"))
            .list_all("flux", None)
            .await
            .expect_err("wrong region");
        assert!(err.to_string().contains("eu-west-1"), "{err}");
    }
}
