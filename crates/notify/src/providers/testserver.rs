//! A loopback HTTP server recording every request, standing in for the outside services.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use axum::body::Bytes;
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::response::IntoResponse;

use crate::error::NotifyError;
use crate::event::{Event, ObjectRef};
use crate::providers::notifier;
use crate::settings::ProviderSettings;

/// One request as the server saw it.
#[derive(Clone, Debug)]
pub(crate) struct Recorded {
    pub(crate) method: String,
    pub(crate) path: String,
    pub(crate) query: Option<String>,
    pub(crate) headers: HeaderMap,
    pub(crate) body: Vec<u8>,
}

impl Recorded {
    pub(crate) fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    pub(crate) fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body).expect("request body is JSON")
    }
}

type Responder = dyn Fn(&Recorded) -> (u16, String) + Send + Sync;

pub(crate) struct TestServer {
    addr: std::net::SocketAddr,
    requests: Arc<Mutex<Vec<Recorded>>>,
}

impl TestServer {
    /// Answers every request `200 {}`.
    pub(crate) async fn start() -> Self {
        Self::start_with(|_| (200, "{}".into())).await
    }

    /// Answers every request with `status` and `body`.
    pub(crate) async fn start_with_status(status: u16, body: &str) -> Self {
        let body = body.to_owned();
        Self::start_with(move |_| (status, body.clone())).await
    }

    /// Answers each request with what `respond` says.
    pub(crate) async fn start_with(
        respond: impl Fn(&Recorded) -> (u16, String) + Send + Sync + 'static,
    ) -> Self {
        let requests = Arc::new(Mutex::new(Vec::new()));
        let respond: Arc<Responder> = Arc::new(respond);
        let store = requests.clone();
        let app = axum::Router::new().fallback(
            move |method: Method, uri: Uri, headers: HeaderMap, body: Bytes| {
                let store = store.clone();
                let respond = respond.clone();
                async move {
                    let recorded = Recorded {
                        method: method.to_string(),
                        path: uri.path().to_owned(),
                        query: uri.query().map(str::to_owned),
                        headers,
                        body: body.to_vec(),
                    };
                    let (status, reply) = respond(&recorded);
                    store.lock().expect("lock").push(recorded);
                    let status = StatusCode::from_u16(status).expect("status");
                    (status, [("content-type", "application/json")], reply).into_response()
                }
            },
        );
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind loopback");
        let addr = listener.local_addr().expect("local addr");
        tokio::spawn(async move {
            axum::serve(listener, app).await.expect("serve");
        });
        Self { addr, requests }
    }

    pub(crate) fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    pub(crate) fn requests(&self) -> Vec<Recorded> {
        self.requests.lock().expect("lock").clone()
    }

    /// The one request received; fails when there were none or several.
    pub(crate) async fn single_request(&self) -> Recorded {
        let requests = self.requests();
        assert_eq!(
            requests.len(),
            1,
            "expected exactly one request: {requests:?}"
        );
        requests.into_iter().next().expect("one request")
    }
}

/// A failed Kustomization reconcile with its revision, as providers receive it (the event
/// server has stripped the group from the metadata keys).
pub(crate) fn sample_event() -> Event {
    Event {
        involved_object: ObjectRef {
            kind: "Kustomization".into(),
            namespace: "flux-system".into(),
            name: "apps".into(),
            uid: Some("cc4d0095-83f4-4f08-98f2-d2e9f3731fb9".into()),
            api_version: Some("kustomize.toolkit.fluxcd.io/v1".into()),
            ..ObjectRef::default()
        },
        severity: "error".into(),
        timestamp: "2026-11-26T09:00:00Z".into(),
        message: "Deployment/default/web dry-run failed".into(),
        reason: "ReconciliationFailed".into(),
        metadata: BTreeMap::from([(
            "revision".to_owned(),
            "main@sha1:9f3b4c1a2d5e6f708192a3b4c5d6e7f8091a2b3c".to_owned(),
        )]),
        reporting_controller: "kustomize-controller".into(),
        reporting_instance: "kustomize-controller-7d9f".into(),
    }
}

/// The same event reporting success.
pub(crate) fn info_event() -> Event {
    Event {
        severity: "info".into(),
        message: "Reconciliation finished".into(),
        reason: "ReconciliationSucceeded".into(),
        ..sample_event()
    }
}

/// Builds the notifier for `settings` and posts `event`, which must succeed.
pub(crate) async fn post_ok(settings: ProviderSettings, event: &Event) {
    notifier(settings)
        .expect("notifier")
        .post(event)
        .await
        .expect("posted");
}

/// Builds the notifier for `settings` and posts `event`, which must fail.
pub(crate) async fn post_err(settings: ProviderSettings, event: &Event) -> NotifyError {
    notifier(settings)
        .expect("notifier")
        .post(event)
        .await
        .expect_err("posting fails")
}
