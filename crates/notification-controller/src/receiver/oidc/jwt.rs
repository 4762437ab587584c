//! Compact JWS ID tokens: splitting, decoding, signature checks against a JSON Web Key, and the
//! time and audience claims. Only the asymmetric algorithms OIDC issuers sign ID tokens with are
//! accepted (RS256/384/512, ES256/384); `none` and HMAC algorithms are refused, since a token
//! signed with a key the caller knows proves nothing.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use ring::signature::{self, RsaPublicKeyComponents, UnparsedPublicKey};
use serde::Deserialize;
use serde_json::{Map, Value};

/// How far a token's `nbf` may lie in the future (clock skew between issuer and us).
const NOT_BEFORE_LEEWAY_SECONDS: i64 = 300;

/// Why a token was refused; messages never include the token itself.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TokenError {
    /// Not three base64url parts of JSON.
    #[error("malformed JWT: {0}")]
    Malformed(String),
    /// Signed with an algorithm we do not accept.
    #[error("unsupported signing algorithm '{0}'")]
    Algorithm(String),
    /// No key of the issuer verifies the signature.
    #[error("failed to verify signature")]
    Signature,
    /// The token's `exp` has passed, or it has none.
    #[error("token is expired (expiry {expiry})")]
    Expired { expiry: String },
    /// The token's `nbf` lies in the future.
    #[error("token is not valid yet (not before {not_before})")]
    NotYetValid { not_before: String },
    /// `iss` is not the expected issuer.
    #[error("id token issued by a different provider, expected '{expected}' got '{got}'")]
    Issuer { expected: String, got: String },
    /// `aud` does not name us.
    #[error("expected audience '{expected}' got {got:?}")]
    Audience { expected: String, got: Vec<String> },
}

/// The JOSE header fields we read.
#[derive(Debug, Clone, Deserialize)]
pub struct Header {
    /// The signing algorithm.
    pub alg: String,
    /// The key id, when the issuer has several keys.
    #[serde(default)]
    pub kid: Option<String>,
}

/// A decoded, not yet verified token.
#[derive(Debug, Clone)]
pub struct Token {
    /// The header.
    pub header: Header,
    /// The claims object.
    pub claims: Map<String, Value>,
    signing_input: String,
    signature: Vec<u8>,
}

/// A public key from an issuer's JWKS.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct Jwk {
    /// `RSA` or `EC`.
    pub kty: String,
    /// The key id.
    #[serde(default)]
    pub kid: Option<String>,
    /// The algorithm the key is for, when the issuer says.
    #[serde(default)]
    pub alg: Option<String>,
    #[serde(default)]
    n: Option<String>,
    #[serde(default)]
    e: Option<String>,
    #[serde(default)]
    crv: Option<String>,
    #[serde(default)]
    x: Option<String>,
    #[serde(default)]
    y: Option<String>,
}

fn decode(part: &str, what: &str) -> Result<Vec<u8>, TokenError> {
    URL_SAFE_NO_PAD
        .decode(part.trim_end_matches('='))
        .map_err(|_| TokenError::Malformed(format!("{what} is not base64url")))
}

impl Token {
    /// Splits and decodes a compact token.
    pub fn parse(compact: &str) -> Result<Self, TokenError> {
        let mut parts = compact.split('.');
        let (Some(header), Some(payload), Some(signature), None) =
            (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return Err(TokenError::Malformed(
                "a JWT must have three dot-separated parts".into(),
            ));
        };
        let header: Header = serde_json::from_slice(&decode(header, "the header")?)
            .map_err(|_| TokenError::Malformed("the header is not a JOSE header".into()))?;
        let claims = match serde_json::from_slice(&decode(payload, "the payload")?) {
            Ok(Value::Object(claims)) => claims,
            _ => {
                return Err(TokenError::Malformed(
                    "the payload is not a JSON object".into(),
                ));
            }
        };
        let signing_input = compact[..compact.len() - signature.len() - 1].to_owned();
        Ok(Self {
            header,
            claims,
            signing_input,
            signature: decode(signature, "the signature")?,
        })
    }

    /// A string claim.
    pub fn claim_str(&self, name: &str) -> Option<&str> {
        self.claims.get(name).and_then(Value::as_str)
    }

    /// Checks the algorithm is one we accept.
    pub fn check_algorithm(&self) -> Result<(), TokenError> {
        match self.header.alg.as_str() {
            "RS256" | "RS384" | "RS512" | "ES256" | "ES384" => Ok(()),
            other => Err(TokenError::Algorithm(other.to_owned())),
        }
    }

    /// Whether `key` verifies the signature under the header's algorithm.
    pub fn verified_by(&self, key: &Jwk) -> bool {
        if key.alg.as_deref().is_some_and(|a| a != self.header.alg) {
            return false;
        }
        let message = self.signing_input.as_bytes();
        let field = |f: &Option<String>| f.as_deref().and_then(|v| decode(v, "key").ok());
        match (self.header.alg.as_str(), key.kty.as_str()) {
            (alg @ ("RS256" | "RS384" | "RS512"), "RSA") => {
                let (Some(n), Some(e)) = (field(&key.n), field(&key.e)) else {
                    return false;
                };
                let params = match alg {
                    "RS256" => &signature::RSA_PKCS1_2048_8192_SHA256,
                    "RS384" => &signature::RSA_PKCS1_2048_8192_SHA384,
                    _ => &signature::RSA_PKCS1_2048_8192_SHA512,
                };
                RsaPublicKeyComponents { n: &n, e: &e }
                    .verify(params, message, &self.signature)
                    .is_ok()
            }
            (alg @ ("ES256" | "ES384"), "EC") => {
                let (algorithm, curve) = match alg {
                    "ES256" => (&signature::ECDSA_P256_SHA256_FIXED, "P-256"),
                    _ => (&signature::ECDSA_P384_SHA384_FIXED, "P-384"),
                };
                let (Some(x), Some(y)) = (field(&key.x), field(&key.y)) else {
                    return false;
                };
                if key.crv.as_deref() != Some(curve) {
                    return false;
                }
                let mut point = Vec::with_capacity(1 + x.len() + y.len());
                point.push(0x04);
                point.extend_from_slice(&x);
                point.extend_from_slice(&y);
                UnparsedPublicKey::new(algorithm, point)
                    .verify(message, &self.signature)
                    .is_ok()
            }
            _ => false,
        }
    }

    /// Checks `exp` (required) and `nbf` against `now` (Unix seconds).
    pub fn check_times(&self, now: i64) -> Result<(), TokenError> {
        let seconds = |name: &str| self.claims.get(name).and_then(Value::as_f64);
        let show = |t: f64| {
            // Whole seconds are what issuers write; the fraction is dropped on purpose.
            #[allow(clippy::cast_possible_truncation)]
            let t = t as i64;
            jiff::Timestamp::from_second(t).map_or_else(|_| t.to_string(), |ts| ts.to_string())
        };
        let Some(expiry) = seconds("exp") else {
            return Err(TokenError::Expired {
                expiry: "none".into(),
            });
        };
        #[allow(clippy::cast_precision_loss)]
        let now_f = now as f64;
        if now_f >= expiry {
            return Err(TokenError::Expired {
                expiry: show(expiry),
            });
        }
        if let Some(not_before) = seconds("nbf") {
            #[allow(clippy::cast_precision_loss)]
            let latest = (now + NOT_BEFORE_LEEWAY_SECONDS) as f64;
            if not_before > latest {
                return Err(TokenError::NotYetValid {
                    not_before: show(not_before),
                });
            }
        }
        Ok(())
    }

    /// Checks that `aud` (a string or a list) contains `expected`.
    pub fn check_audience(&self, expected: &str) -> Result<(), TokenError> {
        let got: Vec<String> = match self.claims.get("aud") {
            Some(Value::String(a)) => vec![a.clone()],
            Some(Value::Array(list)) => list
                .iter()
                .filter_map(Value::as_str)
                .map(str::to_owned)
                .collect(),
            _ => Vec::new(),
        };
        if got.iter().any(|a| a == expected) {
            Ok(())
        } else {
            Err(TokenError::Audience {
                expected: expected.to_owned(),
                got,
            })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::receiver::oidc::testsupport::{Signer, now};
    use serde_json::json;

    fn claims(extra: Value) -> Value {
        let mut c = json!({"iss": "https://issuer.example", "aud": "flux", "sub": "s",
                           "exp": now() + 60});
        if let (Some(c), Value::Object(extra)) = (c.as_object_mut(), extra) {
            c.extend(extra);
        }
        c
    }

    #[test]
    fn rsa_and_ecdsa_signatures_verify_with_their_own_key_only() {
        for signer in [Signer::rsa("k1"), Signer::ecdsa("k2")] {
            let token = Token::parse(&signer.sign(&claims(json!({})))).expect("parses");
            token.check_algorithm().expect("accepted algorithm");
            assert!(token.verified_by(&signer.jwk()));
            assert!(!token.verified_by(&Signer::ecdsa("other").jwk()));
        }
        // The one fixture RSA key, with its modulus changed, is another key.
        let signer = Signer::rsa("k1");
        let token = Token::parse(&signer.sign(&claims(json!({})))).expect("parses");
        let mut other = signer.jwk_json();
        let n = URL_SAFE_NO_PAD
            .decode(other["n"].as_str().expect("n"))
            .expect("b64");
        let mut n = n.clone();
        if let Some(last) = n.last_mut() {
            *last ^= 2;
        }
        other["n"] = json!(URL_SAFE_NO_PAD.encode(n));
        let other: Jwk = serde_json::from_value(other).expect("jwk");
        assert!(!token.verified_by(&other));
    }

    #[test]
    fn a_tampered_payload_fails_the_signature() {
        let signer = Signer::rsa("k1");
        let good = signer.sign(&claims(json!({"repository": "org/repo"})));
        let evil = URL_SAFE_NO_PAD
            .encode(serde_json::to_vec(&claims(json!({"repository": "evil/repo"}))).expect("json"));
        let parts: Vec<&str> = good.split('.').collect();
        let forged = format!("{}.{evil}.{}", parts[0], parts[2]);
        let token = Token::parse(&forged).expect("parses");
        assert!(!token.verified_by(&signer.jwk()));
    }

    #[test]
    fn unsigned_and_hmac_tokens_are_refused() {
        let header = URL_SAFE_NO_PAD.encode(br#"{"alg":"none"}"#);
        let payload = URL_SAFE_NO_PAD.encode(br#"{"iss":"x"}"#);
        let token = Token::parse(&format!("{header}.{payload}.")).expect("parses");
        assert_eq!(
            token.check_algorithm(),
            Err(TokenError::Algorithm("none".into()))
        );
        let header = URL_SAFE_NO_PAD.encode(br#"{"alg":"HS256"}"#);
        let token = Token::parse(&format!("{header}.{payload}.c2ln")).expect("parses");
        assert!(token.check_algorithm().is_err());
    }

    #[test]
    fn malformed_tokens_are_refused_without_echoing_them() {
        for bad in [
            "not-a-jwt",
            "a.b",
            "a.b.c.d",
            "!!!.e30.c2ln",
            "e30.WzFd.c2ln",
        ] {
            let error = Token::parse(bad).expect_err(bad);
            assert!(matches!(error, TokenError::Malformed(_)), "{bad}: {error}");
            assert!(!error.to_string().contains(bad), "{error}");
        }
    }

    #[test]
    fn expiry_is_required_and_not_before_has_leeway() {
        let signer = Signer::rsa("k1");
        let t = now();
        let parse = |c: Value| Token::parse(&signer.sign(&c)).expect("parses");
        assert!(parse(claims(json!({}))).check_times(t).is_ok());
        let expired = parse(claims(json!({"exp": t - 1})));
        assert!(matches!(
            expired.check_times(t),
            Err(TokenError::Expired { .. })
        ));
        let mut no_exp = claims(json!({}));
        no_exp.as_object_mut().map(|c| c.remove("exp"));
        assert!(parse(no_exp).check_times(t).is_err());
        assert!(
            parse(claims(json!({"nbf": t + 200})))
                .check_times(t)
                .is_ok()
        );
        assert!(matches!(
            parse(claims(json!({"nbf": t + 400}))).check_times(t),
            Err(TokenError::NotYetValid { .. })
        ));
    }

    #[test]
    fn the_audience_may_be_a_string_or_a_list() {
        let signer = Signer::rsa("k1");
        let parse = |c: Value| Token::parse(&signer.sign(&c)).expect("parses");
        assert!(parse(claims(json!({}))).check_audience("flux").is_ok());
        assert!(
            parse(claims(json!({"aud": ["a", "flux"]})))
                .check_audience("flux")
                .is_ok()
        );
        assert_eq!(
            parse(claims(json!({"aud": "other"}))).check_audience("flux"),
            Err(TokenError::Audience {
                expected: "flux".into(),
                got: vec!["other".into()]
            })
        );
    }
}
