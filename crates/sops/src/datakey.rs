//! Recovers the file's data key: each key group yields its share from the
//! first master key our keyring can open; one group is the key itself,
//! several are combined with Shamir's secret sharing.

use std::io::Read as _;

use pgp::composed::{Message, TheRing};
use pgp::types::Password;

use crate::error::SopsError;
use crate::keys::Keyring;
use crate::metadata::{MasterKey, Metadata};
use crate::shamir;

/// The data key of a file, or an error listing every recipient tried.
pub(crate) fn data_key(meta: &Metadata, keys: &Keyring) -> Result<[u8; 32], SopsError> {
    let mut attempts = Vec::new();
    let mut shares = Vec::new();
    for group in &meta.key_groups {
        if let Some(share) = open_group(group, keys, &mut attempts) {
            shares.push(share);
        }
    }
    let secret = if meta.key_groups.len() > 1 {
        let threshold = meta.shamir_threshold.max(1);
        if shares.len() < threshold {
            return Err(SopsError::ShamirThreshold {
                groups: meta.key_groups.len(),
                recovered: shares.len(),
                threshold,
                attempts,
            });
        }
        shamir::combine(&shares).map_err(SopsError::Shamir)?
    } else {
        shares.pop().ok_or(SopsError::NoDataKey { attempts })?
    };
    <[u8; 32]>::try_from(secret.as_slice())
        .map_err(|_| SopsError::Metadata(format!("the data key is {} bytes, not 32", secret.len())))
}

fn open_group(group: &[MasterKey], keys: &Keyring, attempts: &mut Vec<String>) -> Option<Vec<u8>> {
    // age before PGP, as sops's default decryption order has it.
    let ordered = group
        .iter()
        .filter(|k| matches!(k, MasterKey::Age { .. }))
        .chain(group.iter().filter(|k| !matches!(k, MasterKey::Age { .. })));
    for key in ordered {
        let result = match key {
            MasterKey::Age { enc, .. } => open_age(enc, keys),
            MasterKey::Pgp { enc, .. } => open_pgp(enc, keys),
            MasterKey::Other { .. } => Err("not supported by driftless".to_owned()),
        };
        match result {
            Ok(share) => return Some(share),
            Err(why) => attempts.push(format!("{}: {why}", key.describe())),
        }
    }
    None
}

fn open_age(enc: &str, keys: &Keyring) -> Result<Vec<u8>, String> {
    if keys.age.is_empty() {
        return Err("no age identity in the keyring".into());
    }
    let armored = age::armor::ArmoredReader::new(enc.as_bytes());
    let decryptor = age::Decryptor::new(armored).map_err(|e| format!("not an age file: {e}"))?;
    let identities = keys.age.iter().map(|i| i as &dyn age::Identity);
    let mut reader = decryptor
        .decrypt(identities)
        .map_err(|_| "none of the age identities matches".to_owned())?;
    read_bounded(&mut reader).map_err(|e| format!("age payload: {e}"))
}

fn open_pgp(enc: &str, keys: &Keyring) -> Result<Vec<u8>, String> {
    if keys.pgp.is_empty() {
        return Err("no OpenPGP secret key in the keyring".into());
    }
    let (message, _) =
        Message::from_string(enc).map_err(|e| format!("not an armored OpenPGP message: {e}"))?;
    let password = Password::empty();
    let ring = TheRing {
        secret_keys: keys.pgp.iter().collect(),
        key_passwords: vec![&password],
        ..Default::default()
    };
    let (mut message, _) = message
        .decrypt_the_ring(ring, true)
        .map_err(|_| "none of the OpenPGP secret keys matches".to_owned())?;
    if message.is_compressed() {
        message = message
            .decompress()
            .map_err(|e| format!("OpenPGP decompression: {e}"))?;
    }
    read_bounded(&mut message).map_err(|e| format!("OpenPGP payload: {e}"))
}

/// A data key (or a Shamir share of one) is a few dozen bytes; reading stops
/// well past that, so a crafted compressed message cannot inflate in memory.
const MAX_KEY_PAYLOAD: u64 = 4096;

fn read_bounded(reader: &mut impl std::io::Read) -> Result<Vec<u8>, String> {
    let mut out = Vec::new();
    reader
        .take(MAX_KEY_PAYLOAD + 1)
        .read_to_end(&mut out)
        .map_err(|e| e.to_string())?;
    if out.len() as u64 > MAX_KEY_PAYLOAD {
        return Err(format!(
            "payload is larger than {MAX_KEY_PAYLOAD} bytes, not a data key"
        ));
    }
    Ok(out)
}
