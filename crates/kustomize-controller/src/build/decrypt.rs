//! `spec.decryption`: the keys from `decryption.secretRef` (age identities in `*.agekey`,
//! OpenPGP keys in `*.asc`) and SOPS decryption of each built object that carries SOPS metadata
//! (or a Secret whose values are SOPS-encrypted files), as Flux decrypts after the build and
//! before substitution. Key material never reaches messages.

use std::collections::BTreeMap;
use std::path::Path;

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

/// Decrypts, in place, the SOPS-encrypted files the kustomization at `dir` feeds to
/// secretGenerators and patches (never a file outside `root`). A plain directory (Flux generates
/// its kustomization) has no generator sources.
pub fn generator_sources(dir: &Path, root: &Path, keys: &Keyring) -> Result<(), ReconcileError> {
    if driftless_kustomize::kustomization::find_file(dir).is_none() {
        return Ok(());
    }
    driftless_sops::decrypt_generator_sources(dir, root, keys)
        .map(drop)
        .map_err(|e| ReconcileError::Decrypt {
            subject: format!(
                "the generator sources of './{}'",
                dir.strip_prefix(root).unwrap_or(dir).display()
            ),
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

#[cfg(test)]
mod tests {
    use super::*;

    const KEY: &str = include_str!("../../../sops/tests/fixtures/keys/age1.agekey");
    const ENV: &str = include_str!("../../../sops/tests/fixtures/encrypted/dotenv-basic.env");

    #[test]
    fn an_encrypted_env_file_of_a_secret_generator_is_decrypted_in_place() {
        let root = tempfile::tempdir().expect("tempdir");
        let dir = root.path().join("apps");
        std::fs::create_dir_all(&dir).expect("mkdir");
        std::fs::write(
            dir.join("kustomization.yaml"),
            "resources:\n- cm.yaml\nsecretGenerator:\n- name: env\n  envs:\n  - app.env\n",
        )
        .expect("write");
        std::fs::write(dir.join("cm.yaml"), "kind: ConfigMap\n").expect("write");
        std::fs::write(dir.join("app.env"), ENV).expect("write");
        let data = BTreeMap::from([("age.agekey".to_owned(), KEY.as_bytes().to_vec())]);
        let keys = Keyring::from_secret_data(&data).expect("keys");
        generator_sources(&dir, root.path(), &keys).expect("decrypts");
        let env = std::fs::read_to_string(dir.join("app.env")).expect("read");
        assert!(env.contains("USER=admin"), "{env}");
        assert!(dir.join("cm.yaml").is_file(), "other files stay");
    }

    #[test]
    fn an_extracted_artifact_with_an_encrypted_env_file_builds() {
        let tree = tempfile::tempdir().expect("tempdir");
        std::fs::write(
            tree.path().join("kustomization.yaml"),
            "resources:\n- cm.yaml\nsecretGenerator:\n- name: env\n  envs:\n  - app.env\n",
        )
        .expect("write");
        std::fs::write(
            tree.path().join("cm.yaml"),
            "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: app\n",
        )
        .expect("write");
        std::fs::write(tree.path().join("app.env"), ENV).expect("write");
        let rules = driftless_artifact::IgnoreRules::for_source(tree.path(), None).expect("rules");
        let bytes = driftless_artifact::write_tar_gz(tree.path(), &rules, Vec::new()).expect("tar");
        let root = tempfile::tempdir().expect("tempdir");
        driftless_artifact::extract_tar_gz(&bytes[..], root.path(), &Default::default())
            .expect("extract");
        let listing: Vec<_> = std::fs::read_dir(root.path())
            .expect("ls")
            .map(|e| e.expect("entry").file_name())
            .collect();
        let data = BTreeMap::from([("age.agekey".to_owned(), KEY.as_bytes().to_vec())]);
        let keys = Keyring::from_secret_data(&data).expect("keys");
        let dir = crate::build::resolve_path(root.path(), Some("./")).expect("path");
        generator_sources(&dir, root.path(), &keys).expect("decrypts");
        let ks = driftless_api::kustomize::Kustomization::new("apps", Default::default());
        let docs = crate::build::kustomize(&ks, root.path(), &dir)
            .unwrap_or_else(|e| panic!("{e}: {listing:?}"));
        assert_eq!(docs.len(), 2);
    }
}
