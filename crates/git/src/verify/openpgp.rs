//! OpenPGP: trusted key rings and detached signatures over Git objects.
//!
//! A key is read once with what decides its validity: its revocation, its expiry (from the
//! newest self-signature), and for each subkey whether it is bound for signing, revoked or
//! expired. A signature that verifies with a key is accepted only if that key (and the subkey
//! that made it) is valid now, as GnuPG judges it (git refuses `EXPKEYSIG` and `REVKEYSIG`).
//! Third-party certifications on user ids are ignored rather than failing the key.

use chrono::{DateTime, Utc};
use pgp::composed::{Deserializable, SignedPublicKey, StandaloneSignature};
use pgp::packet::{self, Signature, SignatureType};
use pgp::types::{KeyDetails, PublicKeyTrait, Tag};

use super::VerifyError;

/// What makes a trusted key that verified a signature unfit to vouch for it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum KeyProblem {
    #[error("key {key_id} expired on {at}")]
    Expired { key_id: String, at: DateTime<Utc> },

    #[error("key {key_id} is revoked{}", reason_suffix(.reason))]
    Revoked {
        key_id: String,
        reason: Option<String>,
    },

    #[error("signing subkey {subkey_id} of key {key_id} expired on {at}")]
    SubkeyExpired {
        key_id: String,
        subkey_id: String,
        at: DateTime<Utc>,
    },

    #[error("signing subkey {subkey_id} of key {key_id} is revoked{}", reason_suffix(.reason))]
    SubkeyRevoked {
        key_id: String,
        subkey_id: String,
        reason: Option<String>,
    },

    #[error("subkey {subkey_id} of key {key_id} is not bound for signing")]
    SubkeyNotForSigning { key_id: String, subkey_id: String },

    #[error("the signature by key {key_id} expired on {at}")]
    SignatureExpired { key_id: String, at: DateTime<Utc> },
}

fn reason_suffix(reason: &Option<String>) -> String {
    reason
        .as_deref()
        .map(|r| format!(" ({r})"))
        .unwrap_or_default()
}

/// A primary key with its validity worked out from its (verified) self-signatures.
#[derive(Clone, Debug)]
pub(super) struct TrustedKey {
    primary: packet::PublicKey,
    id: String,
    expires: Option<DateTime<Utc>>,
    revoked: Option<Option<String>>,
    subkeys: Vec<TrustedSubkey>,
}

#[derive(Clone, Debug)]
struct TrustedSubkey {
    key: packet::PublicSubkey,
    id: String,
    expires: Option<DateTime<Utc>>,
    revoked: Option<Option<String>>,
    signs: bool,
}

/// Read an armored key ring (one or more keys); `entry` names it in errors.
pub(super) fn read_key_ring(entry: &str, armored: &[u8]) -> Result<Vec<TrustedKey>, VerifyError> {
    let invalid = |reason: String| VerifyError::InvalidKeyRing {
        entry: entry.to_string(),
        reason,
    };
    let (parsed, _) =
        SignedPublicKey::from_armor_many(armored).map_err(|e| invalid(e.to_string()))?;
    let mut keys = Vec::new();
    for key in parsed {
        let key = key.map_err(|e| invalid(e.to_string()))?;
        keys.push(TrustedKey::new(&key).map_err(invalid)?);
    }
    if keys.is_empty() {
        return Err(invalid("no public key found".into()));
    }
    Ok(keys)
}

fn upper_id(key: &impl KeyDetails) -> String {
    key.key_id().to_string().to_uppercase()
}

fn revocation_reason(sig: &Signature) -> Option<String> {
    sig.revocation_reason_string()
        .map(|r| String::from_utf8_lossy(r).trim().to_string())
        .filter(|r| !r.is_empty())
}

/// The newest of `sigs` by creation time.
fn newest<'a>(sigs: impl Iterator<Item = &'a Signature>) -> Option<&'a Signature> {
    sigs.max_by_key(|s| s.created().copied())
}

/// When a key created at `created` expires under `sig`; `None` (or zero) means never.
fn expiry(created: &DateTime<Utc>, sig: &Signature) -> Option<DateTime<Utc>> {
    sig.key_expiration_time()
        .filter(|d| !d.is_zero())
        .map(|d| *created + *d)
}

impl TrustedKey {
    fn new(key: &SignedPublicKey) -> Result<TrustedKey, String> {
        let primary = &key.primary_key;
        let id = upper_id(primary);
        let self_certs = key.details.users.iter().flat_map(|user| {
            user.signatures.iter().filter(move |sig| {
                sig.typ() != Some(SignatureType::CertRevocation)
                    && sig
                        .verify_certification(primary, Tag::UserId, &user.id)
                        .is_ok()
            })
        });
        let direct =
            key.details.direct_signatures.iter().filter(|sig| {
                sig.typ() == Some(SignatureType::Key) && sig.verify_key(primary).is_ok()
            });
        let Some(newest_self) = newest(self_certs.chain(direct)) else {
            return Err(format!("key {id} has no valid self-signature"));
        };
        let revoked = key
            .details
            .revocation_signatures
            .iter()
            .find(|sig| sig.verify_key(primary).is_ok())
            .map(revocation_reason);
        let subkeys = key
            .public_subkeys
            .iter()
            .filter_map(|sub| TrustedSubkey::new(primary, sub))
            .collect();
        Ok(TrustedKey {
            primary: primary.clone(),
            expires: expiry(primary.created_at(), newest_self),
            id,
            revoked,
            subkeys,
        })
    }

    /// Whether the key vouches for signatures at `now`.
    fn check(&self, now: DateTime<Utc>) -> Result<(), KeyProblem> {
        if let Some(reason) = &self.revoked {
            return Err(KeyProblem::Revoked {
                key_id: self.id.clone(),
                reason: reason.clone(),
            });
        }
        match self.expires {
            Some(at) if at <= now => Err(KeyProblem::Expired {
                key_id: self.id.clone(),
                at,
            }),
            _ => Ok(()),
        }
    }
}

impl TrustedSubkey {
    /// The subkey as its newest valid binding describes it; `None` without a valid binding.
    fn new(primary: &packet::PublicKey, sub: &pgp::composed::SignedPublicSubKey) -> Option<Self> {
        let bound = |sig: &&Signature| {
            sig.typ() == Some(SignatureType::SubkeyBinding)
                && sig.verify_subkey_binding(primary, &sub.key).is_ok()
        };
        let binding = newest(sub.signatures.iter().filter(bound))?;
        // A signing subkey must certify its primary back (the embedded binding), or anyone
        // could claim someone else's key as their signing subkey.
        let signs = binding.key_flags().sign()
            && binding
                .embedded_signature()
                .is_some_and(|back| back.verify_primary_key_binding(&sub.key, primary).is_ok());
        let revoked = sub
            .signatures
            .iter()
            .filter(|sig| sig.typ() == Some(SignatureType::SubkeyRevocation))
            .find(|sig| sig.verify_subkey_binding(primary, &sub.key).is_ok())
            .map(revocation_reason);
        Some(TrustedSubkey {
            id: upper_id(&sub.key),
            expires: expiry(sub.key.created_at(), binding),
            key: sub.key.clone(),
            revoked,
            signs,
        })
    }

    fn check(&self, key_id: &str, now: DateTime<Utc>) -> Result<(), KeyProblem> {
        let (key_id, subkey_id) = (key_id.to_string(), self.id.clone());
        if let Some(reason) = &self.revoked {
            return Err(KeyProblem::SubkeyRevoked {
                key_id,
                subkey_id,
                reason: reason.clone(),
            });
        }
        if !self.signs {
            return Err(KeyProblem::SubkeyNotForSigning { key_id, subkey_id });
        }
        match self.expires {
            Some(at) if at <= now => Err(KeyProblem::SubkeyExpired {
                key_id,
                subkey_id,
                at,
            }),
            _ => Ok(()),
        }
    }
}

/// Check an armored detached signature over `payload` against `keys` at `now`; returns the
/// long id of the primary key.
pub(super) fn verify(
    keys: &[TrustedKey],
    armored: &[u8],
    payload: &[u8],
    now: DateTime<Utc>,
) -> Result<String, VerifyError> {
    let (signature, _) = StandaloneSignature::from_armor_single(armored).map_err(|e| {
        VerifyError::MalformedSignature {
            reason: e.to_string(),
        }
    })?;
    if keys.is_empty() {
        return Err(VerifyError::NoKeyRings);
    }
    // A key that made the signature but is no longer valid is reported only if no other key
    // ring vouches for it (the same key may come fresher, e.g. with its expiry extended).
    let mut problem = None;
    for key in keys {
        let verdict = if signature.verify(&key.primary, payload).is_ok() {
            Some(key.check(now))
        } else {
            key.subkeys
                .iter()
                .find(|sub| signature.verify(&sub.key, payload).is_ok())
                .map(|sub| key.check(now).and_then(|()| sub.check(&key.id, now)))
        };
        let verdict = verdict.map(|v| v.and_then(|()| signature_lifetime(&signature, key, now)));
        match verdict {
            Some(Ok(())) => return Ok(key.id.clone()),
            Some(Err(p)) => {
                problem.get_or_insert(p);
            }
            None => {}
        }
    }
    Err(problem.map_or(VerifyError::NoMatchingKey, VerifyError::InvalidSigningKey))
}

/// A signature may carry its own expiry.
fn signature_lifetime(
    signature: &StandaloneSignature,
    key: &TrustedKey,
    now: DateTime<Utc>,
) -> Result<(), KeyProblem> {
    let sig = &signature.signature;
    let lifetime = sig.signature_expiration_time().filter(|d| !d.is_zero());
    match (sig.created(), lifetime) {
        (Some(created), Some(lifetime)) if *created + *lifetime <= now => {
            Err(KeyProblem::SignatureExpired {
                key_id: key.id.clone(),
                at: *created + *lifetime,
            })
        }
        _ => Ok(()),
    }
}
