//! A write-through cache of one release name's Secrets, for the span of one reconcile.
//!
//! One Helm action reads the history of its release several times (the decision, the
//! action itself, the status that follows), and each read is a LIST of Secrets by label.
//! Under a client-side rate limit per API resource those LISTs, not the work, bound how many
//! releases a controller converges per second. A reconcile owns its release for its whole
//! span, so the first LIST of a name is kept and every write this store makes is applied to
//! the kept copy: later reads answer from memory and still see the reconcile's own writes.
//! Selectors that do not name one release (`owner=helm` alone) and failed writes go to the
//! inner store / drop the kept copy, so the cache never answers with a state it is unsure of.

use std::collections::{BTreeMap, HashMap};
use std::sync::Mutex;

use k8s_openapi::api::core::v1::Secret;

use super::error::ReleaseError;
use super::storage::{SecretStore, matches};

/// A [`SecretStore`] that answers repeated reads of one release name from memory.
pub struct Cached<S> {
    inner: S,
    /// Release name -> its Secrets by Secret name, as last listed and since written.
    kept: Mutex<HashMap<String, BTreeMap<String, Secret>>>,
}

impl<S> Cached<S> {
    pub fn new(inner: S) -> Self {
        Cached {
            inner,
            kept: Mutex::new(HashMap::new()),
        }
    }

    pub fn inner(&self) -> &S {
        &self.inner
    }

    fn kept(&self) -> std::sync::MutexGuard<'_, HashMap<String, BTreeMap<String, Secret>>> {
        self.kept.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Applies `change` to the kept Secrets of the release `secret` belongs to, if kept.
    fn on_kept(
        &self,
        secret_release: Option<&str>,
        change: impl FnOnce(&mut BTreeMap<String, Secret>),
    ) {
        if let Some(release) = secret_release
            && let Some(secrets) = self.kept().get_mut(release)
        {
            change(secrets);
        }
    }

    /// Forgets whatever is kept for `release` (after a write whose outcome is unknown).
    fn forget(&self, release: Option<&str>) {
        if let Some(release) = release {
            self.kept().remove(release);
        }
    }
}

impl<S: SecretStore> Cached<S> {
    /// Runs `write` of `secret`; on success the kept copy holds `secret`, on failure (its
    /// outcome unknown) the release's kept copy is dropped.
    async fn kept_write(
        &self,
        secret: Secret,
        write: impl std::future::Future<Output = Result<(), ReleaseError>>,
    ) -> Result<(), ReleaseError> {
        let release = release_label(&secret);
        match write.await {
            Ok(()) => {
                self.on_kept(release.as_deref(), |kept| {
                    kept.insert(secret.metadata.name.clone().unwrap_or_default(), secret);
                });
                Ok(())
            }
            Err(e) => {
                self.forget(release.as_deref());
                Err(e)
            }
        }
    }
}

/// The release a selector is scoped to: `owner=helm` and `name=<release>` among its terms.
fn release_of(selector: &str) -> Option<&str> {
    let mut owner_helm = false;
    let mut name = None;
    for term in selector.split(',') {
        match term.split_once('=') {
            Some(("owner", "helm")) => owner_helm = true,
            Some(("name", value)) => name = Some(value),
            _ => {}
        }
    }
    name.filter(|_| owner_helm)
}

/// The release a Secret records, from its `name` label as Helm writes it.
fn release_label(secret: &Secret) -> Option<String> {
    secret
        .metadata
        .labels
        .as_ref()
        .and_then(|l| l.get("name"))
        .cloned()
}

/// The release of the stored Secret called `secret_name` (`sh.helm.release.v1.<name>.v<N>`).
fn release_of_secret_name(secret_name: &str) -> Option<&str> {
    let rest = secret_name.strip_prefix("sh.helm.release.v1.")?;
    rest.rsplit_once(".v").map(|(name, _)| name)
}

impl<S: SecretStore> SecretStore for Cached<S> {
    async fn list(&self, selector: &str) -> Result<Vec<Secret>, ReleaseError> {
        let Some(release) = release_of(selector) else {
            return self.inner.list(selector).await;
        };
        let kept = self.kept().get(release).cloned();
        let secrets = match kept {
            Some(secrets) => secrets,
            None => {
                let listed = self
                    .inner
                    .list(&format!("owner=helm,name={release}"))
                    .await?;
                let secrets: BTreeMap<String, Secret> = listed
                    .into_iter()
                    .map(|s| (s.metadata.name.clone().unwrap_or_default(), s))
                    .collect();
                self.kept().insert(release.to_owned(), secrets.clone());
                secrets
            }
        };
        Ok(secrets
            .into_values()
            .filter(|s| matches(s, selector))
            .collect())
    }

    async fn create(&self, secret: Secret) -> Result<(), ReleaseError> {
        let write = self.inner.create(secret.clone());
        self.kept_write(secret, write).await
    }

    async fn replace(&self, secret: Secret) -> Result<(), ReleaseError> {
        let write = self.inner.replace(secret.clone());
        self.kept_write(secret, write).await
    }

    async fn delete(&self, name: &str) -> Result<(), ReleaseError> {
        let release = release_of_secret_name(name);
        let result = self.inner.delete(name).await;
        match &result {
            // Gone either way: deleted now, or already absent.
            Ok(()) | Err(ReleaseError::NotFound) => self.on_kept(release, |kept| {
                kept.remove(name);
            }),
            Err(_) => self.forget(release),
        }
        result
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};

    use super::*;
    use crate::release::record::{Release, Status};
    use crate::release::storage::{MemoryStore, Storage};

    /// A MemoryStore that counts the LISTs that reach it.
    #[derive(Default)]
    struct Counting {
        store: MemoryStore,
        lists: AtomicUsize,
    }

    impl SecretStore for Counting {
        async fn list(&self, selector: &str) -> Result<Vec<Secret>, ReleaseError> {
            self.lists.fetch_add(1, Ordering::SeqCst);
            self.store.list(selector).await
        }
        async fn create(&self, secret: Secret) -> Result<(), ReleaseError> {
            self.store.create(secret).await
        }
        async fn replace(&self, secret: Secret) -> Result<(), ReleaseError> {
            self.store.replace(secret).await
        }
        async fn delete(&self, name: &str) -> Result<(), ReleaseError> {
            self.store.delete(name).await
        }
    }

    fn release(name: &str, version: u32, status: Status) -> Release {
        let mut r = Release {
            name: name.into(),
            namespace: "ns".into(),
            version,
            ..Release::default()
        };
        r.set_status(status, "");
        r
    }

    fn block_on<F: std::future::Future>(f: F) -> F::Output {
        tokio::runtime::Builder::new_current_thread()
            .build()
            .expect("runtime")
            .block_on(f)
    }

    #[test]
    fn repeated_reads_of_one_release_list_once_and_see_the_stores_own_writes() {
        block_on(async {
            let storage = Storage::new(Cached::new(Counting::default()));
            storage
                .create(&release("app", 1, Status::Deployed))
                .await
                .expect("create 1");
            let mut v1 = storage.last("app").await.expect("last").expect("v1");
            assert_eq!(v1.version, 1);
            storage
                .create(&release("app", 2, Status::PendingUpgrade))
                .await
                .expect("create 2");
            v1.set_status(Status::Superseded, "");
            storage.update(&v1).await.expect("update");
            let history = storage.history("app").await.expect("history");
            let seen: Vec<(u32, Status)> =
                history.iter().map(|r| (r.version, r.status())).collect();
            assert_eq!(
                seen,
                vec![(1, Status::Superseded), (2, Status::PendingUpgrade)]
            );
            assert_eq!(storage.deployed("app").await.expect("deployed"), None);
            storage.delete("app", 1).await.expect("delete");
            assert_eq!(storage.history("app").await.expect("history").len(), 1);
            assert_eq!(storage.store().inner().lists.load(Ordering::SeqCst), 1);
        });
    }

    #[test]
    fn a_namespace_wide_read_is_not_cached() {
        block_on(async {
            let storage = Storage::new(Cached::new(Counting::default()));
            storage.list_all().await.expect("all");
            storage.list_all().await.expect("all");
            assert_eq!(storage.store().inner().lists.load(Ordering::SeqCst), 2);
        });
    }

    #[test]
    fn a_failed_write_drops_what_was_kept_of_that_release() {
        block_on(async {
            let storage = Storage::new(Cached::new(Counting::default()));
            storage
                .create(&release("app", 1, Status::Deployed))
                .await
                .expect("create");
            storage.history("app").await.expect("history");
            let again = storage.create(&release("app", 1, Status::Deployed)).await;
            assert!(matches!(again, Err(ReleaseError::AlreadyExists)));
            storage.history("app").await.expect("history");
            assert_eq!(storage.store().inner().lists.load(Ordering::SeqCst), 2);
        });
    }

    #[test]
    fn selectors_and_secret_names_name_their_release() {
        assert_eq!(release_of("owner=helm,name=app"), Some("app"));
        assert_eq!(
            release_of("owner=helm,name=app,status=deployed"),
            Some("app")
        );
        assert_eq!(release_of("name=app"), None);
        assert_eq!(release_of("owner=helm"), None);
        assert_eq!(
            release_of_secret_name("sh.helm.release.v1.my.app.v12"),
            Some("my.app")
        );
        assert_eq!(release_of_secret_name("other"), None);
    }
}
