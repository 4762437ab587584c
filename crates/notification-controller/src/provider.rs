//! A Provider and its Secrets resolved into notifier settings, as Flux reads them: the
//! `secretRef` Secret's `address` overrides `spec.address`, `username` overrides `spec.username`,
//! `token`, `password` and `headers` (a YAML map) authenticate; `certSecretRef` gives `ca.crt`
//! (or the deprecated `caFile`) and the `tls.crt`/`tls.key` client pair; `proxySecretRef`
//! (`address`, optional `username`/`password`) wins over the Secret's legacy `proxy` key, which
//! wins over `spec.proxy`. `spec.timeout` defaults to 15s. Errors name Secrets and keys, never
//! their values.

use std::collections::BTreeMap;

use driftless_api::notification::Provider;
use driftless_notify::ProviderSettings;
use driftless_runtime::flags::duration;
use k8s_openapi::api::core::v1::Secret;
use kube::ResourceExt;
use kube::api::Api;

/// Why a Provider could not be turned into settings.
#[derive(Debug, thiserror::Error)]
pub enum ProviderError {
    /// A referenced Secret could not be read.
    #[error("failed to get secret '{namespace}/{name}'")]
    Secret {
        /// Namespace of the Secret.
        namespace: String,
        /// Name of the Secret.
        name: String,
        /// The API error.
        #[source]
        source: kube::Error,
    },
    /// A Secret key holds something unusable.
    #[error("invalid '{key}' in secret '{secret}': {reason}")]
    InvalidKey {
        /// The Secret's name.
        secret: String,
        /// The key.
        key: &'static str,
        /// What is wrong (never the value).
        reason: String,
    },
    /// `spec.timeout` does not parse.
    #[error("invalid timeout: {0}")]
    Timeout(String),
}

/// The three Secrets a Provider may reference, already read.
#[derive(Debug, Default)]
pub struct ProviderSecrets {
    /// `spec.secretRef`.
    pub secret: Option<Secret>,
    /// `spec.certSecretRef`.
    pub cert: Option<Secret>,
    /// `spec.proxySecretRef`.
    pub proxy: Option<Secret>,
}

/// Reads the Secrets `provider` references from its namespace.
pub async fn read_secrets(
    client: &kube::Client,
    provider: &Provider,
) -> Result<ProviderSecrets, ProviderError> {
    let namespace = provider.namespace().unwrap_or_default();
    let api: Api<Secret> = Api::namespaced(client.clone(), &namespace);
    let get = |name: Option<String>| {
        let api = api.clone();
        let namespace = namespace.clone();
        async move {
            match name {
                None => Ok(None),
                Some(name) => {
                    api.get(&name)
                        .await
                        .map(Some)
                        .map_err(|source| ProviderError::Secret {
                            namespace,
                            name,
                            source,
                        })
                }
            }
        }
    };
    let spec = &provider.spec;
    Ok(ProviderSecrets {
        secret: get(spec.secret_ref.as_ref().map(|r| r.name.clone())).await?,
        cert: get(spec.cert_secret_ref.as_ref().map(|r| r.name.clone())).await?,
        proxy: get(spec.proxy_secret_ref.as_ref().map(|r| r.name.clone())).await?,
    })
}

/// The `spec.type` as Flux spells it (`generic-hmac`, `msteams`…).
pub fn type_name(provider: &Provider) -> String {
    serde_json::to_value(provider.spec.type_)
        .ok()
        .and_then(|v| v.as_str().map(str::to_owned))
        .unwrap_or_default()
}

fn data(secret: &Secret) -> BTreeMap<String, Vec<u8>> {
    let mut out: BTreeMap<String, Vec<u8>> = secret
        .string_data
        .iter()
        .flatten()
        .map(|(k, v)| (k.clone(), v.clone().into_bytes()))
        .collect();
    for (k, v) in secret.data.iter().flatten() {
        out.insert(k.clone(), v.0.clone());
    }
    out
}

fn text(
    data: &BTreeMap<String, Vec<u8>>,
    secret: &Secret,
    key: &'static str,
) -> Result<Option<String>, ProviderError> {
    data.get(key)
        .map(|bytes| {
            String::from_utf8(bytes.clone()).map_err(|_| ProviderError::InvalidKey {
                secret: secret.name_any(),
                key,
                reason: "not UTF-8".into(),
            })
        })
        .transpose()
        .map(|v| v.map(|s| s.trim().to_owned()).filter(|s| !s.is_empty()))
}

/// Builds the settings from the Provider and its Secrets (no I/O).
pub fn settings(
    provider: &Provider,
    secrets: &ProviderSecrets,
) -> Result<ProviderSettings, ProviderError> {
    let spec = &provider.spec;
    let timeout = match spec.timeout.as_deref() {
        Some(t) => duration::parse(t).map_err(|e| ProviderError::Timeout(e.to_string()))?,
        None => driftless_notify::ProviderSettings::default().timeout,
    };
    let mut settings = ProviderSettings {
        provider_type: type_name(provider),
        address: spec.address.clone().unwrap_or_default(),
        channel: spec.channel.clone().filter(|c| !c.is_empty()),
        username: spec.username.clone().filter(|u| !u.is_empty()),
        proxy: spec.proxy.clone().filter(|p| !p.is_empty()),
        timeout,
        commit_status_expr: spec.commit_status_expr.clone(),
        ..ProviderSettings::default()
    };
    if let Some(secret) = &secrets.secret {
        let d = data(secret);
        if let Some(address) = text(&d, secret, "address")? {
            settings.address = address;
        }
        if let Some(proxy) = text(&d, secret, "proxy")? {
            settings.proxy = Some(proxy);
        }
        if let Some(username) = text(&d, secret, "username")? {
            settings.username = Some(username);
        }
        settings.token = text(&d, secret, "token")?;
        settings.password = text(&d, secret, "password")?;
        if let Some(headers) = text(&d, secret, "headers")? {
            settings.headers =
                serde_saphyr::from_str(&headers).map_err(|e| ProviderError::InvalidKey {
                    secret: secret.name_any(),
                    key: "headers",
                    reason: format!("not a YAML map of strings: {}", first_line(&e.to_string())),
                })?;
        }
        settings.secret_data = d;
    }
    if let Some(cert) = &secrets.cert {
        let d = data(cert);
        settings.ca_pem = d.get("ca.crt").or_else(|| d.get("caFile")).cloned();
        settings.client_cert_pem = d.get("tls.crt").cloned();
        settings.client_key_pem = d.get("tls.key").cloned();
        if settings.client_cert_pem.is_some() != settings.client_key_pem.is_some() {
            return Err(ProviderError::InvalidKey {
                secret: cert.name_any(),
                key: "tls.crt",
                reason: "'tls.crt' and 'tls.key' must be set together".into(),
            });
        }
    }
    if let Some(proxy) = &secrets.proxy {
        let d = data(proxy);
        let address = text(&d, proxy, "address")?.ok_or_else(|| ProviderError::InvalidKey {
            secret: proxy.name_any(),
            key: "address",
            reason: "required key is missing".into(),
        })?;
        let user = text(&d, proxy, "username")?;
        let password = text(&d, proxy, "password")?;
        settings.proxy = Some(with_userinfo(
            &address,
            user.as_deref(),
            password.as_deref(),
        ));
    }
    Ok(settings)
}

/// Parse errors can quote the input; keep only their first line, without the document.
fn first_line(message: &str) -> &str {
    message.lines().next().unwrap_or_default()
}

/// `scheme://user:password@host…`, the credentials percent-encoded.
fn with_userinfo(address: &str, user: Option<&str>, password: Option<&str>) -> String {
    let Some(user) = user else {
        return address.to_owned();
    };
    let (scheme, rest) = address.split_once("://").unwrap_or(("http", address));
    let mut userinfo = percent_encode(user);
    if let Some(password) = password {
        userinfo.push(':');
        userinfo.push_str(&percent_encode(password));
    }
    format!("{scheme}://{userinfo}@{rest}")
}

fn percent_encode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use driftless_api::meta::LocalObjectReference;
    use driftless_api::notification::{ProviderSpec, ProviderType};
    use k8s_openapi::ByteString;

    use super::*;

    fn secret(name: &str, pairs: &[(&str, &str)]) -> Secret {
        let mut s = Secret::default();
        s.metadata.name = Some(name.into());
        s.data = Some(
            pairs
                .iter()
                .map(|(k, v)| ((*k).to_owned(), ByteString(v.as_bytes().to_vec())))
                .collect(),
        );
        s
    }

    fn provider(spec: ProviderSpec) -> Provider {
        Provider::new("p", spec)
    }

    #[test]
    fn the_secret_overrides_address_and_username_and_carries_credentials() {
        let p = provider(ProviderSpec {
            type_: ProviderType::GenericHmac,
            address: Some("http://spec.invalid".into()),
            username: Some("spec-user".into()),
            channel: Some("general".into()),
            secret_ref: Some(LocalObjectReference { name: "s".into() }),
            ..ProviderSpec::default()
        });
        let secrets = ProviderSecrets {
            secret: Some(secret(
                "s",
                &[
                    ("address", "http://secret.invalid/hook"),
                    ("username", "bot"),
                    ("token", "t0ken\n"),
                    ("password", "pw"),
                    ("headers", "Authorization: Bearer x\nX-Env: prod\n"),
                ],
            )),
            ..ProviderSecrets::default()
        };
        let s = settings(&p, &secrets).expect("settings");
        assert_eq!(s.provider_type, "generic-hmac");
        assert_eq!(s.address, "http://secret.invalid/hook");
        assert_eq!(s.username.as_deref(), Some("bot"));
        assert_eq!(s.token.as_deref(), Some("t0ken"));
        assert_eq!(s.password.as_deref(), Some("pw"));
        assert_eq!(s.channel.as_deref(), Some("general"));
        assert_eq!(s.headers.get("X-Env").map(String::as_str), Some("prod"));
        assert_eq!(s.timeout, Duration::from_secs(15));
        assert!(s.secret_data.contains_key("token"));
    }

    #[test]
    fn the_proxy_secret_wins_and_its_credentials_are_encoded() {
        let p = provider(ProviderSpec {
            proxy: Some("http://spec-proxy:3128".into()),
            timeout: Some("1m30s".into()),
            ..ProviderSpec::default()
        });
        let secrets = ProviderSecrets {
            secret: Some(secret("s", &[("proxy", "http://legacy:3128")])),
            proxy: Some(secret(
                "px",
                &[
                    ("address", "http://proxy:3128"),
                    ("username", "u"),
                    ("password", "p@ss"),
                ],
            )),
            ..ProviderSecrets::default()
        };
        let s = settings(&p, &secrets).expect("settings");
        assert_eq!(s.proxy.as_deref(), Some("http://u:p%40ss@proxy:3128"));
        assert_eq!(s.timeout, Duration::from_secs(90));
        let legacy = ProviderSecrets {
            secret: Some(secret("s", &[("proxy", "http://legacy:3128")])),
            ..ProviderSecrets::default()
        };
        assert_eq!(
            settings(&p, &legacy).expect("settings").proxy.as_deref(),
            Some("http://legacy:3128")
        );
    }

    #[test]
    fn cert_secrets_give_the_ca_and_a_complete_client_pair() {
        let p = provider(ProviderSpec::default());
        let ok = ProviderSecrets {
            cert: Some(secret(
                "c",
                &[("ca.crt", "CA"), ("tls.crt", "C"), ("tls.key", "K")],
            )),
            ..ProviderSecrets::default()
        };
        let s = settings(&p, &ok).expect("settings");
        assert_eq!(s.ca_pem.as_deref(), Some(&b"CA"[..]));
        assert_eq!(s.client_key_pem.as_deref(), Some(&b"K"[..]));
        let half = ProviderSecrets {
            cert: Some(secret("c", &[("tls.crt", "C")])),
            ..ProviderSecrets::default()
        };
        assert!(settings(&p, &half).is_err());
    }

    #[test]
    fn bad_headers_are_an_error_that_does_not_quote_the_secret() {
        let p = provider(ProviderSpec::default());
        let secrets = ProviderSecrets {
            secret: Some(secret("s", &[("headers", "- supersecret-value\n")])),
            ..ProviderSecrets::default()
        };
        let error = settings(&p, &secrets)
            .expect_err("a list is not a header map")
            .to_string();
        assert!(error.contains("headers"), "{error}");
        assert!(!error.contains("supersecret"), "{error}");
    }
}
