//! The registry client of one OCIRepository: credentials from `spec.secretRef` and the image
//! pull secrets of `spec.serviceAccountName` (`.dockerconfigjson` only: credential helpers
//! named there are never run), `ca.crt` from `spec.certSecretRef`, `spec.insecure` and
//! `spec.timeout`. Spec features that cannot be honoured stall with a message naming them.

use std::collections::BTreeMap;

use driftless_api::conditions::reasons;
use driftless_api::meta::CloudProvider;
use driftless_api::source::OCIRepository;
use driftless_oci::{Client, ClientOptions, DockerConfig};
use k8s_openapi::ByteString;
use k8s_openapi::api::core::v1::{Secret, ServiceAccount};
use kube::ResourceExt;
use kube::api::Api;

use super::error::OciRepositoryError;
use crate::error::ReconcileError;
use crate::reconcile::parse_duration;

/// Flux's default `spec.timeout`.
pub const DEFAULT_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(60);

/// The key of a `kubernetes.io/dockerconfigjson` Secret.
const DOCKER_CONFIG_JSON: &str = ".dockerconfigjson";

/// Spec features driftless does not implement: each stalls rather than being ignored.
pub fn check_supported(repo: &OCIRepository) -> Result<(), OciRepositoryError> {
    let unsupported = |feature, detail, reason| {
        Err(ReconcileError::Unsupported {
            feature,
            detail,
            reason,
        }
        .into())
    };
    let spec = &repo.spec;
    if spec.verify.is_some() {
        return unsupported(
            "spec.verify",
            "cosign and notation signature verification are not implemented; remove spec.verify to pull unverified",
            reasons::VERIFICATION_ERROR,
        );
    }
    if !matches!(spec.provider, None | Some(CloudProvider::Generic)) {
        return unsupported(
            "spec.provider",
            "only the generic provider (spec.secretRef or spec.serviceAccountName pull secrets) is implemented",
            reasons::AUTHENTICATION_FAILED,
        );
    }
    if spec.proxy_secret_ref.is_some() {
        return unsupported(
            "spec.proxySecretRef",
            "proxies for registry access are not implemented",
            reasons::AUTHENTICATION_FAILED,
        );
    }
    Ok(())
}

/// The client for `repo`.
pub async fn client_for(
    kube: &kube::Client,
    repo: &OCIRepository,
) -> Result<Client, OciRepositoryError> {
    let namespace = repo.namespace().unwrap_or_default();
    let mut config = DockerConfig::default();
    let mut secret_names = Vec::new();
    if let Some(secret_ref) = &repo.spec.secret_ref {
        secret_names.push(secret_ref.name.clone());
    }
    if let Some(account) = &repo.spec.service_account_name {
        let api: Api<ServiceAccount> = Api::namespaced(kube.clone(), &namespace);
        let account = api.get(account).await.map_err(|e| {
            credential(format!(
                "failed to get service account '{namespace}/{account}': {e}"
            ))
        })?;
        secret_names.extend(
            account
                .image_pull_secrets
                .unwrap_or_default()
                .into_iter()
                .map(|r| r.name),
        );
    }
    let secrets: Api<Secret> = Api::namespaced(kube.clone(), &namespace);
    for name in secret_names {
        let secret = secrets
            .get(&name)
            .await
            .map_err(|e| credential(format!("failed to get secret '{namespace}/{name}': {e}")))?;
        let data = secret.data.unwrap_or_default();
        let parsed = docker_config(&data).map_err(|problem| {
            credential(format!("invalid secret '{namespace}/{name}': {problem}"))
        })?;
        for note in parsed.notes() {
            tracing::warn!(secret = %format!("{namespace}/{name}"), "{note}");
        }
        config.merge(parsed);
    }
    let mut options = ClientOptions {
        insecure: repo.spec.insecure.unwrap_or(false),
        timeout: match repo.spec.timeout.as_deref() {
            Some(value) => parse_duration("spec.timeout", value)?,
            None => DEFAULT_TIMEOUT,
        },
        ..ClientOptions::default()
    };
    if let Some(cert_ref) = &repo.spec.cert_secret_ref {
        let transport = |detail: String| OciRepositoryError::Transport {
            url: repo.spec.url.clone(),
            detail,
        };
        let secret = secrets.get(&cert_ref.name).await.map_err(|e| {
            transport(format!(
                "failed to get secret '{namespace}/{}': {e}",
                cert_ref.name
            ))
        })?;
        let data = secret.data.unwrap_or_default();
        if data.contains_key("tls.crt") || data.contains_key("tls.key") {
            return Err(ReconcileError::Unsupported {
                feature: "spec.certSecretRef",
                detail: "TLS client certificates (tls.crt/tls.key) are not implemented; only ca.crt is read",
                reason: reasons::AUTHENTICATION_FAILED,
            }
            .into());
        }
        options.ca_pem = data.get("ca.crt").map(|v| v.0.clone());
    }
    Client::new(options, config).map_err(|e| OciRepositoryError::Transport {
        url: repo.spec.url.clone(),
        detail: e.to_string(),
    })
}

fn credential(detail: String) -> OciRepositoryError {
    OciRepositoryError::Credential { detail }
}

/// The registry credentials in Secret `data`.
pub fn docker_config(data: &BTreeMap<String, ByteString>) -> Result<DockerConfig, String> {
    let Some(bytes) = data.get(DOCKER_CONFIG_JSON) else {
        return Err(format!(
            "no '{DOCKER_CONFIG_JSON}' key (a kubernetes.io/dockerconfigjson Secret is expected)"
        ));
    };
    DockerConfig::parse(&bytes.0).map_err(|e| e.to_string())
}

#[cfg(test)]
mod tests {
    use driftless_api::meta::LocalObjectReference;
    use driftless_api::source::{OCIRepositorySpec, OCIRepositoryVerification};

    use super::*;

    #[test]
    fn a_secret_without_dockerconfigjson_is_refused_naming_the_key() {
        let mut data = BTreeMap::new();
        data.insert("password".to_owned(), ByteString(b"hunter2".to_vec()));
        let err = docker_config(&data).expect_err("no key");
        assert!(err.contains(".dockerconfigjson"), "{err}");
        assert!(!err.contains("hunter2"));
    }

    #[test]
    fn verify_and_cloud_providers_stall_with_their_field_named() {
        let repo = |spec| OCIRepository::new("podinfo", spec);
        let verify = OCIRepositorySpec {
            verify: Some(OCIRepositoryVerification {
                secret_ref: Some(LocalObjectReference { name: "k".into() }),
                ..Default::default()
            }),
            ..Default::default()
        };
        let err = check_supported(&repo(verify)).expect_err("verify");
        assert!(
            err.to_string().starts_with("spec.verify is not supported"),
            "{err}"
        );
        let aws = OCIRepositorySpec {
            provider: Some(CloudProvider::Aws),
            ..Default::default()
        };
        let err = check_supported(&repo(aws)).expect_err("aws");
        assert!(
            err.to_string()
                .starts_with("spec.provider is not supported"),
            "{err}"
        );
        assert!(check_supported(&repo(OCIRepositorySpec::default())).is_ok());
    }
}
