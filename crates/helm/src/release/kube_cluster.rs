//! [`Cluster`] on a real API server: release objects server-side applied through the ssa crate
//! (staged, dry-run first) under field manager `helm-controller` with the ownership metadata
//! Helm sets (`app.kubernetes.io/managed-by: Helm`, `meta.helm.sh/release-{name,namespace}`),
//! readiness by the ssa crate's kstatus wait, hooks created and polled until their Job
//! completes or Pod succeeds.

use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use driftless_ssa::concurrency::{CONCURRENT_REQUESTS, ordered};
use driftless_ssa::error::{api_message, is_not_found};
use driftless_ssa::resolve::Resolver;
use driftless_ssa::wait::{ObjectHealth, StatusReader, Target};
use driftless_ssa::{Action, ApplyOptions, KnownObjects, ObjMetadata, ResourceManager};
use kube::api::{Api, DeleteParams, DynamicObject, GroupVersionKind, PostParams};
use serde_json::Value;

use super::cluster::{Cluster, CrdPolicy, ObjectKey, objects};
use super::error::ReleaseError;
use super::wait_rule::{WaitRule, wait_rule};

/// The field manager of every apply, as Flux's helm-controller.
pub const FIELD_MANAGER: &str = "helm-controller";
pub const MANAGED_BY_LABEL: &str = "app.kubernetes.io/managed-by";
pub const RELEASE_NAME_ANNOTATION: &str = "meta.helm.sh/release-name";
pub const RELEASE_NAMESPACE_ANNOTATION: &str = "meta.helm.sh/release-namespace";

/// Timeout message of a wait, Helm's (`wait.ErrWaitTimeout`).
const TIMED_OUT: &str = "timed out waiting for the condition";

/// How [`Cluster::wait_ready`] judges the release's objects: Flux's `spec.waitStrategy`.
#[derive(Clone, Default)]
pub enum WaitStrategy {
    /// kstatus, polled (Flux's `poller`, the default).
    #[default]
    Poller,
    /// `poller` with the kinds the reader covers judged by it (the HelmRelease's
    /// `healthCheckExprs`).
    PollerWith(Arc<dyn StatusReader>),
    /// Helm 3's readiness rules (Flux's `legacy`); Jobs are waited for only with
    /// `wait_for_jobs` (the action's `disableWaitForJobs` off).
    Legacy { wait_for_jobs: bool },
}

/// What one action learned from the cluster that its next step reuses instead of reading again:
/// the objects the ownership check read (the apply's dry-run compares against them) and the
/// health the apply saw (the wait starts from it, so an object Current at once is not polled).
/// With a thousand releases those repeated reads, not the Helm work, filled each kind's
/// client-side request budget.
#[derive(Default)]
struct Memo {
    live: KnownObjects,
    observed: Vec<ObjectHealth>,
}

/// A cluster reached through one client.
#[derive(Clone)]
pub struct KubeCluster {
    client: kube::Client,
    resolver: Resolver,
    /// Shared by the clones an action makes ([`Self::waiting_by`]); one cluster per reconcile.
    memo: Arc<Mutex<Memo>>,
    /// Longest pause between two polls of a wait.
    pub poll_interval: Duration,
    /// How waits judge readiness.
    pub wait_strategy: WaitStrategy,
}

fn cluster_err(e: impl std::fmt::Display) -> ReleaseError {
    ReleaseError::Cluster(e.to_string())
}

impl KubeCluster {
    pub fn new(client: kube::Client) -> Self {
        Self::with_resolver(client.clone(), Resolver::new(client))
    }

    /// A cluster sharing `resolver`'s discovery cache.
    pub fn with_resolver(client: kube::Client, resolver: Resolver) -> Self {
        KubeCluster {
            client,
            resolver,
            memo: Arc::default(),
            poll_interval: Duration::from_secs(2),
            wait_strategy: WaitStrategy::default(),
        }
    }

    /// This cluster with waits judged by `strategy` (one action's, as the strategy's Job rule
    /// depends on the action).
    pub fn waiting_by(&self, strategy: WaitStrategy) -> Self {
        KubeCluster {
            wait_strategy: strategy,
            ..self.clone()
        }
    }

    fn manager(&self, namespace: &str) -> ResourceManager {
        let options = ApplyOptions {
            field_manager: FIELD_MANAGER.to_string(),
            default_namespace: namespace.to_string(),
            poll_interval: self.poll_interval,
            ..ApplyOptions::default()
        };
        ResourceManager::with_resolver(self.client.clone(), options, self.resolver.clone())
    }

    /// The API of `key`'s kind and namespace, with the namespace it really lives in; None when
    /// the kind is not served (its CRD is gone: nothing of it is left to read or delete).
    async fn api(&self, key: &ObjectKey) -> Option<(Api<DynamicObject>, String)> {
        let gvk = GroupVersionKind::gvk(&key.group, &key.version, &key.kind);
        let resolved = self.resolver.resolve(&gvk).await.ok()?;
        Some(if resolved.namespaced {
            (
                Api::namespaced_with(self.client.clone(), &key.namespace, &resolved.resource),
                key.namespace.clone(),
            )
        } else {
            (
                Api::all_with(self.client.clone(), &resolved.resource),
                String::new(),
            )
        })
    }

    fn memo(&self) -> MutexGuard<'_, Memo> {
        // A poisoned lock only means another task panicked while holding plain data.
        self.memo.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Forgets the objects the ownership check read: a hook or a deletion may change them.
    fn forget_live(&self) {
        self.memo().live.clear();
    }

    fn backoff(&self, timeout: Duration) -> Backoff {
        Backoff {
            deadline: tokio::time::Instant::now() + timeout,
            delay: Duration::from_millis(250),
            cap: self.poll_interval,
        }
    }

    /// Whether a hook object has run to completion; an error when it failed.
    async fn hook_done(&self, key: &ObjectKey) -> Result<bool, ReleaseError> {
        let Some((api, _)) = self.api(key).await else {
            return Ok(true);
        };
        let live = api
            .get(&key.name)
            .await
            .map_err(|e| cluster_err(api_message(&e)))?;
        let status = live.data.get("status").cloned().unwrap_or(Value::Null);
        match (key.group.as_str(), key.kind.as_str()) {
            ("batch", "Job") => {
                let conditions = status
                    .get("conditions")
                    .and_then(Value::as_array)
                    .cloned()
                    .unwrap_or_default();
                let is = |t: &str| {
                    conditions.iter().find(|c| {
                        c.get("type").and_then(Value::as_str) == Some(t)
                            && c.get("status").and_then(Value::as_str) == Some("True")
                    })
                };
                if let Some(c) = is("Failed") {
                    let reason = c.get("reason").and_then(Value::as_str).unwrap_or_default();
                    return Err(cluster_err(format!("job {} failed: {reason}", key.name)));
                }
                Ok(is("Complete").is_some())
            }
            ("", "Pod") => match status.get("phase").and_then(Value::as_str) {
                Some("Succeeded") => Ok(true),
                Some("Failed") => Err(cluster_err(format!("pod {} failed", key.name))),
                _ => Ok(false),
            },
            _ => Ok(true),
        }
    }
}

/// Pauses of a wait: doubling from 250ms up to a cap, failing with Helm's message once the
/// deadline has passed.
struct Backoff {
    deadline: tokio::time::Instant,
    delay: Duration,
    cap: Duration,
}

impl Backoff {
    async fn pause(&mut self) -> Result<(), ReleaseError> {
        let now = tokio::time::Instant::now();
        if now >= self.deadline {
            return Err(ReleaseError::Cluster(TIMED_OUT.into()));
        }
        tokio::time::sleep(self.delay.min(self.deadline - now)).await;
        self.delay = (self.delay * 2).min(self.cap);
        Ok(())
    }
}

fn decode(manifest: &str) -> Result<Vec<DynamicObject>, ReleaseError> {
    driftless_ssa::decode::decode_yaml(manifest).map_err(cluster_err)
}

/// Helm's `requireValue`.
fn require(
    map: Option<&std::collections::BTreeMap<String, String>>,
    key: &str,
    want: &str,
) -> Option<String> {
    match map.and_then(|m| m.get(key)) {
        None => Some(format!("missing key {key:?}: must be set to {want:?}")),
        Some(v) if v != want => Some(format!(
            "key {key:?} must equal {want:?}: current value is {v:?}"
        )),
        Some(_) => None,
    }
}

impl Cluster for KubeCluster {
    async fn install_crds(
        &self,
        crds: &[(String, String)],
        policy: CrdPolicy,
    ) -> Result<(), ReleaseError> {
        if policy == CrdPolicy::Skip {
            return Ok(());
        }
        let mut wanted = Vec::new();
        for (_, doc) in crds {
            let keys = objects(doc, "")?;
            for (object, key) in decode(doc)?.into_iter().zip(&keys) {
                let exists = match self.api(key).await {
                    Some((api, _)) => api
                        .get_opt(&key.name)
                        .await
                        .map_err(|e| cluster_err(api_message(&e)))?
                        .is_some(),
                    None => false,
                };
                if policy == CrdPolicy::CreateReplace || !exists {
                    wanted.push(object);
                }
            }
        }
        if wanted.is_empty() {
            return Ok(());
        }
        self.manager("default")
            .apply_all_staged(wanted)
            .await
            .map(|_| ())
            .map_err(|e| cluster_err(format!("failed to install CRD: {e}")))
    }

    async fn check_ownership(
        &self,
        release: &str,
        namespace: &str,
        objects: &[ObjectKey],
    ) -> Result<(), ReleaseError> {
        // Read concurrently (a release's objects do not depend on each other), judged in order.
        let reads: Vec<_> = objects
            .iter()
            .map(|key| async move {
                let Some((api, ns)) = self.api(key).await else {
                    return Ok(None);
                };
                let found = api
                    .get_opt(&key.name)
                    .await
                    .map_err(|e| cluster_err(api_message(&e)))?;
                Ok::<_, ReleaseError>(Some((key, ns, found)))
            })
            .collect();
        let reads = ordered(reads, CONCURRENT_REQUESTS).await;
        let mut seen = KnownObjects::new();
        for read in reads {
            let Some((key, ns, found)) = read? else {
                continue;
            };
            seen.insert(
                ObjMetadata {
                    namespace: ns.clone(),
                    name: key.name.clone(),
                    group: key.group.clone(),
                    kind: key.kind.clone(),
                },
                found.clone(),
            );
            let Some(live) = found else {
                continue;
            };
            let meta = &live.metadata;
            let mut errs = Vec::new();
            if let Some(e) = require(meta.labels.as_ref(), MANAGED_BY_LABEL, "Helm") {
                errs.push(format!("label validation error: {e}"));
            }
            for (k, v) in [
                (RELEASE_NAME_ANNOTATION, release),
                (RELEASE_NAMESPACE_ANNOTATION, namespace),
            ] {
                if let Some(e) = require(meta.annotations.as_ref(), k, v) {
                    errs.push(format!("annotation validation error: {e}"));
                }
            }
            if !errs.is_empty() {
                return Err(cluster_err(format!(
                    "{} {:?} in namespace {ns:?} exists and cannot be imported into the current release: invalid ownership metadata; {}",
                    key.kind,
                    key.name,
                    errs.join("; ")
                )));
            }
        }
        // The apply that follows compares against these instead of reading them again (the
        // action's hooks, which could change them, make the cluster forget them).
        self.memo().live = seen;
        Ok(())
    }

    async fn apply(
        &self,
        release: &str,
        namespace: &str,
        manifest: &str,
        force: bool,
    ) -> Result<Vec<ObjectKey>, ReleaseError> {
        let mut objs = decode(manifest)?;
        for o in &mut objs {
            let meta = &mut o.metadata;
            meta.labels
                .get_or_insert_with(Default::default)
                .insert(MANAGED_BY_LABEL.into(), "Helm".into());
            let annotations = meta.annotations.get_or_insert_with(Default::default);
            annotations.insert(RELEASE_NAME_ANNOTATION.into(), release.into());
            annotations.insert(RELEASE_NAMESPACE_ANNOTATION.into(), namespace.into());
        }
        if objs.is_empty() {
            return Ok(Vec::new());
        }
        let mut manager = self.manager(namespace);
        if force {
            manager = ResourceManager::with_resolver(
                self.client.clone(),
                ApplyOptions {
                    force: true,
                    ..manager.options().clone()
                },
                self.resolver.clone(),
            );
        }
        let known = std::mem::take(&mut self.memo().live);
        let changes = manager
            .apply_all_staged_known(objs, &known)
            .await
            .map_err(cluster_err)?;
        self.memo().observed = changes.observations();
        Ok(changes
            .entries
            .iter()
            .filter(|e| e.action == Action::Created)
            .map(|e| ObjectKey {
                group: e.object.group.clone(),
                version: e.version.clone(),
                kind: e.object.kind.clone(),
                namespace: e.object.namespace.clone(),
                name: e.object.name.clone(),
                keep: false,
            })
            .collect())
    }

    async fn wait_ready(
        &self,
        namespace: &str,
        manifest: &str,
        timeout: Duration,
    ) -> Result<(), ReleaseError> {
        let mut targets = Vec::new();
        for (rendered, key) in decode(manifest)?.iter().zip(objects(manifest, namespace)?) {
            let wait = wait_rule(&key, &rendered.data);
            if wait == WaitRule::Skip {
                continue;
            }
            let Some((_, ns)) = self.api(&key).await else {
                continue;
            };
            let object = ObjMetadata {
                namespace: ns,
                name: key.name.clone(),
                group: key.group.clone(),
                kind: key.kind.clone(),
            };
            let target = Target::new(object, key.version.clone());
            targets.push(match wait {
                WaitRule::CurrentWhenGone => target.current_when_gone(),
                _ => target,
            });
        }
        let manager = self.manager(namespace);
        let observed = std::mem::take(&mut self.memo().observed);
        let waited = match &self.wait_strategy {
            WaitStrategy::Poller => manager.wait_from(&targets, &observed, timeout).await,
            WaitStrategy::PollerWith(reader) => {
                manager
                    .wait_with(&targets, &observed, timeout, Some(reader.as_ref()))
                    .await
            }
            WaitStrategy::Legacy { wait_for_jobs } => {
                manager.wait_legacy(&targets, timeout, *wait_for_jobs).await
            }
        };
        waited.map(|_| ()).map_err(cluster_err)
    }

    async fn delete(
        &self,
        objects: &[ObjectKey],
        wait: Option<Duration>,
    ) -> Result<(), ReleaseError> {
        self.forget_live();
        let mut failures = Vec::new();
        let mut deleted = Vec::new();
        for key in objects {
            let Some((api, _)) = self.api(key).await else {
                continue;
            };
            match api.delete(&key.name, &DeleteParams::background()).await {
                Ok(_) => deleted.push((api, key.name.clone())),
                Err(e) if is_not_found(&e) => {}
                Err(e) => failures.push(format!("{}: {}", key.describe(), api_message(&e))),
            }
        }
        if !failures.is_empty() {
            return Err(cluster_err(failures.join("; ")));
        }
        let Some(timeout) = wait else {
            return Ok(());
        };
        let mut backoff = self.backoff(timeout);
        for (api, name) in &deleted {
            while api
                .get_opt(name)
                .await
                .map_err(|e| cluster_err(api_message(&e)))?
                .is_some()
            {
                backoff.pause().await?;
            }
        }
        Ok(())
    }

    async fn create_hook(&self, namespace: &str, manifest: &str) -> Result<(), ReleaseError> {
        self.forget_live();
        let keys = objects(manifest, namespace)?;
        for (object, key) in decode(manifest)?.into_iter().zip(&keys) {
            let Some((api, _)) = self.api(key).await else {
                return Err(cluster_err(format!(
                    "resource mapping not found for kind {:?} in version {:?}",
                    key.kind, key.version
                )));
            };
            api.create(&PostParams::default(), &object)
                .await
                .map_err(|e| cluster_err(api_message(&e)))?;
        }
        Ok(())
    }

    async fn wait_hook(
        &self,
        namespace: &str,
        manifest: &str,
        timeout: Duration,
    ) -> Result<(), ReleaseError> {
        let mut backoff = self.backoff(timeout);
        for key in objects(manifest, namespace)? {
            while !self.hook_done(&key).await? {
                backoff.pause().await?;
            }
        }
        Ok(())
    }

    async fn delete_hook(
        &self,
        namespace: &str,
        manifest: &str,
        timeout: Duration,
    ) -> Result<(), ReleaseError> {
        let keys = objects(manifest, namespace)?;
        self.delete(&keys, Some(timeout)).await
    }
}
