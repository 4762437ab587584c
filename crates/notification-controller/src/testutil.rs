//! Test doubles shared by the in-process router tests: a Kubernetes client whose API server is
//! a function, and caches filled by hand.

use std::convert::Infallible;

use axum::body::Bytes;
use axum::http::{Request, Response, StatusCode};
use http_body_util::Full;
use kube::runtime::reflector::{self, Store};
use kube::runtime::watcher;
use serde_json::{Value, json};

/// A client whose every request is answered by `answer(method, path)`: `Some((status, body))`,
/// or a 404 Status when `None`.
pub fn fake_client(
    answer: impl Fn(&str, &str) -> Option<(StatusCode, Value)> + Send + Sync + Clone + 'static,
) -> kube::Client {
    let service = tower::service_fn(move |request: Request<kube::client::Body>| {
        let answer = answer.clone();
        async move {
            let (status, body) = answer(request.method().as_str(), request.uri().path())
                .unwrap_or_else(|| {
                    let status = json!({"kind": "Status", "apiVersion": "v1", "status": "Failure",
                        "message": "not found", "reason": "NotFound", "code": 404});
                    (StatusCode::NOT_FOUND, status)
                });
            let response = Response::builder()
                .status(status)
                .header("Content-Type", "application/json")
                .body(Full::new(Bytes::from(body.to_string())))
                .expect("a valid response");
            Ok::<_, Infallible>(response)
        }
    });
    kube::Client::new(service, "default")
}

/// A cache holding `objects`.
pub fn store<K>(objects: Vec<K>) -> Store<K>
where
    K: kube::Resource<DynamicType = ()> + Clone + 'static,
{
    let (reader, mut writer) = reflector::store();
    for object in objects {
        writer.apply_watcher_event(&watcher::Event::Apply(object));
    }
    reader
}
