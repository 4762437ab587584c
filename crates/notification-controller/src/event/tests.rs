//! The event router in process: status codes, de-duplication, delivery to a matched Alert.

use std::sync::Mutex;
use std::time::Duration;

use axum::body::Body;
use axum::http::Request;
use driftless_api::meta::LocalObjectReference;
use driftless_api::notification::{
    Alert, AlertSpec, EventSourceReference, FluxKind, Provider, ProviderSpec, ProviderType,
};
use serde_json::json;
use tower::ServiceExt;

use super::*;
use crate::event::dispatch::DeliveryCounter;
use crate::testutil::{fake_client, store};

#[derive(Default)]
struct Outcomes(Mutex<Vec<bool>>);

impl DeliveryCounter for Outcomes {
    fn record(&self, ok: bool) {
        self.0.lock().expect("lock").push(ok);
    }
}

fn alerting(address: &str) -> (Vec<Alert>, Vec<Provider>) {
    let mut alert = Alert::new(
        "all",
        AlertSpec {
            provider_ref: LocalObjectReference {
                name: "webhook".into(),
            },
            event_sources: vec![EventSourceReference {
                kind: FluxKind::GitRepository,
                name: "*".into(),
                ..EventSourceReference::default()
            }],
            ..AlertSpec::default()
        },
    );
    alert.metadata.namespace = Some("apps".into());
    let mut provider = Provider::new(
        "webhook",
        ProviderSpec {
            type_: ProviderType::Generic,
            address: Some(address.into()),
            ..ProviderSpec::default()
        },
    );
    provider.metadata.namespace = Some("apps".into());
    (vec![alert], vec![provider])
}

fn server(address: &str, counter: Arc<Outcomes>) -> Router {
    let (alerts, providers) = alerting(address);
    router(Arc::new(EventServer {
        limiter: RateLimiter::new(Duration::from_secs(300)),
        dispatcher: Arc::new(Dispatcher {
            client: fake_client(|_, _| None),
            alerts: store(alerts),
            providers: store(providers),
            no_cross_namespace_refs: false,
            counter,
            recorder: None,
        }),
    }))
}

fn event(message: &str) -> Vec<u8> {
    serde_json::to_vec(&json!({
        "involvedObject": {"apiVersion": "source.toolkit.fluxcd.io/v1", "kind": "GitRepository",
                           "name": "fleet", "namespace": "apps"},
        "severity": "info", "timestamp": "2026-01-01T00:00:00Z", "message": message,
        "reason": "NewArtifact", "reportingController": "source-controller",
        "metadata": {"source.toolkit.fluxcd.io/revision": "main@sha1:1"},
    }))
    .expect("serializes")
}

async fn post(router: Router, body: Vec<u8>) -> StatusCode {
    let request = Request::post("/").body(Body::from(body)).expect("request");
    router.oneshot(request).await.expect("infallible").status()
}

#[tokio::test]
async fn events_are_accepted_once_and_duplicates_refused() {
    let router = server("http://127.0.0.1:1/", Arc::default());
    assert_eq!(
        post(router.clone(), event("stored artifact")).await,
        StatusCode::ACCEPTED
    );
    assert_eq!(
        post(router.clone(), event("stored artifact")).await,
        StatusCode::TOO_MANY_REQUESTS
    );
    assert_eq!(
        post(router.clone(), event("another message")).await,
        StatusCode::ACCEPTED
    );
    assert_eq!(
        post(router.clone(), b"{}".to_vec()).await,
        StatusCode::BAD_REQUEST
    );
    let get = Request::get("/").body(Body::empty()).expect("request");
    assert_eq!(
        router.oneshot(get).await.expect("infallible").status(),
        StatusCode::METHOD_NOT_ALLOWED
    );
}

#[tokio::test]
async fn a_matched_event_is_delivered_to_the_alerts_provider() {
    let received: Arc<Mutex<Vec<serde_json::Value>>> = Arc::default();
    let sink = Arc::clone(&received);
    let app = Router::new().fallback(move |body: Bytes| {
        let sink = Arc::clone(&sink);
        async move {
            sink.lock()
                .expect("lock")
                .push(serde_json::from_slice(&body).unwrap_or_default());
            "ok"
        }
    });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let address = format!("http://{}/", listener.local_addr().expect("addr"));
    tokio::spawn(async move { axum::serve(listener, app).await });
    let outcomes = Arc::new(Outcomes::default());
    let router = server(&address, Arc::clone(&outcomes));
    assert_eq!(
        post(router, event("stored artifact")).await,
        StatusCode::ACCEPTED
    );
    for _ in 0..100 {
        if !outcomes.0.lock().expect("lock").is_empty() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(*outcomes.0.lock().expect("lock"), vec![true]);
    let got = received.lock().expect("lock").clone();
    assert_eq!(got.len(), 1);
    assert_eq!(got[0]["metadata"], json!({"revision": "main@sha1:1"}));
}
