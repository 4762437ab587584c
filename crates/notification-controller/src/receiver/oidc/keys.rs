//! Fetching an issuer's signing keys: its discovery document must name the issuer exactly (as
//! OIDC discovery requires, so a document served for one issuer cannot vouch for another) and
//! point at a JWKS. Both answers are size-capped and time-bounded.

use std::sync::Arc;
use std::time::Duration;

use rustls_platform_verifier::BuilderVerifierExt as _;
use serde::Deserialize;

use super::OidcError;
use super::jwt::Jwk;

/// The most a discovery document or a JWKS may weigh.
const MAX_DOCUMENT_BYTES: usize = 1024 * 1024;
/// How long one fetch may take.
const FETCH_TIMEOUT: Duration = Duration::from_secs(10);

#[derive(Deserialize)]
struct Discovery {
    issuer: String,
    jwks_uri: String,
}

#[derive(Deserialize)]
struct KeySet {
    keys: Vec<Jwk>,
}

/// The HTTP side of key fetching.
pub struct Fetcher {
    client: reqwest::Client,
}

impl Fetcher {
    /// A client with the ring provider and the platform's roots.
    pub fn new() -> Result<Self, OidcError> {
        let setup = |reason: String| OidcError::Keys {
            issuer: String::new(),
            reason,
        };
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let tls = rustls::ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .map_err(|e| setup(e.to_string()))?
            .with_platform_verifier()
            .map_err(|e| setup(e.to_string()))?
            .with_no_client_auth();
        let client = reqwest::Client::builder()
            .tls_backend_preconfigured(tls)
            .timeout(FETCH_TIMEOUT)
            .build()
            .map_err(|e| setup(e.without_url().to_string()))?;
        Ok(Self { client })
    }

    /// The keys `issuer` publishes.
    pub async fn fetch(&self, issuer: &str) -> Result<Vec<Jwk>, OidcError> {
        let fail = |reason: String| OidcError::Keys {
            issuer: issuer.to_owned(),
            reason,
        };
        let discovery_url = format!(
            "{}/.well-known/openid-configuration",
            issuer.trim_end_matches('/')
        );
        let discovery: Discovery =
            serde_json::from_slice(&self.get(&discovery_url).await.map_err(&fail)?)
                .map_err(|e| fail(format!("invalid discovery document: {e}")))?;
        if discovery.issuer != issuer {
            return Err(fail(format!(
                "the discovery document names issuer '{}'",
                discovery.issuer
            )));
        }
        let set: KeySet =
            serde_json::from_slice(&self.get(&discovery.jwks_uri).await.map_err(&fail)?)
                .map_err(|e| fail(format!("invalid JWKS: {e}")))?;
        Ok(set.keys)
    }

    async fn get(&self, url: &str) -> Result<Vec<u8>, String> {
        let mut response = self
            .client
            .get(url)
            .header(reqwest::header::ACCEPT, "application/json")
            .send()
            .await
            .map_err(|e| format!("GET {url}: {}", e.without_url()))?;
        if !response.status().is_success() {
            return Err(format!("GET {url}: {}", response.status()));
        }
        let mut body = Vec::new();
        while let Some(chunk) = response
            .chunk()
            .await
            .map_err(|e| format!("GET {url}: {}", e.without_url()))?
        {
            if body.len() + chunk.len() > MAX_DOCUMENT_BYTES {
                return Err(format!("GET {url}: answer over {MAX_DOCUMENT_BYTES} bytes"));
            }
            body.extend_from_slice(&chunk);
        }
        Ok(body)
    }
}
