//! sops's value encryption: `ENC[AES256_GCM,data:…,iv:…,tag:…,type:…]`,
//! AES-256-GCM with the value's tree path (`a:b:`) as additional data and the
//! plaintext's type recorded beside it.

use std::sync::LazyLock;

use aes_gcm::aead::consts::{U12, U32};
use aes_gcm::aead::generic_array::GenericArray;
use aes_gcm::aead::{Aead, KeyInit, Payload};
use aes_gcm::aes::Aes256;
use aes_gcm::{AesGcm, Key};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use regex::Regex;

use crate::tree::{Comment, Value};

/// sops writes 32-byte IVs; 12-byte ones are GCM's standard size and accepted too.
type Gcm32 = AesGcm<Aes256, U32>;
type Gcm12 = AesGcm<Aes256, U12>;

const TAG_LEN: usize = 16;

// Greedy and anchored only at the start, as sops matches it.
static ENC: LazyLock<Option<Regex>> =
    LazyLock::new(|| Regex::new(r"^ENC\[AES256_GCM,data:(.+),iv:(.+),tag:(.+),type:(.+)\]").ok());

/// Why a value could not be decrypted; the caller adds the path.
#[derive(Debug, PartialEq)]
pub(crate) enum CipherError {
    /// Not an `ENC[...]` string, or its base64 parts do not decode.
    Malformed,
    /// GCM authentication failed: wrong key, wrong path or altered bytes.
    Auth,
    /// The plaintext does not parse as its recorded type.
    Type(String),
}

/// Whether `s` looks like an encrypted sops value.
pub(crate) fn is_enc(s: &str) -> bool {
    s.starts_with("ENC[AES256_GCM,")
}

/// Decrypts one value with the data key and the additional data. An empty
/// string stays an empty string, as sops never encrypts empty values.
pub(crate) fn decrypt(ciphertext: &str, key: &[u8; 32], aad: &str) -> Result<Value, CipherError> {
    if ciphertext.is_empty() {
        return Ok(Value::Str(String::new()));
    }
    let re = ENC.as_ref().ok_or(CipherError::Malformed)?;
    let caps = re.captures(ciphertext).ok_or(CipherError::Malformed)?;
    let part = |i: usize| -> Result<Vec<u8>, CipherError> {
        let text = caps.get(i).map(|m| m.as_str()).unwrap_or_default();
        STANDARD.decode(text).map_err(|_| CipherError::Malformed)
    };
    let (mut data, iv, tag) = (part(1)?, part(2)?, part(3)?);
    let datatype = caps.get(4).map(|m| m.as_str()).unwrap_or_default();
    if tag.len() != TAG_LEN {
        return Err(CipherError::Malformed);
    }
    data.extend_from_slice(&tag);
    let payload = Payload {
        msg: &data,
        aad: aad.as_bytes(),
    };
    let key = Key::<Gcm32>::from_slice(key);
    let plain = match iv.len() {
        32 => Gcm32::new(key).decrypt(GenericArray::from_slice(&iv), payload),
        12 => Gcm12::new(key).decrypt(GenericArray::from_slice(&iv), payload),
        _ => return Err(CipherError::Malformed),
    }
    .map_err(|_| CipherError::Auth)?;
    typed(plain, datatype)
}

fn typed(plain: Vec<u8>, datatype: &str) -> Result<Value, CipherError> {
    let text = match String::from_utf8(plain) {
        Ok(s) => s,
        Err(e) => String::from_utf8_lossy(e.as_bytes()).into_owned(),
    };
    let bad = |what: &str| CipherError::Type(format!("decrypted {what} does not parse"));
    Ok(match datatype {
        "str" | "bytes" => Value::Str(text),
        "int" => Value::Int(go_atoi(&text).ok_or_else(|| bad("int"))?),
        "float" => Value::Float(text.parse::<f64>().map_err(|_| bad("float"))?),
        "bool" => Value::Bool(go_parse_bool(&text).ok_or_else(|| bad("bool"))?),
        "time" => Value::Time(text),
        "comment" => Value::Comment(Comment {
            text,
            inline: false,
        }),
        other => return Err(CipherError::Type(format!("unknown datatype {other:?}"))),
    })
}

/// Go's `strconv.Atoi`: an optional sign and decimal digits only.
fn go_atoi(s: &str) -> Option<i64> {
    let digits = s.strip_prefix(['+', '-']).unwrap_or(s);
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    s.parse().ok()
}

/// Go's `strconv.ParseBool`.
fn go_parse_bool(s: &str) -> Option<bool> {
    match s {
        "1" | "t" | "T" | "true" | "TRUE" | "True" => Some(true),
        "0" | "f" | "F" | "false" | "FALSE" | "False" => Some(false),
        _ => None,
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// Encrypts like sops does, for unit tests of the decrypting side.
    pub(crate) fn seal(
        plain: &str,
        datatype: &str,
        key: &[u8; 32],
        aad: &str,
        iv: [u8; 32],
    ) -> String {
        let gcm = Gcm32::new(Key::<Gcm32>::from_slice(key));
        let out = gcm
            .encrypt(
                GenericArray::from_slice(&iv),
                Payload {
                    msg: plain.as_bytes(),
                    aad: aad.as_bytes(),
                },
            )
            .expect("seal");
        let (data, tag) = out.split_at(out.len() - TAG_LEN);
        format!(
            "ENC[AES256_GCM,data:{},iv:{},tag:{},type:{datatype}]",
            STANDARD.encode(data),
            STANDARD.encode(iv),
            STANDARD.encode(tag)
        )
    }

    #[test]
    fn a_value_decrypts_to_its_recorded_type() {
        let key = [7u8; 32];
        let enc = seal("42", "int", &key, "a:b:", [1u8; 32]);
        assert_eq!(decrypt(&enc, &key, "a:b:"), Ok(Value::Int(42)));
        let enc = seal("True", "bool", &key, "x:", [2u8; 32]);
        assert_eq!(decrypt(&enc, &key, "x:"), Ok(Value::Bool(true)));
    }

    #[test]
    fn a_value_moved_to_another_path_fails_authentication() {
        let key = [7u8; 32];
        let enc = seal("secret", "str", &key, "a:", [1u8; 32]);
        assert_eq!(decrypt(&enc, &key, "b:"), Err(CipherError::Auth));
    }

    #[test]
    fn a_truncated_enc_string_is_malformed() {
        let key = [7u8; 32];
        let enc = seal("secret", "str", &key, "a:", [1u8; 32]);
        assert_eq!(decrypt(&enc[..20], &key, "a:"), Err(CipherError::Malformed));
    }
}
