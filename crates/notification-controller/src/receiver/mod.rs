//! The webhook server on `--receiverAddr`: only `/hook/<digest>` is served, each digest the
//! `status.webhookPath` a Ready Receiver published. A call is looked up in the Receiver cache
//! (unknown path: 404; suspended or not Ready: 503), verified against the token of the Receiver's
//! Secret, or for `gcr` and `generic-oidc` against the caller's OIDC ID token (failed
//! authentication: 401; an identity the provider's validations refuse: 403; an issuer whose keys
//! cannot be fetched: 503; an authentic but unusable payload or an event outside `spec.events`:
//! 400), and then triggers the listed resources (200, or 500 when one failed).
//! Bodies are capped at 3 MiB (413). Logs name the Receiver, never the digest (a credential for
//! `generic` receivers), the token or the signature.
//!
//! Flux answers every failed verification with 400; driftless tells the caller 401 when it failed
//! to authenticate.

pub mod filter;
pub mod identity;
pub mod oidc;
pub mod reconcile;
pub mod trigger;
pub mod validate;

use std::collections::BTreeMap;
use std::sync::Arc;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::routing::any;
use driftless_api::conditions::{status, types};
use driftless_api::notification::{Receiver, ReceiverType};
use k8s_openapi::ByteString;
use k8s_openapi::api::core::v1::Secret;
use kube::ResourceExt;
use kube::api::Api;
use kube::runtime::reflector::Store;
use serde_json::Value;
use sha2::{Digest, Sha256};

use identity::GcrIdentity;
use oidc::Verifier;
use validate::{Accepted, Rejection, validate};

/// Flux's webhook body limit.
pub const MAX_BODY_BYTES: usize = 3 * 1024 * 1024;

/// The path prefix every webhook lives under.
pub const HOOK_PREFIX: &str = "/hook/";

/// `/hook/` + hex SHA-256 of `token + name + namespace`, Flux's `status.webhookPath`.
pub fn webhook_path(token: &str, name: &str, namespace: &str) -> String {
    let digest = Sha256::digest(format!("{token}{name}{namespace}").as_bytes());
    format!("{HOOK_PREFIX}{}", hex::encode(digest))
}

/// What the webhook handler needs.
pub struct ReceiverServer {
    /// The client that reads tokens and annotates resources.
    pub client: kube::Client,
    /// Every Receiver the controller watches.
    pub receivers: Store<Receiver>,
    /// `--no-cross-namespace-refs`.
    pub no_cross_namespace_refs: bool,
    /// Checks the ID tokens of `gcr` and `generic-oidc` calls (keys cached per issuer).
    pub verifier: Verifier,
    /// The issuer `gcr` tokens come from: Google's, unless a test points elsewhere.
    pub google_issuer: String,
}

/// The webhook routes.
pub fn router(state: Arc<ReceiverServer>) -> Router {
    Router::new()
        .route("/hook/{digest}", any(handle))
        .layer(DefaultBodyLimit::max(MAX_BODY_BYTES))
        .with_state(state)
}

fn is_ready(receiver: &Receiver) -> bool {
    receiver
        .status
        .as_ref()
        .and_then(|s| s.conditions.as_ref())
        .and_then(|c| c.iter().find(|c| c.type_ == types::READY))
        .is_some_and(|c| c.status == status::TRUE)
}

/// The data of the Receiver's Secret.
pub async fn secret_data(
    client: &kube::Client,
    receiver: &Receiver,
) -> Result<BTreeMap<String, ByteString>, String> {
    let namespace = receiver.namespace().unwrap_or_default();
    let Some(secret_ref) = receiver.spec.secret_ref.as_ref() else {
        return Err("spec.secretRef is not set".into());
    };
    let api: Api<Secret> = Api::namespaced(client.clone(), &namespace);
    let secret = api.get(&secret_ref.name).await.map_err(|e| {
        format!(
            "unable to read token from secret '{namespace}/{}': {e}",
            secret_ref.name
        )
    })?;
    Ok(secret.data.unwrap_or_default())
}

/// A required key of the Receiver's Secret, as text.
fn secret_field(
    receiver: &Receiver,
    data: &BTreeMap<String, ByteString>,
    key: &str,
    what: &str,
) -> Result<String, String> {
    data.get(key)
        .map(|t| String::from_utf8_lossy(&t.0).into_owned())
        .filter(|t| !t.is_empty() || key == "token")
        .ok_or_else(|| {
            format!(
                "invalid '{}/{}' secret data: required field '{key}'{what}",
                receiver.namespace().unwrap_or_default(),
                receiver
                    .spec
                    .secret_ref
                    .as_ref()
                    .map(|r| r.name.as_str())
                    .unwrap_or_default()
            )
        })
}

/// The `token` key of the Receiver's Secret.
pub fn token_of(
    receiver: &Receiver,
    data: &BTreeMap<String, ByteString>,
) -> Result<String, String> {
    secret_field(receiver, data, "token", "")
}

/// The `email` and `audience` keys a `gcr` Receiver's Secret must hold.
pub fn gcr_identity(
    receiver: &Receiver,
    data: &BTreeMap<String, ByteString>,
) -> Result<GcrIdentity, String> {
    Ok(GcrIdentity {
        email: secret_field(receiver, data, "email", " for GCR receiver")?,
        audience: secret_field(receiver, data, "audience", " for GCR receiver")?,
    })
}

async fn handle(
    State(server): State<Arc<ReceiverServer>>,
    Path(digest): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> StatusCode {
    let path = format!("{HOOK_PREFIX}{digest}");
    let Some(receiver) =
        server.receivers.state().into_iter().find(|r| {
            r.status.as_ref().and_then(|s| s.webhook_path.as_deref()) == Some(path.as_str())
        })
    else {
        return StatusCode::NOT_FOUND;
    };
    let name = receiver.name_any();
    let namespace = receiver.namespace().unwrap_or_default();
    if receiver.spec.suspend.unwrap_or(false) || !is_ready(&receiver) {
        tracing::info!(%name, %namespace, "receiver is suspended or not ready, rejecting request");
        return StatusCode::SERVICE_UNAVAILABLE;
    }
    let verified = match receiver.spec.type_ {
        // Authenticated by its ID token; its path needs no Secret.
        ReceiverType::GenericOidc => {
            identity::authenticate_oidc(&server.verifier, &receiver, &headers)
                .await
                .map(|claims| (Accepted { event: None }, None, claims))
        }
        kind => {
            let data = match secret_data(&server.client, &receiver).await {
                Ok(data) => data,
                Err(error) => {
                    tracing::error!(%name, %namespace, %error, "unable to read the receiver's secret");
                    return StatusCode::INTERNAL_SERVER_ERROR;
                }
            };
            let secrets = token_of(&receiver, &data).and_then(|token| {
                let gcr = (kind == ReceiverType::Gcr)
                    .then(|| gcr_identity(&receiver, &data))
                    .transpose()?;
                Ok((token, gcr))
            });
            let (token, gcr) = match secrets {
                Ok(found) => found,
                Err(error) => {
                    tracing::error!(%name, %namespace, %error, "unable to read the receiver's token");
                    return StatusCode::INTERNAL_SERVER_ERROR;
                }
            };
            match gcr {
                Some(gcr) => identity::authenticate_gcr(
                    &server.verifier,
                    &server.google_issuer,
                    &gcr,
                    &headers,
                    &body,
                )
                .await
                .map(|event| (Accepted { event: None }, Some(event), Value::Null)),
                None => {
                    let events = receiver.spec.events.clone().unwrap_or_default();
                    validate(kind, &events, &token, &headers, &body)
                        .map(|accepted| (accepted, None, Value::Null))
                }
            }
        }
    };
    let (accepted, unwrapped, claims) = match verified {
        Ok(verified) => verified,
        Err(rejection) => {
            tracing::error!(%name, %namespace, error = %rejection, "unable to validate payload");
            return match rejection {
                Rejection::Unauthorized(_) => StatusCode::UNAUTHORIZED,
                Rejection::Invalid(_) => StatusCode::BAD_REQUEST,
                Rejection::Forbidden(_) => StatusCode::FORBIDDEN,
                Rejection::Unavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
            };
        }
    };
    tracing::info!(%name, %namespace, event = ?accepted.event, "handling webhook event");
    // A gcr push's filters see the registry event, not the Pub/Sub envelope.
    let req: Value = unwrapped.unwrap_or_else(|| {
        serde_json::from_slice(&body).unwrap_or(Value::Object(Default::default()))
    });
    let triggered = trigger::trigger(
        &server.client,
        &receiver,
        &req,
        &claims,
        server.no_cross_namespace_refs,
    )
    .await;
    for resource in &triggered.annotated {
        tracing::info!(%name, %namespace, %resource, "resource annotated");
    }
    for error in &triggered.errors {
        tracing::error!(%name, %namespace, error = %driftless_runtime::error::chain(error),
            "unable to annotate resource");
    }
    if triggered.errors.is_empty() {
        StatusCode::OK
    } else {
        StatusCode::INTERNAL_SERVER_ERROR
    }
}

#[cfg(test)]
mod tests;
