//! The process around a controller's workers, as controller-runtime's manager runs it: the
//! metrics (`--metrics-addr`) and probe (`--health-addr`) servers from start-up, leader or not;
//! then leader election; then the workers until SIGTERM or lost leadership; then the Lease
//! released only after the workers stopped, so two replicas never reconcile at once.

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;

use crate::election::{self, Signal};
use crate::flags::{RuntimeArgs, listen_addr};
use crate::http::{Readiness, ServeError, health_router, metrics_router};
use crate::metrics::Metrics;
use crate::shutdown::Signals;

/// Why a controller process could not start or stopped with an error.
#[derive(Debug, thiserror::Error)]
pub enum ProcessError {
    /// A listen address flag does not parse.
    #[error("invalid {flag}: {problem}")]
    Address {
        /// The flag.
        flag: &'static str,
        /// What is wrong.
        problem: String,
    },
    /// A listener could not be bound.
    #[error("binding {flag} {addr} failed")]
    Bind {
        /// The flag.
        flag: &'static str,
        /// The address.
        addr: SocketAddr,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
    /// The Tokio runtime could not start.
    #[error("starting the async runtime failed")]
    Runtime(#[source] std::io::Error),
    /// Logging could not be initialised.
    #[error(transparent)]
    Logging(#[from] crate::logging::LoggingError),
    /// No usable kubeconfig or in-cluster config.
    #[error("loading the Kubernetes client configuration failed")]
    KubeConfig(#[source] kube::config::InferConfigError),
    /// The Kubernetes client could not be built.
    #[error("building the Kubernetes client failed")]
    KubeClient(#[source] kube::Error),
    /// The metrics registry could not be set up.
    #[error("setting up metrics failed")]
    Metrics(#[source] prometheus::Error),
    /// The `--events-addr` webhook could not be set up.
    #[error("setting up the events recorder failed")]
    Events(#[source] crate::events::WebhookError),
    /// The metrics or probe server failed.
    #[error(transparent)]
    Admin(#[from] ServeError),
    /// Leader election could not start.
    #[error("leader election failed")]
    Leader(#[source] crate::leader::LeaderError),
    /// Another replica took the Lease; the process stops, as controller-runtime's manager does.
    #[error("leader election lost")]
    LeadershipLost,
    /// A server task panicked or was cancelled.
    #[error("server task failed: {0}")]
    Task(String),
}

/// A multi-threaded Tokio runtime with logs initialised from the runtime flags.
pub fn tokio_runtime(args: &RuntimeArgs) -> Result<tokio::runtime::Runtime, ProcessError> {
    crate::logging::init(args.log_level, args.log_encoding)?;
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(ProcessError::Runtime)
}

/// A controller subcommand's process: a Tokio runtime with logs, the kubeconfig (`KUBECONFIG` or
/// in-cluster), and `run(config, termination)` until it returns; SIGINT/SIGTERM is the shutdown
/// signal it receives.
pub fn run_blocking<E, F, Fut>(args: &RuntimeArgs, run: F) -> Result<(), E>
where
    E: From<ProcessError>,
    F: FnOnce(kube::Config, std::pin::Pin<Box<dyn Future<Output = ()> + Send>>) -> Fut,
    Fut: Future<Output = Result<(), E>>,
{
    let runtime = tokio_runtime(args)?;
    runtime.block_on(async move {
        let config = kube::Config::infer()
            .await
            .map_err(ProcessError::KubeConfig)?;
        run(config, Box::pin(termination())).await
    })
}

/// The client from `KUBECONFIG` or the in-cluster configuration, limited by
/// `--kube-api-qps`/`--kube-api-burst`.
pub async fn kube_client(args: &RuntimeArgs) -> Result<kube::Client, ProcessError> {
    let config = kube::Config::infer()
        .await
        .map_err(ProcessError::KubeConfig)?;
    crate::ratelimit::client(config, args.api_limits()).map_err(ProcessError::KubeClient)
}

/// Resolves on SIGINT or SIGTERM (Kubernetes stops pods with SIGTERM).
pub async fn termination() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        if let Ok(mut term) = signal(SignalKind::terminate()) {
            tokio::select! {
                _ = tokio::signal::ctrl_c() => {}
                _ = term.recv() => {}
            }
            return;
        }
    }
    let _ = tokio::signal::ctrl_c().await;
}

/// A listen-address flag; `None` when disabled (`0`).
pub fn parse_addr(flag: &'static str, value: &str) -> Result<Option<SocketAddr>, ProcessError> {
    listen_addr(value).map_err(|problem| ProcessError::Address { flag, problem })
}

/// The metrics registry, when `--metrics-addr` is enabled, with this controller's worker gauges.
pub fn metrics(
    args: &RuntimeArgs,
    metrics_controller: &str,
    concurrency: usize,
) -> Result<Option<Arc<Metrics>>, ProcessError> {
    if parse_addr("--metrics-addr", &args.metrics_addr)?.is_none() {
        return Ok(None);
    }
    let metrics = Arc::new(Metrics::new().map_err(ProcessError::Metrics)?);
    metrics.register_controller(metrics_controller, concurrency);
    Ok(Some(metrics))
}

/// How long the workers may take to stop after the shutdown signal.
const GRACEFUL_SHUTDOWN_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(30);

/// Serves the admin endpoints, waits for leadership, runs `workers` with the stop signal, and
/// releases the Lease after they return. `Err(LeadershipLost)` when another replica took over.
pub async fn supervise<F, Fut, E>(
    client: kube::Client,
    args: &RuntimeArgs,
    controller: &str,
    metrics: Option<Arc<Metrics>>,
    shutdown: impl Future<Output = ()> + Send + 'static,
    workers: F,
) -> Result<Result<(), E>, ProcessError>
where
    F: FnOnce(Signal) -> Fut,
    Fut: Future<Output = Result<(), E>>,
{
    let metrics_addr = parse_addr("--metrics-addr", &args.metrics_addr)?;
    let health_addr = parse_addr("--health-addr", &args.health_addr)?;
    // Flux's readiness is a ping, so a standby replica is Ready too.
    let mut signals = Signals::new(shutdown);
    let readiness = Readiness::default();
    readiness.set(true);
    let metrics_server = tokio::spawn(serve_optional(
        metrics_addr
            .zip(metrics.clone())
            .map(|(a, m)| (a, metrics_router(m))),
        signals.listener(),
    ));
    let health_server = tokio::spawn(serve_optional(
        health_addr.map(|a| (a, health_router(readiness.clone()))),
        signals.listener(),
    ));
    let led = election::lead(
        client,
        args,
        controller,
        metrics.as_deref(),
        Box::pin(signals.listener()),
    )
    .await
    .map_err(ProcessError::Leader)?;
    // Graceful shutdown is bounded, as controller-runtime bounds it (30 s by default): a
    // reconcile or connection that does not finish in time is dropped rather than keeping the
    // process alive for ever.
    let stopped = signals.listener();
    let grace_over = async move {
        stopped.await;
        tokio::time::sleep(GRACEFUL_SHUTDOWN_TIMEOUT).await;
    };
    let result = match led {
        Some(mut led) => {
            let signal = led.take_signal();
            let result = tokio::select! {
                result = workers(signal) => result,
                () = grace_over => {
                    tracing::warn!(
                        timeout = ?GRACEFUL_SHUTDOWN_TIMEOUT,
                        "graceful shutdown timed out; stopping the remaining work"
                    );
                    Ok(())
                }
            };
            if led.release().await {
                return Err(ProcessError::LeadershipLost);
            }
            result
        }
        None => Ok(()),
    };
    readiness.set(false);
    for server in [metrics_server, health_server] {
        server
            .await
            .map_err(|e| ProcessError::Task(e.to_string()))??;
    }
    Ok(result)
}

async fn serve_optional(
    server: Option<(SocketAddr, axum::Router)>,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), ServeError> {
    match server {
        Some((addr, router)) => crate::http::serve(addr, router, shutdown).await,
        None => Ok(()),
    }
}
