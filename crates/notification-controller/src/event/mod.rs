//! The event server on `--events-addr`: every Flux controller POSTs its events here (Flux mounts
//! the handler on `/`, so any path is accepted). A body that is not an event is 400, a duplicate
//! within `--rate-limit-interval` is 429 and goes nowhere, anything else is 202 and is dispatched
//! to the Providers of the Alerts it matches, in the background.

pub mod dispatch;
pub mod matching;
pub mod metadata;
pub mod ratelimit;

use std::sync::Arc;
use std::time::Instant;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, State};
use axum::http::{Method, StatusCode};
use driftless_notify::Event;

use dispatch::Dispatcher;
use ratelimit::{RateLimiter, event_key};

/// The largest event body accepted; Flux caps messages at 39 000 characters, so a real event is
/// far smaller.
pub const MAX_EVENT_BYTES: usize = 3 * 1024 * 1024;

/// What the event handler needs.
pub struct EventServer {
    /// Duplicate suppression.
    pub limiter: RateLimiter,
    /// Alert matching and delivery.
    pub dispatcher: Arc<Dispatcher>,
}

/// The event server's routes: POST on any path.
pub fn router(state: Arc<EventServer>) -> Router {
    Router::new()
        .fallback(handle)
        .layer(DefaultBodyLimit::max(MAX_EVENT_BYTES))
        .with_state(state)
}

async fn handle(State(server): State<Arc<EventServer>>, method: Method, body: Bytes) -> StatusCode {
    if method != Method::POST {
        return StatusCode::METHOD_NOT_ALLOWED;
    }
    let event: Event = match serde_json::from_slice(&body) {
        Ok(event) => event,
        Err(error) => {
            tracing::error!(%error, "decoding the request body failed");
            return StatusCode::BAD_REQUEST;
        }
    };
    let ingested = metadata::ingest(event);
    let object = &ingested.event.involved_object;
    if !server
        .limiter
        .admit(&event_key(&ingested.event), Instant::now())
    {
        tracing::debug!(kind = %object.kind, name = %object.name, namespace = %object.namespace,
            "Discarding event, rate limiting duplicate events");
        return StatusCode::TOO_MANY_REQUESTS;
    }
    let dispatcher = Arc::clone(&server.dispatcher);
    tokio::spawn(async move {
        for delivery in dispatcher.route(&ingested).await {
            dispatcher.spawn(delivery);
        }
    });
    StatusCode::ACCEPTED
}

#[cfg(test)]
mod tests;
