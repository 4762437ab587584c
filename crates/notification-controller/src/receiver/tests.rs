//! The webhook router in process, against a fake API server.

use axum::body::Body;
use axum::http::Request;
use driftless_api::meta::LocalObjectReference;
use driftless_api::notification::{
    FluxKind, ReceiverResource, ReceiverSpec, ReceiverStatus, ReceiverType,
};
use hmac::Mac;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{Condition, Time};
use serde_json::json;
use tower::ServiceExt;

use super::*;
use crate::testutil::{fake_client, store};

const TOKEN: &str = "in-process-token";
const NS: &str = "apps";

fn receiver(kind: ReceiverType, ready: bool, suspend: bool) -> Receiver {
    let mut r = Receiver::new(
        "hook",
        ReceiverSpec {
            type_: kind,
            suspend: Some(suspend),
            secret_ref: Some(LocalObjectReference {
                name: "token".into(),
            }),
            resources: vec![ReceiverResource {
                kind: FluxKind::GitRepository,
                name: "webapp".into(),
                ..ReceiverResource::default()
            }],
            ..ReceiverSpec::default()
        },
    );
    r.metadata.namespace = Some(NS.into());
    r.status = Some(ReceiverStatus {
        webhook_path: Some(webhook_path(TOKEN, "hook", NS)),
        conditions: Some(vec![Condition {
            type_: "Ready".into(),
            status: if ready { "True" } else { "False" }.into(),
            reason: "Succeeded".into(),
            message: String::new(),
            observed_generation: None,
            last_transition_time: Time(jiff::Timestamp::UNIX_EPOCH),
        }]),
        ..ReceiverStatus::default()
    });
    r
}

/// An API server with the token Secret and a GitRepository that accepts patches.
fn server(receivers: Vec<Receiver>) -> Router {
    let client = fake_client(|method, path| match (method, path) {
        ("GET", "/api/v1/namespaces/apps/secrets/token") => Some((
            StatusCode::OK,
            json!({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "token"},
                   "data": {"token": "aW4tcHJvY2Vzcy10b2tlbg=="}}),
        )),
        (_, "/apis/source.toolkit.fluxcd.io/v1/namespaces/apps/gitrepositories/webapp") => Some((
            StatusCode::OK,
            json!({"apiVersion": "source.toolkit.fluxcd.io/v1", "kind": "GitRepository",
                   "metadata": {"name": "webapp", "namespace": "apps"}}),
        )),
        _ => None,
    });
    router(Arc::new(ReceiverServer {
        client,
        receivers: store(receivers),
        no_cross_namespace_refs: false,
        verifier: crate::receiver::oidc::Verifier::new().expect("verifier"),
        google_issuer: crate::receiver::identity::GOOGLE_ISSUER.into(),
    }))
}

async fn call(router: Router, path: &str, headers: &[(&str, &str)], body: Vec<u8>) -> StatusCode {
    let mut request = Request::post(path);
    for (k, v) in headers {
        request = request.header(*k, *v);
    }
    let request = request.body(Body::from(body)).expect("request");
    router.oneshot(request).await.expect("infallible").status()
}

fn signed(body: &[u8]) -> String {
    let mut mac = hmac::Hmac::<sha2::Sha256>::new_from_slice(TOKEN.as_bytes()).expect("any key");
    mac.update(body);
    format!("sha256={}", hex::encode(mac.finalize().into_bytes()))
}

#[tokio::test]
async fn a_verified_call_is_ok_and_an_unverified_one_unauthorized() {
    let path = webhook_path(TOKEN, "hook", NS);
    let body = br#"{"ref":"refs/heads/main"}"#.to_vec();
    let good = signed(&body);
    let router = server(vec![receiver(ReceiverType::GitHub, true, false)]);
    let headers = [
        ("X-GitHub-Event", "push"),
        ("X-Hub-Signature-256", good.as_str()),
    ];
    assert_eq!(
        call(router.clone(), &path, &headers, body.clone()).await,
        StatusCode::OK
    );
    let forged = [
        ("X-GitHub-Event", "push"),
        ("X-Hub-Signature-256", "sha256=00"),
    ];
    assert_eq!(
        call(router, &path, &forged, body).await,
        StatusCode::UNAUTHORIZED
    );
}

#[tokio::test]
async fn unknown_paths_are_not_found_and_suspended_or_unready_receivers_unavailable() {
    let path = webhook_path(TOKEN, "hook", NS);
    let router = server(vec![receiver(ReceiverType::Generic, true, false)]);
    assert_eq!(
        call(router.clone(), "/hook/0000", &[], vec![]).await,
        StatusCode::NOT_FOUND
    );
    assert_eq!(call(router, "/", &[], vec![]).await, StatusCode::NOT_FOUND);
    let unready = server(vec![receiver(ReceiverType::Generic, false, false)]);
    assert_eq!(
        call(unready, &path, &[], vec![]).await,
        StatusCode::SERVICE_UNAVAILABLE
    );
    let suspended = server(vec![receiver(ReceiverType::Generic, true, true)]);
    assert_eq!(
        call(suspended, &path, &[], vec![]).await,
        StatusCode::SERVICE_UNAVAILABLE
    );
}

#[tokio::test]
async fn bodies_over_three_mebibytes_are_refused() {
    let path = webhook_path(TOKEN, "hook", NS);
    let router = server(vec![receiver(ReceiverType::Generic, true, false)]);
    let status = call(router.clone(), &path, &[], vec![b' '; MAX_BODY_BYTES + 1]).await;
    assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE);
    assert_eq!(
        call(router, &path, &[], vec![b' '; MAX_BODY_BYTES]).await,
        StatusCode::OK
    );
}

#[tokio::test]
async fn a_failed_annotation_is_a_server_error() {
    let mut r = receiver(ReceiverType::Generic, true, false);
    r.spec.resources[0].name = "missing".into();
    let path = webhook_path(TOKEN, "hook", NS);
    assert_eq!(
        call(server(vec![r]), &path, &[], vec![]).await,
        StatusCode::INTERNAL_SERVER_ERROR
    );
}

#[test]
fn the_webhook_path_is_the_sha256_of_token_name_and_namespace() {
    // printf 'tokenreceiverflux-system' | sha256sum
    assert_eq!(
        webhook_path("token", "receiver", "flux-system"),
        "/hook/82c055fa0743ee447b0870be16fa51a43bb6604b21ef8fae7ccf02bdc860b0f9"
    );
    assert_ne!(
        webhook_path("token", "receiver", "flux-system"),
        webhook_path("other", "receiver", "flux-system")
    );
}
