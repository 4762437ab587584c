//! HTTP metrics of the event and webhook servers, named as Flux's (slok/go-http-metrics with the
//! prefixes `gotk_event` and `gotk_receiver`): `<prefix>_http_request_duration_seconds` and
//! `<prefix>_http_response_size_bytes` by `service`, `handler`, `method`, `code`, and
//! `<prefix>_http_requests_inflight` by `service`, `handler`. The `handler` label is the route
//! (`/`, `/hook/`) unless `--export-http-path-metrics` asks for the full path — which, for the
//! webhook server, is the secret path of a Receiver, hence off by default.

use std::sync::Arc;
use std::time::Instant;

use axum::extract::{Request, State};
use axum::middleware::Next;
use axum::response::Response;
use prometheus::{HistogramOpts, HistogramVec, IntGaugeVec, Opts, Registry};

/// Prometheus' default latency buckets (Go client `DefBuckets`).
const DURATION_BUCKETS: [f64; 11] = [
    0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
];

/// One server's HTTP metrics.
#[derive(Clone, Debug)]
pub struct HttpMetrics {
    duration: HistogramVec,
    size: HistogramVec,
    inflight: IntGaugeVec,
    route: &'static str,
    full_path: bool,
}

impl HttpMetrics {
    /// Registers the metrics named `<prefix>_…` for the server mounted at `route`.
    pub fn register(
        registry: &Registry,
        prefix: &str,
        route: &'static str,
        full_path: bool,
    ) -> Result<Arc<Self>, prometheus::Error> {
        let labels = ["service", "handler", "method", "code"];
        let duration = HistogramVec::new(
            HistogramOpts::new(
                format!("{prefix}_http_request_duration_seconds"),
                "The latency of the HTTP requests.",
            )
            .buckets(DURATION_BUCKETS.to_vec()),
            &labels,
        )?;
        let size = HistogramVec::new(
            HistogramOpts::new(
                format!("{prefix}_http_response_size_bytes"),
                "The size of the HTTP responses.",
            )
            .buckets(prometheus::exponential_buckets(100.0, 10.0, 8)?),
            &labels,
        )?;
        let inflight = IntGaugeVec::new(
            Opts::new(
                format!("{prefix}_http_requests_inflight"),
                "The number of inflight requests being handled at the same time.",
            ),
            &["service", "handler"],
        )?;
        registry.register(Box::new(duration.clone()))?;
        registry.register(Box::new(size.clone()))?;
        registry.register(Box::new(inflight.clone()))?;
        Ok(Arc::new(Self {
            duration,
            size,
            inflight,
            route,
            full_path,
        }))
    }
}

/// The middleware: wrap a router with
/// `axum::middleware::from_fn_with_state(metrics, http_metrics::track)`.
pub async fn track(
    State(metrics): State<Arc<HttpMetrics>>,
    request: Request,
    next: Next,
) -> Response {
    let handler = if metrics.full_path {
        request.uri().path().to_owned()
    } else {
        metrics.route.to_owned()
    };
    let method = request.method().as_str().to_owned();
    let inflight = metrics.inflight.with_label_values(&["", handler.as_str()]);
    inflight.inc();
    let started = Instant::now();
    let response = next.run(request).await;
    inflight.dec();
    let code = response.status().as_u16().to_string();
    let labels = ["", handler.as_str(), method.as_str(), code.as_str()];
    metrics
        .duration
        .with_label_values(&labels)
        .observe(started.elapsed().as_secs_f64());
    let size = axum::body::HttpBody::size_hint(response.body())
        .exact()
        .unwrap_or_default();
    metrics.size.with_label_values(&labels).observe(size as f64);
    response
}

#[cfg(test)]
mod tests {
    use axum::Router;
    use axum::body::Body;
    use axum::http::StatusCode;
    use axum::routing::post;
    use tower::ServiceExt;

    use super::*;

    #[tokio::test]
    async fn requests_are_counted_by_route_method_and_code() {
        let registry = Registry::new();
        let metrics = HttpMetrics::register(&registry, "gotk_event", "/", false).expect("register");
        let router = Router::new()
            .route("/", post(|| async { StatusCode::ACCEPTED }))
            .layer(axum::middleware::from_fn_with_state(metrics, track));
        let request = Request::post("/").body(Body::empty()).expect("request");
        let response = router.oneshot(request).await.expect("infallible");
        assert_eq!(response.status(), StatusCode::ACCEPTED);
        let families = registry.gather();
        let duration = families
            .iter()
            .find(|f| f.name() == "gotk_event_http_request_duration_seconds")
            .expect("duration histogram");
        let metric = &duration.get_metric()[0];
        let labels: Vec<(&str, &str)> = metric
            .get_label()
            .iter()
            .map(|l| (l.name(), l.value()))
            .collect();
        assert_eq!(
            labels,
            vec![
                ("code", "202"),
                ("handler", "/"),
                ("method", "POST"),
                ("service", "")
            ]
        );
        assert_eq!(metric.get_histogram().get_sample_count(), 1);
    }
}
