//! A tower layer that authenticates every request of a kube client with a ServiceAccount token
//! from a [`TokenSource`], fetched per request (from its cache): a client for a remote cluster
//! outlives any one token, and a Helm wait or health check may run longer than a token lives.

use std::sync::Arc;
use std::task::{Context, Poll};

use http::header::{AUTHORIZATION, HeaderValue};
use http::{Request, Response};
use kube::client::Body;
use tower::buffer::Buffer;
use tower::util::BoxService;
use tower::{BoxError, Layer, Service, ServiceExt as _};

use crate::sa_token::{Account, TokenSource};

/// Sets `Authorization: Bearer <token of account for audiences>` on each request.
#[derive(Clone, Debug)]
pub struct BearerLayer {
    source: Arc<TokenSource>,
    account: Account,
    audiences: Arc<[String]>,
}

impl BearerLayer {
    /// Tokens of `account` for `audiences`, from `source`.
    pub fn new(source: Arc<TokenSource>, account: Account, audiences: Vec<String>) -> Self {
        Self {
            source,
            account,
            audiences: audiences.into(),
        }
    }
}

type BoxFuture<T> = std::pin::Pin<Box<dyn Future<Output = T> + Send>>;
type Inner<B> = Buffer<Request<Body>, BoxFuture<Result<Response<B>, BoxError>>>;

impl<S, B> Layer<S> for BearerLayer
where
    S: Service<Request<Body>, Response = Response<B>> + Send + 'static,
    S::Future: Send + 'static,
    S::Error: Into<BoxError>,
    B: Send + 'static,
{
    type Service = Bearer<B>;

    fn layer(&self, inner: S) -> Bearer<B> {
        // kube's stack is not Clone; the buffer lets each request's future own a handle to it
        // while it awaits its token.
        Bearer {
            inner: Buffer::new(
                BoxService::new(inner.map_err(|e: S::Error| -> BoxError { e.into() })),
                1024,
            ),
            layer: self.clone(),
        }
    }
}

/// kube's service stack behind [`BearerLayer`].
pub struct Bearer<B: 'static> {
    inner: Inner<B>,
    layer: BearerLayer,
}

impl<B: 'static> Clone for Bearer<B> {
    fn clone(&self) -> Self {
        Self {
            inner: self.inner.clone(),
            layer: self.layer.clone(),
        }
    }
}

impl<B: Send + 'static> Service<Request<Body>> for Bearer<B> {
    type Response = Response<B>;
    type Error = BoxError;
    type Future = BoxFuture<Result<Response<B>, BoxError>>;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), BoxError>> {
        // Readiness is the inner stack's, awaited in the call once the token is there.
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, mut request: Request<Body>) -> Self::Future {
        let mut inner = self.inner.clone();
        let layer = self.layer.clone();
        Box::pin(async move {
            let token = layer.source.token(&layer.account, &layer.audiences).await?;
            let mut value = HeaderValue::from_str(&format!("Bearer {token}"))
                .map_err(|_| BoxError::from("the issued token is not a valid header value"))?;
            // Keeps the token out of any header dump (Debug of the request).
            value.set_sensitive(true);
            request.headers_mut().insert(AUTHORIZATION, value);
            std::future::poll_fn(|cx| inner.poll_ready(cx)).await?;
            inner.call(request).await
        })
    }
}
