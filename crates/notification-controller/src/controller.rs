//! The process: caches of Alerts, Providers and Receivers; the event server (`--events-addr`) and
//! the webhook server (`--receiverAddr`), which serve on every replica as Flux's do; and, on the
//! leader, the Receiver reconciler and the legacy-finalizer cleanup of Alerts and Providers.

use std::future::Future;
use std::sync::Arc;

use axum::middleware::from_fn_with_state;
use driftless_api::notification::{Alert, Provider, Receiver};
use driftless_runtime::election::Signal;
use driftless_runtime::events::Recorder;
use driftless_runtime::metrics::Metrics;
use driftless_runtime::process::{self, ProcessError};
use driftless_runtime::schedule::Scheduler;
use driftless_runtime::shutdown::Signals;
use futures::StreamExt;
use k8s_openapi::api::core::v1::Secret;
use kube::ResourceExt;
use kube::api::Api;
use kube::runtime::controller::{Config as ControllerConfig, Controller};
use kube::runtime::reflector::{self, ObjectRef, Store};
use kube::runtime::{WatchStreamExt, watcher};
use prometheus::IntCounterVec;

use crate::args::{Args, DEFAULT_CONCURRENT};
use crate::event::dispatch::{DeliveryCounter, Dispatcher};
use crate::event::ratelimit::RateLimiter;
use crate::event::{self, EventServer};
use crate::http_metrics::{self, HttpMetrics};
use crate::receiver::oidc::Verifier;
use crate::receiver::reconcile::{Context, METRICS_CONTROLLER, error_policy, reconcile};
use crate::receiver::{self, ReceiverServer};

/// Why the controller process could not start or stopped with an error.
#[derive(Debug, thiserror::Error)]
pub enum RunError {
    /// The process around the workers (flags, client, admin servers, election) failed.
    #[error(transparent)]
    Process(#[from] ProcessError),
    /// A cache never filled (its watch stopped before listing).
    #[error("the {0} cache stopped before it was filled")]
    Cache(&'static str),
    /// A metric could not be registered.
    #[error("registering the notification metrics failed")]
    Metrics(#[source] prometheus::Error),
    /// The HTTP client for OIDC issuers could not be built.
    #[error("setting up OIDC token verification failed")]
    Oidc(#[source] crate::receiver::oidc::OidcError),
}

/// `driftless notification-controller`: a Tokio runtime, logs, the kubeconfig, and
/// SIGINT/SIGTERM as the shutdown signal.
pub fn run_blocking(args: Args) -> Result<(), RunError> {
    let runtime_args = args.runtime.clone();
    process::run_blocking(&runtime_args, |config, shutdown| {
        run(args, config, shutdown)
    })
}

fn api<K>(client: &kube::Client, namespace: Option<&str>) -> Api<K>
where
    K: kube::Resource<DynamicType = (), Scope = k8s_openapi::NamespaceResourceScope>,
{
    match namespace {
        Some(ns) => Api::namespaced(client.clone(), ns),
        None => Api::all(client.clone()),
    }
}

/// A cache of `K` filled by a watch that stops on `stop`.
fn cache<K>(
    api: Api<K>,
    config: watcher::Config,
    stop: impl Future<Output = ()> + Send + 'static,
) -> Store<K>
where
    K: kube::Resource<DynamicType = ()> + Clone + std::fmt::Debug + Send + Sync + 'static,
    K: serde::de::DeserializeOwned,
{
    let (reader, writer) = reflector::store();
    let stream = watcher(api, config)
        .default_backoff()
        .reflect(writer)
        .touched_objects();
    tokio::spawn(async move {
        tokio::select! {
            _ = stream.for_each(|_| async {}) => {}
            _ = stop => {}
        }
    });
    reader
}

/// Counts deliveries in `driftless_notification_deliveries_total{result}` (or nowhere).
struct Deliveries(Option<IntCounterVec>);

impl DeliveryCounter for Deliveries {
    fn record(&self, ok: bool) {
        if let Some(counter) = &self.0 {
            counter
                .with_label_values(&[if ok { "success" } else { "failure" }])
                .inc();
        }
    }
}

fn delivery_counter(metrics: Option<&Arc<Metrics>>) -> Result<Deliveries, RunError> {
    let Some(metrics) = metrics else {
        return Ok(Deliveries(None));
    };
    let counter = IntCounterVec::new(
        prometheus::Opts::new(
            "driftless_notification_deliveries_total",
            "Alert deliveries to providers, by result.",
        ),
        &["result"],
    )
    .map_err(RunError::Metrics)?;
    metrics
        .registry()
        .register(Box::new(counter.clone()))
        .map_err(RunError::Metrics)?;
    Ok(Deliveries(Some(counter)))
}

/// Runs the controller until `shutdown` resolves.
pub async fn run(
    args: Args,
    config: kube::Config,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), RunError> {
    let client = driftless_runtime::ratelimit::client(config, args.runtime.api_limits())
        .map_err(ProcessError::KubeClient)?;
    let concurrency = args.runtime.concurrency(DEFAULT_CONCURRENT);
    let metrics = process::metrics(&args.runtime, METRICS_CONTROLLER, concurrency)?;
    let events_addr = process::parse_addr("--events-addr", args.events_addr())?;
    let receiver_addr = process::parse_addr("--receiverAddr", &args.receiver_addr)?;
    let namespace = args.runtime.watch_namespace();
    let mut signals = Signals::new(shutdown);

    let alerts = cache(
        api::<Alert>(&client, namespace.as_deref()),
        watcher::Config::default(),
        signals.listener(),
    );
    let providers = cache(
        api::<Provider>(&client, namespace.as_deref()),
        watcher::Config::default(),
        signals.listener(),
    );
    let mut receiver_watch = watcher::Config::default();
    if let Some(selector) = args.runtime.watch_selector() {
        receiver_watch = receiver_watch.labels(selector);
    }
    let receivers = cache(
        api::<Receiver>(&client, namespace.as_deref()),
        receiver_watch,
        signals.listener(),
    );
    alerts
        .wait_until_ready()
        .await
        .map_err(|_| RunError::Cache("Alert"))?;
    providers
        .wait_until_ready()
        .await
        .map_err(|_| RunError::Cache("Provider"))?;
    receivers
        .wait_until_ready()
        .await
        .map_err(|_| RunError::Cache("Receiver"))?;

    let no_cross_namespace_refs = args.runtime.no_cross_namespace_refs;
    // Its own events go to the Kubernetes API only: it is the events endpoint.
    let recorder =
        Recorder::new(client.clone(), crate::CONTROLLER_NAME, "").map_err(ProcessError::Events)?;
    let dispatcher = Arc::new(Dispatcher {
        client: client.clone(),
        alerts,
        providers,
        no_cross_namespace_refs,
        counter: Arc::new(delivery_counter(metrics.as_ref())?),
        recorder: Some(recorder.clone()),
    });
    let event_router = event::router(Arc::new(EventServer {
        limiter: RateLimiter::new(args.rate_limit_interval()),
        dispatcher,
    }));
    let receiver_router = receiver::router(Arc::new(ReceiverServer {
        client: client.clone(),
        receivers,
        no_cross_namespace_refs,
        verifier: Verifier::new().map_err(RunError::Oidc)?,
        google_issuer: args.gcr_issuer_url.clone(),
    }));
    let (event_router, receiver_router) = match &metrics {
        Some(metrics) => {
            let paths = args.export_http_path_metrics;
            let registry = metrics.registry();
            let events = HttpMetrics::register(registry, "gotk_event", "/", paths)
                .map_err(RunError::Metrics)?;
            let hooks = HttpMetrics::register(registry, "gotk_receiver", "/hook/", paths)
                .map_err(RunError::Metrics)?;
            (
                event_router.layer(from_fn_with_state(events, http_metrics::track)),
                receiver_router.layer(from_fn_with_state(hooks, http_metrics::track)),
            )
        }
        None => (event_router, receiver_router),
    };
    let servers = [
        events_addr.map(|a| (a, event_router)),
        receiver_addr.map(|a| (a, receiver_router)),
    ];
    let mut tasks = Vec::new();
    for (addr, router) in servers.into_iter().flatten() {
        tracing::info!(%addr, "starting server");
        tasks.push(tokio::spawn(driftless_runtime::http::serve(
            addr,
            router,
            signals.listener(),
        )));
    }

    let ctx = Arc::new(Context {
        client: client.clone(),
        scheduler: Scheduler::from_args(&args.runtime),
        recorder,
        metrics: metrics.clone(),
    });
    let runtime_args = args.runtime.clone();
    let result = process::supervise(
        client.clone(),
        &runtime_args,
        crate::CONTROLLER_NAME,
        metrics,
        signals.listener(),
        move |signal| run_workers(args, client, ctx, signal),
    )
    .await;
    for task in tasks {
        task.await
            .map_err(|e| ProcessError::Task(e.to_string()))?
            .map_err(ProcessError::Admin)?;
    }
    result?
}

/// The Receivers in `store` whose `spec.secretRef` is `secret`.
pub fn receivers_using(store: &Store<Receiver>, secret: &Secret) -> Vec<ObjectRef<Receiver>> {
    let namespace = secret.namespace();
    let name = secret.name_any();
    store
        .state()
        .iter()
        .filter(|r| {
            r.namespace() == namespace && r.spec.secret_ref.as_ref().is_some_and(|s| s.name == name)
        })
        .map(|r| ObjectRef::from_obj(r.as_ref()))
        .collect()
}

/// The leader's work until `signal`: the Receiver reconciler and the legacy-finalizer cleanup.
async fn run_workers(
    args: Args,
    client: kube::Client,
    ctx: Arc<Context>,
    signal: Signal,
) -> Result<(), RunError> {
    let namespace = args.runtime.watch_namespace();
    let mut watch_config = watcher::Config::default();
    if let Some(selector) = args.runtime.watch_selector() {
        watch_config = watch_config.labels(selector);
    }
    let mut signals = Signals::new(signal);
    let (reader, writer) = reflector::store();
    let triggers = watcher(api::<Receiver>(&client, namespace.as_deref()), watch_config)
        .default_backoff()
        .reflect(writer)
        .applied_objects()
        .predicate_filter(
            driftless_runtime::lifecycle::reconcile_trigger,
            Default::default(),
        );
    let concurrency = args.runtime.concurrency(DEFAULT_CONCURRENT);
    let store = reader.clone();
    let mut controller = Controller::for_stream(triggers, reader).with_config(
        ControllerConfig::default().concurrency(u16::try_from(concurrency).unwrap_or(u16::MAX)),
    );
    // A token Secret labelled for watching (`--watch-configs-label-selector`) reconciles the
    // Receivers that use it at once, so a rotated token moves their webhook path.
    let selector = args.runtime.watch_configs_label_selector.trim();
    if !selector.is_empty() {
        let secrets = watcher(
            api::<Secret>(&client, namespace.as_deref()),
            watcher::Config::default().labels(selector),
        )
        .default_backoff()
        .touched_objects();
        controller = controller.watches_stream(secrets, move |secret: Secret| {
            receivers_using(&store, &secret)
        });
    }
    let alerts = crate::legacy::strip_finalizers(
        api::<Alert>(&client, namespace.as_deref()),
        watcher::Config::default(),
    );
    let providers = crate::legacy::strip_finalizers(
        api::<Provider>(&client, namespace.as_deref()),
        watcher::Config::default(),
    );
    let stop_alerts = signals.listener();
    let stop_providers = signals.listener();
    tokio::spawn(async move {
        tokio::select! { _ = alerts => {}, _ = stop_alerts => {} }
    });
    tokio::spawn(async move {
        tokio::select! { _ = providers => {}, _ = stop_providers => {} }
    });
    tracing::info!(concurrency, "starting notification-controller workers");
    controller
        .graceful_shutdown_on(signals.listener())
        .run(reconcile, error_policy, ctx)
        .for_each(|result| async move {
            if let Err(error) = result {
                tracing::debug!(%error, "controller event");
            }
        })
        .await;
    Ok(())
}
