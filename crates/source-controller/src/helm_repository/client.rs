//! The HTTP client for one HelmRepository, shared by its index fetch and by the HelmCharts
//! that pull from it: `spec.secretRef` basic auth (`username`/`password`), TLS from
//! `spec.certSecretRef` (`ca.crt`, `tls.crt`/`tls.key`; the same keys in `spec.secretRef` are
//! still read, as Flux does for the deprecated form), `spec.timeout`, and credentials sent only
//! to the repository's own host unless `spec.passCredentials`. Downloads are bounded.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use driftless_api::source::HelmRepository;
use driftless_helm::repo::url::{redact, sends_credentials};
use k8s_openapi::ByteString;
use kube::ResourceExt;
use rustls::pki_types::pem::PemObject as _;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};

use super::error::HelmError;
use crate::credentials::secret_data;
use crate::error::ReconcileError;
use crate::reconcile::parse_duration;

/// Flux's default `spec.timeout` for Helm repositories.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(60);

/// Why a download failed; URLs never carry credentials.
#[derive(Debug, thiserror::Error)]
pub enum FetchError {
    /// The server answered with a non-success status (Helm's getter wording).
    #[error("failed to fetch {url} : {status}")]
    Status {
        /// The URL.
        url: String,
        /// `401 Unauthorized`, …
        status: String,
    },
    /// The request did not complete.
    #[error("failed to fetch {url}: {source}")]
    Transport {
        /// The URL.
        url: String,
        /// The transport error, without its URL.
        #[source]
        source: reqwest::Error,
    },
    /// The body is larger than allowed.
    #[error("{what} from {url} exceeds the maximum allowed size of {limit} bytes")]
    TooLarge {
        /// `index` or `chart`.
        what: &'static str,
        /// The URL.
        url: String,
        /// The limit.
        limit: u64,
    },
}

/// An HTTP client configured for one repository.
#[derive(Clone, Debug)]
pub struct RepoClient {
    http: reqwest::Client,
    basic: Option<(String, String)>,
    repo_url: String,
    pass_credentials: bool,
}

impl RepoClient {
    /// The client for `repo`, reading its Secrets.
    pub async fn for_repository(
        client: &kube::Client,
        repo: &HelmRepository,
    ) -> Result<RepoClient, HelmError> {
        let namespace = repo.namespace().unwrap_or_default();
        let mut basic = None;
        let mut tls = TlsKeys::default();
        if let Some(secret_ref) = &repo.spec.secret_ref {
            let data = secret_data(client, &namespace, &secret_ref.name).await?;
            basic = basic_auth(&data).map_err(|problem| ReconcileError::InvalidSecret {
                namespace: namespace.clone(),
                name: secret_ref.name.clone(),
                problem,
            })?;
            tls = TlsKeys::from_data(&data);
        }
        if let Some(cert_ref) = &repo.spec.cert_secret_ref {
            tls = TlsKeys::from_data(&secret_data(client, &namespace, &cert_ref.name).await?);
        }
        let timeout = match repo.spec.timeout.as_deref() {
            Some(value) => parse_duration("spec.timeout", value)?,
            None => DEFAULT_TIMEOUT,
        };
        let config = tls_config(&tls).map_err(HelmError::Client)?;
        let http = reqwest::Client::builder()
            .tls_backend_preconfigured(config)
            .timeout(timeout)
            .connect_timeout(timeout.min(Duration::from_secs(30)))
            .build()
            .map_err(|e| HelmError::Client(e.without_url().to_string()))?;
        Ok(RepoClient {
            http,
            basic,
            repo_url: repo.spec.url.clone(),
            pass_credentials: repo.spec.pass_credentials.unwrap_or(false),
        })
    }

    /// GETs `url`, at most `limit` bytes of body.
    pub async fn get(
        &self,
        url: &str,
        what: &'static str,
        limit: u64,
    ) -> Result<Vec<u8>, FetchError> {
        let safe = redact(url);
        let mut request = self.http.get(url);
        if let Some((user, pass)) = &self.basic
            && sends_credentials(&self.repo_url, url, self.pass_credentials)
        {
            request = request.basic_auth(user, Some(pass));
        }
        let transport = |source: reqwest::Error| FetchError::Transport {
            url: safe.clone(),
            source: source.without_url(),
        };
        let mut response = request.send().await.map_err(transport)?;
        if !response.status().is_success() {
            return Err(FetchError::Status {
                url: safe.clone(),
                status: response.status().to_string(),
            });
        }
        let too_large = || FetchError::TooLarge {
            what,
            url: safe.clone(),
            limit,
        };
        if response.content_length().is_some_and(|len| len > limit) {
            return Err(too_large());
        }
        let mut body = Vec::new();
        while let Some(chunk) = response.chunk().await.map_err(transport)? {
            if (body.len() + chunk.len()) as u64 > limit {
                return Err(too_large());
            }
            body.extend_from_slice(&chunk);
        }
        Ok(body)
    }
}

/// `username`/`password`, both or neither; problems name keys, never values.
pub fn basic_auth(data: &BTreeMap<String, ByteString>) -> Result<Option<(String, String)>, String> {
    let text = |key: &str| {
        data.get(key)
            .map(|v| {
                String::from_utf8(v.0.clone())
                    .map_err(|_| format!("key '{key}' is not valid UTF-8"))
            })
            .transpose()
    };
    match (text("username")?, text("password")?) {
        (Some(user), Some(pass)) => Ok(Some((user, pass))),
        (None, None) => Ok(None),
        _ => Err("required fields 'username' and 'password'".to_owned()),
    }
}

/// PEM blocks for the TLS client (also a Bucket's `certSecretRef`).
#[derive(Default)]
pub(crate) struct TlsKeys {
    ca: Option<Vec<u8>>,
    cert: Option<Vec<u8>>,
    key: Option<Vec<u8>>,
}

impl TlsKeys {
    pub(crate) fn from_data(data: &BTreeMap<String, ByteString>) -> TlsKeys {
        let get = |keys: &[&str]| keys.iter().find_map(|k| data.get(*k)).map(|v| v.0.clone());
        TlsKeys {
            ca: get(&["ca.crt", "caFile"]),
            cert: get(&["tls.crt", "certFile"]),
            key: get(&["tls.key", "keyFile"]),
        }
    }
}

/// System roots plus `ca.crt`; a client certificate when both `tls.crt` and `tls.key` are set.
/// The platform's trust roots, read once per process: every chart download builds a client,
/// and each would otherwise read and parse the whole system bundle again.
fn native_roots() -> &'static [CertificateDer<'static>] {
    static ROOTS: std::sync::OnceLock<Vec<CertificateDer<'static>>> = std::sync::OnceLock::new();
    ROOTS.get_or_init(|| rustls_native_certs::load_native_certs().certs)
}

pub(crate) fn tls_config(keys: &TlsKeys) -> Result<rustls::ClientConfig, String> {
    let mut roots = rustls::RootCertStore::empty();
    roots.add_parsable_certificates(native_roots().iter().cloned());
    if let Some(pem) = &keys.ca {
        let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_slice_iter(pem)
            .collect::<Result<_, _>>()
            .map_err(|e| format!("failed to parse CA certificate: {e}"))?;
        if certs.is_empty() {
            return Err("failed to parse CA certificate: no certificate found".to_owned());
        }
        for cert in certs {
            roots
                .add(cert)
                .map_err(|e| format!("failed to add CA certificate: {e}"))?;
        }
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let builder = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| format!("TLS setup: {e}"))?
        .with_root_certificates(roots);
    match (&keys.cert, &keys.key) {
        (Some(cert), Some(key)) => {
            let chain: Vec<CertificateDer<'static>> = CertificateDer::pem_slice_iter(cert)
                .collect::<Result<_, _>>()
                .map_err(|e| format!("failed to parse client certificate: {e}"))?;
            let key = PrivateKeyDer::from_pem_slice(key)
                .map_err(|e| format!("failed to parse client key: {e}"))?;
            builder
                .with_client_auth_cert(chain, key)
                .map_err(|e| format!("invalid client certificate: {e}"))
        }
        (None, None) => Ok(builder.with_no_client_auth()),
        _ => Err("client certificate needs both 'tls.crt' and 'tls.key'".to_owned()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn data(pairs: &[(&str, &str)]) -> BTreeMap<String, ByteString> {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), ByteString(v.as_bytes().to_vec())))
            .collect()
    }

    #[test]
    fn basic_auth_needs_both_keys_and_never_names_the_values() {
        assert_eq!(
            basic_auth(&data(&[("username", "u"), ("password", "p")])).expect("valid"),
            Some(("u".to_owned(), "p".to_owned()))
        );
        assert_eq!(basic_auth(&data(&[])).expect("valid"), None);
        let err = basic_auth(&data(&[("password", "hunter2")])).expect_err("half");
        assert!(!err.contains("hunter2"), "{err}");
    }

    #[test]
    fn a_client_certificate_without_its_key_is_refused() {
        let keys = TlsKeys::from_data(&data(&[("tls.crt", "x")]));
        assert!(tls_config(&keys).is_err());
    }
}
