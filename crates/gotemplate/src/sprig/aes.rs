//! Sprig's `encryptAES` and `decryptAES`: AES-256-CBC under the password's
//! first 32 bytes (zero-padded), PKCS#7-style padding, a random IV in front,
//! all base64. Bad input fails with the texts Go's runtime panics carry,
//! because Go's template engine turns those panics into the error helm prints.

use aes::Aes256;
use aes::cipher::{BlockDecrypt, BlockEncrypt, KeyInit, generic_array::GenericArray};
use base64::Engine;

use crate::funcs::{FuncMap, Ty};
use crate::value::Value;

const BLOCK: usize = 16;

fn cipher(password: &str) -> Aes256 {
    let mut key = [0u8; 32];
    let bytes = password.as_bytes();
    let n = bytes.len().min(32);
    key[..n].copy_from_slice(&bytes[..n]);
    Aes256::new(&GenericArray::from(key))
}

pub fn encrypt(password: &str, plaintext: &str) -> Result<String, String> {
    if plaintext.is_empty() {
        return Ok(String::new());
    }
    let aes = cipher(password);
    let mut content = plaintext.as_bytes().to_vec();
    let pad = BLOCK - content.len() % BLOCK;
    content.extend(std::iter::repeat_n(pad as u8, pad));
    let mut iv = [0u8; BLOCK];
    getrandom::fill(&mut iv).map_err(|e| e.to_string())?;
    let mut out = iv.to_vec();
    let mut prev = iv;
    for chunk in content.chunks(BLOCK) {
        let mut block = [0u8; BLOCK];
        for (i, b) in chunk.iter().enumerate() {
            block[i] = b ^ prev[i];
        }
        let mut ga = GenericArray::from(block);
        aes.encrypt_block(&mut ga);
        prev.copy_from_slice(&ga);
        out.extend_from_slice(&ga);
    }
    Ok(base64::engine::general_purpose::STANDARD.encode(out))
}

pub fn decrypt(password: &str, crypt64: &str) -> Result<String, String> {
    if crypt64.is_empty() {
        return Ok(String::new());
    }
    let crypt = base64::engine::general_purpose::STANDARD
        .decode(crypt64)
        .map_err(|e| super::misc::go_base64_error(crypt64, e))?;
    if crypt.len() < BLOCK {
        return Err(format!(
            "runtime error: slice bounds out of range [:{BLOCK}] with capacity {}",
            crypt.len()
        ));
    }
    let (iv, body) = crypt.split_at(BLOCK);
    if body.len() % BLOCK != 0 {
        return Err("crypto/cipher: input not full blocks".to_string());
    }
    let aes = cipher(password);
    let mut plain = Vec::with_capacity(body.len());
    let mut prev: &[u8] = iv;
    for chunk in body.chunks(BLOCK) {
        let mut ga = GenericArray::clone_from_slice(chunk);
        aes.decrypt_block(&mut ga);
        plain.extend(ga.iter().zip(prev).map(|(a, b)| a ^ b));
        prev = chunk;
    }
    let Some(&last) = plain.last() else {
        return Err("runtime error: index out of range [-1]".to_string());
    };
    let end = plain.len() as i64 - last as i64;
    if end < 0 {
        return Err(format!("runtime error: slice bounds out of range [:{end}]"));
    }
    plain.truncate(end as usize);
    // Go strings carry any bytes; ours are UTF-8, so a wrong key's garbage is
    // shown with replacement characters.
    Ok(String::from_utf8_lossy(&plain).into_owned())
}

pub fn register(m: &mut FuncMap) {
    m.add("encryptAES", &[Ty::Str, Ty::Str], None, |a| {
        encrypt(
            a[0].as_str().unwrap_or_default(),
            a[1].as_str().unwrap_or_default(),
        )
        .map(Value::str)
    });
    m.add("decryptAES", &[Ty::Str, Ty::Str], None, |a| {
        decrypt(
            a[0].as_str().unwrap_or_default(),
            a[1].as_str().unwrap_or_default(),
        )
        .map(Value::str)
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decrypting_what_was_encrypted_gives_the_text_back() {
        let long_key = "k".repeat(40);
        for text in ["a", "exactly sixteen!", "a longer text spanning blocks ü"] {
            let c = encrypt(&long_key, text).expect("encrypt");
            assert_eq!(decrypt(&long_key, &c).expect("decrypt"), text);
        }
    }

    #[test]
    fn ciphertext_is_iv_plus_padded_blocks() {
        let c = encrypt("k", "exactly sixteen!").expect("encrypt");
        let raw = base64::engine::general_purpose::STANDARD
            .decode(c)
            .expect("b64");
        assert_eq!(raw.len(), 48);
    }
}
