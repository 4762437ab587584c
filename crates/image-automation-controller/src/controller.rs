//! The process: the ImageUpdateAutomation watch (namespace and label selector from the
//! flags, Flux's generation/requestedAt predicate), plus ImagePolicies whose latest image
//! changes enqueueing the automations of their namespace.

use std::future::Future;
use std::hash::{DefaultHasher, Hash, Hasher};
use std::sync::Arc;

use driftless_api::image::{ImagePolicy, ImageUpdateAutomation};
use driftless_runtime::election::Signal;
use driftless_runtime::events::Recorder;
use driftless_runtime::process::{self, ProcessError};
use driftless_runtime::schedule::Scheduler;
use driftless_runtime::shutdown::Signals;
use futures::StreamExt;
use kube::ResourceExt;
use kube::api::Api;
use kube::runtime::controller::{Config as ControllerConfig, Controller};
use kube::runtime::reflector::{ObjectRef, Store};
use kube::runtime::{WatchStreamExt, reflector, watcher};

use crate::args::{Args, DEFAULT_CONCURRENT};
use crate::reconcile::{Context, METRICS_CONTROLLER, error_policy, reconcile};

/// Why the controller process could not start or stopped with an error.
#[derive(Debug, thiserror::Error)]
pub enum RunError {
    #[error(transparent)]
    Process(#[from] ProcessError),
}

/// `driftless image-automation-controller`: a Tokio runtime, logs, the kubeconfig, and
/// SIGINT/SIGTERM as the shutdown signal.
pub fn run_blocking(args: Args) -> Result<(), RunError> {
    let runtime_args = args.runtime.clone();
    process::run_blocking(&runtime_args, |config, shutdown| {
        run(args, config, shutdown)
    })
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
    let recorder = Recorder::new(
        client.clone(),
        crate::CONTROLLER_NAME,
        &args.runtime.events_addr,
    )
    .map_err(ProcessError::Events)?;
    let ctx = Arc::new(Context {
        client: client.clone(),
        scheduler: Scheduler::from_args(&args.runtime),
        recorder,
        metrics: metrics.clone(),
        no_cross_namespace_refs: args.runtime.no_cross_namespace_refs,
        shallow_clone: args.shallow_clone(),
        force_push_branch: args.force_push_branch(),
    });
    let runtime_args = args.runtime.clone();
    process::supervise(
        client.clone(),
        &runtime_args,
        crate::CONTROLLER_NAME,
        metrics,
        shutdown,
        move |signal| run_workers(args, client, ctx, signal),
    )
    .await?
}

async fn run_workers(
    args: Args,
    client: kube::Client,
    ctx: Arc<Context>,
    signal: Signal,
) -> Result<(), RunError> {
    let namespace = args.runtime.watch_namespace();
    let api: Api<ImageUpdateAutomation> = match &namespace {
        Some(ns) => Api::namespaced(client.clone(), ns),
        None => Api::all(client.clone()),
    };
    let mut watch_config = watcher::Config::default();
    if let Some(selector) = args.runtime.watch_selector() {
        watch_config = watch_config.labels(selector);
    }
    let (reader, writer) = reflector::store();
    let triggers = watcher(api, watch_config)
        .default_backoff()
        .reflect(writer)
        .applied_objects()
        .predicate_filter(reconcile_trigger, Default::default());
    let concurrency = args.runtime.concurrency(DEFAULT_CONCURRENT);
    let policies: Api<ImagePolicy> = match &namespace {
        Some(ns) => Api::namespaced(client.clone(), ns),
        None => Api::all(client.clone()),
    };
    let latest = watcher(policies, watcher::Config::default())
        .default_backoff()
        .applied_objects()
        .predicate_filter(latest_image_key, Default::default());
    let store = reader.clone();
    let controller = Controller::for_stream(triggers, reader)
        .with_config(
            ControllerConfig::default().concurrency(u16::try_from(concurrency).unwrap_or(u16::MAX)),
        )
        .watches_stream(latest, move |policy: ImagePolicy| {
            automations_in(&store, &policy.namespace().unwrap_or_default())
        });
    tracing::info!(concurrency, "starting image-automation-controller workers");
    let mut signals = Signals::new(signal);
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

pub use driftless_runtime::lifecycle::reconcile_trigger;

/// Changes when a policy's latest image changes.
pub fn latest_image_key(policy: &ImagePolicy) -> Option<u64> {
    let mut hasher = DefaultHasher::new();
    policy
        .status
        .as_ref()
        .and_then(|s| s.latest_ref.as_ref())
        .map(|r| r.to_string())
        .hash(&mut hasher);
    Some(hasher.finish())
}

/// The automations of `namespace` (policies are only used within their namespace).
fn automations_in(
    store: &Store<ImageUpdateAutomation>,
    namespace: &str,
) -> Vec<ObjectRef<ImageUpdateAutomation>> {
    store
        .state()
        .iter()
        .filter(|a| a.namespace().as_deref() == Some(namespace))
        .map(|a| ObjectRef::from_obj(a.as_ref()))
        .collect()
}
