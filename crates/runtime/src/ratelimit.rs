//! Client-side request rate limiting: `--kube-api-qps` and `--kube-api-burst`.
//!
//! Flux's controllers hand their QPS and burst to controller-runtime, whose client builds one
//! REST client, and so one token bucket, per API resource. We do the same: every request waits for
//! a token from the bucket of the resource its path names (`apps/v1/deployments`, `v1/configmaps`,
//! ...), so a flood of Deployment applies does not starve status patches of Kustomizations, and a
//! benchmark run "with the same flags" really runs under the same limits on both sides.
//!
//! The wait is a reservation (as Go's `rate.Limiter.Wait` makes one): a request takes a token now
//! even when the bucket is empty and sleeps until the bucket would have refilled it, so waiters
//! are served in arrival order without polling.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};
use std::task::{Context, Poll};
use std::time::Duration;

use http::{Request, Response};
use kube::client::{Body, ClientBuilder};
use tokio::time::Instant;
use tower::buffer::Buffer;
use tower::util::BoxService;
use tower::{BoxError, Layer, Service, ServiceExt as _};

/// Queries per second and burst of one token bucket; `qps <= 0` disables limiting, as in
/// client-go.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Limits {
    pub qps: f32,
    pub burst: i32,
}

impl Limits {
    fn enabled(self) -> bool {
        self.qps > 0.0 && self.qps.is_finite()
    }
}

/// A kube client for `config` whose requests are limited per API resource by `limits`.
pub fn client(config: kube::Config, limits: Limits) -> Result<kube::Client, kube::Error> {
    let builder = ClientBuilder::try_from(config)?;
    if !limits.enabled() {
        return Ok(builder.build());
    }
    Ok(builder.with_layer(&RateLimitLayer::new(limits)).build())
}

/// One bucket: tokens may go negative, each negative token being a reservation in the queue.
#[derive(Debug)]
struct Bucket {
    tokens: f64,
    refilled: Instant,
}

/// The buckets of one client, keyed by API resource.
#[derive(Debug)]
struct Limiter {
    qps: f64,
    burst: f64,
    buckets: Mutex<HashMap<String, Bucket>>,
}

impl Limiter {
    /// Takes a token from `key`'s bucket and says how long to wait before using it.
    fn reserve(&self, key: &str, now: Instant) -> Duration {
        let mut buckets = self.buckets.lock().unwrap_or_else(PoisonError::into_inner);
        let bucket = buckets.entry(key.to_owned()).or_insert(Bucket {
            tokens: self.burst,
            refilled: now,
        });
        let elapsed = now.saturating_duration_since(bucket.refilled).as_secs_f64();
        bucket.tokens = (bucket.tokens + elapsed * self.qps).min(self.burst);
        bucket.refilled = now;
        bucket.tokens -= 1.0;
        if bucket.tokens >= 0.0 {
            Duration::ZERO
        } else {
            Duration::from_secs_f64(-bucket.tokens / self.qps)
        }
    }
}

/// The tower layer [`client`] adds to kube's service stack.
#[derive(Clone, Debug)]
pub struct RateLimitLayer {
    limiter: Arc<Limiter>,
}

impl RateLimitLayer {
    pub fn new(limits: Limits) -> Self {
        RateLimitLayer {
            limiter: Arc::new(Limiter {
                qps: f64::from(limits.qps),
                // client-go refuses a zero burst with a positive QPS; one token keeps us moving.
                burst: f64::from(limits.burst.max(1)),
                buckets: Mutex::new(HashMap::new()),
            }),
        }
    }
}

type BoxFuture<T> = std::pin::Pin<Box<dyn Future<Output = T> + Send>>;

impl<S, B> Layer<S> for RateLimitLayer
where
    S: Service<Request<Body>, Response = Response<B>> + Send + 'static,
    S::Future: Send + 'static,
    S::Error: Into<BoxError>,
    B: Send + 'static,
{
    type Service = RateLimited<B>;

    fn layer(&self, inner: S) -> RateLimited<B> {
        // The buffer makes the inner stack cloneable into each request's future, so one request
        // waiting for its bucket never holds up requests for other resources.
        RateLimited {
            inner: Buffer::new(
                BoxService::new(inner.map_err(|e: S::Error| -> BoxError { e.into() })),
                1024,
            ),
            limiter: self.limiter.clone(),
        }
    }
}

type Inner<B> = Buffer<Request<Body>, BoxFuture<Result<Response<B>, BoxError>>>;

/// kube's service stack behind per-resource token buckets.
pub struct RateLimited<B: 'static> {
    inner: Inner<B>,
    limiter: Arc<Limiter>,
}

impl<B: 'static> Clone for RateLimited<B> {
    fn clone(&self) -> Self {
        RateLimited {
            inner: self.inner.clone(),
            limiter: self.limiter.clone(),
        }
    }
}

impl<B: Send + 'static> Service<Request<Body>> for RateLimited<B> {
    type Response = Response<B>;
    type Error = BoxError;
    type Future = BoxFuture<Result<Response<B>, BoxError>>;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), BoxError>> {
        // Readiness is decided per request, after its bucket grants it.
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, request: Request<Body>) -> Self::Future {
        let wait = self
            .limiter
            .reserve(&resource_key(request.uri().path()), Instant::now());
        let mut inner = self.inner.clone();
        Box::pin(async move {
            if !wait.is_zero() {
                tokio::time::sleep(wait).await;
            }
            std::future::poll_fn(|cx| inner.poll_ready(cx)).await?;
            inner.call(request).await
        })
    }
}

/// The API resource a request path names: `group/version/resource` (`v1/resource` for the core
/// group), ignoring namespaces, names and subresources; other paths (discovery, /version) share
/// one bucket per top-level segment.
pub fn resource_key(path: &str) -> String {
    let segments: Vec<&str> = path.split('/').filter(|s| !s.is_empty()).collect();
    let (group_version, rest) = match segments.as_slice() {
        ["api", version, rest @ ..] => (version.to_string(), rest),
        ["apis", group, version, rest @ ..] => (format!("{group}/{version}"), rest),
        [first, ..] => return (*first).to_owned(),
        [] => return String::new(),
    };
    let resource = match rest {
        ["namespaces", _, resource, ..] => resource,
        [resource, ..] => resource,
        [] => return group_version,
    };
    format!("{group_version}/{resource}")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn limiter(qps: f64, burst: f64) -> Limiter {
        Limiter {
            qps,
            burst,
            buckets: Mutex::new(HashMap::new()),
        }
    }

    #[test]
    fn requests_are_keyed_by_their_api_resource() {
        assert_eq!(
            resource_key("/apis/apps/v1/namespaces/demo/deployments/web"),
            "apps/v1/deployments"
        );
        assert_eq!(
            resource_key("/apis/apps/v1/deployments"),
            "apps/v1/deployments"
        );
        assert_eq!(
            resource_key("/api/v1/namespaces/demo/configmaps/x"),
            "v1/configmaps"
        );
        // A Namespace itself is the resource `namespaces`, not a namespaced path.
        assert_eq!(resource_key("/api/v1/namespaces/demo"), "v1/namespaces");
        assert_eq!(
            resource_key(
                "/apis/kustomize.toolkit.fluxcd.io/v1/namespaces/a/kustomizations/b/status"
            ),
            "kustomize.toolkit.fluxcd.io/v1/kustomizations"
        );
        assert_eq!(resource_key("/apis/apps/v1"), "apps/v1");
        assert_eq!(resource_key("/version"), "version");
    }

    #[test]
    fn a_burst_passes_at_once_and_later_requests_are_spaced_at_the_qps() {
        let limiter = limiter(10.0, 3.0);
        let now = Instant::now();
        for _ in 0..3 {
            assert_eq!(limiter.reserve("v1/configmaps", now), Duration::ZERO);
        }
        let waits: Vec<Duration> = (0..3)
            .map(|_| limiter.reserve("v1/configmaps", now))
            .collect();
        let millis: Vec<u128> = waits.iter().map(Duration::as_millis).collect();
        assert_eq!(millis, vec![100, 200, 300]);
    }

    #[test]
    fn each_resource_has_its_own_bucket() {
        let limiter = limiter(1.0, 1.0);
        let now = Instant::now();
        assert_eq!(limiter.reserve("apps/v1/deployments", now), Duration::ZERO);
        assert_eq!(limiter.reserve("v1/services", now), Duration::ZERO);
        assert!(limiter.reserve("apps/v1/deployments", now) > Duration::ZERO);
    }

    #[test]
    fn an_idle_bucket_refills_up_to_its_burst_only() {
        let limiter = limiter(10.0, 2.0);
        let start = Instant::now();
        limiter.reserve("k", start);
        limiter.reserve("k", start);
        let later = start + Duration::from_secs(60);
        assert_eq!(limiter.reserve("k", later), Duration::ZERO);
        assert_eq!(limiter.reserve("k", later), Duration::ZERO);
        assert_eq!(limiter.reserve("k", later).as_millis(), 100);
    }

    #[test]
    fn zero_qps_disables_limiting() {
        assert!(
            !Limits {
                qps: 0.0,
                burst: 300
            }
            .enabled()
        );
        assert!(
            Limits {
                qps: 50.0,
                burst: 300
            }
            .enabled()
        );
    }
}
