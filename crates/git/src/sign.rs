//! OpenPGP signing of commits, as `git commit -S` does it.
//!
//! Git signs the commit object as it would be written without a signature, and stores the
//! armored detached signature in a `gpgsig` header placed after the other headers (its
//! continuation lines start with a space; gix writes multi-line headers that way).
//! [`SigningKey`] holds a secret key read from Flux's `git.asc`/`passphrase` Secret entries,
//! checked at load time to sign with the given passphrase.

use std::fmt;

use pgp::composed::{ArmorOptions, Deserializable, SignedSecretKey, StandaloneSignature};
use pgp::crypto::hash::HashAlgorithm;
use pgp::packet::{SignatureConfig, SignatureType, Subpacket, SubpacketData};
use pgp::types::{KeyDetails, Password, SecretKeyTrait};

/// Why a signing key cannot be used. Messages never contain key material or the passphrase.
#[derive(Debug, thiserror::Error)]
pub enum SignError {
    #[error("invalid OpenPGP signing key: {reason}")]
    InvalidKey { reason: String },

    #[error("OpenPGP signing key {key_id} has no key that may sign")]
    NoSigningKey { key_id: String },

    #[error("cannot sign with OpenPGP key {key_id}: wrong or missing passphrase, or unusable key")]
    Locked { key_id: String },

    #[error("signing with OpenPGP key {key_id} failed: {reason}")]
    Signing { key_id: String, reason: String },
}

/// Which part of the transferable key makes signatures.
#[derive(Clone, Copy)]
enum Signer {
    Primary,
    Subkey(usize),
}

/// An OpenPGP secret key ready to sign commits.
pub struct SigningKey {
    key: SignedSecretKey,
    signer: Signer,
    passphrase: Password,
}

impl fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SigningKey")
            .field("key_id", &self.key_id())
            .finish_non_exhaustive()
    }
}

impl SigningKey {
    /// Read the first secret key of an armored block (Flux's `git.asc`) and prove the
    /// passphrase unlocks it by making a throwaway signature.
    pub fn from_armored(armored: &[u8], passphrase: Option<&[u8]>) -> Result<Self, SignError> {
        let (key, _) =
            SignedSecretKey::from_armor_single(armored).map_err(|e| SignError::InvalidKey {
                reason: format!("not an armored OpenPGP secret key: {e}"),
            })?;
        let signer = choose_signer(&key)?;
        let passphrase = passphrase
            .map(Password::from)
            .unwrap_or_else(Password::empty);
        let signing = SigningKey {
            key,
            signer,
            passphrase,
        };
        signing.detached(b"driftless signing check", 0)?;
        Ok(signing)
    }

    /// Long key id of the primary key, upper-case hex (as gpg and Flux print it).
    pub fn key_id(&self) -> String {
        self.key.primary_key.key_id().to_string().to_uppercase()
    }

    /// An armored detached signature over `payload`, created at `time` (Unix seconds).
    pub fn detached(&self, payload: &[u8], time: i64) -> Result<String, SignError> {
        match self.signer {
            Signer::Primary => self.sign_with(&self.key.primary_key, payload, time),
            Signer::Subkey(i) => match self.key.secret_subkeys.get(i) {
                Some(sub) => self.sign_with(&sub.key, payload, time),
                None => Err(SignError::NoSigningKey {
                    key_id: self.key_id(),
                }),
            },
        }
    }

    fn sign_with<K: SecretKeyTrait + KeyDetails>(
        &self,
        key: &K,
        payload: &[u8],
        time: i64,
    ) -> Result<String, SignError> {
        let failed = |reason: String| SignError::Signing {
            key_id: self.key_id(),
            reason,
        };
        let created = chrono::DateTime::from_timestamp(time, 0).unwrap_or_default();
        let mut config = SignatureConfig::v4(
            SignatureType::Binary,
            key.algorithm(),
            HashAlgorithm::Sha256,
        );
        config.hashed_subpackets = vec![
            Subpacket::regular(SubpacketData::SignatureCreationTime(created))
                .map_err(|e| failed(e.to_string()))?,
            Subpacket::regular(SubpacketData::IssuerFingerprint(key.fingerprint()))
                .map_err(|e| failed(e.to_string()))?,
        ];
        config.unhashed_subpackets = vec![
            Subpacket::regular(SubpacketData::Issuer(key.key_id()))
                .map_err(|e| failed(e.to_string()))?,
        ];
        // The pgp crate's error for a wrong passphrase does not say so; any failure here
        // is reported as a locked key, which is what users hit in practice.
        let signature =
            config
                .sign(key, &self.passphrase, payload)
                .map_err(|_| SignError::Locked {
                    key_id: self.key_id(),
                })?;
        StandaloneSignature::new(signature)
            .to_armored_string(ArmorOptions::default())
            .map_err(|e| failed(e.to_string()))
    }
}

/// The primary key when its self-signatures allow signing (or say nothing), else the first
/// subkey flagged for signing.
fn choose_signer(key: &SignedSecretKey) -> Result<Signer, SignError> {
    let primary_flags = key
        .details
        .users
        .iter()
        .flat_map(|u| u.signatures.iter())
        .chain(key.details.direct_signatures.iter())
        .map(|s| s.key_flags())
        .collect::<Vec<_>>();
    if primary_flags.is_empty() || primary_flags.iter().any(|f| f.sign()) {
        return Ok(Signer::Primary);
    }
    key.secret_subkeys
        .iter()
        .position(|sub| sub.signatures.iter().any(|s| s.key_flags().sign()))
        .map(Signer::Subkey)
        .ok_or_else(|| SignError::NoSigningKey {
            key_id: key.primary_key.key_id().to_string().to_uppercase(),
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    const FLUX: &[u8] = include_bytes!("../testdata/signing/flux.sec.asc");
    const GUARDED: &[u8] = include_bytes!("../testdata/signing/guarded.sec.asc");

    #[test]
    fn an_unprotected_key_signs_and_reports_gpgs_long_key_id() {
        let key = SigningKey::from_armored(FLUX, None).expect("key");
        assert_eq!(key.key_id(), "A42E5C88FFDDA76B");
        let sig = key.detached(b"payload", 1_700_000_000).expect("signs");
        assert!(sig.starts_with("-----BEGIN PGP SIGNATURE-----"), "{sig}");
    }

    #[test]
    fn a_protected_key_needs_its_passphrase() {
        let err = SigningKey::from_armored(GUARDED, None).expect_err("locked");
        assert!(matches!(err, SignError::Locked { .. }), "{err}");
        let err = SigningKey::from_armored(GUARDED, Some(b"hunter2")).expect_err("locked");
        assert!(err.to_string().contains("584E0A9B794A8C09"), "{err}");
        assert!(!err.to_string().contains("hunter2"), "{err}");
        SigningKey::from_armored(GUARDED, Some(b"correct horse")).expect("unlocks");
    }

    #[test]
    fn garbage_is_an_invalid_key() {
        let err = SigningKey::from_armored(b"not a key", None).expect_err("invalid");
        assert!(matches!(err, SignError::InvalidKey { .. }), "{err}");
    }
}
