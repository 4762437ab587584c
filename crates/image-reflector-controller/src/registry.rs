//! The registry client of one ImageRepository, as Flux's `AuthOptionsGetter` builds its options:
//! `spec.secretRef` (a `.dockerconfigjson` Secret), then the image pull secrets of
//! `spec.serviceAccountName`, the first credential for the registry winning; `spec.certSecretRef`
//! `ca.crt`; `spec.insecure` for plain HTTP; `spec.timeout` per request. Listing and HEAD go
//! through `driftless-oci`, which bounds the tag count and never runs credential helpers.
//!
//! Not yet: cloud providers (aws, azure, gcp), client certificates (`tls.crt`/`tls.key`) and
//! `spec.proxySecretRef`; each fails with a message saying so rather than scanning without it.

use std::time::Duration;

use driftless_api::image::ImageRepository;
use driftless_api::meta::CloudProvider;
use driftless_oci::{Client, ClientOptions, DockerConfig, Reference};
use k8s_openapi::api::core::v1::{Secret, ServiceAccount};
use kube::ResourceExt;
use kube::api::Api;

use crate::error::ReconcileError;

/// The key of a `kubernetes.io/dockerconfigjson` Secret.
const DOCKER_CONFIG_KEY: &str = ".dockerconfigjson";
/// The CA bundle key of a TLS Secret.
const CA_KEY: &str = "ca.crt";

fn auth_error(message: impl Into<String>) -> ReconcileError {
    ReconcileError::Auth {
        message: message.into(),
    }
}

/// Fails for a cloud `spec.provider`, which driftless does not implement yet.
pub fn check_provider(repo: &ImageRepository) -> Result<(), ReconcileError> {
    let provider = repo.spec.provider.unwrap_or_default();
    if provider == CloudProvider::Generic {
        return Ok(());
    }
    let name = serde_json::to_value(provider)
        .ok()
        .and_then(|v| v.as_str().map(str::to_owned))
        .unwrap_or_default();
    Err(ReconcileError::ProviderNotSupported { provider: name })
}

async fn secret(
    client: &kube::Client,
    namespace: &str,
    name: &str,
) -> Result<Secret, ReconcileError> {
    let api: Api<Secret> = Api::namespaced(client.clone(), namespace);
    match api.get_opt(name).await {
        Ok(Some(secret)) => Ok(secret),
        Ok(None) => Err(auth_error(format!("secrets \"{name}\" not found"))),
        Err(e) => Err(auth_error(format!(
            "reading secret '{namespace}/{name}': {e}"
        ))),
    }
}

fn data<'a>(secret: &'a Secret, key: &str) -> Option<&'a [u8]> {
    secret
        .data
        .as_ref()
        .and_then(|d| d.get(key))
        .map(|v| v.0.as_slice())
}

/// The credential for `reference`'s registry from a pull secret, as a one-registry config.
fn credential_from(
    secret: &Secret,
    reference: &Reference,
) -> Result<Option<DockerConfig>, ReconcileError> {
    let name = secret.name_any();
    let Some(bytes) = data(secret, DOCKER_CONFIG_KEY) else {
        return Err(auth_error(format!(
            "secret '{name}' has no '{DOCKER_CONFIG_KEY}' key"
        )));
    };
    let config =
        DockerConfig::parse(bytes).map_err(|e| auth_error(format!("secret '{name}': {e}")))?;
    for note in config.notes() {
        tracing::info!(secret = %name, "{note}");
    }
    Ok(config
        .credential_for(reference.registry())
        .map(|c| DockerConfig::single(reference.registry(), c.clone())))
}

/// Credentials for `reference`: `spec.secretRef`, then the ServiceAccount's pull secrets.
async fn docker_config(
    client: &kube::Client,
    repo: &ImageRepository,
    reference: &Reference,
) -> Result<DockerConfig, ReconcileError> {
    let namespace = repo.namespace().unwrap_or_default();
    let mut names = Vec::new();
    if let Some(secret_ref) = &repo.spec.secret_ref {
        names.push(secret_ref.name.clone());
    }
    if let Some(sa) = repo
        .spec
        .service_account_name
        .as_deref()
        .filter(|s| !s.is_empty())
    {
        let api: Api<ServiceAccount> = Api::namespaced(client.clone(), &namespace);
        let account = api
            .get_opt(sa)
            .await
            .map_err(|e| auth_error(format!("reading service account '{namespace}/{sa}': {e}")))?;
        let account =
            account.ok_or_else(|| auth_error(format!("serviceaccounts \"{sa}\" not found")))?;
        names.extend(
            account
                .image_pull_secrets
                .unwrap_or_default()
                .into_iter()
                .map(|r| r.name),
        );
    }
    for name in names {
        let secret = secret(client, &namespace, &name).await?;
        if let Some(config) = credential_from(&secret, reference)? {
            return Ok(config);
        }
    }
    Ok(DockerConfig::default())
}

/// The registry client for `repo`, scanning `reference`.
pub async fn client_for(
    kube: &kube::Client,
    repo: &ImageRepository,
    reference: &Reference,
    timeout: Duration,
) -> Result<Client, ReconcileError> {
    check_provider(repo)?;
    if repo.spec.proxy_secret_ref.is_some() {
        return Err(auth_error(
            "spec.proxySecretRef is not supported yet by driftless",
        ));
    }
    let mut options = ClientOptions {
        insecure: repo.spec.insecure.unwrap_or(false),
        timeout,
        ..ClientOptions::default()
    };
    if let Some(cert_ref) = &repo.spec.cert_secret_ref {
        let namespace = repo.namespace().unwrap_or_default();
        let secret = secret(kube, &namespace, &cert_ref.name).await?;
        if data(&secret, "tls.crt").is_some() || data(&secret, "tls.key").is_some() {
            return Err(auth_error(format!(
                "secret '{}': client certificates (tls.crt, tls.key) are not supported yet by driftless",
                cert_ref.name
            )));
        }
        options.ca_pem = data(&secret, CA_KEY).map(<[u8]>::to_vec);
        if options.ca_pem.is_none() {
            return Err(auth_error(format!(
                "secret '{}' has no '{CA_KEY}' key",
                cert_ref.name
            )));
        }
    }
    let config = docker_config(kube, repo, reference).await?;
    Client::new(options, config).map_err(|e| auth_error(e.to_string()))
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use k8s_openapi::ByteString;

    use super::*;

    fn pull_secret(json: &str) -> Secret {
        Secret {
            metadata: kube::api::ObjectMeta {
                name: Some("creds".into()),
                ..Default::default()
            },
            data: Some(BTreeMap::from([(
                DOCKER_CONFIG_KEY.to_owned(),
                ByteString(json.as_bytes().to_vec()),
            )])),
            ..Default::default()
        }
    }

    fn reference(image: &str) -> Reference {
        Reference::parse(image).expect("reference parses")
    }

    #[test]
    fn a_pull_secret_gives_the_credential_of_the_registry_scanned() {
        let secret = pull_secret(
            r#"{"auths":{"localhost:5000":{"username":"u","password":"p"},"ghcr.io":{"username":"g","password":"q"}}}"#,
        );
        let config = credential_from(&secret, &reference("localhost:5000/app"))
            .expect("secret parses")
            .expect("a credential for the registry");
        assert!(config.credential_for("localhost:5000").is_some());
        assert!(config.credential_for("ghcr.io").is_none());
        let none = credential_from(&secret, &reference("quay.io/app")).expect("secret parses");
        assert!(none.is_none());
    }

    #[test]
    fn a_secret_without_the_docker_config_key_is_an_authentication_error() {
        let mut secret = pull_secret("{}");
        secret.data = Some(BTreeMap::new());
        let err = credential_from(&secret, &reference("ghcr.io/app")).expect_err("no key");
        assert_eq!(
            err.to_string(),
            "failed to configure authentication options: secret 'creds' has no '.dockerconfigjson' key"
        );
    }

    #[test]
    fn a_malformed_docker_config_does_not_echo_its_content() {
        let secret = pull_secret(r#"{"auths": "hunter2-secret"}"#);
        let err = credential_from(&secret, &reference("ghcr.io/app")).expect_err("bad json");
        assert!(!err.to_string().contains("hunter2"), "{err}");
    }

    #[test]
    fn cloud_providers_are_refused_with_a_clear_message() {
        let mut repo = ImageRepository::new("r", Default::default());
        assert!(check_provider(&repo).is_ok());
        repo.spec.provider = Some(CloudProvider::Aws);
        let err = check_provider(&repo).expect_err("aws");
        assert_eq!(
            err.to_string(),
            "spec.provider 'aws' is not supported yet by driftless: use 'generic' with spec.secretRef"
        );
    }
}
