//! `spec.decryption`: the keys from `decryption.secretRef` (age identities in `*.agekey`,
//! OpenPGP keys in `*.asc`) and SOPS decryption of each built object that carries SOPS metadata
//! (or a Secret whose values are SOPS-encrypted files), as Flux decrypts after the build and
//! before substitution. Key material never reaches messages.

use std::collections::BTreeMap;

use driftless_api::kustomize::Kustomization;
use driftless_sops::Keyring;
use k8s_openapi::api::core::v1::Secret;
use kube::ResourceExt;
use kube::api::Api;

use crate::build::postbuild::Header;
use crate::error::ReconcileError;

/// The keyring of `ks`, `None` when it has no `spec.decryption`.
pub async fn keyring(
    client: &kube::Client,
    ks: &Kustomization,
) -> Result<Option<Keyring>, ReconcileError> {
    let Some(decryption) = &ks.spec.decryption else {
        return Ok(None);
    };
    let Some(secret_ref) = &decryption.secret_ref else {
        // Flux would try cloud KMS through workload identity here; driftless has no KMS yet,
        // so an empty keyring makes decryption fail with a message naming the recipients.
        return Ok(Some(Keyring::from_secret_data(&BTreeMap::new()).map_err(
            |e| ReconcileError::Decrypt {
                subject: "spec.decryption".to_owned(),
                message: e.to_string(),
            },
        )?));
    };
    let namespace = ks.namespace().unwrap_or_default();
    let subject = format!("Secret '{namespace}/{}'", secret_ref.name);
    let api: Api<Secret> = Api::namespaced(client.clone(), &namespace);
    let secret = api
        .get(&secret_ref.name)
        .await
        .map_err(|source| ReconcileError::Read {
            subject: format!("decryption {subject}"),
            source: Box::new(source),
        })?;
    let data: BTreeMap<String, Vec<u8>> = secret
        .data
        .unwrap_or_default()
        .into_iter()
        .map(|(k, v)| (k, v.0))
        .collect();
    Keyring::from_secret_data(&data)
        .map(Some)
        .map_err(|e| ReconcileError::Decrypt {
            subject,
            message: e.to_string(),
        })
}

/// Decrypts every document that is SOPS-encrypted; others pass unchanged.
pub fn decrypt(documents: Vec<String>, keys: &Keyring) -> Result<Vec<String>, ReconcileError> {
    documents
        .into_iter()
        .map(
            |document| match driftless_sops::decrypt_manifest(&document, keys) {
                Ok(Some(plain)) => Ok(plain),
                Ok(None) => Ok(document),
                Err(e) => Err(ReconcileError::Decrypt {
                    subject: Header::of(&document).subject,
                    message: e.to_string(),
                }),
            },
        )
        .collect()
}
