//! One authenticated SSH connection: TCP, key exchange with the host key checked against
//! `known_hosts`, then public-key authentication with the Secret's `identity`.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use russh::keys::{HashAlg, PrivateKey, PrivateKeyWithHashAlg, PublicKeyOrCertificate};
use russh::{Preferred, client};

use super::known_hosts::{HostKeyError, KnownHosts};
use super::tunnel::{self, TunnelError};
use crate::error::GitError;
use crate::proxy::Endpoint;

/// Where and as whom to connect.
pub(crate) struct Target {
    pub host: String,
    pub port: u16,
    pub user: String,
    /// The sanitised URL, for messages.
    pub url: String,
    /// The proxy the TCP connection is tunnelled through, if any.
    pub proxy: Option<Endpoint>,
}

/// Decode the Secret's `identity` (OpenSSH or PEM, encrypted ones with `password`).
pub(crate) fn decode_identity(
    url: &str,
    identity: &[u8],
    password: Option<&str>,
) -> Result<PrivateKey, GitError> {
    let invalid = |reason: String| GitError::InvalidAuth {
        url: url.to_string(),
        reason,
    };
    let text = std::str::from_utf8(identity)
        .map_err(|_| invalid("'identity' is not a PEM or OpenSSH private key".into()))?;
    russh::keys::decode_secret_key(text, password.filter(|p| !p.is_empty())).map_err(|e| {
        let detail = match e {
            russh::keys::Error::KeyIsEncrypted => {
                "'identity' is encrypted and no 'password' was given".to_string()
            }
            // The decoder's messages describe the format, never the key material.
            other => format!("cannot decode 'identity': {other}"),
        };
        invalid(detail)
    })
}

/// Checks the server's host key and remembers why it refused one.
pub(crate) struct HostCheck {
    known: KnownHosts,
    host: String,
    port: u16,
    refused: Arc<Mutex<Option<HostKeyError>>>,
}

impl client::Handler for HostCheck {
    type Error = russh::Error;

    async fn check_server_key(
        &mut self,
        offered: &PublicKeyOrCertificate,
    ) -> Result<bool, Self::Error> {
        let from_certificate;
        let key = match offered {
            PublicKeyOrCertificate::PublicKey { key, .. } => key,
            // Certificates are not negotiated (see `connect`); a certified key still has to
            // be listed itself, since `@cert-authority` lines are not honoured.
            PublicKeyOrCertificate::Certificate(cert) => {
                from_certificate = russh::keys::PublicKey::from(cert.public_key().clone());
                &from_certificate
            }
        };
        match self.known.check(&self.host, self.port, key) {
            Ok(()) => Ok(true),
            Err(err) => {
                if let Ok(mut slot) = self.refused.lock() {
                    *slot = Some(err);
                }
                Ok(false)
            }
        }
    }
}

/// Connect, verify the host and authenticate; every step within `deadline`.
pub(crate) async fn connect(
    target: &Target,
    known: KnownHosts,
    key: PrivateKey,
    deadline: Instant,
    timeout: Duration,
) -> Result<client::Handle<HostCheck>, GitError> {
    let timed_out = || GitError::Timeout {
        url: target.url.clone(),
        operation: "connecting over SSH to",
        timeout,
    };
    let left = deadline.saturating_duration_since(Instant::now());
    tokio::time::timeout(left, connect_inner(target, known, key))
        .await
        .map_err(|_| timed_out())?
}

async fn connect_inner(
    target: &Target,
    known: KnownHosts,
    key: PrivateKey,
) -> Result<client::Handle<HostCheck>, GitError> {
    let mut preferred = Preferred::default();
    let algorithms = known.algorithms_for(&target.host, target.port, &preferred.key);
    if !algorithms.is_empty() {
        preferred.key = algorithms.into();
    }
    preferred.host_key_certificates = Vec::new().into();
    let config = Arc::new(client::Config {
        preferred,
        inactivity_timeout: None,
        ..Default::default()
    });
    let refused = Arc::new(Mutex::new(None));
    let handler = HostCheck {
        known,
        host: target.host.clone(),
        port: target.port,
        refused: refused.clone(),
    };
    let remote = |operation: &'static str, detail: String| GitError::Remote {
        url: target.url.clone(),
        operation,
        detail,
    };
    let connected = match &target.proxy {
        None => client::connect(config, (target.host.as_str(), target.port), handler).await,
        Some(proxy) => {
            let stream = tunnel::open(proxy, &target.host, target.port)
                .await
                .map_err(|err| match err {
                    TunnelError::Refused(_) => GitError::Authentication {
                        url: target.url.clone(),
                        detail: err.describe(proxy),
                    },
                    _ => remote("connecting over SSH to", err.describe(proxy)),
                })?;
            client::connect_stream(config, stream, handler).await
        }
    };
    let mut handle = match connected {
        Ok(handle) => handle,
        Err(err) => {
            if let Some(refused) = refused.lock().ok().and_then(|mut r| r.take()) {
                return Err(GitError::HostKey {
                    url: target.url.clone(),
                    detail: refused.to_string(),
                });
            }
            return Err(remote("connecting over SSH to", err.to_string()));
        }
    };
    let public = key.public_key().clone();
    let hash = handle
        .best_supported_rsa_hash()
        .await
        .map_err(|e| remote("authenticating to", e.to_string()))?
        .flatten()
        .or(Some(HashAlg::Sha512).filter(|_| public.algorithm().is_rsa()));
    let result = handle
        .authenticate_publickey(
            target.user.clone(),
            PrivateKeyWithHashAlg::new(Arc::new(key), hash),
        )
        .await
        .map_err(|e| remote("authenticating to", e.to_string()))?;
    if !result.success() {
        return Err(GitError::Authentication {
            url: target.url.clone(),
            detail: format!(
                "the server refused the {} key {} for user '{}'",
                public.algorithm(),
                public.fingerprint(HashAlg::Sha256),
                target.user
            ),
        });
    }
    Ok(handle)
}

/// Records the host key a server offers and ends the handshake there (no authentication).
struct Scan {
    seen: Arc<Mutex<Option<russh::keys::PublicKey>>>,
}

impl client::Handler for Scan {
    type Error = russh::Error;

    async fn check_server_key(
        &mut self,
        offered: &PublicKeyOrCertificate,
    ) -> Result<bool, Self::Error> {
        if let (PublicKeyOrCertificate::PublicKey { key, .. }, Ok(mut slot)) =
            (offered, self.seen.lock())
        {
            *slot = Some(key.clone());
        }
        Ok(false)
    }
}

/// The host key `target` presents, as a `known_hosts` line: what `ssh-keyscan` would print for
/// the algorithm negotiated by default.
pub(crate) async fn scan(target: &Target, timeout: Duration) -> Result<String, GitError> {
    let seen = Arc::new(Mutex::new(None));
    let config = Arc::new(client::Config {
        preferred: Preferred {
            host_key_certificates: Vec::new().into(),
            ..Preferred::default()
        },
        ..Default::default()
    });
    let handler = Scan { seen: seen.clone() };
    let attempt = tokio::time::timeout(
        timeout,
        client::connect(config, (target.host.as_str(), target.port), handler),
    )
    .await;
    if attempt.is_err() {
        return Err(GitError::Timeout {
            url: target.url.clone(),
            operation: "scanning the SSH host key of",
            timeout,
        });
    }
    let key = seen.lock().ok().and_then(|mut s| s.take());
    let Some(key) = key else {
        let detail = match attempt {
            Ok(Err(e)) => e.to_string(),
            _ => "the server offered no host key".to_string(),
        };
        return Err(GitError::Remote {
            url: target.url.clone(),
            operation: "scanning the SSH host key of",
            detail,
        });
    };
    let line = key.to_openssh().map_err(GitError::object)?;
    let name = super::known_hosts::lookup_name(&target.host, target.port);
    Ok(format!("{name} {line}\n"))
}
