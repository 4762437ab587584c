//! Signature verification of commits and annotated tags, as source-controller's `spec.verify`
//! does it: OpenPGP signatures against armored key rings, SSH signatures (the `SSHSIG` format
//! `git -c gpg.format=ssh` writes) against `authorized_keys` entries.
//!
//! The signature block of each object picks its verifier, so one set of trusted keys can hold
//! both kinds. A verified OpenPGP signature reports the long id of the primary key (Flux's
//! `5982D0279C227FFD`), a verified SSH signature the key's `SHA256:<base64>` fingerprint.

mod objects;
mod openpgp;
mod ssh;

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};

pub(crate) use objects::read_tag;
pub use objects::{SignedObjects, TagObject, split_commit, split_tag, tag_is_signed};
pub use openpgp::KeyProblem;
pub use ssh::SshMismatch;

const PGP_BEGIN: &[u8] = b"-----BEGIN PGP SIGNATURE-----";
const SSH_BEGIN: &[u8] = b"-----BEGIN SSH SIGNATURE-----";

/// Why a signature was not accepted. The texts follow Flux's where users compare them; where
/// Flux only says that nothing matched, the reason follows after a colon.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum VerifyError {
    #[error("unable to verify payload as the provided signature is empty")]
    Unsigned,

    #[error("unable to verify openPGP signature, detected signature format: {format}")]
    UnsupportedFormat { format: &'static str },

    #[error("unable to read armored signature: {reason}")]
    MalformedSignature { reason: String },

    #[error("unable to read armored key ring '{entry}': {reason}")]
    InvalidKeyRing { entry: String, reason: String },

    #[error("unable to verify payload with any of the given key rings")]
    NoMatchingKey,

    /// An OpenPGP signature came in but no key ring is trusted (e.g. only `.sshpub` entries).
    #[error(
        "unable to verify payload with any of the given key rings: no OpenPGP key rings were given (Secret entries ending in '.asc' or without a recognised suffix)"
    )]
    NoKeyRings,

    /// The signature verifies with a trusted key that is no longer valid.
    #[error("unable to verify payload with any of the given key rings: {0}")]
    InvalidSigningKey(KeyProblem),

    #[error("unable to unarmor SSH signature: {reason}")]
    MalformedSshSignature { reason: String },

    #[error("unable to parse authorized keys '{entry}': {reason}")]
    InvalidAuthorizedKeys { entry: String, reason: String },

    #[error("unable to verify payload with any of the given authorized keys: {0}")]
    NoMatchingAuthorizedKey(SshMismatch),
}

/// The kind of signature block an object carries; it decides which keys can verify it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SignatureFormat {
    /// No signature at all.
    Empty,
    /// `-----BEGIN PGP SIGNATURE-----`
    OpenPgp,
    /// `-----BEGIN SSH SIGNATURE-----`
    Ssh,
    /// Anything else (e.g. an X.509 `SIGNED MESSAGE`).
    Unknown,
}

impl SignatureFormat {
    /// The format of an armored signature block (surrounding whitespace ignored).
    pub fn of(signature: &[u8]) -> SignatureFormat {
        let signature = signature.trim_ascii();
        if signature.is_empty() {
            SignatureFormat::Empty
        } else if signature.starts_with(PGP_BEGIN) {
            SignatureFormat::OpenPgp
        } else if signature.starts_with(SSH_BEGIN) {
            SignatureFormat::Ssh
        } else {
            SignatureFormat::Unknown
        }
    }

    /// The format of a commit object's `gpgsig` signature.
    pub fn of_commit(commit: &[u8]) -> SignatureFormat {
        SignatureFormat::of(&split_commit(commit).0)
    }

    /// The format of the signature appended to an annotated tag.
    pub fn of_tag(tag: &[u8]) -> SignatureFormat {
        SignatureFormat::of(split_tag(tag).0)
    }
}

/// The public keys a GitRepository trusts (the values of its `verify.secretRef` Secret).
#[derive(Clone, Debug, Default)]
pub struct TrustedKeys {
    pgp: Vec<openpgp::TrustedKey>,
    ssh: Vec<ssh::AuthorizedKey>,
}

impl TrustedKeys {
    /// Entries ending in `.sshpub` hold SSH public keys in `authorized_keys` format; every
    /// other entry (`.asc`, or no recognised suffix, for backward compatibility) is an armored
    /// OpenPGP key ring.
    pub fn from_secret_data(data: &BTreeMap<String, Vec<u8>>) -> Result<Self, VerifyError> {
        let mut keys = TrustedKeys::default();
        for (entry, value) in data {
            if entry.ends_with(".sshpub") {
                keys.add_authorized_keys(entry, value)?;
            } else {
                keys.add_armored(entry, value)?;
            }
        }
        Ok(keys)
    }

    /// Add the keys of one armored OpenPGP key ring; `entry` names it in errors.
    pub fn add_armored(&mut self, entry: &str, armored: &[u8]) -> Result<(), VerifyError> {
        self.pgp.extend(openpgp::read_key_ring(entry, armored)?);
        Ok(())
    }

    /// Add the keys of one `authorized_keys` text (one key per line, options and comments
    /// allowed, blank and `#` lines skipped); `entry` names it in errors.
    pub fn add_authorized_keys(&mut self, entry: &str, text: &[u8]) -> Result<(), VerifyError> {
        self.ssh.extend(ssh::read_authorized_keys(entry, text)?);
        Ok(())
    }

    /// How many keys are trusted (OpenPGP and SSH).
    pub fn len(&self) -> usize {
        self.pgp.len() + self.ssh.len()
    }

    /// Whether no key is trusted.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Check an armored detached `signature` over `payload` with the verifier its format asks
    /// for; returns the OpenPGP long key id (upper-case hex) or the SSH `SHA256:` fingerprint.
    pub fn verify(&self, signature: &[u8], payload: &[u8]) -> Result<String, VerifyError> {
        self.verify_at(signature, payload, Utc::now())
    }

    /// [`TrustedKeys::verify`] with key validity (expiry) judged at `now`.
    pub fn verify_at(
        &self,
        signature: &[u8],
        payload: &[u8],
        now: DateTime<Utc>,
    ) -> Result<String, VerifyError> {
        let signature = signature.trim_ascii();
        match SignatureFormat::of(signature) {
            SignatureFormat::Empty => Err(VerifyError::Unsigned),
            SignatureFormat::OpenPgp => openpgp::verify(&self.pgp, signature, payload, now),
            SignatureFormat::Ssh => ssh::verify(&self.ssh, signature, payload),
            SignatureFormat::Unknown => Err(VerifyError::UnsupportedFormat { format: "unknown" }),
        }
    }

    /// Verify a commit object's `gpgsig` signature.
    pub fn verify_commit(&self, commit: &[u8]) -> Result<String, VerifyError> {
        let (signature, payload) = split_commit(commit);
        self.verify(&signature, &payload)
    }

    /// Verify the signature appended to an annotated tag's message.
    pub fn verify_tag(&self, tag: &[u8]) -> Result<String, VerifyError> {
        let (signature, payload) = split_tag(tag);
        self.verify(signature, payload)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_signature_block_names_its_format() {
        assert_eq!(SignatureFormat::of(b""), SignatureFormat::Empty);
        assert_eq!(SignatureFormat::of(b" \n"), SignatureFormat::Empty);
        assert_eq!(
            SignatureFormat::of(b"\n-----BEGIN PGP SIGNATURE-----\nx\n"),
            SignatureFormat::OpenPgp
        );
        assert_eq!(
            SignatureFormat::of(b"-----BEGIN SSH SIGNATURE-----\nx\n"),
            SignatureFormat::Ssh
        );
        assert_eq!(
            SignatureFormat::of(b"-----BEGIN SIGNED MESSAGE-----\nx\n"),
            SignatureFormat::Unknown
        );
        let tag = b"object o\n\nrelease\n-----BEGIN SSH SIGNATURE-----\nU1NIU0lH\n-----END SSH SIGNATURE-----\n";
        assert_eq!(SignatureFormat::of_tag(tag), SignatureFormat::Ssh);
        assert_eq!(
            SignatureFormat::of_commit(b"tree t\n\nmsg\n"),
            SignatureFormat::Empty
        );
    }

    #[test]
    fn an_unknown_signature_format_is_named_as_unsupported() {
        let err = TrustedKeys::default()
            .verify(b"-----BEGIN SIGNED MESSAGE-----\nabc\n", b"x")
            .expect_err("x509");
        assert_eq!(
            err.to_string(),
            "unable to verify openPGP signature, detected signature format: unknown"
        );
    }

    #[test]
    fn a_secret_entry_that_is_not_a_key_ring_is_named_in_the_error() {
        let data = BTreeMap::from([("author.asc".to_string(), b"garbage".to_vec())]);
        let err = TrustedKeys::from_secret_data(&data).expect_err("invalid");
        assert!(err.to_string().contains("'author.asc'"), "{err}");
    }

    #[test]
    fn a_secret_entry_ending_in_sshpub_is_read_as_authorized_keys() {
        let data = BTreeMap::from([(
            "author.sshpub".to_string(),
            b"# the release key\nssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAILfxQO765zMeCVDcBg88RjDVd8meC3liQ6687Z4ik8/t release@example.com\n".to_vec(),
        )]);
        let keys = TrustedKeys::from_secret_data(&data).expect("authorized keys");
        assert_eq!(keys.len(), 1);
        let data = BTreeMap::from([(
            "author.sshpub".to_string(),
            b"ssh-ed25519 nonsense\n".to_vec(),
        )]);
        let err = TrustedKeys::from_secret_data(&data).expect_err("invalid");
        assert!(
            err.to_string()
                .starts_with("unable to parse authorized keys 'author.sshpub': line 1:"),
            "{err}"
        );
    }
}
