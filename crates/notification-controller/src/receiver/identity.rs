//! Receivers that authenticate the caller by an OIDC ID token instead of a shared secret:
//! `gcr` (a Google Pub/Sub push: Google-signed token for the Secret's `audience`, issued to the
//! Secret's verified `email`; the GCR/GAR event is unwrapped from the Pub/Sub message and
//! becomes `req` for the filters) and `generic-oidc` (a token from one of `spec.oidcProviders`,
//! then that provider's CEL `variables` and `validations` over the claims, which also become
//! `claims` for the filters).

use axum::http::HeaderMap;
use base64::Engine as _;
use driftless_api::notification::{OIDCProvider, Receiver};
use serde_json::{Map, Value, json};

use super::oidc::{OidcError, Token, Verifier};
use super::validate::Rejection;
use crate::cel::{CelError, Expression};

/// The issuer of Google's ID tokens (the default for `--gcr-issuer-url`).
pub const GOOGLE_ISSUER: &str = "https://accounts.google.com";
/// The `aud` a `generic-oidc` provider expects when it names none.
pub const DEFAULT_OIDC_AUDIENCE: &str = "notification-controller";

/// The bearer token of a call.
fn bearer(headers: &HeaderMap) -> Result<Token, Rejection> {
    let raw = headers
        .get("Authorization")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .filter(|t| !t.is_empty())
        .ok_or_else(|| {
            Rejection::Unauthorized("the Authorization header is missing or malformed".into())
        })?;
    Token::parse(raw)
        .map_err(|e| Rejection::Unauthorized(format!("unable to parse bearer token: {e}")))
}

fn verification_failed(what: &str, error: OidcError) -> Rejection {
    match error {
        OidcError::Keys { .. } => Rejection::Unavailable(format!("{what}: {error}")),
        OidcError::Token(e) => Rejection::Unauthorized(format!("{what}: {e}")),
    }
}

/// What a `gcr` Receiver's Secret must hold besides `token`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GcrIdentity {
    /// The service account the push subscription signs as.
    pub email: String,
    /// The `aud` the subscription puts in its tokens.
    pub audience: String,
}

/// Authenticates a Pub/Sub push for a `gcr` Receiver; returns the unwrapped registry event.
pub async fn authenticate_gcr(
    verifier: &Verifier,
    google_issuer: &str,
    identity: &GcrIdentity,
    headers: &HeaderMap,
    body: &[u8],
) -> Result<Value, Rejection> {
    let token = bearer(headers)?;
    // Google writes `iss` with or without the scheme.
    let bare = google_issuer.trim_start_matches("https://");
    verifier
        .verify(
            &token,
            google_issuer,
            &[google_issuer, bare],
            &identity.audience,
        )
        .await
        .map_err(|e| verification_failed("cannot authenticate GCR request: invalid ID token", e))?;
    let email = token.claim_str("email").unwrap_or_default();
    if email != identity.email {
        return Err(Rejection::Unauthorized(format!(
            "cannot authenticate GCR request: token email is '{email}', want '{}'",
            identity.email
        )));
    }
    if token.claims.get("email_verified") != Some(&Value::Bool(true)) {
        return Err(Rejection::Unauthorized(format!(
            "cannot authenticate GCR request: token email '{email}' is not verified"
        )));
    }
    gcr_event(body)
}

/// The registry event a Pub/Sub push carries base64-encoded in `message.data`.
fn gcr_event(body: &[u8]) -> Result<Value, Rejection> {
    let invalid = |what: &str| Rejection::Invalid(format!("cannot decode GCR webhook {what}"));
    let push: Value = serde_json::from_slice(body).map_err(|_| invalid("payload"))?;
    let data = push["message"]["data"]
        .as_str()
        .ok_or_else(|| invalid("payload"))?;
    let raw = base64::engine::general_purpose::STANDARD
        .decode(data)
        .map_err(|_| invalid("body"))?;
    let event: Value = serde_json::from_slice(&raw).map_err(|_| invalid("body"))?;
    let field = |name: &str| event.get(name).cloned().unwrap_or_else(|| json!(""));
    Ok(json!({"action": field("action"), "digest": field("digest"), "tag": field("tag")}))
}

/// A provider's compiled CEL: variables in order, then validations with their messages.
#[derive(Debug)]
pub struct ProviderRules {
    variables: Vec<(String, Expression)>,
    validations: Vec<(Expression, String)>,
}

/// The names a provider's expressions may use.
const OIDC_DECLARED: [&str; 2] = ["claims", "vars"];

impl ProviderRules {
    /// Compiles `provider`'s expressions; any that does not compile stalls the Receiver.
    pub fn compile(provider: &OIDCProvider) -> Result<Self, CelError> {
        let variables = provider
            .variables
            .iter()
            .flatten()
            .map(|v| {
                Ok((
                    v.name.clone(),
                    Expression::compile(&v.expression, &OIDC_DECLARED)?,
                ))
            })
            .collect::<Result<_, CelError>>()?;
        let validations = provider
            .validations
            .iter()
            .map(|v| {
                Ok((
                    Expression::compile(&v.expression, &OIDC_DECLARED)?,
                    v.message.clone(),
                ))
            })
            .collect::<Result<_, CelError>>()?;
        Ok(Self {
            variables,
            validations,
        })
    }

    /// The messages of the validations `claims` fails (empty when it passes them all).
    pub fn failures(&self, claims: &Value) -> Vec<String> {
        let mut vars = std::collections::HashMap::<String, cel::Value>::new();
        for (name, expr) in &self.variables {
            let value = expr.json_value(claims).and_then(|c| {
                expr.evaluate_values(vec![("claims", c), ("vars", vars.clone().into())])
            });
            match value {
                Ok(value) => {
                    vars.insert(name.clone(), value);
                }
                Err(error) => return vec![error.to_string()],
            }
        }
        let mut failed = Vec::new();
        for (expr, message) in &self.validations {
            let passed = expr.json_value(claims).and_then(|c| {
                expr.evaluate_values(vec![("claims", c), ("vars", vars.clone().into())])
            });
            match passed {
                Ok(cel::Value::Bool(true)) => {}
                Ok(_) => failed.push(message.clone()),
                Err(error) => failed.push(format!("{message} ({error})")),
            }
        }
        failed
    }
}

/// Authenticates a `generic-oidc` call; returns the verified claims.
pub async fn authenticate_oidc(
    verifier: &Verifier,
    receiver: &Receiver,
    headers: &HeaderMap,
) -> Result<Value, Rejection> {
    let token = bearer(headers)?;
    let iss = token.claim_str("iss").unwrap_or_default().to_owned();
    let provider = receiver
        .spec
        .oidc_providers
        .iter()
        .flatten()
        .find(|p| p.issuer_url == iss)
        .ok_or_else(|| {
            Rejection::Unauthorized(format!("no oidcProvider configured for issuer '{iss}'"))
        })?;
    let audience = provider
        .audience
        .as_deref()
        .filter(|a| !a.is_empty())
        .unwrap_or(DEFAULT_OIDC_AUDIENCE);
    verifier
        .verify(
            &token,
            &provider.issuer_url,
            &[&provider.issuer_url],
            audience,
        )
        .await
        .map_err(|e| verification_failed("unable to verify OIDC token", e))?;
    let claims = Value::Object(Map::clone(&token.claims));
    let rules = ProviderRules::compile(provider)
        .map_err(|e| Rejection::Invalid(format!("invalid CEL expression: {e}")))?;
    let failures = rules.failures(&claims);
    if failures.is_empty() {
        Ok(claims)
    } else {
        Err(Rejection::Forbidden(failures.join("; ")))
    }
}

#[cfg(test)]
mod tests;
