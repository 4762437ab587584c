//! `spec.secretRef`: the Secret keys Flux reads for Git over HTTPS (`username`/`password`,
//! `bearerToken`, `ca.crt` or the legacy `caFile`) and SSH (`identity`, `known_hosts`), turned
//! into `driftless_git::Auth`, with the proxy of `spec.proxySecretRef`. Values are only ever moved into `Auth`, whose `Debug` redacts
//! them; errors name keys, never values.

use std::collections::BTreeMap;

use driftless_api::conditions::reasons;
use driftless_api::source::GitRepository;
use driftless_git::{Auth, BasicAuth, Proxy};
use k8s_openapi::ByteString;
use k8s_openapi::api::core::v1::Secret;
use kube::api::Api;
use kube::{Client, ResourceExt};

use crate::error::ReconcileError;

/// Reads the credentials of `repo` (no `secretRef` means anonymous access) and the proxy of
/// its `proxySecretRef`.
pub async fn auth_for(client: &Client, repo: &GitRepository) -> Result<Auth, ReconcileError> {
    let mut auth = secret_auth(client, repo).await?;
    auth.proxy = proxy_for(client, repo).await?;
    Ok(auth)
}

/// `spec.proxySecretRef`: Flux's `address` (required) and optional `username`/`password`,
/// read as the Bucket reconciler reads them.
async fn proxy_for(client: &Client, repo: &GitRepository) -> Result<Option<Proxy>, ReconcileError> {
    let Some(proxy_ref) = repo.spec.proxy_secret_ref.as_ref() else {
        return Ok(None);
    };
    let namespace = repo.namespace().unwrap_or_default();
    let data = secret_data(client, &namespace, &proxy_ref.name).await?;
    proxy_from_data(&data)
        .map(Some)
        .map_err(|problem| ReconcileError::InvalidSecret {
            namespace,
            name: proxy_ref.name.clone(),
            problem,
        })
}

/// The proxy these Secret keys describe; problems name keys, never values.
pub fn proxy_from_data(data: &BTreeMap<String, ByteString>) -> Result<Proxy, String> {
    let config = crate::bucket::client::proxy_config(data)?;
    let proxy = Proxy {
        address: config.url,
        username: config.username.filter(|u| !u.is_empty()),
        password: config.password,
    };
    proxy
        .validate()
        .map_err(|reason| format!("key 'address': {reason}"))?;
    Ok(proxy)
}

async fn secret_auth(client: &Client, repo: &GitRepository) -> Result<Auth, ReconcileError> {
    let Some(secret_ref) = repo.spec.secret_ref.as_ref() else {
        return Ok(Auth::default());
    };
    let namespace = repo.namespace().unwrap_or_default();
    let data = secret_data(client, &namespace, &secret_ref.name).await?;
    auth_from_data(&data).map_err(|problem| match problem {
        Problem::Invalid(problem) => ReconcileError::InvalidSecret {
            namespace,
            name: secret_ref.name.clone(),
            problem,
        },
        Problem::Unsupported(detail) => ReconcileError::Unsupported {
            feature: "spec.secretRef",
            detail,
            reason: reasons::AUTHENTICATION_FAILED,
        },
    })
}

/// The data of Secret `namespace/name` (any source kind's `secretRef`).
pub async fn secret_data(
    client: &Client,
    namespace: &str,
    name: &str,
) -> Result<BTreeMap<String, ByteString>, ReconcileError> {
    let api: Api<Secret> = Api::namespaced(client.clone(), namespace);
    let secret = api
        .get(name)
        .await
        .map_err(|source| ReconcileError::GetSecret {
            namespace: namespace.to_owned(),
            name: name.to_owned(),
            source: Box::new(source),
        })?;
    Ok(secret.data.unwrap_or_default())
}

/// Why Secret data cannot be used.
#[derive(Debug, PartialEq, Eq)]
pub enum Problem {
    /// Keys are missing, empty or not UTF-8.
    Invalid(String),
    /// The keys ask for an authentication driftless does not implement yet.
    Unsupported(&'static str),
}

/// The `Auth` Flux would build from these Secret keys.
pub fn auth_from_data(data: &BTreeMap<String, ByteString>) -> Result<Auth, Problem> {
    let text = |key: &str| -> Result<Option<String>, Problem> {
        data.get(key)
            .map(|v| {
                String::from_utf8(v.0.clone())
                    .map_err(|_| Problem::Invalid(format!("key '{key}' is not valid UTF-8")))
            })
            .transpose()
    };
    if data.contains_key("tls.crt") || data.contains_key("tls.key") {
        return Err(Problem::Unsupported(
            "mutual TLS client certificates (tls.crt/tls.key) cannot be used yet",
        ));
    }
    let mut auth = Auth::default();
    if let Some(identity) = data.get("identity") {
        // SSH: `password` decrypts the identity; `known_hosts` pins the server's host key.
        auth.ssh_identity = Some(identity.0.clone());
        auth.ssh_password = text("password")?.filter(|p| !p.is_empty());
        auth.ssh_known_hosts = data.get("known_hosts").map(|v| v.0.clone());
        return Ok(auth);
    }
    match (text("username")?, text("password")?) {
        (Some(username), password) => {
            auth.basic = Some(BasicAuth {
                username,
                password: password.unwrap_or_default(),
            });
        }
        (None, Some(_)) => {
            return Err(Problem::Invalid(
                "key 'password' is set without 'username'".to_owned(),
            ));
        }
        (None, _) => {}
    }
    auth.bearer_token = text("bearerToken")?.filter(|t| !t.is_empty());
    if auth.basic.is_some() && auth.bearer_token.is_some() {
        return Err(Problem::Invalid(
            "keys 'username'/'password' and 'bearerToken' are mutually exclusive".to_owned(),
        ));
    }
    auth.ca_pem = data
        .get("ca.crt")
        .or_else(|| data.get("caFile"))
        .map(|v| v.0.clone());
    Ok(auth)
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
    fn username_and_password_become_basic_auth() {
        let auth = auth_from_data(&data(&[("username", "git"), ("password", "s3cret")]))
            .expect("valid keys");
        let basic = auth.basic.as_ref().expect("basic auth");
        assert_eq!(
            (basic.username.as_str(), basic.password.as_str()),
            ("git", "s3cret")
        );
        assert!(
            !format!("{auth:?}").contains("s3cret"),
            "Debug must redact the password"
        );
    }

    #[test]
    fn a_bearer_token_and_a_ca_are_read_from_fluxs_keys() {
        let auth = auth_from_data(&data(&[("bearerToken", "tok"), ("caFile", "PEM")]))
            .expect("valid keys");
        assert_eq!(auth.bearer_token.as_deref(), Some("tok"));
        assert_eq!(auth.ca_pem.as_deref(), Some(b"PEM".as_slice()));
    }

    #[test]
    fn problems_name_keys_and_never_values() {
        let err = auth_from_data(&data(&[("password", "hunter2")])).expect_err("no username");
        assert!(
            matches!(&err, Problem::Invalid(m) if !m.contains("hunter2")),
            "{err:?}"
        );
        let err = auth_from_data(&data(&[
            ("username", "u"),
            ("password", "hunter2"),
            ("bearerToken", "t"),
        ]))
        .expect_err("both kinds");
        assert!(
            matches!(&err, Problem::Invalid(m) if !m.contains("hunter2")),
            "{err:?}"
        );
    }

    #[test]
    fn an_identity_makes_ssh_auth_with_its_password_and_known_hosts() {
        let auth = auth_from_data(&data(&[
            ("identity", "-----BEGIN OPENSSH PRIVATE KEY-----"),
            ("identity.pub", "ssh-ed25519 AAAA"),
            ("known_hosts", "github.com ssh-ed25519 AAAA"),
            ("password", "passphrase"),
        ]))
        .expect("valid keys");
        assert!(auth.ssh_identity.is_some());
        assert_eq!(auth.ssh_password.as_deref(), Some("passphrase"));
        assert_eq!(
            auth.ssh_known_hosts.as_deref(),
            Some(b"github.com ssh-ed25519 AAAA".as_slice())
        );
        assert!(auth.basic.is_none(), "the password is the key's passphrase");
        let debug = format!("{auth:?}");
        assert!(
            !debug.contains("passphrase") && !debug.contains("OPENSSH"),
            "{debug}"
        );
    }

    #[test]
    fn a_proxy_secret_needs_a_usable_address_and_problems_never_show_the_password() {
        let proxy = proxy_from_data(&data(&[
            ("address", "socks5://proxy:1080"),
            ("username", "mandalorian"),
            ("password", "grogu"),
        ]))
        .expect("valid keys");
        assert_eq!(proxy.address, "socks5://proxy:1080");
        assert_eq!(proxy.password.as_deref(), Some("grogu"));
        let err = proxy_from_data(&data(&[("password", "grogu")])).expect_err("no address");
        assert_eq!(err, "key 'address' is missing");
        let err = proxy_from_data(&data(&[
            ("address", "gopher://proxy"),
            ("password", "grogu"),
        ]))
        .expect_err("bad scheme");
        assert!(
            err.starts_with("key 'address'") && !err.contains("grogu"),
            "{err}"
        );
    }

    #[test]
    fn client_certificates_are_reported_as_unsupported() {
        let err = auth_from_data(&data(&[("tls.crt", "c"), ("tls.key", "k")]))
            .expect_err("mTLS is not implemented");
        assert!(matches!(err, Problem::Unsupported(_)));
    }
}
