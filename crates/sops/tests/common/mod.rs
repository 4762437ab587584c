//! Shared by the sops tests: the fixture layout, the case table and the
//! keyring made of the committed test-only keys.
//!
//! Layout under `tests/fixtures/`:
//! - `keys/`: test-only age identities (`age1.agekey`, `age2.agekey`, with
//!   their recipients in `*.pub`) and unprotected OpenPGP secret keys
//!   (`pgp1.asc` RSA, `pgp2.asc` Curve25519, fingerprints in `*.fpr`).
//! - `plain/`: the plaintexts the cases encrypt.
//! - `encrypted/<case>.<ext>`: what the real `sops encrypt` wrote.
//! - `expected/<case>.<ext>`: what the real `sops decrypt` printed for it.

#![allow(dead_code)]

use std::collections::BTreeMap;
use std::path::PathBuf;

use driftless_sops::Keyring;

pub fn fixtures() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures")
}

/// One conformance case: a plaintext, the `sops encrypt` flags (with
/// `{age1}`, `{age2}`, `{pgp1}`, `{pgp2}` standing for the test recipients)
/// and, for key groups, a `.sops.yaml` body with the same placeholders.
pub struct Case {
    pub name: &'static str,
    pub plain: &'static str,
    pub args: &'static [&'static str],
    pub config: Option<&'static str>,
    /// `sops decrypt --output-type` (an extension), when not the input's.
    pub output: Option<&'static str>,
}

impl Case {
    pub fn ext(&self) -> &'static str {
        self.plain.rsplit_once('.').map_or("", |(_, e)| e)
    }

    pub fn file(&self) -> String {
        format!("{}.{}", self.name, self.ext())
    }

    pub fn encrypted(&self) -> PathBuf {
        fixtures().join("encrypted").join(self.file())
    }

    pub fn expected(&self) -> PathBuf {
        let file = match self.output {
            Some(ext) => format!("{}.{ext}", self.name),
            None => self.file(),
        };
        fixtures().join("expected").join(file)
    }
}

const SHAMIR_CONFIG: &str = "creation_rules:
  - shamir_threshold: 2
    key_groups:
      - age:
          - {age1}
      - pgp:
          - {pgp1}
      - age:
          - {age2}
";

const MAC_ONLY_CONFIG: &str = "creation_rules:
  - age: {age1}
    encrypted_regex: ^spec$
    mac_only_encrypted: true
";

const COMMENT_REGEX_CONFIG: &str = "creation_rules:
  - age: {age1}
    encrypted_comment_regex: sops:enc
";

pub const CASES: &[Case] = &[
    Case {
        name: "yaml-basic",
        plain: "basic.yaml",
        args: &["--age", "{age1}"],
        config: None,
        output: None,
    },
    Case {
        name: "yaml-edge-cases",
        plain: "edge.yaml",
        args: &["--age", "{age1}"],
        config: None,
        output: None,
    },
    Case {
        name: "yaml-as-json",
        plain: "suffixes.yaml",
        args: &["--age", "{age1}"],
        config: None,
        output: Some("json"),
    },
    Case {
        name: "json-as-yaml",
        plain: "basic.json",
        args: &["--age", "{age1}"],
        config: None,
        output: Some("yaml"),
    },
    Case {
        name: "dotenv-as-yaml",
        plain: "basic.env",
        args: &["--age", "{age1}"],
        config: None,
        output: Some("yaml"),
    },
    Case {
        name: "yaml-multidoc",
        plain: "multidoc.yaml",
        args: &["--age", "{age1}"],
        config: None,
        output: None,
    },
    Case {
        name: "json-basic",
        plain: "basic.json",
        args: &["--age", "{age1}"],
        config: None,
        output: None,
    },
    Case {
        name: "dotenv-basic",
        plain: "basic.env",
        args: &["--age", "{age1}"],
        config: None,
        output: None,
    },
    Case {
        name: "binary-blob",
        plain: "blob.bin",
        args: &["--age", "{age1}"],
        config: None,
        output: None,
    },
    Case {
        name: "k8s-secret-encrypted-regex",
        plain: "secret.yaml",
        args: &[
            "--age",
            "{age1}",
            "--encrypted-regex",
            "^(data|stringData)$",
        ],
        config: None,
        output: None,
    },
    Case {
        name: "yaml-unencrypted-suffix-default",
        plain: "suffixes.yaml",
        args: &["--age", "{age1}"],
        config: None,
        output: None,
    },
    Case {
        name: "yaml-encrypted-suffix",
        plain: "suffixes.yaml",
        args: &["--age", "{age1}", "--encrypted-suffix", "_secret"],
        config: None,
        output: None,
    },
    Case {
        name: "yaml-unencrypted-regex",
        plain: "regex.yaml",
        args: &[
            "--age",
            "{age1}",
            "--unencrypted-regex",
            "^(metadata|publicKey)$",
        ],
        config: None,
        output: None,
    },
    Case {
        name: "yaml-mac-only-encrypted",
        plain: "regex.yaml",
        args: &[],
        config: Some(MAC_ONLY_CONFIG),
        output: None,
    },
    Case {
        name: "yaml-encrypted-comment-regex",
        plain: "comments.yaml",
        args: &[],
        config: Some(COMMENT_REGEX_CONFIG),
        output: None,
    },
    Case {
        name: "yaml-comments",
        plain: "comments.yaml",
        args: &["--age", "{age1}"],
        config: None,
        output: None,
    },
    Case {
        name: "yaml-pgp-rsa",
        plain: "basic.yaml",
        args: &["--pgp", "{pgp1}"],
        config: None,
        output: None,
    },
    Case {
        name: "json-pgp-curve25519",
        plain: "basic.json",
        args: &["--pgp", "{pgp2}"],
        config: None,
        output: None,
    },
    Case {
        name: "yaml-two-age-recipients",
        plain: "secret.yaml",
        args: &["--age", "{age1},{age2}"],
        config: None,
        output: None,
    },
    Case {
        name: "dotenv-age-and-pgp",
        plain: "basic.env",
        args: &["--age", "{age2}", "--pgp", "{pgp1}"],
        config: None,
        output: None,
    },
    Case {
        name: "yaml-shamir-2-of-3",
        plain: "secret.yaml",
        args: &[],
        config: Some(SHAMIR_CONFIG),
        output: None,
    },
];

pub fn key_text(name: &str) -> String {
    std::fs::read_to_string(fixtures().join("keys").join(name)).expect("committed test key")
}

/// A keyring with the named key files (`age1.agekey`, `pgp1.asc`…).
pub fn keyring(names: &[&str]) -> Keyring {
    let data: BTreeMap<String, Vec<u8>> = names
        .iter()
        .map(|n| ((*n).to_owned(), key_text(n).into_bytes()))
        .collect();
    Keyring::from_secret_data(&data).expect("test keys load")
}

pub fn all_keys() -> Keyring {
    keyring(&["age1.agekey", "age2.agekey", "pgp1.asc", "pgp2.asc"])
}
