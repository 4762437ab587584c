//! Test issuers: RSA and ECDSA signers and a loopback OIDC provider serving discovery and JWKS.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use axum::Router;
use axum::extract::State;
use axum::routing::get;
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use ring::rand::SystemRandom;
use ring::signature::{
    ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair, KeyPair as _, RSA_PKCS1_SHA256, RsaKeyPair,
    RsaPublicKeyComponents,
};
use serde_json::{Value, json};

use super::jwt::Jwk;

/// A 2048-bit RSA key made for these tests only (PKCS#1 DER).
const RSA_KEY: &[u8] = include_bytes!("testdata/rsa-2048.der");

/// Now, in Unix seconds.
pub fn now() -> i64 {
    jiff::Timestamp::now().as_second()
}

enum Key {
    Rsa(RsaKeyPair),
    Ecdsa(EcdsaKeyPair),
}

/// Signs tokens with one key.
pub struct Signer {
    kid: String,
    key: Key,
}

impl Signer {
    /// The fixture RSA key under `kid`.
    pub fn rsa(kid: &str) -> Self {
        let key = RsaKeyPair::from_der(RSA_KEY).expect("fixture key");
        Self {
            kid: kid.into(),
            key: Key::Rsa(key),
        }
    }

    /// A fresh P-256 key under `kid`.
    pub fn ecdsa(kid: &str) -> Self {
        let rng = SystemRandom::new();
        let pkcs8 = EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, &rng)
            .expect("generated");
        let key = EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, pkcs8.as_ref(), &rng)
            .expect("parsed");
        Self {
            kid: kid.into(),
            key: Key::Ecdsa(key),
        }
    }

    /// The public key as a JWKS entry.
    pub fn jwk_json(&self) -> Value {
        match &self.key {
            Key::Rsa(key) => {
                let public = RsaPublicKeyComponents::<Vec<u8>>::from(key.public());
                json!({"kty": "RSA", "use": "sig", "alg": "RS256", "kid": self.kid,
                       "n": URL_SAFE_NO_PAD.encode(&public.n),
                       "e": URL_SAFE_NO_PAD.encode(&public.e)})
            }
            Key::Ecdsa(key) => {
                let point = key.public_key().as_ref();
                let (x, y) = point[1..].split_at(32);
                json!({"kty": "EC", "use": "sig", "alg": "ES256", "kid": self.kid, "crv": "P-256",
                       "x": URL_SAFE_NO_PAD.encode(x), "y": URL_SAFE_NO_PAD.encode(y)})
            }
        }
    }

    /// The public key.
    pub fn jwk(&self) -> Jwk {
        serde_json::from_value(self.jwk_json()).expect("jwk")
    }

    /// A compact token carrying `claims`.
    pub fn sign(&self, claims: &Value) -> String {
        let alg = match self.key {
            Key::Rsa(_) => "RS256",
            Key::Ecdsa(_) => "ES256",
        };
        let header = json!({"alg": alg, "typ": "JWT", "kid": self.kid});
        let input = format!(
            "{}.{}",
            URL_SAFE_NO_PAD.encode(serde_json::to_vec(&header).expect("json")),
            URL_SAFE_NO_PAD.encode(serde_json::to_vec(claims).expect("json"))
        );
        let rng = SystemRandom::new();
        let signature = match &self.key {
            Key::Rsa(key) => {
                let mut out = vec![0; key.public().modulus_len()];
                key.sign(&RSA_PKCS1_SHA256, &rng, input.as_bytes(), &mut out)
                    .expect("signed");
                out
            }
            Key::Ecdsa(key) => key
                .sign(&rng, input.as_bytes())
                .expect("signed")
                .as_ref()
                .to_vec(),
        };
        format!("{input}.{}", URL_SAFE_NO_PAD.encode(signature))
    }
}

fn json_answer(value: Value) -> impl axum::response::IntoResponse {
    (
        [(axum::http::header::CONTENT_TYPE, "application/json")],
        value.to_string(),
    )
}

struct IssuerState {
    url: String,
    keys: Vec<Value>,
    jwks_fetches: AtomicUsize,
}

/// A loopback OIDC provider.
pub struct Issuer {
    /// Its issuer URL.
    pub url: String,
    /// Signs with the first key the JWKS lists.
    pub signer: Signer,
    state: Arc<IssuerState>,
}

impl Issuer {
    /// Serves discovery and a JWKS holding `signer`'s key.
    pub async fn start(signer: Signer) -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bound");
        let url = format!("http://{}", listener.local_addr().expect("addr"));
        let state = Arc::new(IssuerState {
            url: url.clone(),
            keys: vec![signer.jwk_json()],
            jwks_fetches: AtomicUsize::new(0),
        });
        let app = Router::new()
            .route(
                "/.well-known/openid-configuration",
                get(|State(s): State<Arc<IssuerState>>| async move {
                    json_answer(
                        json!({"issuer": s.url, "jwks_uri": format!("{}/jwks", s.url),
                        "id_token_signing_alg_values_supported": ["RS256", "ES256"]}),
                    )
                }),
            )
            .route(
                "/jwks",
                get(|State(s): State<Arc<IssuerState>>| async move {
                    s.jwks_fetches.fetch_add(1, Ordering::SeqCst);
                    json_answer(json!({"keys": s.keys}))
                }),
            )
            .with_state(Arc::clone(&state));
        tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Self { url, signer, state }
    }

    /// How often the JWKS was fetched.
    pub fn jwks_fetches(&self) -> usize {
        self.state.jwks_fetches.load(Ordering::SeqCst)
    }

    /// A token from this issuer for `audience`, valid for a minute, with `extra` claims.
    pub fn token(&self, audience: &str, extra: Value) -> String {
        let mut claims = json!({"iss": self.url, "aud": audience, "sub": "subject",
                                "iat": now(), "exp": now() + 60});
        if let (Some(c), Value::Object(extra)) = (claims.as_object_mut(), extra) {
            c.extend(extra);
        }
        self.signer.sign(&claims)
    }
}
