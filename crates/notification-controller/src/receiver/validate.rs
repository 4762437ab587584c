//! Verifying a webhook call per Receiver type, as Flux's receiver server does: HMAC signatures
//! (`X-Signature` for generic-hmac, `X-Hub-Signature-256`/`X-Hub-Signature` for github and
//! bitbucket, `X-Nexus-Webhook-Signature` for nexus), shared tokens (`X-Gitlab-Token`, harbor's
//! `Authorization`), payload shapes (dockerhub, quay, acr, cdevents) and the `spec.events` filter
//! (`X-GitHub-Event`, `X-Gitlab-Event`, `X-Event-Key`, `Ce-Type`, case-insensitive). Signatures
//! and tokens are compared in constant time; no rejection message quotes them.

use axum::http::HeaderMap;
use driftless_api::notification::ReceiverType;
use hmac::{Hmac, Mac};
use serde_json::Value;
use subtle::ConstantTimeEq;

/// Why a call was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Rejection {
    /// The caller did not prove it knows the token (bad or missing signature or token).
    #[error("{0}")]
    Unauthorized(String),
    /// Authentic, but the payload is malformed or its event is not one `spec.events` lists.
    #[error("{0}")]
    Invalid(String),
    /// Authenticated, but the caller's identity fails the Receiver's validations.
    #[error("{0}")]
    Forbidden(String),
    /// The caller could not be checked now (the OIDC issuer's keys are out of reach).
    #[error("{0}")]
    Unavailable(String),
}

/// A verified call: the event type it reported, when the type has one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Accepted {
    /// `X-GitHub-Event` and the like.
    pub event: Option<String>,
}

fn header<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers.get(name).and_then(|v| v.to_str().ok())
}

/// Verifies `body` and `headers` for a Receiver of `kind` whose Secret holds `token`.
pub fn validate(
    kind: ReceiverType,
    events: &[String],
    token: &str,
    headers: &HeaderMap,
    body: &[u8],
) -> Result<Accepted, Rejection> {
    match kind {
        ReceiverType::Generic => Ok(Accepted { event: None }),
        ReceiverType::GenericHmac => {
            let signature = header(headers, "X-Signature").unwrap_or_default();
            verify_prefixed(signature, token, body)?;
            Ok(Accepted { event: None })
        }
        ReceiverType::GitHub => {
            let signature = header(headers, "X-Hub-Signature-256")
                .or_else(|| header(headers, "X-Hub-Signature"))
                .unwrap_or_default();
            verify_prefixed(signature, token, body)?;
            let event = header(headers, "X-GitHub-Event").unwrap_or_default();
            if event.is_empty() {
                return Err(Rejection::Invalid("missing X-GitHub-Event header".into()));
            }
            github_payload(headers, body)?;
            filter_events("GitHub", events, event)
        }
        ReceiverType::GitLab => {
            let given = header(headers, "X-Gitlab-Token").unwrap_or_default();
            if !token_equals(given, token) {
                return Err(Rejection::Unauthorized(
                    "the X-Gitlab-Token header value does not match the receiver token".into(),
                ));
            }
            let event = header(headers, "X-Gitlab-Event").unwrap_or_default();
            filter_events("GitLab", events, event)
        }
        ReceiverType::Bitbucket => {
            let signature = header(headers, "X-Hub-Signature").unwrap_or_default();
            verify_prefixed(signature, token, body)?;
            let event = header(headers, "X-Event-Key").unwrap_or_default();
            filter_events("Bitbucket server", events, event)
        }
        ReceiverType::Harbor => {
            let given = header(headers, "Authorization").unwrap_or_default();
            if !token_equals(given, token) {
                return Err(Rejection::Unauthorized(
                    "the Harbor Authorization header value does not match the receiver token"
                        .into(),
                ));
            }
            Ok(Accepted { event: None })
        }
        ReceiverType::DockerHub => {
            json_with(body, "DockerHub", &["push_data", "repository"])?;
            Ok(Accepted { event: None })
        }
        ReceiverType::Quay => {
            json_with(body, "Quay", &["docker_url"])?;
            Ok(Accepted { event: None })
        }
        ReceiverType::Acr => {
            json_with(body, "ACR", &["action", "target"])?;
            Ok(Accepted { event: None })
        }
        ReceiverType::Nexus => {
            let signature = header(headers, "X-Nexus-Webhook-Signature").unwrap_or_default();
            if signature.is_empty() {
                return Err(Rejection::Unauthorized(
                    "Nexus signature is missing from header".into(),
                ));
            }
            if !verify_hex::<Hmac<sha1::Sha1>>(signature, token, body) {
                return Err(Rejection::Unauthorized("invalid Nexus signature".into()));
            }
            json_with(body, "Nexus", &["action"])?;
            Ok(Accepted { event: None })
        }
        ReceiverType::CDEvents => {
            let event = header(headers, "Ce-Type").unwrap_or_default();
            if event.is_empty() {
                return Err(Rejection::Invalid("missing Ce-Type header".into()));
            }
            json_with(body, "CDEvents", &[])?;
            filter_events("CDEvent", events, event)
        }
        // These prove themselves with an ID token (super::identity), never with the shared
        // token; refusing here keeps a call routed the wrong way from passing unchecked.
        ReceiverType::Gcr | ReceiverType::GenericOidc => Err(Rejection::Unauthorized(
            "this receiver type authenticates callers by OIDC ID token".into(),
        )),
    }
}

fn token_equals(given: &str, token: &str) -> bool {
    !token.is_empty() && bool::from(given.as_bytes().ct_eq(token.as_bytes()))
}

/// `<sha1|sha256|sha512>=<hex>` over `body` keyed with `token`.
fn verify_prefixed(signature: &str, token: &str, body: &[u8]) -> Result<(), Rejection> {
    let Some((algorithm, hex_mac)) = signature.split_once('=') else {
        return Err(Rejection::Unauthorized(
            "missing or malformed signature header".into(),
        ));
    };
    let valid = match algorithm {
        "sha1" => verify_hex::<Hmac<sha1::Sha1>>(hex_mac, token, body),
        "sha256" => verify_hex::<Hmac<sha2::Sha256>>(hex_mac, token, body),
        "sha512" => verify_hex::<Hmac<sha2::Sha512>>(hex_mac, token, body),
        _ => {
            return Err(Rejection::Unauthorized(format!(
                "unsupported signature algorithm '{algorithm}'"
            )));
        }
    };
    if valid {
        Ok(())
    } else {
        Err(Rejection::Unauthorized(
            "payload signature check failed".into(),
        ))
    }
}

fn verify_hex<M: Mac + hmac::digest::KeyInit>(hex_mac: &str, token: &str, body: &[u8]) -> bool {
    if token.is_empty() {
        return false;
    }
    let Ok(expected) = hex::decode(hex_mac.trim()) else {
        return false;
    };
    let Ok(mut mac) = <M as hmac::digest::KeyInit>::new_from_slice(token.as_bytes()) else {
        return false;
    };
    mac.update(body);
    mac.verify_slice(&expected).is_ok()
}

/// GitHub sends JSON, or a form whose `payload` field is the JSON.
fn github_payload(headers: &HeaderMap, body: &[u8]) -> Result<(), Rejection> {
    let form = header(headers, "Content-Type")
        .is_some_and(|c| c.starts_with("application/x-www-form-urlencoded"));
    let parsed = if form {
        std::str::from_utf8(body).ok().and_then(|b| {
            b.split('&')
                .find_map(|pair| pair.strip_prefix("payload="))
                .map(|p| p.replace('+', " "))
                .and_then(|p| percent_decode(&p))
                .and_then(|p| serde_json::from_str::<Value>(&p).ok())
        })
    } else {
        serde_json::from_slice::<Value>(body).ok()
    };
    match parsed {
        Some(Value::Object(_)) => Ok(()),
        _ => Err(Rejection::Invalid("unable to parse GitHub payload".into())),
    }
}

fn percent_decode(s: &str) -> Option<String> {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = s.get(i + 1..i + 3)?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}

/// The body is a JSON object with `fields`.
fn json_with(body: &[u8], what: &str, fields: &[&str]) -> Result<(), Rejection> {
    match serde_json::from_slice::<Value>(body) {
        Ok(Value::Object(map)) if fields.iter().all(|f| map.contains_key(*f)) => Ok(()),
        _ => Err(Rejection::Invalid(format!(
            "cannot decode {what} webhook payload"
        ))),
    }
}

/// `spec.events`, when set, must list `event` (case-insensitive).
fn filter_events(what: &str, events: &[String], event: &str) -> Result<Accepted, Rejection> {
    if !events.is_empty() && !events.iter().any(|e| e.eq_ignore_ascii_case(event)) {
        return Err(Rejection::Invalid(format!(
            "the {what} event '{event}' is not authorised"
        )));
    }
    Ok(Accepted {
        event: Some(event.to_owned()),
    })
}

#[cfg(test)]
mod tests;
