//! SOPS decryption in kustomize-controller: a Secret encrypted by the real `sops` for an age
//! key is decrypted with the key from `spec.decryption.secretRef`; a wrong key applies nothing
//! and says which object could not be decrypted, without any key.

mod common;

use common::*;
use k8s_openapi::api::core::v1::Secret;
use kube::api::{Api, PostParams};
use serde_json::json;

const ENCRYPTED: &str = include_str!("fixtures/secret.enc.yaml");
/// The recipient's identity (the sops crate's test-only key).
const KEY: &str = include_str!("../../sops/tests/fixtures/keys/age1.agekey");
/// An age identity that is not a recipient of the Secret.
const OTHER_KEY: &str = include_str!("../../sops/tests/fixtures/keys/age2.agekey");

async fn key_secret(f: &Fixture, name: &str, key: &str) -> anyhow::Result<()> {
    let secrets: Api<Secret> = Api::namespaced(f.cluster.client.clone(), f.ns.name());
    let secret: Secret = serde_json::from_value(json!({
        "metadata": {"name": name, "namespace": f.ns.name()},
        "stringData": {"identity.agekey": key}}))?;
    secrets.create(&PostParams::default(), &secret).await?;
    Ok(())
}

fn files() -> Vec<(&'static str, &'static str)> {
    vec![("secret.enc.yaml", ENCRYPTED)]
}

#[tokio::test]
async fn a_sops_encrypted_secret_is_decrypted_with_the_age_key() -> anyhow::Result<()> {
    let mut f = fixture("ks-sops", &[]).await?;
    key_secret(&f, "sops-age", KEY).await?;
    let revision = f.source.publish(&f.cluster.client, &files()).await?;
    f.create(
        "apps",
        json!({"targetNamespace": f.ns.name(),
            "decryption": {"provider": "sops", "secretRef": {"name": "sops-age"}}}),
    )
    .await?;
    wait_applied(&f.api, "apps", &revision).await?;
    let secret = Api::<Secret>::namespaced(f.cluster.client.clone(), f.ns.name())
        .get("credentials")
        .await?;
    let data = secret.data.unwrap_or_default();
    let message = data.get("message").map(|v| v.0.clone());
    assert_eq!(message.as_deref(), Some(&b"decrypted by driftless"[..]));
    assert!(!data.keys().any(|k| k == "sops"));
    f.finish().await
}

#[tokio::test]
async fn a_wrong_key_applies_nothing_and_names_the_object_not_the_key() -> anyhow::Result<()> {
    let mut f = fixture("ks-sops-wrong", &[]).await?;
    key_secret(&f, "sops-age", OTHER_KEY).await?;
    f.source.publish(&f.cluster.client, &files()).await?;
    f.create(
        "apps",
        json!({"targetNamespace": f.ns.name(),
            "decryption": {"provider": "sops", "secretRef": {"name": "sops-age"}}}),
    )
    .await?;
    let ks = wait_failing(&f.api, "apps", "BuildFailed").await?;
    let message = condition(&ks, "Ready")
        .map(|c| c.message.clone())
        .unwrap_or_default();
    assert!(message.contains("Secret/"), "{message}");
    assert!(message.contains("credentials"), "{message}");
    assert!(!message.contains("AGE-SECRET-KEY"), "{message}");
    f.finish().await
}

/// A dotenv file encrypted by the real sops for the same test-only key.
const ENCRYPTED_ENV: &str = include_str!("../../sops/tests/fixtures/encrypted/dotenv-basic.env");

#[tokio::test]
async fn a_secret_generator_reads_its_encrypted_env_file_decrypted() -> anyhow::Result<()> {
    let mut f = fixture("ks-sops-generator", &[]).await?;
    key_secret(&f, "sops-age", KEY).await?;
    let kustomization = "resources:\n- cm.yaml\nsecretGenerator:\n- name: app-env\n  envs:\n  - app.env\ngeneratorOptions:\n  disableNameSuffixHash: true\n";
    let revision = f
        .source
        .publish(
            &f.cluster.client,
            &[
                ("kustomization.yaml", kustomization),
                ("cm.yaml", &config_map("app", "1")),
                ("app.env", ENCRYPTED_ENV),
            ],
        )
        .await?;
    f.create(
        "apps",
        json!({"targetNamespace": f.ns.name(),
            "decryption": {"provider": "sops", "secretRef": {"name": "sops-age"}}}),
    )
    .await?;
    wait_applied(&f.api, "apps", &revision).await?;
    let secret = Api::<Secret>::namespaced(f.cluster.client.clone(), f.ns.name())
        .get("app-env")
        .await?;
    let data = secret.data.unwrap_or_default();
    assert_eq!(
        data.get("USER").map(|v| v.0.clone()).as_deref(),
        Some(&b"admin"[..])
    );
    assert!(
        !data.keys().any(|k| k.starts_with("sops")),
        "{:?}",
        data.keys()
    );
    f.finish().await
}
