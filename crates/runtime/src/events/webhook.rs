//! The notification side of an event: a bounded queue drained by one task that POSTs each event
//! as JSON to `--events-addr`. Delivery mirrors Flux's recorder: 5s timeout per request, retries
//! on connection errors and 5xx with exponential waits, and no retry on `429` (the receiver
//! rate-limited a duplicate) or any other answer below 500. Reconciles only ever `try_send`:
//! with the receiver down the queue fills and further events are dropped and counted.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use rustls_platform_verifier::BuilderVerifierExt;
use tokio::sync::mpsc;

use super::FluxEvent;

/// Events waiting for delivery before new ones are dropped.
pub const QUEUE_CAPACITY: usize = 1024;
/// Flux's per-request timeout.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(5);
/// Attempts per event: the first POST plus retryablehttp's default four retries.
const ATTEMPTS: u32 = 5;
/// First wait between attempts; doubles each time, at most [`MAX_WAIT`].
const MIN_WAIT: Duration = Duration::from_secs(1);
const MAX_WAIT: Duration = Duration::from_secs(30);

/// The events webhook could not be set up.
#[derive(Debug, thiserror::Error)]
pub enum WebhookError {
    /// `--events-addr` is not a URL.
    #[error("invalid --events-addr {addr:?}")]
    InvalidUrl {
        /// The flag value.
        addr: String,
    },
    /// TLS settings could not be built.
    #[error("building the TLS configuration for the events webhook failed")]
    Tls(#[source] rustls::Error),
    /// The HTTP client could not be built.
    #[error("building the HTTP client for the events webhook failed")]
    Client(#[source] reqwest::Error),
}

/// The sending half: cheap to clone, never blocks.
#[derive(Clone, Debug)]
pub struct WebhookQueue {
    tx: mpsc::Sender<FluxEvent>,
    dropped: Arc<AtomicU64>,
}

impl WebhookQueue {
    /// Validates `url`, builds the client (rustls on ring, platform trust roots) and spawns the
    /// delivery task, which ends when every queue handle is dropped and the queue is drained.
    pub fn start(url: &str, capacity: usize) -> Result<Self, WebhookError> {
        let url = reqwest::Url::parse(url.trim()).map_err(|_| WebhookError::InvalidUrl {
            addr: url.to_owned(),
        })?;
        if !matches!(url.scheme(), "http" | "https") {
            return Err(WebhookError::InvalidUrl {
                addr: url.to_string(),
            });
        }
        let client = http_client()?;
        let (tx, rx) = mpsc::channel(capacity.max(1));
        tokio::spawn(deliver(rx, client, url));
        Ok(Self {
            tx,
            dropped: Arc::new(AtomicU64::new(0)),
        })
    }

    /// Queues `event`; drops it (and counts the drop) when the queue is full.
    pub fn send(&self, event: FluxEvent) {
        if let Err(error) = self.tx.try_send(event) {
            self.dropped.fetch_add(1, Ordering::Relaxed);
            let reason = match error {
                mpsc::error::TrySendError::Full(_) => "queue full",
                mpsc::error::TrySendError::Closed(_) => "sender stopped",
            };
            tracing::warn!(reason, "dropping event for the events webhook");
        }
    }

    /// How many events were dropped because the queue was full.
    pub fn dropped(&self) -> u64 {
        self.dropped.load(Ordering::Relaxed)
    }
}

fn http_client() -> Result<reqwest::Client, WebhookError> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let tls = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(WebhookError::Tls)?
        .with_platform_verifier()
        .map_err(WebhookError::Tls)?
        .with_no_client_auth();
    reqwest::Client::builder()
        .use_preconfigured_tls(tls)
        .timeout(REQUEST_TIMEOUT)
        .build()
        .map_err(WebhookError::Client)
}

async fn deliver(mut rx: mpsc::Receiver<FluxEvent>, client: reqwest::Client, url: reqwest::Url) {
    while let Some(event) = rx.recv().await {
        let body = match serde_json::to_vec(&event) {
            Ok(body) => body,
            Err(error) => {
                tracing::error!(%error, "unable to encode event");
                continue;
            }
        };
        post(&client, &url, body, &event).await;
    }
}

/// POSTs one event, retrying as Flux's retryable client does.
async fn post(client: &reqwest::Client, url: &reqwest::Url, body: Vec<u8>, event: &FluxEvent) {
    let mut wait = MIN_WAIT;
    for attempt in 1..=ATTEMPTS {
        let result = client
            .post(url.clone())
            .header(reqwest::header::CONTENT_TYPE, "application/json")
            .body(body.clone())
            .send()
            .await;
        match result {
            Ok(response) if !response.status().is_server_error() => {
                if !response.status().is_success()
                    && response.status() != reqwest::StatusCode::TOO_MANY_REQUESTS
                {
                    tracing::warn!(status = %response.status(), reason = %event.reason, "events webhook refused event");
                }
                return;
            }
            Ok(response) => {
                tracing::debug!(attempt, status = %response.status(), "events webhook failed");
            }
            Err(error) => {
                tracing::debug!(attempt, %error, "events webhook unreachable");
            }
        }
        if attempt < ATTEMPTS {
            tokio::time::sleep(wait).await;
            wait = (wait * 2).min(MAX_WAIT);
        }
    }
    tracing::error!(reason = %event.reason, "unable to record event: events webhook gave up");
}
