//! Flux's resource rules: whole sops resources, Secrets holding encrypted
//! files from a secretGenerator, and generator sources decrypted in place.

mod common;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use common::{CASES, Case, all_keys};
use driftless_sops::{decrypt_generator_sources, decrypt_manifest};

fn case(name: &str) -> &'static Case {
    CASES.iter().find(|c| c.name == name).expect("case exists")
}

fn read(path: std::path::PathBuf) -> String {
    std::fs::read_to_string(path).expect("fixture")
}

#[test]
fn a_resource_with_sops_metadata_is_decrypted_whole() {
    let c = case("k8s-secret-encrypted-regex");
    let out = decrypt_manifest(&read(c.encrypted()), &all_keys())
        .expect("decrypts")
        .expect("is encrypted");
    assert_eq!(out, read(c.expected()));
}

#[test]
fn kustomize_changes_to_an_encrypted_resource_do_not_fail_the_mac() {
    // Flux skips the MAC check for resources: kustomize adds labels and
    // namespaces to them after encryption.
    let c = case("k8s-secret-encrypted-regex");
    let changed = read(c.encrypted()).replace("namespace: default", "namespace: production");
    let out = decrypt_manifest(&changed, &all_keys())
        .expect("decrypts")
        .expect("is encrypted");
    assert!(
        out.contains("namespace: production") && out.contains("password: hunter2"),
        "{out}"
    );
}

#[test]
fn a_plain_resource_is_left_alone() {
    let doc = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: x\ndata:\n  a: b\n";
    assert_eq!(decrypt_manifest(doc, &all_keys()).expect("no error"), None);
}

#[test]
fn the_decrypt_disabled_annotation_leaves_the_resource_encrypted() {
    let c = case("k8s-secret-encrypted-regex");
    let doc = read(c.encrypted()).replace(
        "    labels:\n",
        "    annotations:\n        kustomize.toolkit.fluxcd.io/decrypt: Disabled\n    labels:\n",
    );
    assert_eq!(decrypt_manifest(&doc, &all_keys()).expect("no error"), None);
}

#[test]
fn secret_data_holding_encrypted_files_is_decrypted_by_key_extension() {
    let env = std::fs::read(case("dotenv-basic").encrypted()).expect("fixture");
    let json = std::fs::read(case("json-basic").encrypted()).expect("fixture");
    let yaml = std::fs::read(case("yaml-multidoc").encrypted()).expect("fixture");
    let bin = std::fs::read(case("binary-blob").encrypted()).expect("fixture");
    let doc = format!(
        "apiVersion: v1\nkind: Secret\nmetadata:\n  name: generated\ndata:\n  app.env: {}\n  config.json: {}\n  values.yaml: {}\n  blob.bin: {}\n  plain.txt: {}\n",
        STANDARD.encode(&env),
        STANDARD.encode(&json),
        STANDARD.encode(&yaml),
        STANDARD.encode(&bin),
        STANDARD.encode("not encrypted"),
    );
    let out = decrypt_manifest(&doc, &all_keys())
        .expect("decrypts")
        .expect("changed");
    let field = |key: &str| -> String {
        let line = out
            .lines()
            .find(|l| l.trim_start().starts_with(&format!("{key}:")))
            .expect("field present");
        let b64 = line.split_once(": ").expect("value").1;
        String::from_utf8(STANDARD.decode(b64).expect("base64")).expect("utf8")
    };
    assert_eq!(field("app.env"), read(case("dotenv-basic").expected()));
    assert_eq!(field("config.json"), read(case("json-basic").expected()));
    assert_eq!(field("values.yaml"), read(case("yaml-multidoc").expected()));
    assert_eq!(field("blob.bin"), read(case("binary-blob").expected()));
    assert_eq!(field("plain.txt"), "not encrypted");
}

#[test]
fn generator_sources_and_patches_are_decrypted_in_place_without_leaving_the_root() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let root = tmp.path().join("repo");
    let app = root.join("apps/app");
    let base = root.join("apps/base");
    std::fs::create_dir_all(&app).expect("mkdir");
    std::fs::create_dir_all(&base).expect("mkdir");
    let copy = |name: &str, to: &std::path::Path| {
        std::fs::copy(case(name).encrypted(), to).expect("copy fixture");
    };
    copy("dotenv-basic", &app.join("secret.env"));
    copy("json-basic", &app.join("config.json"));
    copy("binary-blob", &base.join("blob.bin"));
    copy("yaml-basic", &app.join("patch.yaml"));
    copy("dotenv-basic", &tmp.path().join("outside.env"));
    std::fs::write(
        app.join("kustomization.yaml"),
        "resources:\n- ../base\n- https://example.invalid/remote\nsecretGenerator:\n- name: s\n  envs:\n  - secret.env\n  files:\n  - cfg.json=config.json\npatches:\n- path: patch.yaml\n",
    )
    .expect("write kustomization");
    std::fs::write(
        base.join("kustomization.yaml"),
        "secretGenerator:\n- name: b\n  files:\n  - blob.bin\n",
    )
    .expect("write kustomization");

    let mut done = decrypt_generator_sources(&app, &root, &all_keys()).expect("decrypts");
    done.sort();
    assert_eq!(done.len(), 4, "{done:?}");
    assert_eq!(
        read(app.join("secret.env")),
        read(case("dotenv-basic").expected())
    );
    assert_eq!(
        read(app.join("config.json")),
        read(case("json-basic").expected())
    );
    assert_eq!(
        read(base.join("blob.bin")),
        read(case("binary-blob").expected())
    );
    assert_eq!(
        read(app.join("patch.yaml")),
        read(case("yaml-basic").expected())
    );

    // A reference that climbs out of the root resolves inside it and is not found.
    std::fs::write(
        app.join("kustomization.yaml"),
        "secretGenerator:\n- name: s\n  envs:\n  - ../../../outside.env\n",
    )
    .expect("write kustomization");
    let err =
        decrypt_generator_sources(&app, &root, &all_keys()).expect_err("escape is not followed");
    assert!(
        !err.to_string().contains(&tmp.path().display().to_string()),
        "{err}"
    );
    assert_eq!(
        read(tmp.path().join("outside.env")),
        read(case("dotenv-basic").encrypted())
    );
}

#[test]
fn a_secret_holding_a_sops_ini_file_is_an_error_not_applied_ciphertext() {
    let ini = "[app]\npassword = ENC[AES256_GCM,data:AA==,iv:AA==,tag:AA==,type:str]\n\n[sops]\nmac = ENC[...]\n";
    let doc = format!(
        "apiVersion: v1\nkind: Secret\nmetadata:\n  name: s\ndata:\n  app.ini: {}\n",
        STANDARD.encode(ini)
    );
    let err = decrypt_manifest(&doc, &all_keys()).expect_err("INI is refused");
    let msg = err.to_string();
    assert!(msg.contains("app.ini") && msg.contains("INI"), "{msg}");
}
