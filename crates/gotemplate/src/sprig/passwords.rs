//! Sprig's password functions: `bcrypt`, `htpasswd` and `derivePassword`
//! (the Master Password algorithm: scrypt over the user, HMAC-SHA256 over
//! the site, and the seed's bytes choosing template characters).

use hmac::{Hmac, Mac};
use sha2::Sha256;

use crate::funcs::{FuncMap, Ty};
use crate::value::Value;

/// Go's `bcrypt.DefaultCost`.
const COST: u32 = 10;
/// Go's bcrypt refuses longer passwords instead of truncating them.
const MAX_PASSWORD: usize = 72;
const SEED: &str = "com.lyndir.masterpassword";

fn bcrypt_hash(input: &str) -> String {
    if input.len() > MAX_PASSWORD {
        return "failed to encrypt string with bcrypt: bcrypt: password length exceeds 72 bytes"
            .to_string();
    }
    match bcrypt::hash_with_result(input, COST) {
        Ok(parts) => parts.format_for_version(bcrypt::Version::TwoA),
        Err(e) => format!("failed to encrypt string with bcrypt: {e}"),
    }
}

/// The templates of one password type; each letter names a character class.
fn templates(kind: &str) -> Option<&'static [&'static str]> {
    Some(match kind {
        "maximum" => &["anoxxxxxxxxxxxxxxxxx", "axxxxxxxxxxxxxxxxxno"],
        "long" => &[
            "CvcvnoCvcvCvcv",
            "CvcvCvcvnoCvcv",
            "CvcvCvcvCvcvno",
            "CvccnoCvcvCvcv",
            "CvccCvcvnoCvcv",
            "CvccCvcvCvcvno",
            "CvcvnoCvccCvcv",
            "CvcvCvccnoCvcv",
            "CvcvCvccCvcvno",
            "CvcvnoCvcvCvcc",
            "CvcvCvcvnoCvcc",
            "CvcvCvcvCvccno",
            "CvccnoCvccCvcv",
            "CvccCvccnoCvcv",
            "CvccCvccCvcvno",
            "CvcvnoCvccCvcc",
            "CvcvCvccnoCvcc",
            "CvcvCvccCvccno",
            "CvccnoCvcvCvcc",
            "CvccCvcvnoCvcc",
            "CvccCvcvCvccno",
        ],
        "medium" => &["CvcnoCvc", "CvcCvcno"],
        "short" => &["Cvcn"],
        "basic" => &["aaanaaan", "aannaaan", "aaannaaa"],
        "pin" => &["nnnn"],
        _ => return None,
    })
}

fn class(letter: u8) -> &'static [u8] {
    match letter {
        b'V' => b"AEIOU",
        b'C' => b"BCDFGHJKLMNPQRSTVWXYZ",
        b'v' => b"aeiou",
        b'c' => b"bcdfghjklmnpqrstvwxyz",
        b'A' => b"AEIOUBCDFGHJKLMNPQRSTVWXYZ",
        b'a' => b"AEIOUaeiouBCDFGHJKLMNPQRSTVWXYZbcdfghjklmnpqrstvwxyz",
        b'n' => b"0123456789",
        b'o' => b"@&%?,=[]_:-+*$#!'^~;()/.",
        _ => b"AEIOUaeiouBCDFGHJKLMNPQRSTVWXYZbcdfghjklmnpqrstvwxyz0123456789!@#$%^&*()",
    }
}

/// `SEED ‖ len(s) as u32 big-endian ‖ s`, the algorithm's salt and message prefix.
fn scoped(s: &str) -> Vec<u8> {
    let mut out = SEED.as_bytes().to_vec();
    out.extend_from_slice(&(s.len() as u32).to_be_bytes());
    out.extend_from_slice(s.as_bytes());
    out
}

pub fn derive_password(counter: u32, kind: &str, password: &str, user: &str, site: &str) -> String {
    let Some(templates) = templates(kind) else {
        return format!("cannot find password template {kind}");
    };
    // N = 32768 (log2 15), r = 8, p = 2, 64 bytes: fixed by the algorithm.
    let mut key = [0u8; 64];
    let derived = scrypt::Params::new(15, 8, 2, 64)
        .map_err(|e| e.to_string())
        .and_then(|params| {
            scrypt::scrypt(password.as_bytes(), &scoped(user), &params, &mut key)
                .map_err(|e| e.to_string())
        });
    if let Err(e) = derived {
        return format!("failed to derive password: {e}");
    }
    let mut message = scoped(site);
    message.extend_from_slice(&counter.to_be_bytes());
    let seed = match Hmac::<Sha256>::new_from_slice(&key) {
        Ok(mut mac) => {
            mac.update(&message);
            mac.finalize().into_bytes()
        }
        Err(e) => return format!("failed to derive password: {e}"),
    };
    let template = templates[seed[0] as usize % templates.len()];
    template
        .bytes()
        .enumerate()
        .map(|(i, letter)| {
            let chars = class(letter);
            chars[seed[i + 1] as usize % chars.len()] as char
        })
        .collect()
}

pub fn register(m: &mut FuncMap) {
    m.add("bcrypt", &[Ty::Str], None, |a| {
        Ok(Value::str(bcrypt_hash(a[0].as_str().unwrap_or_default())))
    });
    m.add("htpasswd", &[Ty::Str, Ty::Str], None, |a| {
        let user = a[0].as_str().unwrap_or_default();
        if user.contains(':') {
            return Ok(Value::str(format!("invalid username: {user}")));
        }
        let hash = bcrypt_hash(a[1].as_str().unwrap_or_default());
        Ok(Value::str(format!("{user}:{hash}")))
    });
    m.add(
        "derivePassword",
        &[Ty::Uint32, Ty::Str, Ty::Str, Ty::Str, Ty::Str],
        None,
        |a| {
            let s = |i: usize| a[i].as_str().unwrap_or_default().to_string();
            let counter = a[0].as_int().unwrap_or(0) as u32;
            Ok(Value::str(derive_password(
                counter,
                &s(1),
                &s(2),
                &s(3),
                &s(4),
            )))
        },
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_bcrypt_hash_verifies_and_uses_go_prefix_and_cost() {
        let h = bcrypt_hash("secret");
        assert!(h.starts_with("$2a$10$"), "{h}");
        assert!(bcrypt::verify("secret", &h).expect("verify"));
    }

    #[test]
    fn a_password_longer_than_72_bytes_is_refused_as_go_does() {
        assert!(bcrypt_hash(&"x".repeat(73)).starts_with("failed to encrypt"));
    }
}
