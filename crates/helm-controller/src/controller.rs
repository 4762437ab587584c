//! The process: the HelmRelease watch (namespace and label selector from the flags, filtered
//! like Flux's `GenerationChangedPredicate || ReconcileRequestedPredicate`), plus triggers:
//! a HelmChart or OCIRepository with a new artifact revision enqueues the HelmReleases that
//! use it; a ConfigMap or Secret that changes enqueues the HelmReleases whose `valuesFrom`
//! names it (watched by metadata only, and without Flux's `reconcile.fluxcd.io/watch` label);
//! a HelmRelease whose readiness changes enqueues those that depend on it.

use std::collections::HashMap;
use std::future::Future;
use std::hash::{DefaultHasher, Hash, Hasher};
use std::sync::{Arc, Mutex};

use driftless_api::conditions::types;
use driftless_api::helm::HelmRelease;
use driftless_api::meta::ConfigSourceKind;
use driftless_artifact::{FetchOptions, Fetcher};
use driftless_runtime::election::Signal;
use driftless_runtime::events::Recorder;
use driftless_runtime::process::{self, ProcessError};
use driftless_runtime::schedule::Scheduler;
use driftless_runtime::shutdown::Signals;
use futures::{Stream, StreamExt};
use k8s_openapi::api::core::v1::{ConfigMap, Secret};
use kube::api::{Api, DynamicObject};
use kube::core::PartialObjectMeta;
use kube::runtime::controller::{Config as ControllerConfig, Controller};
use kube::runtime::reflector::{ObjectRef, Store};
use kube::runtime::{WatchStreamExt, reflector, watcher};
use kube::{Resource, ResourceExt};

use crate::args::{Args, DEFAULT_CONCURRENT};
use crate::chart::{ChartSource, api_resource};
use crate::dependencies::DependencyKey;
use crate::reconcile::{Context, METRICS_CONTROLLER, error_policy, reconcile};

/// Source kinds a HelmRelease takes its chart from.
const SOURCE_KINDS: [&str; 2] = ["HelmChart", "OCIRepository"];

/// Why the controller process could not start or stopped with an error.
#[derive(Debug, thiserror::Error)]
pub enum RunError {
    /// The process around the workers (flags, client, admin servers, election) failed.
    #[error(transparent)]
    Process(#[from] ProcessError),
    /// The artifact download client could not be built.
    #[error("building the artifact client failed")]
    Fetcher(#[source] driftless_artifact::FetchError),
}

/// `driftless helm-controller`: a Tokio runtime, logs, the kubeconfig (`KUBECONFIG` or
/// in-cluster), and SIGINT/SIGTERM as the shutdown signal.
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
    let client = driftless_runtime::ratelimit::client(config.clone(), args.runtime.api_limits())
        .map_err(ProcessError::KubeClient)?;
    let concurrency = args.runtime.concurrency(DEFAULT_CONCURRENT);
    let metrics = process::metrics(&args.runtime, METRICS_CONTROLLER, concurrency)?;
    let recorder = Recorder::new(
        client.clone(),
        crate::CONTROLLER_NAME,
        &args.runtime.events_addr,
    )
    .map_err(ProcessError::Events)?;
    let fetcher = Fetcher::new(FetchOptions {
        retries: args.http_retry,
        timeout: args.http_timeout.get(),
        ..FetchOptions::default()
    })
    .map_err(RunError::Fetcher)?;
    let ctx = Arc::new(Context {
        client: client.clone(),
        resolver: driftless_ssa::resolve::Resolver::new(client.clone()),
        targets: driftless_runtime::target_client::TargetClients::new(
            config,
            client.clone(),
            args.runtime.api_limits(),
            args.default_service_account(),
        )
        .with_kubeconfig_policy(driftless_runtime::target_client::KubeconfigPolicy {
            allow_exec: args.insecure_kubeconfig_exec,
            allow_insecure_tls: args.insecure_kubeconfig_tls,
        })
        .with_workload_identity(
            driftless_runtime::target_client::WorkloadIdentity::from_feature_gates(
                &args.runtime.feature_gates(),
            ),
        ),
        fetcher,
        scheduler: Scheduler::from_args(&args.runtime),
        recorder,
        metrics: metrics.clone(),
        requeue_dependency: args.requeue_dependency(),
        no_cross_namespace_refs: args.runtime.no_cross_namespace_refs,
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

fn scoped<K>(client: &kube::Client, namespace: &Option<String>) -> Api<K>
where
    K: Resource<Scope = k8s_openapi::NamespaceResourceScope, DynamicType = ()>,
{
    match namespace {
        Some(ns) => Api::namespaced(client.clone(), ns),
        None => Api::all(client.clone()),
    }
}

/// The reconcile workers and their triggers, until `signal`.
async fn run_workers(
    args: Args,
    client: kube::Client,
    ctx: Arc<Context>,
    signal: Signal,
) -> Result<(), RunError> {
    let namespace = args.runtime.watch_namespace();
    let api: Api<HelmRelease> = scoped(&client, &namespace);
    let mut watch_config = watcher::Config::default();
    if let Some(selector) = args.runtime.watch_selector() {
        watch_config = watch_config.labels(selector);
    }
    let (reader, writer) = reflector::store();
    // The store keeps every HelmRelease for the life of the process; their managed fields
    // (several KiB each, read by nothing here) are dropped before they are stored.
    let triggers = watcher(api.clone(), watch_config.clone())
        .default_backoff()
        .modify(|hr: &mut HelmRelease| hr.metadata.managed_fields = None)
        .reflect(writer)
        .applied_objects()
        .predicate_filter(reconcile_trigger, Default::default());
    let concurrency = args.runtime.concurrency(DEFAULT_CONCURRENT);
    let mut controller = Controller::for_stream(triggers, reader.clone()).with_config(
        ControllerConfig::default().concurrency(u16::try_from(concurrency).unwrap_or(u16::MAX)),
    );

    // Dependents: a dependency whose readiness changed.
    let readiness = watcher(api, watch_config)
        .default_backoff()
        .applied_objects()
        .predicate_filter(readiness_key, Default::default());
    let store = reader.clone();
    controller = controller.watches_stream(readiness, move |dependency: HelmRelease| {
        let key = DependencyKey {
            namespace: dependency.namespace().unwrap_or_default(),
            name: dependency.name_any(),
        };
        dependents(&store, &key)
    });

    // Chart sources: a new artifact revision.
    for kind in SOURCE_KINDS {
        let resource = api_resource(kind);
        let sources: Api<DynamicObject> = match &namespace {
            Some(ns) => Api::namespaced_with(client.clone(), ns, &resource),
            None => Api::all_with(client.clone(), &resource),
        };
        let stream = new_revisions(
            watcher(sources, watcher::Config::default())
                .default_backoff()
                .applied_objects(),
        );
        let store = reader.clone();
        controller = controller.watches_stream_with(
            stream,
            move |source: DynamicObject| users(&store, kind, &source),
            resource,
        );
    }

    // Values: ConfigMaps and Secrets named in valuesFrom, by metadata (no Secret data cached).
    let configs = watcher(
        scoped::<PartialObjectMeta<ConfigMap>>(&client, &namespace),
        watcher::Config::default(),
    )
    .default_backoff()
    .applied_objects();
    let store = reader.clone();
    controller = controller.watches_stream(configs, move |cm| {
        values_users(
            &store,
            ConfigSourceKind::ConfigMap,
            &cm.namespace().unwrap_or_default(),
            &cm.name_any(),
        )
    });
    let secrets = watcher(
        scoped::<PartialObjectMeta<Secret>>(&client, &namespace),
        watcher::Config::default(),
    )
    .default_backoff()
    .applied_objects();
    let store = reader.clone();
    controller = controller.watches_stream(secrets, move |secret| {
        values_users(
            &store,
            ConfigSourceKind::Secret,
            &secret.namespace().unwrap_or_default(),
            &secret.name_any(),
        )
    });

    tracing::info!(concurrency, "starting helm-controller workers");
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

/// Changes when a HelmRelease turns Ready or not, or observes a new generation.
pub fn readiness_key(hr: &HelmRelease) -> Option<u64> {
    let status = hr.status.as_ref();
    let ready = status
        .and_then(|s| s.conditions.as_ref())
        .and_then(|c| c.iter().find(|c| c.type_ == types::READY))
        .map(|c| c.status.clone());
    let mut hasher = DefaultHasher::new();
    ready.hash(&mut hasher);
    status.and_then(|s| s.observed_generation).hash(&mut hasher);
    Some(hasher.finish())
}

/// The HelmReleases in `store` that depend on `dependency`.
pub fn dependents(
    store: &Store<HelmRelease>,
    dependency: &DependencyKey,
) -> Vec<ObjectRef<HelmRelease>> {
    store
        .state()
        .iter()
        .filter(|hr| crate::dependencies::keys(hr).contains(dependency))
        .map(|hr| ObjectRef::from_obj(hr.as_ref()))
        .collect()
}

/// The HelmReleases in `store` whose chart comes from `source` (of `kind`).
pub fn users(
    store: &Store<HelmRelease>,
    kind: &str,
    source: &DynamicObject,
) -> Vec<ObjectRef<HelmRelease>> {
    let key = ChartSource {
        kind: kind.to_owned(),
        namespace: source.namespace().unwrap_or_default(),
        name: source.name_any(),
    };
    store
        .state()
        .iter()
        .filter(|hr| ChartSource::of(hr).as_ref() == Some(&key))
        .map(|hr| ObjectRef::from_obj(hr.as_ref()))
        .collect()
}

/// The HelmReleases in `namespace` whose `valuesFrom` names the `kind` object `name`.
pub fn values_users(
    store: &Store<HelmRelease>,
    kind: ConfigSourceKind,
    namespace: &str,
    name: &str,
) -> Vec<ObjectRef<HelmRelease>> {
    store
        .state()
        .iter()
        .filter(|hr| hr.namespace().as_deref() == Some(namespace))
        .filter(|hr| {
            hr.spec
                .values_from
                .iter()
                .flatten()
                .any(|r| r.kind == kind && r.name == name)
        })
        .map(|hr| ObjectRef::from_obj(hr.as_ref()))
        .collect()
}

/// Whether a source's artifact revision is news to its users: it differs from the last one
/// seen, and is not the empty revision of a source seen for the first time (a HelmChart that
/// a release has just created has no artifact yet; the release learned that when it created
/// it, and waking it again only repeats the "not ready" pass).
fn revision_changed(previous: Option<&str>, current: &str) -> bool {
    match previous {
        None => !current.is_empty(),
        Some(previous) => previous != current,
    }
}

/// Passes a source only when its artifact revision is news ([`revision_changed`]).
fn new_revisions<S>(stream: S) -> impl Stream<Item = Result<DynamicObject, watcher::Error>> + Send
where
    S: Stream<Item = Result<DynamicObject, watcher::Error>> + Send,
{
    let seen: Arc<Mutex<HashMap<(String, String), String>>> = Arc::default();
    stream.filter(move |event| {
        let pass = match event {
            Ok(source) => {
                let revision = source.data["status"]["artifact"]["revision"]
                    .as_str()
                    .unwrap_or_default()
                    .to_owned();
                let key = (source.namespace().unwrap_or_default(), source.name_any());
                let mut seen = seen
                    .lock()
                    .unwrap_or_else(std::sync::PoisonError::into_inner);
                let previous = seen.insert(key, revision.clone());
                revision_changed(previous.as_deref(), &revision)
            }
            Err(_) => true,
        };
        std::future::ready(pass)
    })
}

#[cfg(test)]
mod tests {
    use super::revision_changed;

    #[test]
    fn a_source_wakes_its_users_when_its_revision_appears_or_changes_only() {
        assert!(
            !revision_changed(None, ""),
            "new source without an artifact"
        );
        assert!(
            revision_changed(None, "1.0.0"),
            "first seen with an artifact"
        );
        assert!(revision_changed(Some(""), "1.0.0"), "artifact appeared");
        assert!(revision_changed(Some("1.0.0"), "1.0.1"), "new revision");
        assert!(
            !revision_changed(Some("1.0.0"), "1.0.0"),
            "status update only"
        );
        assert!(revision_changed(Some("1.0.0"), ""), "artifact gone");
    }
}
