//! What a run reads from the cluster: the GitRepository (and the ACL on cross-namespace
//! references), its credentials Secret, and the ImagePolicies the automation selects.

use std::collections::BTreeMap;
use std::time::Duration;

use driftless_api::image::{ImagePolicy, ImageRef, ImageUpdateAutomation, SigningKeyType};
use driftless_api::source::GitRepository;
use driftless_git::{Auth, SigningKey};
use driftless_source_controller::credentials::{Problem, auth_from_data, proxy_from_data};
use k8s_openapi::api::core::v1::Secret;
use kube::api::{Api, ListParams};
use kube::core::Selector;
use kube::{Client, ResourceExt};

use crate::error::ReconcileError;

/// The GitRepository an automation updates; refused across namespaces when
/// `--no-cross-namespace-refs` is set.
pub async fn git_repository(
    client: &Client,
    automation: &ImageUpdateAutomation,
    no_cross_namespace_refs: bool,
) -> Result<GitRepository, ReconcileError> {
    let own = automation.namespace().unwrap_or_default();
    let source = &automation.spec.source_ref;
    let namespace = source.namespace.clone().unwrap_or_else(|| own.clone());
    if no_cross_namespace_refs && namespace != own {
        return Err(ReconcileError::CrossNamespace {
            namespace,
            name: source.name.clone(),
        });
    }
    let api: Api<GitRepository> = Api::namespaced(client.clone(), &namespace);
    match api.get_opt(&source.name).await {
        Ok(Some(repo)) => Ok(repo),
        Ok(None) => Err(ReconcileError::SourceNotFound {
            namespace,
            name: source.name.clone(),
        }),
        Err(e) => Err(ReconcileError::Kube {
            what: "GitRepository",
            namespace,
            name: source.name.clone(),
            source: Box::new(e),
        }),
    }
}

/// The credentials of `repo`'s `spec.secretRef` and the proxy of its `spec.proxySecretRef`,
/// read as source-controller reads them: the push goes the way the GitRepository's fetch goes.
pub async fn auth(client: &Client, repo: &GitRepository) -> Result<Auth, ReconcileError> {
    let namespace = repo.namespace().unwrap_or_default();
    let mut auth = match repo.spec.secret_ref.as_ref() {
        None => Auth::default(),
        Some(secret_ref) => {
            let data = secret_data(client, &namespace, &secret_ref.name).await?;
            auth_from_data(&data).map_err(|problem| ReconcileError::InvalidSecret {
                namespace: namespace.clone(),
                name: secret_ref.name.clone(),
                problem: match problem {
                    Problem::Invalid(p) => p,
                    Problem::Unsupported(p) => p.to_string(),
                },
            })?
        }
    };
    if let Some(proxy_ref) = repo.spec.proxy_secret_ref.as_ref() {
        let data = secret_data(client, &namespace, &proxy_ref.name).await?;
        let proxy = proxy_from_data(&data).map_err(|problem| ReconcileError::InvalidSecret {
            namespace: namespace.clone(),
            name: proxy_ref.name.clone(),
            problem,
        })?;
        auth.proxy = Some(proxy);
    }
    Ok(auth)
}

/// The data of the Secret `namespace/name`.
async fn secret_data(
    client: &Client,
    namespace: &str,
    name: &str,
) -> Result<BTreeMap<String, k8s_openapi::ByteString>, ReconcileError> {
    let api: Api<Secret> = Api::namespaced(client.clone(), namespace);
    let secret = api.get(name).await.map_err(|e| ReconcileError::Kube {
        what: "Secret",
        namespace: namespace.to_owned(),
        name: name.to_owned(),
        source: Box::new(e),
    })?;
    Ok(secret.data.unwrap_or_default())
}

/// `spec.git.commit.signingKey`: the OpenPGP key of Flux's Secret (`git.asc`, optional
/// `passphrase`), unlocked and ready to sign. Errors name the Secret and key id, never the
/// key material or passphrase.
pub async fn signing_key(
    client: &Client,
    automation: &ImageUpdateAutomation,
) -> Result<Option<std::sync::Arc<SigningKey>>, ReconcileError> {
    let Some(signing) = automation
        .spec
        .git
        .as_ref()
        .and_then(|g| g.commit.signing_key.as_ref())
    else {
        return Ok(None);
    };
    if signing.type_ == Some(SigningKeyType::Ssh) {
        return Err(ReconcileError::Unsupported {
            feature: "spec.git.commit.signingKey.type",
            detail: "SSH commit signing is not implemented; use an OpenPGP key (type gpg)",
        });
    }
    let namespace = automation.namespace().unwrap_or_default();
    let name = signing.secret_ref.name.clone();
    let api: Api<Secret> = Api::namespaced(client.clone(), &namespace);
    let secret = api.get(&name).await.map_err(|e| ReconcileError::Kube {
        what: "signing key Secret",
        namespace: namespace.clone(),
        name: name.clone(),
        source: Box::new(e),
    })?;
    let data = secret.data.unwrap_or_default();
    let invalid = |problem: String| ReconcileError::InvalidSigningKey {
        namespace: namespace.clone(),
        name: name.clone(),
        problem,
    };
    let armored = data
        .get(SIGNING_KEY)
        .filter(|v| !v.0.is_empty())
        .ok_or_else(|| invalid(format!("does not contain a '{SIGNING_KEY}' key")))?;
    let passphrase = data.get(SIGNING_PASSPHRASE).map(|v| v.0.as_slice());
    let key =
        SigningKey::from_armored(&armored.0, passphrase).map_err(|e| invalid(e.to_string()))?;
    Ok(Some(std::sync::Arc::new(key)))
}

/// The Secret entry holding the armored OpenPGP private key.
pub const SIGNING_KEY: &str = "git.asc";
/// The Secret entry holding the key's passphrase.
pub const SIGNING_PASSPHRASE: &str = "passphrase";

/// `spec.timeout` of the GitRepository (Go duration), Flux's 60s when unset or invalid.
pub fn timeout(repo: &GitRepository) -> Duration {
    repo.spec
        .timeout
        .as_deref()
        .and_then(|t| t.parse::<driftless_runtime::flags::GoDuration>().ok())
        .map(|d| d.get())
        .unwrap_or(driftless_git::checkout::DEFAULT_TIMEOUT)
}

/// The latest image of every selected ImagePolicy in the automation's namespace that has
/// one, by policy name.
pub async fn latest_images(
    client: &Client,
    automation: &ImageUpdateAutomation,
) -> Result<BTreeMap<String, ImageRef>, ReconcileError> {
    let namespace = automation.namespace().unwrap_or_default();
    let mut params = ListParams::default();
    if let Some(selector) = automation.spec.policy_selector.clone() {
        let selector =
            Selector::try_from(selector).map_err(|e| ReconcileError::InvalidPolicySelector {
                reason: e.to_string(),
            })?;
        params = params.labels_from(&selector);
    }
    let api: Api<ImagePolicy> = Api::namespaced(client.clone(), &namespace);
    let list = api
        .list(&params)
        .await
        .map_err(|e| ReconcileError::ListPolicies {
            namespace: namespace.clone(),
            source: Box::new(e),
        })?;
    Ok(list
        .items
        .into_iter()
        .filter_map(|p| {
            let latest = p.status.as_ref()?.latest_ref.clone()?;
            Some((p.name_any(), latest))
        })
        .collect())
}
