//! Credentials, TLS and timeouts for the HTTP transport gix drives through reqwest.
//!
//! The workspace has exactly one rustls crypto provider, ring. gix's `-rust-tls` feature
//! would switch reqwest to aws-lc, so instead reqwest is built with `rustls-no-provider`
//! and every client here gets a preconfigured rustls config with ring spelled out: no
//! dependence on a process-wide default provider.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use base64::Engine as _;
use gix::protocol::transport::client::blocking_io::http;
use rustls::pki_types::CertificateDer;
use rustls::pki_types::pem::PemObject as _;

use crate::error::GitError;
use crate::proxy::Proxy;
use crate::url::{RepoUrl, Scheme};

/// Credentials and trust for one remote, as read from a GitRepository's `secretRef`.
#[derive(Clone, Default)]
pub struct Auth {
    /// `username` + `password` keys: HTTP basic auth.
    pub basic: Option<BasicAuth>,
    /// `bearerToken` key: `Authorization: Bearer <token>`.
    pub bearer_token: Option<String>,
    /// `ca.crt` (or legacy `caFile`): PEM certificates trusted in addition to the system roots.
    pub ca_pem: Option<Vec<u8>>,
    /// `identity`: the SSH private key (OpenSSH or PEM; ed25519, ECDSA or RSA).
    pub ssh_identity: Option<Vec<u8>>,
    /// `password` next to `identity`: the passphrase of an encrypted identity.
    pub ssh_password: Option<String>,
    /// `known_hosts`: the only host keys an SSH server may present (no trust on first use).
    pub ssh_known_hosts: Option<Vec<u8>>,
    /// `spec.proxySecretRef`: every connection goes through this proxy, whatever the
    /// environment says. `None` leaves the environment's proxy settings in effect.
    pub proxy: Option<Proxy>,
}

#[derive(Clone)]
pub struct BasicAuth {
    pub username: String,
    pub password: String,
}

// Secrets must not leak through `{:?}` in logs either.
impl std::fmt::Debug for Auth {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Auth")
            .field("basic", &self.basic.as_ref().map(|b| &b.username))
            .field("bearer_token", &self.bearer_token.as_ref().map(|_| "***"))
            .field("ca_pem", &self.ca_pem.as_ref().map(Vec::len))
            .field("ssh_identity", &self.ssh_identity.as_ref().map(|_| "***"))
            .field("ssh_password", &self.ssh_password.as_ref().map(|_| "***"))
            .field(
                "ssh_known_hosts",
                &self.ssh_known_hosts.as_ref().map(Vec::len),
            )
            .field("proxy", &self.proxy)
            .finish()
    }
}

impl Auth {
    /// Every secret value, for redaction of anything that leaves this crate.
    pub(crate) fn secrets(&self, url: &RepoUrl) -> Vec<String> {
        let mut secrets = url.secrets();
        secrets.extend(self.basic.iter().map(|b| b.password.clone()));
        secrets.extend(self.bearer_token.iter().cloned());
        secrets.extend(self.ssh_password.iter().cloned());
        secrets.extend(self.proxy.iter().flat_map(Proxy::secrets));
        secrets
    }

    /// Reject combinations the transport cannot honour, before any network I/O.
    pub(crate) fn check(&self, url: &RepoUrl) -> Result<(), GitError> {
        let invalid = |reason: &str| GitError::InvalidAuth {
            url: url.sanitized.clone(),
            reason: reason.to_string(),
        };
        if let Some(proxy) = &self.proxy {
            proxy.validate().map_err(|reason| invalid(&reason))?;
        }
        if url.scheme == Scheme::Ssh {
            // The same keys Flux requires for SSH; checked before connecting.
            if self.ssh_identity.is_none() {
                return Err(invalid("'identity' is required for an ssh:// URL"));
            }
            if self.ssh_known_hosts.is_none() {
                return Err(invalid("'known_hosts' is required for an ssh:// URL"));
            }
            if self.bearer_token.is_some() {
                return Err(invalid("a bearer token cannot be used with an ssh:// URL"));
            }
            return Ok(());
        }
        if self.ssh_identity.is_some() {
            return Err(invalid(
                "an SSH identity cannot be used with an HTTP(S) URL",
            ));
        }
        if self.basic.is_some() && self.bearer_token.is_some() {
            return Err(invalid(
                "basic auth and bearer token are mutually exclusive",
            ));
        }
        if url.scheme == Scheme::Http && (self.basic.is_some() || self.bearer_token.is_some()) {
            tracing::debug!(url = %url.sanitized, "sending credentials over plain HTTP");
        }
        Ok(())
    }

    /// Basic credentials from the secret, else from the URL's userinfo (as Flux does).
    fn basic_for(&self, url: &RepoUrl) -> Option<BasicAuth> {
        self.basic.clone().or_else(|| {
            url.embedded_user.as_ref().map(|user| BasicAuth {
                username: user.clone(),
                password: url.embedded_password.clone().unwrap_or_default(),
            })
        })
    }
}

/// The rustls client config: system roots plus the optional `ca.crt`, ring provider.
fn tls_config(url: &RepoUrl, ca_pem: Option<&[u8]>) -> Result<rustls::ClientConfig, GitError> {
    let invalid = |reason: String| GitError::InvalidAuth {
        url: url.sanitized.clone(),
        reason,
    };
    let mut roots = rustls::RootCertStore::empty();
    // Unreadable system certificates are skipped, as Go's SystemCertPool does.
    let native = rustls_native_certs::load_native_certs();
    roots.add_parsable_certificates(native.certs);
    if let Some(pem) = ca_pem {
        let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_slice_iter(pem)
            .collect::<Result<_, _>>()
            .map_err(|e| invalid(format!("ca.crt is not PEM: {e}")))?;
        if certs.is_empty() {
            return Err(invalid("ca.crt holds no certificate".into()));
        }
        for cert in certs {
            roots
                .add(cert)
                .map_err(|e| invalid(format!("ca.crt: {e}")))?;
        }
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| invalid(format!("TLS setup: {e}")))?
        .with_root_certificates(roots)
        .with_no_client_auth();
    Ok(config)
}

/// Transport options handed to gix for one connection.
pub(crate) fn http_options(
    url: &RepoUrl,
    auth: &Auth,
    timeout: Duration,
) -> Result<http::Options, GitError> {
    let tls = tls_config(url, auth.ca_pem.as_deref())?;
    let connect_timeout = timeout.min(Duration::from_secs(20));
    let proxy = auth
        .proxy
        .as_ref()
        .map(Proxy::to_reqwest)
        .transpose()
        .map_err(|reason| GitError::InvalidAuth {
            url: url.sanitized.clone(),
            reason,
        })?;
    let mut backend = http::reqwest::Options {
        configure_client: Some(Box::new(
            move |builder: reqwest::blocking::ClientBuilder| {
                // `timeout` bounds each request including its body, so a server that accepts
                // and then stalls is an error rather than a hang.
                let builder = builder
                    .timeout(timeout)
                    .connect_timeout(connect_timeout)
                    .tls_backend_preconfigured(tls.clone());
                // An explicit proxy replaces reqwest's environment proxies (Flux's precedence).
                Ok(match &proxy {
                    Some(proxy) => builder.proxy(proxy.clone()),
                    None => builder,
                })
            },
        )),
        configure_request: None,
    };
    // Credentials go out preemptively as a header, as Flux's Git client sends them. gix's
    // own 401-then-retry path would refuse plain http:// and would consult its identity
    // machinery; a header keeps one behaviour for both schemes.
    let authorization = match (&auth.bearer_token, auth.basic_for(url)) {
        (Some(token), _) => Some(format!("Bearer {token}")),
        (None, Some(basic)) => {
            let raw = format!("{}:{}", basic.username, basic.password);
            Some(format!(
                "Basic {}",
                base64::engine::general_purpose::STANDARD.encode(raw)
            ))
        }
        (None, None) => None,
    };
    if let Some(authorization) = authorization {
        let mut value = reqwest::header::HeaderValue::from_str(&authorization).map_err(|_| {
            GitError::InvalidAuth {
                url: url.sanitized.clone(),
                reason: "credentials contain characters not allowed in an HTTP header".into(),
            }
        })?;
        value.set_sensitive(true);
        backend.configure_request =
            Some(Box::new(move |request: &mut reqwest::blocking::Request| {
                request
                    .headers_mut()
                    .insert(reqwest::header::AUTHORIZATION, value.clone());
                Ok(())
            }));
    }
    Ok(http::Options {
        connect_timeout: Some(connect_timeout),
        user_agent: Some(format!("driftless/{}", env!("CARGO_PKG_VERSION"))),
        backend: Some(Arc::new(Mutex::new(backend))),
        ..http::Options::default()
    })
}

/// The credentials callback gix calls after a 401. Credentials were already sent as a
/// header, so the answer is always "none": no helper program or prompt ever runs, and the
/// failure is classified as unauthenticated.
pub(crate) fn no_credentials(
    _action: gix::credentials::helper::Action,
) -> gix::Result<Option<gix::credentials::protocol::Outcome>> {
    Ok(None)
}
