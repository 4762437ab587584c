//! Sprig's `buildCustomCert`: a certificate struct from a base64 PEM
//! certificate and key supplied by the chart user, checked as Go checks
//! them (PEM framing, X.509 DER, the private key block's type).

use base64::Engine;

use crate::funcs::{FuncMap, Ty};

/// Go's `pem.Decode`: the first `-----BEGIN T-----` … `-----END T-----`
/// block, as (type, DER). Blocks with headers are not supported.
pub(super) fn pem_decode(text: &str) -> Option<(String, Vec<u8>)> {
    let mut rest = text;
    while let Some(at) = rest.find("-----BEGIN ") {
        let after = &rest[at + "-----BEGIN ".len()..];
        let next = &rest[at + 1..];
        let (kind, body) = after.split_once("-----")?;
        let end = format!("-----END {kind}-----");
        if kind.contains('\n') {
            rest = next;
            continue;
        }
        if let Some(stop) = body.find(&end) {
            let b64: String = body[..stop]
                .chars()
                .filter(|c| !c.is_ascii_whitespace())
                .collect();
            if let Ok(der) = base64::engine::general_purpose::STANDARD.decode(b64) {
                return Some((kind.to_string(), der));
            }
        }
        rest = next;
    }
    None
}

/// Go's parsePrivateKeyPEM, as far as telling a key block from others.
pub(super) fn check_private_key(pem: &str) -> Result<(), String> {
    let Some((kind, der)) = pem_decode(pem) else {
        return Err("no PEM data in input".into());
    };
    let is_sequence = x509_parser::der_parser::parse_der(&der)
        .is_ok_and(|(rest, obj)| rest.is_empty() && obj.as_sequence().is_ok());
    if kind == "PRIVATE KEY" {
        if !is_sequence {
            return Err("decoding PEM as PKCS#8: asn1: structure error".into());
        }
        return Ok(());
    }
    let Some(alg) = kind.strip_suffix(" PRIVATE KEY") else {
        return Err(format!("no private key data in PEM block of type {kind}"));
    };
    match alg {
        "RSA" | "EC" | "DSA" if is_sequence => Ok(()),
        "RSA" | "EC" | "DSA" => Err(format!(
            "parsing {alg} private key from PEM: asn1: structure error"
        )),
        _ => Err(format!("invalid private key type {kind}")),
    }
}

pub(super) fn build(b64cert: &str, b64key: &str) -> Result<(String, String), String> {
    let b64 = &base64::engine::general_purpose::STANDARD;
    let cert = b64
        .decode(b64cert)
        .map_err(|_| "unable to decode base64 certificate".to_string())?;
    let key = b64
        .decode(b64key)
        .map_err(|_| "unable to decode base64 private key".to_string())?;
    let cert = String::from_utf8_lossy(&cert).into_owned();
    let key = String::from_utf8_lossy(&key).into_owned();
    let Some((_, der)) = pem_decode(&cert) else {
        return Err("unable to decode certificate".into());
    };
    if x509_parser::parse_x509_certificate(&der).is_err() {
        return Err(
            "error parsing certificate: decodedCert.Bytes: x509: malformed certificate".into(),
        );
    }
    check_private_key(&key).map_err(|e| format!("error parsing private key: {e}"))?;
    Ok((cert, key))
}

pub fn register(m: &mut FuncMap) {
    m.add("buildCustomCert", &[Ty::Str, Ty::Str], None, |a| {
        let (cert, key) = build(
            a[0].as_str().unwrap_or_default(),
            a[1].as_str().unwrap_or_default(),
        )?;
        Ok(super::crypto::certificate(cert, key))
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pem_decode_finds_the_first_block_after_junk() {
        let text = "junk\n-----BEGIN X-----\nYWJj\n-----END X-----\n";
        assert_eq!(pem_decode(text), Some(("X".into(), b"abc".to_vec())));
        assert_eq!(pem_decode("no pem"), None);
    }

    #[test]
    fn a_certificate_block_is_not_a_private_key() {
        let text = "-----BEGIN CERTIFICATE-----\nMAA=\n-----END CERTIFICATE-----\n";
        assert_eq!(
            check_private_key(text),
            Err("no private key data in PEM block of type CERTIFICATE".into())
        );
    }
}
