//! Release history over a Secret store, as Helm's `storage.Storage` over its secrets driver:
//! the history of a name, its last and last deployed revision, create (after pruning to
//! `max_history`), update and delete. The Secret I/O is the [`SecretStore`] trait:
//! [`KubeSecrets`] for a cluster namespace, [`MemoryStore`] for tests and dry runs.

use std::collections::BTreeMap;
use std::future::Future;
use std::sync::Mutex;

use k8s_openapi::api::core::v1::Secret;
use kube::api::{Api, DeleteParams, ListParams, PostParams};

use super::codec::{self, Write};
use super::error::ReleaseError;
use super::record::{Release, Status};

/// Where release Secrets live (one namespace).
pub trait SecretStore: Send + Sync {
    /// The Secrets matching an equality label selector (`k=v,k=v`).
    fn list(
        &self,
        selector: &str,
    ) -> impl Future<Output = Result<Vec<Secret>, ReleaseError>> + Send;
    /// Creates `secret`; [`ReleaseError::AlreadyExists`] when its name is taken.
    fn create(&self, secret: Secret) -> impl Future<Output = Result<(), ReleaseError>> + Send;
    /// Replaces the Secret of the same name, unconditionally (Helm's Update).
    fn replace(&self, secret: Secret) -> impl Future<Output = Result<(), ReleaseError>> + Send;
    /// Deletes the Secret `name`; [`ReleaseError::NotFound`] when it does not exist.
    fn delete(&self, name: &str) -> impl Future<Output = Result<(), ReleaseError>> + Send;
}

/// Release Secrets in one namespace of a cluster.
#[derive(Clone)]
pub struct KubeSecrets {
    api: Api<Secret>,
}

impl KubeSecrets {
    pub fn new(client: kube::Client, namespace: &str) -> Self {
        KubeSecrets {
            api: Api::namespaced(client, namespace),
        }
    }
}

fn api_error(op: &'static str) -> impl Fn(kube::Error) -> ReleaseError {
    move |e| ReleaseError::Storage {
        op,
        message: driftless_ssa::error::api_message(&e),
    }
}

fn status_code(e: &kube::Error) -> Option<u16> {
    match e {
        kube::Error::Api(s) => Some(s.code),
        _ => None,
    }
}

impl SecretStore for KubeSecrets {
    async fn list(&self, selector: &str) -> Result<Vec<Secret>, ReleaseError> {
        let list = self
            .api
            .list(&ListParams::default().labels(selector))
            .await
            .map_err(api_error("query: failed to query with labels"))?;
        Ok(list.items)
    }

    async fn create(&self, secret: Secret) -> Result<(), ReleaseError> {
        match self.api.create(&PostParams::default(), &secret).await {
            Ok(_) => Ok(()),
            Err(e) if status_code(&e) == Some(409) => Err(ReleaseError::AlreadyExists),
            Err(e) => Err(api_error("create: failed to create")(e)),
        }
    }

    async fn replace(&self, secret: Secret) -> Result<(), ReleaseError> {
        let name = secret.metadata.name.clone().unwrap_or_default();
        self.api
            .replace(&name, &PostParams::default(), &secret)
            .await
            .map(|_| ())
            .map_err(api_error("update: failed to update"))
    }

    async fn delete(&self, name: &str) -> Result<(), ReleaseError> {
        match self.api.delete(name, &DeleteParams::default()).await {
            Ok(_) => Ok(()),
            Err(e) if status_code(&e) == Some(404) => Err(ReleaseError::NotFound),
            Err(e) => Err(api_error("delete: failed to delete")(e)),
        }
    }
}

/// Secrets in memory, selected by labels as the API server would.
#[derive(Default)]
pub struct MemoryStore {
    secrets: Mutex<BTreeMap<String, Secret>>,
}

impl MemoryStore {
    fn lock(&self) -> std::sync::MutexGuard<'_, BTreeMap<String, Secret>> {
        self.secrets.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Every Secret held, by name.
    pub fn snapshot(&self) -> BTreeMap<String, Secret> {
        self.lock().clone()
    }
}

pub(super) fn matches(secret: &Secret, selector: &str) -> bool {
    let labels = secret.metadata.labels.clone().unwrap_or_default();
    selector
        .split(',')
        .filter(|s| !s.is_empty())
        .all(|term| match term.split_once('=') {
            Some((k, v)) => labels.get(k).map(String::as_str) == Some(v),
            None => labels.contains_key(term),
        })
}

impl SecretStore for MemoryStore {
    async fn list(&self, selector: &str) -> Result<Vec<Secret>, ReleaseError> {
        Ok(self
            .lock()
            .values()
            .filter(|s| matches(s, selector))
            .cloned()
            .collect())
    }

    async fn create(&self, secret: Secret) -> Result<(), ReleaseError> {
        let name = secret.metadata.name.clone().unwrap_or_default();
        let mut map = self.lock();
        if map.contains_key(&name) {
            return Err(ReleaseError::AlreadyExists);
        }
        map.insert(name, secret);
        Ok(())
    }

    async fn replace(&self, secret: Secret) -> Result<(), ReleaseError> {
        let name = secret.metadata.name.clone().unwrap_or_default();
        self.lock().insert(name, secret);
        Ok(())
    }

    async fn delete(&self, name: &str) -> Result<(), ReleaseError> {
        self.lock()
            .remove(name)
            .map(|_| ())
            .ok_or(ReleaseError::NotFound)
    }
}

/// The releases of one namespace.
pub struct Storage<S> {
    store: S,
    /// Revisions kept per release name; 0 keeps all (Helm's `--history-max 0`).
    pub max_history: usize,
}

fn unix_now() -> i64 {
    k8s_openapi::jiff::Timestamp::now().as_second()
}

impl<S: SecretStore> Storage<S> {
    pub fn new(store: S) -> Self {
        Storage {
            store,
            max_history: 0,
        }
    }

    pub fn store(&self) -> &S {
        &self.store
    }

    /// Releases whose Secrets match `selector`, undecodable ones skipped (as Helm skips them),
    /// oldest revision first.
    async fn query(&self, selector: &str) -> Result<Vec<Release>, ReleaseError> {
        let mut out: Vec<Release> = self
            .store
            .list(selector)
            .await?
            .iter()
            .filter_map(|s| codec::from_secret(s).ok())
            .collect();
        out.sort_by_key(|r| r.version);
        Ok(out)
    }

    /// Every revision of `name`, oldest first.
    pub async fn history(&self, name: &str) -> Result<Vec<Release>, ReleaseError> {
        self.query(&format!("owner=helm,name={name}")).await
    }

    /// Every revision of every release in the namespace, by name then revision.
    pub async fn list_all(&self) -> Result<Vec<Release>, ReleaseError> {
        let mut all = self.query("owner=helm").await?;
        all.sort_by(|a, b| (&a.name, a.version).cmp(&(&b.name, b.version)));
        Ok(all)
    }

    /// The highest revision of `name`, whatever its status.
    pub async fn last(&self, name: &str) -> Result<Option<Release>, ReleaseError> {
        Ok(self.history(name).await?.pop())
    }

    /// Revision `version` of `name`.
    pub async fn get(&self, name: &str, version: u32) -> Result<Release, ReleaseError> {
        self.query(&format!("owner=helm,name={name},version={version}"))
            .await?
            .pop()
            .ok_or(ReleaseError::NotFound)
    }

    /// Every revision of `name` marked deployed (more than one only after a crash).
    pub async fn deployed_all(&self, name: &str) -> Result<Vec<Release>, ReleaseError> {
        self.query(&format!("owner=helm,name={name},status=deployed"))
            .await
    }

    /// The highest deployed revision of `name`.
    pub async fn deployed(&self, name: &str) -> Result<Option<Release>, ReleaseError> {
        Ok(self.deployed_all(name).await?.pop())
    }

    /// Stores a new revision, first deleting the oldest ones so that at most `max_history`
    /// remain with it (never the last deployed one).
    pub async fn create(&self, release: &Release) -> Result<(), ReleaseError> {
        if self.max_history > 0 {
            self.remove_least_recent(&release.name, self.max_history - 1)
                .await?;
        }
        let secret = codec::to_secret(release, Write::Create, unix_now())?;
        self.store.create(secret).await
    }

    /// Rewrites a stored revision (status changes, hook runs).
    pub async fn update(&self, release: &Release) -> Result<(), ReleaseError> {
        let secret = codec::to_secret(release, Write::Update, unix_now())?;
        self.store.replace(secret).await
    }

    /// Deletes revision `version` of `name`.
    pub async fn delete(&self, name: &str, version: u32) -> Result<(), ReleaseError> {
        self.store.delete(&codec::key(name, version)).await
    }

    /// Helm's `removeLeastRecent`: oldest revisions first, skipping the last deployed one,
    /// until `keep` remain; every deletion is tried, failures reported together.
    async fn remove_least_recent(&self, name: &str, keep: usize) -> Result<(), ReleaseError> {
        let history = self.history(name).await?;
        if history.len() <= keep {
            return Ok(());
        }
        let last_deployed = history
            .iter()
            .filter(|r| r.status() == Status::Deployed)
            .map(|r| r.version)
            .max();
        let doomed: Vec<u32> = history
            .iter()
            .map(|r| r.version)
            .filter(|v| Some(*v) != last_deployed)
            .take(history.len() - keep)
            .collect();
        let mut failures = Vec::new();
        for version in doomed {
            match self.delete(name, version).await {
                Ok(()) | Err(ReleaseError::NotFound) => {}
                Err(e) => failures.push(e.to_string()),
            }
        }
        if failures.is_empty() {
            Ok(())
        } else {
            Err(ReleaseError::Storage {
                op: "pruning history",
                message: failures.join("; "),
            })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::release::record::Info;

    fn rev(version: u32, status: Status) -> Release {
        Release {
            name: "app".into(),
            namespace: "ns".into(),
            version,
            info: Some(Info {
                status,
                ..Info::default()
            }),
            ..Release::default()
        }
    }

    fn block<F: Future>(f: F) -> F::Output {
        tokio::runtime::Builder::new_current_thread()
            .build()
            .expect("runtime")
            .block_on(f)
    }

    async fn versions(s: &Storage<MemoryStore>) -> Vec<u32> {
        let history = s.history("app").await.expect("history");
        history.iter().map(|r| r.version).collect()
    }

    #[test]
    fn history_is_ordered_by_revision_and_deployed_is_the_highest_deployed() {
        block(async {
            let s = Storage::new(MemoryStore::default());
            for r in [
                rev(2, Status::Deployed),
                rev(1, Status::Superseded),
                rev(3, Status::Failed),
            ] {
                s.create(&r).await.expect("create");
            }
            assert_eq!(versions(&s).await, vec![1, 2, 3]);
            assert_eq!(
                s.last("app").await.expect("last").map(|r| r.version),
                Some(3)
            );
            assert_eq!(
                s.deployed("app")
                    .await
                    .expect("deployed")
                    .map(|r| r.version),
                Some(2)
            );
            assert!(s.history("other").await.expect("history").is_empty());
        });
    }

    #[test]
    fn creating_twice_the_same_revision_is_refused() {
        block(async {
            let s = Storage::new(MemoryStore::default());
            s.create(&rev(1, Status::Deployed)).await.expect("create");
            assert!(matches!(
                s.create(&rev(1, Status::Deployed)).await,
                Err(ReleaseError::AlreadyExists)
            ));
        });
    }

    #[test]
    fn max_history_prunes_the_oldest_revisions_but_keeps_the_deployed_one() {
        block(async {
            let mut s = Storage::new(MemoryStore::default());
            s.create(&rev(1, Status::Deployed)).await.expect("create");
            for v in 2..=4 {
                s.create(&rev(v, Status::Failed)).await.expect("create");
            }
            s.max_history = 3;
            s.create(&rev(5, Status::Failed)).await.expect("create");
            assert_eq!(versions(&s).await, vec![1, 4, 5]);
        });
    }

    #[test]
    fn an_update_replaces_the_status_label_and_stamps_modified_at() {
        block(async {
            let s = Storage::new(MemoryStore::default());
            let mut r = rev(1, Status::PendingInstall);
            s.create(&r).await.expect("create");
            r.set_status(Status::Deployed, "Install complete");
            s.update(&r).await.expect("update");
            let secret = s
                .store()
                .snapshot()
                .remove("sh.helm.release.v1.app.v1")
                .expect("stored");
            let labels = secret.metadata.labels.unwrap_or_default();
            assert_eq!(labels.get("status").map(String::as_str), Some("deployed"));
            assert!(labels.contains_key("modifiedAt") && !labels.contains_key("createdAt"));
        });
    }
}
