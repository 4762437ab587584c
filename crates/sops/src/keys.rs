//! The private keys a Kustomization's decryption Secret provides, read the
//! way Flux reads them: `*.agekey` entries hold age identities, `*.asc`
//! entries armored OpenPGP secret keys; the cloud-provider entries Flux knows
//! are recognised and refused with a clear error.

use std::collections::BTreeMap;
use std::fmt;
use std::str::FromStr;

use pgp::composed::{PublicOrSecret, SignedSecretKey};
use pgp::types::KeyDetails as _;

use crate::error::SopsError;

/// Secret entries Flux reads for providers driftless does not implement.
const UNSUPPORTED_ENTRIES: [(&str, &str); 4] = [
    ("sops.vault-token", "HashiCorp Vault / OpenBao"),
    ("sops.aws-kms", "AWS KMS"),
    ("sops.azure-kv", "Azure Key Vault"),
    ("sops.gcp-kms", "GCP KMS"),
];

/// The identities available for decryption. Its `Debug` output lists
/// public parts only (age recipients, PGP fingerprints).
#[derive(Default)]
pub struct Keyring {
    pub(crate) age: Vec<age::x25519::Identity>,
    pub(crate) pgp: Vec<SignedSecretKey>,
}

impl fmt::Debug for Keyring {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let age: Vec<String> = self.age.iter().map(|i| i.to_public().to_string()).collect();
        let pgp: Vec<String> = self
            .pgp
            .iter()
            .map(|k| k.fingerprint().to_string())
            .collect();
        f.debug_struct("Keyring")
            .field("age", &age)
            .field("pgp", &pgp)
            .finish()
    }
}

impl Keyring {
    /// An empty keyring (every decryption fails with "no key could decrypt").
    pub fn new() -> Self {
        Self::default()
    }

    /// Reads a decryption Secret's `data`. Entries with other names are
    /// ignored, as Flux ignores them.
    pub fn from_secret_data(data: &BTreeMap<String, Vec<u8>>) -> Result<Self, SopsError> {
        let mut ring = Self::new();
        for (name, value) in data {
            if let Some((_, provider)) = UNSUPPORTED_ENTRIES.iter().find(|(n, _)| n == name) {
                return Err(SopsError::UnsupportedProvider {
                    key: name.clone(),
                    provider,
                });
            }
            let invalid = |reason: String| SopsError::InvalidKey {
                key: name.clone(),
                reason,
            };
            let text = || std::str::from_utf8(value).map_err(|_| invalid("not UTF-8 text".into()));
            match extension(name) {
                ".agekey" => ring.add_age_identities(text()?).map_err(invalid)?,
                ".asc" => ring.add_pgp_keys(text()?).map_err(invalid)?,
                _ => {}
            }
        }
        Ok(ring)
    }

    /// Adds every `AGE-SECRET-KEY-1…` line of an age key file; blank lines
    /// and `#` comments are skipped, anything else is an error.
    pub fn add_age_identities(&mut self, text: &str) -> Result<(), String> {
        let mut found = 0;
        for (n, line) in text.lines().enumerate() {
            let line = line.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            // The parse error could echo the line, so it is not passed on.
            let id = age::x25519::Identity::from_str(line).map_err(|_| {
                format!(
                    "line {} is not an age X25519 identity (AGE-SECRET-KEY-1...)",
                    n + 1
                )
            })?;
            self.age.push(id);
            found += 1;
        }
        if found == 0 {
            return Err("no age identity found".into());
        }
        Ok(())
    }

    /// Adds the secret keys of an armored OpenPGP key block; public keys in
    /// the same block are skipped. Keys must not be passphrase-protected
    /// (Flux imports them into a GnuPG home without a passphrase too).
    pub fn add_pgp_keys(&mut self, armored: &str) -> Result<(), String> {
        let (keys, _) = PublicOrSecret::from_armor_many(armored.as_bytes())
            .map_err(|e| format!("not an armored OpenPGP key block: {e}"))?;
        let mut found = 0;
        for key in keys {
            match key.map_err(|e| format!("invalid OpenPGP key: {e}"))? {
                PublicOrSecret::Secret(k) => {
                    self.pgp.push(k);
                    found += 1;
                }
                PublicOrSecret::Public(_) => {}
            }
        }
        if found == 0 {
            return Err("no OpenPGP secret key found".into());
        }
        Ok(())
    }

    /// Whether the keyring holds no identity at all.
    pub fn is_empty(&self) -> bool {
        self.age.is_empty() && self.pgp.is_empty()
    }
}

/// Go's `filepath.Ext`: the suffix from the last dot of the last element.
fn extension(name: &str) -> &str {
    let base = name.rsplit('/').next().unwrap_or(name);
    base.rfind('.').map_or("", |i| &base[i..])
}

#[cfg(test)]
mod tests {
    use super::*;

    fn data(entries: &[(&str, &str)]) -> BTreeMap<String, Vec<u8>> {
        entries
            .iter()
            .map(|(k, v)| ((*k).to_owned(), v.as_bytes().to_vec()))
            .collect()
    }

    #[test]
    fn an_unsupported_provider_entry_is_an_error_naming_the_entry_not_its_value() {
        let err =
            Keyring::from_secret_data(&data(&[("sops.aws-kms", "aws_secret_access_key: hunter2")]))
                .expect_err("aws is refused");
        let msg = err.to_string();
        assert!(
            msg.contains("sops.aws-kms") && msg.contains("AWS KMS"),
            "{msg}"
        );
        assert!(!msg.contains("hunter2"), "{msg}");
    }

    #[test]
    fn an_invalid_age_key_is_an_error_that_does_not_echo_the_value() {
        let err = Keyring::from_secret_data(&data(&[("k.agekey", "AGE-SECRET-KEY-1NOTAKEY")]))
            .expect_err("garbage is refused");
        let msg = err.to_string();
        assert!(
            msg.contains("k.agekey") && !msg.contains("NOTAKEY"),
            "{msg}"
        );
    }

    #[test]
    fn age_key_files_may_carry_comments_and_unrelated_entries_are_ignored() {
        let id = age::x25519::Identity::generate();
        let secret = id.to_string();
        let file = format!(
            "# created: today\n# public key: {}\n{}\n",
            id.to_public(),
            secret.expose_secret()
        );
        let ring =
            Keyring::from_secret_data(&data(&[("identity.agekey", &file), ("README", "hello")]))
                .expect("valid key file");
        assert_eq!(ring.age.len(), 1);
        let debug = format!("{ring:?}");
        assert!(!debug.contains(secret.expose_secret()), "{debug}");
        assert!(debug.contains(&id.to_public().to_string()), "{debug}");
    }

    use age::secrecy::ExposeSecret as _;
}
