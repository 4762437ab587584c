//! The process: the GitRepository watch (namespace and label selector from the flags, filtered
//! like Flux's `GenerationChangedPredicate || ReconcileRequestedPredicate` so the controller's own
//! status patches do not trigger it again), the reconcile workers (`--concurrent`), and beside
//! them the artifact server (`--storage-addr`), metrics (`--metrics-addr`) and probes
//! (`--health-addr`), all stopping on the same shutdown signal.

use std::future::Future;
use std::sync::Arc;

use driftless_api::source::{
    Bucket, GitRepository, HelmChart, HelmChartSourceKind, HelmRepository, OCIRepository,
};
use driftless_artifact::Storage;
use driftless_runtime::election::Signal;
use driftless_runtime::events::Recorder;
use driftless_runtime::process::{self, ProcessError};
use driftless_runtime::schedule::Scheduler;
use driftless_runtime::shutdown::Signals;
use futures::StreamExt;
use kube::api::Api;
use kube::runtime::controller::{Config as ControllerConfig, Controller};
use kube::runtime::{WatchStreamExt, reflector, watcher};
use tokio::net::TcpListener;

use crate::args::{Args, DEFAULT_CONCURRENT, hostname};
use crate::helm_chart::charts_for_source;
use crate::reconcile::{Context, METRICS_CONTROLLER, SourceKind, error_policy, reconcile};

/// Why the controller process could not start or stopped with an error.
#[derive(Debug, thiserror::Error)]
pub enum RunError {
    /// The process around the workers (flags, client, admin servers, election) failed.
    #[error(transparent)]
    Process(#[from] ProcessError),
    /// The storage root could not be created.
    #[error("creating storage path '{path}' failed")]
    StoragePath {
        /// The path.
        path: String,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
    /// The artifact server failed.
    #[error("serving artifacts failed")]
    Storage(#[source] std::io::Error),
}

/// `driftless source-controller`: a Tokio runtime, logs, the kubeconfig (`KUBECONFIG` or
/// in-cluster), `--storage-addr` bound, and SIGINT/SIGTERM as the shutdown signal.
pub fn run_blocking(args: Args) -> Result<(), RunError> {
    let runtime = process::tokio_runtime(&args.runtime)?;
    runtime.block_on(async move {
        let client = process::kube_client(&args.runtime).await?;
        let addr = process::parse_addr("--storage-addr", &args.storage_addr)?.ok_or(
            ProcessError::Address {
                flag: "--storage-addr",
                problem: "the artifact server cannot be disabled".to_owned(),
            },
        )?;
        let listener = TcpListener::bind(addr)
            .await
            .map_err(|source| ProcessError::Bind {
                flag: "--storage-addr",
                addr,
                source,
            })?;
        run(args, client, listener, process::termination()).await
    })
}

/// Runs the controller and its servers until `shutdown` resolves. The artifact server listens on
/// `storage_listener` (bound by the caller, so tests can use an ephemeral port).
pub async fn run(
    args: Args,
    client: kube::Client,
    storage_listener: TcpListener,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), RunError> {
    let root = args.storage_root();
    std::fs::create_dir_all(&root).map_err(|source| RunError::StoragePath {
        path: root.display().to_string(),
        source,
    })?;
    let storage = Storage::new(root, args.advertised_address(&hostname()));
    let concurrency = args.runtime.concurrency(DEFAULT_CONCURRENT);
    let metrics = process::metrics(&args.runtime, METRICS_CONTROLLER, concurrency)?;
    if let Some(metrics) = &metrics {
        metrics.register_controller(HelmRepository::METRICS, concurrency);
        metrics.register_controller(HelmChart::METRICS, concurrency);
        metrics.register_controller(Bucket::METRICS, concurrency);
    }
    let recorder = Recorder::new(
        client.clone(),
        crate::CONTROLLER_NAME,
        &args.runtime.events_addr,
    )
    .map_err(ProcessError::Events)?;
    let ctx = Arc::new(Context {
        client: client.clone(),
        storage: storage.clone(),
        retention: args.retention(),
        scheduler: Scheduler::from_args(&args.runtime),
        recorder,
        metrics: metrics.clone(),
        requeue_dependency: args.requeue_dependency(),
    });
    let runtime_args = args.runtime.clone();
    process::supervise(
        client.clone(),
        &runtime_args,
        crate::CONTROLLER_NAME,
        metrics,
        shutdown,
        move |signal| run_workers(args, client, storage, storage_listener, ctx, signal),
    )
    .await?
}

/// The artifact server and the reconcile workers, until `signal`.
async fn run_workers(
    args: Args,
    client: kube::Client,
    storage: Storage,
    storage_listener: TcpListener,
    ctx: Arc<Context>,
    signal: Signal,
) -> Result<(), RunError> {
    let mut signals = Signals::new(signal);
    let artifact_server = driftless_artifact::serve(
        storage_listener,
        driftless_artifact::router(&storage),
        signals.listener(),
    );
    let git_repositories = controller_for::<GitRepository>(&args, &client);
    let includers = git_repositories.store();
    let git_repositories = git_repositories
        .watches(
            namespaced_api::<GitRepository>(&args, &client),
            watch_config(&args),
            move |repo| crate::include::includers_of(&includers, &repo),
        )
        .graceful_shutdown_on(signals.listener())
        .run(
            reconcile::<GitRepository>,
            error_policy::<GitRepository>,
            ctx.clone(),
        )
        .for_each(log_result);
    let helm_repositories = controller_for::<HelmRepository>(&args, &client)
        .graceful_shutdown_on(signals.listener())
        .run(
            crate::helm_repository::reconcile,
            error_policy::<HelmRepository>,
            ctx.clone(),
        )
        .for_each(log_result);
    let oci_repositories = controller_for::<OCIRepository>(&args, &client)
        .graceful_shutdown_on(signals.listener())
        .run(
            reconcile::<OCIRepository>,
            error_policy::<OCIRepository>,
            ctx.clone(),
        )
        .for_each(log_result);
    let buckets = controller_for::<Bucket>(&args, &client)
        .graceful_shutdown_on(signals.listener())
        .run(reconcile::<Bucket>, error_policy::<Bucket>, ctx.clone())
        .for_each(log_result);
    let helm_charts = controller_for::<HelmChart>(&args, &client);
    let charts = helm_charts.store();
    let repo_charts = charts.clone();
    let git_charts = charts.clone();
    let helm_charts = helm_charts
        .watches(
            namespaced_api::<HelmRepository>(&args, &client),
            watch_config(&args),
            move |repo| {
                let revision = repo.status.as_ref().and_then(|s| s.artifact.as_ref());
                let revision = revision.map(|a| a.revision.as_str());
                charts_for_source(
                    &repo_charts,
                    HelmChartSourceKind::HelmRepository,
                    &repo,
                    revision,
                )
            },
        )
        .watches(
            namespaced_api::<GitRepository>(&args, &client),
            watch_config(&args),
            move |repo| {
                let revision = repo.status.as_ref().and_then(|s| s.artifact.as_ref());
                let revision = revision.map(|a| a.revision.as_str());
                charts_for_source(
                    &git_charts,
                    HelmChartSourceKind::GitRepository,
                    &repo,
                    revision,
                )
            },
        )
        .watches(
            namespaced_api::<Bucket>(&args, &client),
            watch_config(&args),
            move |bucket| {
                let revision = bucket.status.as_ref().and_then(|s| s.artifact.as_ref());
                let revision = revision.map(|a| a.revision.as_str());
                charts_for_source(&charts, HelmChartSourceKind::Bucket, &bucket, revision)
            },
        )
        .graceful_shutdown_on(signals.listener())
        .run(reconcile::<HelmChart>, error_policy::<HelmChart>, ctx)
        .for_each(log_result);
    let concurrency = args.runtime.concurrency(DEFAULT_CONCURRENT);
    tracing::info!(storage = %storage.root().display(), advertised = storage.advertised_address(),
        concurrency, "starting source-controller workers");
    let (artifacts, (), (), (), (), ()) = tokio::join!(
        artifact_server,
        git_repositories,
        helm_repositories,
        oci_repositories,
        buckets,
        helm_charts
    );
    artifacts.map_err(RunError::Storage)
}

/// Logs what a controller stream yields that is not a reconcile result.
async fn log_result<T, E: std::fmt::Display>(result: Result<T, E>) {
    if let Err(error) = result {
        tracing::debug!(%error, "controller event");
    }
}

/// The API of `K` in the watched namespace (`--watch-all-namespaces` or the runtime's own).
fn namespaced_api<K>(args: &Args, client: &kube::Client) -> Api<K>
where
    K: kube::Resource<DynamicType = (), Scope = k8s_openapi::NamespaceResourceScope>,
{
    match args.runtime.watch_namespace() {
        Some(namespace) => Api::namespaced(client.clone(), &namespace),
        None => Api::all(client.clone()),
    }
}

/// `--watch-label-selector` as a watch configuration.
fn watch_config(args: &Args) -> watcher::Config {
    let config = watcher::Config::default();
    match args.runtime.watch_selector() {
        Some(selector) => config.labels(selector),
        None => config,
    }
}

/// A controller for `K`, fed by a watch filtered like Flux's predicates, `--concurrent` workers.
fn controller_for<K>(args: &Args, client: &kube::Client) -> Controller<K>
where
    K: SourceKind + kube::Resource<DynamicType = ()>,
{
    let (reader, writer) = reflector::store();
    // The store keeps every object for the life of the process; their managed fields (several
    // KiB each, read by nothing here) are dropped before they are stored.
    let triggers = watcher(namespaced_api::<K>(args, client), watch_config(args))
        .default_backoff()
        .modify(|object: &mut K| object.meta_mut().managed_fields = None)
        .reflect(writer)
        .applied_objects()
        .predicate_filter(reconcile_trigger, Default::default());
    let concurrency = args.runtime.concurrency(DEFAULT_CONCURRENT);
    Controller::for_stream(triggers, reader).with_config(
        ControllerConfig::default().concurrency(u16::try_from(concurrency).unwrap_or(u16::MAX)),
    )
}

pub use driftless_runtime::lifecycle::reconcile_trigger;

#[cfg(test)]
mod tests {
    use super::*;
    use driftless_api::annotations::RECONCILE_REQUESTED_AT;
    use driftless_api::source::GitRepositorySpec;
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
    use kube::{Resource, ResourceExt};

    fn repo(generation: i64) -> GitRepository {
        let mut repo = GitRepository::new("podinfo", GitRepositorySpec::default());
        repo.meta_mut().generation = Some(generation);
        repo
    }

    #[test]
    fn status_and_finalizer_changes_do_not_trigger_a_reconcile() {
        let before = repo(1);
        let mut after = before.clone();
        after.status = Some(Default::default());
        after.meta_mut().finalizers = Some(vec!["finalizers.fluxcd.io".into()]);
        assert_eq!(reconcile_trigger(&before), reconcile_trigger(&after));
    }

    #[test]
    fn a_new_generation_a_reconcile_request_or_a_deletion_triggers_one() {
        let base = repo(1);
        let mut requested = base.clone();
        requested
            .annotations_mut()
            .insert(RECONCILE_REQUESTED_AT.into(), "now".into());
        let mut deleting = base.clone();
        deleting.meta_mut().deletion_timestamp = Some(Time(jiff::Timestamp::UNIX_EPOCH));
        for changed in [repo(2), requested, deleting] {
            assert_ne!(reconcile_trigger(&base), reconcile_trigger(&changed));
        }
    }
}
