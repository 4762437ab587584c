//! OIDC ID token verification for `gcr` and `generic-oidc` Receivers: the issuer's signing keys
//! are found through its discovery document (`<issuer>/.well-known/openid-configuration` ->
//! `jwks_uri`), cached per issuer, and fetched again when a token names a key the cache lacks
//! (issuers rotate keys) — at most once per [`MIN_REFRESH`], so a stream of tokens with made-up
//! key ids cannot turn us into a load generator against the issuer.

pub mod jwt;
pub mod keys;
#[cfg(any(test, feature = "testsupport"))]
pub mod testsupport;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::time::Instant;

pub use jwt::{Jwk, Token, TokenError};
use keys::Fetcher;

/// How long fetched keys are trusted without asking the issuer again.
pub const KEYS_TTL: Duration = Duration::from_secs(3600);
/// The least time between two fetches for one issuer when a key id is unknown.
pub const MIN_REFRESH: Duration = Duration::from_secs(10);

/// Why a token was not accepted.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum OidcError {
    /// The token itself is wrong (signature, expiry, audience, issuer…).
    #[error(transparent)]
    Token(#[from] TokenError),
    /// The issuer's keys could not be fetched; the caller is not at fault.
    #[error("fetching the signing keys of issuer '{issuer}' failed: {reason}")]
    Keys {
        /// The issuer URL.
        issuer: String,
        /// What went wrong.
        reason: String,
    },
}

struct Cached {
    keys: Arc<Vec<Jwk>>,
    fetched: Instant,
}

/// Verifies tokens against their issuers' published keys.
pub struct Verifier {
    fetcher: Fetcher,
    cache: Mutex<HashMap<String, Cached>>,
}

impl Verifier {
    /// A verifier with an HTTP client trusting the platform's roots.
    pub fn new() -> Result<Self, OidcError> {
        Ok(Self {
            fetcher: Fetcher::new()?,
            cache: Mutex::default(),
        })
    }

    /// Checks `token`'s signature with `issuer_url`'s keys, that its `iss` is one of
    /// `accepted_issuers`, that it has not expired and that `aud` names `audience`.
    pub async fn verify(
        &self,
        token: &Token,
        issuer_url: &str,
        accepted_issuers: &[&str],
        audience: &str,
    ) -> Result<(), OidcError> {
        token.check_algorithm()?;
        let keys = self.keys(issuer_url, None).await?;
        if !signed_by(token, &keys) {
            let refreshed = self.keys(issuer_url, Some(&keys)).await?;
            if Arc::ptr_eq(&keys, &refreshed) || !signed_by(token, &refreshed) {
                return Err(TokenError::Signature.into());
            }
        }
        let iss = token.claim_str("iss").unwrap_or_default();
        if !accepted_issuers.contains(&iss) {
            return Err(TokenError::Issuer {
                expected: accepted_issuers.join("' or '"),
                got: iss.to_owned(),
            }
            .into());
        }
        token.check_times(jiff::Timestamp::now().as_second())?;
        token.check_audience(audience)?;
        Ok(())
    }

    /// The cached keys of `issuer`, fetched when missing or older than [`KEYS_TTL`]; with
    /// `stale` (keys that failed a token), fetched again unless that was under [`MIN_REFRESH`] ago.
    async fn keys(
        &self,
        issuer: &str,
        stale: Option<&Arc<Vec<Jwk>>>,
    ) -> Result<Arc<Vec<Jwk>>, OidcError> {
        let now = Instant::now();
        {
            let cache = self
                .cache
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            if let Some(cached) = cache.get(issuer) {
                let age = now.duration_since(cached.fetched);
                let fresh = match stale {
                    None => age < KEYS_TTL,
                    Some(stale) => !Arc::ptr_eq(stale, &cached.keys) || age < MIN_REFRESH,
                };
                if fresh {
                    return Ok(Arc::clone(&cached.keys));
                }
            }
        }
        let keys = Arc::new(self.fetcher.fetch(issuer).await?);
        let mut cache = self
            .cache
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        cache.insert(
            issuer.to_owned(),
            Cached {
                keys: Arc::clone(&keys),
                fetched: Instant::now(),
            },
        );
        Ok(keys)
    }
}

fn signed_by(token: &Token, keys: &[Jwk]) -> bool {
    keys.iter()
        .filter(|k| token.header.kid.is_none() || k.kid == token.header.kid)
        .any(|k| token.verified_by(k))
}

#[cfg(test)]
mod tests;
