//! What must fail, and how: wrong keys, tampering, malformed values,
//! providers driftless does not implement, oversize input. Errors name
//! recipients and paths, never a secret.

mod common;

use std::collections::BTreeMap;

use common::{CASES, Case, all_keys, key_text, keyring};
use driftless_sops::{Format, Keyring, MAX_INPUT_BYTES, SopsError, decrypt, is_encrypted};

fn case(name: &str) -> &'static Case {
    CASES.iter().find(|c| c.name == name).expect("case exists")
}

fn encrypted(name: &str) -> String {
    std::fs::read_to_string(case(name).encrypted()).expect("fixture")
}

fn secret_lines(name: &str) -> Vec<String> {
    key_text(name)
        .lines()
        .filter(|l| l.starts_with("AGE-SECRET-KEY-"))
        .map(str::to_owned)
        .collect()
}

#[test]
fn a_key_that_is_not_a_recipient_cannot_recover_the_data_key_and_the_error_lists_the_recipients() {
    let stranger = age::x25519::Identity::generate();
    let mut ring = Keyring::new();
    {
        use age::secrecy::ExposeSecret as _;
        ring.add_age_identities(stranger.to_string().expose_secret())
            .expect("fresh identity");
    }
    let err =
        decrypt(encrypted("yaml-basic").as_bytes(), Format::Yaml, &ring).expect_err("wrong key");
    assert!(matches!(err, SopsError::NoDataKey { .. }), "{err:?}");
    let msg = err.to_string();
    let recipient = key_text("age1.pub");
    assert!(msg.contains("no key could decrypt the data key"), "{msg}");
    assert!(msg.contains(recipient.trim()), "{msg}");
    for secret in secret_lines("age1.agekey") {
        assert!(!msg.contains(&secret), "{msg}");
    }
}

#[test]
fn an_empty_keyring_is_told_which_recipients_exist() {
    let err = decrypt(
        encrypted("yaml-pgp-rsa").as_bytes(),
        Format::Yaml,
        &Keyring::new(),
    )
    .expect_err("no keys");
    let msg = err.to_string();
    assert!(msg.contains(key_text("pgp1.fpr").trim()), "{msg}");
}

#[test]
fn either_of_two_age_recipients_decrypts_alone() {
    let data = encrypted("yaml-two-age-recipients");
    let expected = std::fs::read(case("yaml-two-age-recipients").expected()).expect("golden");
    for key in ["age1.agekey", "age2.agekey"] {
        let got = decrypt(data.as_bytes(), Format::Yaml, &keyring(&[key]))
            .expect("one recipient suffices");
        assert_eq!(got, expected, "{key}");
    }
}

#[test]
fn shamir_key_groups_need_the_threshold_of_groups() {
    let data = encrypted("yaml-shamir-2-of-3");
    let err = decrypt(data.as_bytes(), Format::Yaml, &keyring(&["age1.agekey"]))
        .expect_err("one group of three");
    assert!(
        matches!(
            err,
            SopsError::ShamirThreshold {
                recovered: 1,
                threshold: 2,
                ..
            }
        ),
        "{err:?}"
    );
    let expected = std::fs::read(case("yaml-shamir-2-of-3").expected()).expect("golden");
    for pair in [
        ["age1.agekey", "pgp1.asc"],
        ["age2.agekey", "pgp1.asc"],
        ["age1.agekey", "age2.agekey"],
    ] {
        let got =
            decrypt(data.as_bytes(), Format::Yaml, &keyring(&pair)).expect("two groups suffice");
        assert_eq!(got, expected, "{pair:?}");
    }
}

#[test]
fn a_changed_unencrypted_value_is_a_mac_mismatch() {
    let data = encrypted("yaml-unencrypted-suffix-default");
    let tampered = data.replace("public_unencrypted: visible", "public_unencrypted: changed");
    assert_ne!(tampered, data);
    let err = decrypt(tampered.as_bytes(), Format::Yaml, &all_keys()).expect_err("tampered");
    assert!(matches!(err, SopsError::MacMismatch { .. }), "{err:?}");
    assert!(err.to_string().contains("MAC mismatch"), "{err}");
}

#[test]
fn a_removed_entry_is_a_mac_mismatch() {
    let data = encrypted("json-basic");
    let tampered: String = data
        .lines()
        .filter(|l| !l.trim_start().starts_with("\"port\""))
        .map(|l| format!("{l}\n"))
        .collect();
    assert_ne!(tampered, data);
    let err = decrypt(tampered.as_bytes(), Format::Json, &all_keys()).expect_err("tampered");
    assert!(matches!(err, SopsError::MacMismatch { .. }), "{err:?}");
}

#[test]
fn values_swapped_between_paths_fail_authentication_naming_the_path() {
    let data = encrypted("dotenv-basic");
    let user = data
        .lines()
        .find(|l| l.starts_with("USER="))
        .expect("USER line")
        .to_owned();
    let tampered = data.replace(
        &user,
        &format!(
            "USER={}",
            data.lines()
                .find(|l| l.starts_with("PASSWORD="))
                .expect("PASSWORD line")
                .trim_start_matches("PASSWORD=")
        ),
    );
    let err = decrypt(tampered.as_bytes(), Format::Dotenv, &all_keys()).expect_err("swapped");
    assert!(
        matches!(&err, SopsError::Decrypt { path } if path == "USER"),
        "{err:?}"
    );
}

#[test]
fn a_truncated_enc_value_is_an_error_naming_its_path() {
    let data = encrypted("yaml-basic");
    let line = data
        .lines()
        .find(|l| l.trim_start().starts_with("port: ENC["))
        .expect("port line");
    let cut = &line[..line.find(",iv:").expect("iv part")];
    let tampered = data.replace(line, cut);
    let err = decrypt(tampered.as_bytes(), Format::Yaml, &all_keys()).expect_err("truncated");
    assert!(
        matches!(&err, SopsError::Malformed { path } if path == "database:port"),
        "{err:?}"
    );
    assert!(err.to_string().contains("database:port"), "{err}");
}

#[test]
fn a_file_only_cloud_kms_can_open_is_refused_naming_the_provider() {
    let data = r#"{"a": "ENC[AES256_GCM,data:AA==,iv:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=,tag:AAAAAAAAAAAAAAAAAAAAAA==,type:str]",
      "sops": {"kms": [{"arn": "arn:aws:kms:eu-west-1:111122223333:key/test", "enc": "AQID", "created_at": "2024-01-01T00:00:00Z", "aws_profile": ""}],
               "lastmodified": "2024-01-01T00:00:00Z", "mac": "", "version": "3.9.0"}}"#;
    let err = decrypt(data.as_bytes(), Format::Json, &all_keys()).expect_err("kms only");
    let msg = err.to_string();
    assert!(
        msg.contains("AWS KMS") && msg.contains("arn:aws:kms:eu-west-1:111122223333:key/test"),
        "{msg}"
    );
    assert!(msg.contains("not supported"), "{msg}");
}

#[test]
fn a_decryption_secret_with_a_cloud_provider_entry_is_refused() {
    for entry in [
        "sops.vault-token",
        "sops.aws-kms",
        "sops.azure-kv",
        "sops.gcp-kms",
    ] {
        let data: BTreeMap<String, Vec<u8>> = [(entry.to_owned(), b"s3cr3t-value".to_vec())].into();
        let err = Keyring::from_secret_data(&data).expect_err("unsupported provider");
        let msg = err.to_string();
        assert!(
            msg.contains(entry) && msg.contains("not supported"),
            "{msg}"
        );
        assert!(!msg.contains("s3cr3t-value"), "{msg}");
    }
}

#[test]
fn oversize_input_is_refused_before_parsing() {
    let big = vec![b'a'; MAX_INPUT_BYTES + 1];
    let err = decrypt(&big, Format::Binary, &all_keys()).expect_err("too large");
    assert!(matches!(err, SopsError::TooLarge { .. }), "{err:?}");
}

#[test]
fn an_alias_bomb_is_refused() {
    let mut doc = String::from("a0: &a0 [x, x, x, x, x, x, x, x, x, x]\n");
    for i in 1..12 {
        let prev = i - 1;
        doc.push_str(&format!("a{i}: &a{i} [*a{prev}, *a{prev}, *a{prev}, *a{prev}, *a{prev}, *a{prev}, *a{prev}, *a{prev}, *a{prev}, *a{prev}]\n"));
    }
    doc.push_str("sops:\n    mac: x\n");
    let err = decrypt(doc.as_bytes(), Format::Yaml, &all_keys()).expect_err("bomb");
    assert!(err.to_string().contains("alias bomb"), "{err}");
}

#[test]
fn encrypted_files_are_told_from_plain_ones() {
    for c in CASES {
        let data = std::fs::read(c.encrypted()).expect("fixture");
        assert!(
            is_encrypted(&data, Format::from_path(c.encrypted())),
            "{}",
            c.name
        );
    }
    let plain = std::fs::read(common::fixtures().join("plain/basic.yaml")).expect("plain");
    assert!(!is_encrypted(&plain, Format::Yaml));
    assert!(!is_encrypted(b"not: [valid", Format::Yaml));
}

#[test]
fn the_keyring_debug_output_shows_no_secret() {
    let debug = format!("{:?}", all_keys());
    for secret in secret_lines("age1.agekey")
        .into_iter()
        .chain(secret_lines("age2.agekey"))
    {
        assert!(!debug.contains(&secret), "{debug}");
    }
    assert!(!debug.contains("PRIVATE KEY"), "{debug}");
    assert!(debug.contains(key_text("age1.pub").trim()), "{debug}");
}
