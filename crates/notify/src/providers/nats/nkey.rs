//! NATS user authentication from the `creds` and `nkey` Secret keys: an Ed25519 seed in NATS's
//! NKey encoding (base32 of prefix bytes, key, CRC-16/XMODEM little-endian), which signs the
//! server's nonce; with `creds`, the user JWT travels along and names the key.

use base64::Engine;
use ring::signature::{Ed25519KeyPair, KeyPair};

/// The NKey prefix byte of a seed (`S…`).
const PREFIX_SEED: u8 = 18 << 3;
/// The NKey prefix byte of a user key (`U…`).
const PREFIX_USER: u8 = 20 << 3;
const BASE32: &[u8; 32] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";

/// A user's signing identity.
pub(crate) struct UserKey {
    key: Ed25519KeyPair,
    jwt: Option<String>,
}

impl UserKey {
    /// From a bare seed (`nkey` Secret key).
    pub(crate) fn from_seed(seed: &str) -> Result<Self, &'static str> {
        Ok(Self {
            key: decode_user_seed(seed.trim())?,
            jwt: None,
        })
    }

    /// From a `.creds` file: the user JWT and the seed between their armour lines.
    pub(crate) fn from_creds(creds: &str) -> Result<Self, &'static str> {
        let jwt = armoured(creds, "NATS USER JWT").ok_or("creds holds no user JWT")?;
        let seed = armoured(creds, "USER NKEY SEED").ok_or("creds holds no user NKey seed")?;
        Ok(Self {
            key: decode_user_seed(seed)?,
            jwt: Some(jwt.to_owned()),
        })
    }

    /// The CONNECT fields proving the identity: `jwt` or `nkey`, and `sig` over `nonce`.
    pub(crate) fn connect_fields(&self, nonce: &str) -> Vec<(&'static str, String)> {
        let sig = base64::engine::general_purpose::URL_SAFE_NO_PAD
            .encode(self.key.sign(nonce.as_bytes()).as_ref());
        let identity = match &self.jwt {
            Some(jwt) => ("jwt", jwt.clone()),
            None => ("nkey", self.public_key()),
        };
        vec![identity, ("sig", sig)]
    }

    /// The public key, NKey-encoded (`U…`).
    pub(crate) fn public_key(&self) -> String {
        let mut raw = vec![PREFIX_USER];
        raw.extend_from_slice(self.key.public_key().as_ref());
        let crc = crc16(&raw);
        raw.extend_from_slice(&crc.to_le_bytes());
        base32_encode(&raw)
    }
}

/// The first non-empty line after `-----BEGIN <label>-----`.
fn armoured<'a>(text: &'a str, label: &str) -> Option<&'a str> {
    let begin = format!("BEGIN {label}");
    let mut lines = text.lines().skip_while(|l| !l.contains(&begin));
    lines.next()?;
    lines
        .map(str::trim)
        .find(|l| !l.is_empty())
        .filter(|l| !l.starts_with("---"))
}

fn decode_user_seed(seed: &str) -> Result<Ed25519KeyPair, &'static str> {
    let raw = base32_decode(seed).ok_or("the NKey seed is not base32")?;
    if raw.len() != 2 + 32 + 2 {
        return Err("the NKey seed has the wrong length");
    }
    let (body, crc) = raw.split_at(raw.len() - 2);
    if crc16(body).to_le_bytes() != [crc[0], crc[1]] {
        return Err("the NKey seed's checksum does not match");
    }
    let kind = ((body[0] & 0b0000_0111) << 5) | (body[1] >> 3);
    if body[0] & 0b1111_1000 != PREFIX_SEED || kind != PREFIX_USER {
        return Err("the NKey seed is not a user seed");
    }
    Ed25519KeyPair::from_seed_unchecked(&body[2..]).map_err(|_| "the NKey seed is not a key")
}

fn crc16(data: &[u8]) -> u16 {
    let mut crc: u16 = 0;
    for &byte in data {
        crc ^= u16::from(byte) << 8;
        for _ in 0..8 {
            crc = if crc & 0x8000 != 0 {
                (crc << 1) ^ 0x1021
            } else {
                crc << 1
            };
        }
    }
    crc
}

fn base32_encode(data: &[u8]) -> String {
    let mut out = String::new();
    let (mut buffer, mut bits) = (0u32, 0u32);
    for &byte in data {
        buffer = (buffer << 8) | u32::from(byte);
        bits += 8;
        while bits >= 5 {
            bits -= 5;
            out.push(char::from(BASE32[((buffer >> bits) & 31) as usize]));
        }
    }
    if bits > 0 {
        out.push(char::from(BASE32[((buffer << (5 - bits)) & 31) as usize]));
    }
    out
}

fn base32_decode(text: &str) -> Option<Vec<u8>> {
    let mut out = Vec::new();
    let (mut buffer, mut bits) = (0u32, 0u32);
    for c in text.bytes() {
        let value = BASE32.iter().position(|&b| b == c)? as u32;
        buffer = (buffer << 5) | value;
        bits += 5;
        if bits >= 8 {
            bits -= 8;
            out.push(((buffer >> bits) & 0xff) as u8);
        }
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use ring::signature::{ED25519, UnparsedPublicKey};

    use super::*;

    /// The example user seed from Flux's NATS provider documentation.
    const DOC_SEED: &str = "SUAGMJH5XLGZKQQWAWKRZJIGMOU4HPFUYLXJMXOO5NLFEO2OOQJ5LPRDPM";

    #[test]
    fn the_documented_user_seed_decodes_and_signs_a_verifiable_nonce() {
        let key = UserKey::from_seed(DOC_SEED).expect("valid seed");
        let public = key.public_key();
        assert!(public.starts_with('U') && public.len() == 56, "{public}");
        let fields = key.connect_fields("nonce-123");
        assert_eq!(fields[0], ("nkey", public.clone()));
        let raw = base32_decode(&public).expect("base32");
        let sig = base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(&fields[1].1)
            .expect("sig");
        UnparsedPublicKey::new(&ED25519, &raw[1..33])
            .verify(b"nonce-123", &sig)
            .expect("the signature verifies with the encoded public key");
    }

    #[test]
    fn a_corrupted_seed_fails_its_checksum() {
        let mut corrupted = DOC_SEED.to_owned();
        corrupted.replace_range(10..11, "A");
        assert!(UserKey::from_seed(&corrupted).is_err());
        assert!(UserKey::from_seed("not base32!").is_err());
    }

    #[test]
    fn creds_files_yield_the_jwt_and_sign_with_its_seed() {
        let creds = format!(
            "-----BEGIN NATS USER JWT-----\neyJhbGciOiJlZDI1NTE5In0.e30.sig\n------END NATS USER JWT------\n\n\
             ************************* IMPORTANT *************************\n\n\
             -----BEGIN USER NKEY SEED-----\n{DOC_SEED}\n------END USER NKEY SEED------\n"
        );
        let key = UserKey::from_creds(&creds).expect("creds");
        let fields = key.connect_fields("n");
        assert_eq!(
            fields[0],
            ("jwt", "eyJhbGciOiJlZDI1NTE5In0.e30.sig".to_owned())
        );
        assert!(UserKey::from_creds("nothing here").is_err());
    }

    #[test]
    fn base32_round_trips() {
        for data in [&b""[..], b"f", b"fo", b"foo", b"foob", b"fooba", b"foobar"] {
            assert_eq!(base32_decode(&base32_encode(data)).as_deref(), Some(data));
        }
        assert_eq!(base32_encode(b"foobar"), "MZXW6YTBOI");
    }
}
