//! The registry client: scheme choice, the 401 challenge flow, and bounded response bodies.
//!
//! A request goes out with the authorization cached for its registry and scope (none at first).
//! On a 401 the client reads `WWW-Authenticate`: for Basic it sends the credential; for Bearer it
//! asks the realm for a token (GET with Basic credentials or anonymously, POST with a refresh
//! token for an `identitytoken`) and retries once. A second 401 is [`OciError::Unauthorized`].
//!
//! Like go-containerregistry, a registry on a loopback, `.local` or RFC 1918 address is tried
//! over HTTPS first and then over plain HTTP; `insecure` means plain HTTP everywhere.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::Duration;

use base64::Engine as _;
use reqwest::header::{ACCEPT, AUTHORIZATION, HeaderValue, WWW_AUTHENTICATE};
use reqwest::{Method, StatusCode, Url};

use crate::auth::{Credential, DockerConfig};
use crate::challenge::{self, Challenge};
use crate::error::OciError;
use crate::reference::Reference;

/// How the client connects and what it accepts.
#[derive(Clone, Debug)]
pub struct ClientOptions {
    /// Plain HTTP (`spec.insecure`).
    pub insecure: bool,
    /// PEM certificates trusted besides the system roots (`ca.crt`).
    pub ca_pem: Option<Vec<u8>>,
    /// Timeout of one request, body included (`spec.timeout`, Flux's default 60s).
    pub timeout: Duration,
    /// Timeout to establish a connection.
    pub connect_timeout: Duration,
    /// Largest manifest or index accepted (containerd's limit is 4 MiB).
    pub max_manifest_size: u64,
    /// Largest single tag list page accepted.
    pub max_tag_page_size: u64,
    /// Most tags collected over all pages; a registry returning more is an error, not a
    /// disk or memory filler.
    pub max_tags: usize,
    /// The `n` page size asked for, if any (registries pick their own default otherwise).
    pub tag_page_limit: Option<u32>,
    /// The User-Agent header.
    pub user_agent: String,
}

impl Default for ClientOptions {
    fn default() -> Self {
        ClientOptions {
            insecure: false,
            ca_pem: None,
            timeout: Duration::from_secs(60),
            connect_timeout: Duration::from_secs(10),
            max_manifest_size: 4 << 20,
            max_tag_page_size: 64 << 20,
            max_tags: 2_000_000,
            tag_page_limit: None,
            user_agent: concat!("driftless/", env!("CARGO_PKG_VERSION")).to_owned(),
        }
    }
}

/// Cached per-registry knowledge: which scheme answered, which Authorization header worked.
#[derive(Default)]
struct Cache {
    schemes: HashMap<String, &'static str>,
    authorization: HashMap<(String, String), HeaderValue>,
}

/// A registry client for one set of credentials.
pub struct Client {
    http: reqwest::Client,
    options: ClientOptions,
    config: DockerConfig,
    cache: Mutex<Cache>,
}

impl std::fmt::Debug for Client {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Client")
            .field("options", &self.options)
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

/// A request the client makes against one repository.
pub(crate) struct Request<'a> {
    pub(crate) method: Method,
    /// Path after `/v2/<repository>/`, with any query.
    pub(crate) path: &'a str,
    pub(crate) accept: &'a [&'a str],
}

impl Client {
    /// A client using `config` for credentials (an empty config for anonymous access).
    pub fn new(options: ClientOptions, config: DockerConfig) -> Result<Client, OciError> {
        let tls = crate::tls::client_config(options.ca_pem.as_deref()).map_err(OciError::Client)?;
        let http = reqwest::Client::builder()
            .tls_backend_preconfigured(tls)
            .timeout(options.timeout)
            .connect_timeout(options.connect_timeout)
            .user_agent(options.user_agent.clone())
            .build()
            .map_err(|e| OciError::Client(e.without_url().to_string()))?;
        Ok(Client {
            http,
            options,
            config,
            cache: Mutex::new(Cache::default()),
        })
    }

    /// The options this client was built with.
    pub fn options(&self) -> &ClientOptions {
        &self.options
    }

    /// The schemes to try for `host`, in order.
    fn schemes(&self, host: &str) -> Vec<&'static str> {
        if self.options.insecure {
            return vec!["http"];
        }
        if let Some(known) = self.lock().schemes.get(host) {
            return vec![known];
        }
        if is_local(host) {
            vec!["https", "http"]
        } else {
            vec!["https"]
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Cache> {
        // A poisoned cache only loses memoised headers; keep using it.
        self.cache
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Send `request` for `reference`'s repository, answering auth challenges; returns a
    /// success response and the URL that answered (carrying no credentials, but its query),
    /// or the error for its status.
    pub(crate) async fn send(
        &self,
        reference: &Reference,
        request: &Request<'_>,
    ) -> Result<(reqwest::Response, String), OciError> {
        let host = reference.api_host().to_owned();
        let schemes = self.schemes(&host);
        let mut last = None;
        for (i, scheme) in schemes.iter().enumerate() {
            let url = format!(
                "{scheme}://{host}/v2/{}/{}",
                reference.repository(),
                request.path
            );
            match self.send_url(reference, request, &url).await {
                Err(OciError::Transport { .. }) if i + 1 < schemes.len() => {
                    tracing::debug!(%host, scheme, "registry did not answer, trying the next scheme");
                }
                Err(e) => {
                    last = Some(e);
                    break;
                }
                Ok(response) => {
                    self.lock().schemes.insert(host.clone(), scheme);
                    return Ok((response, url));
                }
            }
        }
        Err(last.unwrap_or_else(|| OciError::Client("no URL scheme to try".to_owned())))
    }

    /// Send to an absolute URL on the registry (a pagination `Link`), with the same auth.
    pub(crate) async fn send_url(
        &self,
        reference: &Reference,
        request: &Request<'_>,
        url: &str,
    ) -> Result<reqwest::Response, OciError> {
        let method = method_name(&request.method);
        let parsed = Url::parse(url).map_err(|e| OciError::Invalid {
            what: "URL",
            url: safe(url),
            reason: e.to_string(),
        })?;
        let key = (reference.api_host().to_owned(), scope(reference));
        let cached = self.lock().authorization.get(&key).cloned();
        let response = self.attempt(request, &parsed, cached.as_ref()).await?;
        if response.status() != StatusCode::UNAUTHORIZED {
            return self.check(response, method, &parsed).await;
        }
        let header = response
            .headers()
            .get(WWW_AUTHENTICATE)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        let Some(challenge) = header.as_deref().and_then(challenge::parse) else {
            return self.check(response, method, &parsed).await;
        };
        let authorization = self.authorize(reference, &challenge).await?;
        let Some(authorization) = authorization else {
            return self.check(response, method, &parsed).await;
        };
        let response = self.attempt(request, &parsed, Some(&authorization)).await?;
        if response.status().is_success() {
            self.lock().authorization.insert(key, authorization);
        }
        self.check(response, method, &parsed).await
    }

    async fn attempt(
        &self,
        request: &Request<'_>,
        url: &Url,
        authorization: Option<&HeaderValue>,
    ) -> Result<reqwest::Response, OciError> {
        let mut builder = self.http.request(request.method.clone(), url.clone());
        if !request.accept.is_empty() {
            builder = builder.header(ACCEPT, request.accept.join(", "));
        }
        if let Some(authorization) = authorization {
            builder = builder.header(AUTHORIZATION, authorization.clone());
        }
        builder.send().await.map_err(|e| OciError::Transport {
            method: method_name(&request.method),
            url: safe(url.as_str()),
            source: e.without_url(),
        })
    }

    /// The Authorization header answering `challenge`, or `None` when there is nothing to send.
    async fn authorize(
        &self,
        reference: &Reference,
        challenge: &Challenge,
    ) -> Result<Option<HeaderValue>, OciError> {
        let credential = self.config.credential_for(reference.registry());
        match challenge {
            Challenge::Basic => Ok(match credential {
                Some(Credential::Basic { username, password }) => {
                    Some(basic_header(username, password))
                }
                Some(Credential::Bearer(token)) => Some(bearer_header(token)),
                _ => None,
            }),
            Challenge::Bearer {
                realm,
                service,
                scope: asked,
            } => {
                if let Some(Credential::Bearer(token)) = credential {
                    return Ok(Some(bearer_header(token)));
                }
                let scope = asked.clone().unwrap_or_else(|| scope(reference));
                let token =
                    crate::token::fetch_token(self, realm, service.as_deref(), &scope, credential)
                        .await?;
                Ok(Some(bearer_header(&token)))
            }
        }
    }

    pub(crate) fn http(&self) -> &reqwest::Client {
        &self.http
    }

    /// Turn a non-success status into its error, reading a bounded error body.
    async fn check(
        &self,
        response: reqwest::Response,
        method: &'static str,
        url: &Url,
    ) -> Result<reqwest::Response, OciError> {
        let status = response.status();
        if status.is_success() {
            return Ok(response);
        }
        let url = safe(url.as_str());
        let detail = error_detail(response).await;
        Err(match status {
            StatusCode::UNAUTHORIZED | StatusCode::FORBIDDEN => OciError::Unauthorized {
                method,
                url,
                status: status.as_u16(),
                detail,
            },
            StatusCode::NOT_FOUND => OciError::NotFound {
                method,
                url,
                detail,
            },
            _ => OciError::Status {
                method,
                url,
                status: status.as_u16(),
                detail,
            },
        })
    }
}

/// Read at most `limit` bytes of `response`'s body; more is [`OciError::TooLarge`].
pub(crate) async fn read_limited(
    mut response: reqwest::Response,
    what: &'static str,
    url: &str,
    limit: u64,
) -> Result<Vec<u8>, OciError> {
    let too_large = || OciError::TooLarge {
        what,
        url: url.to_owned(),
        limit,
    };
    if response.content_length().is_some_and(|n| n > limit) {
        return Err(too_large());
    }
    let mut body = Vec::new();
    while let Some(chunk) = response.chunk().await.map_err(|e| OciError::Transport {
        method: "GET",
        url: url.to_owned(),
        source: e.without_url(),
    })? {
        if body.len() as u64 + chunk.len() as u64 > limit {
            return Err(too_large());
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body)
}

/// The registry's `{"errors":[{"code","message"}]}` as one line, or the status text.
pub(crate) async fn error_detail(response: reqwest::Response) -> String {
    let status = response.status();
    let body = read_limited(response, "error body", "", 16 << 10)
        .await
        .unwrap_or_default();
    #[derive(serde::Deserialize)]
    struct Errors {
        errors: Vec<ErrorEntry>,
    }
    #[derive(serde::Deserialize)]
    struct ErrorEntry {
        #[serde(default)]
        code: String,
        #[serde(default)]
        message: String,
    }
    match serde_json::from_slice::<Errors>(&body) {
        Ok(errors) if !errors.errors.is_empty() => errors
            .errors
            .iter()
            .map(|e| format!("{}: {}", e.code, e.message))
            .collect::<Vec<_>>()
            .join("; "),
        _ => match status {
            StatusCode::UNAUTHORIZED => "UNAUTHORIZED: authentication required".to_owned(),
            StatusCode::FORBIDDEN => {
                "DENIED: requested access to the resource is denied".to_owned()
            }
            StatusCode::NOT_FOUND => "NOT_FOUND: not found".to_owned(),
            _ => format!(
                "unexpected status code {} {}",
                status.as_u16(),
                status.canonical_reason().unwrap_or_default()
            ),
        },
    }
}

/// `repository:<name>:pull`, the scope every read needs.
fn scope(reference: &Reference) -> String {
    format!("repository:{}:pull", reference.repository())
}

pub(crate) fn basic_header(username: &str, password: &str) -> HeaderValue {
    let encoded =
        base64::engine::general_purpose::STANDARD.encode(format!("{username}:{password}"));
    let mut value = HeaderValue::from_str(&format!("Basic {encoded}"))
        .unwrap_or_else(|_| HeaderValue::from_static(""));
    value.set_sensitive(true);
    value
}

fn bearer_header(token: &str) -> HeaderValue {
    let mut value = HeaderValue::from_str(&format!("Bearer {token}"))
        .unwrap_or_else(|_| HeaderValue::from_static(""));
    value.set_sensitive(true);
    value
}

pub(crate) fn method_name(method: &Method) -> &'static str {
    match *method {
        Method::HEAD => "HEAD",
        Method::POST => "POST",
        _ => "GET",
    }
}

/// A URL without credentials, query or fragment, for messages.
pub(crate) fn safe(url: &str) -> String {
    match Url::parse(url) {
        Ok(mut parsed) => {
            let _ = parsed.set_username("");
            let _ = parsed.set_password(None);
            parsed.set_query(None);
            parsed.set_fragment(None);
            parsed.to_string()
        }
        Err(_) => "<unparseable URL>".to_owned(),
    }
}

/// Hosts go-containerregistry reaches over plain HTTP when HTTPS fails: loopback, `localhost`,
/// `*.local` and RFC 1918 addresses.
fn is_local(host: &str) -> bool {
    let name = match host.rsplit_once(':') {
        Some((name, port)) if port.bytes().all(|b| b.is_ascii_digit()) => name,
        _ => host,
    };
    let name = name.trim_start_matches('[').trim_end_matches(']');
    if name == "localhost" || name.ends_with(".local") {
        return true;
    }
    match name.parse::<IpAddr>() {
        Ok(IpAddr::V4(ip)) => ip.is_loopback() || ip.is_private(),
        Ok(IpAddr::V6(ip)) => ip.is_loopback(),
        Err(_) => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loopback_private_and_dot_local_hosts_may_fall_back_to_plain_http() {
        for local in [
            "localhost:5000",
            "127.0.0.1:5000",
            "10.1.2.3",
            "192.168.0.1:80",
            "[::1]:5000",
            "reg.local",
        ] {
            assert!(is_local(local), "{local}");
        }
        for remote in ["ghcr.io", "8.8.8.8:443", "registry-1.docker.io"] {
            assert!(!is_local(remote), "{remote}");
        }
    }

    #[test]
    fn message_urls_lose_their_query_and_credentials() {
        assert_eq!(
            safe("https://u:p@r.io/v2/x/tags/list?n=1&last=a"),
            "https://r.io/v2/x/tags/list"
        );
    }
}
