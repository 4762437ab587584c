//! The two admin servers every controller runs: metrics on `--metrics-addr` (`/metrics`) and
//! probes on `--health-addr` (`/healthz`, `/readyz`, ping checks as controller-runtime's). Each
//! is a pure `router(state)` tested in process; `serve` binds it until the shutdown signal.

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use axum::Router;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;

use crate::metrics::Metrics;

/// The Prometheus text format content type.
const TEXT_FORMAT: &str = "text/plain; version=0.0.4; charset=utf-8";

/// `GET /metrics`: every registered series in the Prometheus text format.
pub fn metrics_router(metrics: Arc<Metrics>) -> Router {
    Router::new()
        .route("/metrics", get(render_metrics))
        .with_state(metrics)
}

async fn render_metrics(State(metrics): State<Arc<Metrics>>) -> Response {
    match metrics.render() {
        Ok(text) => ([(header::CONTENT_TYPE, TEXT_FORMAT)], text).into_response(),
        Err(error) => (StatusCode::INTERNAL_SERVER_ERROR, error.to_string()).into_response(),
    }
}

/// Readiness shared between the controller and the probe server: false until the controller's
/// caches have synced (and while shutting down).
#[derive(Clone, Debug, Default)]
pub struct Readiness(Arc<AtomicBool>);

impl Readiness {
    /// Marks the process ready or not.
    pub fn set(&self, ready: bool) {
        self.0.store(ready, Ordering::Relaxed);
    }

    /// Whether the process is ready.
    pub fn get(&self) -> bool {
        self.0.load(Ordering::Relaxed)
    }
}

/// `GET /healthz` (alive: always `ok`) and `GET /readyz` (`ok` once ready, else 500), with the
/// plain-text bodies controller-runtime's healthz handler gives.
pub fn health_router(readiness: Readiness) -> Router {
    Router::new()
        .route("/healthz", get(|| async { "ok" }))
        .route("/readyz", get(ready))
        .with_state(readiness)
}

async fn ready(State(readiness): State<Readiness>) -> Response {
    if readiness.get() {
        "ok".into_response()
    } else {
        (
            StatusCode::INTERNAL_SERVER_ERROR,
            "[-]ping failed: reason withheld\nhealthz check failed\n",
        )
            .into_response()
    }
}

/// Serving an admin router failed.
#[derive(Debug, thiserror::Error)]
#[error("serving on {addr} failed")]
pub struct ServeError {
    /// The listen address.
    pub addr: SocketAddr,
    /// The I/O error.
    #[source]
    pub source: std::io::Error,
}

/// Serves `router` on `addr` until `shutdown` completes.
pub async fn serve(
    addr: SocketAddr,
    router: Router,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), ServeError> {
    let listener = tokio::net::TcpListener::bind(addr)
        .await
        .map_err(|source| ServeError { addr, source })?;
    axum::serve(listener, router)
        .with_graceful_shutdown(shutdown)
        .await
        .map_err(|source| ServeError { addr, source })
}

#[cfg(test)]
mod tests {
    use axum::body::Body;
    use axum::http::Request;
    use http_body_util::BodyExt;
    use tower::ServiceExt;

    use super::*;

    async fn get(router: Router, path: &str) -> (StatusCode, String) {
        let response = router
            .oneshot(Request::get(path).body(Body::empty()).expect("request"))
            .await
            .expect("infallible");
        let status = response.status();
        let bytes = response
            .into_body()
            .collect()
            .await
            .expect("body")
            .to_bytes();
        (status, String::from_utf8_lossy(&bytes).into_owned())
    }

    #[tokio::test]
    async fn metrics_are_served_in_the_prometheus_text_format() {
        let metrics = Arc::new(Metrics::new().expect("metrics"));
        metrics.register_controller("gitrepository", 2);
        let (status, body) = get(metrics_router(metrics), "/metrics").await;
        assert_eq!(status, StatusCode::OK);
        assert!(
            body.contains("controller_runtime_reconcile_total{controller=\"gitrepository\",result=\"error\"} 0"),
            "{body}"
        );
        assert!(body.contains("process_cpu_seconds_total"), "{body}");
    }

    #[tokio::test]
    async fn healthz_is_always_ok_and_readyz_follows_readiness() {
        let readiness = Readiness::default();
        let router = health_router(readiness.clone());
        assert_eq!(
            get(router.clone(), "/healthz").await,
            (StatusCode::OK, "ok".into())
        );
        assert_eq!(
            get(router.clone(), "/readyz").await.0,
            StatusCode::INTERNAL_SERVER_ERROR
        );
        readiness.set(true);
        assert_eq!(
            get(router.clone(), "/readyz").await,
            (StatusCode::OK, "ok".into())
        );
        assert_eq!(get(router, "/nope").await.0, StatusCode::NOT_FOUND);
    }
}
