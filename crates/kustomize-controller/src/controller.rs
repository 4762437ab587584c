//! The process: the Kustomization watch (namespace and label selector from the flags, filtered
//! like Flux's `GenerationChangedPredicate || ReconcileRequestedPredicate`), plus two triggers
//! Flux lacks on the happy path: a source whose artifact revision changes enqueues the
//! Kustomizations that use it, and a Kustomization whose readiness or applied revision changes
//! enqueues the Kustomizations that depend on it — no `--requeue-dependency` hop.

use std::collections::HashMap;
use std::future::Future;
use std::hash::{DefaultHasher, Hash, Hasher};
use std::sync::{Arc, Mutex};

use driftless_api::conditions::types;
use driftless_api::kustomize::Kustomization;
use driftless_api::meta::DependencyKind;
use driftless_artifact::{FetchOptions, Fetcher};
use driftless_runtime::election::Signal;
use driftless_runtime::events::Recorder;
use driftless_runtime::process::{self, ProcessError};
use driftless_runtime::schedule::Scheduler;
use driftless_runtime::shutdown::Signals;
use driftless_runtime::target_client::WorkloadIdentity;
use futures::{Stream, StreamExt};
use kube::api::{Api, DynamicObject};
use kube::runtime::controller::{Config as ControllerConfig, Controller};
use kube::runtime::reflector::{ObjectRef, Store};
use kube::runtime::{WatchStreamExt, reflector, watcher};
use kube::{Resource, ResourceExt};

use crate::args::{Args, DEFAULT_CONCURRENT};
use crate::dependencies::DependencyKey;
use crate::impersonation::Clients;
use crate::reconcile::{Context, METRICS_CONTROLLER, error_policy, reconcile};
use crate::source::{SourceKey, artifact_of};

/// The source kinds a Kustomization can reference.
const SOURCE_KINDS: [&str; 4] = [
    "GitRepository",
    "OCIRepository",
    "Bucket",
    "ExternalArtifact",
];

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

/// `driftless kustomize-controller`: a Tokio runtime, logs, the kubeconfig (`KUBECONFIG` or
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
        clients: Clients::new(
            config,
            client.clone(),
            args.runtime.api_limits(),
            args.default_service_account(),
        )
        .with_workload_identity(WorkloadIdentity::from_feature_gates(
            &args.runtime.feature_gates(),
        )),
        fetcher,
        scheduler: Scheduler::from_args(&args.runtime),
        recorder,
        metrics: metrics.clone(),
        requeue_dependency: args.requeue_dependency(),
        no_cross_namespace_refs: args.runtime.no_cross_namespace_refs,
        strict_substitutions: args.strict_substitutions(),
        additive_cel_dependency_check: args.additive_cel_dependency_check(),
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

/// The reconcile workers and their triggers, until `signal`.
async fn run_workers(
    args: Args,
    client: kube::Client,
    ctx: Arc<Context>,
    signal: Signal,
) -> Result<(), RunError> {
    let namespace = args.runtime.watch_namespace();
    let api: Api<Kustomization> = match &namespace {
        Some(ns) => Api::namespaced(client.clone(), ns),
        None => Api::all(client.clone()),
    };
    let mut watch_config = watcher::Config::default();
    if let Some(selector) = args.runtime.watch_selector() {
        watch_config = watch_config.labels(selector);
    }
    let (reader, writer) = reflector::store();
    let triggers = watcher(api.clone(), watch_config.clone())
        .default_backoff()
        .reflect(writer)
        .applied_objects()
        .predicate_filter(reconcile_trigger, Default::default());
    let concurrency = args.runtime.concurrency(DEFAULT_CONCURRENT);
    let mut controller = Controller::for_stream(triggers, reader.clone()).with_config(
        ControllerConfig::default().concurrency(u16::try_from(concurrency).unwrap_or(u16::MAX)),
    );

    // Dependents: a dependency whose readiness or applied revision changed.
    // A dependency in progress (Ready=Unknown) is skipped: its dependents would only find it
    // not ready; they move when it settles on True or False.
    let readiness = watcher(api, watch_config)
        .default_backoff()
        .applied_objects()
        .filter(|event| std::future::ready(!matches!(event, Ok(ks) if in_progress(ks))))
        .predicate_filter(readiness_key, Default::default());
    let store = reader.clone();
    controller = controller.watches_stream(readiness, move |dependency: Kustomization| {
        dependents(&store, &key_of(DependencyKind::Kustomization, &dependency))
    });
    // HelmReleases named in dependsOn (a driftless extension): their readiness, likewise.
    let resource = crate::dependencies::api_resource(DependencyKind::HelmRelease);
    let releases: Api<DynamicObject> = match &namespace {
        Some(ns) => Api::namespaced_with(client.clone(), ns, &resource),
        None => Api::all_with(client.clone(), &resource),
    };
    let release_readiness = watcher(releases, watcher::Config::default())
        .default_backoff()
        .applied_objects()
        .predicate_filter(release_readiness_key, Default::default());
    let store = reader.clone();
    controller = controller.watches_stream_with(
        release_readiness,
        move |release: DynamicObject| {
            dependents(&store, &key_of(DependencyKind::HelmRelease, &release))
        },
        resource,
    );

    // Sources: a new artifact revision.
    for kind in SOURCE_KINDS {
        let key = SourceKey {
            kind: kind.to_owned(),
            namespace: String::new(),
            name: String::new(),
        };
        let resource = key.api_resource();
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

    tracing::info!(concurrency, "starting kustomize-controller workers");
    // kube's controller needs a `Sync` shutdown future; a oneshot listener is one.
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

/// Whether a Kustomization is mid-reconcile (Ready=Unknown).
pub fn in_progress(ks: &Kustomization) -> bool {
    ks.status
        .as_ref()
        .and_then(|s| s.conditions.as_ref())
        .and_then(|c| c.iter().find(|c| c.type_ == types::READY))
        .is_some_and(|c| c.status == driftless_api::conditions::status::UNKNOWN)
}

/// Changes when a Kustomization turns Ready or not, or applies another revision.
pub fn readiness_key(ks: &Kustomization) -> Option<u64> {
    let status = ks.status.as_ref();
    let ready = status
        .and_then(|s| s.conditions.as_ref())
        .and_then(|c| c.iter().find(|c| c.type_ == types::READY))
        .map(|c| c.status.clone());
    let mut hasher = DefaultHasher::new();
    ready.hash(&mut hasher);
    status
        .and_then(|s| s.last_applied_revision.as_ref())
        .hash(&mut hasher);
    Some(hasher.finish())
}

/// Changes when a HelmRelease turns Ready or not, or observes a new generation.
pub fn release_readiness_key(release: &DynamicObject) -> Option<u64> {
    let status = &release.data["status"];
    let ready = status["conditions"]
        .as_array()
        .and_then(|c| c.iter().find(|c| c["type"] == types::READY))
        .map(|c| c["status"].to_string());
    let mut hasher = DefaultHasher::new();
    ready.hash(&mut hasher);
    status["observedGeneration"].as_i64().hash(&mut hasher);
    Some(hasher.finish())
}

/// `object` as a dependency of `kind`.
fn key_of<K: Resource>(kind: DependencyKind, object: &K) -> DependencyKey {
    DependencyKey {
        kind,
        namespace: object.namespace().unwrap_or_default(),
        name: object.name_any(),
    }
}

/// The Kustomizations in `store` that depend on `dependency`.
pub fn dependents(
    store: &Store<Kustomization>,
    dependency: &DependencyKey,
) -> Vec<ObjectRef<Kustomization>> {
    store
        .state()
        .iter()
        .filter(|ks| crate::dependencies::keys(ks).contains(dependency))
        .map(|ks| ObjectRef::from_obj(ks.as_ref()))
        .collect()
}

/// The Kustomizations in `store` that use the source `kind` `source` and still have its
/// artifact to apply. As in Flux, one already Ready after attempting that very revision is left
/// alone: the watch also replays sources it has seen (on start and on every relist), and
/// reconciling those again would flip Ready to Unknown for nothing.
pub fn users(
    store: &Store<Kustomization>,
    kind: &str,
    source: &DynamicObject,
) -> Vec<ObjectRef<Kustomization>> {
    let key = SourceKey {
        kind: kind.to_owned(),
        namespace: source.namespace().unwrap_or_default(),
        name: source.name_any(),
    };
    let revision = artifact_of(source).map(|a| a.revision);
    store
        .state()
        .iter()
        .filter(|ks| SourceKey::of(ks) == key)
        .filter(|ks| !settled_on(ks, revision.as_deref()))
        .map(|ks| ObjectRef::from_obj(ks.as_ref()))
        .collect()
}

/// Whether `ks` is Ready and its last attempt was at `revision`.
fn settled_on(ks: &Kustomization, revision: Option<&str>) -> bool {
    let Some(revision) = revision else {
        return false;
    };
    let status = ks.status.as_ref();
    let ready = status
        .and_then(|s| s.conditions.as_ref())
        .and_then(|c| c.iter().find(|c| c.type_ == types::READY))
        .is_some_and(|c| c.status == driftless_api::conditions::status::TRUE);
    ready && status.and_then(|s| s.last_attempted_revision.as_deref()) == Some(revision)
}

/// Passes a source only when its artifact revision differs from the last one seen.
fn new_revisions<S>(stream: S) -> impl Stream<Item = Result<DynamicObject, watcher::Error>> + Send
where
    S: Stream<Item = Result<DynamicObject, watcher::Error>> + Send,
{
    let seen: Arc<Mutex<HashMap<(String, String), String>>> = Arc::default();
    stream.filter(move |event| {
        let pass = match event {
            Ok(source) => {
                let revision = artifact_of(source).map(|a| a.revision).unwrap_or_default();
                let key = (source.namespace().unwrap_or_default(), source.name_any());
                let mut seen = seen
                    .lock()
                    .unwrap_or_else(std::sync::PoisonError::into_inner);
                seen.insert(key, revision.clone()).as_ref() != Some(&revision)
            }
            Err(_) => true,
        };
        std::future::ready(pass)
    })
}

#[cfg(test)]
mod tests {
    use driftless_api::kustomize::{KustomizationSpec, KustomizationStatus};
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::{Condition, Time};

    use super::*;
    use kube::Resource;

    fn ks(ready: &str, applied: &str) -> Kustomization {
        let mut ks = Kustomization::new("infra", KustomizationSpec::default());
        ks.meta_mut().generation = Some(1);
        ks.status = Some(KustomizationStatus {
            last_applied_revision: Some(applied.into()),
            conditions: Some(vec![Condition {
                type_: "Ready".into(),
                status: ready.into(),
                reason: "ReconciliationSucceeded".into(),
                message: "Applied".into(),
                observed_generation: Some(1),
                last_transition_time: Time(jiff::Timestamp::UNIX_EPOCH),
            }]),
            ..Default::default()
        });
        ks
    }

    #[test]
    fn status_and_finalizer_changes_do_not_trigger_a_reconcile() {
        let before = ks("False", "a");
        let mut after = ks("True", "b");
        after.meta_mut().finalizers = Some(vec!["finalizers.fluxcd.io".into()]);
        assert_eq!(reconcile_trigger(&before), reconcile_trigger(&after));
    }

    #[test]
    fn readiness_and_applied_revision_changes_trigger_dependents() {
        let base = ks("False", "a");
        assert_ne!(readiness_key(&base), readiness_key(&ks("True", "a")));
        assert_ne!(readiness_key(&base), readiness_key(&ks("False", "b")));
        let mut other_message = base.clone();
        if let Some(c) = other_message
            .status
            .as_mut()
            .and_then(|s| s.conditions.as_mut())
        {
            c[0].message = "something else".into();
        }
        assert_eq!(readiness_key(&base), readiness_key(&other_message));
    }

    #[test]
    fn a_source_revision_already_applied_does_not_requeue_a_ready_kustomization() {
        let mut ready = ks("True", "main@sha1:a");
        if let Some(s) = ready.status.as_mut() {
            s.last_attempted_revision = Some("main@sha1:a".into());
        }
        assert!(settled_on(&ready, Some("main@sha1:a")));
        assert!(!settled_on(&ready, Some("main@sha1:b")));
        assert!(!settled_on(&ready, None));
        let mut failing = ready.clone();
        if let Some(c) = failing.status.as_mut().and_then(|s| s.conditions.as_mut()) {
            c[0].status = "False".into();
        }
        assert!(!settled_on(&failing, Some("main@sha1:a")));
    }
}
