//! The process: the tag store, then on the leader two reconcilers — ImageRepository (its own
//! watch, filtered like Flux's `GenerationChangedPredicate || ReconcileRequestedPredicate`) and
//! ImagePolicy (its own watch, plus every ImageRepository whose scan revision changed, mapped to
//! the policies that refer to it, as Flux's `imagePoliciesForRepository`) — and the sweep that
//! drops store entries of ImageRepositories deleted while no finalizer could run.

use std::collections::{HashMap, HashSet};
use std::future::Future;
use std::sync::{Arc, Mutex};

use driftless_api::image::{ImagePolicy, ImageRepository};
use driftless_runtime::election::Signal;
use driftless_runtime::events::Recorder;
use driftless_runtime::lifecycle::reconcile_trigger;
use driftless_runtime::process::{self, ProcessError};
use driftless_runtime::schedule::Scheduler;
use driftless_runtime::shutdown::Signals;
use futures::{Stream, StreamExt};
use kube::ResourceExt;
use kube::api::Api;
use kube::runtime::controller::{Action, Config as ControllerConfig, Controller};
use kube::runtime::reflector::{self, ObjectRef, Store};
use kube::runtime::{WatchStreamExt, watcher};

use crate::args::{Args, DEFAULT_CONCURRENT};
use crate::error::ReconcileError;
use crate::image_policy::{self, repository_key};
use crate::reconcile::{Context, key};
use crate::repository;
use crate::store::{StoreError, TagStore};

/// Why the controller process could not start or stopped with an error.
#[derive(Debug, thiserror::Error)]
pub enum RunError {
    /// The process around the workers (flags, client, admin servers, election) failed.
    #[error(transparent)]
    Process(#[from] ProcessError),
    /// The tag store could not be opened.
    #[error("opening the tag store failed")]
    Store(#[source] StoreError),
}

/// `driftless image-reflector-controller`: a Tokio runtime, logs, the kubeconfig, and
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
    let metrics = process::metrics(&args.runtime, repository::METRICS_CONTROLLER, concurrency)?;
    if let Some(metrics) = &metrics {
        metrics.register_controller(image_policy::METRICS_CONTROLLER, concurrency);
    }
    let recorder = Recorder::new(
        client.clone(),
        crate::CONTROLLER_NAME,
        &args.runtime.events_addr,
    )
    .map_err(ProcessError::Events)?;
    let store = {
        let (path, limits) = (args.storage_path.clone(), args.store_limits());
        tokio::task::spawn_blocking(move || TagStore::open(&path, limits))
            .await
            .map_err(|e| ProcessError::Task(e.to_string()))?
            .map_err(RunError::Store)?
    };
    tracing::info!(path = %args.storage_path.display(), limits = ?store.limits(),
        bytes = store.total_bytes(), "tag store opened");
    let ctx = Arc::new(Context {
        client: client.clone(),
        store: Arc::new(store),
        scheduler: Scheduler::from_args(&args.runtime),
        recorder,
        metrics: metrics.clone(),
        requeue_dependency: args.requeue_dependency(),
        no_cross_namespace_refs: args.runtime.no_cross_namespace_refs,
        store_bytes: metrics
            .as_ref()
            .map(|m| crate::reconcile::store_gauge(m.registry()))
            .transpose()
            .map_err(ProcessError::Metrics)?,
    });
    ctx.record_store_size();
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

fn api<K>(client: &kube::Client, namespace: Option<&str>) -> Api<K>
where
    K: kube::Resource<DynamicType = (), Scope = k8s_openapi::NamespaceResourceScope>,
{
    match namespace {
        Some(ns) => Api::namespaced(client.clone(), ns),
        None => Api::all(client.clone()),
    }
}

/// The reconcilers and the store sweep, until `signal`.
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
    let concurrency = args.runtime.concurrency(DEFAULT_CONCURRENT);
    let config =
        ControllerConfig::default().concurrency(u16::try_from(concurrency).unwrap_or(u16::MAX));
    let mut signals = Signals::new(signal);

    let repos: Api<ImageRepository> = api(&client, namespace.as_deref());
    let (repo_reader, repo_writer) = reflector::store();
    let repo_triggers = watcher(repos.clone(), watch_config.clone())
        .default_backoff()
        .reflect(repo_writer)
        .applied_objects()
        .predicate_filter(reconcile_trigger, Default::default());
    let repo_controller = Controller::for_stream(repo_triggers, repo_reader.clone())
        .with_config(config.clone())
        .graceful_shutdown_on(signals.listener())
        .run(repository::reconcile, error_policy, Arc::clone(&ctx))
        .for_each(log_result);

    let policies: Api<ImagePolicy> = api(&client, namespace.as_deref());
    let (policy_reader, policy_writer) = reflector::store();
    let policy_triggers = watcher(policies, watch_config.clone())
        .default_backoff()
        .reflect(policy_writer)
        .applied_objects()
        .predicate_filter(reconcile_trigger, Default::default());
    // Policies may refer to repositories in any namespace, whatever the label selector.
    let scans = new_scans(
        watcher(repos, watcher::Config::default())
            .default_backoff()
            .applied_objects(),
    );
    let store = policy_reader.clone();
    let policy_controller = Controller::for_stream(policy_triggers, policy_reader)
        .with_config(config)
        .watches_stream(scans, move |repo: ImageRepository| {
            policies_for(&store, &repo)
        })
        .graceful_shutdown_on(signals.listener())
        .run(image_policy::reconcile, error_policy, Arc::clone(&ctx))
        .for_each(log_result);

    let sweep = sweep_store(
        Arc::clone(&ctx),
        repo_reader,
        args.sweep_interval(),
        signals.listener(),
    );
    tracing::info!(concurrency, "starting image-reflector-controller workers");
    futures::join!(repo_controller, policy_controller, sweep);
    Ok(())
}

async fn log_result<K, E: std::fmt::Display>(
    result: Result<(ObjectRef<K>, Action), kube::runtime::controller::Error<E, watcher::Error>>,
) where
    K: kube::Resource,
{
    if let Err(error) = result {
        tracing::debug!(%error, "controller event");
    }
}

/// A failed status or finalizer write: retry with the per-object backoff.
pub fn error_policy<K>(obj: Arc<K>, err: &ReconcileError, ctx: Arc<Context>) -> Action
where
    K: kube::Resource<DynamicType = ()>,
{
    tracing::warn!(kind = %K::kind(&()), name = %obj.name_any(), namespace = ?obj.namespace(),
        error = %driftless_runtime::error::chain(err), "reconcile failed; retrying with backoff");
    Action::requeue(ctx.scheduler.failure(&key(obj.as_ref())))
}

/// The ImagePolicies in `store` that refer to `repo`.
pub fn policies_for(
    store: &Store<ImagePolicy>,
    repo: &ImageRepository,
) -> Vec<ObjectRef<ImagePolicy>> {
    let target = (repo.namespace().unwrap_or_default(), repo.name_any());
    store
        .state()
        .iter()
        .filter(|p| repository_key(p) == target)
        .map(|p| ObjectRef::from_obj(p.as_ref()))
        .collect()
}

/// The scan revision of `repo`, when it has scanned.
pub fn scan_revision(repo: &ImageRepository) -> Option<String> {
    repo.status
        .as_ref()
        .and_then(|s| s.last_scan_result.as_ref())
        .map(|r| r.revision.clone().unwrap_or_default())
}

/// Passes an ImageRepository only when it has a scan result whose revision differs from the
/// last one seen (Flux's `imageRepositoryPredicate`); the first sighting after start passes,
/// so policies catch up with scans made while the controller was down.
fn new_scans<S>(stream: S) -> impl Stream<Item = Result<ImageRepository, watcher::Error>> + Send
where
    S: Stream<Item = Result<ImageRepository, watcher::Error>> + Send,
{
    let seen: Arc<Mutex<HashMap<(String, String), String>>> = Arc::default();
    stream.filter(move |event| {
        let pass = match event {
            Ok(repo) => match scan_revision(repo) {
                Some(revision) => {
                    let key = (repo.namespace().unwrap_or_default(), repo.name_any());
                    let mut seen = seen
                        .lock()
                        .unwrap_or_else(std::sync::PoisonError::into_inner);
                    seen.insert(key, revision.clone()).as_ref() != Some(&revision)
                }
                None => false,
            },
            Err(_) => true,
        };
        std::future::ready(pass)
    })
}

/// Removes store entries whose ImageRepository no longer exists, once the watch has listed
/// them all, then every `interval`.
async fn sweep_store(
    ctx: Arc<Context>,
    repos: Store<ImageRepository>,
    interval: Option<std::time::Duration>,
    stop: impl Future<Output = ()> + Send,
) {
    let Some(interval) = interval else {
        return;
    };
    let sweeping = async {
        if repos.wait_until_ready().await.is_err() {
            return;
        }
        loop {
            let live: HashSet<(String, String)> = repos
                .state()
                .iter()
                .map(|r| (r.namespace().unwrap_or_default(), r.name_any()))
                .collect();
            let store = Arc::clone(&ctx.store);
            let swept = tokio::task::spawn_blocking(move || {
                store.retain(|ns, name| live.contains(&(ns.to_owned(), name.to_owned())))
            })
            .await;
            match swept {
                Ok(Ok(0)) => {}
                Ok(Ok(removed)) => {
                    tracing::info!(removed, "removed tags of deleted ImageRepositories")
                }
                Ok(Err(error)) => {
                    tracing::warn!(error = %driftless_runtime::error::chain(&error), "tag store sweep failed")
                }
                Err(error) => tracing::warn!(%error, "tag store sweep task failed"),
            }
            tokio::time::sleep(interval).await;
        }
    };
    tokio::select! {
        () = sweeping => {}
        () = stop => {}
    }
}

#[cfg(test)]
mod tests {
    use driftless_api::image::{ImageRepositoryStatus, ScanResult};

    use super::*;

    #[test]
    fn only_scanned_repositories_have_a_revision() {
        let mut repo = ImageRepository::new("r", Default::default());
        assert_eq!(scan_revision(&repo), None);
        repo.status = Some(ImageRepositoryStatus {
            last_scan_result: Some(ScanResult {
                revision: Some("42".into()),
                ..Default::default()
            }),
            ..Default::default()
        });
        assert_eq!(scan_revision(&repo).as_deref(), Some("42"));
    }
}
