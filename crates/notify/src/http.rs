//! The HTTP client every provider shares: proxy, CA and client certificate from
//! `certSecretRef`, Flux's retries within `spec.timeout`, and errors with secrets removed.

use std::sync::Arc;
use std::time::Duration;

use tokio::time::Instant;

use reqwest::header::{CONTENT_TYPE, HeaderMap, HeaderName, HeaderValue};
use rustls::pki_types::{CertificateDer, PrivateKeyDer, pem::PemObject};

use crate::error::{NotifyError, redact};
use crate::retry::{self, Verdict};
use crate::settings::ProviderSettings;

/// How much of an error response body goes into an error message.
const BODY_EXCERPT: usize = 512;

/// A configured client bound to one provider's settings.
pub(crate) struct Http {
    client: reqwest::Client,
    provider: String,
    secrets: Vec<String>,
    timeout: Duration,
}

/// A successful answer.
pub(crate) struct Answer {
    pub(crate) body: Vec<u8>,
}

impl Http {
    /// Builds the client for `settings`.
    pub(crate) fn new(settings: &ProviderSettings) -> Result<Self, NotifyError> {
        let tls = tls_config(settings)?;
        // No per-request timeout: `send` bounds the whole delivery, retries included.
        let mut builder = reqwest::Client::builder().tls_backend_preconfigured(tls);
        if let Some(proxy) = settings.proxy.as_deref().filter(|p| !p.is_empty()) {
            let proxy = reqwest::Proxy::all(proxy).map_err(|_| NotifyError::InvalidSetting {
                provider: settings.provider_type.clone(),
                field: "proxy".into(),
                reason: "not a valid proxy URL".into(),
            })?;
            builder = builder.proxy(proxy);
        }
        let client = builder.build().map_err(|e| NotifyError::Tls {
            reason: redact(&e.without_url().to_string(), &settings.secrets()),
        })?;
        Ok(Self {
            client,
            provider: settings.provider_type.clone(),
            secrets: settings.secrets(),
            timeout: settings.timeout,
        })
    }

    /// The provider type, for error messages.
    pub(crate) fn provider(&self) -> &str {
        &self.provider
    }

    /// POSTs `payload` as JSON.
    pub(crate) async fn post_json<T: serde::Serialize + ?Sized>(
        &self,
        url: &url::Url,
        payload: &T,
        headers: HeaderMap,
    ) -> Result<Answer, NotifyError> {
        let body = self.encode(payload)?;
        self.send(reqwest::Method::POST, url, Some(body), headers)
            .await
    }

    /// JSON-encodes `payload`.
    pub(crate) fn encode<T: serde::Serialize + ?Sized>(
        &self,
        payload: &T,
    ) -> Result<Vec<u8>, NotifyError> {
        serde_json::to_vec(payload).map_err(|e| NotifyError::Encode {
            provider: self.provider.clone(),
            reason: e.to_string(),
        })
    }

    /// Sends a request, retrying as Flux does until it succeeds, fails for good, or the
    /// provider timeout runs out. A body is sent as `application/json` unless `headers` say
    /// otherwise. Any final status outside 2xx is an error carrying the start of the body.
    pub(crate) async fn send(
        &self,
        method: reqwest::Method,
        url: &url::Url,
        body: Option<Vec<u8>>,
        headers: HeaderMap,
    ) -> Result<Answer, NotifyError> {
        let deadline = Instant::now() + self.timeout;
        let mut retries = 0;
        loop {
            let attempt = self.attempt(method.clone(), url, body.clone(), headers.clone());
            let (error, verdict) = match tokio::time::timeout_at(deadline, attempt).await {
                Ok(Ok(answer)) => return Ok(answer),
                Ok(Err(failure)) => failure,
                Err(_) => return Err(self.timed_out()),
            };
            let Verdict::Retry(after) = verdict else {
                return Err(error);
            };
            let wait = retry::wait(retries, after);
            if retries >= retry::MAX_RETRIES || Instant::now() + wait >= deadline {
                return Err(error);
            }
            tokio::time::sleep(wait).await;
            retries += 1;
        }
    }

    /// GETs a JSON document that may not exist: 404 is `None`, other failures are errors,
    /// and an unreadable body reads as the type's default.
    pub(crate) async fn get_optional<T: serde::de::DeserializeOwned + Default>(
        &self,
        url: &url::Url,
        headers: HeaderMap,
    ) -> Result<Option<T>, NotifyError> {
        match self.send(reqwest::Method::GET, url, None, headers).await {
            Ok(answer) => Ok(Some(
                serde_json::from_slice(&answer.body).unwrap_or_default(),
            )),
            Err(NotifyError::Status { status: 404, .. }) => Ok(None),
            Err(other) => Err(other),
        }
    }

    /// One request and its verdict when it fails.
    async fn attempt(
        &self,
        method: reqwest::Method,
        url: &url::Url,
        body: Option<Vec<u8>>,
        headers: HeaderMap,
    ) -> Result<Answer, (NotifyError, Verdict)> {
        let mut request = self.client.request(method, url.clone());
        if let Some(body) = body {
            if !headers.contains_key(CONTENT_TYPE) {
                request = request.header(CONTENT_TYPE, "application/json");
            }
            request = request.body(body);
        }
        let failed = |e: reqwest::Error| {
            let verdict = retry::for_error(&e);
            (self.request_error(e), verdict)
        };
        let response = request.headers(headers).send().await.map_err(failed)?;
        let status = response.status();
        let answer_headers = response.headers().clone();
        let body = response.bytes().await.map_err(failed)?;
        if !status.is_success() {
            let text = String::from_utf8_lossy(&body);
            let excerpt: String = text.chars().take(BODY_EXCERPT).collect();
            let error = NotifyError::Status {
                provider: self.provider.clone(),
                status: status.as_u16(),
                body: redact(&excerpt, &self.secrets),
            };
            return Err((error, retry::for_status(status, &answer_headers)));
        }
        Ok(Answer {
            body: body.to_vec(),
        })
    }

    fn timed_out(&self) -> NotifyError {
        NotifyError::Request {
            provider: self.provider.clone(),
            reason: format!("timed out after {:?}", self.timeout),
        }
    }

    fn request_error(&self, error: reqwest::Error) -> NotifyError {
        // reqwest's Display stops at the outermost layer; the causes (refused, timed out,
        // unknown certificate) are what a user needs. The URL is dropped: it may be a secret.
        let mut causes = String::new();
        let mut current = std::error::Error::source(&error);
        while let Some(err) = current {
            causes.push_str(": ");
            causes.push_str(&err.to_string());
            current = err.source();
        }
        let reason = format!("{}{causes}", error.without_url());
        NotifyError::Request {
            provider: self.provider.clone(),
            reason: redact(&reason, &self.secrets),
        }
    }
}

/// Header map from `(name, value)` pairs; values are marked sensitive.
pub(crate) fn headers<'a>(
    provider: &str,
    pairs: impl IntoIterator<Item = (&'a str, &'a str)>,
) -> Result<HeaderMap, NotifyError> {
    let mut map = HeaderMap::new();
    for (name, value) in pairs {
        let name =
            HeaderName::from_bytes(name.as_bytes()).map_err(|_| NotifyError::InvalidSetting {
                provider: provider.to_owned(),
                field: "headers".into(),
                reason: format!("'{name}' is not a valid header name"),
            })?;
        let mut value = HeaderValue::from_str(value).map_err(|_| NotifyError::InvalidSetting {
            provider: provider.to_owned(),
            field: "headers".into(),
            reason: format!("the value of '{name}' is not a valid header value"),
        })?;
        value.set_sensitive(true);
        map.insert(name, value);
    }
    Ok(map)
}

/// rustls with ring: the platform's roots plus `ca.crt`, and `tls.crt`/`tls.key` as the
/// client certificate when both are given.
fn tls_config(settings: &ProviderSettings) -> Result<rustls::ClientConfig, NotifyError> {
    let tls_err = |reason: String| NotifyError::Tls { reason };
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let extra_roots: Vec<CertificateDer<'static>> = match &settings.ca_pem {
        Some(pem) => {
            let certs: Vec<_> = CertificateDer::pem_slice_iter(pem)
                .collect::<Result<_, _>>()
                .map_err(|e| tls_err(format!("ca.crt is not PEM: {e}")))?;
            if certs.is_empty() {
                return Err(tls_err("ca.crt holds no certificate".into()));
            }
            certs
        }
        None => Vec::new(),
    };
    let verifier =
        rustls_platform_verifier::Verifier::new_with_extra_roots(extra_roots, provider.clone())
            .map_err(|e| tls_err(format!("certificate verifier: {e}")))?;
    let builder = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| tls_err(e.to_string()))?
        .dangerous()
        .with_custom_certificate_verifier(Arc::new(verifier));
    match (&settings.client_cert_pem, &settings.client_key_pem) {
        (Some(cert), Some(key)) => {
            let chain: Vec<CertificateDer<'static>> = CertificateDer::pem_slice_iter(cert)
                .collect::<Result<_, _>>()
                .map_err(|e| tls_err(format!("tls.crt is not PEM: {e}")))?;
            if chain.is_empty() {
                return Err(tls_err("tls.crt holds no certificate".into()));
            }
            // The key's parse error is generic on purpose: never echo key material.
            let key = PrivateKeyDer::from_pem_slice(key)
                .map_err(|_| tls_err("tls.key is not a PEM private key".into()))?;
            builder
                .with_client_auth_cert(chain, key)
                .map_err(|e| tls_err(format!("client certificate: {e}")))
        }
        (Some(_), None) => Err(tls_err("tls.crt is given without tls.key".into())),
        (None, Some(_)) => Err(tls_err("tls.key is given without tls.crt".into())),
        (None, None) => Ok(builder.with_no_client_auth()),
    }
}

#[cfg(test)]
mod tests;
